/* Hardware cost of runs: pricing at insert from known figures, the
 * background synthesis queue, and its metrics (server/cost.h). */
#include "server/cost.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hw/cost/hw_spec.h"
#include "qcore/spec.h"
#include "server/srv.h"
#include "server/store.h"

#define MEMO_SIZE    4096 /* figures kept in memory, by key (a power of two) */
#define QUEUED_MAX   256  /* MAC configurations waiting at most */
#define JOB_ATTEMPTS 3    /* a failing synthesis is tried this often */
#define BATCH        100  /* runs priced per transaction in the background */
#define THREADS_MAX  16

struct memo_entry {
    char key[65];
    json_t *fig;
};

struct srv_cost {
    struct srv_server *srv;
    struct hw_tool tool;
    json_t *table, *calib;
    int nthreads;
    pthread_t threads[THREADS_MAX];
    pthread_mutex_t mu; /* guards stopping, wake */
    pthread_cond_t cv;
    bool stopping, wake;
    atomic_bool cancel;
    atomic_llong runs, runs_failed, seconds_ms, lookups, memo_hits;
    pthread_mutex_t memo_mu;
    struct memo_entry memo[MEMO_SIZE];
};

/* ---- the figure store: memory, then hw_figures ---------------------------- */

struct store_ctx {
    struct srv_cost *cc;
    struct srv_conn *conn; /* the open writer transaction's, or NULL: this thread's reader */
};

static size_t memo_slot(const char *key)
{
    size_t h = 0;
    for (int i = 0; i < 16; i++)
        h = h * 16 + (size_t)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
    return h & (MEMO_SIZE - 1);
}

static json_t *memo_get(struct srv_cost *cc, const char *key)
{
    json_t *fig = NULL;
    pthread_mutex_lock(&cc->memo_mu);
    struct memo_entry *e = &cc->memo[memo_slot(key)];
    if (e->fig && strcmp(e->key, key) == 0)
        fig = json_incref(e->fig);
    pthread_mutex_unlock(&cc->memo_mu);
    return fig;
}

/* Figures never change for a key, so a slot is simply overwritten. */
static void memo_put(struct srv_cost *cc, const char *key, json_t *fig)
{
    pthread_mutex_lock(&cc->memo_mu);
    struct memo_entry *e = &cc->memo[memo_slot(key)];
    json_decref(e->fig);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->fig = json_incref(fig);
    pthread_mutex_unlock(&cc->memo_mu);
}

static int store_get(void *ctx, const char *key, json_t **out)
{
    static const char sql[] = "SELECT figures FROM hw_figures WHERE key = ?";
    struct store_ctx *sc = ctx;
    struct qc_err err;

    atomic_fetch_add(&sc->cc->lookups, 1);
    if ((*out = memo_get(sc->cc, key))) {
        atomic_fetch_add(&sc->cc->memo_hits, 1);
        return QC_OK;
    }
    struct srv_conn *c = sc->conn ? sc->conn : srv_db_reader(&sc->cc->srv->db);
    sqlite3_stmt *st = c ? srv_stmt(c, sql, &err) : NULL;
    if (!st)
        return QC_EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_reset(st);
    if (!*out)
        return QC_ENOTFOUND;
    memo_put(sc->cc, key, *out);
    return QC_OK;
}

static int store_put(void *ctx, const char *key, const json_t *value)
{
    static const char sql[] = "INSERT OR REPLACE INTO hw_figures (key, figures, seconds, created) "
                              "VALUES (?, ?, ?, ?)";
    struct store_ctx *sc = ctx;
    struct srv_server *s = sc->cc->srv;
    struct qc_err err;
    int rc = QC_EIO;

    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return QC_ENOMEM;
    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c) {
        free(text);
        return err.code;
    }
    sqlite3_stmt *st = srv_stmt(c, sql, &err);
    if (st) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, json_number_value(json_object_get(value, "seconds")));
        sqlite3_bind_double(st, 4, srv_now());
        rc = sqlite3_step(st) == SQLITE_DONE ? QC_OK : srv_db_fail(c, &err, "store figures");
        sqlite3_reset(st);
    }
    rc = srv_tx_end(s, rc, &err);
    free(text);
    if (rc == QC_OK) {
        json_t *copy = json_deep_copy(value);
        if (copy)
            memo_put(sc->cc, key, copy);
        json_decref(copy);
    }
    return rc;
}

static void make_ctx(struct hw_cost_ctx *ctx, struct hw_store *store, struct store_ctx *sc,
                     struct srv_cost *cc, struct srv_conn *conn)
{
    sc->cc = cc;
    sc->conn = conn;
    store->get = store_get;
    store->put = store_put;
    store->ctx = sc;
    memset(ctx, 0, sizeof *ctx);
    ctx->tool = &cc->tool;
    ctx->store = store;
    ctx->table = cc->table;
    ctx->calib = cc->calib;
}

/* ---- pricing a run --------------------------------------------------------- */

static int exec1(struct srv_conn *c, const char *sql, const char *text, double t, int64_t id,
                 struct qc_err *err)
{
    sqlite3_stmt *st = srv_stmt(c, sql, err);
    if (!st)
        return QC_EIO;
    int i = 1;
    if (text)
        sqlite3_bind_text(st, i++, text, -1, SQLITE_TRANSIENT);
    if (t > 0)
        sqlite3_bind_double(st, i++, t);
    if (id > 0)
        sqlite3_bind_int64(st, i++, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? QC_OK : srv_db_fail(c, err, "cost");
}

/* Queues every MAC configuration of `s` that is not fully known yet. */
static int enqueue_missing(struct srv_cost *cc, struct srv_conn *c, const struct qc_spec *s,
                           struct qc_err *err)
{
    static const char count_sql[] = "SELECT count(*) FROM hw_jobs WHERE state = 'queued'";
    static const char add_sql[] =
        "INSERT INTO hw_jobs (mac, state, created) VALUES (?, 'queued', ?) "
        "ON CONFLICT (mac) DO UPDATE SET state = 'queued' "
        "WHERE state = 'done' OR (state = 'failed' AND attempts < 3)";
    static char macs[HW_SPEC_MACS_MAX][QC_MAC_TEXT_MAX];
    static pthread_mutex_t macs_mu = PTHREAD_MUTEX_INITIALIZER;
    struct hw_cost_ctx ctx;
    struct hw_store store;
    struct store_ctx sc;
    struct hw_cost_opts o = {.lookup_only = true};
    bool queued = false;
    int rc = QC_OK;

    make_ctx(&ctx, &store, &sc, cc, c);
    sqlite3_stmt *st = srv_stmt(c, count_sql, err);
    if (!st)
        return QC_EIO;
    int64_t waiting = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    pthread_mutex_lock(&macs_mu); /* one writer at a time anyway: the static list is safe */
    int n = hw_spec_macs(macs, HW_SPEC_MACS_MAX, s);
    for (int i = 0; i < n && rc == QC_OK && waiting < QUEUED_MAX; i++) {
        struct qc_mac m;
        struct qc_err e;
        json_t *cost = NULL;
        if (qc_mac_parse(&m, macs[i], &e))
            continue;
        int r = hw_cost_mac(&cost, &ctx, &m, &o, NULL, &e);
        json_decref(cost);
        if (r != QC_EUNAVAIL || !cc->tool.yosys[0])
            continue; /* known, or never (unsupported, no yosys) */
        rc = exec1(c, add_sql, macs[i], srv_now(), 0, err);
        waiting++;
        queued = true;
    }
    pthread_mutex_unlock(&macs_mu);
    if (queued && cc->nthreads > 0) {
        pthread_mutex_lock(&cc->mu);
        cc->wake = true;
        pthread_cond_broadcast(&cc->cv);
        pthread_mutex_unlock(&cc->mu);
    }
    return rc;
}

/* A group still pending on a configuration whose synthesis failed for
 * good says so, and the run stops waiting. */
static void mark_failed(struct srv_conn *c, json_t *cost)
{
    static const char sql[] =
        "SELECT error FROM hw_jobs WHERE mac = ? AND state = 'failed' AND attempts >= 3";
    struct qc_err err;
    const char *g;
    json_t *e;
    bool failed = false;

    json_object_foreach(json_object_get(cost, "groups"), g, e)
    {
        if (!json_object_get(e, "pending"))
            continue;
        sqlite3_stmt *st = srv_stmt(c, sql, &err);
        if (!st)
            return;
        sqlite3_bind_text(st, 1, json_string_value(json_object_get(e, "mac")), -1,
                          SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) {
            char msg[512];
            snprintf(msg, sizeof msg, "synthesis failed: %s",
                     (const char *)sqlite3_column_text(st, 0));
            json_object_del(e, "pending");
            json_object_set_new(e, "error", json_string(msg));
            failed = true;
        }
        sqlite3_reset(st);
    }
    if (failed)
        json_object_set_new(cost, "status", json_string("failed"));
}

/* Prices one run inside the open transaction; *pending tells whether it
 * still waits for figures. `cost_out` (may be NULL) receives the cost. */
static int price(struct srv_cost *cc, struct srv_conn *c, int64_t run_id, const json_t *spec,
                 bool *pending, json_t **cost_out, struct qc_err *err)
{
    static const char set_sql[] = "UPDATE runs SET cost = ? WHERE id = ?";
    static const char pend_sql[] = "INSERT OR IGNORE INTO hw_pending (run_id) VALUES (?)";
    static const char done_sql[] = "DELETE FROM hw_pending WHERE run_id = ?";
    struct hw_cost_ctx ctx;
    struct hw_store store;
    struct store_ctx sc;
    struct hw_cost_opts o = {.lookup_only = true};
    struct qc_spec *s = malloc(sizeof *s);
    json_t *cost = NULL;
    struct qc_err e;
    int rc = QC_OK;

    *pending = false;
    if (!s)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    if (qc_spec_from_json(s, spec, &e)) { /* a stored spec always parses; leave cost null */
        free(s);
        return QC_OK;
    }
    make_ctx(&ctx, &store, &sc, cc, c);
    if ((rc = hw_cost_spec(&cost, &ctx, s, &o, NULL, err)))
        goto out;
    mark_failed(c, cost);
    /* Unavailable (no synthesis here) waits too: a restart with --cost-jobs
     * or a new cost table may bring the figures. */
    const char *status = json_string_value(json_object_get(cost, "status"));
    *pending = strcmp(status, "pending") == 0 || strcmp(status, "unavailable") == 0;
    json_object_del(cost, "source"); /* where a lookup found it is noise in a run */
    char *text = json_dumps(cost, JSON_COMPACT);
    if (!text) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    rc = exec1(c, set_sql, text, 0, run_id, err);
    free(text);
    if (!rc)
        rc = exec1(c, *pending ? pend_sql : done_sql, NULL, 0, run_id, err);
    if (!rc && *pending)
        rc = enqueue_missing(cc, c, s, err);
    if (!rc && cost_out)
        *cost_out = json_incref(cost);
out:
    json_decref(cost);
    free(s);
    return rc;
}

int srv_cost_attach(struct srv_server *s, struct srv_conn *c, int64_t run_id, const json_t *spec,
                    struct qc_err *err)
{
    bool pending;
    if (!s->cost)
        return QC_OK;
    return price(s->cost, c, run_id, spec, &pending, NULL, err);
}

/* ---- the background --------------------------------------------------------- */

/* Prices the next batch of runs selected by `sql` (ids above the bound
 * ?1, ascending); *after receives the last id. Returns how many were
 * priced, or a negative error. `events`: tell the dashboard. */
static int price_batch(struct srv_cost *cc, const char *sql, int64_t *after, bool events)
{
    struct srv_server *s = cc->srv;
    struct qc_err err;
    int64_t ids[BATCH];
    int n = 0, rc = QC_OK;

    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c) /* busy: the next wake tries again */
        return err.code;
    sqlite3_stmt *st = srv_stmt(c, sql, &err);
    if (!st) {
        srv_tx_end(s, QC_EIO, &err);
        return QC_EIO;
    }
    sqlite3_bind_int64(st, 1, *after);
    sqlite3_bind_int(st, 2, BATCH);
    while (n < BATCH && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    for (int i = 0; i < n && rc == QC_OK; i++) {
        json_t *run = NULL, *cost = NULL;
        bool pending;
        if ((rc = srv_run_load(c, ids[i], true, &run, &err)))
            break;
        rc = price(cc, c, ids[i], json_object_get(run, "spec"), &pending, &cost, &err);
        if (!rc && events && !pending)
            rc = srv_run_event(s, c, ids[i], json_pack("{sO}", "cost", cost), &err);
        json_decref(cost);
        json_decref(run);
    }
    if (n > 0)
        *after = ids[n - 1];
    rc = srv_tx_end(s, rc, &err);
    if (rc)
        fprintf(stderr, "qlab-server: cost: %s\n", err.msg);
    return rc ? rc : n;
}

/* Every run waiting for figures, a batch per transaction. */
static void reprice_pending(struct srv_cost *cc)
{
    static const char sql[] =
        "SELECT run_id FROM hw_pending WHERE run_id > ? ORDER BY run_id LIMIT ?";
    int64_t after = 0;
    while (!atomic_load(&cc->cancel) && price_batch(cc, sql, &after, true) == BATCH)
        ;
}

/* Runs created before costs existed (or while hw/ was missing). */
static void price_unpriced(struct srv_cost *cc)
{
    static const char sql[] =
        "SELECT id FROM runs WHERE cost IS NULL AND id > ? ORDER BY id LIMIT ?";
    int64_t after = 0;
    while (!atomic_load(&cc->cancel) && price_batch(cc, sql, &after, false) == BATCH)
        ;
}

/* Claims the oldest queued job; "" when none. */
static void claim(struct srv_cost *cc, char *mac, size_t n)
{
    static const char pick_sql[] =
        "SELECT mac FROM hw_jobs WHERE state = 'queued' ORDER BY created, mac LIMIT 1";
    static const char run_sql[] =
        "UPDATE hw_jobs SET state = 'running', attempts = attempts + 1 WHERE mac = ?";
    struct srv_server *s = cc->srv;
    struct qc_err err;
    int rc = QC_EIO;

    mac[0] = '\0';
    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c)
        return;
    sqlite3_stmt *st = srv_stmt(c, pick_sql, &err);
    if (st) {
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(mac, n, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        rc = mac[0] ? exec1(c, run_sql, mac, 0, 0, &err) : QC_OK;
    }
    if (srv_tx_end(s, rc, &err))
        mac[0] = '\0';
}

static void finish(struct srv_cost *cc, const char *mac, int rc, const char *why)
{
    static const char done_sql[] =
        "UPDATE hw_jobs SET state = ?, error = ?, finished = ? WHERE mac = ?";
    struct srv_server *s = cc->srv;
    struct qc_err err;
    const char *state = rc == QC_OK         ? "done"
                        : rc == QC_EUNAVAIL ? "queued" /* stopped: again after a restart */
                                            : "failed";
    struct srv_conn *c = srv_tx_begin(s, &err);
    if (!c) { /* the job stays running: the next start queues it again */
        fprintf(stderr, "qlab-server: cost: %s\n", err.msg);
        return;
    }
    sqlite3_stmt *st = srv_stmt(c, done_sql, &err);
    int r = QC_EIO;
    if (st) {
        sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
        if (rc)
            sqlite3_bind_text(st, 2, why, -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(st, 3, srv_now());
        sqlite3_bind_text(st, 4, mac, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(st) == SQLITE_DONE ? QC_OK : srv_db_fail(c, &err, "finish job");
        sqlite3_reset(st);
    }
    srv_tx_end(s, r, &err);
}

static void synthesize(struct srv_cost *cc, const char *mac)
{
    struct hw_cost_ctx ctx;
    struct hw_store store;
    struct store_ctx sc;
    struct hw_cost_opts o = {.cancel = &cc->cancel};
    struct hw_cost_stats st = {0};
    struct qc_mac m;
    struct qc_err err;
    json_t *cost = NULL;
    int rc;

    make_ctx(&ctx, &store, &sc, cc, NULL);
    rc = qc_mac_parse(&m, mac, &err);
    if (!rc)
        rc = hw_cost_mac(&cost, &ctx, &m, &o, &st, &err);
    json_decref(cost);
    atomic_fetch_add(&cc->runs, st.synthesized);
    atomic_fetch_add(&cc->seconds_ms, (long long)(st.seconds * 1000));
    if (rc && rc != QC_EUNAVAIL) {
        atomic_fetch_add(&cc->runs_failed, 1);
        fprintf(stderr, "qlab-server: cost: %s: %s\n", mac, err.msg);
    }
    finish(cc, mac, rc, err.msg);
}

static void *worker(void *arg)
{
    struct srv_cost *cc = arg;
    char mac[QC_MAC_TEXT_MAX];

    for (;;) {
        pthread_mutex_lock(&cc->mu);
        while (!cc->stopping && !cc->wake)
            pthread_cond_wait(&cc->cv, &cc->mu);
        const bool stop = cc->stopping;
        pthread_mutex_unlock(&cc->mu);
        if (stop)
            break;
        claim(cc, mac, sizeof mac);
        if (!mac[0]) {
            pthread_mutex_lock(&cc->mu);
            cc->wake = false; /* nothing queued: sleep until something is */
            pthread_mutex_unlock(&cc->mu);
            continue;
        }
        synthesize(cc, mac);
        reprice_pending(cc);
    }
    return NULL;
}

/* The first thread prices old runs, then works the queue. */
static void *first_worker(void *arg)
{
    struct srv_cost *cc = arg;
    price_unpriced(cc);
    reprice_pending(cc);
    return cc->nthreads > 0 ? worker(arg) : NULL;
}

int srv_cost_start(struct srv_server *s, struct qc_err *err)
{
    static const char requeue_sql[] = "UPDATE hw_jobs SET state = 'queued' WHERE state = 'running'";
    char path[PATH_MAX + 32];
    struct qc_err e;
    int rc;

    s->cost = NULL;
    struct srv_cost *cc = calloc(1, sizeof *cc);
    if (!cc)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    cc->srv = s;
    if (hw_tool_init(&cc->tool, s->cfg.hw_dir[0] ? s->cfg.hw_dir : NULL, &e)) {
        fprintf(stderr, "qlab-server: no hardware cost: %s\n", e.msg);
        free(cc);
        return QC_OK;
    }
    snprintf(path, sizeof path, "%s/cost-table.json", cc->tool.dir);
    if ((rc = hw_table_load(&cc->table, path, err)) ||
        (rc = hw_calib_load(&cc->calib, &cc->tool, err))) {
        hw_tool_free(&cc->tool);
        json_decref(cc->table);
        free(cc);
        return rc;
    }
    if (!cc->tool.yosys[0])
        fprintf(stderr, "qlab-server: yosys not found: costs come from %s only\n", path);
    if (s->cfg.cost_jobs == 0)
        cc->tool.yosys[0] = '\0'; /* no synthesis here: what is not known is unavailable */
    pthread_mutex_init(&cc->mu, NULL);
    pthread_cond_init(&cc->cv, NULL);
    pthread_mutex_init(&cc->memo_mu, NULL);
    cc->wake = true; /* jobs left from the last run */
    cc->nthreads = cc->tool.yosys[0] ? s->cfg.cost_jobs : 0;
    s->cost = cc;
    struct srv_conn *c = srv_tx_begin(s, err);
    if (!c) {
        rc = err->code;
        goto fail;
    }
    rc = exec1(c, requeue_sql, NULL, 0, 0, err);
    if ((rc = srv_tx_end(s, rc, err)))
        goto fail;
    /* One thread at least: it prices the runs that have no cost yet. */
    const int n = cc->nthreads > 0 ? cc->nthreads : 1;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&cc->threads[i], NULL, i == 0 ? first_worker : worker, cc)) {
            rc = qc_err_set(err, QC_EINTERNAL, "", "cannot start the cost threads");
            cc->nthreads = i;
            goto fail;
        }
    }
    cc->nthreads = n;
    return QC_OK;
fail:
    srv_cost_stop(s);
    return rc;
}

void srv_cost_stop(struct srv_server *s)
{
    struct srv_cost *cc = s->cost;
    if (!cc)
        return;
    atomic_store(&cc->cancel, true);
    pthread_mutex_lock(&cc->mu);
    cc->stopping = true;
    pthread_cond_broadcast(&cc->cv);
    pthread_mutex_unlock(&cc->mu);
    for (int i = 0; i < cc->nthreads; i++)
        pthread_join(cc->threads[i], NULL);
    for (int i = 0; i < MEMO_SIZE; i++)
        json_decref(cc->memo[i].fig);
    json_decref(cc->table);
    json_decref(cc->calib);
    hw_tool_free(&cc->tool);
    pthread_mutex_destroy(&cc->mu);
    pthread_cond_destroy(&cc->cv);
    pthread_mutex_destroy(&cc->memo_mu);
    free(cc);
    s->cost = NULL;
}

/* ---- metrics ------------------------------------------------------------------ */

char *srv_cost_prometheus(struct srv_server *s)
{
    static const char jobs_sql[] = "SELECT state, count(*) FROM hw_jobs GROUP BY state";
    static const char pend_sql[] = "SELECT count(*) FROM hw_pending";
    static const char *const states[] = {"queued", "running", "done", "failed"};
    struct srv_cost *cc = s->cost;
    struct qc_err err;
    long long jobs[4] = {0}, pending = 0;
    char *out = NULL;
    size_t len = 0;

    if (!cc)
        return NULL;
    struct srv_conn *c = srv_db_reader(&s->db);
    sqlite3_stmt *st = c ? srv_stmt(c, jobs_sql, &err) : NULL;
    if (st) {
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int i = 0; i < 4; i++)
                if (strcmp((const char *)sqlite3_column_text(st, 0), states[i]) == 0)
                    jobs[i] = sqlite3_column_int64(st, 1);
        sqlite3_reset(st);
    }
    if (c && (st = srv_stmt(c, pend_sql, &err))) {
        if (sqlite3_step(st) == SQLITE_ROW)
            pending = sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "# HELP qlab_cost_jobs MAC configurations queued for synthesis, by state.\n"
               "# TYPE qlab_cost_jobs gauge\n");
    for (int i = 0; i < 4; i++)
        fprintf(f, "qlab_cost_jobs{state=\"%s\"} %lld\n", states[i], jobs[i]);
    fprintf(f,
            "# HELP qlab_cost_pending_runs Runs whose cost waits for synthesis.\n"
            "# TYPE qlab_cost_pending_runs gauge\nqlab_cost_pending_runs %lld\n"
            "# HELP qlab_cost_synth_runs_total Yosys runs made.\n"
            "# TYPE qlab_cost_synth_runs_total counter\nqlab_cost_synth_runs_total %lld\n"
            "# HELP qlab_cost_synth_seconds_total Wall time of those runs.\n"
            "# TYPE qlab_cost_synth_seconds_total counter\n"
            "qlab_cost_synth_seconds_total %.3f\n"
            "# HELP qlab_cost_synth_failures_total Synthesis jobs that failed.\n"
            "# TYPE qlab_cost_synth_failures_total counter\n"
            "qlab_cost_synth_failures_total %lld\n"
            "# HELP qlab_cost_lookups_total Figure lookups (memory, then the database).\n"
            "# TYPE qlab_cost_lookups_total counter\nqlab_cost_lookups_total %lld\n"
            "# HELP qlab_cost_lookup_memory_hits_total Lookups answered from memory.\n"
            "# TYPE qlab_cost_lookup_memory_hits_total counter\n"
            "qlab_cost_lookup_memory_hits_total %lld\n",
            pending, (long long)atomic_load(&cc->runs), (double)atomic_load(&cc->seconds_ms) / 1000,
            (long long)atomic_load(&cc->runs_failed), (long long)atomic_load(&cc->lookups),
            (long long)atomic_load(&cc->memo_hits));
    if (fclose(f)) {
        free(out);
        return NULL;
    }
    return out;
}
