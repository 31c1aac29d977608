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

typedef struct FoilRemote FoilRemote;

/* The operations (kind "remote"; input_grad NULL) over a FoilRemote. */
const foil_model_ops *foilRemoteOps(void);

/* The state of a remote model over endpoint (a URL for FOIL_REMOTE_HTTP, a
 * shell command for FOIL_REMOTE_COMMAND); o NULL: the defaults. Free it
 * with foilRemoteOps()->destroy. */
foil_status foilRemoteNew(int transport, const char *endpoint, const foil_remote_options *o, FoilRemote **out);

/* What foil_model_create needs besides ops and state: the name, the
 * capabilities (from o->returns) and the declared input; valid while r is. */
foil_model_desc foilRemoteDesc(const FoilRemote *r);

/* Requests sent (every attempt, retries included). */
int64_t foilRemoteRequests(const FoilRemote *r);

#endif
