/*
 * cli/infer_inversion.h - foil infer --attack miface: model inversion
 * (foil/inversion.h), reached from foil infer's dispatch.
 */
#ifndef FOIL_CLI_INFER_INVERSION_H
#define FOIL_CLI_INFER_INVERSION_H

/* argv as foil infer's own (argv[0] "infer", then its options, --attack
 * miface among them); parses them itself, --help included. Returns a CLI_*
 * exit code of cli/cli.h (CLI_HELP_SHOWN after --help). */
int cli_infer_inversion(int argc, char **argv);

#endif
