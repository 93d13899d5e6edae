/* The canonical JSON form of a parsed experiment spec: every default written
 * out, so a run stores the fully expanded spec it ran with, and parsing that
 * document gives back the same struct byte for byte. */
#include "spec_impl.h"

#include <stdio.h>
#include <string.h>

/* Sets o[k] = v, stealing v. Any failure, including a NULL v or o from an
 * earlier failed allocation, marks the whole document bad (jansson then
 * releases v itself). */
static void put(json_t *o, const char *k, json_t *v, bool *bad)
{
    if (json_object_set_new(o, k, v))
        *bad = true;
}

static json_t *str_or_null(const char *s)
{
    return s[0] ? json_string(s) : json_null();
}

/* The keys `m` sets; every key for the global MACs. */
static json_t *mac_json(const struct qc_spec_mac *m, bool *bad)
{
    json_t *o = json_object();
    char r[32];

    if (m->set & QC_SPEC_MAC_CFG)
        put(o, "cfg", json_integer(m->cfg), bad);
    if (m->set & QC_SPEC_MAC_PRODUCT)
        put(o, "product", json_string(m->product), bad);
    if (m->set & QC_SPEC_MAC_ACC)
        put(o, "acc", json_string(m->acc), bad);
    if (m->set & QC_SPEC_MAC_ACC_ROUNDING)
        put(o, "acc_rounding", json_string(qc_round_describe(&m->acc_rounding, r, sizeof r)), bad);
    if (m->set & QC_SPEC_MAC_CHUNK)
        put(o, "chunk", json_integer(m->chunk), bad);
    if (m->set & QC_SPEC_MAC_FUSED)
        put(o, "fused", json_boolean(m->fused), bad);
    if (m->set & QC_SPEC_MAC_SEED)
        put(o, "seed", json_integer((json_int_t)m->seed), bad);
    return o;
}

/* Puts a partial object only when it holds something. */
static void put_nonempty(json_t *o, const char *k, json_t *v, bool *bad)
{
    if (v && json_object_size(v) == 0) {
        json_decref(v);
        return;
    }
    put(o, k, v, bad);
}

static json_t *layer_json(const struct qc_spec_layer *l, bool *bad)
{
    json_t *o = json_object(), *fwd = json_object(), *bwd = json_object();

    if (l->set & QC_SPEC_LAYER_WEIGHTS)
        put(fwd, "weights", json_string(l->weights.name), bad);
    if (l->set & QC_SPEC_LAYER_ACTIVATIONS)
        put(fwd, "activations", json_string(l->activations.name), bad);
    put_nonempty(fwd, "mac", mac_json(&l->forward_mac, bad), bad);
    if (l->set & QC_SPEC_LAYER_ERRORS)
        put(bwd, "errors", json_string(l->errors.name), bad);
    put_nonempty(bwd, "mac", mac_json(&l->backward_mac, bad), bad);
    put_nonempty(bwd, "wgrad_mac", mac_json(&l->wgrad_mac, bad), bad);
    put_nonempty(o, "forward", fwd, bad);
    put_nonempty(o, "backward", bwd, bad);
    return o;
}

static json_t *arith_json(const struct qc_spec_arith *a, bool *bad)
{
    json_t *o = json_object(), *fwd = json_object(), *bwd = json_object(), *upd = json_object();
    json_t *layers = json_object();

    put(fwd, "weights", json_string(a->weights.name), bad);
    put(fwd, "activations", json_string(a->activations.name), bad);
    put(fwd, "mac", mac_json(&a->forward_mac, bad), bad);
    put(bwd, "errors", json_string(a->errors.name), bad);
    put(bwd, "mac", mac_json(&a->backward_mac, bad), bad);
    put(bwd, "wgrad_mac", mac_json(&a->wgrad_mac, bad), bad);
    put(upd, "master_weights", json_string(a->master_weights.name), bad);
    put(upd, "weight_update",
        a->has_weight_update ? json_string(a->weight_update.name) : json_null(), bad);
    put(upd, "momentum", a->has_momentum ? json_string(a->momentum.name) : json_null(), bad);
    for (int i = 0; i < a->nlayers; i++)
        put(layers, a->layers[i].name, layer_json(&a->layers[i], bad), bad);
    put(o, "forward", fwd, bad);
    put(o, "backward", bwd, bad);
    put(o, "update", upd, bad);
    put(o, "scale_rule", json_string(qc_scale_rule_name(a->scale_rule)), bad);
    put(o, "layers", layers, bad);
    return o;
}

static json_t *model_json(const struct qc_spec_model *m, bool *bad)
{
    json_t *o = json_object();

    put(o, "arch", json_string(qc_spec_arch_name(m->arch)), bad);
    if (m->arch == QC_ARCH_MLP) {
        json_t *h = json_array();
        for (int i = 0; i < m->nhidden; i++)
            if (!h || json_array_append_new(h, json_integer(m->hidden[i])))
                *bad = true;
        put(o, "hidden", h, bad);
    }
    if (m->arch == QC_ARCH_RESNET)
        put(o, "depth", json_integer(m->depth), bad);
    if (m->arch == QC_ARCH_RESNET || m->arch == QC_ARCH_VGG)
        put(o, "width", json_integer(m->width), bad);
    return o;
}

static json_t *train_json(const struct qc_spec_train *t, bool *bad)
{
    json_t *o = json_object(), *opt = json_object(), *sch = json_object();
    const struct qc_spec_optimizer *p = &t->optimizer;
    const struct qc_spec_schedule *c = &t->schedule;

    put(o, "epochs", json_integer(t->epochs), bad);
    put(o, "batch_size", json_integer(t->batch_size), bad);
    put(o, "seed", json_integer((json_int_t)t->seed), bad);
    put(o, "log_interval", json_integer(t->log_interval), bad);
    put(opt, "type", json_string(qc_spec_optimizer_name(p->type)), bad);
    put(opt, "lr", json_real(p->lr), bad);
    if (p->type == QC_OPTIM_SGD) {
        put(opt, "momentum", json_real(p->momentum), bad);
        put(opt, "nesterov", json_boolean(p->nesterov), bad);
    }
    put(opt, "weight_decay", json_real(p->weight_decay), bad);
    if (p->type == QC_OPTIM_ADAM) {
        put(opt, "beta1", json_real(p->beta1), bad);
        put(opt, "beta2", json_real(p->beta2), bad);
        put(opt, "eps", json_real(p->eps), bad);
    }
    put(sch, "type", json_string(qc_spec_schedule_name(c->type)), bad);
    put(sch, "warmup_epochs", json_integer(c->warmup_epochs), bad);
    put(sch, "warmup_steps", json_integer(c->warmup_steps), bad);
    if (c->type == QC_SCHED_STEP) {
        put(sch, "step_size", json_integer(c->step_size), bad);
        put(sch, "gamma", json_real(c->gamma), bad);
    }
    put(o, "optimizer", opt, bad);
    put(o, "schedule", sch, bad);
    return o;
}

static json_t *scaling_json(const struct qc_spec *s, bool *bad)
{
    const struct qc_spec_loss *l = &s->scaling.loss;
    const struct qc_spec_blocks *b = &s->scaling.blocks;
    json_t *o = json_object(), *lo = json_object(), *bo = json_object();

    put(lo, "type", json_string(qc_spec_loss_scaling_name(l->type)), bad);
    if (l->type != QC_LOSS_SCALE_NONE)
        put(lo, "init", json_real(l->init), bad);
    if (l->type == QC_LOSS_SCALE_DYNAMIC) {
        put(lo, "growth_interval", json_integer(l->growth_interval), bad);
        put(lo, "growth_factor", json_real(l->growth_factor), bad);
        put(lo, "backoff_factor", json_real(l->backoff_factor), bad);
        put(lo, "min", json_real(l->min), bad);
        put(lo, "max", json_real(l->max), bad);
    }
    put(bo, "type", json_string(qc_spec_block_scaling_name(b->type)), bad);
    if (b->type == QC_BLOCK_SCALE_DELAYED || b->type == QC_BLOCK_SCALE_DELAY_UPDATE ||
        b->type == QC_BLOCK_SCALE_WMA)
        put(bo, "history", json_integer(b->history), bad);
    if (b->type == QC_BLOCK_SCALE_DELAY_UPDATE)
        put(bo, "drift", json_real(b->drift), bad);
    if (b->type == QC_BLOCK_SCALE_WMA)
        put(bo, "alpha", json_real(b->alpha), bad);
    put(o, "loss", lo, bad);
    put(o, "blocks", bo, bad);
    return o;
}

json_t *qc_spec_to_json(const struct qc_spec *s)
{
    json_t *root = json_object(), *ds = json_object(), *dev = json_object();
    bool bad = false;

    put(root, "name", json_string(s->name), &bad);
    put(root, "model", model_json(&s->model, &bad), &bad);
    put(ds, "name", json_string(qc_spec_dataset_name(s->dataset.name)), &bad);
    put(ds, "dir", str_or_null(s->dataset.dir), &bad);
    put(ds, "train_limit", json_integer(s->dataset.train_limit), &bad);
    put(ds, "val_limit", json_integer(s->dataset.val_limit), &bad);
    put(ds, "augment", json_boolean(s->dataset.augment), &bad);
    put(root, "dataset", ds, &bad);
    put(root, "train", train_json(&s->train, &bad), &bad);
    put(root, "arith", arith_json(&s->arith, &bad), &bad);
    put(root, "scaling", scaling_json(s, &bad), &bad);
    put(dev, "kind", json_string(qc_spec_device_name(s->device.kind)), &bad);
    put(dev, "board", str_or_null(s->device.board), &bad);
    put(root, "device", dev, &bad);
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}
