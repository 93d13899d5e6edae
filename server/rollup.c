/* Series reads and their rollups (rollup.h). */
#include "server/rollup.h"

#include <stdlib.h>
#include <string.h>

struct srv_rollup_point {
    int64_t name_id, step;
    double value, t;
    bool isnull;
};

/* The summary of a run of consecutive points: their count, the minimum and
 * the maximum non-null point (the earliest on ties), or the first point for
 * both when every value is null. Points merged in step order give what the
 * point-by-point scan gives. */
struct mm {
    int64_t n;
    int64_t lo_s, hi_s;
    double lo, hi, lo_t, hi_t;
    bool lo_null, hi_null;
};

static struct mm mm_point(int64_t s, bool isnull, double v, double t)
{
    return (struct mm){.n = 1,
                       .lo_s = s,
                       .hi_s = s,
                       .lo = isnull ? 0 : v,
                       .hi = isnull ? 0 : v,
                       .lo_t = t,
                       .hi_t = t,
                       .lo_null = isnull,
                       .hi_null = isnull};
}

/* Folds `later` (points after all of `into`'s) into `into`. */
static void mm_merge(struct mm *into, const struct mm *later)
{
    into->n += later->n;
    if (!later->lo_null && (into->lo_null || later->lo < into->lo)) {
        into->lo = later->lo;
        into->lo_s = later->lo_s;
        into->lo_t = later->lo_t;
        into->lo_null = false;
    }
    if (!later->hi_null && (into->hi_null || later->hi > into->hi)) {
        into->hi = later->hi;
        into->hi_s = later->hi_s;
        into->hi_t = later->hi_t;
        into->hi_null = false;
    }
}

/* ---- ingest ---------------------------------------------------------------- */

void srv_rollup_batch_init(struct srv_rollup_batch *b)
{
    memset(b, 0, sizeof *b);
}

void srv_rollup_batch_free(struct srv_rollup_batch *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

int srv_rollup_batch_add(struct srv_rollup_batch *b, int64_t name_id, int64_t step, bool isnull,
                         double value, double t, struct qc_err *err)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        struct srv_rollup_point *p = realloc(b->p, cap * sizeof *p);
        if (!p)
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = (struct srv_rollup_point){
        .name_id = name_id, .step = step, .value = isnull ? 0 : value, .t = t, .isnull = isnull};
    return QC_OK;
}

static int point_cmp(const void *x, const void *y)
{
    const struct srv_rollup_point *a = x, *b = y;
    if (a->name_id != b->name_id)
        return a->name_id < b->name_id ? -1 : 1;
    return (a->step > b->step) - (a->step < b->step);
}

/* Merges a block's summary into its row. The stored row may hold points on
 * either side of the new ones (batches arrive in any order), so the
 * earliest-on-ties rule compares steps: a new minimum wins when it is
 * smaller, or equal and earlier; a null-only block's first point moves to
 * an earlier null-only point. Every SET expression sees the old row. */
#define NEW_LO                                                                                     \
    "(excluded.lo_value IS NOT NULL AND (lo_value IS NULL OR excluded.lo_value < lo_value OR "     \
    "(excluded.lo_value = lo_value AND excluded.lo_step < lo_step))) OR (excluded.lo_value IS "    \
    "NULL AND lo_value IS NULL AND excluded.lo_step < lo_step)"
#define NEW_HI                                                                                     \
    "(excluded.hi_value IS NOT NULL AND (hi_value IS NULL OR excluded.hi_value > hi_value OR "     \
    "(excluded.hi_value = hi_value AND excluded.hi_step < hi_step))) OR (excluded.hi_value IS "    \
    "NULL AND hi_value IS NULL AND excluded.hi_step < hi_step)"

static const char upsert_sql[] =
    "INSERT INTO metric_rollups (run_id, name_id, level, blk, n, lo_step, lo_value, lo_t, "
    "hi_step, hi_value, hi_t) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, name_id, level, blk) DO UPDATE SET n = n + excluded.n, "
    "lo_step = CASE WHEN " NEW_LO " THEN excluded.lo_step ELSE lo_step END, "
    "lo_value = CASE WHEN " NEW_LO " THEN excluded.lo_value ELSE lo_value END, "
    "lo_t = CASE WHEN " NEW_LO " THEN excluded.lo_t ELSE lo_t END, "
    "hi_step = CASE WHEN " NEW_HI " THEN excluded.hi_step ELSE hi_step END, "
    "hi_value = CASE WHEN " NEW_HI " THEN excluded.hi_value ELSE hi_value END, "
    "hi_t = CASE WHEN " NEW_HI " THEN excluded.hi_t ELSE hi_t END";

static int upsert(struct srv_conn *c, sqlite3_stmt *st, int64_t run, int64_t name_id, int level,
                  int64_t blk, const struct mm *m, struct qc_err *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, name_id);
    sqlite3_bind_int(st, 3, level);
    sqlite3_bind_int64(st, 4, blk);
    sqlite3_bind_int64(st, 5, m->n);
    sqlite3_bind_int64(st, 6, m->lo_s);
    if (m->lo_null)
        sqlite3_bind_null(st, 7);
    else
        sqlite3_bind_double(st, 7, m->lo);
    sqlite3_bind_double(st, 8, m->lo_t);
    sqlite3_bind_int64(st, 9, m->hi_s);
    if (m->hi_null)
        sqlite3_bind_null(st, 10);
    else
        sqlite3_bind_double(st, 10, m->hi);
    sqlite3_bind_double(st, 11, m->hi_t);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "metric rollup");
}

int srv_rollup_batch_write(struct srv_conn *c, int64_t run, struct srv_rollup_batch *b,
                           struct qc_err *err)
{
    int rc = QC_OK;
    if (b->n == 0)
        return QC_OK;
    sqlite3_stmt *st = srv_stmt(c, upsert_sql, err);
    if (!st)
        return QC_EIO;
    qsort(b->p, b->n, sizeof *b->p, point_cmp);
    for (int level = 1; rc >= 0 && level <= SRV_ROLLUP_LEVELS; level++) {
        int shift = SRV_ROLLUP_SHIFT * level;
        for (size_t i = 0; rc >= 0 && i < b->n;) {
            const struct srv_rollup_point *p = &b->p[i];
            int64_t blk = p->step >> shift;
            struct mm m = mm_point(p->step, p->isnull, p->value, p->t);
            size_t j = i + 1;
            for (; j < b->n && b->p[j].name_id == p->name_id && b->p[j].step >> shift == blk; j++) {
                struct mm one = mm_point(b->p[j].step, b->p[j].isnull, b->p[j].value, b->p[j].t);
                mm_merge(&m, &one);
            }
            rc = upsert(c, st, run, p->name_id, level, blk, &m, err);
            i = j;
        }
    }
    b->n = 0;
    return rc;
}

/* ---- reads ------------------------------------------------------------------ */

static const char raw_sql[] = "SELECT step, value, t FROM metrics WHERE run_id = ?1 AND "
                              "name_id = ?2 AND step BETWEEN ?3 AND ?4 ORDER BY step";
/* One statement per level: a descent runs the next level's query while
 * this one's is still stepping. */
#define ROLL_SQL(L)                                                                                \
    "SELECT blk, n, lo_step, lo_value, lo_t, hi_step, hi_value, hi_t FROM metric_rollups WHERE "   \
    "run_id = ?1 AND name_id = ?2 AND level = " #L " AND blk BETWEEN ?3 AND ?4 ORDER BY blk"
static const char roll1_sql[] = ROLL_SQL(1);
static const char roll2_sql[] = ROLL_SQL(2);
static const char roll3_sql[] = ROLL_SQL(3);
static const char *const roll_sql[SRV_ROLLUP_LEVELS + 1] = {raw_sql, roll1_sql, roll2_sql,
                                                            roll3_sql};

struct reader {
    struct srv_conn *c;
    int64_t run, name_id;
    json_t *steps, *values, *times;
    struct qc_err *err;
    /* Buckets: max_points / 2 equal parts of [smin, smax]. */
    int64_t smin, smax, buckets;
    __int128 width;
    int64_t bucket; /* the one `cur` summarises */
    bool have;
    struct mm cur;
    int64_t nread, emitted;
};

static void emit_point(struct reader *rd, int64_t s, bool isnull, double v, double t)
{
    json_array_append_new(rd->steps, json_integer(s));
    json_array_append_new(rd->values, isnull ? json_null() : json_real(v));
    json_array_append_new(rd->times, json_real(t));
    rd->emitted++;
}

/* A bucket's minimum and maximum, in step order; one point when they are
 * the same point. */
static void emit_bucket(struct reader *rd)
{
    const struct mm *m = &rd->cur;
    if (m->lo_s <= m->hi_s) {
        emit_point(rd, m->lo_s, m->lo_null, m->lo, m->lo_t);
        if (m->hi_s != m->lo_s)
            emit_point(rd, m->hi_s, m->hi_null, m->hi, m->hi_t);
    } else {
        emit_point(rd, m->hi_s, m->hi_null, m->hi, m->hi_t);
        emit_point(rd, m->lo_s, m->lo_null, m->lo, m->lo_t);
    }
}

static int64_t bucket_of(const struct reader *rd, int64_t s)
{
    /* In 128 bits: steps span all of 0..2^63-1. */
    return (int64_t)(((__int128)s - rd->smin) * rd->buckets / rd->width);
}

/* Points (or blocks of them) arrive in step order, each inside one bucket. */
static void feed(struct reader *rd, int64_t bucket, const struct mm *m)
{
    rd->nread += m->n;
    if (rd->have && bucket == rd->bucket) {
        mm_merge(&rd->cur, m);
        return;
    }
    if (rd->have)
        emit_bucket(rd);
    rd->have = true;
    rd->bucket = bucket;
    rd->cur = *m;
}

/* Feeds every point in steps [a, b] (within [smin, smax]) from `level`:
 * the level's blocks that lie inside [a, b] and inside one bucket whole,
 * the others from the level below (raw points below level 1). */
static int feed_range(struct reader *rd, int level, int64_t a, int64_t b)
{
    sqlite3_stmt *st = srv_stmt(rd->c, roll_sql[level], rd->err);
    if (!st)
        return QC_EIO;
    int shift = SRV_ROLLUP_SHIFT * level, src, rc = QC_OK;
    sqlite3_bind_int64(st, 1, rd->run);
    sqlite3_bind_int64(st, 2, rd->name_id);
    sqlite3_bind_int64(st, 3, a >> shift);
    sqlite3_bind_int64(st, 4, b >> shift);
    while (rc >= 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (level == 0) {
            int64_t s = sqlite3_column_int64(st, 0);
            bool isnull = sqlite3_column_type(st, 1) == SQLITE_NULL;
            struct mm m = mm_point(s, isnull, isnull ? 0 : sqlite3_column_double(st, 1),
                                   sqlite3_column_double(st, 2));
            feed(rd, bucket_of(rd, s), &m);
            continue;
        }
        /* The block's steps; an aligned block ends at INT64_MAX at most. */
        int64_t blk = sqlite3_column_int64(st, 0);
        int64_t bs = (int64_t)((uint64_t)blk << shift);
        int64_t be = bs + (int64_t)(((uint64_t)1 << shift) - 1);
        int64_t fb = bs >= a ? bucket_of(rd, bs) : -1;
        if (bs >= a && be <= b && fb == bucket_of(rd, be)) {
            struct mm m = {.n = sqlite3_column_int64(st, 1),
                           .lo_s = sqlite3_column_int64(st, 2),
                           .lo_null = sqlite3_column_type(st, 3) == SQLITE_NULL,
                           .lo = sqlite3_column_double(st, 3),
                           .lo_t = sqlite3_column_double(st, 4),
                           .hi_s = sqlite3_column_int64(st, 5),
                           .hi_null = sqlite3_column_type(st, 6) == SQLITE_NULL,
                           .hi = sqlite3_column_double(st, 6),
                           .hi_t = sqlite3_column_double(st, 7)};
            feed(rd, fb, &m);
        } else {
            rc = feed_range(rd, level - 1, bs >= a ? bs : a, be <= b ? be : b);
        }
    }
    if (rc >= 0 && src != SQLITE_DONE)
        rc = srv_db_fail(rd->c, rd->err, "read metrics");
    sqlite3_reset(st);
    return rc;
}

int srv_series_read(struct srv_conn *c, int64_t run, int64_t name_id, int64_t since,
                    int64_t max_points, json_t *steps, json_t *values, json_t *times, bool *down,
                    struct qc_err *err)
{
    static const char range_sql[] =
        "SELECT (SELECT min(step) FROM metrics WHERE run_id = ?1 AND name_id = ?2 AND step > ?3), "
        "(SELECT max(step) FROM metrics WHERE run_id = ?1 AND name_id = ?2 AND step > ?3)";
    struct reader rd = {.c = c,
                        .run = run,
                        .name_id = name_id,
                        .steps = steps,
                        .values = values,
                        .times = times,
                        .err = err};
    sqlite3_stmt *st = srv_stmt(c, range_sql, err);
    if (!st)
        return QC_EIO;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, name_id);
    sqlite3_bind_int64(st, 3, since);
    int src = sqlite3_step(st);
    bool any = src == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    rd.smin = any ? sqlite3_column_int64(st, 0) : 0;
    rd.smax = any ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    if (src != SQLITE_ROW)
        return srv_db_fail(c, err, "read metrics");
    if (!any)
        return QC_OK;
    /* Steps are distinct, so a range no wider than max_points holds at
     * most max_points points: all of them. */
    rd.width = (__int128)rd.smax - rd.smin + 1;
    if (max_points == 0 || rd.width <= max_points) {
        if (!(st = srv_stmt(c, raw_sql, err)))
            return QC_EIO;
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_int64(st, 2, name_id);
        sqlite3_bind_int64(st, 3, rd.smin);
        sqlite3_bind_int64(st, 4, rd.smax);
        while ((src = sqlite3_step(st)) == SQLITE_ROW)
            emit_point(&rd, sqlite3_column_int64(st, 0), sqlite3_column_type(st, 1) == SQLITE_NULL,
                       sqlite3_column_double(st, 1), sqlite3_column_double(st, 2));
        sqlite3_reset(st);
        return src == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "read metrics");
    }
    rd.buckets = max_points / 2 > 0 ? max_points / 2 : 1;
    /* The coarsest level whose blocks are no wider than a bucket: at most
     * 64 of its blocks per bucket, and one straddling each bucket edge. */
    __int128 per_bucket = rd.width / rd.buckets;
    int level = 0;
    while (level < SRV_ROLLUP_LEVELS &&
           ((__int128)1 << (SRV_ROLLUP_SHIFT * (level + 1))) <= per_bucket)
        level++;
    int rc = feed_range(&rd, level, rd.smin, rd.smax);
    if (rc < 0)
        return rc;
    if (rd.have)
        emit_bucket(&rd);
    if (rd.emitted < rd.nread)
        *down = true;
    return QC_OK;
}
