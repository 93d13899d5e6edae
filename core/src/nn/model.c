/* The named architectures, as sequences of qc_net layers. Each builder is a
 * few lines of layer calls; the graph code checks every shape. */
#include "qcore/model.h"

#include <stdio.h>
#include <string.h>

/* Shorthands that stop at the first error (the net keeps err). */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((last = (expr)) < 0)                                                                   \
            return last;                                                                           \
    } while (0)

static int build_mlp(struct qc_net *net, const struct qc_model_desc *m, int64_t classes,
                     struct qc_err *err)
{
    int last;
    char name[QC_NN_NAME_MAX];

    if (m->nhidden < 1)
        return qc_err_set(err, QC_EINVAL, "/model/hidden", "mlp needs at least one hidden layer");
    TRY(qc_net_add_simple(net, QC_LAYER_FLATTEN, "flatten", 0, 0, 0, err));
    for (int i = 0; i < m->nhidden; i++) {
        snprintf(name, sizeof name, "fc%d", i + 1);
        TRY(qc_net_add_linear(net, name, last, m->hidden[i], err));
        snprintf(name, sizeof name, "relu%d", i + 1);
        TRY(qc_net_add_simple(net, QC_LAYER_RELU, name, last, 0, 0, err));
    }
    snprintf(name, sizeof name, "fc%d", m->nhidden + 1);
    TRY(qc_net_add_linear(net, name, last, classes, err));
    return last;
}

static int build_lenet5(struct qc_net *net, int64_t classes, struct qc_err *err)
{
    int last;
    /* 28x28 inputs are padded to LeNet's 32x32 field by the first conv. */
    const int64_t pad = net->layers[0].h < 32 ? 2 : 0;

    TRY(qc_net_add_conv(net, "conv1", 0, 6, 5, 1, pad, true, err));
    TRY(qc_net_add_simple(net, QC_LAYER_RELU, "relu1", last, 0, 0, err));
    TRY(qc_net_add_simple(net, QC_LAYER_MAXPOOL, "pool1", last, 2, 2, err));
    TRY(qc_net_add_conv(net, "conv2", last, 16, 5, 1, 0, true, err));
    TRY(qc_net_add_simple(net, QC_LAYER_RELU, "relu2", last, 0, 0, err));
    TRY(qc_net_add_simple(net, QC_LAYER_MAXPOOL, "pool2", last, 2, 2, err));
    TRY(qc_net_add_simple(net, QC_LAYER_FLATTEN, "flatten", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc1", last, 120, err));
    TRY(qc_net_add_simple(net, QC_LAYER_RELU, "relu3", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc2", last, 84, err));
    TRY(qc_net_add_simple(net, QC_LAYER_RELU, "relu4", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc3", last, classes, err));
    return last;
}

/* conv -> batchnorm (-> relu), named prefix+"", prefix+"bn", prefix+"relu". */
static int conv_bn(struct qc_net *net, const char *prefix, int from, int64_t oc, int64_t k,
                   int64_t stride, bool relu, struct qc_err *err)
{
    char name[QC_NN_NAME_MAX];
    int last;

    TRY(qc_net_add_conv(net, prefix, from, oc, k, stride, k / 2, false, err));
    snprintf(name, sizeof name, "%sbn", prefix);
    TRY(qc_net_add_simple(net, QC_LAYER_BATCHNORM, name, last, 0, 0, err));
    if (relu) {
        snprintf(name, sizeof name, "%srelu", prefix);
        TRY(qc_net_add_simple(net, QC_LAYER_RELU, name, last, 0, 0, err));
    }
    return last;
}

static int build_resnet(struct qc_net *net, const struct qc_model_desc *m, int64_t classes,
                        struct qc_err *err)
{
    int last;
    char name[QC_NN_NAME_MAX];

    if (m->depth < 8 || (m->depth - 2) % 6 != 0)
        return qc_err_set(err, QC_EINVAL, "/model/depth",
                          "resnet depth %d is not 6n+2 (20, 32, 56, ...)", m->depth);
    const int blocks = (m->depth - 2) / 6;
    int64_t ch = 16 * m->width;
    TRY(conv_bn(net, "conv1", 0, ch, 3, 1, true, err));
    for (int s = 1; s <= 3; s++) {
        for (int b = 1; b <= blocks; b++) {
            const int64_t stride = (s > 1 && b == 1) ? 2 : 1;
            const int64_t oc = 16 * m->width << (s - 1);
            const int block_in = last;
            char p1[QC_NN_NAME_MAX], p2[QC_NN_NAME_MAX];
            snprintf(p1, sizeof p1, "s%db%dc1", s, b);
            snprintf(p2, sizeof p2, "s%db%dc2", s, b);
            TRY(conv_bn(net, p1, block_in, oc, 3, stride, true, err));
            TRY(conv_bn(net, p2, last, oc, 3, 1, false, err));
            const int main_out = last;
            int shortcut = block_in;
            if (stride != 1 || oc != ch) { /* projection shortcut */
                snprintf(name, sizeof name, "s%db%dsc", s, b);
                TRY(conv_bn(net, name, block_in, oc, 1, stride, false, err));
                shortcut = last;
            }
            snprintf(name, sizeof name, "s%db%dadd", s, b);
            TRY(qc_net_add_residual(net, name, main_out, shortcut, err));
            snprintf(name, sizeof name, "s%db%drelu", s, b);
            TRY(qc_net_add_simple(net, QC_LAYER_RELU, name, last, 0, 0, err));
            ch = oc;
        }
    }
    TRY(qc_net_add_simple(net, QC_LAYER_AVGPOOL, "gap", last, 0, 0, err));
    TRY(qc_net_add_simple(net, QC_LAYER_FLATTEN, "flatten", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc", last, classes, err));
    return last;
}

static int build_vgg(struct qc_net *net, const struct qc_model_desc *m, int64_t classes,
                     struct qc_err *err)
{
    int last = 0;
    char name[QC_NN_NAME_MAX];

    for (int s = 1; s <= 3; s++) {
        const int64_t oc = 32 * m->width << (s - 1);
        for (int c = 1; c <= 2; c++) {
            snprintf(name, sizeof name, "s%dc%d", s, c);
            TRY(conv_bn(net, name, last, oc, 3, 1, true, err));
        }
        snprintf(name, sizeof name, "pool%d", s);
        TRY(qc_net_add_simple(net, QC_LAYER_MAXPOOL, name, last, 2, 2, err));
    }
    TRY(qc_net_add_simple(net, QC_LAYER_FLATTEN, "flatten", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc1", last, 256, err));
    TRY(qc_net_add_simple(net, QC_LAYER_RELU, "relu", last, 0, 0, err));
    TRY(qc_net_add_linear(net, "fc2", last, classes, err));
    return last;
}

int qc_model_build(struct qc_net *net, const struct qc_model_desc *m, int64_t c, int64_t h,
                   int64_t w, int64_t classes, int64_t batch, struct qc_backend *be,
                   struct qc_err *err)
{
    int rc;

    if (qc_net_init(net, c, h, w, batch, be))
        return qc_err_set(err, QC_EINVAL, "/train/batch_size", "bad input shape or batch size");
    if (m->width < 1 || m->width > 64)
        return qc_err_set(err, QC_EINVAL, "/model/width", "width %d outside 1..64", m->width);
    if (strcmp(m->arch, "mlp") == 0)
        rc = build_mlp(net, m, classes, err);
    else if (strcmp(m->arch, "lenet5") == 0)
        rc = build_lenet5(net, classes, err);
    else if (strcmp(m->arch, "resnet") == 0)
        rc = build_resnet(net, m, classes, err);
    else if (strcmp(m->arch, "vgg") == 0)
        rc = build_vgg(net, m, classes, err);
    else
        rc = qc_err_set(err, QC_EINVAL, "/model/arch",
                        "unknown model '%s' (mlp, lenet5, resnet, vgg)", m->arch);
    if (rc < 0) {
        if (err && err->field[0] == '\0')
            snprintf(err->field, sizeof err->field, "/model");
        return rc;
    }
    return qc_net_finalize(net, err);
}
