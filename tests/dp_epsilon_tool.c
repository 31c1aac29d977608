/*
 * tests/dp_epsilon_tool.c - foil's DP-SGD accountant (foil/privacy.h) from
 * the command line, for the Opacus cross-check (tests/test_dp_opacus.sh):
 *
 *     dp_epsilon_tool Q SIGMA STEPS DELTA
 *
 * prints "EPSILON ORDER" of `steps` steps of the sampled Gaussian mechanism
 * at sampling rate Q and noise multiplier SIGMA, Balle et al. 2020's
 * conversion (the one Opacus's RDPAccountant uses), to 17 digits.
 */
#include <stdio.h>
#include <stdlib.h>

#include "foil/privacy.h"
#include "foil/status.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s Q SIGMA STEPS DELTA\n", argv[0]);
        return 2;
    }
    foil_dp_spent s;
    foil_status st = foil_dp_epsilon(strtod(argv[1], NULL), strtod(argv[2], NULL), strtoll(argv[3], NULL, 10),
                                     strtod(argv[4], NULL), FOIL_DP_BALLE2020, &s);
    if (st) {
        fprintf(stderr, "%s\n", foil_last_error());
        return 1;
    }
    printf("%.17g %.17g\n", s.epsilon, s.order);
    return 0;
}
