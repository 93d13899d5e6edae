/* The training core's layers: every parameter gradient of small nets that
 * use each layer kind is checked against central finite differences, with
 * an fp64 accumulator so the check measures calculus, not rounding; and the
 * named models build with the expected shapes and parameter counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/model.h"
#include "test_helpers.h"

static struct qc_backend *cpu(void)
{
    struct qc_backend *be;
    struct qc_err err;
    struct qc_backend_opts o = {.threads = 1};
    cr_assert_eq(qc_backend_create(&be, "cpu", &o, &err), QC_OK);
    return be;
}

static void exact_arith(struct qc_net *net)
{
    struct qc_nn_arith a;
    struct qc_err err;

    a.weights = a.activations = a.errors = th_format("fp32");
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&a.mac[g], "acc=fp64", &err), QC_OK);
    cr_assert_eq(qc_net_set_arith(net, &a, &err), QC_OK, "%s", err.msg);
}

static double loss_of(struct qc_net *net, const float *x, const int32_t *y, int64_t nb,
                      int64_t classes, bool bn_train)
{
    struct qc_err err;
    cr_assert_eq(qc_net_forward(net, x, nb, bn_train, NULL, &err), QC_OK, "%s", err.msg);
    float *g = malloc((size_t)(nb * classes) * sizeof(float));
    double l = qc_softmax_xent(g, net->layers[net->n - 1].out, y, nb, classes, 1.0f, NULL);
    free(g);
    return l;
}

/* Analytic gradients of every parameter vs central differences. */
static void grad_check(struct qc_net *net, int64_t nb, int64_t classes, uint64_t seed)
{
    const struct qc_layer *in = &net->layers[0];
    const int64_t nx = nb * in->c * in->h * in->w;
    float *x = malloc((size_t)nx * sizeof(float));
    int32_t *y = malloc((size_t)nb * sizeof(int32_t));
    struct qc_err err;
    uint64_t s = seed;

    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)(th_unit(&s) * 2 - 1);
    for (int64_t i = 0; i < nb; i++)
        y[i] = (int32_t)(th_next(&s) % (uint64_t)classes);
    qc_net_init_params(net, seed);
    /* Nudge every parameter off any special value (zero biases, unit gammas). */
    for (int64_t i = 0; i < net->nparams; i++)
        net->params[i] += (float)(0.05 * (th_unit(&s) - 0.5));

    cr_assert_eq(qc_net_forward(net, x, nb, true, NULL, &err), QC_OK, "%s", err.msg);
    struct qc_layer *top = &net->layers[net->n - 1];
    qc_softmax_xent(top->grad, top->out, y, nb, classes, 1.0f, NULL);
    cr_assert_eq(qc_net_backward(net, nb, NULL, &err), QC_OK, "%s", err.msg);
    float *analytic = malloc((size_t)net->nparams * sizeof(float));
    memcpy(analytic, net->grads, (size_t)net->nparams * sizeof(float));

    const double h = 1e-3; /* small enough that no ReLU or max flips */
    int checked = 0;
    for (int64_t i = 0; i < net->nparams; i += 1 + net->nparams / 150) {
        const float p0 = net->params[i];
        net->params[i] = (float)(p0 + h);
        double lp = loss_of(net, x, y, nb, classes, true);
        net->params[i] = (float)(p0 - h);
        double lm = loss_of(net, x, y, nb, classes, true);
        net->params[i] = p0;
        const double numeric = (lp - lm) / (2 * h);
        const double tol = 2e-3 + 2e-2 * fabs(numeric);
        cr_assert(fabs(numeric - analytic[i]) <= tol, "param %lld: analytic %.6g vs numeric %.6g",
                  (long long)i, (double)analytic[i], numeric);
        checked++;
    }
    cr_assert_gt(checked, 20);
    free(analytic);
    free(x);
    free(y);
}

Test(nn, grad_conv_relu_maxpool_linear)
{
    struct qc_net net;
    struct qc_err err;
    int last;
    struct qc_backend *be = cpu();

    cr_assert_eq(qc_net_init(&net, 2, 7, 6, 3, be), QC_OK);
    cr_assert_geq(last = qc_net_add_conv(&net, "c1", 0, 3, 3, 1, 1, true, &err), 0, "%s", err.msg);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_RELU, "r1", last, 0, 0, &err), 0);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_MAXPOOL, "p1", last, 2, 2, &err), 0);
    cr_assert_geq(last = qc_net_add_conv(&net, "c2", last, 4, 2, 1, 0, true, &err), 0);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_FLATTEN, "f", last, 0, 0, &err), 0);
    cr_assert_geq(last = qc_net_add_linear(&net, "fc", last, 5, &err), 0);
    cr_assert_eq(qc_net_finalize(&net, &err), QC_OK);
    exact_arith(&net);
    grad_check(&net, 3, 5, 11);
    qc_net_free(&net);
    qc_backend_destroy(be);
}

Test(nn, grad_strided_conv_batchnorm_residual_avgpool)
{
    struct qc_net net;
    struct qc_err err;
    int last, main_path, sc;
    struct qc_backend *be = cpu();

    cr_assert_eq(qc_net_init(&net, 2, 6, 6, 4, be), QC_OK);
    cr_assert_geq(last = qc_net_add_conv(&net, "c1", 0, 3, 3, 2, 1, false, &err), 0);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_BATCHNORM, "bn1", last, 0, 0, &err), 0);
    cr_assert_geq(main_path = qc_net_add_simple(&net, QC_LAYER_RELU, "r1", last, 0, 0, &err), 0);
    cr_assert_geq(sc = qc_net_add_conv(&net, "sc", 0, 3, 1, 2, 0, false, &err), 0);
    cr_assert_geq(last = qc_net_add_residual(&net, "add", main_path, sc, &err), 0, "%s", err.msg);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_AVGPOOL, "avg", last, 2, 1, &err), 0);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_AVGPOOL, "gap", last, 0, 0, &err), 0,
                  "%s", err.msg);
    cr_assert_geq(last = qc_net_add_simple(&net, QC_LAYER_FLATTEN, "f", last, 0, 0, &err), 0);
    cr_assert_geq(last = qc_net_add_linear(&net, "fc", last, 3, &err), 0);
    cr_assert_eq(qc_net_finalize(&net, &err), QC_OK);
    exact_arith(&net);
    grad_check(&net, 4, 3, 12);
    qc_net_free(&net);
    qc_backend_destroy(be);
}

Test(nn, grad_mlp)
{
    struct qc_net net;
    struct qc_err err;
    struct qc_model_desc m = {.arch = "mlp", .hidden = {7, 6}, .nhidden = 2, .width = 1};
    struct qc_backend *be = cpu();

    cr_assert_eq(qc_model_build(&net, &m, 1, 4, 4, 3, 5, be, &err), QC_OK, "%s", err.msg);
    exact_arith(&net);
    grad_check(&net, 5, 3, 13);
    qc_net_free(&net);
    qc_backend_destroy(be);
}

Test(nn, models_have_the_expected_shapes)
{
    struct qc_net net;
    struct qc_err err;
    struct qc_backend *be = cpu();
    struct qc_model_desc lenet = {.arch = "lenet5", .width = 1};

    cr_assert_eq(qc_model_build(&net, &lenet, 1, 28, 28, 10, 2, be, &err), QC_OK, "%s", err.msg);
    /* 6*25+6 + 16*150+16 + 400*120+120 + 120*84+84 + 84*10+10 */
    cr_assert_eq(net.nparams, 61706, "lenet5 has %lld parameters", (long long)net.nparams);
    cr_assert_eq(net.layers[net.n - 1].c, 10);
    qc_net_free(&net);

    struct qc_model_desc r20 = {.arch = "resnet", .depth = 20, .width = 1};
    cr_assert_eq(qc_model_build(&net, &r20, 3, 32, 32, 10, 2, be, &err), QC_OK, "%s", err.msg);
    /* ResNet-20 (option B shortcuts) has about 0.27M parameters. */
    cr_assert(net.nparams > 260000 && net.nparams < 280000, "%lld", (long long)net.nparams);
    cr_assert_geq(qc_net_find(&net, "s3b3c2"), 0);
    /* Gradients whose live spans in the backward pass never meet share
     * buffers: a deep net needs a handful, not one per layer (the gradient
     * checks above and the training tests check that sharing changes no
     * result). */
    cr_assert_leq(net.ngrad_bufs, net.n / 4, "%d gradient buffers for %d layers", net.ngrad_bufs,
                  net.n);
    for (int i = 1; i < net.n; i++)
        cr_assert_neq(net.layers[i].grad, net.layers[net.layers[i].in[0]].grad,
                      "layer %d shares its gradient buffer with its input's", i);
    qc_net_free(&net);

    cr_assert_eq(qc_model_build(&net, &r20, 1, 28, 28, 10, 2, be, &err), QC_OK, "%s", err.msg);
    qc_net_free(&net);
    struct qc_model_desc vgg = {.arch = "vgg", .width = 1};
    cr_assert_eq(qc_model_build(&net, &vgg, 1, 28, 28, 10, 2, be, &err), QC_OK, "%s", err.msg);
    qc_net_free(&net);

    struct qc_model_desc bad = {.arch = "resnet", .depth = 21, .width = 1};
    cr_assert_eq(qc_model_build(&net, &bad, 3, 32, 32, 10, 2, be, &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "/model/depth");
    struct qc_model_desc unknown = {.arch = "alexnet", .width = 1};
    cr_assert_eq(qc_model_build(&net, &unknown, 3, 32, 32, 10, 2, be, &err), QC_EINVAL);
    cr_assert(strstr(err.msg, "alexnet"), "%s", err.msg);
    qc_backend_destroy(be);
}

/* A NaN (an overflow in a format without inf, fp8_e4m3) must survive ReLU
 * and max pooling as IEEE max with NaN propagation gives it, forward and
 * backward, so that it reaches the loss and the loss scaler. */
Test(nn, relu_and_maxpool_propagate_nan)
{
    struct qc_net net;
    struct qc_err err;
    struct qc_backend *be = cpu();
    const float nan = NAN;
    /* 1 x 4 x 4, pooled 2x2: windows {0,1,4,5} {2,3,6,7} {8,9,12,13} {10,11,14,15}. */
    const float x[16] = {5, nan, -1, -2, 1, 2, -3, -4, -5, -6, 7, 8, -7, -INFINITY, nan, 9};

    cr_assert_eq(qc_net_init(&net, 1, 4, 4, 1, be), QC_OK);
    /* A 1x1 convolution with weight 1 first (an identity with a parameter),
     * so that ReLU's backward runs: the net passes no gradient on where no
     * layer before has parameters. */
    int id = qc_net_add_conv(&net, "id", 0, 1, 1, 1, 0, false, &err);
    cr_assert_geq(id, 0, "%s", err.msg);
    int relu = qc_net_add_simple(&net, QC_LAYER_RELU, "relu", id, 0, 0, &err);
    cr_assert_geq(relu, 0, "%s", err.msg);
    int pool = qc_net_add_simple(&net, QC_LAYER_MAXPOOL, "pool", relu, 2, 2, &err);
    cr_assert_geq(pool, 0, "%s", err.msg);
    cr_assert_eq(qc_net_finalize(&net, &err), QC_OK, "%s", err.msg);
    exact_arith(&net);
    net.params[net.layers[id].w_off] = 1.0f;
    cr_assert_eq(qc_net_forward(&net, x, 1, true, NULL, &err), QC_OK, "%s", err.msg);

    const float *r = net.layers[relu].out;
    for (int i = 0; i < 16; i++) {
        float want = isnan(x[i]) ? nan : x[i] > 0 ? x[i] : 0.0f;
        cr_expect(th_same_f(r[i], want), "relu(%g) = %g, want %g", (double)x[i], (double)r[i],
                  (double)want);
    }
    const float *p = net.layers[pool].out;
    cr_expect(isnan(p[0]), "a window holding NaN (after a larger 5) pools to NaN, got %g",
              (double)p[0]);
    cr_expect(th_same_f(p[1], 0.0f), "%g", (double)p[1]);
    cr_expect(th_same_f(p[2], 0.0f), "%g", (double)p[2]);
    cr_expect(isnan(p[3]), "a NaN before a larger 9 still wins, got %g", (double)p[3]);
    cr_expect_eq(net.layers[pool].argmax[0], 1, "the gradient goes to the NaN");
    cr_expect_eq(net.layers[pool].argmax[3], 14);

    /* Backward: the NaN positions get NaN gradients, the others the usual. */
    for (int i = 0; i < 4; i++)
        net.layers[pool].grad[i] = 1.0f;
    cr_assert_eq(qc_net_backward(&net, 1, NULL, &err), QC_OK, "%s", err.msg);
    const float *g = net.layers[id].grad;
    cr_expect(isnan(g[1]) && isnan(g[14]), "relu' at NaN is NaN: %g %g", (double)g[1],
              (double)g[14]);
    cr_expect(th_same_f(g[0], 0.0f) && th_same_f(g[15], 0.0f), "%g %g", (double)g[0],
              (double)g[15]);
    qc_net_free(&net);
    qc_backend_destroy(be);
}

/* One training step of LeNet-5 with narrow arithmetic under a scale policy,
 * counted with or without per-layer counts; returns the group sums. */
static void counted_step(struct qc_nn_stats *st, struct qc_nn_stats *lay, int *nlayers)
{
    struct qc_backend *be = cpu();
    struct qc_model_desc lenet = {.arch = "lenet5", .width = 1};
    struct qc_scale_cfg sc;
    struct qc_nn_arith a;
    struct qc_net net;
    struct qc_err err;
    const int64_t nb = 4;
    float x[4 * 28 * 28];
    int32_t y[4];
    uint64_t s = 7;

    cr_assert_eq(qc_model_build(&net, &lenet, 1, 28, 28, 10, nb, be, &err), QC_OK, "%s", err.msg);
    a.weights = th_format("e4m3");
    a.activations = th_format("mxfp8_e4m3");
    a.errors = th_format("e5m2");
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        cr_assert_eq(qc_mac_parse(&a.mac[g], "cfg=5,acc=e6m5,chunk=8", &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_net_set_arith(&net, &a, &err), QC_OK, "%s", err.msg);
    qc_scale_cfg_init(&sc);
    sc.policy = QC_SCALE_POLICY_DELAY_UPDATE;
    cr_assert_eq(qc_net_set_scaling(&net, &sc, &err), QC_OK, "%s", err.msg);
    qc_net_init_params(&net, 3);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)th_spread(&s, -6, 3) * (th_next(&s) & 1 ? 1.0f : -1.0f);
    for (int i = 0; i < nb; i++)
        y[i] = (int32_t)(th_next(&s) % 10);
    memset(st, 0, sizeof *st);
    net.layer_stats = lay;
    if (lay)
        memset(lay, 0, (size_t)net.n * sizeof *lay);
    cr_assert_eq(qc_net_forward(&net, x, nb, true, st, &err), QC_OK, "%s", err.msg);
    struct qc_layer *top = &net.layers[net.n - 1];
    qc_softmax_xent(top->grad, top->out, y, nb, 10, 1024.0f, NULL);
    cr_assert_eq(qc_net_backward(&net, nb, st, &err), QC_OK, "%s", err.msg);
    /* An evaluation pass without stats counts nowhere. */
    cr_assert_eq(qc_net_forward(&net, x, nb, false, NULL, &err), QC_OK, "%s", err.msg);
    *nlayers = net.n;
    net.layer_stats = NULL;
    qc_net_free(&net);
    qc_backend_destroy(be);
}

Test(nn, per_layer_counts_add_up_to_the_group_sums)
{
    struct qc_nn_stats plain, st, sum, lay[QC_NN_MAX_LAYERS];
    int n, gemm_layers = 0;

    counted_step(&plain, NULL, &n);
    counted_step(&st, lay, &n);
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < n; i++) {
        bool any = false;
        for (int g = 0; g < QC_GEMM_GROUPS; g++) {
            qc_round_stats_add(&sum.gemm[g], &lay[i].gemm[g]);
            qc_scale_stats_add(&sum.scale[g], &lay[i].scale[g]);
            any = any || lay[i].gemm[g].ops > 0;
        }
        gemm_layers += any;
    }
    cr_assert_eq(gemm_layers, 5, "conv1, conv2, fc1..fc3 count; %d layers did", gemm_layers);
    /* Counting per layer changes neither the arithmetic nor the sums. */
    cr_assert_eq(memcmp(&plain, &st, sizeof st), 0, "the sums moved with per-layer counts");
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        cr_assert(th_same_stats(&sum.gemm[g], &st.gemm[g]), "group %d: MAC events", g);
        cr_assert_eq(memcmp(&sum.scale[g], &st.scale[g], sizeof sum.scale[g]), 0,
                     "group %d: scale events", g);
        cr_assert_gt(st.gemm[g].ops, 0);
    }
    cr_assert_gt(st.scale[QC_GEMM_FWD].elements, 0, "the policy scaled something");
    cr_assert_gt(st.gemm[QC_GEMM_FWD].swamping + st.gemm[QC_GEMM_BWD].underflow, 0,
                 "the narrow accumulator had events to count");
}
