/* The training loop: shuffled batches, forward with counters, loss scaling,
 * backward, skip-or-step, metrics per log interval and per epoch, validation
 * and checkpoints at interval boundaries so a resumed run is bit-identical. */
#include "qcore/train.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Running sums of one interval or epoch. Plain bytes: checkpointed as is
 * (zero-initialised, so padding is deterministic). */
struct accum {
    double loss;
    int64_t correct, seen, steps, skipped;
    struct qc_nn_stats st;
};

struct user_state {
    struct accum interval, epoch;
};

void qc_train_cfg_init(struct qc_train_cfg *cfg)
{
    struct qc_err err;

    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->model.arch, sizeof cfg->model.arch, "lenet5");
    cfg->model.width = 1;
    cfg->model.depth = 20;
    snprintf(cfg->dataset, sizeof cfg->dataset, "fashion-mnist");
    snprintf(cfg->backend, sizeof cfg->backend, "cpu");
    cfg->epochs = 1;
    cfg->batch = 128;
    cfg->seed = 1;
    cfg->log_interval = 50;
    cfg->optim.kind = QC_OPTIM_SGD;
    cfg->optim.lr = 0.05;
    cfg->optim.momentum = 0.9;
    cfg->optim.beta1 = 0.9;
    cfg->optim.beta2 = 0.999;
    cfg->optim.eps = 1e-8;
    cfg->optim.gamma = 0.1;
    cfg->optim.sched = QC_SCHED_CONSTANT;
    qc_format_parse(&cfg->arith.weights, "fp32", &err);
    cfg->arith.activations = cfg->arith.errors = cfg->arith.weights;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        qc_mac_init(&cfg->arith.mac[g]);
    cfg->loss.kind = QC_LOSS_SCALE_NONE;
    cfg->loss.scale = 1.0;
    cfg->loss.growth = 2.0;
    cfg->loss.backoff = 0.5;
    cfg->loss.growth_interval = 1000;
    cfg->loss.min = 1.0;
    cfg->loss.max = 16777216.0;
    qc_scale_cfg_init(&cfg->scaling);
}

void qc_train_checkpoint_path(char *out, size_t len, const char *dir)
{
    snprintf(out, len, "%s/checkpoint.qck", dir);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void accum_add(struct accum *a, double loss, int64_t correct, int64_t seen, bool skipped,
                      const struct qc_nn_stats *st)
{
    a->loss += loss * (double)seen;
    a->correct += correct;
    a->seen += seen;
    a->steps++;
    a->skipped += skipped;
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        qc_round_stats_add(&a->st.gemm[g], &st->gemm[g]);
        qc_scale_stats_add(&a->st.scale[g], &st->scale[g]);
    }
}

/* Appends the per-group rates: "fwd":{"overflow":r,...},... and, under a
 * scale policy, what it did to the group's operands (counts). */
static int put_rates(char *p, size_t len, const struct qc_nn_stats *st, bool scaled)
{
    static const char *const names[QC_GEMM_GROUPS] = {"fwd", "bwd", "wgrad"};
    int n = 0;

    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        const struct qc_round_stats *s = &st->gemm[g];
        const struct qc_scale_stats *c = &st->scale[g];
        const double ops = s->ops ? (double)s->ops : 1.0;
        n += snprintf(p + n, len - (size_t)n,
                      ",\"%s\":{\"macs\":%llu,\"overflow_rate\":%.6g,\"underflow_rate\":%.6g,"
                      "\"swamping_rate\":%.6g",
                      names[g], (unsigned long long)s->ops, (double)s->overflow / ops,
                      (double)s->underflow / ops, (double)s->swamping / ops);
        if (scaled)
            n += snprintf(p + n, len - (size_t)n,
                          ",\"scaling\":{\"scales\":%llu,\"overflowed\":%llu,\"wasted\":%llu,"
                          "\"elements\":%llu,\"clipped\":%llu,\"clip_rate\":%.6g,"
                          "\"fallbacks\":%llu}",
                          (unsigned long long)c->scales, (unsigned long long)c->overflowed,
                          (unsigned long long)c->wasted, (unsigned long long)c->elements,
                          (unsigned long long)c->clipped,
                          (double)c->clipped / (c->elements ? (double)c->elements : 1.0),
                          (unsigned long long)c->fallbacks);
        n += snprintf(p + n, len - (size_t)n, "}");
    }
    return n;
}

/* A growing metric line in a buffer sized for the net (setup): appends
 * never write past the end, and a line that would not fit is cut short,
 * which the sizing rules out. */
struct line {
    char *p;
    size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct line *l, const char *fmt, ...)
{
    va_list ap;

    if (l->n + 1 >= l->cap)
        return;
    va_start(ap, fmt);
    int k = vsnprintf(l->p + l->n, l->cap - l->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->n = l->n + (size_t)k < l->cap ? l->n + (size_t)k : l->cap - 1;
}

/* Bytes one layer's entry in "layers" can take (three groups, four rates). */
#define LAYER_JSON_MAX (QC_NN_NAME_MAX + 3 * 140)

/* "layers":{"conv1":{"fwd":{"overflow_rate":r,"underflow_rate":r,
 * "swamping_rate":r[,"clip_rate":r]},...},...}: the rates of each GEMM
 * layer's groups that ran a MAC since the last line, so the hot layer is
 * visible; the per-group sums stay where they were. */
static void put_layers(struct line *l, const struct qc_net *net, const struct qc_nn_stats *lay,
                       bool scaled)
{
    static const char *const names[QC_GEMM_GROUPS] = {"fwd", "bwd", "wgrad"};
    bool first = true;

    put(l, ",\"layers\":{");
    for (int i = 0; i < net->n; i++) {
        bool any = false;
        for (int g = 0; g < QC_GEMM_GROUPS; g++) {
            const struct qc_round_stats *s = &lay[i].gemm[g];
            const struct qc_scale_stats *c = &lay[i].scale[g];
            if (!s->ops)
                continue;
            if (!any)
                put(l, "%s\"%s\":{", first ? "" : ",", net->layers[i].name);
            put(l,
                "%s\"%s\":{\"overflow_rate\":%.6g,\"underflow_rate\":%.6g,"
                "\"swamping_rate\":%.6g",
                any ? "," : "", names[g], (double)s->overflow / (double)s->ops,
                (double)s->underflow / (double)s->ops, (double)s->swamping / (double)s->ops);
            if (scaled)
                put(l, ",\"clip_rate\":%.6g",
                    (double)c->clipped / (c->elements ? (double)c->elements : 1.0));
            put(l, "}");
            any = true;
        }
        if (any) {
            put(l, "}");
            first = false;
        }
    }
    put(l, "}");
}

/* A loss as a JSON number: NaN and inf (an overflowed forward pass) have no
 * JSON spelling, so they are written null rather than break the line. */
static const char *loss_json(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        return "null";
    snprintf(buf, len, "%.9g", v);
    return buf;
}

struct run {
    const struct qc_train_cfg *cfg;
    const struct qc_train_opts *opts;
    const struct qc_train_hooks *hooks;
    struct qc_backend *be;
    struct qc_dataset train, val;
    struct qc_net net;
    struct qc_optim opt;
    struct qc_loss_scaler scaler;
    struct qc_ckpt_progress prog;
    struct user_state us;
    float *x;
    int32_t *y;
    int64_t *perm; /* this epoch's training order */
    int64_t *vidx; /* validation batch indices */
    int64_t steps_per_epoch;
    double t_interval;
    struct qc_nn_stats *lay; /* per-layer counts of the interval (net.n entries) */
    struct line line;        /* the step line, sized for the net */
    /* Board timing (backends with a timing slot). Every full-batch step
     * runs the same GEMM shapes, so it costs the same cycles: steps run
     * before a resume are counted at that figure, and no checkpoint has to
     * carry timing. */
    bool timed;
    struct qc_backend_timing bt;     /* the backend's totals after the last step */
    uint64_t full_cycles, full_macs; /* one full-batch step */
    uint64_t last_cycles, last_macs; /* the epoch's last, partial step (0: none seen) */
    uint64_t iv_cycles, iv_macs;     /* the interval's steps run in this process ... */
    int64_t iv_steps;                /* ... and how many */
};

/* The backend's cycles and MACs of the step just run, and the totals. */
static void board_step(struct run *r, int64_t nb)
{
    struct qc_backend_timing now;

    if (!r->timed)
        return;
    r->be->vt->timing(r->be, &now);
    const uint64_t cyc = now.cycles - r->bt.cycles, macs = now.macs - r->bt.macs;
    if (nb == r->cfg->batch) {
        r->full_cycles = cyc;
        r->full_macs = macs;
    } else {
        r->last_cycles = cyc;
        r->last_macs = macs;
    }
    r->iv_cycles += cyc;
    r->iv_macs += macs;
    r->iv_steps++;
    r->bt = now;
}

/* Skips what ran outside training steps (validation) in the totals. */
static void board_sync(struct run *r)
{
    if (r->timed)
        r->be->vt->timing(r->be, &r->bt);
}

/* ,"board":...,"board_cycles":...,"board_time_s":...: the board's
 * estimate for `cycles` and `macs` over `images` training images. */
static void put_board(struct line *l, const struct run *r, uint64_t cycles, uint64_t macs,
                      int64_t images)
{
    const double t = (double)cycles / r->bt.clock_hz;
    const double cap = (double)cycles * (double)r->bt.units;

    put(l,
        ",\"board\":\"%s\",\"board_cycles\":%llu,\"board_time_s\":%.9g,"
        "\"board_utilisation\":%.6g,\"board_images_per_s\":%.6g",
        r->cfg->board, (unsigned long long)cycles, t, cap > 0 ? (double)macs / cap : 0.0,
        t > 0 ? (double)images / t : 0.0);
}

static int emit(struct run *r, const char *line)
{
    if (r->hooks && r->hooks->metric)
        return r->hooks->metric(r->hooks->ctx, line);
    return 0;
}

static int emit_step(struct run *r, double lr)
{
    struct line *l = &r->line;
    struct accum *a = &r->us.interval;
    const double dt = now_s() - r->t_interval;
    char lb[32];

    if (a->steps == 0)
        return 0;
    l->n = 0;
    put(l,
        "{\"kind\":\"step\",\"step\":%lld,\"total_steps\":%lld,\"epoch\":%lld,"
        "\"train_loss\":%s,\"train_acc\":%.9g,\"lr\":%.9g,\"loss_scale\":%.9g,"
        "\"skipped\":%lld",
        (long long)r->prog.step, (long long)(r->steps_per_epoch * r->cfg->epochs),
        (long long)r->prog.epoch, loss_json(lb, sizeof lb, a->loss / (double)a->seen),
        (double)a->correct / (double)a->seen, lr, r->scaler.scale, (long long)r->scaler.skipped);
    const bool scaled = r->cfg->scaling.policy != QC_SCALE_POLICY_NONE;
    char rates[1024];
    put_rates(rates, sizeof rates, &a->st, scaled);
    put(l, "%s", rates);
    put_layers(l, &r->net, r->lay, scaled);
    if (r->timed) {
        /* Steps of this interval run before a resume were full batches. */
        const uint64_t before = (uint64_t)(a->steps - r->iv_steps);
        put_board(l, r, r->iv_cycles + before * r->full_cycles, r->iv_macs + before * r->full_macs,
                  a->seen);
        r->iv_cycles = r->iv_macs = 0;
        r->iv_steps = 0;
    }
    put(l, ",\"images_per_s\":%.1f}", dt > 0 ? (double)a->seen / dt : 0.0);
    memset(a, 0, sizeof *a);
    memset(r->lay, 0, (size_t)r->net.n * sizeof *r->lay);
    r->t_interval = now_s();
    if (r->hooks && r->hooks->progress) {
        char text[256];
        snprintf(text, sizeof text, "step %lld epoch %lld loss %.4f lr %.4g scale %g",
                 (long long)r->prog.step, (long long)r->prog.epoch,
                 r->us.epoch.seen ? r->us.epoch.loss / (double)r->us.epoch.seen : 0.0, lr,
                 r->scaler.scale);
        r->hooks->progress(r->hooks->ctx, text);
    }
    return emit(r, l->p);
}

static int validate(struct run *r, double *loss, double *acc, struct qc_err *err)
{
    const int64_t B = r->cfg->batch, classes = r->net.layers[r->net.n - 1].c;
    double sum = 0.0;
    int64_t hits = 0;
    struct qc_layer *top = &r->net.layers[r->net.n - 1];

    for (int64_t pos = 0; pos < r->val.n; pos += B) {
        const int64_t nb = r->val.n - pos < B ? r->val.n - pos : B;
        for (int64_t i = 0; i < nb; i++)
            r->vidx[i] = pos + i;
        qc_dataset_batch(r->x, r->y, &r->val, r->vidx, nb, false, 0, 0);
        int rc = qc_net_forward(&r->net, r->x, nb, false, NULL, err);
        if (rc)
            return rc;
        int64_t c;
        sum += qc_softmax_xent(top->grad, top->out, r->y, nb, classes, 1.0f, &c) * (double)nb;
        hits += c;
    }
    *loss = r->val.n ? sum / (double)r->val.n : 0.0;
    *acc = r->val.n ? (double)hits / (double)r->val.n : 0.0;
    return QC_OK;
}

/* The metric accumulators a checkpoint keeps: the sums, then the
 * interval's per-layer counts (one entry per layer of the net). */
static unsigned char *user_blob(const struct run *r, size_t *len)
{
    *len = sizeof r->us + (size_t)r->net.n * sizeof *r->lay;
    return malloc(*len);
}

static int checkpoint(struct run *r, struct qc_err *err)
{
    char path[QC_TRAIN_PATH_MAX + 32];

    if (!r->opts || !r->opts->checkpoint_dir[0])
        return QC_OK;
    if (mkdir(r->opts->checkpoint_dir, 0755) != 0 && errno != EEXIST)
        return qc_err_set(err, QC_EIO, "checkpoint", "%s: %s", r->opts->checkpoint_dir,
                          strerror(errno));
    qc_train_checkpoint_path(path, sizeof path, r->opts->checkpoint_dir);
    r->prog.sr_stream = r->net.sr_stream;
    size_t len;
    unsigned char *blob = user_blob(r, &len);
    if (!blob)
        return qc_err_set(err, QC_ENOMEM, "checkpoint", "out of memory");
    memcpy(blob, &r->us, sizeof r->us);
    memcpy(blob + sizeof r->us, r->lay, len - sizeof r->us);
    int rc = qc_checkpoint_save(path, &r->net, &r->opt, &r->scaler, &r->prog, blob, len, err);
    free(blob);
    if (!rc && r->hooks && r->hooks->checkpointed)
        r->hooks->checkpointed(r->hooks->ctx, path, r->prog.step);
    return rc;
}

static int setup(struct run *r, struct qc_err *err)
{
    const struct qc_train_cfg *cfg = r->cfg;
    struct qc_backend_opts bo = {.threads = cfg->threads,
                                 .device = cfg->device,
                                 .board = cfg->board,
                                 .scale_policy = (int)cfg->scaling.policy,
                                 .xclbin = cfg->xclbin,
                                 .dry_run = cfg->board_dry_run};
    const char *dir = cfg->data_dir[0] ? cfg->data_dir : NULL;
    int rc;

    if (cfg->epochs < 1 || cfg->batch < 1 || cfg->log_interval < 1)
        return qc_err_set(err, QC_EINVAL, "/train",
                          "epochs, batch_size and log_interval must be >= 1");
    if ((rc = qc_backend_create(&r->be, cfg->backend[0] ? cfg->backend : "cpu", &bo, err)) ||
        (rc = qc_dataset_load(&r->train, cfg->dataset, dir, QC_SPLIT_TRAIN, cfg->train_limit,
                              cfg->seed, err)) ||
        (rc = qc_dataset_load(&r->val, cfg->dataset, dir, QC_SPLIT_TEST, cfg->val_limit, cfg->seed,
                              err)))
        return rc;
    if ((rc = qc_model_build(&r->net, &cfg->model, r->train.c, r->train.h, r->train.w,
                             r->train.classes, cfg->batch, r->be, err)))
        return rc;
    if ((rc = qc_net_set_arith(&r->net, &cfg->arith, err)))
        return rc;
    for (int i = 0; i < cfg->noverrides; i++)
        if ((rc = qc_net_set_layer_arith(&r->net, cfg->overrides[i].layer, &cfg->overrides[i].arith,
                                         err)))
            return rc;
    if ((rc = qc_net_set_scaling(&r->net, &cfg->scaling, err)))
        return rc;
    int ngemm = 0;
    for (int i = 0; i < r->net.n; i++)
        ngemm += r->net.layers[i].kind == QC_LAYER_CONV || r->net.layers[i].kind == QC_LAYER_LINEAR;
    r->lay = calloc((size_t)r->net.n, sizeof *r->lay);
    r->line.cap = 4096 + (size_t)ngemm * LAYER_JSON_MAX;
    r->line.p = malloc(r->line.cap);
    if (!r->lay || !r->line.p)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for metric lines");
    r->net.layer_stats = r->lay;
    r->timed = r->be->vt->timing != NULL;
    board_sync(r);
    qc_net_init_params(&r->net, cfg->seed);
    r->steps_per_epoch = (r->train.n + cfg->batch - 1) / cfg->batch;
    struct qc_optim_cfg oc = cfg->optim;
    oc.total_steps = r->steps_per_epoch * cfg->epochs;
    oc.warmup_steps += cfg->warmup_epochs * r->steps_per_epoch;
    if (cfg->step_size_epochs > 0)
        oc.step_size = cfg->step_size_epochs * r->steps_per_epoch;
    if ((rc = qc_optim_init(&r->opt, &oc, r->net.nparams, r->be, err)))
        return rc;
    r->scaler = cfg->loss;
    if (r->scaler.kind == QC_LOSS_SCALE_NONE)
        r->scaler.scale = 1.0;
    const struct qc_layer *in = &r->net.layers[0];
    r->x = malloc((size_t)(cfg->batch * in->c * in->h * in->w) * sizeof(float));
    r->y = malloc((size_t)cfg->batch * sizeof(int32_t));
    r->perm = malloc((size_t)r->train.n * sizeof(int64_t) + 1);
    r->vidx = malloc((size_t)cfg->batch * sizeof(int64_t));
    if (!r->x || !r->y || !r->perm || !r->vidx)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for batches");
    r->prog.fingerprint = cfg->fingerprint;

    if (r->opts && r->opts->resume && r->opts->checkpoint_dir[0]) {
        char path[QC_TRAIN_PATH_MAX + 32];
        struct stat sb;
        qc_train_checkpoint_path(path, sizeof path, r->opts->checkpoint_dir);
        if (stat(path, &sb) == 0) {
            size_t len;
            unsigned char *blob = user_blob(r, &len);
            if (!blob)
                return qc_err_set(err, QC_ENOMEM, "", "out of memory");
            rc = qc_checkpoint_load(path, &r->net, &r->opt, &r->scaler, &r->prog, blob, len, err);
            if (!rc) {
                memcpy(&r->us, blob, sizeof r->us);
                memcpy(r->lay, blob + sizeof r->us, len - sizeof r->us);
            }
            free(blob);
            if (rc)
                return rc;
            r->net.sr_stream = r->prog.sr_stream;
        }
    }
    return QC_OK;
}

static void teardown(struct run *r, struct qc_net *net_out)
{
    r->net.layer_stats = NULL; /* r->lay dies here; a net handed out must not point at it */
    free(r->lay);
    free(r->line.p);
    if (net_out)
        *net_out = r->net;
    else
        qc_net_free(&r->net);
    qc_optim_free(&r->opt);
    qc_dataset_free(&r->train);
    qc_dataset_free(&r->val);
    qc_backend_destroy(r->be);
    free(r->x);
    free(r->y);
    free(r->perm);
    free(r->vidx);
}

static bool stop_requested(const struct run *r)
{
    return r->hooks && r->hooks->should_stop && r->hooks->should_stop(r->hooks->ctx);
}

/* One optimizer step on samples perm[pos .. pos+nb). */
static int train_step(struct run *r, int64_t nb, struct qc_err *err)
{
    const struct qc_train_cfg *cfg = r->cfg;
    struct qc_layer *top = &r->net.layers[r->net.n - 1];
    struct qc_nn_stats st;
    int64_t correct;
    int rc;

    memset(&st, 0, sizeof st);
    qc_dataset_batch(r->x, r->y, &r->train, r->perm + r->prog.pos, nb, cfg->augment, cfg->seed,
                     (uint64_t)r->prog.step);
    if ((rc = qc_net_forward(&r->net, r->x, nb, true, &st, err)))
        return rc;
    const float scale = (float)r->scaler.scale;
    double loss = qc_softmax_xent(top->grad, top->out, r->y, nb, top->c, scale, &correct);
    if ((rc = qc_net_backward(&r->net, nb, &st, err)))
        return rc;
    bool finite;
    if ((rc = qc_net_grads_finite(&r->net, &finite, err)))
        return rc;
    const bool skip = qc_loss_scaler_update(&r->scaler, !finite);
    if (!skip && (rc = qc_optim_step(&r->opt, r->net.params, r->net.grads, 1.0f / scale,
                                     qc_optim_lr(&r->opt.cfg, r->prog.step), err)))
        return rc;
    board_step(r, nb);
    accum_add(&r->us.interval, loss, correct, nb, skip, &st);
    accum_add(&r->us.epoch, loss, correct, nb, skip, &st);
    r->prog.step++;
    r->prog.pos += nb;
    return QC_OK;
}

static int end_epoch(struct run *r, struct qc_err *err)
{
    double vloss, vacc;
    char line[4096];
    int rc;

    if ((rc = emit_step(r, qc_optim_lr(&r->opt.cfg, r->prog.step - 1))))
        return QC_ECONFLICT;
    if ((rc = validate(r, &vloss, &vacc, err)))
        return rc;
    board_sync(r);
    const struct accum *a = &r->us.epoch;
    char lb[32], vb[32];
    int n = snprintf(line, sizeof line,
                     "{\"kind\":\"epoch\",\"step\":%lld,\"epoch\":%lld,\"train_loss\":%s,"
                     "\"train_acc\":%.9g,\"val_loss\":%s,\"val_acc\":%.9g,\"loss_scale\":%.9g,"
                     "\"skipped\":%lld",
                     (long long)r->prog.step, (long long)r->prog.epoch,
                     loss_json(lb, sizeof lb, a->seen ? a->loss / (double)a->seen : 0.0),
                     a->seen ? (double)a->correct / (double)a->seen : 0.0,
                     loss_json(vb, sizeof vb, vloss), vacc, r->scaler.scale, (long long)a->skipped);
    n += put_rates(line + n, sizeof line - (size_t)n, &a->st,
                   r->cfg->scaling.policy != QC_SCALE_POLICY_NONE);
    if (r->timed) {
        /* The epoch's estimated time on the board: its full steps and its
         * last, partial one. */
        const int64_t B = r->cfg->batch, full = r->train.n / B, part = r->train.n % B != 0;
        struct line bl = {line + n, 0, sizeof line - (size_t)n};
        put_board(&bl, r, (uint64_t)full * r->full_cycles + (part ? r->last_cycles : 0),
                  (uint64_t)full * r->full_macs + (part ? r->last_macs : 0), r->train.n);
        n += (int)bl.n;
    }
    snprintf(line + n, sizeof line - (size_t)n, "}");
    memset(&r->us.epoch, 0, sizeof r->us.epoch);
    if (r->hooks && r->hooks->progress) {
        char text[160];
        snprintf(text, sizeof text, "epoch %lld done: val_loss %.4f val_acc %.4f",
                 (long long)r->prog.epoch, vloss, vacc);
        r->hooks->progress(r->hooks->ctx, text);
    }
    r->prog.epoch++;
    r->prog.pos = 0;
    if (emit(r, line))
        return QC_ECONFLICT;
    return checkpoint(r, err);
}

int qc_train_run(const struct qc_train_cfg *cfg, const struct qc_train_opts *opts,
                 const struct qc_train_hooks *hooks, struct qc_net *net_out, struct qc_err *err)
{
    struct run r;
    int rc;

    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.opts = opts;
    r.hooks = hooks;
    if ((rc = setup(&r, err)))
        goto out;
    /* Every accumulator is checkpointed, so any step boundary is a
     * consistent place to checkpoint, to stop and to resume. */
    const int64_t every = opts && opts->checkpoint_every > 0 ? opts->checkpoint_every : 0;
    r.t_interval = now_s();
    while (r.prog.epoch < cfg->epochs) {
        qc_dataset_permutation(r.perm, r.train.n, cfg->seed, (uint64_t)r.prog.epoch);
        while (r.prog.pos < r.train.n) {
            const int64_t nb =
                r.train.n - r.prog.pos < cfg->batch ? r.train.n - r.prog.pos : cfg->batch;
            if ((rc = train_step(&r, nb, err)))
                goto out;
            const bool last = r.prog.pos >= r.train.n; /* end_epoch reports it */
            if (!last && r.prog.step % cfg->log_interval == 0 &&
                emit_step(&r, qc_optim_lr(&r.opt.cfg, r.prog.step - 1))) {
                rc = qc_err_set(err, QC_ECONFLICT, "", "stopped by the metric sink");
                goto out;
            }
            if (!last && every && r.prog.step % every == 0 && (rc = checkpoint(&r, err)))
                goto out;
            if (stop_requested(&r) ||
                (opts && opts->max_steps > 0 && r.prog.step >= opts->max_steps)) {
                if (!last && !(every && r.prog.step % every == 0) && (rc = checkpoint(&r, err)))
                    goto out;
                rc = qc_err_set(err, QC_ECONFLICT, "", "stopped at step %lld",
                                (long long)r.prog.step);
                goto out;
            }
        }
        if ((rc = end_epoch(&r, err))) {
            if (rc == QC_ECONFLICT)
                qc_err_set(err, QC_ECONFLICT, "", "stopped by the metric sink");
            goto out;
        }
    }
out:
    teardown(&r, net_out);
    return rc;
}
