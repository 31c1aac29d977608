/*
 * core/progress.c - see foil/progress.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "foil/progress.h"

double foil_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void foil_progress_start(foil_progress *p, const char *label, int64_t total, const char *unit, int quiet)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    p->unit = unit ? unit : "it";
    p->start = foil_now();
    p->active = !quiet && isatty(STDERR_FILENO);
}

static void format_duration(char *buf, size_t len, double s)
{
    if (s < 0 || s > 1e7) snprintf(buf, len, "--:--");
    else if (s >= 3600) snprintf(buf, len, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, len, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void draw(foil_progress *p, const char *status, int final)
{
    double now = foil_now(), elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    char bar[21], eta[16], spent[16];
    int filled = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    format_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : -1);
    format_duration(spent, sizeof spent, elapsed);
    fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %lld/%lld %.0f %s/s %s%s%s%s%s", p->label, bar, 100 * frac,
            (long long)p->done, (long long)p->total, rate, p->unit, final ? "in " : "ETA ", final ? spent : eta,
            status ? "  " : "", status ? status : "", final ? "\n" : "");
    fflush(stderr);
    p->last_draw = now;
}

/* The program's hook (foil_progress_set_callback): process-wide, set
 * while no work runs, so plain statics suffice. */
static foil_progress_callback hook;
static void *hook_user;

void foil_progress_set_callback(foil_progress_callback cb, void *user)
{
    hook = cb;
    hook_user = user;
}

static void call_hook(const foil_progress *p)
{
    if (hook) hook(p->label, p->done, p->total, hook_user);
}

void foil_progress_update(foil_progress *p, int64_t done, const char *status)
{
    p->done = done;
    call_hook(p);
    if (!p->active) return;
    if (foil_now() - p->last_draw < 0.1) return;
    draw(p, status, 0);
}

void foil_progress_finish(foil_progress *p, const char *status)
{
    call_hook(p);
    if (p->active) draw(p, status, 1);
    p->active = 0;
}
