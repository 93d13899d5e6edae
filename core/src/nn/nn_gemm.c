/* The one GEMM entry of the layers: applies a layer's resolved MAC for one
 * GEMM group, routes scaled operands through nn_scale.c, and names the layer
 * in any error. Its own file so that the passes (nn_pass.c) and the layers
 * (nn_conv.c, nn_linear.c) both call down into it and never into each other. */
#include <stdio.h>
#include <string.h>

#include "nn_impl.h"

int qc__nn_gemm(struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, float *c,
                const float *a, const float *b, struct qc_gemm_desc *d, struct qc_nn_stats *st,
                struct qc_err *err)
{
    const struct qc_format *fa, *fb;
    struct qc_nn_stats *lay = st && net->layer_stats ? &net->layer_stats[l - net->layers] : NULL;
    struct qc_nn_stats one, *use = st;
    int rc;

    /* With per-layer counts, this GEMM counts alone, then adds to both. */
    if (lay) {
        memset(&one, 0, sizeof one);
        use = &one;
    }
    d->sr_stream = net->sr_stream++;
    qc__nn_operands(l, g, &fa, &fb);
    if (net->scaling.policy != QC_SCALE_POLICY_NONE &&
        (qc_scale_applies(fa) || qc_scale_applies(fb)))
        rc = qc__nn_gemm_scaled(net, l, g, c, a, b, d, use, err);
    else
        rc = qc_backend_gemm(net->be, c, a, b, d, &l->gm[g], use ? &use->gemm[g] : NULL, err);
    if (lay) {
        qc_round_stats_add(&st->gemm[g], &one.gemm[g]);
        qc_scale_stats_add(&st->scale[g], &one.scale[g]);
        qc_round_stats_add(&lay->gemm[g], &one.gemm[g]);
        qc_scale_stats_add(&lay->scale[g], &one.scale[g]);
    }
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return qc_err_set(err, rc, err->field, "layer '%s': %s", l->name, msg);
    }
    return QC_OK;
}
