/* A net's scale policy: one scale state per (layer, GEMM group, operand),
 * and the scaled GEMM. The operands are quantized under their predicted
 * power-of-two scales and handed to the GEMM as already rounded, so the
 * MAC multiplies and accumulates the scaled values exactly as hardware
 * would; the tensor scales (scalar formats) multiply the result afterwards,
 * which is exact because they are powers of two. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "nn_impl.h"

static bool keeps_state(const struct qc_scale_cfg *c)
{
    return c->policy != QC_SCALE_POLICY_NONE && c->policy != QC_SCALE_POLICY_MAX;
}

int qc_nn_arith_check_scaling(const struct qc_nn_arith *a, const struct qc_scale_cfg *c,
                              const char *layer, struct qc_err *err)
{
    const struct qc_format *const tensors[3] = {&a->weights, &a->activations, &a->errors};
    int rc;

    if ((rc = qc_scale_cfg_check(c, err)))
        return rc;
    if (c->policy == QC_SCALE_POLICY_NONE)
        return QC_OK;
    /* Each tensor under each group's MAC: the multiplier's reading is what
     * gets scaled, and the GEMM's operands are fp32 arrays. */
    for (int g = 0; g < QC_GEMM_GROUPS; g++) {
        for (int t = 0; t < 3; t++) {
            struct qc_mac m = a->mac[g];
            if (!qc_scale_applies(tensors[t]))
                continue;
            m.a = m.b = *tensors[t];
            if (qc_mac_resolve(&m, NULL) == QC_OK && !qc_format_fits_f32(&m.a_read))
                return qc_err_set(err, QC_EUNSUPP, "/scaling/blocks/type",
                                  "scaling policy '%s': %s%s%s: %s read by CFG-%d (%s) has "
                                  "values beyond fp32, which a scaled GEMM operand cannot hold",
                                  qc_scale_policy_name(c->policy), layer ? "layer '" : "",
                                  layer ? layer : "the global arithmetic", layer ? "'" : "",
                                  tensors[t]->name, m.cfg, m.a_read.name);
        }
    }
    return QC_OK;
}

int qc_net_set_scaling(struct qc_net *net, const struct qc_scale_cfg *c, struct qc_err *err)
{
    int rc;

    for (int i = 1; i < net->n; i++) {
        const struct qc_layer *l = &net->layers[i];
        if ((l->kind == QC_LAYER_CONV || l->kind == QC_LAYER_LINEAR) &&
            (rc = qc_nn_arith_check_scaling(&l->arith, c, l->name, err)))
            return rc;
    }
    if (net->scale_slots)
        for (int i = 0; i < net->n * QC_NN_SCALE_SLOTS; i++)
            qc_scale_slot_free(&net->scale_slots[i]);
    free(net->scale_slots);
    net->scale_slots = NULL;
    net->scaling = *c;
    if (!keeps_state(c))
        return QC_OK;
    net->scale_slots = calloc((size_t)(net->n * QC_NN_SCALE_SLOTS), sizeof *net->scale_slots);
    if (!net->scale_slots) {
        net->scaling.policy = QC_SCALE_POLICY_NONE;
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the scale state");
    }
    return QC_OK;
}

/* Operand `o` (0: a, 1: b) of the GEMM as `rows` K-contiguous vectors,
 * quantized under its scales into the net's buffer for that operand (kept
 * and grown across calls: *out is borrowed). B is read through the
 * description, so a view works too. */
static int scale_operand(float **out, int32_t *e, const float *x, const struct qc_gemm_desc *d,
                         struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, int o,
                         struct qc_scale_stats *st, struct qc_err *err)
{
    const struct qc_mac *mac = &l->gm[g];
    const int threads = net->be->threads;
    const int slot = ((int)(l - net->layers) * QC_GEMM_GROUPS + (int)g) * 2 + o;
    const int64_t rows = o == 0 ? d->m : d->n, k = d->k;

    if (net->scale_len[o] < rows * k + 1) {
        free(net->scale_buf[o]);
        net->scale_len[o] = 0;
        net->scale_buf[o] = malloc((size_t)(rows * k + 1) * sizeof(float));
        if (!net->scale_buf[o])
            return qc_err_set(err, QC_ENOMEM, "", "out of memory for a scaled GEMM operand");
        net->scale_len[o] = rows * k + 1;
    }
    float *buf = net->scale_buf[o];
    *out = buf;
    if (o == 0) {
        const int64_t lda = qc_gemm_lda(d);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t p = 0; p < k; p++)
                buf[r * k + p] = d->trans_a ? x[p * lda + r] : x[r * lda + p];
    } else {
#pragma omp parallel num_threads(threads)
        {
            const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
            qc_gemm_b_rows(buf + r0 * k, x, d, r0, r1);
        }
    }
    return qc_scale_operand(
        buf, e, buf, rows, k, o == 0 ? &mac->a_read : &mac->b_read, mac->scale_rule, &net->scaling,
        net->scale_slots ? &net->scale_slots[slot] : NULL, net->scale_record, threads, st, err);
}

int qc__nn_gemm_scaled(struct qc_net *net, const struct qc_layer *l, enum qc_gemm_group g, float *c,
                       const float *a, const float *b, const struct qc_gemm_desc *d,
                       struct qc_nn_stats *st, struct qc_err *err)
{
    const struct qc_format *fa, *fb;
    struct qc_scale_stats *ss = st ? &st->scale[g] : NULL;
    struct qc_gemm_desc dd = *d;
    float *as, *bs;
    int32_t ea = 0, eb = 0;
    int rc = QC_OK;

    qc__nn_operands(l, g, &fa, &fb);
    if (qc_scale_applies(fa)) {
        if ((rc = scale_operand(&as, &ea, a, d, net, l, g, 0, ss, err)))
            return rc;
        dd.trans_a = false;
        dd.lda = 0;
        dd.a_rounded = true;
        a = as;
    }
    if (qc_scale_applies(fb)) {
        /* B's reduction vectors are its columns: scaled as B^T's rows. */
        if ((rc = scale_operand(&bs, &eb, b, d, net, l, g, 1, ss, err)))
            return rc;
        dd.trans_b = true;
        dd.ldb = 0;
        dd.b_view = QC_GEMM_B_ARRAY;
        dd.b_conv = NULL;
        dd.b_rounded = true;
        b = bs;
    }
    if ((rc = qc_backend_gemm(net->be, c, a, b, &dd, &l->gm[g], st ? &st->gemm[g] : NULL, err)))
        return rc;
    const int e = ea + eb;
    if (e != 0) {
        /* A power of two: exact, unless the result leaves fp32's normal range. */
        const int64_t ldc = d->ldc ? d->ldc : d->n;
        for (int64_t i = 0; i < d->m; i++)
            for (int64_t j = 0; j < d->n; j++)
                c[i * ldc + j] = ldexpf(c[i * ldc + j], e);
    }
    return QC_OK;
}
