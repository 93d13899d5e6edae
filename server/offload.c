/* The offload pool (offload.h). */
#include "server/offload.h"

#include <string.h>

#include "server/srv.h"

static void *offload_main(void *arg)
{
    struct srv_offload *o = arg;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        while (!o->head && !o->stopping)
            pthread_cond_wait(&o->cv, &o->mu);
        struct srv_req *r = o->head;
        if (!r) { /* stopping, and nothing left */
            pthread_mutex_unlock(&o->mu);
            return NULL;
        }
        o->head = r->offload_next;
        if (!o->head)
            o->tail = NULL;
        pthread_mutex_unlock(&o->mu);
        /* Offloaded handlers never park their connection themselves. */
        r->offload_rc = r->route->handler(r);
        r->offloaded = true;
        /* r belongs to libmicrohttpd again from here: not touched after. */
        MHD_resume_connection(r->conn);
    }
}

int srv_offload_start(struct srv_offload *o, int n)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->made = true;
    if (n > SRV_OFFLOAD_THREADS_MAX)
        n = SRV_OFFLOAD_THREADS_MAX;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&o->threads[o->nthreads], NULL, offload_main, o) != 0)
            break;
        o->nthreads++;
    }
    o->running = o->nthreads > 0;
    return o->running ? QC_OK : QC_EINTERNAL;
}

bool srv_offload_push(struct srv_offload *o, struct srv_req *r)
{
    if (!o->made)
        return false;
    pthread_mutex_lock(&o->mu);
    if (!o->running || o->stopping) {
        pthread_mutex_unlock(&o->mu);
        return false;
    }
    /* Suspended before any offload thread can see it, so the resume
     * always follows the suspension. */
    MHD_suspend_connection(r->conn);
    r->offload_next = NULL;
    if (o->tail)
        o->tail->offload_next = r;
    else
        o->head = r;
    o->tail = r;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    return true;
}

void srv_offload_stop(struct srv_offload *o)
{
    if (!o->made)
        return;
    pthread_mutex_lock(&o->mu);
    o->stopping = true;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; i < o->nthreads; i++)
        pthread_join(o->threads[i], NULL);
    o->nthreads = 0;
    pthread_mutex_lock(&o->mu);
    o->running = false;
    pthread_mutex_unlock(&o->mu);
}

void srv_offload_free(struct srv_offload *o)
{
    if (!o->made)
        return;
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    o->made = false;
}
