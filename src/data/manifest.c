/*
 * data/manifest.c - dataset integrity manifests (foil/manifest.h): the
 * SHA-256 of every file a dataset is read from and of every example as
 * foil loads it, so that a pipeline can prove which data made which model
 * and `foil train --manifest` can refuse data that changed.
 *
 * Files are hashed by their bytes, examples by their values: a file can be
 * rewritten without changing an example (recompressed), and an example
 * can change without its file being the one the manifest names (the same
 * data moved). The check reports both, and names the first example that
 * changed, which is what a person fixing the data needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "data/data_internal.h"
#include "foil/manifest.h"
#include "io/file.h"

enum { MAX_FILES = 1 << 20 };

static void to_hex(const unsigned char *h, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) hex[2 * i] = digits[h[i] >> 4], hex[2 * i + 1] = digits[h[i] & 15];
    hex[64] = '\0';
}

static int from_hex(const char *hex, unsigned char *h)
{
    if (!hex || strlen(hex) != 64) return 0;
    for (int i = 0; i < 64; i++) {
        const char c = hex[i];
        const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 0;
        h[i / 2] = (unsigned char)(i % 2 ? (h[i / 2] << 4) | v : v);
    }
    return 1;
}

/* A file's SHA-256 and size, read in 1 MiB pieces. */
static foil_status hash_file(const char *path, foil_manifest_file *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return foil_error(FOIL_ERR_IO, "%s: %s", path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *buf = malloc(1 << 20), h[32];
    size_t got;
    f->bytes = 0;
    while (buf && (got = fread(buf, 1, 1 << 20, fp)) > 0) {
        crypto_hash_sha256_update(&st, buf, got);
        f->bytes += (int64_t)got;
    }
    const int failed = !buf || ferror(fp);
    fclose(fp);
    free(buf);
    if (failed) return foil_error(FOIL_ERR_IO, "%s: cannot read it", path);
    crypto_hash_sha256_final(&st, h);
    to_hex(h, f->sha256);
    f->path = strdup(path);
    return f->path ? FOIL_OK : foil_error(FOIL_ERR_NOMEM, "out of memory");
}

typedef struct PathList {
    char **path;
    int n, cap;
} PathList;

static foil_status push_path(PathList *l, const char *p)
{
    if (l->n == MAX_FILES) return foil_error(FOIL_ERR_ARG, "more than %d files in the dataset", MAX_FILES);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->path, (size_t)cap * sizeof *v);
        if (!v) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        l->path = v, l->cap = cap;
    }
    return (l->path[l->n] = strdup(p)) ? (l->n++, FOIL_OK) : foil_error(FOIL_ERR_NOMEM, "out of memory");
}

static void paths_free(PathList *l)
{
    for (int i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
}

/* The files spec's dataset is read from, in the order its examples come. */
static foil_status source_files(const foil_data_spec *spec, const char *name, PathList *out)
{
    if (foil_data_is_builtin(spec->data)) {
        char paths[4][4096];
        const int n = foilDataBuiltinFiles(name, paths, 4);
        foil_status st = n ? FOIL_OK : foil_error(FOIL_ERR_ARG, "%s: no files known for it", name);
        for (int i = 0; !st && i < n; i++) st = push_path(out, paths[i]);
        return st;
    }
    struct stat sb;
    if (stat(spec->data, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* class folders: the loader's own list and order */
        char **paths;
        int64_t n;
        foil_status st = foilDataPgmDirFiles(spec->data, &paths, &n);
        for (int64_t i = 0; i < n; i++) {
            if (!st) st = push_path(out, paths[i]);
            free(paths[i]);
        }
        free(paths);
        return st;
    }
    foil_status st = push_path(out, spec->data);
    return !st && spec->labels ? push_path(out, spec->labels) : st;
}

/* Each example's SHA-256: its float32 values, then its int64 label. */
static void hash_examples(const foil_dataset *d, unsigned char (*h)[32], unsigned char dataset[32])
{
    const int64_t n = d->y.numel, F = foil_dataset_example_size(d);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const unsigned char *)(foil_f32(&d->x) + i * F), (size_t)F * sizeof(float));
        crypto_hash_sha256_update(&st, (const unsigned char *)(foil_i64(&d->y) + i), sizeof(int64_t));
        crypto_hash_sha256_final(&st, h[i]);
    }
    crypto_hash_sha256(dataset, (const unsigned char *)h, (unsigned long long)n * 32);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

foil_status foil_manifest_create(const foil_data_spec *spec, foil_manifest *out)
{
    memset(out, 0, sizeof *out);
    if (sodium_init() < 0) return foil_error(FOIL_ERR_RUNTIME, "libsodium failed to initialize");
    foil_dataset d;
    foil_status st = foil_data_load(spec, FOIL_SPLIT_ALL, &d);
    if (st) return st;
    PathList files = {0};
    st = source_files(spec, d.name, &files);
    const int64_t n = d.y.numel;
    out->data = strdup(spec->data), out->labels = dup_or_null(spec->labels);
    out->label_column = dup_or_null(spec->label_column);
    out->examples = n, out->classes = d.classes;
    out->example_sha256 = malloc((size_t)(n ? n : 1) * 32);
    out->files = calloc((size_t)(files.n ? files.n : 1), sizeof *out->files);
    if (!st && (!out->data || !out->example_sha256 || !out->files)) st = foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < files.n; i++, out->n_files++) st = hash_file(files.path[i], &out->files[i]);
    if (!st) {
        unsigned char h[32];
        hash_examples(&d, out->example_sha256, h);
        to_hex(h, out->sha256);
    }
    paths_free(&files);
    foil_dataset_free(&d);
    if (st) foil_manifest_free(out);
    return st;
}

foil_status foil_manifest_write(const foil_manifest *m, const char *path)
{
    cJSON *root = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(root, "files");
    cJSON_AddStringToObject(root, "schema", "foil-manifest/1");
    cJSON_AddStringToObject(root, "data", m->data);
    if (m->labels) cJSON_AddStringToObject(root, "labels", m->labels);
    if (m->label_column) cJSON_AddStringToObject(root, "label_column", m->label_column);
    cJSON_AddNumberToObject(root, "examples", (double)m->examples);
    cJSON_AddNumberToObject(root, "classes", (double)m->classes);
    cJSON_AddStringToObject(root, "sha256", m->sha256);
    cJSON_AddStringToObject(root, "example_hash", "sha256(float32 values || int64 label), little-endian");
    for (int i = 0; i < m->n_files; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", m->files[i].path);
        cJSON_AddNumberToObject(f, "bytes", (double)m->files[i].bytes);
        cJSON_AddStringToObject(f, "sha256", m->files[i].sha256);
        cJSON_AddItemToArray(files, f);
    }
    cJSON *examples = cJSON_AddArrayToObject(root, "example_sha256");
    for (int64_t i = 0; i < m->examples; i++) {
        char hex[65];
        to_hex(m->example_sha256[i], hex);
        cJSON_AddItemToArray(examples, cJSON_CreateString(hex));
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    foil_status st = text ? foilWriteFileAtomic(path, text, strlen(text)) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    free(text);
    return st;
}

/* A count in JSON: a whole number from 0 to 2^53 (a double holds each
 * exactly; beyond, converting it to an integer would be undefined). */
static int is_count(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0 &&
           v->valuedouble == (double)(int64_t)v->valuedouble;
}

static const char *string_field(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static foil_status read_files(const cJSON *list, const char *path, foil_manifest *m)
{
    const int n = cJSON_GetArraySize(list);
    m->files = calloc((size_t)(n ? n : 1), sizeof *m->files);
    if (!m->files) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    for (const cJSON *f = list->child; f; f = f->next, m->n_files++) {
        const char *p = string_field(f, "path"), *h = string_field(f, "sha256");
        const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(f, "bytes");
        unsigned char raw[32];
        if (!p || !from_hex(h, raw) || !is_count(bytes))
            return foil_error(FOIL_ERR_FORMAT, "%s: file %d has no path, bytes or 64-digit sha256", path,
                              m->n_files + 1);
        if (!(m->files[m->n_files].path = strdup(p))) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        m->files[m->n_files].bytes = (int64_t)bytes->valuedouble;
        memcpy(m->files[m->n_files].sha256, h, 65);
    }
    return FOIL_OK;
}

static foil_status read_examples(const cJSON *list, const char *path, foil_manifest *m)
{
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != m->examples)
        return foil_error(FOIL_ERR_FORMAT, "%s: example_sha256 does not hold one hash for each of the %lld examples",
                          path, (long long)m->examples);
    m->example_sha256 = malloc((size_t)(m->examples ? m->examples : 1) * 32);
    if (!m->example_sha256) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    int64_t i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++)
        if (!from_hex(cJSON_IsString(e) ? e->valuestring : NULL, m->example_sha256[i]))
            return foil_error(FOIL_ERR_FORMAT, "%s: example %lld's hash is not 64 hex digits", path, (long long)i);
    return FOIL_OK;
}

foil_status foil_manifest_read(const char *path, foil_manifest *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    foil_status st = foilDataReadText(path, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return foil_error(FOIL_ERR_FORMAT, "%s: not JSON", path);
    const char *schema = string_field(root, "schema"), *data = string_field(root, "data");
    const cJSON *examples = cJSON_GetObjectItemCaseSensitive(root, "examples");
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    unsigned char whole[32];
    if (!schema || strcmp(schema, "foil-manifest/1") != 0)
        st = foil_error(FOIL_ERR_FORMAT, "%s: not a foil manifest (schema foil-manifest/1)", path);
    else if (!data || !is_count(examples) || !is_count(classes) || !cJSON_IsArray(files) ||
             !from_hex(string_field(root, "sha256"), whole))
        st = foil_error(FOIL_ERR_FORMAT, "%s: data, examples, classes, files or sha256 missing or malformed", path);
    if (!st) {
        out->data = strdup(data), out->labels = dup_or_null(string_field(root, "labels"));
        out->label_column = dup_or_null(string_field(root, "label_column"));
        out->examples = (int64_t)examples->valuedouble, out->classes = (int64_t)classes->valuedouble;
        memcpy(out->sha256, string_field(root, "sha256"), 65);
        st = out->data ? read_files(files, path, out) : foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    if (!st) st = read_examples(cJSON_GetObjectItemCaseSensitive(root, "example_sha256"), path, out);
    cJSON_Delete(root);
    if (st) foil_manifest_free(out);
    return st;
}

/* Where example i sits: the file and row of a dataset read from one array
 * (or one image a file), else nothing beyond its index. */
static void example_place(const foil_data_spec *spec, const foil_manifest *now, int64_t i, char *buf, size_t size)
{
    buf[0] = '\0';
    if (foil_data_is_builtin(spec->data)) return;
    if (now->n_files == now->examples) snprintf(buf, size, " (%s)", now->files[i].path); /* one image a file */
    else snprintf(buf, size, " (row %lld of %s)", (long long)i, spec->data);
}

/* The first example whose hash differs from the manifest's, or -1. */
static int64_t first_changed_example(const foil_manifest *m, const unsigned char (*h)[32])
{
    for (int64_t i = 0; i < m->examples; i++)
        if (memcmp(m->example_sha256[i], h[i], 32) != 0) return i;
    return -1;
}

foil_status foil_manifest_verify(const foil_manifest *m, const char *manifest_path, const foil_data_spec *spec)
{
    if (sodium_init() < 0) return foil_error(FOIL_ERR_RUNTIME, "libsodium failed to initialize");
    foil_manifest now;
    foil_status st = foil_manifest_create(spec, &now);
    if (st) return foil_error_prefix(st, "checking %s against %s", spec->data, manifest_path);
    char changed[2048] = "";
    size_t used = 0;
    for (int i = 0; i < m->n_files && i < now.n_files; i++)
        if (strcmp(m->files[i].sha256, now.files[i].sha256) != 0 && used < sizeof changed)
            used += (size_t)snprintf(changed + used, sizeof changed - used, "%s%s", used ? ", " : "",
                                     now.files[i].path);
    if (now.examples != m->examples) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: %s has %lld examples, the manifest %lld%s%s", manifest_path,
                        spec->data, (long long)now.examples, (long long)m->examples, used ? "; changed: " : "",
                        changed);
    } else if (strcmp(now.sha256, m->sha256) != 0) {
        const int64_t i = first_changed_example(m, (const unsigned char (*)[32])now.example_sha256);
        char place[4200];
        example_place(spec, &now, i, place, sizeof place);
        st = foil_error(FOIL_ERR_FORMAT, "%s: example %lld of %s%s is not the one manifested%s%s", manifest_path,
                        (long long)i, spec->data, place, used ? "; changed: " : "", changed);
    } else if (used || now.n_files != m->n_files) {
        st = foil_error(FOIL_ERR_FORMAT, "%s: every example is as manifested, but the files differ (%s)",
                        manifest_path, used ? changed : "another number of files");
    }
    foil_manifest_free(&now);
    return st;
}

void foil_manifest_free(foil_manifest *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_files; i++) free(m->files[i].path);
    free(m->files), free(m->data), free(m->labels), free(m->label_column), free(m->example_sha256);
    memset(m, 0, sizeof *m);
}
