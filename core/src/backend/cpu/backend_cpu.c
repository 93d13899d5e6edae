/* The CPU backend: the vtable over the CPU GEMM (gemm_cpu.c) and the SIMD
 * quantizer, with the thread count chosen at creation and one GEMM
 * workspace kept for the backend's life, so that a training step's GEMMs
 * reuse their scratch instead of allocating it. */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "qcore/cpu.h"
#include "qcore/gemm_cpu.h"

struct cpu_backend {
    struct qc_backend base; /* first: the registry frees the struct */
    struct qc_gemm_ws *ws;
};

static int cpu_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                    const struct qc_gemm_desc *d, const struct qc_mac *mac,
                    struct qc_round_stats *st, struct qc_err *err)
{
    struct cpu_backend *cb = (struct cpu_backend *)be;
    return qc_gemm_cpu_run(c, a, b, d, mac, be->threads, NULL, cb->ws, st, err);
}

static void cpu_destroy(struct qc_backend *be)
{
    qc_gemm_ws_destroy(((struct cpu_backend *)be)->ws);
}

static int cpu_quantize_f32(struct qc_backend *be, float *out, const float *in, int64_t rows,
                            int64_t cols, const struct qc_format *f, const struct qc_round *r,
                            enum qc_scale_rule rule, uint64_t first_index,
                            struct qc_round_stats *st, struct qc_err *err)
{
    (void)be;
    return qc_quantize_f32(out, in, rows, cols, f, r, rule, first_index, st, err);
}

static const struct qc_backend_i cpu_backend_i = {
    .kind = "cpu",
    .gemm = cpu_gemm,
    .quantize_f32 = cpu_quantize_f32,
    .destroy = cpu_destroy,
    .timing = NULL,
};

int qc__backend_cpu_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                           struct qc_err *err)
{
    struct cpu_backend *cb = calloc(1, sizeof *cb);
    struct qc_backend *be = &cb->base;

    if (!cb || !(cb->ws = qc_gemm_ws_create())) {
        free(cb);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the CPU backend");
    }
    be->vt = &cpu_backend_i;
    be->threads = opts && opts->threads > 0 ? opts->threads : qc_cpu_count();
    strcpy(be->device, "cpu (");
    strncat(be->device, qc_cpu_isa_best(), sizeof be->device - 16);
    strcat(be->device, ")");
    *out = be;
    return QC_OK;
}
