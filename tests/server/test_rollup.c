/* Downsampled metric reads served from rollups (server/rollup.h) must give
 * exactly what min/max bucketing of the raw points gives. The reference
 * here is computed in the test from every stored point (a plain GET) for
 * random series, `since` and max_points, edges included; the rollup rows
 * themselves are checked against blocks recomputed from the points (after
 * out-of-order and replayed batches, imports, a run's deletion and the
 * migration of a database written before rollups existed). */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/migrations.h"
#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;
static struct srvt_worker wk;
static struct srvt_lease ls;

static void up(void)
{
    srvt_up_leased(dir, sizeof dir, &srv, &wk, &ls, "m");
}

static void down(void)
{
    srvt_down(&srv, dir);
}

static void dir_only(void)
{
    srvt_dir_make(dir, sizeof dir);
}

static void dir_down(void)
{
    srvt_down(&srv, dir);
}

/* ---- series --------------------------------------------------------------- */

struct pt {
    int64_t step;
    double value;
    bool isnull;
};

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* `n` points of increasing steps, gaps of 1..`gap`, from `first`; values
 * from a few levels (ties), 5% nulls and a null-only stretch. */
static struct pt *series(size_t n, int64_t first, uint64_t gap)
{
    struct pt *p = calloc(n, sizeof *p);
    cr_assert_not_null(p);
    int64_t s = first;
    for (size_t i = 0; i < n; i++) {
        p[i].step = s;
        s += 1 + (int64_t)(rnd() % gap);
        p[i].isnull = rnd() % 20 == 0 || (i >= n / 3 && i < n / 3 + 300);
        p[i].value = (double)(int64_t)(rnd() % 41) - 20 + (rnd() % 4 == 0 ? 0.25 : 0);
        if (rnd() % 500 == 0)
            p[i].value *= 1e6; /* spikes */
    }
    return p;
}

static char *body_of(const struct pt *p, const size_t *idx, size_t n, const char *name, bool with_t)
{
    size_t cap = 64 + n * 120, len = 0;
    char *b = malloc(cap);
    cr_assert_not_null(b);
    len += (size_t)snprintf(b + len, cap - len, "\"points\": [");
    for (size_t k = 0; k < n; k++) {
        const struct pt *q = &p[idx ? idx[k] : k];
        char v[40];
        if (q->isnull)
            snprintf(v, sizeof v, "null");
        else
            snprintf(v, sizeof v, "%.17g", q->value);
        len += (size_t)snprintf(b + len, cap - len,
                                "%s{\"step\": %lld, \"name\": \"%s\", \"value\": %s", k ? "," : "",
                                (long long)q->step, name, v);
        if (with_t) /* a time of its own, so times differ between points */
            len += (size_t)snprintf(b + len, cap - len, ", \"t\": %lld.5",
                                    (long long)(q->step % 100000));
        len += (size_t)snprintf(b + len, cap - len, "}");
    }
    snprintf(b + len, cap - len, "]");
    return b;
}

/* Posts the series to the leased run in batches of `batch` points taken in
 * a shuffled order of batches, and replays a few batches. */
static void post_series(const struct pt *p, size_t n, const char *name, size_t batch)
{
    size_t nb = (n + batch - 1) / batch;
    size_t *order = malloc(nb * sizeof *order);
    for (size_t i = 0; i < nb; i++)
        order[i] = i;
    for (size_t i = nb; i > 1; i--) {
        size_t j = rnd() % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)ls.run);
    for (size_t k = 0; k < nb + nb / 4; k++) {
        size_t b = order[k % nb], lo = b * batch, cnt = lo + batch <= n ? batch : n - lo;
        char *pts = body_of(p + lo, NULL, cnt, name, false);
        size_t blen = strlen(pts) + 8;
        char *body = malloc(blen);
        snprintf(body, blen, "{%s}", pts);
        json_t *j = srvt_call(&srv, wk.token, ls.lease, "POST", path, body, 200);
        cr_assert_eq(srvt_int(j, k < nb ? "duplicates" : "accepted"), 0,
                     "batch %zu: a replay is all duplicates, a first post none", k);
        json_decref(j);
        free(body);
        free(pts);
    }
    free(order);
}

/* ---- the reference ---------------------------------------------------------- */

struct stored {
    size_t n;
    int64_t *step;
    double *value, *t;
    bool *isnull;
};

static void stored_free(struct stored *s)
{
    free(s->step);
    free(s->value);
    free(s->t);
    free(s->isnull);
}

/* Every point of the series as the server stored it (no max_points). */
static struct stored read_all(int64_t run, const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=%s", (long long)run, name);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *ser = json_object_get(json_object_get(j, "series"), name);
    const json_t *st = json_object_get(ser, "step"), *va = json_object_get(ser, "value"),
                 *ti = json_object_get(ser, "time");
    struct stored s = {.n = json_array_size(st)};
    s.step = calloc(s.n + 1, sizeof *s.step);
    s.value = calloc(s.n + 1, sizeof *s.value);
    s.t = calloc(s.n + 1, sizeof *s.t);
    s.isnull = calloc(s.n + 1, sizeof *s.isnull);
    cr_expect(json_is_false(json_object_get(j, "downsampled")));
    for (size_t i = 0; i < s.n; i++) {
        s.step[i] = json_integer_value(json_array_get(st, i));
        s.isnull[i] = json_is_null(json_array_get(va, i));
        s.value[i] = json_number_value(json_array_get(va, i));
        s.t[i] = json_number_value(json_array_get(ti, i));
        if (i)
            cr_assert_gt(s.step[i], s.step[i - 1]);
    }
    json_decref(j);
    return s;
}

/* What docs/api.md promises, point by point: the steps after `since` cut
 * into max_points / 2 equal buckets over [first, last], each giving its
 * smallest and its largest value (earliest on ties; the first point when
 * all are null), in step order. Indices into `s`; *down when points were
 * dropped. */
static size_t reference(const struct stored *s, int64_t since, int64_t maxp, size_t *out,
                        bool *down)
{
    size_t first = 0, n = 0;
    while (first < s->n && s->step[first] <= since)
        first++;
    *down = false;
    if (first == s->n)
        return 0;
    __int128 lo = s->step[first], width = (__int128)s->step[s->n - 1] - lo + 1;
    if (maxp == 0 || width <= maxp) {
        for (size_t i = first; i < s->n; i++)
            out[n++] = i;
        return n;
    }
    int64_t buckets = maxp / 2;
    for (size_t i = first; i < s->n;) {
        int64_t b = (int64_t)((s->step[i] - lo) * buckets / width);
        size_t mn = SIZE_MAX, mx = SIZE_MAX, j = i;
        for (; j < s->n && (int64_t)((s->step[j] - lo) * buckets / width) == b; j++) {
            if (s->isnull[j])
                continue;
            if (mn == SIZE_MAX || s->value[j] < s->value[mn])
                mn = j;
            if (mx == SIZE_MAX || s->value[j] > s->value[mx])
                mx = j;
        }
        if (mn == SIZE_MAX)
            mn = mx = i;
        out[n++] = mn < mx ? mn : mx;
        if (mn != mx)
            out[n++] = mn < mx ? mx : mn;
        i = j;
    }
    *down = n < s->n - first;
    return n;
}

/* One downsampled read against the reference. */
static void check_read(int64_t run, const char *name, const struct stored *s, int64_t since,
                       int64_t maxp)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=%s&since=%lld&max_points=%lld",
             (long long)run, name, (long long)since, (long long)maxp);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    size_t *want = malloc((s->n + 1) * sizeof *want);
    bool down;
    size_t n = reference(s, since, maxp < 2 && maxp ? 2 : maxp, want, &down);
    const json_t *ser = json_object_get(json_object_get(j, "series"), name);
    const json_t *st = json_object_get(ser, "step"), *va = json_object_get(ser, "value"),
                 *ti = json_object_get(ser, "time");
    cr_assert_eq(json_array_size(st), n, "%s since=%lld max_points=%lld: %zu points, want %zu",
                 name, (long long)since, (long long)maxp, json_array_size(st), n);
    for (size_t k = 0; k < n; k++) {
        size_t i = want[k];
        cr_assert_eq(json_integer_value(json_array_get(st, k)), s->step[i],
                     "%s since=%lld max_points=%lld: point %zu is step %lld, want %lld", name,
                     (long long)since, (long long)maxp, k,
                     (long long)json_integer_value(json_array_get(st, k)), (long long)s->step[i]);
        cr_assert_eq(json_is_null(json_array_get(va, k)), s->isnull[i]);
        if (!s->isnull[i])
            cr_assert_eq(json_number_value(json_array_get(va, k)), s->value[i]);
        cr_assert_eq(json_number_value(json_array_get(ti, k)), s->t[i]);
    }
    /* `downsampled` is over every series read; one is read here. */
    cr_assert_eq(json_is_true(json_object_get(j, "downsampled")), down, "%s max_points=%lld", name,
                 (long long)maxp);
    json_decref(j);
    free(want);
}

static void check_reads(int64_t run, const char *name, const struct stored *s, int rounds)
{
    static const int64_t fixed[] = {0, 1, 2, 3, 4, 5, 7, 64, 129, 1000, 4096, 1000000};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_read(run, name, s, -1, fixed[i]);
    for (int r = 0; r < rounds; r++) {
        int64_t since = rnd() % 3 ? -1 : s->step[rnd() % s->n] - (int64_t)(rnd() % 3);
        if (since < -1)
            since = -1;
        int64_t maxp = 2 + (int64_t)(rnd() % 600);
        check_read(run, name, s, since, maxp);
    }
}

/* ---- the rollup rows against blocks recomputed from the points -------------- */

static void check_rollups(const char *db)
{
    sqlite3 *d = NULL;
    cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *pts = NULL, *rows = NULL;
    cr_assert_eq(sqlite3_prepare_v2(d,
                                    "SELECT run_id, name_id, step, value, t FROM metrics ORDER "
                                    "BY run_id, name_id, step",
                                    -1, &pts, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(d,
                                    "SELECT run_id, name_id, blk, n, lo_step, lo_value, lo_t, "
                                    "hi_step, hi_value, hi_t FROM metric_rollups WHERE level = ? "
                                    "ORDER BY run_id, name_id, blk",
                                    -1, &rows, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(d));
    /* Read every point once. */
    size_t n = 0, cap = 1024;
    struct full {
        int64_t run, name, step;
        double v, t;
        bool isnull;
    } *p = malloc(cap * sizeof *p);
    while (sqlite3_step(pts) == SQLITE_ROW) {
        if (n == cap)
            p = realloc(p, (cap *= 2) * sizeof *p);
        p[n++] = (struct full){
            sqlite3_column_int64(pts, 0),  sqlite3_column_int64(pts, 1),
            sqlite3_column_int64(pts, 2),  sqlite3_column_double(pts, 3),
            sqlite3_column_double(pts, 4), sqlite3_column_type(pts, 3) == SQLITE_NULL};
    }
    sqlite3_finalize(pts);
    int64_t total_rows = 0;
    for (int level = 1; level <= 3; level++) {
        int shift = 6 * level;
        sqlite3_reset(rows);
        sqlite3_bind_int(rows, 1, level);
        for (size_t i = 0; i < n;) {
            size_t j = i, mn = SIZE_MAX, mx = SIZE_MAX;
            int64_t blk = p[i].step >> shift;
            for (; j < n && p[j].run == p[i].run && p[j].name == p[i].name &&
                   p[j].step >> shift == blk;
                 j++) {
                if (p[j].isnull)
                    continue;
                if (mn == SIZE_MAX || p[j].v < p[mn].v)
                    mn = j;
                if (mx == SIZE_MAX || p[j].v > p[mx].v)
                    mx = j;
            }
            if (mn == SIZE_MAX)
                mn = mx = i;
            cr_assert_eq(sqlite3_step(rows), SQLITE_ROW, "level %d: no row for run %lld block %lld",
                         level, (long long)p[i].run, (long long)blk);
            cr_assert_eq(sqlite3_column_int64(rows, 0), p[i].run);
            cr_assert_eq(sqlite3_column_int64(rows, 1), p[i].name);
            cr_assert_eq(sqlite3_column_int64(rows, 2), blk, "level %d", level);
            cr_assert_eq(sqlite3_column_int64(rows, 3), (int64_t)(j - i),
                         "level %d block %lld: count", level, (long long)blk);
            cr_assert_eq(sqlite3_column_int64(rows, 4), p[mn].step, "level %d block %lld: min",
                         level, (long long)blk);
            cr_assert_eq(sqlite3_column_type(rows, 5) == SQLITE_NULL, p[mn].isnull);
            cr_assert_eq(sqlite3_column_double(rows, 5), p[mn].isnull ? 0 : p[mn].v);
            cr_assert_eq(sqlite3_column_double(rows, 6), p[mn].t);
            cr_assert_eq(sqlite3_column_int64(rows, 7), p[mx].step, "level %d block %lld: max",
                         level, (long long)blk);
            cr_assert_eq(sqlite3_column_type(rows, 8) == SQLITE_NULL, p[mx].isnull);
            cr_assert_eq(sqlite3_column_double(rows, 8), p[mx].isnull ? 0 : p[mx].v);
            cr_assert_eq(sqlite3_column_double(rows, 9), p[mx].t);
            total_rows++;
            i = j;
        }
        cr_assert_eq(sqlite3_step(rows), SQLITE_DONE, "level %d: a rollup row without points",
                     level);
    }
    cr_assert(n == 0 || total_rows > 0);
    sqlite3_finalize(rows);
    sqlite3_close(d);
    free(p);
}

/* ---- the tests ------------------------------------------------------------- */

TestSuite(rollup, .init = up, .fini = down);

Test(rollup, downsampled_reads_equal_bucketing_of_the_raw_points)
{
    /* Dense steps (level 1), gaps up to 80 (levels 1-2), gaps up to 10^6
     * (level 3), and a series at the top of the step range. */
    static const struct {
        const char *name;
        size_t n;
        int64_t first;
        uint64_t gap;
    } cases[] = {{"dense", 30000, 0, 1},
                 {"sparse", 20000, 7, 80},
                 {"wide", 4000, 100, 1000000},
                 {"top", 3000, INT64_MAX - 3000 * 200, 199}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct pt *p = series(cases[c].n, cases[c].first, cases[c].gap);
        if (cases[c].first > INT64_MAX / 2)
            p[cases[c].n - 1].step = INT64_MAX; /* the last block of the step range */
        post_series(p, cases[c].n, cases[c].name, 2500);
        free(p);
        struct stored s = read_all(ls.run, cases[c].name);
        cr_assert_eq(s.n, cases[c].n);
        check_reads(ls.run, cases[c].name, &s, 40);
        stored_free(&s);
    }
    check_rollups(srv.db);
}

Test(rollup, imports_are_rolled_up_and_deletion_takes_the_rollups)
{
    struct pt *p = series(20000, 0, 3);
    size_t *idx = malloc(20000 * sizeof *idx);
    for (size_t i = 0; i < 20000; i++) /* backwards, with every 7th point twice */
        idx[i] = i % 7 ? 19999 - i : 19999 - i + (i > 0);
    char *pts = body_of(p, idx, 20000, "loss", true);
    size_t blen = strlen(pts) + 512;
    char *body = malloc(blen);
    snprintf(body, blen,
             "{\"key\": \"roll-1\", \"spec\": %s, \"state\": \"succeeded\", \"started\": 1.5, "
             "\"finished\": 99999.5, %s}",
             srvt_spec("imp"), pts);
    json_t *j = srvt_json(&srv, "POST", "/api/v1/runs/import", body, 201);
    int64_t id = srvt_int(j, "run.id");
    json_decref(j);
    free(body);
    free(pts);
    free(idx);
    free(p);

    struct stored s = read_all(id, "loss");
    cr_assert_lt(s.n, 20000, "the repeated points were stored once");
    check_reads(id, "loss", &s, 30);
    stored_free(&s);
    check_rollups(srv.db);

    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    json_decref(srvt_json(&srv, "DELETE", path, NULL, 200));
    check_rollups(srv.db); /* no row of the deleted run is left */
}

/* A database at the schema before rollups, with points written the old
 * way: the migration builds its rollups, and reads agree with the points. */
TestSuite(rollup_migration, .init = dir_only, .fini = dir_down);

Test(rollup_migration, builds_the_rollups_of_existing_series)
{
    int upto = -1;
    for (int i = 0; i < srv_nmigrations; i++)
        if (strstr(srv_migrations[i].file, "metric_rollups"))
            upto = i;
    cr_assert_geq(upto, 0, "no metric_rollups migration");
    char db[SRVT_PATH + 16];
    snprintf(db, sizeof db, "%s/q.db", dir);
    sqlite3 *d = NULL;
    cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
    for (int i = 0; i < upto; i++)
        cr_assert_eq(sqlite3_exec(d, srv_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s",
                     srv_migrations[i].file, sqlite3_errmsg(d));
    char pragma[48];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", upto);
    cr_assert_eq(sqlite3_exec(d,
                              "INSERT INTO runs (id, name, spec, device_kind, state, created, "
                              "queued_at) VALUES (1, 'a', '{}', 'cpu', 'succeeded', 1, 1), "
                              "(2, 'b', '{}', 'cpu', 'succeeded', 1, 1);"
                              "INSERT INTO metric_names (id, name) VALUES (1, 'loss'), (2, 'acc');",
                              NULL, NULL, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(d));
    cr_assert_eq(sqlite3_exec(d, pragma, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *ins = NULL;
    cr_assert_eq(
        sqlite3_prepare_v2(d, "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", -1, &ins, NULL),
        SQLITE_OK);
    sqlite3_exec(d, "BEGIN", NULL, NULL, NULL);
    for (int run = 1; run <= 2; run++)
        for (int name = 1; name <= 2; name++) {
            struct pt *p = series(15000, run * 5, name == 1 ? 1 : 300);
            for (size_t i = 0; i < 15000; i++) {
                sqlite3_bind_int64(ins, 1, run);
                sqlite3_bind_int64(ins, 2, name);
                sqlite3_bind_int64(ins, 3, p[i].step);
                if (p[i].isnull)
                    sqlite3_bind_null(ins, 4);
                else
                    sqlite3_bind_double(ins, 4, p[i].value);
                sqlite3_bind_double(ins, 5, 1000.0 + (double)(rnd() % 1000));
                cr_assert_eq(sqlite3_step(ins), SQLITE_DONE);
                sqlite3_reset(ins);
            }
            free(p);
        }
    sqlite3_exec(d, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    sqlite3_close(d);

    srvt_start(&srv, dir, NULL);
    check_rollups(srv.db);
    for (int run = 1; run <= 2; run++) {
        struct stored s = read_all(run, "loss"), a = read_all(run, "acc");
        cr_assert_eq(s.n, 15000);
        check_reads(run, "loss", &s, 15);
        check_reads(run, "acc", &a, 15);
        stored_free(&s);
        stored_free(&a);
    }
}
