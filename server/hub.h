/* The hub parks connections that wait for something: an SSE stream waiting
 * for the next event, a worker's lease long-poll waiting for a queued run.
 * A waiting connection is suspended in libmicrohttpd (it holds no thread)
 * and resumed when what it waits for happens or its deadline passes, so
 * nothing polls. The hub's own thread runs the deadlines and a periodic
 * tick (lease expiry).
 *
 * Lock order: the hub's mutex, then libmicrohttpd's internal ones; MHD
 * never calls back into us holding its own, so there is no cycle. */
#ifndef SRV_HUB_H
#define SRV_HUB_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum srv_wait_kind { SRV_WAIT_EVENT = 1, SRV_WAIT_QUEUE };

/* Caller-owned (inside the request's state); linked while suspended. */
struct srv_waiter {
    struct MHD_Connection *conn;
    enum srv_wait_kind kind;
    double deadline; /* monotonic seconds */
    int64_t after;   /* EVENT: resume when an event id > after exists */
    uint64_t gen;    /* QUEUE: resume when the queue generation differs */
    bool linked;
    struct srv_waiter *prev, *next;
};

/* Event streams are woken at most once per this many seconds: a burst of
 * metric batches (one event each) costs each stream one database read,
 * not one per batch. The first event after a quiet spell goes at once. */
#define SRV_EVENT_COALESCE_S 0.25

struct srv_hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stopping;
    bool made;            /* mu and cv exist (srv_hub_free destroys them) */
    int64_t last_event;   /* highest committed event id */
    double event_release; /* monotonic: event waiters may not be woken before this */
    uint64_t queue_gen;   /* bumped whenever a run becomes queued */
    struct srv_waiter *head;
    void (*tick)(void *ctx);
    void *tick_ctx;
    double tick_every;
};

/* Starts the hub thread; `tick(ctx)` runs every `tick_every` seconds on it
 * (outside the hub's lock). */
int srv_hub_start(struct srv_hub *h, int64_t last_event, void (*tick)(void *), void *ctx,
                  double tick_every);
/* Resumes every waiter and refuses new ones (they see srv_hub_stopping),
 * then joins the thread. Call before MHD_stop_daemon. The lock stays: the
 * connections resumed here still ask srv_hub_stopping while libmicrohttpd
 * finishes them. */
void srv_hub_stop(struct srv_hub *h);
/* Destroys the lock and condition variable. Call after MHD_stop_daemon,
 * when no connection can reach the hub any more. Idempotent. */
void srv_hub_free(struct srv_hub *h);

/* Suspends `w->conn` until the condition or the deadline, and returns true;
 * returns false without suspending when the condition already holds or the
 * hub is stopping. Call from the connection's own MHD callback. */
bool srv_hub_wait(struct srv_hub *h, struct srv_waiter *w);

/* After a commit: events up to `event_id` exist; `queued` when a run became
 * queued. Resumes the waiters concerned. */
void srv_hub_publish(struct srv_hub *h, int64_t event_id, bool queued);

int64_t srv_hub_last_event(struct srv_hub *h);
uint64_t srv_hub_queue_gen(struct srv_hub *h);
bool srv_hub_stopping(struct srv_hub *h);
double srv_mono(void); /* monotonic seconds */

#endif
