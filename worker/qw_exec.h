/* The run executor: one thread per run that parses the spec, restores the
 * checkpoint it was given, and calls qc_train_run with hooks that journal
 * each metric line's points, read each checkpoint the core writes, and
 * stop when the loop raises the run's stop flag. Everything it learns goes
 * to the loop through the mailbox; its last event is QW_EV_DONE.
 *
 * Ownership: the loop creates the executor and keeps it (and the stop
 * flag) alive until it has received QW_EV_DONE and called qw_exec_join.
 * The journal the thread creates belongs to the loop from the first
 * QW_EV_POINTS (or QW_EV_DONE) on: see qw_exec_journal. */
#ifndef QW_EXEC_H
#define QW_EXEC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"
#include "qw_config.h"
#include "qw_journal.h"
#include "qw_mailbox.h"

struct qw_exec_params {
    int64_t run;
    char *spec_json;       /* the run's expanded spec; taken (freed by the executor) */
    char dir[QW_PATH_MAX]; /* the run's directory: its checkpoint lives there */
    void *ckpt;            /* checkpoint to resume from, or NULL; taken */
    size_t ckpt_len;
    int threads;              /* CPU threads of the training */
    bool gpu;                 /* the run's device is a GPU: the CUDA backend ... */
    int gpu_index;            /* ... on this CUDA device */
    char board[64];           /* an FPGA device: its board preset ("" = the CPU) ... */
    int fpga_index;           /* ... XRT's device index (-1: an emulated board) ... */
    char xclbin[QW_PATH_MAX]; /* ... and the xclbin of a real one */
    int64_t checkpoint_every; /* steps; 0 = epoch ends only */
    char journal_path[QW_PATH_MAX];
    char lease[QW_JOURNAL_TOKEN_MAX], token[QW_JOURNAL_TOKEN_MAX];
    int64_t journal_max_bytes;
    atomic_int *stop;      /* borrowed: nonzero asks the run to stop after its step */
    struct qw_mailbox *mb; /* borrowed */
    void *target;          /* events' target */
};

struct qw_exec;

/* Starts the thread. On failure nothing was started and the taken
 * buffers were freed. */
int qw_exec_start(struct qw_exec **out, struct qw_exec_params *p, struct qc_err *err);
/* The journal the thread created (NULL before its first event, or if it
 * could not create one). Loop thread, after an event of this run. */
struct qw_journal *qw_exec_journal(struct qw_exec *x);
/* Joins the thread (which has posted QW_EV_DONE, so this returns at
 * once) and frees the executor; the journal is not destroyed. */
void qw_exec_join(struct qw_exec *x);

#endif
