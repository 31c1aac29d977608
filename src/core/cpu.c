/*
 * core/cpu.c - which kernel set runs: CPU feature detection and the choice
 * (include/foil/cpu.h; nn/kernel_sets.c turns the choice into op tables).
 *
 * The x86 checks read CPUID directly rather than __builtin_cpu_supports: the
 * psABI levels the sets are compiled for (-march=x86-64-v3 / -v4) include
 * features (F16C, LZCNT, MOVBE) that clang's builtin cannot name, and a set
 * must only run where every instruction its compiler may emit exists. AVX and
 * AVX-512 also need the OS to save their registers (XCR0), checked here too.
 *
 * This file is compiled for the build's baseline only, so it runs on any CPU
 * the build targets, and it is the only place that decides.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "core/cpu_internal.h"
#include "foil/cpu.h"

static const char *const kset_names[FOIL_KSET_COUNT] = {"baseline", "avx2", "avx512", "native"};

static int kset_built(int id)
{
    switch (id) {
#ifdef FOIL_KSET_BUILT_BASELINE
    case FOIL_KSET_BASELINE: return 1;
#endif
#ifdef FOIL_KSET_BUILT_AVX2
    case FOIL_KSET_AVX2: return 1;
#endif
#ifdef FOIL_KSET_BUILT_AVX512
    case FOIL_KSET_AVX512: return 1;
#endif
#ifdef FOIL_KSET_BUILT_NATIVE
    case FOIL_KSET_NATIVE: return 1;
#endif
    default: return 0;
    }
}

/* ------------------------------------------------------------------------- */
/* What the CPU has                                                          */

/* cpu_lacks(id, missing, cap): the features set `id` needs that this CPU
 * lacks, comma-separated into missing; returns how many. */
#if defined(__x86_64__)

enum cpuid_word { LEAF1_ECX, LEAF7_EBX, EXT1_ECX, XCR0_LOW, N_WORDS };

typedef struct cpu_feature {
    const char *name;
    enum cpuid_word word;
    uint32_t bits;
} cpu_feature;

/* The x86-64 psABI levels (System V AMD64 ABI, "micro-architecture levels").
 * x86-64-v2's CMPXCHG16B, LAHF, POPCNT, SSE3, SSSE3, SSE4.1, SSE4.2: */
static const cpu_feature level_v2[] = {
    {"sse3", LEAF1_ECX, 1u << 0},     {"ssse3", LEAF1_ECX, 1u << 9},   {"cx16", LEAF1_ECX, 1u << 13},
    {"sse4.1", LEAF1_ECX, 1u << 19},  {"sse4.2", LEAF1_ECX, 1u << 20}, {"popcnt", LEAF1_ECX, 1u << 23},
    {"lahf_lm", EXT1_ECX, 1u << 0},
};
/* x86-64-v3 adds AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, and the OS
 * must save SSE and AVX state (XCR0 bits 1, 2): */
static const cpu_feature level_v3[] = {
    {"avx", LEAF1_ECX, 1u << 28},        {"avx2", LEAF7_EBX, 1u << 5},   {"bmi1", LEAF7_EBX, 1u << 3},
    {"bmi2", LEAF7_EBX, 1u << 8},        {"f16c", LEAF1_ECX, 1u << 29},  {"fma", LEAF1_ECX, 1u << 12},
    {"lzcnt", EXT1_ECX, 1u << 5},        {"movbe", LEAF1_ECX, 1u << 22},
    {"OS support for AVX (xcr0)", XCR0_LOW, 0x6u},
};
/* x86-64-v4 adds AVX-512 F, BW, CD, DQ, VL, and the OS must save the opmask
 * and ZMM state (XCR0 bits 5-7): */
static const cpu_feature level_v4[] = {
    {"avx512f", LEAF7_EBX, 1u << 16},  {"avx512bw", LEAF7_EBX, 1u << 30}, {"avx512cd", LEAF7_EBX, 1u << 28},
    {"avx512dq", LEAF7_EBX, 1u << 17}, {"avx512vl", LEAF7_EBX, 1u << 31},
    {"OS support for AVX-512 (xcr0)", XCR0_LOW, 0xe0u},
};

static void read_cpuid(uint32_t words[N_WORDS])
{
    unsigned a, b, c, d;
    memset(words, 0, N_WORDS * sizeof *words);
    if (__get_cpuid(1, &a, &b, &c, &d)) words[LEAF1_ECX] = c;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) words[LEAF7_EBX] = b;
    if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) words[EXT1_ECX] = c;
    /* xgetbv faults unless the OS enabled it (OSXSAVE, leaf 1 ECX bit 27) */
    if (words[LEAF1_ECX] & (1u << 27)) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        words[XCR0_LOW] = lo;
    }
}

static int lacking(const uint32_t words[N_WORDS], const cpu_feature *f, int n, char *missing, size_t cap)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        if ((words[f[i].word] & f[i].bits) == f[i].bits) continue;
        size_t used = strlen(missing);
        snprintf(missing + used, cap - used, "%s%s", used ? ", " : "", f[i].name);
        count++;
    }
    return count;
}

static int cpu_lacks(int id, char *missing, size_t cap)
{
    missing[0] = '\0';
    if (id == FOIL_KSET_NATIVE) return 0; /* built for the build machine: its builder's promise */
    uint32_t words[N_WORDS];
    read_cpuid(words);
    int n = lacking(words, level_v2, (int)(sizeof level_v2 / sizeof *level_v2), missing, cap);
    if (id >= FOIL_KSET_AVX2) n += lacking(words, level_v3, (int)(sizeof level_v3 / sizeof *level_v3), missing, cap);
    if (id >= FOIL_KSET_AVX512)
        n += lacking(words, level_v4, (int)(sizeof level_v4 / sizeof *level_v4), missing, cap);
    return n;
}

#else /* not x86-64: one set, the compiler's default for the architecture */

static int cpu_lacks(int id, char *missing, size_t cap)
{
    (void)id, (void)cap;
    missing[0] = '\0';
    return 0;
}

#endif

/* ------------------------------------------------------------------------- */
/* The choice                                                                */

#define KSET_MESSAGE_MAX 512

int foilCpuRuns(int id)
{
    char missing[KSET_MESSAGE_MAX];
    return cpu_lacks(id, missing, sizeof missing) == 0;
}

/* The set in use: an id, or -1 after a request that cannot be met (the
 * reason in choice_error). Written by the one-time choice and by
 * foil_cpu_use_kernels, read by every model load. */
static atomic_int chosen = -1;
static char choice_error[KSET_MESSAGE_MAX];
static pthread_once_t choice_once = PTHREAD_ONCE_INIT;

static void list_sets(char *out, size_t cap, int only_supported)
{
    char missing[KSET_MESSAGE_MAX];
    out[0] = '\0';
    for (int id = 0; id < FOIL_KSET_COUNT; id++) {
        if (!kset_built(id) || (only_supported && cpu_lacks(id, missing, sizeof missing))) continue;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? " " : "", kset_names[id]);
    }
}

/* The widest built set the CPU runs; -1 (with the reason) when none. */
static int widest_supported(char *why, size_t cap)
{
    char missing[KSET_MESSAGE_MAX] = "";
    for (int id = FOIL_KSET_COUNT - 1; id >= 0; id--)
        if (kset_built(id) && !cpu_lacks(id, missing, sizeof missing)) return id;
    snprintf(why, cap,
             "this CPU lacks %s, which this build of foil requires (x86-64-v2); "
             "build foil on it with -DFOIL_NATIVE=ON",
             missing);
    return -1;
}

/* Resolve a request ("auto", "" or a set's name) to an id, or -1 with the
 * reason in why. `what` names the request in messages ("FOIL_KERNELS=avx2"). */
static int resolve(const char *request, const char *what, char *why, size_t cap)
{
    char reason[KSET_MESSAGE_MAX], sets[64];
    if (!request[0] || strcmp(request, "auto") == 0) {
        int id = widest_supported(reason, sizeof reason);
        if (id < 0) snprintf(why, cap, "%s", reason);
        return id;
    }
    int id = 0;
    while (id < FOIL_KSET_COUNT && strcmp(request, kset_names[id]) != 0) id++;
    if (id == FOIL_KSET_COUNT || !kset_built(id)) {
        list_sets(sets, sizeof sets, 0);
        snprintf(why, cap, "%s: %s '%.32s' kernel set (this build has: %s%s)", what,
                 id == FOIL_KSET_COUNT ? "there is no" : "this build has no", request, sets,
                 kset_built(FOIL_KSET_NATIVE) ? "; a FOIL_NATIVE=ON build has only the native set"
                                              : "; only a FOIL_NATIVE=ON build has the native set");
        return -1;
    }
    if (cpu_lacks(id, reason, sizeof reason)) {
        list_sets(sets, sizeof sets, 1);
        snprintf(why, cap, "%s: this CPU cannot run the %s kernels: it lacks %s (it supports: %s)", what,
                 kset_names[id], reason, sets[0] ? sets : "none");
        return -1;
    }
    return id;
}

static void choose_from_environment(void)
{
    foilBlasCheck(); /* every model load and build passes here before it can call the BLAS */
    const char *request = getenv("FOIL_KERNELS");
    char what[64];
    snprintf(what, sizeof what, "FOIL_KERNELS=%.32s", request ? request : "");
    atomic_store(&chosen, resolve(request ? request : "", what, choice_error, sizeof choice_error));
}

int foilCpuKset(void)
{
    pthread_once(&choice_once, choose_from_environment);
    int id = atomic_load(&chosen);
    if (id < 0) foil_error(FOIL_ERR_ARG, "%s", choice_error);
    return id;
}

/* ------------------------------------------------------------------------- */
/* The public side (foil/cpu.h)                                              */

const char *foil_cpu_kernels(void)
{
    int id = foilCpuKset();
    return id < 0 ? NULL : kset_names[id];
}

/* Both lists, made once: the CPU and the build do not change while we run. */
static char supported_sets[64], built_sets[64];
static pthread_once_t lists_once = PTHREAD_ONCE_INIT;

static void make_lists(void)
{
    list_sets(supported_sets, sizeof supported_sets, 1);
    list_sets(built_sets, sizeof built_sets, 0);
}

const char *foil_cpu_supported(void)
{
    pthread_once(&lists_once, make_lists);
    return supported_sets;
}

const char *foil_cpu_built(void)
{
    pthread_once(&lists_once, make_lists);
    return built_sets;
}

const char *foil_cpu_build(void) { return kset_built(FOIL_KSET_NATIVE) ? "native" : "portable"; }

foil_status foil_cpu_use_kernels(const char *name)
{
    char what[64], why[KSET_MESSAGE_MAX];
    if (!name) return foil_error(FOIL_ERR_ARG, "foil_cpu_use_kernels: NULL kernel set name");
    pthread_once(&choice_once, choose_from_environment);
    snprintf(what, sizeof what, "kernel set '%.32s'", name);
    int id = resolve(name, what, why, sizeof why);
    if (id < 0) return foil_error(FOIL_ERR_ARG, "%s", why);
    atomic_store(&chosen, id);
    return FOIL_OK;
}
