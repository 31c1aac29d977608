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

/* A program's own progress display (a notebook widget, a log line, the
 * Python package's progress= callable): cb(label, done, total, user) is
 * called by every foil_progress_update and foil_progress_finish, whether or
 * not the bar draws (quiet, or stderr not a terminal), so it sees every
 * step; done reaches total when the work completes. NULL removes it.
 * Thread safety: the hook is one process-wide setting; set it while no
 * work runs, not concurrently with it. The callback runs on the thread
 * that reports progress (the thread that called the library, or an
 * OpenMP worker in some loops) and must be safe to call from any thread
 * and quick, since it runs between steps. */
typedef void (*foil_progress_callback)(const char *label, int64_t done, int64_t total, void *user);
void foil_progress_set_callback(foil_progress_callback cb, void *user);

/* Monotonic seconds. */
double foil_now(void);

#endif
