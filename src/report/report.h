/*
 * report/report.h - results as people and pipelines read them: JSON objects
 * (cJSON) built here, printed by the CLI. Internal to foil: the public API
 * gives results as structs (foil/evasion.h, foil/eval.h).
 */
#ifndef FOIL_REPORT_H
#define FOIL_REPORT_H

#include <cjson/cJSON.h>

#include "foil/evasion.h"
#include "foil/eval.h"

/* One attack run: the attack, its threat (eps as the user wrote it), the
 * summary and per-run counts, tabular change statistics when tabular, and
 * the model's kind. */
cJSON *foilReportAttackJson(const char *name, const char *eps_text, const foil_threat *t,
                               const foil_evasion_summary *s, const foil_evasion_result *r, const foil_tensor *x,
                               int tabular, const foil_model *model);

#endif
