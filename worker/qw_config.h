/* The worker's configuration: defaults, then an optional key=value file
 * (--config), then the environment (QLAB_SERVER, QLAB_TOKEN, and SLURM's
 * SLURM_JOB_END_TIME where it sets it), then flags;
 * each later source overrides the earlier ones. Keys of the file are the
 * long flag names without dashes (`server = http://lab:8080`). */
#ifndef QW_CONFIG_H
#define QW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"
#include "qw_log.h"

#define QW_URL_MAX       512
#define QW_TOKEN_MAX     256
#define QW_NAME_MAX      128
#define QW_PATH_MAX      1024
#define QW_STATE_DIR_MAX 768 /* leaves room for the names below it */

struct qw_config {
    char server[QW_URL_MAX];          /* base URL, no trailing slash: http://host:port */
    char token[QW_TOKEN_MAX];         /* join token for registration ("" = none) */
    char cacert[QW_PATH_MAX];         /* PEM CA file for https:// ("" = the system store) */
    char name[QW_NAME_MAX];           /* worker name; default: the host name */
    char tags[QW_NAME_MAX];           /* comma-separated tags sent at registration */
    char state_dir[QW_STATE_DIR_MAX]; /* journals and checkpoints live here */
    int slots;                        /* concurrent runs on the CPU device */
    int threads;                      /* CPU threads per run (0 = cores / slots) */
    bool once;                        /* lease one run, run it, exit */
    enum qw_log_level log_level;
    double heartbeat_s;             /* 0 = the interval the server asks for */
    int lease_wait_s;               /* long-poll wait, 0..30 */
    double http_timeout_s;          /* per request, long-poll wait excluded */
    double backoff_max_s;           /* cap of the exponential back-off */
    int64_t checkpoint_every;       /* steps between checkpoints (0 = epoch ends only) */
    double flush_s;                 /* metric batch: send at most this long after a point */
    int flush_points;               /* ... or as soon as this many are waiting */
    int64_t journal_max_bytes;      /* per run; training waits while it is full */
    double shutdown_timeout_s;      /* SIGTERM: exit within this even if runs hang */
    double end_time;                /* the batch job's end, Unix seconds (0 = none; qw_drain.h) */
    double drain_before_s;          /* drain this long before end_time (0 = never) */
    int drain_signal;               /* signal number that drains the worker (0 = none) */
    char fpga_emulate[QW_NAME_MAX]; /* comma-separated board presets to emulate ("" = none) */
    char xclbin[QW_PATH_MAX];       /* real boards: the xclbin to load ("" = offer none) */
    char fpga_board[QW_NAME_MAX];   /* real boards: their preset ("" = XRT's board name) */
};

/* Fills `c` from every source. Returns 0, 1 when the caller should exit 0
 * at once (--help, --version printed on stdout), or QC_EINVAL with the
 * flag or key named in err->field and err->msg. */
int qw_config_load(struct qw_config *c, int argc, char **argv, struct qc_err *err);

extern const char qw_config_usage[];
#define QW_VERSION "0.1.0"

#endif
