/* The backend registry and the CPU backend. CUDA and FPGA backends register
 * here when they are built; a kind this build lacks is an error, never a
 * quiet run on another device. */
#include "qcore/backend.h"

#include <stdlib.h>
#include <string.h>

#include "qcore/cpu.h"

static int cpu_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                    const struct qc_gemm_desc *d, const struct qc_mac *mac,
                    struct qc_round_stats *st, struct qc_err *err)
{
    return qc_gemm_cpu(c, a, b, d, mac, be->threads, st, err);
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
    .destroy = NULL,
};

static int cpu_create(struct qc_backend **out, const struct qc_backend_opts *opts,
                      struct qc_err *err)
{
    struct qc_backend *be = calloc(1, sizeof *be);

    if (!be)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the CPU backend");
    be->vt = &cpu_backend_i;
    be->threads = opts && opts->threads > 0 ? opts->threads : qc_cpu_count();
    strcpy(be->device, "cpu (");
    strncat(be->device, qc_cpu_isa_best(), sizeof be->device - 16);
    strcat(be->device, ")");
    *out = be;
    return QC_OK;
}

struct backend_row {
    const char *kind;
    int (*create)(struct qc_backend **out, const struct qc_backend_opts *opts, struct qc_err *err);
    const char *missing; /* why a kind without `create` is unavailable */
};

static const struct backend_row backends[] = {
    {.kind = "cpu", .create = cpu_create},
    {.kind = "cuda", .missing = "this build has no CUDA backend"},
    {.kind = "fpga", .missing = "this build has no FPGA backend"},
};

int qc_backend_create(struct qc_backend **out, const char *kind,
                      const struct qc_backend_opts *opts, struct qc_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(backends[i].kind, kind) != 0)
            continue;
        if (!backends[i].create)
            return qc_err_set(err, QC_EUNSUPP, "device", "%s: %s", kind, backends[i].missing);
        return backends[i].create(out, opts, err);
    }
    return qc_err_set(err, QC_EINVAL, "device", "unknown backend kind '%s' (cpu, cuda, fpga)",
                      kind);
}

void qc_backend_destroy(struct qc_backend *be)
{
    if (!be)
        return;
    if (be->vt->destroy)
        be->vt->destroy(be);
    free(be);
}
