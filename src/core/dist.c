/*
 * core/dist.c - MPI behind core/dist.h, or one process without it.
 *
 * MPI is started only when a launcher (mpirun, srun) says this process is
 * one of several: a plain `foil ...` never pays MPI's start-up or meets its
 * warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"

#ifdef FOIL_HAVE_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1, dist_started = 0;

/* The variables Open MPI, PMI (MPICH, Slurm) and PMIx set in each rank. */
static int launched_as_rank(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"};
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(vars[i]);
        if (!v) continue;
        if (i == 3) return atoi(v) > 1 && getenv("SLURM_STEP_ID") != NULL; /* inside an srun step of several tasks */
        return i == 2 || atoi(v) > 1;
    }
    return 0;
}

int foilDistInit(int *argc, char ***argv)
{
    if (!launched_as_rank()) return 0;
#ifdef FOIL_HAVE_MPI
    MPI_Init(argc, argv);
    dist_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    return 0;
#else
    (void)argc;
    (void)argv;
    return getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1 ? -1 : 0;
#endif
}

void foilDistFinalize(void)
{
#ifdef FOIL_HAVE_MPI
    if (dist_started) MPI_Finalize();
#endif
    dist_started = 0;
}

int foilDistRank(void) { return dist_rank; }
int foilDistSize(void) { return dist_size; }

static int solo_rank = -1, solo_size = 0; /* the world, while a rank works alone */

void foilDistSoloBegin(void)
{
    solo_rank = dist_rank, solo_size = dist_size;
    dist_rank = 0, dist_size = 1;
}

void foilDistSoloEnd(void)
{
    if (solo_rank < 0) return;
    dist_rank = solo_rank, dist_size = solo_size;
    solo_rank = -1;
}

const char *foilDistBackend(void)
{
#if defined(FOIL_HAVE_MPI) && defined(OMPI_MAJOR_VERSION)
    static char name[32];
    snprintf(name, sizeof name, "Open MPI %d.%d.%d", OMPI_MAJOR_VERSION, OMPI_MINOR_VERSION, OMPI_RELEASE_VERSION);
    return name;
#elif defined(FOIL_HAVE_MPI)
    return "MPI";
#else
    return "none";
#endif
}

enum { MESSAGE_BYTES = 512 };

foil_status foilDistAgree(foil_status mine)
{
    if (dist_size == 1) return mine;
#ifdef FOIL_HAVE_MPI
    /* The lowest failing rank, then its status and message from it. */
    int failing = mine ? dist_rank : dist_size, first;
    MPI_Allreduce(&failing, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == dist_size) return FOIL_OK;
    char message[MESSAGE_BYTES] = {0};
    int status = (int)mine;
    if (dist_rank == first) snprintf(message, sizeof message, "%s", foil_last_error());
    MPI_Bcast(&status, 1, MPI_INT, first, MPI_COMM_WORLD);
    MPI_Bcast(message, MESSAGE_BYTES, MPI_CHAR, first, MPI_COMM_WORLD);
    return foil_error((foil_status)status, "rank %d of %d: %s", first, dist_size, message);
#else
    return mine;
#endif
}

foil_status foilDistGather(const void *mine, int64_t count, size_t size, void **all, int64_t *total)
{
    *all = NULL;
    *total = 0;
    if (dist_size == 1) {
        *all = malloc(count ? (size_t)count * size : 1);
        if (!*all) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        if (count) memcpy(*all, mine, (size_t)count * size);
        *total = count;
        return FOIL_OK;
    }
#ifdef FOIL_HAVE_MPI
    /* Sizes first, in bytes; MPI counts are ints, so a rank's share must
     * stay below 2 GiB (checked). */
    long long bytes = (long long)count * (long long)size;
    foil_status st = bytes > 0x7fffffffLL ? foil_error(FOIL_ERR_ARG, "a rank's results exceed 2 GiB") : FOIL_OK;
    if ((st = foilDistAgree(st))) return st;
    int my_bytes = (int)bytes, *sizes = NULL, *offsets = NULL;
    char *buffer = NULL;
    if (dist_rank == 0) {
        sizes = malloc((size_t)dist_size * sizeof *sizes);
        offsets = malloc((size_t)dist_size * sizeof *offsets);
        if (!sizes || !offsets) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    MPI_Gather(&my_bytes, 1, MPI_INT, sizes, 1, MPI_INT, 0, MPI_COMM_WORLD);
    long long sum = 0;
    if (dist_rank == 0 && !st) {
        for (int r = 0; r < dist_size; r++) {
            offsets[r] = (int)sum;
            sum += sizes[r];
        }
        if (sum > 0x7fffffffLL) st = foil_error(FOIL_ERR_ARG, "the gathered results exceed 2 GiB");
        else if (!(buffer = malloc(sum ? (size_t)sum : 1))) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    if ((st = foilDistAgree(st))) {
        free(sizes);
        free(offsets);
        free(buffer);
        return st;
    }
    MPI_Gatherv(mine, my_bytes, MPI_BYTE, buffer, sizes, offsets, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(sizes);
    free(offsets);
    if (dist_rank == 0) {
        *all = buffer;
        *total = (int64_t)(sum / (long long)size);
    }
    return FOIL_OK;
#else
    return foil_error(FOIL_ERR_ARG, "foil was built without MPI");
#endif
}

enum { REDUCE_FLOAT, REDUCE_DOUBLE };

/* An all-reduce in place; MPI counts are ints, so in chunks. */
static foil_status all_reduce(void *values, int64_t n, int type, int max)
{
    if (dist_size == 1) return FOIL_OK;
#ifdef FOIL_HAVE_MPI
    const size_t elem = type == REDUCE_FLOAT ? sizeof(float) : sizeof(double);
    const int64_t chunk = 1 << 26;
    for (int64_t i = 0; i < n; i += chunk) {
        int k = (int)(n - i < chunk ? n - i : chunk);
        MPI_Allreduce(MPI_IN_PLACE, (char *)values + (size_t)i * elem, k, type == REDUCE_FLOAT ? MPI_FLOAT : MPI_DOUBLE,
                      max ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD);
    }
#else
    (void)values;
    (void)n;
    (void)type;
    (void)max;
#endif
    return FOIL_OK;
}

foil_status foilDistSumFloats(float *values, int64_t n) { return all_reduce(values, n, REDUCE_FLOAT, 0); }
foil_status foilDistSumDoubles(double *values, int64_t n) { return all_reduce(values, n, REDUCE_DOUBLE, 0); }
foil_status foilDistMax(double *values, int64_t n) { return all_reduce(values, n, REDUCE_DOUBLE, 1); }
