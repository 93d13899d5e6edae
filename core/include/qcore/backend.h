/* Compute backends: one vtable per kind of device (CPU now; CUDA and FPGA
 * slot in later without touching callers).
 *
 * A backend that cannot perform an operation, or cannot perform it with the
 * requested configuration, returns QC_EUNSUPP with a message saying why.
 * There is no silent fallback to another backend: an experiment's result
 * depends on where it ran, and a run must execute where its spec says. */
#ifndef QCORE_BACKEND_H
#define QCORE_BACKEND_H

#include <stdint.h>

#include "qcore/gemm.h"
#include "qcore/quantize.h"

struct qc_backend;

struct qc_backend_i {
    const char *kind; /* "cpu", "cuda", "fpga" */
    /* Required. */
    int (*gemm)(struct qc_backend *be, float *c, const float *a, const float *b,
                const struct qc_gemm_desc *d, const struct qc_mac *mac, struct qc_round_stats *st,
                struct qc_err *err);
    /* Required. Same contract as qc_quantize_f32. */
    int (*quantize_f32)(struct qc_backend *be, float *out, const float *in, int64_t rows,
                        int64_t cols, const struct qc_format *f, const struct qc_round *r,
                        enum qc_scale_rule rule, uint64_t first_index, struct qc_round_stats *st,
                        struct qc_err *err);
    /* Optional (NULL: nothing to release beyond the struct). */
    void (*destroy)(struct qc_backend *be);
};

/* Common head of every backend object; a backend embeds it first. */
struct qc_backend {
    const struct qc_backend_i *vt;
    int threads;     /* CPU threads the backend may use */
    char device[96]; /* human-readable device name */
};

struct qc_backend_opts {
    int threads; /* 0 = all cores */
    int device;  /* device index for gpu/fpga; ignored by cpu */
};

/* Creates a backend of `kind` ("cpu"; others report QC_EUNSUPP when this
 * build or machine lacks them). The caller owns *out: qc_backend_destroy. */
int qc_backend_create(struct qc_backend **out, const char *kind, const struct qc_backend_opts *opts,
                      struct qc_err *err);
void qc_backend_destroy(struct qc_backend *be); /* NULL is a no-op */

static inline int qc_backend_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                                  const struct qc_gemm_desc *d, const struct qc_mac *mac,
                                  struct qc_round_stats *st, struct qc_err *err)
{
    return be->vt->gemm(be, c, a, b, d, mac, st, err);
}

static inline int qc_backend_quantize_f32(struct qc_backend *be, float *out, const float *in,
                                          int64_t rows, int64_t cols, const struct qc_format *f,
                                          const struct qc_round *r, enum qc_scale_rule rule,
                                          uint64_t first_index, struct qc_round_stats *st,
                                          struct qc_err *err)
{
    return be->vt->quantize_f32(be, out, in, rows, cols, f, r, rule, first_index, st, err);
}

#endif
