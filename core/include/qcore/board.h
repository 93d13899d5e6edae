/* FPGA boards: the presets of hw/boards/boards.conf (embedded at build time)
 * and the cycle model of an R x C MAC array on such a board, which the
 * emulated `fpga` backend charges for every GEMM it computes.
 *
 * The model (docs/fpga.md states it in full, with what the RTL check
 * covers): C is cut into ceil(m/R) x ceil(n/C) output tiles; each tile
 * takes one clear, k MAC cycles and one flush per chunk; the skew of the
 * systolic wavefront adds (R-1)+(C-1) cycles once per GEMM; operand panels
 * stream from DDR double buffered, so a tile takes the longer of its
 * compute and its transfer; block formats under live (max) calibration
 * arrive in fp32 and wait for their first block's amax in every tile;
 * scalar formats under `max` need one more pass over the tensor first.
 *
 * Thread safety: everything here is reentrant; the preset table is
 * read-only. */
#ifndef QCORE_BOARD_H
#define QCORE_BOARD_H

#include <stdint.h>

#include "qcore/error.h"
#include "qcore/mac.h"
#include "qcore/scale.h"

#define QC_BOARD_NAME_MAX 32

struct qc_board {
    char name[QC_BOARD_NAME_MAX]; /* "zcu104" */
    char part[64];                /* the FPGA device */
    int rows, cols;               /* the array: rows x cols MAC units */
    double clock_hz;
    double ddr_bytes_per_s; /* peak off-chip bandwidth */
    double ddr_efficiency;  /* sustained fraction of the peak, (0, 1] */
    double ddr_latency_s;   /* request to first data */
    int64_t buffer_bytes;   /* on-chip operand buffer, double buffered */
};

/* The preset named `name`; QC_ENOTFOUND listing the known names. */
int qc_board_find(struct qc_board *out, const char *name, struct qc_err *err);
/* The number of presets, and the i-th one's name (static storage). */
int qc_board_count(void);
const char *qc_board_name_at(int i);

/* What one GEMM costs on a board. `cycles` is the whole GEMM; the parts
 * say where they went. */
struct qc_board_cost {
    uint64_t cycles;         /* total, at the board's clock */
    uint64_t compute_cycles; /* the array itself: tiles x (1 + k + chunks) + skew */
    uint64_t stall_cycles;   /* tiles waiting on DDR beyond their compute, first load */
    uint64_t calib_cycles;   /* live scale calibration (max): amax waits and passes */
    uint64_t bytes;          /* DDR traffic: operands in, results out */
    uint64_t macs;           /* m x n x k */
    int64_t tiles;
};

/* The cost of C(m,n) = A(m,k) B(k,n) under `mac` (its read formats, chunk
 * and accumulator) and the run's scale policy `policy`. Adds nothing to
 * `out` but fills it. QC_EINVAL for a negative shape or a board whose
 * fields are out of range; QC_EUNSUPP for acc=native (no board sums in an
 * unspecified order). */
int qc_board_gemm_cost(struct qc_board_cost *out, const struct qc_board *b, int64_t m, int64_t n,
                       int64_t k, const struct qc_mac *mac, enum qc_scale_policy policy,
                       struct qc_err *err);

/* The array's cycles for one GEMM with unlimited bandwidth: the part of
 * the model that the RTL simulation checks (tests/hw). */
uint64_t qc_board_array_cycles(const struct qc_board *b, int64_t m, int64_t n, int64_t k,
                               int64_t chunk);

#endif
