/*
 * eval/detection_row.c - a detector's figures against one attack (see
 * detection_row.h).
 */
#include <stdlib.h>

#include "eval/detection_row.h"
#include "foil/eval.h"

foil_status foilDetectionRowScore(const float *clean, int64_t n_clean, float threshold, const float *scores,
                                  const uint8_t *attacked, const uint8_t *fooled, int64_t n, FoilDetectionRow *row)
{
    float *pos = malloc((size_t)(n ? n : 1) * sizeof *pos);
    if (!pos) return foil_error(FOIL_ERR_NOMEM, "out of memory for detector scores");
    row->attacked = row->fooled = row->evaded = 0;
    for (int64_t i = 0; i < n; i++) {
        row->attacked += attacked[i];
        if (!fooled[i]) continue;
        pos[row->fooled++] = scores[i];
        row->evaded += scores[i] <= threshold;
    }
    row->roc_auc = foil_roc_auc(clean, n_clean, pos, row->fooled);
    row->tpr = foil_rate_above(pos, row->fooled, threshold);
    free(pos);
    return FOIL_OK;
}
