/* Hardware cost in every run (docs/cost.md): each run record carries the
 * cost of its GEMM groups' MAC configurations (libqhw's hw_cost_spec),
 * computed when the run is inserted from figures already known (the
 * hw_figures table, the committed hw/cost-table.json). What is not known
 * yet is queued (hw_jobs) and synthesized by background threads, at most
 * --cost-jobs Yosys processes at a time; the run shows "pending" meanwhile
 * and is updated (with a run event) when its figures arrive. The queue and
 * the pending runs live in SQLite, so a restart picks them up. Nothing in
 * a request waits for synthesis. */
#ifndef SRV_COST_H
#define SRV_COST_H

#include <jansson.h>
#include <stdint.h>

#include "server/db.h"

struct srv_server;

/* Starts the cost threads. Without hw/ (QLAB_HW_DIR, --hw-dir, or beside
 * the binary) costs stay null and this only says so on stderr. */
int srv_cost_start(struct srv_server *s, struct qc_err *err);
/* Stops the threads, killing a running Yosys; queued jobs stay queued. */
void srv_cost_stop(struct srv_server *s);

/* Prices run `run_id` (its canonical `spec`, borrowed) inside the open
 * writer transaction `c`: sets runs.cost, queues what is missing. Never
 * fails the insert for a cost reason: errors only from the database. */
int srv_cost_attach(struct srv_server *s, struct srv_conn *c, int64_t run_id, const json_t *spec,
                    struct qc_err *err);

/* The Prometheus lines of the synthesis work (malloc'd text, or NULL). */
char *srv_cost_prometheus(struct srv_server *s);

#endif
