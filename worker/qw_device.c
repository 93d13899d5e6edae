/* Device discovery and matching (see qw_device.h). */
#include "qw_device.h"

#include <stdio.h>
#include <string.h>

#include "qcore/backend.h"
#include "qcore/board.h"
#include "qcore/cpu.h"
#include "qcore/data.h"
#include "qcore/fpga.h"
#include "qw_log.h"

typedef int (*probe_fn)(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err);

static struct qw_device *add(struct qw_devices *out, enum qw_device_kind kind, const char *prefix,
                             struct qc_err *err)
{
    int same = 0;

    if (out->n == QW_DEVICES_MAX) {
        qc_err_set(err, QC_ERANGE, "", "more than %d devices", QW_DEVICES_MAX);
        return NULL;
    }
    for (int i = 0; i < out->n; i++)
        same += out->dev[i].kind == kind;
    struct qw_device *d = &out->dev[out->n++];
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s%d", prefix, same);
    d->kind = kind;
    return d;
}

/* The CPU: one device with --slots concurrent runs, each on --threads
 * threads (by default the cores shared out between the slots). */
static int probe_cpu(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err)
{
    const int cores = qc_cpu_count();
    struct qw_device *d = add(out, QW_DEV_CPU, "cpu", err);

    if (!d)
        return err->code;
    d->slots = d->free = cfg->slots;
    d->threads =
        cfg->threads > 0 ? cfg->threads : (cores / cfg->slots > 0 ? cores / cfg->slots : 1);
    d->info = json_pack("{s:i, s:s, s:i}", "cores", cores, "simd", qc_cpu_isa_best(),
                        "threads_per_run", d->threads);
    return d->info ? 0 : qc_err_set(err, QC_ENOMEM, "", "out of memory");
}

/* CUDA GPUs: one device and one run per GPU the CUDA runtime finds, named
 * by the driver ("NVIDIA H200", which a spec's board may ask for). A build
 * without the CUDA backend, or a machine without a driver or a GPU, finds
 * none: that is no error, the worker just offers no GPU (and says why). */
static int probe_cuda(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err)
{
    struct qc_backend_device gpus[QW_DEVICES_MAX];
    struct qc_err why;
    int n;

    (void)cfg;
    qc_err_clear(&why);
    n = qc_backend_devices("cuda", gpus, QW_DEVICES_MAX, &why);
    if (n <= 0) {
        qw_log_info("no GPU offered: %s", why.msg);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct qw_device *d = add(out, QW_DEV_GPU, "gpu", err);
        if (!d)
            return err->code;
        d->slots = d->free = 1;
        /* The GEMMs run on the GPU; the rest of a step uses host threads,
         * as many as a CPU run gets. */
        d->threads = out->dev[0].threads > 0 ? out->dev[0].threads : 1;
        d->index = gpus[i].index;
        snprintf(d->board, sizeof d->board, "%s", gpus[i].name);
        char cc[32];
        snprintf(cc, sizeof cc, "%d.%d", gpus[i].cc_major, gpus[i].cc_minor);
        d->info =
            json_pack("{s:i, s:s, s:I, s:s}", "cuda_device", gpus[i].index, "name", gpus[i].name,
                      "memory_bytes", (json_int_t)gpus[i].memory, "compute_capability", cc);
        if (!d->info)
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    return 0;
}

/* One FPGA device on preset `b`: one run at a time (the array is one),
 * with the CPU threads of a CPU slot for the host side of a step. */
static struct qw_device *add_board(struct qw_devices *out, const struct qc_board *b, bool emulated,
                                   struct qc_err *err)
{
    struct qw_device *d = add(out, QW_DEV_FPGA, "fpga", err);

    if (!d)
        return NULL;
    d->slots = d->free = 1;
    d->threads = out->dev[0].threads > 0 ? out->dev[0].threads : 1;
    d->emulated = emulated;
    d->index = -1;
    snprintf(d->board, sizeof d->board, "%s", b->name);
    return d;
}

static json_t *board_info(const struct qc_board *b)
{
    return json_pack("{s:s, s:i, s:i, s:f, s:f}", "part", b->part, "rows", b->rows, "cols", b->cols,
                     "clock_mhz", b->clock_hz / 1e6, "ddr_gbps", b->ddr_bytes_per_s / 1e9);
}

/* Emulated boards: one device per name of --fpga-emulate (a name may
 * repeat: two emulated ZCU104s take two runs at once). An unknown name
 * stops the worker: it would otherwise register a board it cannot time. */
static int probe_emulated(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err)
{
    char list[QW_NAME_MAX], *save = NULL;
    struct qc_board b;
    int rc;

    snprintf(list, sizeof list, "%s", cfg->fpga_emulate);
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        if ((rc = qc_board_find(&b, name, err))) {
            snprintf(err->field, sizeof err->field, "fpga-emulate");
            return rc;
        }
        struct qw_device *d = add_board(out, &b, true, err);
        if (!d)
            return err->code;
        d->info = board_info(&b);
        if (!d->info)
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    return 0;
}

/* Real boards through XRT: offered only with --xclbin (a board without the
 * qgemm kernel cannot train). None found is no error: the log says why. */
static int probe_xrt(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err)
{
    struct qc_fpga_device devs[8];
    struct qc_err why;
    struct qc_board b;
    int n, rc;

    qc_err_clear(&why);
    n = qc_fpga_devices(devs, 8, &why);
    if (n == 0) {
        if (cfg->xclbin[0])
            qw_log_warn("--xclbin %s: no real FPGA board offered: %s", cfg->xclbin, why.msg);
        else
            qw_log_debug("no real FPGA board: %s", why.msg);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (!cfg->xclbin[0]) {
            qw_log_info("FPGA device %d (%s, %s) not offered: no --xclbin", devs[i].index,
                        devs[i].name, devs[i].shell);
            continue;
        }
        const char *preset = cfg->fpga_board[0] ? cfg->fpga_board : devs[i].name;
        if ((rc = qc_board_find(&b, preset, err))) {
            snprintf(err->field, sizeof err->field, "fpga-board");
            return rc;
        }
        struct qw_device *d = add_board(out, &b, false, err);
        if (!d)
            return err->code;
        d->index = devs[i].index;
        d->info = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "xrt_device", devs[i].index, "name",
                            devs[i].name, "shell", devs[i].shell, "bdf", devs[i].bdf,
                            "loaded_xclbin", devs[i].xclbin, "xclbin", cfg->xclbin);
        if (!d->info)
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    return 0;
}

static const probe_fn probes[] = {probe_cpu, probe_cuda, probe_emulated, probe_xrt};

int qw_devices_discover(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        int rc = probes[i](out, cfg, err);
        if (rc) {
            qw_devices_free(out);
            return rc;
        }
    }
    return 0;
}

void qw_devices_free(struct qw_devices *d)
{
    for (int i = 0; i < d->n; i++) {
        json_decref(d->dev[i].info);
        d->dev[i].info = NULL;
    }
    d->n = 0;
}

const char *qw_device_kind_name(enum qw_device_kind k)
{
    switch (k) {
    case QW_DEV_CPU:
        return "cpu";
    case QW_DEV_GPU:
        return "gpu";
    case QW_DEV_FPGA:
        return "fpga";
    }
    return "?";
}

json_t *qw_device_to_json(const struct qw_device *d)
{
    return json_pack("{s:s, s:s, s:s?, s:b, s:i, s:i, s:O}", "id", d->id, "kind",
                     qw_device_kind_name(d->kind), "board", d->board[0] ? d->board : NULL,
                     "emulated", d->emulated, "slots", d->slots, "free", d->free, "info",
                     d->info ? d->info : json_null());
}

json_t *qw_devices_to_json(const struct qw_devices *d, bool all)
{
    json_t *a = json_array();

    for (int i = 0; a && i < d->n; i++)
        if (all || d->dev[i].free > 0)
            json_array_append_new(a, qw_device_to_json(&d->dev[i]));
    return a;
}

struct qw_device *qw_devices_find(struct qw_devices *d, const char *id)
{
    for (int i = 0; id && i < d->n; i++)
        if (strcmp(d->dev[i].id, id) == 0)
            return &d->dev[i];
    return NULL;
}

bool qw_device_accepts(const struct qw_device *d, const char *kind, const char *board, char *why,
                       size_t why_len)
{
    if (!kind)
        kind = "any";
    if (strcmp(kind, "any") != 0 && strcmp(kind, qw_device_kind_name(d->kind)) != 0) {
        snprintf(why, why_len, "the spec asks for device kind '%s' and %s is a %s", kind, d->id,
                 qw_device_kind_name(d->kind));
        return false;
    }
    if (board && *board && strcmp(board, d->board) != 0) {
        snprintf(why, why_len, "the spec asks for board '%s' and %s is '%s'", board, d->id,
                 d->board[0] ? d->board : "no board");
        return false;
    }
    return true;
}

json_t *qw_datasets_to_json(void)
{
    json_t *list = json_array();
    const struct qc_dataset_info *info;
    for (int i = 0; list && (info = qc_dataset_info_at(i)) != NULL; i++) {
        struct qc_err err;
        if (qc_dataset_present(info->name, NULL, &err) == QC_OK)
            json_array_append_new(list, json_string(info->name));
    }
    return list;
}
