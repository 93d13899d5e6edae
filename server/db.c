/* Database connections, migrations and the statement cache. */
#include "server/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/migrations.h"

double srv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int srv_db_fail(struct srv_conn *c, struct qc_err *err, const char *what)
{
    return qc_err_set(err, QC_EIO, "", "database: %s: %s", what,
                      c && c->db ? sqlite3_errmsg(c->db) : "not open");
}

static int exec(struct srv_conn *c, const char *sql, struct qc_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        qc_err_set(err, QC_EIO, "", "database: %s", msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return QC_EIO;
    }
    return QC_OK;
}

static int conn_open(struct srv_conn *c, const char *path, bool writer, bool durable, int busy_ms,
                     struct qc_err *err)
{
    memset(c, 0, sizeof *c);
    int flags = SQLITE_OPEN_NOMUTEX |
                (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        qc_err_set(err, QC_EIO, "--db", "cannot open database '%s': %s", path,
                   c->db ? sqlite3_errmsg(c->db) : "out of memory");
        sqlite3_close(c->db);
        c->db = NULL;
        return QC_EIO;
    }
    sqlite3_busy_timeout(c->db, busy_ms);
    sqlite3_extended_result_codes(c->db, 1);
    if (writer)
        return exec(c,
                    durable ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              "PRAGMA foreign_keys=ON;"
                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                              "PRAGMA foreign_keys=ON;",
                    err);
    return exec(c, "PRAGMA foreign_keys=ON;", err);
}

static void conn_close(struct srv_conn *c)
{
    for (int i = 0; i < c->ncache; i++)
        sqlite3_finalize(c->cache[i].st);
    c->ncache = 0;
    sqlite3_close(c->db);
    c->db = NULL;
}

sqlite3_stmt *srv_stmt(struct srv_conn *c, const char *sql, struct qc_err *err)
{
    for (int i = 0; i < c->ncache; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_stmt *st = c->cache[i].st;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        srv_db_fail(c, err, "prepare");
        return NULL;
    }
    /* The cache is sized above the number of distinct statements. */
    QC_ASSERT(c->ncache < SRV_DB_STMT_CACHE);
    c->cache[c->ncache].sql = sql;
    c->cache[c->ncache].st = st;
    c->ncache++;
    return st;
}

sqlite3_stmt *srv_stmt_once(struct srv_conn *c, const char *sql, struct qc_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        srv_db_fail(c, err, "prepare");
        return NULL;
    }
    return st;
}

static int migrate(struct srv_conn *c, struct qc_err *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return srv_db_fail(c, err, "user_version");
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > srv_nmigrations)
        return qc_err_set(err, QC_ECORRUPT, "--db",
                          "the database has schema version %d; this qlab-server knows up to %d",
                          version, srv_nmigrations);
    for (int i = version; i < srv_nmigrations; i++) {
        char pragma[64];
        int rc;
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", i + 1);
        if ((rc = exec(c, "BEGIN IMMEDIATE;", err)) < 0)
            return rc;
        if ((rc = exec(c, srv_migrations[i].sql, err)) < 0 || (rc = exec(c, pragma, err)) < 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            exec(c, "ROLLBACK;", NULL);
            return qc_err_set(err, QC_EIO, "--db", "migration %s: %s", srv_migrations[i].file, msg);
        }
        if ((rc = exec(c, "COMMIT;", err)) < 0)
            return rc;
    }
    return QC_OK;
}

int srv_db_open(struct srv_db *d, const char *path, bool durable, struct qc_err *err)
{
    int rc;
    memset(d, 0, sizeof *d);
    if (strlen(path) >= sizeof d->path)
        return qc_err_set(err, QC_EINVAL, "--db", "database path is too long");
    snprintf(d->path, sizeof d->path, "%s", path);
    d->busy_ms = 5000;
    if ((rc = conn_open(&d->writer, path, true, durable, d->busy_ms, err)) < 0)
        return rc;
    if ((rc = migrate(&d->writer, err)) < 0) {
        conn_close(&d->writer);
        return rc;
    }
    pthread_mutex_init(&d->wmu, NULL);
    pthread_mutex_init(&d->rmu, NULL);
    pthread_key_create(&d->reader_key, NULL);
    return QC_OK;
}

void srv_db_close(struct srv_db *d)
{
    for (struct srv_conn *c = d->readers, *next; c; c = next) {
        next = c->next;
        conn_close(c);
        free(c);
    }
    d->readers = NULL;
    if (d->writer.db) {
        conn_close(&d->writer);
        pthread_key_delete(d->reader_key);
        pthread_mutex_destroy(&d->wmu);
        pthread_mutex_destroy(&d->rmu);
    }
}

void srv_db_set_busy_timeout(struct srv_db *d, int ms)
{
    d->busy_ms = ms;
    if (d->writer.db)
        sqlite3_busy_timeout(d->writer.db, ms);
}

/* QC_EUNAVAIL for a lock held elsewhere (503 with Retry-After: the client
 * may try again), QC_EIO for anything else. */
static int write_fail(struct srv_db *d, int src, const char *what, struct qc_err *err)
{
    bool busy = (src & 0xff) == SQLITE_BUSY || (src & 0xff) == SQLITE_LOCKED;
    return qc_err_set(err, busy ? QC_EUNAVAIL : QC_EIO, "",
                      busy ? "database: %s: the database is locked by another process; nothing "
                             "was written, try again"
                           : "database: %s: %s; nothing was written",
                      what, busy ? "" : sqlite3_errmsg(d->writer.db));
}

struct srv_conn *srv_db_write_begin(struct srv_db *d, struct qc_err *err)
{
    pthread_mutex_lock(&d->wmu);
    int src = sqlite3_exec(d->writer.db, "BEGIN IMMEDIATE;", NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        write_fail(d, src, "begin", err);
        pthread_mutex_unlock(&d->wmu);
        return NULL;
    }
    return &d->writer;
}

int srv_db_write_end(struct srv_db *d, bool ok, struct qc_err *err)
{
    int rc = QC_OK;
    if (ok) {
        int src = sqlite3_exec(d->writer.db, "COMMIT;", NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            rc = write_fail(d, src, "commit", err);
            exec(&d->writer, "ROLLBACK;", NULL);
        }
    } else {
        exec(&d->writer, "ROLLBACK;", NULL);
    }
    pthread_mutex_unlock(&d->wmu);
    return rc;
}

struct srv_conn *srv_db_reader(struct srv_db *d)
{
    struct srv_conn *c = pthread_getspecific(d->reader_key);
    if (c)
        return c;
    c = calloc(1, sizeof *c);
    if (!c || conn_open(c, d->path, false, false, d->busy_ms, NULL) < 0) {
        free(c);
        return NULL;
    }
    pthread_setspecific(d->reader_key, c);
    pthread_mutex_lock(&d->rmu);
    c->next = d->readers;
    d->readers = c;
    pthread_mutex_unlock(&d->rmu);
    return c;
}
