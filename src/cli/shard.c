/*
 * cli/shard.c - a command's examples split between MPI ranks (core/dist.h):
 * each rank takes one contiguous block, rank 0 gathers the per-example
 * results. With one process the block is everything.
 */
#include <stdlib.h>
#include <string.h>

#include "attacks/gather.h"
#include "cli/cli.h"
#include "core/dist.h"

/* Block boundaries fall on multiples of `align`, the batch the model runs
 * its inputs in: every rank's batches are then the one process's batches,
 * and a GEMM whose rounding depends on its row count (OpenBLAS's can) sees
 * the same row counts. */
void cli_shard_block(int64_t n, int64_t align, int64_t *first, int64_t *count)
{
    const int64_t size = foilDistSize(), rank = foilDistRank();
    if (align < 1) align = 1;
    const int64_t chunks = (n + align - 1) / align;
    int64_t lo = chunks * rank / size * align, hi = chunks * (rank + 1) / size * align;
    *first = lo < n ? lo : n;
    *count = (hi < n ? hi : n) - *first;
}

foil_status cli_shard_predict(foil_model *model, const foil_tensor *x, int64_t batch, foil_tensor *logits)
{
    int64_t first, count;
    cli_shard_block(x->shape[0], batch, &first, &count);
    foil_tensor mine = cli_rows_of(x, first, count), part = {0};
    foil_status st = count ? foil_model_predict(model, &mine, &part) : FOIL_OK;
    /* Every rank must know the class count to size its (possibly empty) share. */
    int64_t classes = 0;
    if (!st && count) classes = part.shape[1];
    if ((st = foilDistAgree(st))) {
        foil_tensor_free(&part);
        return st;
    }
    double c = (double)classes;
    foilDistMax(&c, 1);
    classes = (int64_t)c;
    float *all = NULL;
    int64_t total = 0;
    st = foilDistGather(part.data, count * classes, sizeof(float), (void **)&all, &total);
    foil_tensor_free(&part);
    if (st || foilDistRank() != 0) {
        free(all);
        return st;
    }
    int64_t shape[2] = {x->shape[0], classes};
    if (!(st = foil_tensor_alloc(logits, FOIL_F32, 2, shape)))
        memcpy(logits->data, all, (size_t)(total ? total : 0) * sizeof(float));
    free(all);
    return st;
}

int cli_open_inputs(const cli_command *cmd, const cli_model_source *source, const foil_data_spec *data,
                    foil_split split, const char *normalize, foil_model **model, foil_dataset *d)
{
    foil_status st;
    int rc = cli_open_model(cmd, source, model);
    if (!rc) {
        if ((st = foil_data_load(data, split, d))) rc = cli_fail(cmd, st);
        else if (!(rc = cli_apply_normalize(cmd, normalize, *model)))
            rc = cli_check_model_input(cmd, *model, &d->x, data->data);
    }
    /* Every rank has its inputs, or none goes on (and rank 0 says which failed). */
    if ((st = foilDistAgree(rc ? FOIL_ERR_ARG : FOIL_OK)) && !rc) rc = cli_fail(cmd, st);
    return rc;
}

foil_status cli_shard_attack(const char *name, foil_model *model, const foil_tensor *x, const int64_t *y,
                             const foil_threat *t, const foil_evasion_options *opt, foil_evasion_result *r)
{
    if (foilDistSize() == 1) return foil_evasion_run(name, model, x, y, t, opt, r);
    int64_t first, count;
    cli_shard_block(x->shape[0], opt->batch > 0 ? opt->batch : 250, &first, &count);
    foil_tensor mine = cli_rows_of(x, first, count);
    foil_threat share = *t;
    if (t->targets) share.targets = t->targets + first;
    foil_evasion_options o = *opt;
    o.first_example = opt->first_example + first; /* the whole run's random streams */
    o.quiet = opt->quiet || foilDistRank() != 0;
    foil_evasion_result part = {0};
    foil_status st = count ? foil_evasion_run(name, model, &mine, y + first, &share, &o, &part) : FOIL_OK;
    if (!(st = foilDistAgree(st))) st = foilEvasionGather(name, &part, x, r);
    foil_evasion_result_free(&part);
    return st;
}
