/* qlab-server settings: defaults, then the environment (QLAB_LISTEN,
 * QLAB_DB, QLAB_WEB, QLAB_DATA, QLAB_TOKEN_FILE, QLAB_COST_JOBS,
 * QLAB_HW_DIR), then the flags. */
#ifndef SRV_CONFIG_H
#define SRV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"

#define SRV_PATH_MAX 1024

struct sockaddr;

struct srv_config {
    char host[256]; /* listen address (numeric IPv4/IPv6 or localhost) */
    int port;       /* 0 = any free port (printed at start) */
    char db_path[SRV_PATH_MAX];
    char web_dir[SRV_PATH_MAX];  /* "" = no dashboard */
    bool web_given;              /* --web or QLAB_WEB set it; else webdir.c finds it */
    char data_dir[SRV_PATH_MAX]; /* checkpoints */
    char token_file[SRV_PATH_MAX];
    char tls_cert[SRV_PATH_MAX]; /* PEM certificate (chain); "" = plain HTTP */
    char tls_key[SRV_PATH_MAX];  /* its PEM private key */
    bool insecure_http;          /* tokens over plain HTTP off loopback (behind a TLS proxy) */
    size_t max_body;             /* bytes of a JSON body */
    size_t max_checkpoint;       /* bytes of a checkpoint upload */
    int threads;                 /* libmicrohttpd thread pool */
    double lease_ttl;            /* seconds a lease lives without a heartbeat */
    double heartbeat;            /* the interval workers are told to use */
    int64_t max_sweep_runs;
    int max_attempts;          /* default attempts of a run */
    double max_wait;           /* longest lease long-poll, seconds */
    bool durable;              /* synchronous=FULL */
    int busy_ms;               /* how long a write waits for another process's lock */
    int max_conn_per_ip;       /* connections one client address may hold (0 = no limit) */
    int header_timeout_s;      /* a connection must complete a request's headers within this */
    double query_timeout;      /* seconds a run list's query may take */
    int heavy_lists;           /* metric-filtered run lists at once */
    double register_per_min;   /* worker registrations per minute per join token (and burst) */
    double event_retention;    /* seconds events are kept (0 = forever) */
    int cost_jobs;             /* Yosys processes synthesizing costs at once (0: none) */
    char hw_dir[SRV_PATH_MAX]; /* hw/ (RTL, flows, cost table); "" = beside the binary */
};

void srv_config_init(struct srv_config *c);
/* Applies the environment then argv. QC_EINVAL naming the flag on a bad
 * value; `*help` set for --help. */
int srv_config_parse(struct srv_config *c, int argc, char **argv, bool *help, struct qc_err *err);
/* Whether a socket address is a loopback one (127/8, ::1, ::ffff:127/104).
 * The server asks this of the address it resolved and of the one it bound,
 * never of the host string (a name may start with "127." and resolve
 * anywhere). */
bool srv_addr_loopback(const struct sockaddr *sa);
extern const char srv_config_usage[];

#endif
