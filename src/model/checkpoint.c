/*
 * model/checkpoint.c - see checkpoint.h for the file layout.
 */
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/onnx.h"
#include "model/checkpoint.h"

#define CKPT_MAGIC "FOILCKPT"
#define CKPT_VERSION 1u
#define CKPT_MAX_BYTES ((size_t)4 << 30)

typedef struct buf {
    uint8_t *data;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

foil_status foilCheckpointSave(const char *path, const foil_model *m, const foil_optim *o, const FoilCkptState *s)
{
    uint8_t *onnx;
    size_t onnx_len;
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "a training checkpoint", &gm);
    if (st) return st;
    st = foilOnnxSaveBuffer(gm->g, &onnx, &onnx_len);
    if (st) return foil_error_prefix(st, "%s", path);
    buf b = {0};
    put(&b, CKPT_MAGIC, 8);
    put_u32(&b, CKPT_VERSION);
    put_u32(&b, 0);
    uint64_t header[7] = {s->seed, s->batch, s->n_train, s->epoch, s->step_in_epoch, s->global_step, (uint64_t)o->step};
    put(&b, header, sizeof header);
    put(&b, &s->loss_sum, 8);
    put_u64(&b, s->correct);
    put_u64(&b, s->seen);
    put_u32(&b, (uint32_t)o->cfg.kind);
    put_u32(&b, (uint32_t)o->n);
    put_u64(&b, onnx_len);
    put(&b, onnx, onnx_len);
    free(onnx);
    for (int i = 0; i < o->n; i++) {
        put(&b, o->state1[i].data, foil_tensor_nbytes(&o->state1[i]));
        if (o->cfg.kind == FOIL_OPT_ADAM) put(&b, o->state2[i].data, foil_tensor_nbytes(&o->state2[i]));
    }
    put_u64(&b, b.failed ? 0 : fnv1a(b.data, b.len));
    if (b.failed) st = foil_error(FOIL_ERR_NOMEM, "%s: out of memory writing the checkpoint", path);
    else st = foilWriteFileAtomic(path, b.data, b.len);
    free(b.data);
    return st;
}

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static int take(reader *r, void *out, size_t n)
{
    if (r->left < n) return 0;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}

/* Copy every weight of the checkpoint's graph into m's graph, by name. */
static foil_status restore_weights(const char *path, foil_model *m, const FoilGraph *saved)
{
    FoilGraphModel *gm;
    foil_status st = foilGraphModelRequire(m, "a training checkpoint", &gm);
    if (st) return st;
    FoilGraph *g = gm->g;
    for (int i = 0; i < g->n_values; i++) {
        FoilValue *v = &g->values[i];
        if (v->kind != FOIL_VALUE_PARAM) continue;
        int j = foilGraphFindValue(saved, v->name);
        if (j < 0 || saved->values[j].kind != FOIL_VALUE_PARAM || !foil_tensor_same_shape(&saved->values[j].t, &v->t))
            return foil_error(FOIL_ERR_FORMAT, "%s: the checkpoint's weights do not fit this model (weight '%s')", path,
                              v->name);
        memcpy(v->t.data, saved->values[j].t.data, foil_tensor_nbytes(&v->t));
    }
    return FOIL_OK;
}

static foil_status mismatch(const char *path, const char *what, uint64_t have, uint64_t want)
{
    return foil_error(FOIL_ERR_ARG, "%s: the checkpoint was made with %s %llu, this run uses %llu; resume with the same "
                      "options or start afresh", path, what, (unsigned long long)have, (unsigned long long)want);
}

foil_status foilCheckpointLoad(const char *path, foil_model *m, foil_optim *o, FoilCkptState *s)
{
    uint8_t *data;
    size_t len;
    foil_status st = foilReadFile(path, CKPT_MAX_BYTES, &data, &len);
    if (st) return st;
    uint64_t stored_hash;
    if (len < 8 + 16 || memcmp(data, CKPT_MAGIC, 8) != 0) {
        free(data);
        return foil_error(FOIL_ERR_FORMAT, "%s: not a foil checkpoint", path);
    }
    memcpy(&stored_hash, data + len - 8, 8);
    if (stored_hash != fnv1a(data, len - 8)) {
        free(data);
        return foil_error(FOIL_ERR_FORMAT, "%s: checkpoint is corrupt (checksum mismatch)", path);
    }
    reader r = {data + 8, len - 16};
    uint32_t version, reserved, kind, n_params;
    uint64_t header[7], onnx_len;
    FoilCkptState f = {0};
    int ok = take(&r, &version, 4) && take(&r, &reserved, 4) && take(&r, header, sizeof header) &&
             take(&r, &f.loss_sum, 8) && take(&r, &f.correct, 8) && take(&r, &f.seen, 8) && take(&r, &kind, 4) &&
             take(&r, &n_params, 4) && take(&r, &onnx_len, 8) && onnx_len <= r.left;
    if (!ok || version != CKPT_VERSION) {
        free(data);
        return foil_error(FOIL_ERR_FORMAT, "%s: unsupported or truncated checkpoint", path);
    }
    f.seed = header[0], f.batch = header[1], f.n_train = header[2], f.epoch = header[3];
    f.step_in_epoch = header[4], f.global_step = header[5];
    if (f.seed != s->seed) st = mismatch(path, "seed", f.seed, s->seed);
    else if (f.batch != s->batch) st = mismatch(path, "batch size", f.batch, s->batch);
    else if (f.n_train != s->n_train) st = mismatch(path, "training-set size", f.n_train, s->n_train);
    else if (kind != (uint32_t)o->cfg.kind) st = mismatch(path, "optimizer", kind, (uint64_t)o->cfg.kind);
    else if (n_params != (uint32_t)o->n) st = mismatch(path, "parameter count", n_params, (uint64_t)o->n);
    FoilGraph *saved = NULL;
    if (!st) st = foilOnnxLoadBuffer(r.p, onnx_len, path, &saved);
    if (!st) st = restore_weights(path, m, saved);
    foilGraphFree(saved);
    r.p += onnx_len;
    r.left -= onnx_len;
    for (int i = 0; !st && i < o->n; i++) {
        ok = take(&r, o->state1[i].data, foil_tensor_nbytes(&o->state1[i]));
        if (ok && o->cfg.kind == FOIL_OPT_ADAM) ok = take(&r, o->state2[i].data, foil_tensor_nbytes(&o->state2[i]));
        if (!ok) st = foil_error(FOIL_ERR_FORMAT, "%s: truncated optimizer state", path);
    }
    if (!st && r.left) st = foil_error(FOIL_ERR_FORMAT, "%s: unexpected bytes after the optimizer state", path);
    free(data);
    if (st) return st;
    o->step = (int64_t)header[6];
    *s = f;
    return FOIL_OK;
}
