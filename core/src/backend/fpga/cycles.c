/* The cycle model of a GEMM on a board's MAC array (board.h states the
 * model; docs/fpga.md gives its reasons and what the RTL check covers).
 * Integer cycles throughout: a transfer takes the whole cycles it needs. */
#include <math.h>
#include <stdbool.h>

#include "qcore/board.h"

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

uint64_t qc_board_array_cycles(const struct qc_board *b, int64_t m, int64_t n, int64_t k,
                               int64_t chunk)
{
    if (m <= 0 || n <= 0)
        return 0;
    const int64_t tiles = ceil_div(m, b->rows) * ceil_div(n, b->cols);
    const int64_t s = chunk > 0 && chunk < k ? chunk : k;
    const int64_t chunks = k > 0 ? ceil_div(k, s) : 0;
    /* Per tile: one CLR, k MACs and a FLUSH at the end of every chunk (the
     * accumulator adder is shared, so a FLUSH takes its own cycle). The
     * wavefront's skew delays the far corner by (R-1)+(C-1) cycles, once:
     * the next tile's CLR follows the last FLUSH into the array. */
    return (uint64_t)(tiles * (1 + k + chunks)) + (uint64_t)(b->rows - 1) + (uint64_t)(b->cols - 1);
}

/* Whether a scale must be calibrated live (from the current amax) for an
 * operand read as `f` under `policy`: block formats always take their
 * scales from the current blocks unless a delayed policy predicts them;
 * scalar formats are scaled (and so calibrated) only under a policy, and
 * live only under max. */
static bool live_block(const struct qc_format *f, enum qc_scale_policy policy)
{
    return !qc_format_is_scalar(f) &&
           (policy == QC_SCALE_POLICY_NONE || policy == QC_SCALE_POLICY_MAX);
}

static bool live_tensor(const struct qc_format *f, enum qc_scale_policy policy)
{
    return qc_format_is_scalar(f) && policy == QC_SCALE_POLICY_MAX && qc_scale_applies(f);
}

/* DDR bytes of one operand element read as `f`: the packed code (a block
 * format adds its 8-bit scale per block), or fp32 when the producer could
 * not quantize it because its scale is only known once it is whole. */
static double elem_bytes(const struct qc_format *f, enum qc_scale_policy policy)
{
    if (live_block(f, policy) || live_tensor(f, policy))
        return 4.0;
    double bytes = (double)f->bits / 8.0;
    if (!qc_format_is_scalar(f) && f->block > 0)
        bytes += 1.0 / (double)f->block;
    return bytes;
}

static int ilog2_ceil(int64_t x)
{
    int l = 0;
    while ((INT64_C(1) << l) < x)
        l++;
    return l;
}

int qc_board_gemm_cost(struct qc_board_cost *out, const struct qc_board *b, int64_t m, int64_t n,
                       int64_t k, const struct qc_mac *mac, enum qc_scale_policy policy,
                       struct qc_err *err)
{
    *out = (struct qc_board_cost){0};
    if (m < 0 || n < 0 || k < 0)
        return qc_err_set(err, QC_EINVAL, "", "negative GEMM shape %lldx%lldx%lld", (long long)m,
                          (long long)n, (long long)k);
    if (b->rows < 1 || b->cols < 1 || !(b->clock_hz > 0) || !(b->ddr_bytes_per_s > 0) ||
        !(b->ddr_efficiency > 0 && b->ddr_efficiency <= 1) || b->buffer_bytes < 1)
        return qc_err_set(err, QC_EINVAL, "board", "board '%s' has fields out of range", b->name);
    if (mac->native)
        return qc_err_set(err, QC_EUNSUPP, "/arith/forward/mac/acc",
                          "acc 'native' (OpenBLAS fp32 sums) cannot run on an FPGA board");
    if (m == 0 || n == 0)
        return QC_OK;
    const int64_t R = b->rows, C = b->cols;
    const int64_t tr = ceil_div(m, R), tc = ceil_div(n, C);
    const int64_t tiles = tr * tc;
    const int64_t s = mac->chunk > 0 && mac->chunk < k ? mac->chunk : k;
    const int64_t tcomp = 1 + k + (k > 0 ? ceil_div(k, s) : 0);
    const double ea = elem_bytes(&mac->a_read, policy), eb = elem_bytes(&mac->b_read, policy);
    const double ec = mac->acc.bits > 0 ? (double)((mac->acc.bits + 7) / 8) : 4.0;
    const double per_cycle = b->ddr_bytes_per_s * b->ddr_efficiency / b->clock_hz;
    const double half = (double)b->buffer_bytes / 2.0;

    /* A's row panel (R x k) stays on chip across its row of tiles when it
     * fits half the buffer; B's panels are streamed for every tile unless
     * all of B fits. */
    const bool a_kept = (double)R * (double)k * ea <= half;
    const bool b_kept = (double)k * (double)n * eb <= half;
    const double bytes_a = (double)m * (double)k * ea * (a_kept ? 1.0 : (double)tc);
    const double bytes_b = (double)k * (double)n * eb * (b_kept ? 1.0 : (double)tr);
    const double bytes_c = (double)m * (double)n * ec;
    const double bytes = bytes_a + bytes_b + bytes_c;

    /* Live block calibration: a tile's first MAC waits until the first
     * block of its operand rows is in and its amax has gone through the
     * comparator tree (the stage restarts with every tile's panels). */
    int64_t wait = 0;
    if (live_block(&mac->a_read, policy) || live_block(&mac->b_read, policy)) {
        const int64_t blk_a = live_block(&mac->a_read, policy) ? mac->a_read.block : 0;
        const int64_t blk_b = live_block(&mac->b_read, policy) ? mac->b_read.block : 0;
        int64_t blk = blk_a > blk_b ? blk_a : blk_b;
        if (blk > k)
            blk = k;
        wait = blk + ilog2_ceil(blk) + 1;
    }
    /* Live tensor calibration: one fp32 pass over the operand for its
     * amax before anything can be quantized. */
    double pass_bytes = 0.0;
    if (live_tensor(&mac->a_read, policy))
        pass_bytes += (double)m * (double)k * 4.0;
    if (live_tensor(&mac->b_read, policy))
        pass_bytes += (double)k * (double)n * 4.0;

    const double lat = ceil(b->ddr_latency_s * b->clock_hz);
    const double first =
        lat + ceil(((double)R * (double)k * ea + (double)k * (double)C * eb) / per_cycle);
    const double tile_mem = ceil((bytes - bytes_c) / (double)tiles / per_cycle);
    const double tile_busy = (double)(tcomp + wait);
    const double tile = tile_mem > tile_busy ? tile_mem : tile_busy;
    const double pass = pass_bytes > 0 ? lat + ceil(pass_bytes / per_cycle) : 0.0;
    const double skew = (double)(R - 1 + C - 1);
    /* The last tile's results leave after the array is done. */
    const double drain = ceil((double)R * (double)C * ec / per_cycle);

    out->tiles = tiles;
    out->macs = (uint64_t)m * (uint64_t)n * (uint64_t)k;
    out->bytes = (uint64_t)ceil(bytes + pass_bytes);
    out->compute_cycles = qc_board_array_cycles(b, m, n, k, mac->chunk);
    out->calib_cycles = (uint64_t)((double)tiles * (double)wait + pass);
    out->cycles = (uint64_t)(pass + first + (double)tiles * tile + skew + drain);
    const uint64_t busy = out->compute_cycles + out->calib_cycles;
    out->stall_cycles = out->cycles > busy ? out->cycles - busy : 0;
    return QC_OK;
}
