/* NumPy .npy files where qlab takes raw floats: the header of a
 * little-endian f32 or f64 C-order array is read (so `qlab quantize` and
 * `qlab gemm` accept `np.save` output as it is) and written (so what comes
 * out of a .npy goes back as one), and decimal text given where raw floats
 * are expected is recognised so it is refused rather than read as numbers
 * it is not. Format: numpy.org/doc/stable/reference/generated/numpy.lib.format. */
#ifndef CLI_NPY_H
#define CLI_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli_util.h"
#include "qcore/error.h"

#define CLI_NPY_MAX_DIMS 8

struct cli_npy {
    size_t elem; /* 4 (<f4) or 8 (<f8) */
    int ndim;    /* 0 for a scalar */
    int64_t shape[CLI_NPY_MAX_DIMS];
    int64_t count;   /* product of the shape */
    size_t data_off; /* where the values start */
};

/* True when `p` (n bytes) starts with the .npy magic. */
bool cli_npy_is(const unsigned char *p, size_t n);

/* Parses the header of the .npy bytes `p` (n bytes, the whole file or at
 * least its header). QC_ECORRUPT naming `name` for a malformed header or a
 * file shorter than its shape; QC_EUNSUPP for another dtype, big-endian
 * data or Fortran order. With `whole`, n must be exactly header + data. */
int cli_npy_parse(struct cli_npy *out, const unsigned char *p, size_t n, bool whole,
                  const char *name, struct qc_err *err);

/* Appends a version 1.0 header for a C-order little-endian array of
 * `elem`-byte floats with the given shape. */
void cli_npy_header(struct cli_buf *b, size_t elem, const int64_t *shape, int ndim);

/* True when `p` (n bytes) looks like decimal text ("1.5\n-2e3 ...")
 * rather than raw floats: at least 8 bytes, all of them digits, signs,
 * '.', 'e', "inf"/"nan" letters, commas or whitespace, with at least one
 * digit and one separator. */
bool cli_looks_like_text(const unsigned char *p, size_t n);

#endif
