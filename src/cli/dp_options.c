/*
 * cli/dp_options.c - DP-SGD's command-line options; see cli/dp_options.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli/dp_options.h"

int cli_dp_parse(const cli_command *cmd, const cli_dp_args *a, foil_dp_options *dp)
{
    const int given = a->sigma != CLI_DP_NOT_GIVEN || a->target != CLI_DP_NOT_GIVEN ||
                      a->clip != CLI_DP_NOT_GIVEN || a->delta != CLI_DP_NOT_GIVEN;
    if (!a->on) {
        if (given)
            return cli_usage_error(cmd, "--noise-multiplier, --target-epsilon, --max-grad-norm and --delta belong to "
                                   "DP-SGD: add --dp");
        return CLI_OK;
    }
    if ((a->sigma != CLI_DP_NOT_GIVEN) == (a->target != CLI_DP_NOT_GIVEN))
        return cli_usage_error(cmd, "--dp needs --noise-multiplier S or --target-epsilon E (one of them)");
    if (a->sigma != CLI_DP_NOT_GIVEN && !(a->sigma > 0 && a->sigma <= 1000))
        return cli_usage_error(cmd, "--noise-multiplier must lie in (0, 1000], not %g", a->sigma);
    if (a->target != CLI_DP_NOT_GIVEN && !(a->target > 0 && a->target <= 1000))
        return cli_usage_error(cmd, "--target-epsilon must lie in (0, 1000], not %g", a->target);
    if (a->clip != CLI_DP_NOT_GIVEN && !(a->clip > 0 && a->clip <= 1e6))
        return cli_usage_error(cmd, "--max-grad-norm must lie in (0, 1e6], not %g", a->clip);
    if (a->delta != CLI_DP_NOT_GIVEN && !(a->delta > 0 && a->delta < 1))
        return cli_usage_error(cmd, "--delta must lie in (0, 1) and below 1 / (training examples), not %g", a->delta);
    dp->enabled = 1;
    dp->noise_multiplier = a->sigma != CLI_DP_NOT_GIVEN ? a->sigma : 0;
    dp->target_epsilon = a->target != CLI_DP_NOT_GIVEN ? a->target : 0;
    if (a->clip != CLI_DP_NOT_GIVEN) dp->max_grad_norm = a->clip;
    if (a->delta != CLI_DP_NOT_GIVEN) dp->delta = a->delta;
    return CLI_OK;
}

/* A seed from the system's random source, never shown. */
static foil_status secret_seed(int64_t *seed)
{
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    int ok = f && fread(&v, sizeof v, 1, f) == 1;
    if (f) fclose(f);
    if (!ok) return foil_error(FOIL_ERR_IO, "/dev/urandom: cannot read a seed for DP-SGD's noise; give --seed N "
                               "(and keep N secret)");
    *seed = (int64_t)(v >> 1);
    return FOIL_OK;
}

static int seed_given(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--seed") == 0 || strncmp(argv[i], "--seed=", 7) == 0) return 1;
    return 0;
}

int cli_dp_seed(const cli_command *cmd, const foil_dp_options *dp, int argc, char **argv, cli_common *common)
{
    if (!dp->enabled) return CLI_OK;
    if (seed_given(argc, argv)) {
        fprintf(stderr, "foil %s: warning: with --seed, anyone who knows the seed can recompute DP-SGD's noise and "
                "batches and take the noise away: (epsilon, delta) holds only while the seed stays secret\n",
                cmd->name);
        return CLI_OK;
    }
    foil_status st = secret_seed(&common->seed);
    return st ? cli_fail(cmd, st) : CLI_OK;
}
