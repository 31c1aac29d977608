/*
 * core/version.c - the library's own version (include/foil/version.h.in).
 *
 * The macros of foil/version.h are compiled into whatever includes them;
 * these functions are compiled into libfoil, so a program built against one
 * version's headers and run with another version's libfoil.so can tell.
 */
#include "foil/version.h"

const char *foil_version(void) { return FOIL_VERSION_STRING; }

int foil_version_number(void) { return FOIL_VERSION_NUMBER; }
