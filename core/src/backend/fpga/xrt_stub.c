/* The XRT host where this build has no libxrt-dev: no devices, and every
 * attempt to open one says why. Never a pretend board. */
#include <stddef.h>

#include "fpga_impl.h"

int qc__xrt_open(struct qc__xrt **out, int index, const char *xclbin, struct qc_err *err)
{
    (void)index;
    *out = NULL;
    return qc_err_set(err, QC_EUNSUPP, "xclbin",
                      "%s: this build has no XRT (install libxrt-dev and rebuild)", xclbin);
}

int qc__xrt_gemm(struct qc__xrt *x, float *c, const float *a, const float *b, int64_t m, int64_t n,
                 int64_t k, struct qc_err *err)
{
    (void)x, (void)c, (void)a, (void)b, (void)m, (void)n, (void)k;
    return qc_err_set(err, QC_EUNSUPP, "device", "this build has no XRT");
}

void qc__xrt_close(struct qc__xrt *x)
{
    (void)x;
}

int qc__xrt_devices(struct qc_fpga_device *out, int max, struct qc_err *why)
{
    (void)out, (void)max;
    qc_err_set(why, QC_EUNSUPP, "device", "this build has no XRT (install libxrt-dev and rebuild)");
    return 0;
}

const char *qc__xrt_version(void)
{
    return "no XRT in this build";
}
