/* Metric series reads with min/max downsampling, and the rollups that let a
 * downsampled read skip most points. A rollup row summarises one aligned
 * block of steps of one series (run, metric) at one level: level L covers
 * steps [b * 64^L, (b + 1) * 64^L) for L = 1, 2, 3, and keeps the block's
 * point count, its minimum and its maximum point (step, value, time: the
 * earliest one on ties; the first point when every value is null). The
 * rollups are written in the transaction that writes their points, so they
 * never disagree with them: ingest folds each accepted point in (a replayed
 * point is not accepted, so it is not counted twice), deleting a run
 * deletes its rollups, and migration 0007 builds them for the points
 * already stored.
 *
 * A downsampled read cuts the series' step range into max_points / 2 equal
 * buckets and gives each bucket's minimum and maximum point in step order,
 * exactly as the plain scan does; it reads the coarsest level whose blocks
 * fit in a bucket, and below that level (then raw points) only the blocks
 * that straddle a bucket edge or the range's ends. */
#ifndef SRV_ROLLUP_H
#define SRV_ROLLUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"
#include "server/db.h"

#define SRV_ROLLUP_LEVELS 3 /* levels 1..3: blocks of 64, 4096 and 262144 steps */
#define SRV_ROLLUP_SHIFT  6 /* log2 of the fan-out */

/* The points accepted in one write transaction (caller-owned storage). */
struct srv_rollup_batch {
    struct srv_rollup_point *p;
    size_t n, cap;
};

void srv_rollup_batch_init(struct srv_rollup_batch *b);
void srv_rollup_batch_free(struct srv_rollup_batch *b);
/* Records a point that was just inserted (value ignored when `isnull`).
 * QC_ENOMEM with err set. */
int srv_rollup_batch_add(struct srv_rollup_batch *b, int64_t name_id, int64_t step, bool isnull,
                         double value, double t, struct qc_err *err);
/* Folds the recorded points of run `run` into its rollups, inside the
 * writer's open transaction, and empties the batch. QC_EIO with SQLite's
 * message. */
int srv_rollup_batch_write(struct srv_conn *c, int64_t run, struct srv_rollup_batch *b,
                           struct qc_err *err);

/* Appends series (run, name_id)'s points with step > since to the three
 * arrays (step, value or null, time stored). max_points 0 keeps every
 * point; otherwise at most max_points (>= 2) are kept, min/max per bucket,
 * and *down is set when that dropped any. Reads through `c` (the caller
 * holds a read transaction, so points and rollups agree). QC_EIO. */
int srv_series_read(struct srv_conn *c, int64_t run, int64_t name_id, int64_t since,
                    int64_t max_points, json_t *steps, json_t *values, json_t *times, bool *down,
                    struct qc_err *err);

#endif
