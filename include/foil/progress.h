/*
 * foil/progress.h - a one-line progress bar for long work: count, rate,
 * ETA and a caller-supplied status ("loss 0.31 acc 89.2%"). Drawn on stderr
 * only when stderr is a terminal and the bar is not quiet; redrawn at most
 * ten times a second, so calling update() every step costs nothing.
 */
#ifndef FOIL_PROGRESS_H
#define FOIL_PROGRESS_H

#include <stdint.h>

typedef struct foil_progress {
    char label[48];
    int64_t total, done;
    const char *unit;          /* "img", "queries", ... */
    double start, last_draw;
    int active;                /* drawing at all */
} foil_progress;

/* quiet: never draw (--quiet). */
void foil_progress_start(foil_progress *p, const char *label, int64_t total, const char *unit, int quiet);
/* Advance to `done` of total; status may be NULL. */
void foil_progress_update(foil_progress *p, int64_t done, const char *status);
/* Draw the final state and end the line. */
void foil_progress_finish(foil_progress *p, const char *status);

/* Monotonic seconds. */
double foil_now(void);

#endif
