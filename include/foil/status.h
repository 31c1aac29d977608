/*
 * foil/status.h - error codes and the per-thread error message.
 *
 * Every libfoil function that can fail returns a foil_status (0 = ok) and, on
 * failure, leaves a message with context ("model.onnx: node 'conv1' (Conv):
 * kernel_shape has 3 values but the weight is 4-D") in a per-thread slot that
 * foil_last_error() returns. The library never calls exit().
 */
#ifndef FOIL_STATUS_H
#define FOIL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum foil_status {
    FOIL_OK = 0,
    FOIL_ERR_ARG = 1,         /* bad argument or option from the caller */
    FOIL_ERR_IO = 2,          /* file cannot be opened, read or written */
    FOIL_ERR_FORMAT = 3,      /* file is corrupt, truncated or not what it claims */
    FOIL_ERR_UNSUPPORTED = 4, /* valid input that foil does not handle (an op, a dtype) */
    FOIL_ERR_SHAPE = 5,       /* tensor shapes do not agree */
    FOIL_ERR_NOMEM = 6,       /* allocation failed */
    FOIL_ERR_RUNTIME = 7,     /* anything else that went wrong while running */
    FOIL_ERR_BUDGET = 8,      /* a model's query budget is spent */
    FOIL_ERR_REMOTE = 9,      /* a remote model (endpoint or command) failed or answered badly */
    FOIL_ERR_CAPABILITY = 10  /* the model cannot do what was asked (no gradients, labels only) */
} foil_status;

/* The message of the last error on this thread ("" if none). */
const char *foil_last_error(void);

/* Set the error message (printf-style) and return code, so callers can write
 * `return foil_error(FOIL_ERR_FORMAT, "%s: truncated", path);` */
foil_status foil_error(foil_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context: "ctx: old message". */
foil_status foil_error_prefix(foil_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void foil_clear_error(void);

const char *foil_status_name(foil_status s);

#ifdef __cplusplus
}
#endif
#endif
