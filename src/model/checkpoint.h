/*
 * model/checkpoint.h - training checkpoints: everything a killed run needs
 * to continue exactly where it was (internal).
 *
 * File layout (little-endian), written atomically:
 *   "FOILCKPT" u32 version u32 reserved
 *   u64 seed, batch, n_train, epoch, step_in_epoch, global_step, optim_step
 *   f64 loss_sum  u64 correct  u64 seen          (the epoch's running stats)
 *   u32 optimizer kind  u32 n_params
 *   u64 onnx_bytes, then the model as ONNX (weights and batch-norm statistics)
 *   the optimizer state: per parameter, state1 then (Adam) state2, float32
 *   u64 FNV-1a hash of everything above
 */
#ifndef FOIL_MODEL_CHECKPOINT_H
#define FOIL_MODEL_CHECKPOINT_H

#include <stdint.h>

#include "foil/optim.h"
#include "model/model_internal.h"

typedef struct FoilCkptState {
    uint64_t seed, batch, n_train;
    uint64_t epoch, step_in_epoch, global_step;
    double loss_sum;
    uint64_t correct, seen;
} FoilCkptState;

foil_status foilCheckpointSave(const char *path, const foil_model *m, const foil_optim *o, const FoilCkptState *s);

/* Restore weights into m and state into o (already initialized for m's
 * parameters) and *s. Checks that the checkpoint fits: same seed, batch
 * size, training-set size, optimizer and parameter shapes. */
foil_status foilCheckpointLoad(const char *path, foil_model *m, foil_optim *o, FoilCkptState *s);

#endif
