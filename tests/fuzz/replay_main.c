/*
 * tests/fuzz/replay_main.c - run a fuzz target's LLVMFuzzerTestOneInput on
 * every file of its seed corpus, without libFuzzer: the ordinary test suite
 * (and its sanitizer build) replays the seeds and every past finding kept
 * there, with gcc, on every run. A finding aborts (or the sanitizer does).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return perror(path), 1;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 4096))) return perror("realloc"), 1;
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]), 2;
    DIR *dir = opendir(argv[1]);
    if (!dir) return perror(argv[1]), 1;
    int files = 0, failed = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        failed |= replay_file(path);
        files++;
    }
    closedir(dir);
    printf("replayed %d files of %s\n", files, argv[1]);
    return failed || files == 0;
}
