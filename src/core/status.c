/*
 * core/status.c - the per-thread error slot behind foil_error().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "foil/status.h"

#define FOIL_ERRMSG_MAX 1024

static _Thread_local char errmsg[FOIL_ERRMSG_MAX];

const char *foil_last_error(void) { return errmsg; }

void foil_clear_error(void) { errmsg[0] = '\0'; }

foil_status foil_error(foil_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

foil_status foil_error_prefix(foil_status code, const char *fmt, ...)
{
    char prefix[FOIL_ERRMSG_MAX];
    char old[FOIL_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, errmsg, sizeof old);
    /* Truncation is acceptable: the message is for people. */
    size_t plen = strlen(prefix);
    if (plen > sizeof errmsg - 3) plen = sizeof errmsg - 3;
    memcpy(errmsg, prefix, plen);
    memcpy(errmsg + plen, ": ", 2);
    size_t rest = sizeof errmsg - plen - 3;
    size_t olen = strnlen(old, rest);
    memcpy(errmsg + plen + 2, old, olen);
    errmsg[plen + 2 + olen] = '\0';
    return code;
}

const char *foil_status_name(foil_status s)
{
    switch (s) {
    case FOIL_OK: return "ok";
    case FOIL_ERR_ARG: return "bad argument";
    case FOIL_ERR_IO: return "I/O error";
    case FOIL_ERR_FORMAT: return "bad format";
    case FOIL_ERR_UNSUPPORTED: return "unsupported";
    case FOIL_ERR_SHAPE: return "shape mismatch";
    case FOIL_ERR_NOMEM: return "out of memory";
    case FOIL_ERR_RUNTIME: return "runtime error";
    case FOIL_ERR_BUDGET: return "query budget spent";
    case FOIL_ERR_REMOTE: return "remote model failed";
    case FOIL_ERR_CAPABILITY: return "not supported by this model";
    }
    return "unknown error";
}
