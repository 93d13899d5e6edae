/* Optimizers over the flat master weights, learning-rate schedules, and the
 * loss scaler. Master weights are fp32 unless a master format is set; the
 * weight update and the momentum buffers may be quantized too. */
#ifndef QCORE_OPTIM_H
#define QCORE_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/backend.h"
#include "qcore/format.h"

enum qc_optim_kind { QC_OPTIM_SGD = 0, QC_OPTIM_ADAM = 1 };
enum qc_sched_kind { QC_SCHED_CONSTANT = 0, QC_SCHED_STEP = 1, QC_SCHED_COSINE = 2 };

struct qc_optim_cfg {
    enum qc_optim_kind kind;
    double lr, momentum, weight_decay, beta1, beta2, eps;
    bool nesterov;
    enum qc_sched_kind sched;
    int64_t warmup_steps; /* linear warm-up from lr/warmup to lr */
    int64_t step_size;    /* step schedule: multiply by gamma every step_size steps */
    double gamma;
    int64_t total_steps; /* cosine: decays to 0 at total_steps */
    bool quant_master, quant_update, quant_momentum;
    struct qc_format master, update, moment; /* used where quant_* is set */
};

/* Optimizer state: owned by the caller's struct, buffers freed by
 * qc_optim_free. m and v hold n floats each (v only for Adam), in the
 * memory of the backend the steps run on (the net's). */
struct qc_optim {
    struct qc_optim_cfg cfg;
    int64_t n;
    int64_t t; /* steps taken */
    float *m, *v;
    struct qc_backend *be;            /* borrowed; NULL: the host */
    const struct qc_backend_mem *mem; /* where m and v live */
};

/* Steps run on `be` (NULL: the host), over parameters and gradients in its
 * memory (qc_backend_mem: a net built on `be` has them there). QC_ENOMEM. */
int qc_optim_init(struct qc_optim *o, const struct qc_optim_cfg *cfg, int64_t n,
                  struct qc_backend *be, struct qc_err *err);
void qc_optim_free(struct qc_optim *o);
/* The learning rate at 0-based step `step`. Pure. */
double qc_optim_lr(const struct qc_optim_cfg *cfg, int64_t step);
/* One step: params -= update(grads * grad_mul), at learning rate lr.
 * QC_OK, or the backend's error (nothing is counted as a step then). */
int qc_optim_step(struct qc_optim *o, float *params, const float *grads, float grad_mul, double lr,
                  struct qc_err *err);

enum qc_loss_scale_kind { QC_LOSS_SCALE_NONE = 0, QC_LOSS_SCALE_STATIC, QC_LOSS_SCALE_DYNAMIC };

struct qc_loss_scaler {
    enum qc_loss_scale_kind kind;
    double scale;            /* current scale (1 for none) */
    int64_t growth_interval; /* dynamic: grow after this many good steps */
    double growth, backoff, min, max;
    int64_t good_steps; /* since the last overflow or growth */
    int64_t skipped;    /* steps skipped for overflow, in total */
};

/* After a backward pass: `overflow` says whether any gradient was not
 * finite. Returns true when the step must be skipped; adjusts the scale. */
bool qc_loss_scaler_update(struct qc_loss_scaler *s, bool overflow);

/* True if every one of the n values is finite. */
bool qc_all_finite(const float *x, int64_t n);

#endif
