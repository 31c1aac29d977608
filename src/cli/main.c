/*
 * cli/main.c - `foil`: dispatch to a subcommand. Each subcommand lives in
 * its own file (cmd_*.c) and only parses options, calls libfoil and prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command *const commands[] = {&cli_train, &cli_eval, &cli_attack, &cli_predict, &cli_grad};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: foil COMMAND [OPTIONS]\n\n"
                 "foil attacks, hardens and audits machine-learning models given as ONNX.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'foil COMMAND --help' for a command's options.\n"
                 "Exit status: 0 success, 1 runtime error, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("foil 0.1.0\n");
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0) {
            int rc = commands[i]->run(argc - 1, argv + 1);
            return rc == CLI_HELP_SHOWN ? CLI_OK : rc;
        }
    fprintf(stderr, "foil: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE_ERROR;
}
