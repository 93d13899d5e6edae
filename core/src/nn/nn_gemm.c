/* The one GEMM entry of the layers: applies a layer's resolved MAC for one
 * GEMM group, routes scaled operands through nn_scale.c, and names the layer
 * in any error. Its own file so that the passes (nn_pass.c) and the layers
 * (nn_conv.c, nn_linear.c) both call down into it and never into each other. */
#include <stdio.h>

#include "nn_impl.h"

int qc__nn_gemm(struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, float *c,
                const float *a, const float *b, struct qc_gemm_desc *d, struct qc_nn_stats *st,
                struct qc_err *err)
{
    const struct qc_format *fa, *fb;
    int rc;

    d->sr_stream = net->sr_stream++;
    qc__nn_operands(l, g, &fa, &fb);
    if (net->scaling.policy != QC_SCALE_POLICY_NONE &&
        (qc_scale_applies(fa) || qc_scale_applies(fb)))
        rc = qc__nn_gemm_scaled(net, l, g, c, a, b, d, st, err);
    else
        rc = qc_backend_gemm(net->be, c, a, b, d, &l->gm[g], st ? &st->gemm[g] : NULL, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return qc_err_set(err, rc, err->field, "layer '%s': %s", l->name, msg);
    }
    return QC_OK;
}
