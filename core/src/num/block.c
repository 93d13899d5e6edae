/* Packed storage: formats as bit codes (fp8/fp6/fp4 elements, any scalar
 * format) plus one scale byte per block. Rounds exactly as quantize does,
 * through the same block steps, so unpacking gives the quantized values. */
#include "qcore/block.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "quantize_impl.h"

#define SCALE_NAN  0xff
#define SCALE_BIAS 127

static int64_t nblocks(const struct qc_format *f, int64_t cols)
{
    return (cols + f->block - 1) / f->block;
}

size_t qc_pack_code_bytes(const struct qc_format *f, int64_t rows, int64_t cols)
{
    return (size_t)((rows * cols * f->bits + 7) / 8);
}

size_t qc_pack_scale_bytes(const struct qc_format *f, int64_t rows, int64_t cols)
{
    return qc_format_is_scalar(f) ? 0 : (size_t)(rows * nblocks(f, cols));
}

/* Element i's `bits`-bit code at bit offset i*bits, little-endian. */
static void put_code(uint8_t *codes, int64_t i, int bits, uint64_t code)
{
    uint64_t bit = (uint64_t)i * (uint64_t)bits;
    for (int b = 0; b < bits; b++, bit++) {
        uint8_t mask = (uint8_t)(1u << (bit & 7));
        if ((code >> b) & 1)
            codes[bit >> 3] |= mask;
        else
            codes[bit >> 3] &= (uint8_t)~mask;
    }
}

static uint64_t get_code(const uint8_t *codes, int64_t i, int bits)
{
    uint64_t bit = (uint64_t)i * (uint64_t)bits, code = 0;
    for (int b = 0; b < bits; b++, bit++)
        code |= (uint64_t)((codes[bit >> 3] >> (bit & 7)) & 1) << b;
    return code;
}

static int check_args(const struct qc_format *f, int64_t rows, int64_t cols, struct qc_err *err)
{
    if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / 64 / cols))
        return qc_err_set(err, QC_EINVAL, "", "bad array shape %lld x %lld", (long long)rows,
                          (long long)cols);
    if (f->bits > 64)
        return qc_err_set(err, QC_EINVAL, "format", "%s: codes wider than 64 bits", f->name);
    return QC_OK;
}

int qc_pack_f32(uint8_t *codes, uint8_t *scales, const float *in, int64_t rows, int64_t cols,
                const struct qc_format *f, const struct qc_round *r, enum qc_scale_rule rule,
                struct qc_err *err)
{
    struct qc_format el;
    uint64_t code;
    int rc;

    if ((rc = check_args(f, rows, cols, err)))
        return rc;
    if (qc_format_is_scalar(f)) {
        for (int64_t i = 0; i < rows * cols; i++) {
            double v = qc_round_value(f, in[i], r, (uint64_t)i, NULL);
            if (qc_format_encode(&code, f, v))
                return qc_err_set(err, QC_ERANGE, "", "element %lld (%g): %s has no code for it",
                                  (long long)i, (double)in[i], f->name);
            put_code(codes, i, f->bits, code);
        }
        return QC_OK;
    }
    qc_format_element(&el, f);
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t b = 0; b < nblocks(f, cols); b++) {
            const int64_t c0 = b * f->block;
            const int64_t len = cols - c0 < f->block ? cols - c0 : f->block;
            const int64_t at = row * cols + c0;
            double x[4096];
            for (int64_t i = 0; i < len; i++)
                x[i] = in[at + i];
            const int e = qc__block_exp(f, x, len, rule, r);
            scales[row * nblocks(f, cols) + b] =
                e == INT32_MAX ? SCALE_NAN : (uint8_t)(e + SCALE_BIAS);
            for (int64_t i = 0; i < len; i++) {
                code = 0; /* elements of a NaN-scale block are don't-cares */
                if (e != INT32_MAX &&
                    qc_format_encode(&code, &el,
                                     qc__block_elem(&el, x[i], e, r, (uint64_t)(at + i), NULL)))
                    return qc_err_set(err, QC_EINTERNAL, "", "element %lld: no code",
                                      (long long)(at + i));
                put_code(codes, at + i, el.bits, code);
            }
        }
    }
    return QC_OK;
}

int qc_unpack_f32(float *out, const uint8_t *codes, const uint8_t *scales, int64_t rows,
                  int64_t cols, const struct qc_format *f, struct qc_err *err)
{
    struct qc_format el;
    int rc;

    if ((rc = check_args(f, rows, cols, err)))
        return rc;
    if (!qc_format_fits_f32(f))
        return qc_err_set(err, QC_EINVAL, "format", "%s: values do not all fit fp32 output exactly",
                          f->name);
    qc_format_element(&el, f);
    for (int64_t row = 0; row < rows; row++) {
        for (int64_t c = 0; c < cols; c++) {
            const int64_t i = row * cols + c;
            double v = qc_format_decode(&el, get_code(codes, i, el.bits));
            if (!qc_format_is_scalar(f)) {
                uint8_t s = scales[row * nblocks(f, cols) + c / f->block];
                v = s == SCALE_NAN ? NAN : ldexp(v, (int)s - SCALE_BIAS);
            }
            out[i] = (float)v;
        }
    }
    return QC_OK;
}
