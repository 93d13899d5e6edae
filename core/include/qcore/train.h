/* The training loop: a model trained on a dataset with every MAC emulated,
 * reporting metrics as JSON lines, checkpointing, and resuming exactly.
 *
 * A run is a pure function of its configuration (seed included): batches,
 * augmentation, initial weights and stochastic rounding all draw from
 * counter-based generators, so metrics and weights are bit-identical for
 * any thread count, and a run resumed from a checkpoint continues as if it
 * had never stopped. (Only the throughput field, images_per_s, varies.) */
#ifndef QCORE_TRAIN_H
#define QCORE_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/checkpoint.h"
#include "qcore/data.h"
#include "qcore/model.h"
#include "qcore/optim.h"

#define QC_TRAIN_MAX_OVERRIDES 64
#define QC_TRAIN_PATH_MAX      1024

struct qc_layer_override {
    char layer[QC_NN_NAME_MAX];
    struct qc_nn_arith arith;
};

struct qc_train_cfg {
    struct qc_model_desc model;
    char dataset[64];                 /* registry name, e.g. "fashion-mnist" */
    char data_dir[QC_TRAIN_PATH_MAX]; /* "" = the dataset's default */
    int64_t train_limit, val_limit;   /* 0 = all */
    bool augment;
    int64_t epochs, batch;
    uint64_t seed;
    int64_t log_interval;      /* steps between "step" metric lines */
    struct qc_optim_cfg optim; /* total_steps is filled in by the trainer */
    int64_t warmup_epochs;     /* added to optim.warmup_steps, in epochs */
    int64_t step_size_epochs;  /* step schedule: overrides optim.step_size when > 0 */
    struct qc_nn_arith arith;  /* every layer's arithmetic ... */
    struct qc_layer_override overrides[QC_TRAIN_MAX_OVERRIDES]; /* ... except these */
    int noverrides;
    struct qc_loss_scaler loss;     /* initial scaler */
    struct qc_scale_cfg scaling;    /* tensor/block scale policy (scale.h); none by default */
    int threads;                    /* CPU threads, 0 = all */
    char backend[16];               /* where the GEMMs run: "cpu" (the default), "cuda" or "fpga" */
    int device;                     /* the accelerator's index (qc_backend_opts.device) */
    char board[64];                 /* fpga: the board preset (its timing goes in the metrics) */
    char xclbin[QC_TRAIN_PATH_MAX]; /* fpga: a real board's xclbin ("" = an emulated board) */
    bool board_dry_run;   /* fpga: time GEMMs without computing them (qc_backend_opts.dry_run) */
    uint64_t fingerprint; /* identifies the experiment in checkpoints */
};

/* Fills a configuration with the defaults of docs/spec.md (fp32 arithmetic,
 * SGD 0.05 momentum 0.9, batch 128, 1 epoch, LeNet-5 on Fashion-MNIST). */
void qc_train_cfg_init(struct qc_train_cfg *cfg);

/* How a run talks to its host (the CLI or a worker). Any callback may be
 * NULL. A nonzero return from `metric` or a true `should_stop` stops the
 * run after the current step with QC_ECONFLICT ("stopped"). */
struct qc_train_hooks {
    void *ctx;
    int (*metric)(void *ctx, const char *json_line);
    void (*progress)(void *ctx, const char *text); /* human-readable, for stderr */
    void (*checkpointed)(void *ctx, const char *path, int64_t step);
    bool (*should_stop)(void *ctx);
};

struct qc_train_opts {
    char checkpoint_dir[QC_TRAIN_PATH_MAX]; /* "" = no checkpoints */
    int64_t checkpoint_every; /* steps, rounded up to a log interval; 0 = epoch ends only */
    bool resume;              /* continue from checkpoint_dir's checkpoint if present */
    int64_t max_steps;        /* stop after this many steps in total (0 = no limit) */
};

/* Runs the whole training. Returns QC_OK when all epochs completed,
 * QC_ECONFLICT when stopped (hooks or max_steps; a checkpoint was written
 * when a directory was given). When `net_out` is non-NULL it receives the
 * net in its final state on every return, and the caller owns it
 * (qc_net_free; a net whose build failed frees as a no-op). */
int qc_train_run(const struct qc_train_cfg *cfg, const struct qc_train_opts *opts,
                 const struct qc_train_hooks *hooks, struct qc_net *net_out, struct qc_err *err);

struct qc_spec;
/* The configuration a spec describes. `canonical` (len bytes, the spec's
 * canonical JSON text) gives the fingerprint. QC_EUNSUPP, naming the field,
 * for what this build cannot run: a scale policy on a format whose
 * multiplier reading leaves fp32's range. Device kind gpu selects the
 * "cuda" backend (device 0; a worker sets the index): whether this build
 * and machine have one is known when the run starts. Device kind fpga
 * selects the "fpga" backend on the spec's board (an emulated board; a
 * worker names the board it leased the run for). */
int qc_train_cfg_from_spec(struct qc_train_cfg *cfg, const struct qc_spec *s, const char *canonical,
                           size_t len, struct qc_err *err);

/* The checkpoint file inside a checkpoint directory. */
void qc_train_checkpoint_path(char *out, size_t len, const char *dir);

#endif
