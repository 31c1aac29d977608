/*
 * model/remote_internal.h - the remote model's operations and state, for
 * foil_model_create and for tests that drive the operations directly.
 * Not public.
 */
#ifndef FOIL_REMOTE_INTERNAL_H
#define FOIL_REMOTE_INTERNAL_H

#include "foil/model.h"
#include "foil/remote.h"

enum { FOIL_REMOTE_HTTP = 0, FOIL_REMOTE_COMMAND = 1 };

typedef struct foil_remote foil_remote;

/* The operations (kind "remote"; input_grad NULL) over a foil_remote. */
const foil_model_ops *foil_remote_ops(void);

/* The state of a remote model over endpoint (a URL for FOIL_REMOTE_HTTP, a
 * shell command for FOIL_REMOTE_COMMAND); o NULL: the defaults. Free it
 * with foil_remote_ops()->destroy. */
foil_status foil_remote_new(int transport, const char *endpoint, const foil_remote_options *o, foil_remote **out);

/* What foil_model_create needs besides ops and state: the name, the
 * capabilities (from o->returns) and the declared input; valid while r is. */
foil_model_desc foil_remote_desc(const foil_remote *r);

/* Requests sent (every attempt, retries included). */
int64_t foil_remote_requests(const foil_remote *r);

#endif
