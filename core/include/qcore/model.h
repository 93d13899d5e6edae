/* Models by name: the architectures the studies train, built as qc_net
 * graphs for any input shape they fit (1x28x28 and 3x32x32 among them). */
#ifndef QCORE_MODEL_H
#define QCORE_MODEL_H

#include "qcore/nn.h"

#define QC_MODEL_MAX_HIDDEN 16

struct qc_model_desc {
    char arch[16];                       /* "mlp", "lenet5", "resnet", "vgg" */
    int64_t hidden[QC_MODEL_MAX_HIDDEN]; /* mlp hidden widths */
    int nhidden;
    int depth; /* resnet: 6n+2 (20, 32, 56) */
    int width; /* channel multiplier (resnet, vgg), >= 1 */
};

/* Builds and finalizes `net` (see qc_net_init) for inputs c x h x w and
 * `classes` outputs. Layer names are stable ("conv1", "fc3", "s2b1c1"...)
 * so specs can override per layer. Errors name the offending field. */
int qc_model_build(struct qc_net *net, const struct qc_model_desc *m, int64_t c, int64_t h,
                   int64_t w, int64_t classes, int64_t batch, struct qc_backend *be,
                   struct qc_err *err);

#endif
