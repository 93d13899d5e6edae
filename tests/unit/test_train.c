/* The training loop: it learns, it is deterministic whatever the thread
 * count, a run resumed from a checkpoint ends with the same weights and
 * metrics as one that never stopped (scale policies' histories included),
 * and bad checkpoints are refused. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qcore/spec.h"
#include "qcore/train.h"
#include "test_helpers.h"

/* Collects metric lines, minus the wall-clock field. */
struct sink {
    char text[1 << 16];
    size_t len;
    int lines;
};

static int collect(void *ctx, const char *line)
{
    struct sink *s = ctx;
    const char *cut = strstr(line, ",\"images_per_s\"");
    size_t n = cut ? (size_t)(cut - line) : strlen(line);
    cr_assert_lt(s->len + n + 2, sizeof s->text);
    memcpy(s->text + s->len, line, n);
    s->len += n;
    s->text[s->len++] = '\n';
    s->text[s->len] = '\0';
    s->lines++;
    return 0;
}

static void small_cfg(struct qc_train_cfg *c, const char *mac)
{
    struct qc_err err;

    qc_train_cfg_init(c);
    snprintf(c->dataset, sizeof c->dataset, "synthetic:train=384:test=128:h=12:w=12");
    snprintf(c->model.arch, sizeof c->model.arch, "lenet5");
    c->epochs = 2;
    c->batch = 32;
    c->log_interval = 4;
    c->seed = 3;
    c->optim.lr = 0.05;
    c->fingerprint = 0x1234;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&c->arith.mac[g], mac, &err), QC_OK, "%s", err.msg);
}

static void run(const struct qc_train_cfg *c, const struct qc_train_opts *o, struct sink *s,
                struct qc_net *net, int expect)
{
    struct qc_train_hooks h = {.ctx = s, .metric = collect};
    struct qc_err err;
    int rc = qc_train_run(c, o, &h, net, &err);
    cr_assert_eq(rc, expect, "rc %d: %s", rc, err.msg);
}

Test(train, learns_on_synthetic_data)
{
    struct qc_train_cfg c;
    struct sink s = {0};
    struct qc_net net;

    small_cfg(&c, "acc=native");
    snprintf(c.dataset, sizeof c.dataset,
             "synthetic:train=1024:test=256:h=12:w=12:noise=0.1:shift=1");
    c.epochs = 3;
    c.model.nhidden = 1;
    c.model.hidden[0] = 64;
    snprintf(c.model.arch, sizeof c.model.arch, "mlp");
    run(&c, NULL, &s, &net, QC_OK);
    qc_net_free(&net);
    /* The last epoch line: validation accuracy far above chance (0.1). */
    const char *last = strstr(s.text, "\"kind\":\"epoch\",\"step\":96");
    cr_assert_not_null(last, "%s", s.text);
    double acc = atof(strstr(last, "\"val_acc\":") + 10);
    cr_assert_gt(acc, 0.5, "val_acc %g", acc);
    double first = atof(strstr(s.text, "\"train_loss\":") + 13);
    double final = atof(strstr(last, "\"train_loss\":") + 13);
    cr_assert_lt(final, first * 0.7, "loss %g -> %g", first, final);
}

Test(train, same_bits_for_any_thread_count)
{
    struct qc_train_cfg c;
    struct sink s1 = {0}, s2 = {0};
    struct qc_net n1, n2;

    small_cfg(&c, "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8,acc_rounding=sr:8");
    c.epochs = 1;
    c.threads = 1;
    run(&c, NULL, &s1, &n1, QC_OK);
    c.threads = 3;
    run(&c, NULL, &s2, &n2, QC_OK);
    cr_assert_str_eq(s1.text, s2.text);
    cr_assert_eq(memcmp(n1.params, n2.params, (size_t)n1.nparams * sizeof(float)), 0);
    qc_net_free(&n1);
    qc_net_free(&n2);
}

Test(train, resume_continues_exactly)
{
    struct qc_train_cfg c;
    struct qc_train_opts o = {0};
    struct sink straight = {0}, first = {0}, second = {0};
    struct qc_net a, b;
    char dir[] = "/tmp/qlab-train-XXXXXX";

    cr_assert_not_null(mkdtemp(dir));
    small_cfg(&c, "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8");
    c.loss.kind = QC_LOSS_SCALE_DYNAMIC;
    c.loss.scale = 1024;
    c.loss.growth_interval = 3;
    c.optim.kind = QC_OPTIM_ADAM;
    c.optim.lr = 0.003;
    run(&c, NULL, &straight, &a, QC_OK);

    /* Stop mid-epoch (not at a log boundary), then resume twice. */
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "%s", dir);
    o.max_steps = 7;
    run(&c, &o, &first, NULL, QC_ECONFLICT);
    o.max_steps = 0;
    o.resume = true;
    run(&c, &o, &second, &b, QC_OK);
    cr_assert_eq(memcmp(a.params, b.params, (size_t)a.nparams * sizeof(float)), 0,
                 "resumed weights differ");
    /* The resumed run's lines are the tail of the straight run's. */
    char joined[sizeof first.text * 2];
    snprintf(joined, sizeof joined, "%s%s", first.text, second.text);
    cr_assert_str_eq(joined, straight.text);
    qc_net_free(&a);
    qc_net_free(&b);

    /* A foreign checkpoint is refused. */
    c.fingerprint = 0x9999;
    struct qc_train_hooks h = {0};
    struct qc_err err;
    cr_assert_eq(qc_train_run(&c, &o, &h, NULL, &err), QC_ECORRUPT);
    cr_assert(strstr(err.msg, "another experiment"), "%s", err.msg);

    /* A truncated one too, naming the file. */
    char path[600];
    qc_train_checkpoint_path(path, sizeof path, dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(path, len / 2), 0);
    c.fingerprint = 0x1234;
    cr_assert_eq(qc_train_run(&c, &o, &h, NULL, &err), QC_ECORRUPT);
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "truncated"), "%s", err.msg);
    unlink(path);
    rmdir(dir);
}

/* Block formats (MX activations, scaled along K in blocks of 32) next to
 * tensor-scaled scalar formats (e4m3 weights, e5m2 errors) under a scale
 * policy. 400 samples in batches of 32 end each epoch with a batch of 16,
 * whose block counts differ: the fallback runs too. */
static void scaled_cfg(struct qc_train_cfg *c, enum qc_scale_policy p)
{
    struct qc_err err;

    small_cfg(c, "cfg=5,acc=fp32,chunk=16");
    snprintf(c->dataset, sizeof c->dataset, "synthetic:train=400:test=96:h=12:w=12");
    c->arith.activations = th_format("mxfp8_e4m3");
    c->arith.weights = th_format("e4m3");
    c->arith.errors = th_format("e5m2");
    c->scaling.policy = p;
    c->scaling.history = 3;
    c->loss.kind = QC_LOSS_SCALE_DYNAMIC;
    c->loss.scale = 256;
    c->loss.growth_interval = 5;
    cr_assert_eq(qc_nn_arith_check_scaling(&c->arith, &c->scaling, NULL, &err), QC_OK, "%s",
                 err.msg);
}

Test(train, scale_policy_same_bits_for_any_thread_count)
{
    struct qc_train_cfg c;
    struct sink s1 = {0}, s2 = {0};
    struct qc_net n1, n2;

    scaled_cfg(&c, QC_SCALE_POLICY_WMA);
    c.epochs = 1;
    c.threads = 1;
    run(&c, NULL, &s1, &n1, QC_OK);
    c.threads = 3;
    run(&c, NULL, &s2, &n2, QC_OK);
    cr_assert_str_eq(s1.text, s2.text);
    cr_assert_eq(memcmp(n1.params, n2.params, (size_t)n1.nparams * sizeof(float)), 0);
    cr_assert(strstr(s1.text, "\"scaling\":{\"scales\":"), "%s", s1.text);
    qc_net_free(&n1);
    qc_net_free(&n2);
}

Test(train, scale_policy_state_resumes_exactly)
{
    struct qc_train_cfg c;
    struct qc_train_opts o = {0};
    struct sink straight = {0}, p1 = {0}, p2 = {0}, p3 = {0};
    struct qc_net a, b;
    char dir[] = "/tmp/qlab-train-XXXXXX", path[600];

    cr_assert_not_null(mkdtemp(dir));
    scaled_cfg(&c, QC_SCALE_POLICY_DELAYED);
    run(&c, NULL, &straight, &a, QC_OK);
    /* Each epoch's short batch changes the block count of every MX operand
     * whose blocks depend on the batch: the forward activations of all 5
     * layers, and the grad-weight activations of the 2 convolutions (whose
     * K is batch x positions; a linear layer's K = batch stays one block). */
    const char *ep = strstr(straight.text, "\"kind\":\"epoch\"");
    cr_assert_not_null(ep);
    const char *fwd = strstr(ep, "\"fwd\""), *bwd = strstr(ep, "\"bwd\""),
               *wg = strstr(ep, "\"wgrad\"");
    cr_assert(fwd && bwd && wg);
    cr_assert_eq(atoll(strstr(fwd, "\"fallbacks\":") + 12), 5, "%s", ep);
    cr_assert_eq(atoll(strstr(bwd, "\"fallbacks\":") + 12), 0, "%s", ep);
    cr_assert_eq(atoll(strstr(wg, "\"fallbacks\":") + 12), 2, "%s", ep);

    /* Stop mid-epoch twice (7 and 20 of 26 steps), resuming each time. */
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "%s", dir);
    o.max_steps = 7;
    run(&c, &o, &p1, NULL, QC_ECONFLICT);
    o.resume = true;
    o.max_steps = 20;
    run(&c, &o, &p2, NULL, QC_ECONFLICT);
    o.max_steps = 0;
    run(&c, &o, &p3, &b, QC_OK);
    cr_assert_eq(memcmp(a.params, b.params, (size_t)a.nparams * sizeof(float)), 0,
                 "resumed weights differ");
    char joined[sizeof p1.text * 3];
    snprintf(joined, sizeof joined, "%s%s%s", p1.text, p2.text, p3.text);
    cr_assert_str_eq(joined, straight.text);
    qc_net_free(&a);
    qc_net_free(&b);

    /* Another policy cannot resume from this state. */
    struct qc_train_hooks h = {0};
    struct qc_err err;
    c.scaling.policy = QC_SCALE_POLICY_WMA;
    cr_assert_eq(qc_train_run(&c, &o, &h, NULL, &err), QC_ECORRUPT);
    cr_assert(strstr(err.msg, "scale policy"), "%s", err.msg);
    qc_train_checkpoint_path(path, sizeof path, dir);
    unlink(path);
    rmdir(dir);
}

/* The example of docs/design.md (e5m2, CFG-5, e6m5 accumulators, delay_update block
 * scales) is accepted and runs; here on synthetic data of its shape. */
Test(train, design_example_trains)
{
    static struct qc_spec spec;
    struct qc_train_cfg c;
    struct qc_err err;
    struct sink s = {0};
    struct qc_net net;

    cr_assert_eq(qc_spec_load(&spec, "tests/unit/specs/design.json", &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_train_cfg_from_spec(&c, &spec, "{}", 2, &err), QC_OK, "%s: %s", err.field,
                 err.msg);
    cr_assert_eq(c.scaling.policy, QC_SCALE_POLICY_DELAY_UPDATE);
    cr_assert_eq(c.scaling.history, 16);
    snprintf(c.dataset, sizeof c.dataset, "synthetic:train=128:test=32");
    c.train_limit = c.val_limit = 0;
    c.epochs = 1;
    c.batch = 32;
    c.log_interval = 2;
    run(&c, NULL, &s, &net, QC_OK);
    cr_assert_eq(s.lines, 3, "%s", s.text);
    cr_assert(strstr(s.text, "\"scaling\":{\"scales\":"), "%s", s.text);
    /* Tensor scales put e5m2 amaxes at 2^15, so products of large elements
     * reach 2^30..2^32 while e6m5's max finite is about 2^32: sums of a few
     * overflow (docs/training.md, "What to expect"), and the lines say so. */
    const char *ov = strstr(s.text, "\"overflow_rate\":");
    cr_assert_not_null(ov);
    cr_assert_gt(atof(ov + 16), 0.0, "%s", s.text);
    /* Every line is valid JSON whatever the loss (a NaN loss is null). */
    char *save = NULL;
    for (char *line = strtok_r(s.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char full[sizeof s.text + 2];
        json_error_t je;
        int depth = 0;
        for (const char *q = line; *q; q++)
            depth += (*q == '{') - (*q == '}');
        /* collect() cut a step line's last field, and its closing brace */
        snprintf(full, sizeof full, "%s%s", line, depth > 0 ? "}" : "");
        json_t *j = json_loads(full, 0, &je);
        cr_assert_not_null(j, "%s: %s", je.text, full);
        json_decref(j);
    }
    qc_net_free(&net);
}

/* An overflow in the forward pass of a format without inf (fp8_e4m3 style:
 * `fn`, overflow gives NaN) must reach the loss and the dynamic loss
 * scaler, which skips the step and halves the scale (docs/training.md).
 * conv1 accumulates in e4m3:fn with its range shifted down (bias 15: max
 * 448 / 2^8 = 1.75), so its sums overflow from the first step on; ReLU
 * and max pooling used to turn those NaNs into zeros, and the step went
 * ahead with finite gradients. */
Test(train, e4m3_forward_overflow_is_skipped_by_dynamic_loss_scaling)
{
    struct qc_train_cfg c;
    struct qc_train_opts o = {0};
    struct sink s = {0};
    struct qc_net net;
    struct qc_err err;

    small_cfg(&c, "acc=fp32");
    c.epochs = 1;
    c.log_interval = 2;
    c.loss.kind = QC_LOSS_SCALE_DYNAMIC;
    c.loss.scale = 1024;
    c.loss.growth_interval = 1000;
    o.max_steps = 4;
    snprintf(c.overrides[0].layer, sizeof c.overrides[0].layer, "conv1");
    c.overrides[0].arith = c.arith;
    cr_assert_eq(qc_mac_parse(&c.overrides[0].arith.mac[QC_GEMM_FWD], "acc=e4m3:fn:bias=15", &err),
                 QC_OK, "%s", err.msg);
    c.noverrides = 1;

    run(&c, &o, &s, &net, QC_ECONFLICT);
    /* Every step overflowed: every one skipped, the scale halved each time,
     * and the loss written as null (not finite). */
    cr_assert(strstr(s.text, "\"skipped\":2"), "the first interval skips both steps:\n%s", s.text);
    cr_assert(strstr(s.text, "\"loss_scale\":64"), "1024 halved four times:\n%s", s.text);
    cr_assert(strstr(s.text, "\"train_loss\":null"), "the loss is not finite:\n%s", s.text);
    qc_net_free(&net);
}

/* Step lines carry the planned total of steps and each GEMM layer's rates
 * per group (clip rates under a scale policy); epoch lines keep the sums. */
Test(train, step_lines_carry_per_layer_rates_and_the_planned_steps)
{
    static const char *const layers[] = {"conv1", "conv2", "fc1", "fc2", "fc3"};
    struct qc_train_cfg c;
    struct sink s = {0};
    struct qc_net net;
    int steps = 0;

    scaled_cfg(&c, QC_SCALE_POLICY_DELAY_UPDATE);
    c.epochs = 1;
    run(&c, NULL, &s, &net, QC_OK);
    qc_net_free(&net);
    char *save = NULL;
    for (char *line = strtok_r(s.text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char full[sizeof s.text + 2];
        json_error_t je;
        snprintf(full, sizeof full, "%s%s", line, strstr(line, "\"kind\":\"step\"") ? "}" : "");
        json_t *j = json_loads(full, 0, &je), *lay = json_object_get(j, "layers");
        cr_assert_not_null(j, "%s: %s", je.text, full);
        if (strcmp(json_string_value(json_object_get(j, "kind")), "epoch") == 0) {
            cr_assert_null(lay, "epoch lines keep the sums only");
            json_decref(j);
            continue;
        }
        steps++;
        /* 400 samples in batches of 32: 13 steps per epoch. */
        cr_assert_eq(json_integer_value(json_object_get(j, "total_steps")), 13, "%s", full);
        cr_assert_eq(json_object_size(lay), 5, "%s", full);
        for (size_t i = 0; i < 5; i++) {
            json_t *l = json_object_get(lay, layers[i]);
            cr_assert_not_null(l, "no %s in %s", layers[i], full);
            cr_assert_not_null(json_object_get(l, "fwd"));
            cr_assert_not_null(json_object_get(l, "wgrad"));
            const char *g;
            json_t *rates;
            json_object_foreach(l, g, rates)
            {
                static const char *const keys[] = {"overflow_rate", "underflow_rate",
                                                   "swamping_rate", "clip_rate"};
                cr_assert_eq(json_object_size(rates), 4, "%s.%s", layers[i], g);
                for (size_t k = 0; k < 4; k++) {
                    json_t *v = json_object_get(rates, keys[k]);
                    cr_assert(json_is_number(v), "%s.%s.%s", layers[i], g, keys[k]);
                    cr_assert(json_number_value(v) >= 0 && json_number_value(v) <= 1);
                }
            }
        }
        json_decref(j);
    }
    cr_assert_eq(steps, 4, "steps 4, 8, 12 and the epoch's last, 13");
}
