/* The one way training threads talk to the event loop: a mutex-protected
 * FIFO of events plus a uv_async_t that wakes the loop, which then drains
 * the queue and hands each event to a delivery callback on the loop thread.
 *
 * Ownership: an event belongs to the mailbox from qw_mailbox_post until it
 * is delivered, then to the delivery callback (which frees it with
 * qw_event_free). qw_mailbox_post may be called from any thread; the rest
 * only on the loop thread. */
#ifndef QW_MAILBOX_H
#define QW_MAILBOX_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "qcore/error.h"
#include "qw_metrics.h"

enum qw_event_type {
    QW_EV_POINTS,     /* points: journaled (synced), ready to send */
    QW_EV_CHECKPOINT, /* a checkpoint file's bytes, to upload */
    QW_EV_DONE,       /* the training thread is about to exit; last event of a run */
};

struct qw_event {
    struct qw_event *next;
    enum qw_event_type type;
    void *target;            /* the loop-side owner of the thread (its job) */
    struct qw_point *points; /* POINTS: malloc'ed, n of them */
    int n;
    void *data; /* CHECKPOINT: malloc'ed file bytes */
    size_t len;
    int64_t step;      /* POINTS: the line's step; CHECKPOINT: its step */
    uint32_t crc;      /* CHECKPOINT: CRC-32 of data */
    int rc;            /* DONE: qc_train_run's result (QC_OK, QC_ECONFLICT, ...) */
    int local_failure; /* DONE: the worker itself failed (journal, disk), not the run */
    char msg[512];     /* DONE: error text */
};

typedef void (*qw_deliver_fn)(void *ctx, struct qw_event *ev);

struct qw_mailbox {
    uv_async_t *async;
    pthread_mutex_t mu;
    struct qw_event *head, **tail;
    qw_deliver_fn deliver;
    void *ctx;
};

int qw_mailbox_init(struct qw_mailbox *mb, uv_loop_t *loop, qw_deliver_fn deliver, void *ctx,
                    struct qc_err *err);
/* Closes the async handle and frees undelivered events. Call once no
 * thread can post any more. */
void qw_mailbox_close(struct qw_mailbox *mb);

struct qw_event *qw_event_create(enum qw_event_type type, void *target);
void qw_event_free(struct qw_event *ev);
/* Any thread. Takes `ev`. */
void qw_mailbox_post(struct qw_mailbox *mb, struct qw_event *ev);

#endif
