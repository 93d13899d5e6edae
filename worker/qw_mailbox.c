/* Thread-to-loop event queue (see qw_mailbox.h). */
#include "qw_mailbox.h"

#include <stdlib.h>

static void on_async(uv_async_t *a)
{
    struct qw_mailbox *mb = a->data;

    /* uv_async_send coalesces wake-ups, so take everything queued. */
    pthread_mutex_lock(&mb->mu);
    struct qw_event *ev = mb->head;
    mb->head = NULL;
    mb->tail = &mb->head;
    pthread_mutex_unlock(&mb->mu);
    while (ev) {
        struct qw_event *next = ev->next;
        ev->next = NULL;
        mb->deliver(mb->ctx, ev);
        ev = next;
    }
}

int qw_mailbox_init(struct qw_mailbox *mb, uv_loop_t *loop, qw_deliver_fn deliver, void *ctx,
                    struct qc_err *err)
{
    mb->async = calloc(1, sizeof *mb->async);
    if (!mb->async)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    pthread_mutex_init(&mb->mu, NULL);
    mb->head = NULL;
    mb->tail = &mb->head;
    mb->deliver = deliver;
    mb->ctx = ctx;
    uv_async_init(loop, mb->async, on_async);
    mb->async->data = mb;
    return 0;
}

static void free_async(uv_handle_t *h)
{
    free(h);
}

void qw_mailbox_close(struct qw_mailbox *mb)
{
    if (!mb->async)
        return;
    uv_close((uv_handle_t *)mb->async, free_async);
    mb->async = NULL;
    while (mb->head) {
        struct qw_event *ev = mb->head;
        mb->head = ev->next;
        qw_event_free(ev);
    }
    mb->tail = &mb->head;
    pthread_mutex_destroy(&mb->mu);
}

struct qw_event *qw_event_create(enum qw_event_type type, void *target)
{
    struct qw_event *ev = calloc(1, sizeof *ev);
    if (ev) {
        ev->type = type;
        ev->target = target;
    }
    return ev;
}

void qw_event_free(struct qw_event *ev)
{
    if (!ev)
        return;
    free(ev->points);
    free(ev->data);
    free(ev);
}

void qw_mailbox_post(struct qw_mailbox *mb, struct qw_event *ev)
{
    pthread_mutex_lock(&mb->mu);
    *mb->tail = ev;
    mb->tail = &ev->next;
    pthread_mutex_unlock(&mb->mu);
    uv_async_send(mb->async);
}
