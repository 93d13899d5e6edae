-- qlab-server schema: min/max rollups of every metric series, so that a
-- downsampled read (GET /runs/{id}/metrics?max_points=N) reads a few rows
-- per bucket instead of every point (server/rollup.h). Level L summarises
-- the aligned block blk = step >> (6 * L) (64, 4096 and 262144 steps): its
-- point count, and its minimum and maximum point (step, value, time) among
-- the non-null values, the earliest on ties, or its first point when every
-- value is null. Written in the same transaction as the points.
CREATE TABLE metric_rollups (
    run_id      INTEGER NOT NULL,
    name_id     INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    blk         INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    lo_step     INTEGER NOT NULL,
    lo_value    REAL,
    lo_t        REAL    NOT NULL,
    hi_step     INTEGER NOT NULL,
    hi_value    REAL,
    hi_t        REAL    NOT NULL,
    PRIMARY KEY (run_id, name_id, level, blk)
) WITHOUT ROWID;

-- The points already stored, every level at once (level L: blocks of
-- step >> 6L): the first row of each block in (null last, value, step)
-- order is its minimum, in (null last, value descending, step) order its
-- maximum.
INSERT INTO metric_rollups
    SELECT run_id, name_id, level, blk, n, lo_step, lo_value, lo_t, hi_step, hi_value, hi_t FROM (
        SELECT run_id, name_id, level, step >> sh AS blk, count(*) OVER b AS n,
               first_value(step) OVER lo AS lo_step, first_value(value) OVER lo AS lo_value,
               first_value(t) OVER lo AS lo_t, first_value(step) OVER hi AS hi_step,
               first_value(value) OVER hi AS hi_value, first_value(t) OVER hi AS hi_t,
               row_number() OVER b AS k
        FROM metrics CROSS JOIN (SELECT 1 AS level, 6 AS sh UNION ALL SELECT 2, 12
                                 UNION ALL SELECT 3, 18)
        WINDOW b AS (PARTITION BY run_id, name_id, level, step >> sh),
               lo AS (PARTITION BY run_id, name_id, level, step >> sh
                      ORDER BY value IS NULL, value, step
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
               hi AS (PARTITION BY run_id, name_id, level, step >> sh
                      ORDER BY value IS NULL, value DESC, step
                      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
    WHERE k = 1;
