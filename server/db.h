/* The server's SQLite database: one writer connection behind a mutex (SQLite
 * serialises writers anyway; queueing them here avoids SQLITE_BUSY retries)
 * and one reader connection per thread (WAL lets readers run beside the
 * writer). Each connection keeps its prepared statements, keyed by the SQL
 * literal's address, so a request prepares nothing.
 *
 * Durability: WAL with synchronous=NORMAL survives a killed process (the
 * commit is in the WAL before sqlite3_step returns); `durable` selects FULL,
 * which also survives power loss at the cost of an fsync per commit. */
#ifndef SRV_DB_H
#define SRV_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "qcore/error.h"

#define SRV_DB_STMT_CACHE 96

struct srv_conn {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *st;
    } cache[SRV_DB_STMT_CACHE];
    int ncache;
    struct srv_conn *next; /* every reader, for closing */
};

struct srv_db {
    char path[1024];
    struct srv_conn writer;
    pthread_mutex_t wmu;
    pthread_key_t reader_key;
    pthread_mutex_t rmu; /* guards `readers` */
    struct srv_conn *readers;
    int busy_ms; /* sqlite3_busy_timeout of every connection */
};

/* Opens (creating if needed) and migrates the database at `path`.
 * QC_EIO with SQLite's message when it cannot; QC_ECORRUPT when the file's
 * schema is newer than this binary. */
int srv_db_open(struct srv_db *d, const char *path, bool durable, struct qc_err *err);
/* How long a statement waits for another process's lock (default 5000 ms;
 * --busy-timeout). Applies to the writer and to readers opened later. */
void srv_db_set_busy_timeout(struct srv_db *d, int ms);
void srv_db_close(struct srv_db *d);

/* The writer, locked: call srv_db_write_end when done. BEGIN IMMEDIATE is
 * issued here and committed (or rolled back when `ok` is false) at the end,
 * so every caller's writes are one transaction. When BEGIN fails (another
 * process holds the write lock past the busy timeout: QC_EUNAVAIL; else
 * QC_EIO) it returns NULL with err set and the writer unlocked: nothing may
 * run, since statements would run in autocommit, one by one. */
struct srv_conn *srv_db_write_begin(struct srv_db *d, struct qc_err *err);
/* Commits (or rolls back). A failed COMMIT rolls back and returns
 * QC_EUNAVAIL when the database was busy, QC_EIO otherwise. */
int srv_db_write_end(struct srv_db *d, bool ok, struct qc_err *err);

/* This thread's reader connection (opened on first use; NULL when it cannot
 * be opened). Reads outside a transaction see the latest commit. */
struct srv_conn *srv_db_reader(struct srv_db *d);

/* The prepared statement for the literal `sql`, reset and unbound. Borrowed
 * from the connection; NULL (and err set) when it does not prepare. */
sqlite3_stmt *srv_stmt(struct srv_conn *c, const char *sql, struct qc_err *err);

/* One-shot statement for dynamic WHERE clauses built from fixed fragments
 * (never from request text): the caller finalizes it. */
sqlite3_stmt *srv_stmt_once(struct srv_conn *c, const char *sql, struct qc_err *err);

/* Sets err from the connection's last error; returns QC_EIO. */
int srv_db_fail(struct srv_conn *c, struct qc_err *err, const char *what);

double srv_now(void); /* seconds since the epoch, wall clock */

#endif
