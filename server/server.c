/* Starting and stopping the server: storage, the hub, libmicrohttpd. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "server/cost.h"
#include "server/http.h"
#include "server/srv.h"
#include "server/store.h"

/* mkdir -p for the data directory and the database's directory. */
static int make_dirs(const char *path, struct qc_err *err)
{
    char p[SRV_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return qc_err_set(err, QC_EIO, "", "cannot create directory '%s': %s", p,
                              strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return qc_err_set(err, QC_EIO, "", "cannot create directory '%s': %s", p, strerror(errno));
    return QC_OK;
}

/* A PEM file's text (malloc'd, NUL-terminated), or NULL with err naming
 * the flag. */
static char *read_pem(const char *path, const char *flag, struct qc_err *err)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1L << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
        fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = '\0';
        fclose(f);
        if (strstr(text, "-----BEGIN "))
            return text;
        qc_err_set(err, QC_EINVAL, flag, "%s is not a PEM file", path);
        free(text);
        return NULL;
    }
    qc_err_set(err, QC_EIO, flag, "cannot read %s: %s", path,
               !f                ? strerror(errno)
               : n >= (1L << 20) ? "larger than 1 MiB"
                                 : "read error");
    if (f)
        fclose(f);
    free(text);
    return NULL;
}

static void tick(void *ctx)
{
    srv_expire_leases(ctx);
    srv_events_prune(ctx);
}

static int64_t last_event_id(struct srv_db *db)
{
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    if (sqlite3_prepare_v2(db->writer.db, "SELECT max(id) FROM events", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

int srv_server_start(struct srv_server *s, const struct srv_config *cfg, struct qc_err *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16], dbdir[SRV_PATH_MAX];
    int rc;

    memset(s, 0, sizeof *s);
    s->gate.listen_fd = s->gate.epoll_fd = s->gate.wake_fd = s->gate.adopt_fd =
        -1; /* not started */
    s->cfg = *cfg;
    s->stats.started = srv_mono();
    if ((rc = srv_auth_load(&s->auth, cfg->token_file, err)) < 0)
        return rc;
    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai)
        return qc_err_set(err, QC_EINVAL, "--listen", "cannot resolve listen address '%s'",
                          cfg->host);
    /* Judged by the address the name resolves to, never by the name. */
    const bool loopback = srv_addr_loopback(ai->ai_addr);
    char where[INET6_ADDRSTRLEN + 8] = "?";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, where, sizeof where, NULL, 0, NI_NUMERICHOST);
    if (!s->auth.enabled && !loopback) {
        freeaddrinfo(ai);
        return qc_err_set(err, QC_EINVAL, "--token-file",
                          "listening on %s (%s) needs --token-file: without tokens anyone could "
                          "submit and lease runs (only loopback may run open)",
                          cfg->host, where);
    }
    s->tls = cfg->tls_cert[0] != '\0';
    if (!loopback && !s->tls && !cfg->insecure_http) {
        freeaddrinfo(ai);
        return qc_err_set(err, QC_EINVAL, "--tls-cert",
                          "listening on %s (%s) without TLS would send every token in clear: "
                          "give --tls-cert and --tls-key, or --insecure-http when a "
                          "TLS-terminating proxy is in front",
                          cfg->host, where);
    }
    if (s->tls && (!(s->tls_cert = read_pem(cfg->tls_cert, "--tls-cert", err)) ||
                   !(s->tls_key = read_pem(cfg->tls_key, "--tls-key", err)))) {
        rc = err->code;
        goto fail;
    }
    const char *slash = strrchr(cfg->db_path, '/');
    if (slash && slash != cfg->db_path) {
        snprintf(dbdir, sizeof dbdir, "%.*s", (int)(slash - cfg->db_path), cfg->db_path);
        if ((rc = make_dirs(dbdir, err)) < 0)
            goto fail;
    }
    if ((rc = make_dirs(cfg->data_dir, err)) < 0 ||
        (rc = srv_db_open(&s->db, cfg->db_path, cfg->durable, err)) < 0)
        goto fail;
    srv_db_set_busy_timeout(&s->db, cfg->busy_ms);
    if ((rc = srv_hub_start(&s->hub, last_event_id(&s->db), tick, s,
                            cfg->lease_ttl / 4 < 1 ? cfg->lease_ttl / 4 : 1)) < 0) {
        rc = qc_err_set(err, QC_EINTERNAL, "", "cannot start the hub thread");
        goto fail;
    }
    /* A quarter of the HTTP threads run the long handlers (ingest): the
     * writer serialises their transactions anyway. */
    if (srv_offload_start(&s->offload, cfg->threads / 4 > 2 ? cfg->threads / 4 : 2) < 0) {
        rc = qc_err_set(err, QC_EINTERNAL, "", "cannot start the offload threads");
        goto fail;
    }
    if ((rc = srv_leases_grace(s, err)) < 0 || (rc = srv_worker_tokens_hash(s, err)) < 0 ||
        (rc = srv_cost_start(s, err)) < 0)
        goto fail;
    s->auth.register_per_s = cfg->register_per_min / 60.0;
    s->auth.register_burst = cfg->register_per_min;
    /* Every connection comes through the gate (gate.h): it owns the
     * listening socket, is the TLS endpoint (GnuTLS) when there is a
     * certificate, checks each request's framing and hands libmicrohttpd
     * the checked plain bytes over a socketpair. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    /* A new connection has --header-timeout to send a request's headers
     * (no slowloris); the access handler then gives it SRV_IDLE_TIMEOUT_S,
     * and the completion callback takes it back to the short one while the
     * connection waits for its next request. */
    s->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, srv_http_access, s, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned)cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, srv_http_completed, s,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->header_timeout_s,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_conn_per_ip,
                         MHD_OPTION_CONNECTION_LIMIT, 2000u, MHD_OPTION_END);
    if (!s->daemon) {
        rc = qc_err_set(err, QC_EIO, "", "cannot start libmicrohttpd");
        goto fail;
    }
    if ((rc = srv_gate_start(&s->gate, s->daemon, ai->ai_addr, (socklen_t)ai->ai_addrlen,
                             s->tls_cert, s->tls_key, err)) < 0) {
        if (rc == QC_EIO)
            snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                     " (%s:%d: in use, or not an address of this machine?)", cfg->host, cfg->port);
        goto fail;
    }
    if (!s->auth.enabled && !srv_gate_loopback(&s->gate)) {
        rc = qc_err_set(err, QC_EINVAL, "--token-file",
                        "the socket bound for %s is not a loopback address: without tokens "
                        "only loopback may run open",
                        cfg->host);
        goto fail;
    }
    s->port = srv_gate_port(&s->gate);
    freeaddrinfo(ai);
    return QC_OK;
fail:
    freeaddrinfo(ai);
    srv_gate_stop(&s->gate);
    srv_offload_stop(&s->offload);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    srv_offload_free(&s->offload);
    srv_cost_stop(s);
    srv_hub_free(&s->hub);
    srv_db_close(&s->db);
    free(s->tls_cert);
    free(s->tls_key);
    s->tls_cert = s->tls_key = NULL;
    return rc;
}

void srv_server_stop(struct srv_server *s)
{
    /* Parked connections first: libmicrohttpd cannot stop with any. */
    srv_gate_drain(&s->gate);
    srv_hub_stop(&s->hub);
    srv_offload_stop(&s->offload); /* runs what is queued and resumes it */
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    srv_offload_free(&s->offload);
    srv_cost_stop(s);
    s->daemon = NULL;
    srv_gate_stop(&s->gate);
    srv_hub_free(&s->hub); /* the connections it resumed are gone now */
    srv_db_close(&s->db);
    free(s->tls_cert);
    free(s->tls_key);
    s->tls_cert = s->tls_key = NULL;
}
