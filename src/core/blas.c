/*
 * core/blas.c - OpenBLAS's choice of kernels, checked when libfoil loads.
 *
 * An OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels by CPU
 * model as it loads. A model newer than the release knows can get its
 * oldest x86-64 kernels, Prescott (SSE3): Debian 12's 0.3.21 does so on
 * family 6 model 207 (an Emerald Rapids Xeon), where sgemm, which foil's
 * convolutions and dense layers run on, then gets several times slower.
 *
 * So when OPENBLAS_CORETYPE is not set and OpenBLAS says Prescott on a CPU
 * that runs foil's avx2 (or avx512) kernel set, foil has it choose again as
 * that variable would: Haswell (or SkylakeX) kernels. It sets the variable,
 * calls DYNAMIC_ARCH's own gotoblas_dynamic_quit and gotoblas_dynamic_init
 * (exported, not declared in cblas.h: looked up with dlsym in the library
 * that holds cblas_sgemm, so a BLAS without them is left as it is), and
 * unsets the variable again, so that programs foil starts inherit nothing.
 *
 * This runs once, with the choice of foil's own kernel set (core/cpu.c),
 * which every model load and build makes first: before foil's first BLAS
 * call (OpenBLAS's buffers, sized for every core a DYNAMIC_ARCH build holds,
 * are allocated at the first call). Not as a constructor: a program linked
 * with the static libfoil would leave this file out unless it is called.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NOLOAD */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/cpu_internal.h"
#include "foil/cpu.h"

static char blas_report[192];

/* The BLAS library's own handle (the one cblas_sgemm comes from); else the
 * program's, whose lookups search every library it loaded (a program built
 * without -fPIE can see its own PLT stub as cblas_sgemm's address). */
static void *blas_handle(void)
{
    Dl_info where;
    void *lib = NULL;
    if (dladdr((void *)cblas_sgemm, &where) && where.dli_fname)
        lib = dlopen(where.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    return lib ? lib : dlopen(NULL, RTLD_NOW);
}

static void choose_again(const char *core)
{
    void *lib = blas_handle();
    if (!lib) return;
    void (*quit)(void), (*init)(void);
    *(void **)&quit = dlsym(lib, "gotoblas_dynamic_quit");
    *(void **)&init = dlsym(lib, "gotoblas_dynamic_init");
    if (quit && init && setenv("OPENBLAS_CORETYPE", core, 1) == 0) {
        quit();
        init();
        unsetenv("OPENBLAS_CORETYPE");
    }
    dlclose(lib);
}

static void check_blas_kernels(void)
{
    const char *before = openblas_get_corename();
    char was[32];
    snprintf(was, sizeof was, "%s", before ? before : "unknown");
#if defined(__x86_64__)
    const char *want = foilCpuRuns(FOIL_KSET_AVX512) ? "SkylakeX" : foilCpuRuns(FOIL_KSET_AVX2) ? "Haswell" : NULL;
#else
    const char *want = NULL;
#endif
    if (strcasecmp(was, "prescott") == 0 && want && !getenv("OPENBLAS_CORETYPE")) choose_again(want);
    const char *now = openblas_get_corename();
    if (now && strcasecmp(now, was) != 0)
        snprintf(blas_report, sizeof blas_report, "OpenBLAS, %s kernels (OpenBLAS took this CPU for %s, foil chose "
                 "again)", now, was);
    else
        snprintf(blas_report, sizeof blas_report, "OpenBLAS, %s kernels", now ? now : "unknown");
}

void foilBlasCheck(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, check_blas_kernels);
}

const char *foil_cpu_blas(void)
{
    foilBlasCheck();
    return blas_report;
}
