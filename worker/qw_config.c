/* Configuration from defaults, a key=value file, the environment and flags
 * (see qw_config.h). One option table drives the flags and the file keys,
 * so the two never accept different names. */
#include "qw_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char qw_config_usage[] =
    "usage: qlab-worker [OPTION...]\n\n"
    "Leases runs from a qlab server, trains them on this machine's devices,\n"
    "streams their metrics and checkpoints back (docs/worker.md).\n\n"
    "  --server URL            server base URL (env QLAB_SERVER; default http://127.0.0.1:8080)\n"
    "  --token T               join token for registration (env QLAB_TOKEN)\n"
    "  --cacert FILE           verify an https:// server with this PEM CA file\n"
    "                          (env QLAB_CACERT; default: the system's CA store)\n"
    "  --name N                worker name (default: the host name)\n"
    "  --tags a,b              tags sent at registration\n"
    "  --slots N               concurrent runs on the CPU (default 1)\n"
    "  --threads N             CPU threads per run (default: cores / slots)\n"
    "  --state-dir DIR         journals and checkpoints (default ~/.local/state/qlab-worker)\n"
    "  --once                  lease one run, run it, exit\n"
    "  --log-level L           error, warn, info (default) or debug\n"
    "  --heartbeat S           heartbeat interval in seconds (default: the server's)\n"
    "  --lease-wait S          long-poll wait of a lease request, 0..30 (default 30)\n"
    "  --http-timeout S        timeout of one request (default 30)\n"
    "  --backoff-max S         longest retry delay (default 30)\n"
    "  --checkpoint-every N    steps between checkpoints (default 100; epoch ends always)\n"
    "  --flush-interval S      send metric points at most S after they appear (default 1)\n"
    "  --flush-points N        ... or once N are waiting (default 1000)\n"
    "  --journal-max MB        bound of one run's metric journal (default 64)\n"
    "  --shutdown-timeout S    on SIGTERM, exit within S seconds (default 10)\n"
    "  --end-time T            the batch job's end, Unix seconds (env SLURM_JOB_END_TIME)\n"
    "  --drain-before S        S seconds before --end-time: stop leasing, hand the runs back\n"
    "                          and exit 0 (default 0: never)\n"
    "  --drain-signal SIG      drain the same way on USR1, USR2 or HUP (default none)\n"
    "  --fpga-emulate B[,B...] offer emulated FPGA boards, one per name (presets of\n"
    "                          hw/boards/boards.conf: zcu104, zcu102, u250)\n"
    "  --xclbin FILE           offer the real boards XRT finds, with FILE loaded (its\n"
    "                          qgemm kernel; docs/fpga.md)\n"
    "  --fpga-board B          the preset real boards are offered as and timed by\n"
    "                          (default: the board XRT names, which needs a preset)\n"
    "  --config FILE           key=value file with the options above (no dashes)\n"
    "  --version, --help\n";

enum opt_type { T_STR, T_INT, T_I64, T_DBL, T_BOOL, T_LEVEL, T_SIGNAL };

struct opt {
    const char *name;
    enum opt_type type;
    size_t off, size;
    double min, max;
};

#define O(name, type, field, lo, hi)                                                               \
    {                                                                                              \
        name, type, offsetof(struct qw_config, field), sizeof(((struct qw_config *)0)->field), lo, \
            hi                                                                                     \
    }

static const struct opt table[] = {
    O("server", T_STR, server, 0, 0),
    O("token", T_STR, token, 0, 0),
    O("cacert", T_STR, cacert, 0, 0),
    O("name", T_STR, name, 0, 0),
    O("tags", T_STR, tags, 0, 0),
    O("state-dir", T_STR, state_dir, 0, 0),
    O("slots", T_INT, slots, 1, 1024),
    O("threads", T_INT, threads, 0, 4096),
    O("once", T_BOOL, once, 0, 0),
    O("log-level", T_LEVEL, log_level, 0, 0),
    O("heartbeat", T_DBL, heartbeat_s, 0.05, 3600),
    O("lease-wait", T_INT, lease_wait_s, 0, 30),
    O("http-timeout", T_DBL, http_timeout_s, 0.1, 3600),
    O("backoff-max", T_DBL, backoff_max_s, 0.05, 3600),
    O("checkpoint-every", T_I64, checkpoint_every, 0, 1e12),
    O("flush-interval", T_DBL, flush_s, 0, 3600),
    O("flush-points", T_INT, flush_points, 1, 100000),
    O("journal-max", T_I64, journal_max_bytes, 1, 1 << 20), /* MB on input */
    O("shutdown-timeout", T_DBL, shutdown_timeout_s, 0.1, 3600),
    O("end-time", T_DBL, end_time, 0, 1e11),
    O("drain-before", T_DBL, drain_before_s, 0, 1e7),
    O("drain-signal", T_SIGNAL, drain_signal, 0, 0),
    O("fpga-emulate", T_STR, fpga_emulate, 0, 0),
    O("xclbin", T_STR, xclbin, 0, 0),
    O("fpga-board", T_STR, fpga_board, 0, 0),
};
#define NOPTS ((int)(sizeof table / sizeof table[0]))

/* The signals a scheduler may send to ask for a drain (SLURM's --signal). */
static const struct {
    const char *name;
    int signum;
} drain_signals[] = {{"none", 0}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}};

static void defaults(struct qw_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->server, sizeof c->server, "http://127.0.0.1:8080");
    if (gethostname(c->name, sizeof c->name - 1) != 0)
        snprintf(c->name, sizeof c->name, "worker");
    const char *sd = getenv("STATE_DIRECTORY"); /* systemd's StateDirectory= */
    const char *home = getenv("HOME");
    if (sd && *sd)
        snprintf(c->state_dir, sizeof c->state_dir, "%s", sd);
    else if (home && *home)
        snprintf(c->state_dir, sizeof c->state_dir, "%s/.local/state/qlab-worker", home);
    else
        snprintf(c->state_dir, sizeof c->state_dir, "/tmp/qlab-worker-%d", (int)getuid());
    c->slots = 1;
    c->log_level = QW_LOG_INFO;
    c->lease_wait_s = 30;
    c->http_timeout_s = 30;
    c->backoff_max_s = 30;
    c->checkpoint_every = 100;
    c->flush_s = 1.0;
    c->flush_points = 1000;
    c->journal_max_bytes = 64;
    c->shutdown_timeout_s = 10;
}

static const struct opt *find(const char *name)
{
    for (int i = 0; i < NOPTS; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Sets one option from its text. `src` names the source in messages. */
static int set(struct qw_config *c, const struct opt *o, const char *val, const char *src,
               struct qc_err *err)
{
    char *p = (char *)c + o->off, *end;
    double d;

    switch (o->type) {
    case T_STR:
        if (strlen(val) >= o->size)
            return qc_err_set(err, QC_EINVAL, o->name, "%s: %s is longer than %zu bytes", src,
                              o->name, o->size - 1);
        memcpy(p, val, strlen(val) + 1);
        return 0;
    case T_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes"))
            *(bool *)p = true;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no"))
            *(bool *)p = false;
        else
            return qc_err_set(err, QC_EINVAL, o->name, "%s: %s '%s' is not true or false", src,
                              o->name, val);
        return 0;
    case T_LEVEL:
        if (!qw_log_parse_level(val, (enum qw_log_level *)p))
            return qc_err_set(err, QC_EINVAL, o->name,
                              "%s: log-level '%s' is not error, warn, info or debug", src, val);
        return 0;
    case T_SIGNAL:
        for (size_t i = 0; i < sizeof drain_signals / sizeof drain_signals[0]; i++)
            if (!strcmp(val, drain_signals[i].name) ||
                (!strncmp(val, "SIG", 3) && !strcmp(val + 3, drain_signals[i].name))) {
                *(int *)p = drain_signals[i].signum;
                return 0;
            }
        return qc_err_set(err, QC_EINVAL, o->name, "%s: %s '%s' is not USR1, USR2, HUP or none",
                          src, o->name, val);
    default:
        errno = 0;
        d = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(d) || d < o->min || d > o->max ||
            (o->type != T_DBL && d != floor(d)))
            return qc_err_set(err, QC_EINVAL, o->name, "%s: %s '%s' is not a %s in %g..%g", src,
                              o->name, val, o->type == T_DBL ? "number" : "whole number", o->min,
                              o->max);
        if (o->type == T_INT)
            *(int *)p = (int)d;
        else if (o->type == T_I64)
            *(int64_t *)p = (int64_t)d;
        else
            *(double *)p = d;
        return 0;
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static int load_file(struct qw_config *c, const char *path, struct qc_err *err)
{
    char line[2048], src[QW_PATH_MAX + 32];
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");

    if (!f)
        return qc_err_set(err, QC_EINVAL, "config", "--config: cannot open %s: %s", path,
                          strerror(errno));
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        if (!eq) {
            rc = qc_err_set(err, QC_EINVAL, "config", "%s: expected key = value", src);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        const struct opt *o = find(key);
        if (!o)
            rc = qc_err_set(err, QC_EINVAL, "config", "%s: unknown key '%s'", src, key);
        else
            rc = set(c, o, val, src, err);
    }
    fclose(f);
    return rc;
}

int qw_config_load(struct qw_config *c, int argc, char **argv, struct qc_err *err)
{
    struct option lopts[NOPTS + 4];
    const char *env;
    int i, rc, idx;

    defaults(c);
    for (i = 0; i < NOPTS; i++)
        lopts[i] = (struct option){table[i].name,
                                   table[i].type == T_BOOL ? no_argument : required_argument, NULL,
                                   1000 + i};
    lopts[i++] = (struct option){"config", required_argument, NULL, 'c'};
    lopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[i++] = (struct option){"version", no_argument, NULL, 'V'};
    lopts[i] = (struct option){NULL, 0, NULL, 0};

    /* First pass: only --config, --help and --version, so that the file
     * sits below the environment and the other flags. */
    opterr = 0;
    optind = 1;
    while ((rc = getopt_long(argc, argv, ":h", lopts, &idx)) != -1) {
        if (rc == 'h') {
            fputs(qw_config_usage, stdout);
            return 1;
        }
        if (rc == 'V') {
            printf("qlab-worker %s\n", QW_VERSION);
            return 1;
        }
        if (rc == 'c' && (rc = load_file(c, optarg, err)))
            return rc;
        if (rc == '?' || rc == ':')
            return qc_err_set(err, QC_EINVAL, argv[optind - 1], "%s: %s",
                              rc == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
    }
    if (optind < argc)
        return qc_err_set(err, QC_EINVAL, argv[optind], "unexpected argument '%s'", argv[optind]);
    if ((env = getenv("QLAB_SERVER")) && *env &&
        (rc = set(c, find("server"), env, "QLAB_SERVER", err)))
        return rc;
    if ((env = getenv("QLAB_TOKEN")) && *env &&
        (rc = set(c, find("token"), env, "QLAB_TOKEN", err)))
        return rc;
    if ((env = getenv("QLAB_CACERT")) && *env &&
        (rc = set(c, find("cacert"), env, "QLAB_CACERT", err)))
        return rc;
    if ((env = getenv("SLURM_JOB_END_TIME")) && *env &&
        (rc = set(c, find("end-time"), env, "SLURM_JOB_END_TIME", err)))
        return rc;
    optind = 1;
    while ((rc = getopt_long(argc, argv, ":h", lopts, &idx)) != -1) {
        if (rc >= 1000 && (rc = set(c, &table[rc - 1000], optarg ? optarg : "true", "flag", err)))
            return rc;
    }
    size_t n = strlen(c->server);
    while (n && c->server[n - 1] == '/')
        c->server[--n] = 0;
    if (strncmp(c->server, "http://", 7) != 0 && strncmp(c->server, "https://", 8) != 0)
        return qc_err_set(err, QC_EINVAL, "server", "server '%s' is not an http(s):// URL",
                          c->server);
    if (!c->state_dir[0])
        return qc_err_set(err, QC_EINVAL, "state-dir", "state-dir is empty");
    if (c->cacert[0] && access(c->cacert, R_OK) != 0)
        return qc_err_set(err, QC_EINVAL, "cacert", "cannot read the CA file '%s'", c->cacert);
    if (c->drain_before_s > 0 && c->end_time <= 0)
        return qc_err_set(err, QC_EINVAL, "drain-before",
                          "drain-before needs the job's end time: --end-time or "
                          "SLURM_JOB_END_TIME");
    c->journal_max_bytes <<= 20;
    return 0;
}
