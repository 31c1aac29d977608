/*
 * serve/audit.c - the audit log of foil serve: one SQLite row per answered
 * request (serve_internal.h), in WAL mode, written by one thread (server.c's
 * audit writer) in one transaction per group of answers.
 *
 * "Acknowledged => durable". server.c commits a group's transaction and
 * only then sends the group's answers, so a client never holds an answer
 * whose row could still be lost. What "committed" survives depends on
 * PRAGMA synchronous:
 *   - WAL with synchronous=NORMAL: COMMIT write()s the frames to the -wal
 *     file but fsyncs only at checkpoints. The data is in the kernel's page
 *     cache when COMMIT returns, so it survives the PROCESS dying (kill -9,
 *     a crash, an OOM kill): the kernel still writes it out. It does not
 *     survive power loss or a kernel panic: SQLite's documentation says a
 *     WAL transaction committed under NORMAL "might roll back following a
 *     power loss or system crash".
 *   - WAL with synchronous=FULL: the -wal file is fsynced at every COMMIT,
 *     so a committed row survives power loss too (on a disk that honours
 *     flushes).
 * The default is FULL, because an audit trail must hold when the machine
 * goes down, not only the process; --audit-sync normal trades that for
 * speed. FULL costs one fsync per group commit, not per request: the
 * writer takes every answer waiting (a whole batch or more) into one
 * transaction.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"

struct FoilServeAudit {
    sqlite3 *db;
    sqlite3_stmt *insert;
    char *path;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS requests ("
    " id INTEGER PRIMARY KEY,"          /* the request id the answer carries */
    " time TEXT NOT NULL,"              /* UTC, ISO 8601 with milliseconds */
    " key TEXT NOT NULL,"               /* the API key's name; '-' none or invalid */
    " remote TEXT,"                     /* the client's address */
    " path TEXT,"
    " status INTEGER NOT NULL,"         /* the HTTP status answered */
    " examples INTEGER NOT NULL,"
    " classes INTEGER,"
    " input_sha256 TEXT,"               /* of the float32 inputs, little-endian, row-major */
    " argmax TEXT,"                     /* the predicted class of each example, comma-separated */
    " scores BLOB,"                     /* the scores answered: examples x classes float32, little-endian */
    " latency_ms REAL,"
    " alarms TEXT,"                     /* the monitors' alarms, '; '-separated */
    " error TEXT"                       /* why a request was refused */
    ");";

static foil_status db_error(FoilServeAudit *a, const char *what)
{
    return foil_error(FOIL_ERR_IO, "%s: audit log: %s: %s", a->path, what, sqlite3_errmsg(a->db));
}

static foil_status exec(FoilServeAudit *a, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(a->db, sql, NULL, NULL, &msg) == SQLITE_OK) return FOIL_OK;
    foil_status st = foil_error(FOIL_ERR_IO, "%s: audit log: %s: %s", a->path, sql, msg ? msg : "failed");
    sqlite3_free(msg);
    return st;
}

foil_status foilServeAuditOpen(const char *path, int sync_full, FoilServeAudit **out)
{
    *out = NULL;
    FoilServeAudit *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(path))) {
        free(a);
        return foil_error(FOIL_ERR_NOMEM, "out of memory");
    }
    foil_status st = FOIL_OK;
    if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        st = db_error(a, "cannot open");
    if (!st) sqlite3_busy_timeout(a->db, 5000); /* a reader (sqlite3 CLI) may hold a lock for a moment */
    if (!st) {
        /* journal_mode answers the mode it is in: WAL is refused on some file systems */
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) != SQLITE_OK ||
            sqlite3_step(s) != SQLITE_ROW)
            st = db_error(a, "cannot set WAL mode");
        else if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0)
            st = foil_error(FOIL_ERR_IO, "%s: audit log: the file system does not allow WAL mode (journal_mode is %s)",
                            path, (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    if (!st) st = exec(a, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (!st) st = exec(a, schema);
    if (!st && sqlite3_prepare_v2(a->db,
                                  "INSERT INTO requests (time, key, remote, path, status, examples, classes, "
                                  "input_sha256, argmax, scores, latency_ms, alarms, error) "
                                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                  -1, &a->insert, NULL) != SQLITE_OK)
        st = db_error(a, "cannot prepare the insert");
    if (st) {
        foilServeAuditClose(a);
        return st;
    }
    *out = a;
    return FOIL_OK;
}

void foilServeAuditClose(FoilServeAudit *a)
{
    if (!a) return;
    sqlite3_finalize(a->insert);
    sqlite3_close(a->db);
    free(a->path);
    free(a);
}

foil_status foilServeAuditBegin(FoilServeAudit *a) { return exec(a, "BEGIN IMMEDIATE"); }
foil_status foilServeAuditCommit(FoilServeAudit *a) { return exec(a, "COMMIT"); }
void foilServeAuditRollback(FoilServeAudit *a) { sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL); }

foil_status foilServeAuditInsert(FoilServeAudit *a, const FoilServeAuditRow *r, int64_t *id)
{
    char when[40], hex[65];
    time_t sec = (time_t)r->time;
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + k, sizeof when - k, ".%03dZ", (int)((r->time - (double)sec) * 1000) % 1000);
    sqlite3_stmt *s = a->insert;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_text(s, 1, when, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, r->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->remote, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, r->status);
    sqlite3_bind_int64(s, 6, r->examples);
    if (r->classes) sqlite3_bind_int64(s, 7, r->classes);
    if (r->input_sha256) {
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", r->input_sha256[i]);
        sqlite3_bind_text(s, 8, hex, 64, SQLITE_TRANSIENT);
    }
    char *argmax = NULL;
    if (r->argmax && r->examples > 0) {
        argmax = malloc((size_t)r->examples * 12 + 1);
        if (!argmax) return foil_error(FOIL_ERR_NOMEM, "out of memory");
        size_t len = 0;
        for (int64_t i = 0; i < r->examples; i++)
            len += (size_t)sprintf(argmax + len, i ? ",%d" : "%d", (int)r->argmax[i]);
        sqlite3_bind_text(s, 9, argmax, (int)len, SQLITE_STATIC);
    }
    if (r->scores) sqlite3_bind_blob64(s, 10, r->scores, (sqlite3_uint64)(r->examples * r->classes) * sizeof(float),
                                       SQLITE_STATIC);
    sqlite3_bind_double(s, 11, r->latency_ms);
    if (r->alarms && *r->alarms) sqlite3_bind_text(s, 12, r->alarms, -1, SQLITE_STATIC);
    if (r->error && *r->error) sqlite3_bind_text(s, 13, r->error, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    foil_status st = rc == SQLITE_DONE ? FOIL_OK : db_error(a, "cannot insert a row");
    *id = sqlite3_last_insert_rowid(a->db);
    sqlite3_reset(s);
    free(argmax);
    return st;
}

foil_status foilServeAuditSpent(FoilServeAudit *a, void (*fn)(void *ctx, const char *key, int64_t examples), void *ctx)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT key, SUM(examples) FROM requests WHERE status = 200 GROUP BY key", -1, &s,
                           NULL) != SQLITE_OK)
        return db_error(a, "cannot read the budgets spent");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? FOIL_OK : db_error(a, "cannot read the budgets spent");
}
