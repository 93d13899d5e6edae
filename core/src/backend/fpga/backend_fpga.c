/* The FPGA backend. An emulated board computes every GEMM with the core's
 * exact CPU GEMM (the MAC array's results equal it bit for bit: the array
 * accumulates in the MAC semantics' order, which tests/hw checks on the
 * RTL) and charges the board's cycle model (board.h) for it. A real board
 * (an xclbin named at creation) runs the GEMM through XRT instead, and is
 * charged the same model. Quantization runs on the host either way, as the
 * board's host program does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "fpga_impl.h"
#include "qcore/board.h"
#include "qcore/cpu.h"
#include "qcore/gemm_cpu.h"

struct fpga_backend {
    struct qc_backend base; /* first: the registry frees the struct */
    struct qc_board board;
    enum qc_scale_policy policy;
    struct qc__xrt *xrt;   /* NULL: emulated */
    struct qc_gemm_ws *ws; /* the emulated GEMM's scratch, kept as the cpu backend keeps it */
    bool dry_run;
    uint64_t cycles, macs;
};

static int charge(struct fpga_backend *f, const struct qc_gemm_desc *d, const struct qc_mac *mac,
                  struct qc_err *err)
{
    struct qc_board_cost cost;
    int rc = qc_board_gemm_cost(&cost, &f->board, d->m, d->n, d->k, mac, f->policy, err);

    if (!rc) {
        f->cycles += cost.cycles;
        f->macs += cost.macs;
    }
    return rc;
}

/* A real board: the operands rounded on the host to the multiplier's
 * reading, then the kernel. Only dense, scalar-format operands: the
 * kernel's contract (docs/fpga.md) has no strides and no block scales. */
static int xrt_gemm(struct fpga_backend *f, float *c, const float *a, const float *b,
                    const struct qc_gemm_desc *d, const struct qc_mac *mac,
                    struct qc_round_stats *st, struct qc_err *err)
{
    float *aq = NULL, *bq = NULL;
    struct qc_round rne;
    int rc;

    if (d->trans_a || d->trans_b || qc_gemm_lda(d) != d->k || qc_gemm_ldb(d) != d->n ||
        qc_gemm_ldc(d) != d->n || !qc_format_is_scalar(&mac->a_read) ||
        !qc_format_is_scalar(&mac->b_read) || st)
        return qc_err_set(err, QC_EUNSUPP, "device",
                          "the board's qgemm kernel takes dense scalar-format operands and keeps "
                          "no counters; this GEMM needs the emulated board");
    qc_round_init(&rne, QC_ROUND_RNE);
    aq = malloc((size_t)(d->m * d->k + 1) * sizeof(float));
    bq = malloc((size_t)(d->k * d->n + 1) * sizeof(float));
    if (!aq || !bq) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for the board's operands");
        goto out;
    }
    if ((rc = qc_quantize_f32(aq, a, d->m, d->k, &mac->a_read, &rne, mac->scale_rule, 0, NULL,
                              err)) ||
        (rc =
             qc_quantize_f32(bq, b, d->k, d->n, &mac->b_read, &rne, mac->scale_rule, 0, NULL, err)))
        goto out;
    rc = qc__xrt_gemm(f->xrt, c, d->a_rounded ? a : aq, d->b_rounded ? b : bq, d->m, d->n, d->k,
                      err);
out:
    free(aq);
    free(bq);
    return rc;
}

static int fpga_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                     const struct qc_gemm_desc *d, const struct qc_mac *mac,
                     struct qc_round_stats *st, struct qc_err *err)
{
    struct fpga_backend *f = (struct fpga_backend *)be;
    int rc;

    if ((rc = qc_gemm_check(d, mac, err)) || (rc = charge(f, d, mac, err)))
        return rc;
    if (f->xrt)
        return xrt_gemm(f, c, a, b, d, mac, st, err);
    if (f->dry_run) {
        for (int64_t i = 0; i < d->m; i++)
            memset(c + i * qc_gemm_ldc(d), 0, (size_t)d->n * sizeof(float));
        if (st)
            st->ops += (uint64_t)d->m * (uint64_t)d->n * (uint64_t)d->k;
        return QC_OK;
    }
    return qc_gemm_cpu_run(c, a, b, d, mac, be->threads, NULL, f->ws, st, err);
}

static int fpga_quantize_f32(struct qc_backend *be, float *out, const float *in, int64_t rows,
                             int64_t cols, const struct qc_format *f, const struct qc_round *r,
                             enum qc_scale_rule rule, uint64_t first_index,
                             struct qc_round_stats *st, struct qc_err *err)
{
    (void)be;
    return qc_quantize_f32(out, in, rows, cols, f, r, rule, first_index, st, err);
}

static void fpga_timing(struct qc_backend *be, struct qc_backend_timing *out)
{
    const struct fpga_backend *f = (const struct fpga_backend *)be;

    out->cycles = f->cycles;
    out->macs = f->macs;
    out->clock_hz = f->board.clock_hz;
    out->units = (int64_t)f->board.rows * f->board.cols;
}

static void fpga_destroy(struct qc_backend *be)
{
    qc__xrt_close(((struct fpga_backend *)be)->xrt);
    qc_gemm_ws_destroy(((struct fpga_backend *)be)->ws);
}

static const struct qc_backend_i fpga_backend_i = {
    .kind = "fpga",
    .gemm = fpga_gemm,
    .quantize_f32 = fpga_quantize_f32,
    .destroy = fpga_destroy,
    .timing = fpga_timing,
};

int qc__backend_fpga_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                            struct qc_err *err)
{
    struct fpga_backend *f;
    int rc;

    if (!opts || !opts->board || !opts->board[0])
        return qc_err_set(err, QC_EINVAL, "/device/board",
                          "device 'fpga' needs a board (hw/boards/boards.conf names them)");
    if (opts->scale_policy < QC_SCALE_POLICY_NONE || opts->scale_policy > QC_SCALE_POLICY_WMA)
        return qc_err_set(err, QC_EINVAL, "/scaling/blocks/type", "scale policy %d out of range",
                          opts->scale_policy);
    f = calloc(1, sizeof *f);
    if (!f || !(f->ws = qc_gemm_ws_create())) {
        free(f);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the FPGA backend");
    }
    if ((rc = qc_board_find(&f->board, opts->board, err)))
        goto fail;
    if (opts->xclbin && opts->xclbin[0] &&
        (rc = qc__xrt_open(&f->xrt, opts->device, opts->xclbin, err)))
        goto fail;
    f->base.vt = &fpga_backend_i;
    f->base.threads = opts->threads > 0 ? opts->threads : qc_cpu_count();
    f->policy = (enum qc_scale_policy)opts->scale_policy;
    f->dry_run = opts->dry_run && !f->xrt;
    snprintf(f->base.device, sizeof f->base.device, "fpga %s (%s, %dx%d at %g MHz)", f->board.name,
             f->xrt ? "xrt" : "emulated", f->board.rows, f->board.cols, f->board.clock_hz / 1e6);
    *out = &f->base;
    return QC_OK;
fail:
    qc_gemm_ws_destroy(f->ws);
    free(f);
    return rc;
}

int qc__backend_fpga_devices(struct qc_backend_device *out, int max, struct qc_err *why)
{
    struct qc_fpga_device devs[16];
    const int n = qc__xrt_devices(devs, max < 16 ? max : 16, why);

    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].index = devs[i].index;
        snprintf(out[i].name, sizeof out[i].name, "%s", devs[i].name);
    }
    return n;
}

int qc_fpga_devices(struct qc_fpga_device *out, int max, struct qc_err *why)
{
    return qc__xrt_devices(out, max, why);
}

const char *qc_fpga_xrt_version(void)
{
    return qc__xrt_version();
}
