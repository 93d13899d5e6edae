/* Internal to the FPGA backend: the XRT host's C interface
 * (xrt_host.cpp where libxrt-dev is installed, xrt_stub.c elsewhere). */
#ifndef QCORE_FPGA_IMPL_H
#define QCORE_FPGA_IMPL_H

#include <stdint.h>

#include "qcore/fpga.h"

struct qc__xrt; /* an opened device with its xclbin loaded and the GEMM kernel found */

/* Opens device `index`, loads `xclbin` onto it and finds the kernel
 * "qgemm" (docs/fpga.md gives its arguments). The caller owns *out:
 * qc__xrt_close. QC_EUNSUPP without XRT; QC_ENOTFOUND, QC_EIO otherwise,
 * with XRT's message. */
int qc__xrt_open(struct qc__xrt **out, int index, const char *xclbin, struct qc_err *err);
/* c(m,n) = a(m,k) b(k,n), dense fp32 holding the multiplier's values, on
 * the board: buffer objects in the kernel's memory banks, one run. */
int qc__xrt_gemm(struct qc__xrt *x, float *c, const float *a, const float *b, int64_t m, int64_t n,
                 int64_t k, struct qc_err *err);
void qc__xrt_close(struct qc__xrt *x); /* NULL is a no-op */

int qc__xrt_devices(struct qc_fpga_device *out, int max, struct qc_err *why);
const char *qc__xrt_version(void);

#endif
