/* The devices a worker offers: a general list of (id, kind, board,
 * emulated, slots, free, info) that the registration, the heartbeat and
 * the lease request all send. Discovery is a table of probe functions, one
 * per device family: the CPU always, CUDA GPUs when built with CUDA, the
 * emulated FPGA boards of --fpga-emulate and the real ones XRT finds. A run is only ever executed
 * on a device of the kind its spec asks for (qw_device_accepts); nothing falls back to another
 * kind.
 *
 * Ownership: a qw_devices list is caller-owned storage; `info` objects are
 * owned by the list and freed by qw_devices_free. Loop thread only. */
#ifndef QW_DEVICE_H
#define QW_DEVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "qcore/error.h"
#include "qw_config.h"

#define QW_DEVICES_MAX 64

enum qw_device_kind { QW_DEV_CPU = 0, QW_DEV_GPU, QW_DEV_FPGA };

struct qw_device {
    char id[32]; /* "cpu0", "gpu1", "fpga0": unique within the worker */
    enum qw_device_kind kind;
    char board[64];  /* "" for none (CPU); GPU model or FPGA board type */
    bool emulated;   /* an emulated board (FPGA emulator), not real hardware */
    int slots, free; /* concurrent runs it takes, and how many more it can */
    int threads;     /* CPU threads one run uses here */
    int index;       /* GPU: the CUDA device index; FPGA: XRT's (-1: emulated) */
    json_t *info;    /* family-specific details (CPU: cores, simd; GPU: name, memory) */
};

struct qw_devices {
    int n;
    struct qw_device dev[QW_DEVICES_MAX];
};

/* Appends what this machine has, in probe-table order. A probe finding
 * nothing adds nothing; a probe failing is an error. */
int qw_devices_discover(struct qw_devices *out, const struct qw_config *cfg, struct qc_err *err);
void qw_devices_free(struct qw_devices *d);

const char *qw_device_kind_name(enum qw_device_kind k);

/* DEVICE of docs/api.md; new reference. */
json_t *qw_device_to_json(const struct qw_device *d);
/* The array of every device (all = true) or of those with a free slot. */
json_t *qw_devices_to_json(const struct qw_devices *d, bool all);
struct qw_device *qw_devices_find(struct qw_devices *d, const char *id);

/* The names of the datasets installed here in their standard directories
 * (qc_dataset_present; generated ones always), sent at registration so
 * the server can warn about a spec no worker has the data for. New
 * reference. */
json_t *qw_datasets_to_json(void);

/* True when a run whose spec asks for `kind` ("cpu", "gpu", "fpga",
 * "any") and `board` ("" or NULL: any board) may run on `d`; otherwise
 * false with the reason in `why`. */
bool qw_device_accepts(const struct qw_device *d, const char *kind, const char *board, char *why,
                       size_t why_len);

#endif
