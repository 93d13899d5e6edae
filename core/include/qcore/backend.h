/* Compute backends: one vtable per kind of device (CPU, CUDA, FPGA boards).
 *
 * A backend that cannot perform an operation, or cannot perform it with the
 * requested configuration, returns QC_EUNSUPP with a message saying why.
 * There is no silent fallback to another backend: an experiment's result
 * depends on where it ran, and a run must execute where its spec says. */
#ifndef QCORE_BACKEND_H
#define QCORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/gemm.h"
#include "qcore/quantize.h"

struct qc_backend;

/* What a board backend has charged since it was created (the cycle model
 * of board.h for every GEMM it ran). */
struct qc_backend_timing {
    uint64_t cycles; /* at clock_hz */
    uint64_t macs;
    double clock_hz;
    int64_t units; /* MAC units of the array: utilisation = macs / (cycles x units) */
};

/* Where a backend keeps the tensors of a training step (a net's buffers,
 * an optimizer's state): memory that both the host and the backend's
 * device read and write. Independent of any backend object, so that a net
 * may outlive the backend it was built for. */
struct qc_backend_mem {
    const char *what;             /* "host", "CUDA managed" */
    void *(*alloc)(size_t bytes); /* zeroed; NULL when out of memory */
    void (*free)(void *p);        /* NULL is a no-op */
};

/* An element-wise operation of a training step (internal to libqcore:
 * core/src/backend/ops.h). */
struct qc_op;

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
    /* Optional (NULL: the host runs it, on host memory). An element-wise
     * operation of a training step on the tensors `mem` gave. */
    int (*op)(struct qc_backend *be, const struct qc_op *op, struct qc_err *err);
    /* Optional (NULL: host memory). Must be set with `op`. */
    const struct qc_backend_mem *mem;
    /* Optional (NULL: nothing to release beyond the struct). */
    void (*destroy)(struct qc_backend *be);
    /* Optional (NULL: the backend models no board timing). Totals since
     * creation. */
    void (*timing)(struct qc_backend *be, struct qc_backend_timing *out);
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
    /* fpga: the board preset (hw/boards/boards.conf) whose timing the
     * backend models, and the run's scale policy (enum qc_scale_policy),
     * which decides what block rescaling costs on the board. */
    const char *board;
    int scale_policy;
    /* fpga: a real board through XRT, this xclbin loaded onto device
     * `device` (NULL or "": an emulated board). */
    const char *xclbin;
    /* fpga, emulated: charge every GEMM to the board without computing it
     * (C is zero). For predictions of board time only (make bench): the
     * run's numbers are meaningless. */
    bool dry_run;
};

/* One accelerator a backend kind can run on (qc_backend_devices). */
struct qc_backend_device {
    int index;              /* qc_backend_opts.device */
    char name[96];          /* the driver's name, "NVIDIA H200" */
    uint64_t memory;        /* bytes of device memory */
    int cc_major, cc_minor; /* CUDA compute capability */
};

/* Creates a backend of `kind` ("cpu", "cuda"; QC_EUNSUPP, saying why, when
 * this build or machine lacks the kind: no CUDA backend built, no driver,
 * no device). The caller owns *out: qc_backend_destroy. */
int qc_backend_create(struct qc_backend **out, const char *kind, const struct qc_backend_opts *opts,
                      struct qc_err *err);
void qc_backend_destroy(struct qc_backend *be); /* NULL is a no-op */

/* The devices of an accelerator kind ("cuda") this process can use: fills
 * up to `max` entries and returns how many. 0 when there are none, and then
 * `why` (may be NULL) says why (no CUDA backend in this build, no driver, no
 * device); QC_EINVAL for a kind that is no accelerator. */
int qc_backend_devices(const char *kind, struct qc_backend_device *out, int max,
                       struct qc_err *why);

/* The memory a backend's training tensors live in (host memory when the
 * backend names none). */
const struct qc_backend_mem *qc_backend_mem(const struct qc_backend *be);

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
