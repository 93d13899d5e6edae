/* Suspended connections and the thread that times them out. */
#include "server/hub.h"

#include <errno.h>
#include <math.h>
#include <time.h>

double srv_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void unlink_waiter(struct srv_hub *h, struct srv_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        h->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

static bool event_pending(const struct srv_hub *h, const struct srv_waiter *w)
{
    return w->kind == SRV_WAIT_EVENT && h->last_event > w->after;
}

static bool ready(const struct srv_hub *h, const struct srv_waiter *w, double now)
{
    if (h->stopping || now >= w->deadline)
        return true;
    if (w->kind == SRV_WAIT_EVENT)
        return event_pending(h, w) && now >= h->event_release;
    return h->queue_gen != w->gen;
}

/* With the lock held: resumes every ready waiter. Waking event streams
 * opens the next coalescing window. */
static void resume_ready(struct srv_hub *h, double now)
{
    bool woke_events = false;
    for (struct srv_waiter *w = h->head, *next; w; w = next) {
        next = w->next;
        if (ready(h, w, now)) {
            woke_events = woke_events || event_pending(h, w);
            unlink_waiter(h, w);
            MHD_resume_connection(w->conn);
        }
    }
    if (woke_events)
        h->event_release = now + SRV_EVENT_COALESCE_S;
}

static void *hub_main(void *arg)
{
    struct srv_hub *h = arg;
    double next_tick = srv_mono() + h->tick_every;

    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        double wake = next_tick;
        for (struct srv_waiter *w = h->head; w; w = w->next)
            wake =
                fmin(wake, event_pending(h, w) ? fmin(w->deadline, h->event_release) : w->deadline);
        /* The condition variable runs on CLOCK_MONOTONIC (see start). */
        struct timespec ts;
        double whole = floor(wake);
        ts.tv_sec = (time_t)whole;
        ts.tv_nsec = (long)((wake - whole) * 1e9);
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        double now = srv_mono();
        resume_ready(h, now);
        if (now >= next_tick && !h->stopping) {
            next_tick = now + h->tick_every;
            pthread_mutex_unlock(&h->mu);
            if (h->tick)
                h->tick(h->tick_ctx);
            pthread_mutex_lock(&h->mu);
        }
    }
    resume_ready(h, srv_mono());
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int srv_hub_start(struct srv_hub *h, int64_t last_event, void (*tick)(void *), void *ctx,
                  double tick_every)
{
    pthread_condattr_t ca;
    h->head = NULL;
    h->stopping = false;
    h->last_event = last_event;
    h->event_release = 0;
    h->queue_gen = 1;
    h->tick = tick;
    h->tick_ctx = ctx;
    h->tick_every = tick_every;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->made = true;
    if (pthread_create(&h->thread, NULL, hub_main, h) != 0)
        return -1;
    h->running = true;
    return 0;
}

void srv_hub_stop(struct srv_hub *h)
{
    if (!h->running)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    resume_ready(h, srv_mono());
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    h->running = false;
}

void srv_hub_free(struct srv_hub *h)
{
    srv_hub_stop(h);
    if (!h->made)
        return;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    h->made = false;
}

bool srv_hub_wait(struct srv_hub *h, struct srv_waiter *w)
{
    pthread_mutex_lock(&h->mu);
    if (ready(h, w, srv_mono())) {
        pthread_mutex_unlock(&h->mu);
        return false;
    }
    w->prev = NULL;
    w->next = h->head;
    if (h->head)
        h->head->prev = w;
    h->head = w;
    w->linked = true;
    MHD_suspend_connection(w->conn);
    pthread_cond_signal(&h->cv); /* its deadline may be the nearest */
    pthread_mutex_unlock(&h->mu);
    return true;
}

void srv_hub_publish(struct srv_hub *h, int64_t event_id, bool queued)
{
    pthread_mutex_lock(&h->mu);
    if (event_id > h->last_event)
        h->last_event = event_id;
    if (queued)
        h->queue_gen++;
    resume_ready(h, srv_mono());
    /* Streams held back by the coalescing window: the hub thread wakes
     * them when it closes. */
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

int64_t srv_hub_last_event(struct srv_hub *h)
{
    pthread_mutex_lock(&h->mu);
    int64_t v = h->last_event;
    pthread_mutex_unlock(&h->mu);
    return v;
}

uint64_t srv_hub_queue_gen(struct srv_hub *h)
{
    pthread_mutex_lock(&h->mu);
    uint64_t v = h->queue_gen;
    pthread_mutex_unlock(&h->mu);
    return v;
}

bool srv_hub_stopping(struct srv_hub *h)
{
    pthread_mutex_lock(&h->mu);
    bool v = h->stopping;
    pthread_mutex_unlock(&h->mu);
    return v;
}
