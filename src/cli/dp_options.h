/*
 * cli/dp_options.h - DP-SGD's command-line options (--dp, --noise-multiplier,
 * --target-epsilon, --max-grad-norm, --delta), shared by the commands that
 * train with DP-SGD (foil train; foil infer's DP target model).
 *
 * Use, in a command's run function:
 *
 *     cli_dp_args dpa = CLI_DP_ARGS_INIT;
 *     cli_option opts[] = { ..., CLI_DP_OPTIONS(dpa) };
 *     ... cli_parse(...) ...
 *     foil_train_options o;
 *     foil_train_defaults(&o);
 *     if ((rc = cli_dp_parse(&cli_train, &dpa, &o.dp))) return rc;
 *     if (o.dp.enabled && <something DP-SGD's accounting cannot cover>)
 *         return cli_usage_error(...);
 *     if ((rc = cli_dp_seed(&cli_train, &o.dp, argc, argv, &common))) return rc;
 *     o.seed = (uint64_t)common.seed;
 *
 * cli_dp_parse validates the options among themselves and fills
 * foil_dp_options (the max_grad_norm and delta already there, from
 * foil_train_defaults, stay unless given); the command refuses what it
 * cannot combine with DP-SGD itself, since only it knows its other options.
 */
#ifndef FOIL_CLI_DP_OPTIONS_H
#define FOIL_CLI_DP_OPTIONS_H

#include "cli/cli.h"
#include "foil/train.h"

/* Not given on the command line (the options' values until parsed). */
#define CLI_DP_NOT_GIVEN (-1e300)

typedef struct cli_dp_args {
    int on;                              /* --dp */
    double sigma, target, clip, delta;   /* CLI_DP_NOT_GIVEN unless given */
} cli_dp_args;

#define CLI_DP_ARGS_INIT {0, CLI_DP_NOT_GIVEN, CLI_DP_NOT_GIVEN, CLI_DP_NOT_GIVEN, CLI_DP_NOT_GIVEN}

/* The option-table entries (five). */
#define CLI_DP_OPTIONS(a)                                                                                             \
    {"--dp", OPT_FLAG, &(a).on, NULL, "differentially private training (DP-SGD)", 0, 0},                             \
    {"--noise-multiplier", OPT_FLOAT, &(a).sigma, "S", "--dp: noise of S x the clipping norm", 0, 0},                 \
    {"--target-epsilon", OPT_FLOAT, &(a).target, "E", "--dp: choose the noise to spend epsilon E", 0, 0},            \
    {"--max-grad-norm", OPT_FLOAT, &(a).clip, "C", "--dp: clip each example's gradient to norm C (1)", 0, 0},        \
    {"--delta", OPT_FLOAT, &(a).delta, "D", "--dp: the delta of (epsilon, delta) (1e-5)", 0, 0}

/* Check a's options and, with --dp, set dp->enabled and its fields from
 * them. A usage error (printed, CLI_USAGE_ERROR) for the DP options without
 * --dp, --dp without exactly one of --noise-multiplier and --target-epsilon,
 * or a value out of range; CLI_OK otherwise (dp untouched without --dp). */
int cli_dp_parse(const cli_command *cmd, const cli_dp_args *a, foil_dp_options *dp);

/* DP-SGD's guarantee holds only while its noise and batches cannot be
 * recomputed: with dp->enabled and no --seed in argv, draw common->seed
 * from /dev/urandom (never shown); with --seed, warn on stderr that the
 * seed must stay secret. Nothing without dp->enabled. CLI_OK, or
 * CLI_RUNTIME_ERROR (printed) when /dev/urandom cannot be read. */
int cli_dp_seed(const cli_command *cmd, const foil_dp_options *dp, int argc, char **argv, cli_common *common);

#endif
