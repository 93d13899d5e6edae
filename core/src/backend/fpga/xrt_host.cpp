/* The XRT host: XRT's native API is C++ (xrt::device, xrt::bo,
 * xrt::kernel), so this one file wraps it behind the C interface of
 * fpga_impl.h. No exception crosses into C: each entry point catches and
 * turns XRT's message into a qc_err. Built where libxrt-dev is installed
 * (Debian's xrt.pc is broken: the Makefile passes -I/usr/include/xrt and
 * links -lxrt_coreutil). */
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include <experimental/xrt_system.h>
#include <xrt/xrt_bo.h>
#include <xrt/xrt_device.h>
#include <xrt/xrt_kernel.h>
#include <xrt/xrt_uuid.h>
#include <version.h>

#ifndef _Noreturn /* qcore/error.h is C11 */
#define _Noreturn [[noreturn]]
#endif
extern "C" {
#include "fpga_impl.h"
}

struct qc__xrt {
    xrt::device device;
    xrt::uuid uuid;
    xrt::kernel kernel;
};

static void copy(char *dst, size_t len, const std::string &s)
{
    std::snprintf(dst, len, "%s", s.c_str());
}

/* XRT reads its installation from XILINX_XRT ($XILINX_XRT/lib holds the
 * shim it loads); without it, every call throws "XILINX_XRT not set". */
static bool set_up(struct qc_err *why)
{
    const char *root = std::getenv("XILINX_XRT");
    if (!root || !*root) {
        qc_err_set(why, QC_EUNAVAIL, "device",
                   "XRT is not set up: XILINX_XRT is unset (docs/fpga.md: real boards)");
        return false;
    }
    return true;
}

extern "C" int qc__xrt_devices(struct qc_fpga_device *out, int max, struct qc_err *why)
{
    int n = 0;

    if (!set_up(why))
        return 0;
    try {
        const unsigned found = xrt::system::enumerate_devices();
        if (found == 0) {
            qc_err_set(why, QC_ENOTFOUND, "device", "%s found no FPGA devices",
                       qc__xrt_version());
            return 0;
        }
        for (unsigned i = 0; i < found && n < max; i++) {
            xrt::device d(i);
            struct qc_fpga_device *o = &out[n++];
            std::memset(o, 0, sizeof *o);
            o->index = (int)i;
            copy(o->name, sizeof o->name, d.get_info<xrt::info::device::name>());
            copy(o->bdf, sizeof o->bdf, d.get_info<xrt::info::device::bdf>());
            copy(o->shell, sizeof o->shell, d.get_info<xrt::info::device::platform>());
            xrt::uuid u = d.get_xclbin_uuid();
            if (u)
                copy(o->xclbin, sizeof o->xclbin, u.to_string());
        }
    } catch (const std::exception &e) {
        qc_err_set(why, QC_EIO, "device", "XRT: %s", e.what());
    }
    return n;
}

extern "C" int qc__xrt_open(struct qc__xrt **out, int index, const char *xclbin,
                            struct qc_err *err)
{
    *out = nullptr;
    if (!set_up(err))
        return QC_EUNAVAIL;
    try {
        if (index < 0 || (unsigned)index >= xrt::system::enumerate_devices())
            return qc_err_set(err, QC_ENOTFOUND, "device", "XRT has no FPGA device %d", index);
        struct qc__xrt *x = new struct qc__xrt;
        try {
            x->device = xrt::device((unsigned)index);
            x->uuid = x->device.load_xclbin(std::string(xclbin));
            x->kernel = xrt::kernel(x->device, x->uuid, "qgemm");
        } catch (...) {
            delete x;
            throw;
        }
        *out = x;
        return QC_OK;
    } catch (const std::bad_alloc &) {
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the XRT device");
    } catch (const std::exception &e) {
        return qc_err_set(err, QC_EIO, "xclbin", "%s on FPGA device %d: %s", xclbin, index,
                          e.what());
    }
}

/* The kernel's arguments, in order: A (m x k fp32), B (k x n fp32), C (m x
 * n fp32, written), m, n, k. Each buffer lives in the bank the kernel's
 * argument is connected to (group_id). */
extern "C" int qc__xrt_gemm(struct qc__xrt *x, float *c, const float *a, const float *b,
                            int64_t m, int64_t n, int64_t k, struct qc_err *err)
{
    try {
        const size_t sa = (size_t)(m * k) * sizeof(float), sb = (size_t)(k * n) * sizeof(float);
        const size_t sc = (size_t)(m * n) * sizeof(float);
        xrt::bo ba(x->device, sa ? sa : 4, x->kernel.group_id(0));
        xrt::bo bb(x->device, sb ? sb : 4, x->kernel.group_id(1));
        xrt::bo bc(x->device, sc ? sc : 4, x->kernel.group_id(2));
        ba.write(a, sa, 0);
        bb.write(b, sb, 0);
        ba.sync(XCL_BO_SYNC_BO_TO_DEVICE);
        bb.sync(XCL_BO_SYNC_BO_TO_DEVICE);
        xrt::run run = x->kernel(ba, bb, bc, (int)m, (int)n, (int)k);
        run.wait();
        bc.sync(XCL_BO_SYNC_BO_FROM_DEVICE);
        bc.read(c, sc, 0);
        return QC_OK;
    } catch (const std::exception &e) {
        return qc_err_set(err, QC_EIO, "device", "XRT qgemm %lldx%lldx%lld: %s", (long long)m,
                          (long long)n, (long long)k, e.what());
    }
}

extern "C" void qc__xrt_close(struct qc__xrt *x)
{
    delete x;
}

extern "C" const char *qc__xrt_version(void)
{
    static const std::string v = "xrt " + std::to_string(XRT_MAJOR(XRT_VERSION_CODE)) + "." +
                                 std::to_string(XRT_MINOR(XRT_VERSION_CODE));
    return v.c_str();
}
