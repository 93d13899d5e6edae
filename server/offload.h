/* Handlers that may run long (a metric batch: parse, wait for the writer,
 * insert and commit) run on a pool of their own instead of on the
 * libmicrohttpd thread that read them. libmicrohttpd's pool gives each
 * connection to one thread for its life, so a run-list read whose
 * connection shared a thread with an ingesting worker's waited for that
 * worker's batch; now the connection is suspended while an offload thread
 * runs the handler, and resumed to send the answer.
 *
 * Lock order: the pool's mutex, then libmicrohttpd's (as the hub's). */
#ifndef SRV_OFFLOAD_H
#define SRV_OFFLOAD_H

#include <pthread.h>
#include <stdbool.h>

struct srv_req;

#define SRV_OFFLOAD_THREADS_MAX 16

struct srv_offload {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t threads[SRV_OFFLOAD_THREADS_MAX];
    int nthreads;
    bool running, stopping, made;
    struct srv_req *head, *tail; /* queued, linked through offload_next */
};

/* Starts `n` threads (1..SRV_OFFLOAD_THREADS_MAX). QC_EINTERNAL when no
 * thread starts. */
int srv_offload_start(struct srv_offload *o, int n);
/* Suspends r's connection and queues r; an offload thread runs its
 * handler, sets r->offload_rc and r->offloaded, and resumes the connection.
 * Returns false (nothing done) when the pool is not running: the caller
 * runs the handler itself. Call from the connection's MHD callback. */
bool srv_offload_push(struct srv_offload *o, struct srv_req *r);
/* Runs what is queued, then joins the threads; later pushes return false.
 * Call before MHD_stop_daemon (no connection may stay suspended).
 * Idempotent; a pool never started is a no-op. */
void srv_offload_stop(struct srv_offload *o);
/* Destroys the lock: after MHD_stop_daemon, when no callback can push.
 * Idempotent. */
void srv_offload_free(struct srv_offload *o);

#endif
