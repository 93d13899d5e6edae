/* Parsing qlab-server's settings from the environment and the flags. */
#include "server/config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char srv_config_usage[] =
    "usage: qlab-server [options]\n"
    "  --listen HOST:PORT     address to listen on (default 127.0.0.1:8080; port 0 = any;\n"
    "                         env QLAB_LISTEN)\n"
    "  --db FILE              SQLite database (default var/qlab.db; env QLAB_DB)\n"
    "  --web DIR              dashboard files to serve (default: PREFIX/share/qlab/web beside\n"
    "                         the installed binary, else ./web; \"\" = none; env QLAB_WEB)\n"
    "  --data DIR             checkpoint storage (default: beside the database; env QLAB_DATA)\n"
    "  --token-file FILE      bearer tokens, 'ROLE TOKEN' per line (env QLAB_TOKEN_FILE);\n"
    "                         required unless listening on loopback\n"
    "  --tls-cert FILE        serve HTTPS with this PEM certificate (env QLAB_TLS_CERT)\n"
    "  --tls-key FILE         ... and this PEM private key (env QLAB_TLS_KEY)\n"
    "  --insecure-http        allow tokens over plain HTTP on a non-loopback address\n"
    "                         (only behind a TLS-terminating proxy)\n"
    "  --threads N            HTTP thread pool size (default 8)\n"
    "  --lease-ttl S          seconds a lease survives without a heartbeat (default 30)\n"
    "  --heartbeat S          heartbeat interval given to workers (default 5)\n"
    "  --max-body BYTES       largest JSON body (default 8388608)\n"
    "  --max-checkpoint BYTES largest checkpoint upload (default 268435456)\n"
    "  --max-sweep-runs N     largest sweep (default 10000)\n"
    "  --max-attempts N       default attempts per run (default 3)\n"
    "  --durable              fsync every commit (survives power loss, not just kill -9)\n"
    "  --busy-timeout MS      wait this long for another process's database lock, then\n"
    "                         answer 503 with Retry-After (default 5000)\n"
    "  --max-conn-per-ip N    connections one client address may hold (default 64;\n"
    "                         0 = no limit; raise it behind a proxy)\n"
    "  --header-timeout S     close a connection whose request headers are not complete\n"
    "                         within S seconds, and an idle keep-alive one (default 10)\n"
    "  --query-timeout S      longest run-list query; past it 503 query_timeout (default 2)\n"
    "  --heavy-lists N        metric-filtered run lists at once (default: threads / 4)\n"
    "  --register-rate N      worker registrations per minute per join token (default 10)\n"
    "  --event-retention S    delete events older than S seconds (default 0: keep all)\n"
    "  --cost-jobs N          Yosys runs synthesizing run costs at once, in the background\n"
    "                         (default 1; 0 = costs from known figures only; env QLAB_COST_JOBS)\n"
    "  --hw-dir DIR           the hw/ folder: RTL, flows, cost table (default beside the\n"
    "                         binary; env QLAB_HW_DIR)\n";

void srv_config_init(struct srv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = 8080;
    snprintf(c->db_path, sizeof c->db_path, "var/qlab.db");
    c->max_body = 8u << 20;
    c->max_checkpoint = 256u << 20;
    c->threads = 8;
    c->lease_ttl = 30;
    c->heartbeat = 5;
    c->max_sweep_runs = 10000;
    c->max_attempts = 3;
    c->max_wait = 30;
    c->busy_ms = 5000;
    c->max_conn_per_ip = 64;
    c->header_timeout_s = 10;
    c->query_timeout = 2;
    c->register_per_min = 10;
    c->heavy_lists = 0; /* threads / 4, at least 1 (set after parsing) */
    c->cost_jobs = 1;
}

static int set_path(char *dst, const char *v, const char *flag, struct qc_err *err)
{
    if (!v[0] || strlen(v) >= SRV_PATH_MAX)
        return qc_err_set(err, QC_EINVAL, flag, "%s needs a path of 1..%d bytes", flag,
                          SRV_PATH_MAX - 1);
    snprintf(dst, SRV_PATH_MAX, "%s", v);
    return QC_OK;
}

static int set_listen(struct srv_config *c, const char *v, const char *flag, struct qc_err *err)
{
    const char *colon = strrchr(v, ':');
    char *end;
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof c->host)
        return qc_err_set(err, QC_EINVAL, flag, "%s wants HOST:PORT, got '%.100s'", flag, v);
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return qc_err_set(err, QC_EINVAL, flag, "%s: port '%.20s' is not in 0..65535", flag,
                          colon + 1);
    const char *h = v;
    size_t n = (size_t)(colon - v);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') { /* [::1]:8080 */
        h++;
        n -= 2;
    }
    memcpy(c->host, h, n);
    c->host[n] = '\0';
    c->port = (int)port;
    return QC_OK;
}

static int set_num(double *out, const char *v, double lo, double hi, const char *flag,
                   struct qc_err *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !(x >= lo && x <= hi))
        return qc_err_set(err, QC_EINVAL, flag, "%s wants a number in %g..%g, got '%.40s'", flag,
                          lo, hi, v);
    *out = x;
    return QC_OK;
}

static int set_int(int64_t *out, const char *v, int64_t lo, int64_t hi, const char *flag,
                   struct qc_err *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi)
        return qc_err_set(err, QC_EINVAL, flag, "%s wants an integer in %lld..%lld, got '%.40s'",
                          flag, (long long)lo, (long long)hi, v);
    *out = x;
    return QC_OK;
}

static int apply(struct srv_config *c, const char *flag, const char *v, struct qc_err *err)
{
    int64_t i;
    int rc;
    if (strcmp(flag, "--listen") == 0)
        return set_listen(c, v, flag, err);
    if (strcmp(flag, "--db") == 0)
        return set_path(c->db_path, v, flag, err);
    if (strcmp(flag, "--web") == 0) {
        c->web_given = true;
        return v[0] ? set_path(c->web_dir, v, flag, err) : (c->web_dir[0] = '\0', QC_OK);
    }
    if (strcmp(flag, "--data") == 0)
        return set_path(c->data_dir, v, flag, err);
    if (strcmp(flag, "--token-file") == 0)
        return set_path(c->token_file, v, flag, err);
    if (strcmp(flag, "--tls-cert") == 0)
        return set_path(c->tls_cert, v, flag, err);
    if (strcmp(flag, "--tls-key") == 0)
        return set_path(c->tls_key, v, flag, err);
    if (strcmp(flag, "--lease-ttl") == 0)
        return set_num(&c->lease_ttl, v, 0.2, 86400, flag, err);
    if (strcmp(flag, "--heartbeat") == 0)
        return set_num(&c->heartbeat, v, 0.05, 3600, flag, err);
    if (strcmp(flag, "--threads") == 0) {
        if ((rc = set_int(&i, v, 1, 256, flag, err)) == 0)
            c->threads = (int)i;
        return rc;
    }
    if (strcmp(flag, "--max-body") == 0) {
        if ((rc = set_int(&i, v, 1024, (int64_t)1 << 31, flag, err)) == 0)
            c->max_body = (size_t)i;
        return rc;
    }
    if (strcmp(flag, "--max-checkpoint") == 0) {
        if ((rc = set_int(&i, v, 1024, (int64_t)1 << 40, flag, err)) == 0)
            c->max_checkpoint = (size_t)i;
        return rc;
    }
    if (strcmp(flag, "--max-sweep-runs") == 0)
        return set_int(&c->max_sweep_runs, v, 1, 1000000, flag, err);
    if (strcmp(flag, "--max-conn-per-ip") == 0) {
        if ((rc = set_int(&i, v, 0, 100000, flag, err)) == 0)
            c->max_conn_per_ip = (int)i;
        return rc;
    }
    if (strcmp(flag, "--event-retention") == 0)
        return set_num(&c->event_retention, v, 0, 1e10, flag, err);
    if (strcmp(flag, "--register-rate") == 0)
        return set_num(&c->register_per_min, v, 1, 100000, flag, err);
    if (strcmp(flag, "--query-timeout") == 0)
        return set_num(&c->query_timeout, v, 1e-6, 600, flag, err);
    if (strcmp(flag, "--heavy-lists") == 0) {
        if ((rc = set_int(&i, v, 1, 256, flag, err)) == 0)
            c->heavy_lists = (int)i;
        return rc;
    }
    if (strcmp(flag, "--header-timeout") == 0) {
        if ((rc = set_int(&i, v, 1, 600, flag, err)) == 0)
            c->header_timeout_s = (int)i;
        return rc;
    }
    if (strcmp(flag, "--busy-timeout") == 0) {
        if ((rc = set_int(&i, v, 1, 600000, flag, err)) == 0)
            c->busy_ms = (int)i;
        return rc;
    }
    if (strcmp(flag, "--cost-jobs") == 0) {
        if ((rc = set_int(&i, v, 0, 16, flag, err)) == 0)
            c->cost_jobs = (int)i;
        return rc;
    }
    if (strcmp(flag, "--hw-dir") == 0)
        return set_path(c->hw_dir, v, flag, err);
    if (strcmp(flag, "--max-attempts") == 0) {
        if ((rc = set_int(&i, v, 1, 100, flag, err)) == 0)
            c->max_attempts = (int)i;
        return rc;
    }
    return qc_err_set(err, QC_EINVAL, flag, "unknown option '%.100s' (see --help)", flag);
}

int srv_config_parse(struct srv_config *c, int argc, char **argv, bool *help, struct qc_err *err)
{
    static const struct {
        const char *env, *flag;
    } envs[] = {{"QLAB_LISTEN", "--listen"},
                {"QLAB_DB", "--db"},
                {"QLAB_WEB", "--web"},
                {"QLAB_DATA", "--data"},
                {"QLAB_TOKEN_FILE", "--token-file"},
                {"QLAB_TLS_CERT", "--tls-cert"},
                {"QLAB_TLS_KEY", "--tls-key"},
                {"QLAB_COST_JOBS", "--cost-jobs"},
                {"QLAB_HW_DIR", "--hw-dir"}};
    int rc;

    *help = false;
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *v = getenv(envs[i].env);
        if (v && (rc = apply(c, envs[i].flag, v, err)) < 0) {
            snprintf(err->field, sizeof err->field, "%s", envs[i].env);
            return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            return QC_OK;
        }
        if (strcmp(a, "--durable") == 0) {
            c->durable = true;
            continue;
        }
        if (strcmp(a, "--insecure-http") == 0) {
            c->insecure_http = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        char flag[64];
        const char *v;
        if (strncmp(a, "--", 2) != 0)
            return qc_err_set(err, QC_EINVAL, a, "unexpected argument '%.100s'", a);
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
            if (i + 1 >= argc)
                return qc_err_set(err, QC_EINVAL, flag, "%s needs a value", flag);
            v = argv[++i];
        }
        if ((rc = apply(c, flag, v, err)) < 0)
            return rc;
    }
    if (c->heavy_lists == 0)
        c->heavy_lists = c->threads / 4 > 0 ? c->threads / 4 : 1;
    if (!c->tls_cert[0] != !c->tls_key[0])
        return qc_err_set(err, QC_EINVAL, c->tls_cert[0] ? "--tls-key" : "--tls-cert",
                          "--tls-cert and --tls-key go together");
    if (!c->data_dir[0]) { /* beside the database */
        const char *slash = strrchr(c->db_path, '/');
        int n = slash ? (int)(slash - c->db_path) : 1;
        snprintf(c->data_dir, sizeof c->data_dir, "%.*s/data", n, slash ? c->db_path : ".");
    }
    return QC_OK;
}

bool srv_addr_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}
