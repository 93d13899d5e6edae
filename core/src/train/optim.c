/* SGD (momentum, Nesterov, weight decay) and Adam on flat fp32 arrays,
 * with the learning-rate schedules. A step is one backend operation
 * (backend/ops_hd.h has its arithmetic), so it runs where the net's tensors
 * live. Quantized masters, updates and moments round with rne through the
 * scalar engine: one rounding each, as the update hardware of the studies
 * does. Each parameter's step depends on that parameter alone, so a step is
 * bit-reproducible on any backend. */
#include "qcore/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ops.h"

int qc_optim_init(struct qc_optim *o, const struct qc_optim_cfg *cfg, int64_t n,
                  struct qc_backend *be, struct qc_err *err)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->be = be;
    o->mem = qc_backend_mem(be);
    o->m = o->mem->alloc(((size_t)n + 1) * sizeof(float));
    o->v = cfg->kind == QC_OPTIM_ADAM ? o->mem->alloc(((size_t)n + 1) * sizeof(float)) : NULL;
    if (!o->m || (cfg->kind == QC_OPTIM_ADAM && !o->v)) {
        qc_optim_free(o);
        return qc_err_set(err, QC_ENOMEM, "", "out of %s memory for optimizer state",
                          qc_backend_mem(be)->what);
    }
    return QC_OK;
}

void qc_optim_free(struct qc_optim *o)
{
    if (o->mem) {
        o->mem->free(o->m);
        o->mem->free(o->v);
    }
    o->m = o->v = NULL;
}

double qc_optim_lr(const struct qc_optim_cfg *c, int64_t step)
{
    double lr = c->lr;

    switch (c->sched) {
    case QC_SCHED_CONSTANT:
        break;
    case QC_SCHED_STEP:
        if (c->step_size > 0)
            lr *= pow(c->gamma, (double)(step / c->step_size));
        break;
    case QC_SCHED_COSINE: {
        const int64_t span = c->total_steps - c->warmup_steps;
        if (span > 0 && step >= c->warmup_steps) {
            double t = (double)(step - c->warmup_steps) / (double)span;
            lr *= 0.5 * (1.0 + cos(3.141592653589793 * (t < 1.0 ? t : 1.0)));
        }
        break;
    }
    }
    if (step < c->warmup_steps)
        lr *= (double)(step + 1) / (double)c->warmup_steps;
    return lr;
}

int qc_optim_step(struct qc_optim *o, float *params, const float *grads, float grad_mul, double lr,
                  struct qc_err *err)
{
    const struct qc_optim_cfg *c = &o->cfg;
    const int64_t t = o->t + 1;
    struct qc_op op = {.kind = c->kind == QC_OPTIM_SGD ? QC_OP_SGD : QC_OP_ADAM};
    int rc;

    /* The scalar constants converted once, as the per-element expressions
     * of a loop would convert them. */
    op.u.optim = (struct qc_op_optim){.n = o->n,
                                      .params = params,
                                      .m = o->m,
                                      .v = o->v,
                                      .grads = grads,
                                      .grad_mul = grad_mul,
                                      .weight_decay = (float)c->weight_decay,
                                      .momentum = (float)c->momentum,
                                      .lr_f = (float)lr,
                                      .nesterov = c->nesterov,
                                      .beta1 = (float)c->beta1,
                                      .one_minus_beta1 = (float)(1.0 - c->beta1),
                                      .beta2 = (float)c->beta2,
                                      .one_minus_beta2 = (float)(1.0 - c->beta2),
                                      .lr = lr,
                                      .bc1 = 1.0 - pow(c->beta1, (double)t),
                                      .bc2 = 1.0 - pow(c->beta2, (double)t),
                                      .eps = c->eps,
                                      .quant_moment = c->quant_momentum,
                                      .quant_update = c->quant_update,
                                      .quant_master = c->quant_master,
                                      .moment = c->moment,
                                      .update = c->update,
                                      .master = c->master};
    if ((rc = qc_backend_op(o->be, &op, err)))
        return rc;
    o->t = t;
    return QC_OK;
}

bool qc_loss_scaler_update(struct qc_loss_scaler *s, bool overflow)
{
    if (s->kind != QC_LOSS_SCALE_DYNAMIC) {
        if (overflow)
            s->skipped++;
        return overflow;
    }
    if (overflow) {
        s->scale = fmax(s->scale * s->backoff, s->min);
        s->good_steps = 0;
        s->skipped++;
        return true;
    }
    if (++s->good_steps >= s->growth_interval) {
        s->scale = fmin(s->scale * s->growth, s->max);
        s->good_steps = 0;
    }
    return false;
}

bool qc_all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}
