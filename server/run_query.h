/* The SQL of GET /runs, built from its query parameters: fixed fragments,
 * every value bound. A spec-field filter (train.seed=3) is an index probe
 * of run_fields, the first one driving the walk in id order, so a page
 * costs what it returns rather than a json_extract over every spec; state,
 * sweep and worker filters are indexed columns; only metric thresholds on
 * the summary scan, and the caller bounds such a query's time. Apart from
 * the route so that tests and the fuzzer can build queries without HTTP. */
#ifndef SRV_RUN_QUERY_H
#define SRV_RUN_QUERY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"
#include "server/db.h"

#define SRV_RUN_QUERY_FILTERS 32

struct srv_run_query_bind {
    enum { SRV_B_INT, SRV_B_REAL, SRV_B_TEXT } type;
    int64_t i;
    double d;
    char t[160];
};

struct srv_run_query {
    char conds[4096]; /* " AND ..." on runs, in bind order */
    struct srv_run_query_bind binds[SRV_RUN_QUERY_FILTERS * 2 + 8];
    int nbinds;
    struct srv_run_query_bind drive[2]; /* the first spec filter: path, value */
    bool has_drive;
    int nfilters;
    bool states[6]; /* ?state, collected over every occurrence */
    bool any_state;
    bool scans; /* a metric threshold: the summary of every candidate is read */
};

void srv_run_query_init(struct srv_run_query *q);

/* Adds one query parameter of GET /runs: sweep, worker, state,
 * metric.NAME.OP or a spec field's dotted path (limit, cursor, spec,
 * token, filter and order_by are the caller's and ignored here). QC_EINVAL with err->field
 * "?key" on a malformed or unknown one (the code is bad_param). */
int srv_run_query_add(struct srv_run_query *q, const char *key, const char *value,
                      struct qc_err *err);

/* The statement listing the page after `cursor` (limit + 1 rows, so the
 * caller sees whether more follow), columns SRV_RUN_COLS; the caller
 * finalizes it. NULL with err set when it does not prepare. */
sqlite3_stmt *srv_run_query_prepare(struct srv_run_query *q, struct srv_conn *c, int64_t cursor,
                                    int64_t limit, struct qc_err *err);

/* Whether the spec's dotted path names a key the spec parser accepts (a
 * layer name under arith.layers matching its "*"). */
bool srv_spec_path_known(const char *dotted);

/* Indexes run `run_id`'s spec (`spec` is its JSON text) into run_fields,
 * inside the writer's open transaction. */
int srv_run_fields_insert(struct srv_conn *c, int64_t run_id, const char *spec, struct qc_err *err);

#endif
