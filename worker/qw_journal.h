/* The metric journal of one leased run: an append-only file of points,
 * synced to disk before the points may be sent, from which points leave
 * only once the server has acknowledged them. It keeps metrics across a
 * server outage and a worker crash: at start-up the worker replays every
 * journal it finds (qw_journal_load) before leasing new work.
 *
 * File (text, mode 0600 because it holds the worker token):
 *   qlab-worker-journal 1 run=ID lease=TOKEN token=TOKEN\n
 *   STEP VALUE NAME\n ...
 * A torn last line (a crash mid-write) is ignored when loading.
 *
 * The journal is bounded: when appending would pass `max_bytes` while
 * unacknowledged points remain, the writer waits (that is, training
 * pauses) until the server has caught up. Once every point is acknowledged
 * the writer truncates the file back to its header before the next append.
 *
 * Threads: one writer (the run's training thread) calls append; the loop
 * thread calls ack. Everything else is for the owner. No call does disk
 * I/O while holding the lock, so ack never waits on the disk. */
#ifndef QW_JOURNAL_H
#define QW_JOURNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "qcore/error.h"
#include "qw_metrics.h"

#define QW_JOURNAL_TOKEN_MAX 256

struct qw_journal;

/* Creates (or truncates) the file at `path` with its header and syncs it
 * and its directory. Lease and token must be printable without spaces. */
int qw_journal_create(struct qw_journal **out, const char *path, int64_t run, const char *lease,
                      const char *token, int64_t max_bytes, struct qc_err *err);

/* Appends and syncs `n` points. Waits while the journal is full; returns
 * QC_ECONFLICT (nothing written) if `*stop` becomes true meanwhile, and
 * QC_EIO on a write or sync failure. */
int qw_journal_append(struct qw_journal *j, const struct qw_point *p, int n, const atomic_int *stop,
                      struct qc_err *err);

/* The server acknowledged the next `n` points in append order. */
void qw_journal_ack(struct qw_journal *j, int64_t n);

const char *qw_journal_path(const struct qw_journal *j);

/* Closes the file, which stays on disk (the owner removes it when the run
 * is over, see qw_fsop). NULL: no-op. */
void qw_journal_destroy(struct qw_journal *j);

/* A journal found on disk: its run, lease and token, and its points
 * (malloc'ed, caller frees `points`). */
struct qw_journal_rec {
    int64_t run;
    char lease[QW_JOURNAL_TOKEN_MAX];
    char token[QW_JOURNAL_TOKEN_MAX];
    struct qw_point *points;
    int64_t n;
};

/* Reads the file at `path`. QC_ECORRUPT for a file without a valid
 * header; QC_EIO when unreadable. Loading opens the journal for acks
 * (`*out`), with every loaded point pending. Runs before the loop starts. */
int qw_journal_load(struct qw_journal **out, struct qw_journal_rec *rec, const char *path,
                    struct qc_err *err);

#endif
