/*
 * cli/main.c - `foil`: dispatch to a subcommand. Each subcommand lives in
 * its own file (cmd_*.c) and only parses options, calls libfoil and prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "foil/cpu.h"
#include "foil/version.h"

extern const cli_command cli_serve; /* cli/cmd_serve.c */
extern const cli_command cli_extract; /* cli/cmd_extract.c */
extern const cli_command cli_manifest; /* cli/cmd_manifest.c */

static const cli_command *const commands[] = {&cli_audit,  &cli_train,   &cli_eval,   &cli_attack, &cli_defend,
                                                &cli_detect, &cli_certify, &cli_verify, &cli_poison, &cli_scan,
                                                &cli_infer,  &cli_predict, &cli_grad,   &cli_serve, &cli_extract,
                                                &cli_manifest};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: foil COMMAND [OPTIONS]\n\n"
                 "foil attacks, hardens and audits machine-learning models given as ONNX.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'foil COMMAND --help' for a command's options, 'foil --version' for the version and\n"
                 "the CPU kernel set in use (the environment variable FOIL_KERNELS=baseline|avx2|avx512\n"
                 "forces one).\n"
                 "Exit status: 0 success, 1 runtime error, 2 usage error, 3 a requirement of foil audit not met.\n");
}

/* The version and the kernel set that runs (foil/cpu.h): what a bug report
 * needs. The version is the library's (foil/version.h), as a program on
 * libfoil.so would see it. */
static int print_version(void)
{
    const char *kernels = foil_cpu_kernels();
    if (!kernels) {
        fprintf(stderr, "foil: %s\n", foil_last_error());
        return CLI_RUNTIME_ERROR;
    }
    const int native = strcmp(foil_cpu_build(), "native") == 0;
    printf("foil %s (kernels: %s; this CPU supports: %s; build: %s%s; MPI: %s; BLAS: %s)\n", foil_version(),
           kernels, foil_cpu_supported(), native ? "native (-march=native)" : "portable, sets ",
           native ? "" : foil_cpu_built(), foilDistBackend(), foil_cpu_blas());
    return CLI_OK;
}

/* Run a command as this rank: a command that does not share its work must
 * not run as several ranks, each doing all of it. */
static int run_command(const cli_command *cmd, int argc, char **argv)
{
    if (foilDistSize() > 1 && !(cmd->flags & CLI_DISTRIBUTED)) {
        if (foilDistRank() == 0) {
            fprintf(stderr, "foil %s: does not share its work between MPI ranks; run it as one process (the "
                            "commands that do:", cmd->name);
            for (size_t i = 0; i < N_COMMANDS; i++)
                if (commands[i]->flags & CLI_DISTRIBUTED) fprintf(stderr, " %s", commands[i]->name);
            fprintf(stderr, ")\n");
        }
        return CLI_USAGE_ERROR;
    }
    int rc = cmd->run(argc, argv);
    return rc == CLI_HELP_SHOWN ? CLI_OK : rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) return print_version();
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) return run_command(commands[i], argc - 1, argv + 1);
    fprintf(stderr, "foil: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE_ERROR;
}

int main(int argc, char **argv)
{
    if (foilDistInit(&argc, &argv)) {
        fprintf(stderr, "foil: started as one of several MPI ranks, but this foil was built without MPI: each "
                        "rank would do the whole job (rebuild with libopenmpi-dev installed)\n");
        return CLI_RUNTIME_ERROR;
    }
    int rc = dispatch(argc, argv);
    foilDistFinalize();
    return rc;
}
