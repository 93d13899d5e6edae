/* Real FPGA boards through AMD/Xilinx XRT: the devices this process can
 * open, with what is loaded on them. Built against Debian's libxrt-dev
 * where it is installed (core/src/backend/fpga/xrt_host.cpp); a build
 * without it reports no devices and says so.
 *
 * Thread safety: reentrant; XRT serializes device access itself. */
#ifndef QCORE_FPGA_H
#define QCORE_FPGA_H

#include "qcore/error.h"

struct qc_fpga_device {
    int index;       /* XRT's device index (qc_backend_opts.device) */
    char name[96];   /* the board, as XRT names it */
    char shell[128]; /* the platform (shell) the board runs */
    char bdf[32];    /* PCIe bus:device.function */
    char xclbin[40]; /* UUID of the loaded xclbin, "" when none */
};

/* Fills up to `max` devices and returns how many XRT finds. 0 when there
 * are none, and then `why` (may be NULL) says why: no XRT in this build,
 * XRT not set up (XILINX_XRT), or no device. Never a negative count: a
 * machine without boards is no error. */
int qc_fpga_devices(struct qc_fpga_device *out, int max, struct qc_err *why);

/* "xrt 2.13.0" or "no XRT in this build". */
const char *qc_fpga_xrt_version(void);

#endif
