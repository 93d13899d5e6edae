/* From an experiment spec to a training configuration: the one place that
 * knows both, so the CLI and the worker run a spec the same way. */
#include <stdio.h>
#include <string.h>

#include "qcore/spec.h"
#include "qcore/train.h"

static bool is_plain_fp32(const struct qc_format *f)
{
    return f->kind == QC_FMT_FLOAT && f->ebits == 8 && f->mbits == 23 && f->bias == 127 &&
           (f->flags & ~QC_FMTF_BIAS) == 0;
}

int qc_train_cfg_from_spec(struct qc_train_cfg *cfg, const struct qc_spec *s, const char *canonical,
                           size_t len, struct qc_err *err)
{
    int rc;

    qc_train_cfg_init(cfg);
    /* A GPU run needs the CUDA backend; if this build or machine has none,
     * creating it fails when the run starts, saying why (never a CPU run).
     * An FPGA run trains on the fpga backend: the same bits as the CPU,
     * with the board's timing. Without a board (any board) the host that
     * runs it names one; creating the backend refuses none. */
    snprintf(cfg->backend, sizeof cfg->backend, "%s",
             s->device.kind == QC_DEVICE_GPU    ? "cuda"
             : s->device.kind == QC_DEVICE_FPGA ? "fpga"
                                                : "cpu");
    if (s->device.kind == QC_DEVICE_FPGA) {
        const size_t n = strlen(s->device.board);
        if (n >= sizeof cfg->board)
            return qc_err_set(err, QC_EINVAL, "/device/board",
                              "board '%.40s...' is longer than %zu characters (no preset is)",
                              s->device.board, sizeof cfg->board - 1);
        memcpy(cfg->board, s->device.board, n + 1);
    }
    qc_spec_model_desc(&cfg->model, s);
    snprintf(cfg->dataset, sizeof cfg->dataset, "%s", qc_spec_dataset_name(s->dataset.name));
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", s->dataset.dir);
    cfg->train_limit = s->dataset.train_limit;
    cfg->val_limit = s->dataset.val_limit;
    cfg->augment = s->dataset.augment;

    const struct qc_spec_train *t = &s->train;
    cfg->epochs = t->epochs;
    cfg->batch = t->batch_size;
    cfg->seed = t->seed;
    cfg->log_interval = t->log_interval;
    cfg->optim.kind = t->optimizer.type;
    cfg->optim.lr = t->optimizer.lr;
    cfg->optim.weight_decay = t->optimizer.weight_decay;
    cfg->optim.momentum = t->optimizer.momentum;
    cfg->optim.nesterov = t->optimizer.nesterov;
    cfg->optim.beta1 = t->optimizer.beta1;
    cfg->optim.beta2 = t->optimizer.beta2;
    cfg->optim.eps = t->optimizer.eps;
    cfg->optim.sched = t->schedule.type;
    cfg->optim.warmup_steps = t->schedule.warmup_steps;
    cfg->warmup_epochs = t->schedule.warmup_epochs;
    cfg->step_size_epochs = t->schedule.step_size;
    cfg->optim.gamma = t->schedule.gamma;

    const struct qc_spec_arith *a = &s->arith;
    cfg->arith = a->base;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cfg->arith.mac[g].scale_rule = a->scale_rule;
    cfg->optim.quant_master = !is_plain_fp32(&a->master_weights);
    cfg->optim.master = a->master_weights;
    cfg->optim.quant_update = a->has_weight_update;
    cfg->optim.update = a->weight_update;
    cfg->optim.quant_momentum = a->has_momentum;
    cfg->optim.moment = a->momentum;
    /* Every override of a spec fits the configuration's table. */
    _Static_assert(QC_SPEC_LAYERS_MAX <= QC_TRAIN_MAX_OVERRIDES, "a spec holds more overrides");
    for (int i = 0; i < a->nlayers; i++) {
        if (strlen(a->layers[i].name) >= QC_NN_NAME_MAX)
            return qc_err_set(err, QC_EINVAL, "/arith/layers",
                              "layer '%s': no model has a layer of that name", a->layers[i].name);
        struct qc_layer_override *o = &cfg->overrides[cfg->noverrides++];
        memcpy(o->layer, a->layers[i].name, strlen(a->layers[i].name) + 1); /* length checked */
        if ((rc = qc_spec_layer_arith(&o->arith, s, a->layers[i].name, err)))
            return rc;
        for (int g = 0; g < QC_GEMM_GROUPS; g++)
            o->arith.mac[g].scale_rule = a->scale_rule;
    }

    const struct qc_spec_blocks *bs = &s->scaling.blocks;
    static const enum qc_scale_policy policy[] = {
        [QC_BLOCK_SCALE_NONE] = QC_SCALE_POLICY_NONE,
        [QC_BLOCK_SCALE_MAX] = QC_SCALE_POLICY_MAX,
        [QC_BLOCK_SCALE_DELAYED] = QC_SCALE_POLICY_DELAYED,
        [QC_BLOCK_SCALE_DELAY_UPDATE] = QC_SCALE_POLICY_DELAY_UPDATE,
        [QC_BLOCK_SCALE_WMA] = QC_SCALE_POLICY_WMA,
    };
    QC_ASSERT((unsigned)bs->type < sizeof policy / sizeof policy[0]);
    cfg->scaling.policy = policy[bs->type];
    cfg->scaling.history = bs->history;
    cfg->scaling.drift = bs->drift;
    cfg->scaling.alpha = bs->alpha;
    /* Refused here rather than at the run's start, so `qlab validate` says it. */
    if ((rc = qc_nn_arith_check_scaling(&cfg->arith, &cfg->scaling, NULL, err)))
        return rc;
    for (int i = 0; i < cfg->noverrides; i++)
        if ((rc = qc_nn_arith_check_scaling(&cfg->overrides[i].arith, &cfg->scaling,
                                            cfg->overrides[i].layer, err)))
            return rc;

    const struct qc_spec_loss *l = &s->scaling.loss;
    cfg->loss.kind = l->type;
    cfg->loss.scale = l->type == QC_LOSS_SCALE_NONE ? 1.0 : l->init;
    cfg->loss.growth_interval = l->growth_interval;
    cfg->loss.growth = l->growth_factor;
    cfg->loss.backoff = l->backoff_factor;
    cfg->loss.min = l->min;
    cfg->loss.max = l->max;
    cfg->fingerprint = qc_fingerprint(canonical, len);
    return QC_OK;
}
