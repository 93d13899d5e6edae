/* SGD (momentum, Nesterov, weight decay) and Adam on flat fp32 arrays,
 * with the learning-rate schedules. Quantized masters, updates and moments
 * round with rne through the scalar engine: one rounding each, as the
 * update hardware of the studies does. Element order is fixed, so a step is
 * bit-reproducible. */
#include "qcore/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/quantize.h"

int qc_optim_init(struct qc_optim *o, const struct qc_optim_cfg *cfg, int64_t n, struct qc_err *err)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->m = calloc((size_t)n + 1, sizeof(float));
    o->v = cfg->kind == QC_OPTIM_ADAM ? calloc((size_t)n + 1, sizeof(float)) : NULL;
    if (!o->m || (cfg->kind == QC_OPTIM_ADAM && !o->v)) {
        qc_optim_free(o);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for optimizer state");
    }
    return QC_OK;
}

void qc_optim_free(struct qc_optim *o)
{
    free(o->m);
    free(o->v);
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

static float q(const struct qc_format *f, bool on, float x)
{
    static const struct qc_round rne = {.mode = QC_ROUND_RNE, .sr_bits = QC_SR_BITS_DEFAULT};
    return on ? (float)qc_round_value(f, x, &rne, 0, NULL) : x;
}

void qc_optim_step(struct qc_optim *o, float *params, const float *grads, float grad_mul, double lr)
{
    const struct qc_optim_cfg *c = &o->cfg;

    o->t++;
    const double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
    for (int64_t i = 0; i < o->n; i++) {
        const float g = grads[i] * grad_mul + (float)c->weight_decay * params[i];
        float upd;
        if (c->kind == QC_OPTIM_SGD) {
            float m = q(&c->moment, c->quant_momentum, (float)c->momentum * o->m[i] + g);
            o->m[i] = m;
            upd = c->nesterov ? g + (float)c->momentum * m : m;
            upd *= (float)lr;
        } else {
            float m = q(&c->moment, c->quant_momentum,
                        (float)c->beta1 * o->m[i] + (float)(1.0 - c->beta1) * g);
            float v = (float)c->beta2 * o->v[i] + (float)(1.0 - c->beta2) * g * g;
            o->m[i] = m;
            o->v[i] = v;
            upd = (float)(lr * ((double)m / bc1) / (sqrt((double)v / bc2) + c->eps));
        }
        upd = q(&c->update, c->quant_update, upd);
        params[i] = q(&c->master, c->quant_master, params[i] - upd);
    }
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
