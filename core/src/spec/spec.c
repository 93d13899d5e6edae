/* The experiment spec parser: the entry points from text, file and jansson
 * value, and the validation of every section but arith (spec_arith.c),
 * including the checks that span sections. The accepted keys are the table
 * in spec_keys.c. */
#include "spec_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sections ------------------------------------------------------------ */

/* "<key> applies to <what> only, not '<actual>'" when `key` is given. */
static int only_for(const struct qc__jobj *o, const char *key, bool allowed, const char *what,
                    const char *actual, struct qc_err *err)
{
    char ptr[QC_SPEC_PTR_MAX];

    if (allowed || !qc__spec_has(o, key, false))
        return QC_OK;
    qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
    return qc_err_set(err, QC_EINVAL, ptr, "%s applies to %s only, not '%s'", key, what, actual);
}

static int parse_hidden(struct qc_spec *s, const struct qc__jobj *o, struct qc_err *err)
{
    const json_t *v = json_object_get(o->v, "hidden");
    char ptr[QC_SPEC_PTR_MAX], el[QC_SPEC_PTR_MAX + 24], d[80];
    int rc;

    qc__spec_ptr(ptr, sizeof ptr, o->ptr, "hidden");
    if (!json_is_array(v))
        return qc_err_set(err, QC_EINVAL, ptr, "hidden must be an array of unit counts, not %s",
                          qc__spec_describe(d, sizeof d, v));
    const size_t n = json_array_size(v);
    if (n < 1 || n > QC_SPEC_HIDDEN_MAX)
        return qc_err_set(err, QC_EINVAL, ptr, "hidden has %zu layers; 1..%d are allowed", n,
                          QC_SPEC_HIDDEN_MAX);
    for (size_t i = 0; i < n; i++) {
        int64_t units;
        snprintf(el, sizeof el, "%s/%zu", ptr, i);
        if ((rc = qc__spec_int_value(&units, json_array_get(v, i), el, "units", 1,
                                     QC_SPEC_UNITS_MAX, err)) < 0)
            return rc;
        s->model.hidden[i] = (int)units;
    }
    s->model.nhidden = (int)n;
    return QC_OK;
}

static int parse_model(struct qc_spec *s, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc__jobj o;
    int arch = 0, rc;
    int64_t depth = 20, width = 1;

    if ((rc = qc__spec_object(&o, root, "model", true, err)) < 0)
        return rc;
    if ((rc = qc__spec_enum(&arch, &o, "arch", qc__spec_arch, true, err)) < 0)
        return rc;
    s->model.arch = (enum qc_spec_arch)arch;
    if (qc__spec_has(&o, "hidden", false) && (rc = parse_hidden(s, &o, err)) < 0)
        return rc;
    if ((rc = qc__spec_int(&depth, &o, "depth", 8, 1202, err)) < 0 ||
        (rc = qc__spec_int(&width, &o, "width", 1, 64, err)) < 0)
        return rc;

    const char *a = qc__spec_arch[arch];
    char ptr[QC_SPEC_PTR_MAX];
    if ((rc = only_for(&o, "hidden", arch == QC_ARCH_MLP, "arch 'mlp'", a, err)) ||
        (rc = only_for(&o, "depth", arch == QC_ARCH_RESNET, "arch 'resnet'", a, err)) ||
        (rc = only_for(&o, "width", arch == QC_ARCH_RESNET || arch == QC_ARCH_VGG,
                       "arch 'resnet' and 'vgg'", a, err)))
        return rc;
    if (arch == QC_ARCH_MLP && s->model.nhidden == 0) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "hidden");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "arch 'mlp' needs hidden, the units of each hidden layer (e.g. [256])");
    }
    if (arch == QC_ARCH_RESNET && (depth - 2) % 6 != 0) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "depth");
        return qc_err_set(err, QC_EINVAL, ptr, "resnet depth %lld is not 6n+2 (20, 32, 56, ...)",
                          (long long)depth);
    }
    s->model.depth = arch == QC_ARCH_RESNET ? (int)depth : 0;
    s->model.width = (int)width;
    return QC_OK;
}

static int parse_dataset(struct qc_spec *s, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc__jobj o;
    int name = 0, rc;

    if ((rc = qc__spec_object(&o, root, "dataset", true, err)) < 0 ||
        (rc = qc__spec_enum(&name, &o, "name", qc__spec_dataset, true, err)) < 0 ||
        (rc = qc__spec_string(s->dataset.dir, sizeof s->dataset.dir, &o, "dir", QC__CHARS_PATH,
                              true, false, err)) < 0 ||
        (rc = qc__spec_int(&s->dataset.train_limit, &o, "train_limit", 0, INT32_MAX, err)) < 0 ||
        (rc = qc__spec_int(&s->dataset.val_limit, &o, "val_limit", 0, INT32_MAX, err)) < 0 ||
        (rc = qc__spec_bool(&s->dataset.augment, &o, "augment", err)) < 0)
        return rc;
    s->dataset.name = (enum qc_spec_data)name;
    return QC_OK;
}

static int parse_optimizer(struct qc_spec *s, const struct qc__jobj *train, struct qc_err *err)
{
    struct qc_spec_optimizer *p = &s->train.optimizer;
    struct qc__jobj o;
    int type = 0, rc;

    if ((rc = qc__spec_object(&o, train, "optimizer", false, err)) < 0 ||
        (rc = qc__spec_enum(&type, &o, "type", qc__spec_optimizer, false, err)) < 0)
        return rc;
    p->type = (enum qc_optim_kind)type;
    p->lr = type == QC_OPTIM_ADAM ? 1e-3 : 0.05;
    p->momentum = type == QC_OPTIM_ADAM ? 0.0 : 0.9;
    if ((rc = qc__spec_real(&p->lr, &o, "lr", 0, true, INFINITY, false, err)) < 0 ||
        (rc = qc__spec_real(&p->momentum, &o, "momentum", 0, false, 1, true, err)) < 0 ||
        (rc = qc__spec_bool(&p->nesterov, &o, "nesterov", err)) < 0 ||
        (rc = qc__spec_real(&p->weight_decay, &o, "weight_decay", 0, false, INFINITY, false, err)) <
            0 ||
        (rc = qc__spec_real(&p->beta1, &o, "beta1", 0, false, 1, true, err)) < 0 ||
        (rc = qc__spec_real(&p->beta2, &o, "beta2", 0, false, 1, true, err)) < 0 ||
        (rc = qc__spec_real(&p->eps, &o, "eps", 0, true, INFINITY, false, err)) < 0)
        return rc;

    const char *t = qc__spec_optimizer[type];
    const bool sgd = type == QC_OPTIM_SGD;
    if ((rc = only_for(&o, "momentum", sgd, "optimizer 'sgd'", t, err)) ||
        (rc = only_for(&o, "nesterov", sgd, "optimizer 'sgd'", t, err)) ||
        (rc = only_for(&o, "beta1", !sgd, "optimizer 'adam'", t, err)) ||
        (rc = only_for(&o, "beta2", !sgd, "optimizer 'adam'", t, err)) ||
        (rc = only_for(&o, "eps", !sgd, "optimizer 'adam'", t, err)))
        return rc;
    if (p->nesterov && p->momentum == 0) {
        char ptr[QC_SPEC_PTR_MAX];
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "nesterov");
        return qc_err_set(err, QC_EINVAL, ptr, "nesterov needs momentum > 0");
    }
    return QC_OK;
}

static int parse_schedule(struct qc_spec *s, const struct qc__jobj *train, struct qc_err *err)
{
    struct qc_spec_schedule *p = &s->train.schedule;
    struct qc__jobj o;
    char ptr[QC_SPEC_PTR_MAX];
    int type = 0, rc;

    if ((rc = qc__spec_object(&o, train, "schedule", false, err)) < 0 ||
        (rc = qc__spec_enum(&type, &o, "type", qc__spec_schedule, false, err)) < 0 ||
        (rc = qc__spec_int(&p->warmup_epochs, &o, "warmup_epochs", 0, 10000, err)) < 0 ||
        (rc = qc__spec_int(&p->warmup_steps, &o, "warmup_steps", 0, 1000000000, err)) < 0 ||
        (rc = qc__spec_int(&p->step_size, &o, "step_size", 1, 10000, err)) < 0 ||
        (rc = qc__spec_real(&p->gamma, &o, "gamma", 0, true, 1, false, err)) < 0)
        return rc;
    p->type = (enum qc_sched_kind)type;

    const char *t = qc__spec_schedule[type];
    if ((rc = only_for(&o, "step_size", type == QC_SCHED_STEP, "schedule 'step'", t, err)) ||
        (rc = only_for(&o, "gamma", type == QC_SCHED_STEP, "schedule 'step'", t, err)))
        return rc;
    if (type == QC_SCHED_STEP && p->step_size == 0) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "step_size");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "schedule 'step' needs step_size, the epochs between decays");
    }
    if (p->warmup_epochs > 0 && p->warmup_steps > 0) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "warmup_steps");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "warmup_steps %lld and warmup_epochs %lld are both set; give one",
                          (long long)p->warmup_steps, (long long)p->warmup_epochs);
    }
    if (p->warmup_epochs >= s->train.epochs) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "warmup_epochs");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "warmup_epochs %lld leaves no training after the warmup (epochs %lld)",
                          (long long)p->warmup_epochs, (long long)s->train.epochs);
    }
    return QC_OK;
}

static int parse_train(struct qc_spec *s, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc__jobj o;
    int64_t seed = (int64_t)s->train.seed;
    int rc;

    if ((rc = qc__spec_object(&o, root, "train", false, err)) < 0 ||
        (rc = qc__spec_int(&s->train.epochs, &o, "epochs", 1, 10000, err)) < 0 ||
        (rc = qc__spec_int(&s->train.batch_size, &o, "batch_size", 1, 65536, err)) < 0 ||
        (rc = qc__spec_int(&seed, &o, "seed", 0, INT64_MAX, err)) < 0 ||
        (rc = qc__spec_int(&s->train.log_interval, &o, "log_interval", 1, 1000000000, err)) < 0 ||
        (rc = parse_optimizer(s, &o, err)) < 0 || (rc = parse_schedule(s, &o, err)) < 0)
        return rc;
    s->train.seed = (uint64_t)seed;
    return QC_OK;
}

static int parse_scaling(struct qc_spec *s, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc_spec_loss *l = &s->scaling.loss;
    struct qc_spec_blocks *b = &s->scaling.blocks;
    struct qc__jobj o, lo, bo;
    char ptr[QC_SPEC_PTR_MAX];
    int lt = 0, bt = 0, rc;
    int64_t history = b->history;

    if ((rc = qc__spec_object(&o, root, "scaling", false, err)) < 0 ||
        (rc = qc__spec_object(&lo, &o, "loss", false, err)) < 0 ||
        (rc = qc__spec_enum(&lt, &lo, "type", qc__spec_loss, false, err)) < 0 ||
        (rc = qc__spec_real(&l->init, &lo, "init", 0, true, INFINITY, false, err)) < 0 ||
        (rc = qc__spec_int(&l->growth_interval, &lo, "growth_interval", 1, 1000000000, err)) < 0 ||
        (rc = qc__spec_real(&l->growth_factor, &lo, "growth_factor", 1, true, INFINITY, false,
                            err)) < 0 ||
        (rc = qc__spec_real(&l->backoff_factor, &lo, "backoff_factor", 0, true, 1, true, err)) <
            0 ||
        (rc = qc__spec_real(&l->min, &lo, "min", 0, true, INFINITY, false, err)) < 0 ||
        (rc = qc__spec_real(&l->max, &lo, "max", 0, true, INFINITY, false, err)) < 0)
        return rc;
    l->type = (enum qc_loss_scale_kind)lt;
    const char *t = qc__spec_loss[lt];
    const bool dyn = lt == QC_LOSS_SCALE_DYNAMIC;
    if ((rc = only_for(&lo, "init", lt != QC_LOSS_SCALE_NONE, "loss scaling 'static' and 'dynamic'",
                       t, err)) ||
        (rc = only_for(&lo, "growth_interval", dyn, "loss scaling 'dynamic'", t, err)) ||
        (rc = only_for(&lo, "growth_factor", dyn, "loss scaling 'dynamic'", t, err)) ||
        (rc = only_for(&lo, "backoff_factor", dyn, "loss scaling 'dynamic'", t, err)) ||
        (rc = only_for(&lo, "min", dyn, "loss scaling 'dynamic'", t, err)) ||
        (rc = only_for(&lo, "max", dyn, "loss scaling 'dynamic'", t, err)))
        return rc;
    if (dyn && l->max < l->min) {
        qc__spec_ptr(ptr, sizeof ptr, lo.ptr, "max");
        return qc_err_set(err, QC_EINVAL, ptr, "max %g is below min %g", l->max, l->min);
    }
    if (dyn && (l->init < l->min || l->init > l->max)) {
        qc__spec_ptr(ptr, sizeof ptr, lo.ptr, "init");
        return qc_err_set(err, QC_EINVAL, ptr, "init %g is outside [min, max] = [%g, %g]", l->init,
                          l->min, l->max);
    }

    if ((rc = qc__spec_object(&bo, &o, "blocks", false, err)) < 0 ||
        (rc = qc__spec_enum(&bt, &bo, "type", qc__spec_blocks, false, err)) < 0 ||
        (rc = qc__spec_int(&history, &bo, "history", 1, 1024, err)) < 0 ||
        (rc = qc__spec_real(&b->drift, &bo, "drift", 0, true, 64, false, err)) < 0 ||
        (rc = qc__spec_real(&b->alpha, &bo, "alpha", 0, true, 1, false, err)) < 0)
        return rc;
    b->type = (enum qc_spec_block_scale)bt;
    b->history = (int)history;
    t = qc__spec_blocks[bt];
    if ((rc = only_for(&bo, "history",
                       bt == QC_BLOCK_SCALE_DELAYED || bt == QC_BLOCK_SCALE_DELAY_UPDATE ||
                           bt == QC_BLOCK_SCALE_WMA,
                       "block scaling 'delayed', 'delay_update' and 'wma'", t, err)) ||
        (rc = only_for(&bo, "drift", bt == QC_BLOCK_SCALE_DELAY_UPDATE,
                       "block scaling 'delay_update'", t, err)) ||
        (rc = only_for(&bo, "alpha", bt == QC_BLOCK_SCALE_WMA, "block scaling 'wma'", t, err)))
        return rc;
    if (bt != QC_BLOCK_SCALE_NONE && !qc__spec_arith_quantized(&s->arith)) {
        qc__spec_ptr(ptr, sizeof ptr, bo.ptr, "type");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "block scaling '%s' has nothing to scale: every weights, activations "
                          "and errors format is fp32 or fp64",
                          t);
    }
    return QC_OK;
}

static int parse_device(struct qc_spec *s, const struct qc__jobj *root, struct qc_err *err)
{
    struct qc__jobj o;
    char ptr[QC_SPEC_PTR_MAX];
    int kind = 0, rc;

    if ((rc = qc__spec_object(&o, root, "device", false, err)) < 0 ||
        (rc = qc__spec_enum(&kind, &o, "kind", qc__spec_device, false, err)) < 0 ||
        (rc = qc__spec_string(s->device.board, sizeof s->device.board, &o, "board", QC__CHARS_TEXT,
                              true, false, err)) < 0)
        return rc;
    s->device.kind = (enum qc_spec_device_kind)kind;
    if (s->device.board[0] && kind != QC_DEVICE_GPU && kind != QC_DEVICE_FPGA) {
        qc__spec_ptr(ptr, sizeof ptr, o.ptr, "board");
        return qc_err_set(err, QC_EINVAL, ptr,
                          "board '%s' applies to device kind 'gpu' and 'fpga' only, not '%s'",
                          s->device.board, qc__spec_device[kind]);
    }
    if (kind == QC_DEVICE_FPGA && qc__spec_arith_native(&s->arith, ptr, sizeof ptr))
        return qc_err_set(err, QC_EINVAL, ptr,
                          "acc 'native' (OpenBLAS fp32 sums) cannot run on device kind 'fpga'");
    return QC_OK;
}

static void set_defaults(struct qc_spec *s)
{
    s->model.width = 1;
    s->train.epochs = 10;
    s->train.batch_size = 128;
    s->train.seed = 1;
    s->train.log_interval = 50;
    s->train.optimizer.beta1 = 0.9;
    s->train.optimizer.beta2 = 0.999;
    s->train.optimizer.eps = 1e-8;
    s->train.schedule.gamma = 0.1;
    s->scaling.loss.init = 65536.0;
    s->scaling.loss.growth_interval = 2000;
    s->scaling.loss.growth_factor = 2.0;
    s->scaling.loss.backoff_factor = 0.5;
    s->scaling.loss.min = 1.0;
    s->scaling.loss.max = 4294967296.0;
    s->scaling.blocks.history = 16;
    s->scaling.blocks.drift = 1.0;
    s->scaling.blocks.alpha = 0.5;
}

/* ---- entry points -------------------------------------------------------- */

int qc_spec_from_json(struct qc_spec *out, const json_t *root, struct qc_err *err)
{
    struct qc__jobj r;
    int rc;

    memset(out, 0, sizeof *out);
    set_defaults(out);
    if ((rc = qc__spec_root(&r, root, err)) < 0 ||
        (rc = qc__spec_string(out->name, sizeof out->name, &r, "name", QC__CHARS_TEXT, false, true,
                              err)) < 0 ||
        (rc = parse_model(out, &r, err)) < 0 || (rc = parse_dataset(out, &r, err)) < 0 ||
        (rc = parse_train(out, &r, err)) < 0 ||
        (rc = qc__spec_arith_parse(&out->arith, &r, err)) < 0 ||
        (rc = parse_scaling(out, &r, err)) < 0 || (rc = parse_device(out, &r, err)) < 0)
        return rc;
    return QC_OK;
}

int qc_spec_parse(struct qc_spec *out, const char *text, size_t len, struct qc_err *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    if (len > QC_SPEC_TEXT_MAX)
        return qc_err_set(err, QC_EINVAL, "", "the spec is %zu bytes; the limit is %d", len,
                          QC_SPEC_TEXT_MAX);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return qc_err_set(err, QC_EINVAL, "", "line %d, column %d: %s", jerr.line, jerr.column,
                          jerr.text);
    rc = qc_spec_from_json(out, root, err);
    json_decref(root);
    return rc;
}

int qc_spec_load(struct qc_spec *out, const char *path, struct qc_err *err)
{
    char *buf = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    size_t n = 0;
    int rc = QC_EIO;
    FILE *f = fopen(path, "rb");

    if (!f) {
        qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(errno));
        goto out;
    }
    /* One byte past the limit tells a too-large file from one at the limit. */
    if (!(buf = malloc(QC_SPEC_TEXT_MAX + 1))) {
        rc = qc_err_set(err, QC_ENOMEM, "", "%s: out of memory", path);
        goto out;
    }
    n = fread(buf, 1, QC_SPEC_TEXT_MAX + 1, f);
    if (ferror(f)) {
        qc_err_set(err, QC_EIO, "", "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    if (n > QC_SPEC_TEXT_MAX) {
        rc = qc_err_set(err, QC_EINVAL, "", "%s: larger than the %d-byte limit of a spec", path,
                        QC_SPEC_TEXT_MAX);
        goto out;
    }
    root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc =
            qc_err_set(err, QC_EINVAL, "", "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    rc = qc_spec_from_json(out, root, err); /* sets err->field on failure */
out:
    json_decref(root); /* decref(NULL) is a no-op */
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

void qc_spec_model_desc(struct qc_model_desc *out, const struct qc_spec *s)
{
    memset(out, 0, sizeof *out);
    snprintf(out->arch, sizeof out->arch, "%s", qc_spec_arch_name(s->model.arch));
    for (int i = 0; i < s->model.nhidden && i < QC_MODEL_MAX_HIDDEN; i++)
        out->hidden[i] = s->model.hidden[i];
    out->nhidden = s->model.nhidden;
    out->depth = s->model.depth;
    out->width = s->model.width;
}
