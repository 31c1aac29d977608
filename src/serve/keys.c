/*
 * serve/keys.c - API keys and what each key may spend (serve_internal.h).
 *
 * A key is 32 random bytes (libsodium's randombytes_buf), shown once as
 * "foil_" + 43 characters of URL-safe base64. The keys file keeps only
 * BLAKE2b-256 of that string, one line per key:
 *
 *   # NAME HASH [requests-per-s=R] [examples-per-s=E] [budget=N]
 *   alice blake2b256:3f1c...e0 requests-per-s=50 budget=100000
 *
 * Why a fast hash and not crypto_pwhash_str (Argon2id). A slow, salted
 * password hash exists to make guessing a LOW-entropy secret expensive
 * after the hash file leaks. These keys are not chosen by people: 256
 * uniformly random bits cannot be guessed at any hashing speed, so Argon2
 * would add no security while costing ~0.1 s and tens of MiB per request,
 * which would cap the server at a few requests per second and hand anyone
 * with a made-up key a denial of service. A keyed hash (a server pepper)
 * would likewise add nothing against a 256-bit secret. What matters is
 * that the file never holds a usable key, that comparing does not leak
 * through timing (sodium_memcmp on every stored hash, no early exit), and
 * that the key never appears on a command line or in a log.
 */
#define _GNU_SOURCE /* mkstemp, fchmod */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/serve_internal.h"

#define HASH_PREFIX "blake2b256:"

static void key_hash(const char *token, size_t len, unsigned char out[FOIL_SERVE_HASH_BYTES])
{
    crypto_generichash(out, FOIL_SERVE_HASH_BYTES, (const unsigned char *)token, len, NULL, 0);
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > FOIL_SERVE_NAME_MAX || strcmp(s, "-") == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
            !strchr("-_.", s[i]))
            return 0;
    return 1;
}

static void key_defaults(FoilServeKey *key, const foil_serve_options *o)
{
    key->requests_per_s = o->requests_per_s;
    key->examples_per_s = o->examples_per_s;
    key->budget = o->budget;
    key->last = -1;
}

/* One line "NAME HASH [k=v ...]" into key. */
static foil_status parse_line(const char *path, int lineno, char *line, FoilServeKey *key)
{
    char *save = NULL, *name = strtok_r(line, " \t", &save), *hash = strtok_r(NULL, " \t", &save);
    if (!name || !hash || !name_ok(name))
        return foil_error(FOIL_ERR_FORMAT, "%s:%d: expected NAME %sHEX [requests-per-s=R] [examples-per-s=E] "
                          "[budget=N] (names: letters, digits, - _ .)", path, lineno, HASH_PREFIX);
    size_t bin_len = 0;
    if (strncmp(hash, HASH_PREFIX, strlen(HASH_PREFIX)) != 0 ||
        sodium_hex2bin(key->hash, sizeof key->hash, hash + strlen(HASH_PREFIX), strlen(hash + strlen(HASH_PREFIX)),
                       NULL, &bin_len, NULL) != 0 ||
        bin_len != FOIL_SERVE_HASH_BYTES)
        return foil_error(FOIL_ERR_FORMAT, "%s:%d: key %s: the hash must be %s and 64 hex digits", path, lineno, name,
                          HASH_PREFIX);
    snprintf(key->name, sizeof key->name, "%s", name);
    for (char *kv; (kv = strtok_r(NULL, " \t", &save));) {
        char *eq = strchr(kv, '='), *end = NULL;
        double v = eq ? strtod(eq + 1, &end) : -1;
        if (!eq || end == eq + 1 || *end || !isfinite(v) || v < 0)
            return foil_error(FOIL_ERR_FORMAT, "%s:%d: key %s: '%s' is not NAME=NUMBER >= 0", path, lineno, name, kv);
        *eq = '\0';
        if (strcmp(kv, "requests-per-s") == 0) key->requests_per_s = v;
        else if (strcmp(kv, "examples-per-s") == 0) key->examples_per_s = v;
        else if (strcmp(kv, "budget") == 0) key->budget = (int64_t)v;
        else
            return foil_error(FOIL_ERR_FORMAT, "%s:%d: key %s: unknown setting '%s' (requests-per-s, examples-per-s, "
                              "budget)", path, lineno, name, kv);
    }
    return FOIL_OK;
}

foil_status foilServeKeysLoad(FoilServeKeys *k, const char *path, const foil_serve_options *o)
{
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->lock, NULL);
    int cap = 8;
    k->keys = calloc((size_t)cap + 1, sizeof *k->keys);
    if (!k->keys) return foil_error(FOIL_ERR_NOMEM, "out of memory");
    foil_status st = FOIL_OK;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) return foil_error(FOIL_ERR_IO, "%s: cannot open the keys file: %s", path, strerror(errno));
        char line[1024];
        for (int lineno = 1; !st && fgets(line, sizeof line, f); lineno++) {
            line[strcspn(line, "\r\n")] = '\0';
            char *s = line + strspn(line, " \t");
            if (!*s || *s == '#') continue;
            if (k->n == cap) {
                FoilServeKey *p = realloc(k->keys, ((size_t)cap * 2 + 1) * sizeof *p);
                if (!p) {
                    st = foil_error(FOIL_ERR_NOMEM, "out of memory");
                    break;
                }
                k->keys = p;
                cap *= 2;
            }
            FoilServeKey *key = &k->keys[k->n];
            memset(key, 0, sizeof *key);
            key_defaults(key, o);
            if ((st = parse_line(path, lineno, s, key))) break;
            for (int j = 0; j < k->n && !st; j++)
                if (strcmp(k->keys[j].name, key->name) == 0)
                    st = foil_error(FOIL_ERR_FORMAT, "%s:%d: key %s appears twice", path, lineno, key->name);
            k->n++;
        }
        fclose(f);
        if (!st && k->n == 0)
            st = foil_error(FOIL_ERR_ARG, "%s: no keys (add one with foil serve --keys %s --add-key NAME)", path, path);
    }
    FoilServeKey *anon = &k->keys[k->n];
    memset(anon, 0, sizeof *anon);
    strcpy(anon->name, "-");
    key_defaults(anon, o);
    return st;
}

void foilServeKeysFree(FoilServeKeys *k)
{
    if (k->keys) sodium_memzero(k->keys, sizeof *k->keys * (size_t)(k->n + 1));
    free(k->keys);
    pthread_mutex_destroy(&k->lock);
    memset(k, 0, sizeof *k);
}

int foilServeKeysFind(const FoilServeKeys *k, const char *token, size_t len)
{
    unsigned char h[FOIL_SERVE_HASH_BYTES];
    key_hash(token, len, h);
    int found = -1;
    for (int i = 0; i < k->n; i++) { /* no early exit: the time does not say which key, or how close */
        int eq = sodium_memcmp(h, k->keys[i].hash, sizeof h) == 0;
        found = eq ? i : found;
    }
    return found;
}

/* Refill a bucket of capacity max(rate, 1) at rate per second. */
static void refill(double *tokens, double rate, double burst, double dt)
{
    *tokens = fmin(burst, *tokens + rate * dt);
}

static void advance(FoilServeKey *key, double now)
{
    if (key->last < 0) {
        key->req_tokens = fmax(key->requests_per_s, 1);
        key->ex_tokens = key->examples_per_s;
    } else {
        double dt = now - key->last;
        refill(&key->req_tokens, key->requests_per_s, fmax(key->requests_per_s, 1), dt);
        refill(&key->ex_tokens, key->examples_per_s, key->examples_per_s, dt);
    }
    key->last = now;
}

double foilServeTakeRequest(FoilServeKeys *k, int i, double now)
{
    FoilServeKey *key = &k->keys[i];
    if (key->requests_per_s <= 0) return 0;
    pthread_mutex_lock(&k->lock);
    advance(key, now);
    double wait = 0;
    if (key->req_tokens >= 1) key->req_tokens -= 1;
    else wait = (1 - key->req_tokens) / key->requests_per_s;
    pthread_mutex_unlock(&k->lock);
    return wait;
}

double foilServeTakeExamples(FoilServeKeys *k, int i, int64_t n, double now, const char **why)
{
    FoilServeKey *key = &k->keys[i];
    double wait = 0;
    pthread_mutex_lock(&k->lock);
    advance(key, now);
    if (key->budget > 0 && key->spent + n > key->budget) {
        *why = "the key's query budget is spent";
        wait = 1e9;
    } else if (key->examples_per_s > 0 && n > key->examples_per_s) {
        *why = "the request has more examples than the key may send per second";
        wait = 1e9;
    } else if (key->examples_per_s > 0 && key->ex_tokens < (double)n) {
        *why = "the key's example rate limit is reached";
        wait = ((double)n - key->ex_tokens) / key->examples_per_s;
    } else {
        if (key->examples_per_s > 0) key->ex_tokens -= (double)n;
        key->spent += n;
    }
    pthread_mutex_unlock(&k->lock);
    return wait;
}

void foilServeRefund(FoilServeKeys *k, int i, int64_t n)
{
    pthread_mutex_lock(&k->lock);
    k->keys[i].spent -= n;
    pthread_mutex_unlock(&k->lock);
}

/* ---- adding a key ---- */

foil_status foil_serve_add_key(const char *path, const char *name, char *key, size_t cap)
{
    if (!name_ok(name))
        return foil_error(FOIL_ERR_ARG, "'%s' cannot name a key: 1 to %d letters, digits, '-', '_' or '.'", name,
                          FOIL_SERVE_NAME_MAX);
    if (cap < FOIL_SERVE_KEY_CHARS) return foil_error(FOIL_ERR_ARG, "the key buffer is too small");
    if (sodium_init() < 0) return foil_error(FOIL_ERR_RUNTIME, "libsodium failed to initialize");
    /* what is there: kept as it is, checked for the name */
    char *old = NULL;
    size_t old_len = 0;
    FILE *f = fopen(path, "r");
    if (!f && errno != ENOENT) return foil_error(FOIL_ERR_IO, "%s: %s", path, strerror(errno));
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            char first[FOIL_SERVE_NAME_MAX + 2] = "";
            sscanf(line, "%65s", first);
            if (strcmp(first, name) == 0) {
                fclose(f);
                free(old);
                return foil_error(FOIL_ERR_ARG, "%s: a key named %s exists already", path, name);
            }
            size_t n = strlen(line);
            char *p = realloc(old, old_len + n + 2);
            if (!p) {
                fclose(f);
                free(old);
                return foil_error(FOIL_ERR_NOMEM, "out of memory");
            }
            old = p;
            memcpy(old + old_len, line, n);
            old_len += n;
            if (line[n - 1] != '\n') old[old_len++] = '\n';
        }
        fclose(f);
    }
    unsigned char raw[32], h[FOIL_SERVE_HASH_BYTES];
    randombytes_buf(raw, sizeof raw);
    strcpy(key, "foil_");
    sodium_bin2base64(key + 5, cap - 5, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    key_hash(key, strlen(key), h);
    char hex[2 * FOIL_SERVE_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);

    /* written whole to a temporary file, then renamed over the old one */
    size_t tlen = strlen(path) + 16;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(old);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, tlen, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    foil_status st = FOIL_OK;
    if (fd < 0) st = foil_error(FOIL_ERR_IO, "%s: cannot write next to it: %s", path, strerror(errno));
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !out) close(fd);
    if (!st && !out) st = foil_error(FOIL_ERR_IO, "%s: %s", tmp, strerror(errno));
    if (!st) {
        fchmod(fd, 0600);
        if (!old) fputs("# foil serve API keys: NAME HASH [requests-per-s=R] [examples-per-s=E] [budget=N]\n", out);
        else fwrite(old, 1, old_len, out);
        fprintf(out, "%s %s%s\n", name, HASH_PREFIX, hex);
        int bad = fflush(out) != 0 || fsync(fd) != 0;
        bad |= fclose(out) != 0;
        if (bad || rename(tmp, path) != 0) st = foil_error(FOIL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (st && fd >= 0) unlink(tmp);
    free(tmp);
    free(old);
    if (st) sodium_memzero(key, cap);
    return st;
}
