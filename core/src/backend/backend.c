/* The backend registry. Each backend lives in its own folder (cpu/, cuda/,
 * fpga/) and registers one create function here; a kind this build
 * or machine lacks is an error, never a quiet run on another device. */
#include "qcore/backend.h"

#include <stdlib.h>
#include <string.h>

#include "backend_impl.h"

struct backend_row {
    const char *kind;
    int (*create)(struct qc_backend **out, const struct qc_backend_opts *opts, struct qc_err *err);
    /* Accelerators: the devices of the kind (NULL for the CPU). */
    int (*devices)(struct qc_backend_device *out, int max, struct qc_err *why);
    const char *missing; /* why a kind without `create` is unavailable */
};

static const struct backend_row backends[] = {
    {.kind = "cpu", .create = qc__backend_cpu_create},
    {.kind = "cuda", .create = qc__backend_cuda_create, .devices = qc__backend_cuda_devices},
    {.kind = "fpga", .create = qc__backend_fpga_create, .devices = qc__backend_fpga_devices},
};

int qc_backend_create(struct qc_backend **out, const char *kind, const struct qc_backend_opts *opts,
                      struct qc_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(backends[i].kind, kind) != 0)
            continue;
        if (!backends[i].create)
            return qc_err_set(err, QC_EUNSUPP, "device", "%s: %s", kind, backends[i].missing);
        return backends[i].create(out, opts, err);
    }
    return qc_err_set(err, QC_EINVAL, "device", "unknown backend kind '%s' (cpu, cuda, fpga)",
                      kind);
}

int qc_backend_devices(const char *kind, struct qc_backend_device *out, int max, struct qc_err *why)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (strcmp(backends[i].kind, kind) != 0)
            continue;
        if (backends[i].devices)
            return backends[i].devices(out, max, why);
        if (backends[i].missing) {
            qc_err_set(why, QC_EUNSUPP, "device", "%s: %s", kind, backends[i].missing);
            return 0;
        }
        break;
    }
    return qc_err_set(why, QC_EINVAL, "device", "'%s' is no accelerator kind (cuda, fpga)", kind);
}

void qc_backend_destroy(struct qc_backend *be)
{
    if (!be)
        return;
    if (be->vt->destroy)
        be->vt->destroy(be);
    free(be);
}
