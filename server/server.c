/* Starting and stopping the server: storage, the hub, libmicrohttpd. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static void tick(void *ctx)
{
    srv_expire_leases(ctx);
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
    s->cfg = *cfg;
    s->stats.started = srv_mono();
    if ((rc = srv_auth_load(&s->auth, cfg->token_file, err)) < 0)
        return rc;
    if (!s->auth.enabled && !srv_config_loopback(cfg))
        return qc_err_set(err, QC_EINVAL, "--token-file",
                          "listening on %s needs --token-file: without tokens anyone could "
                          "submit and lease runs (only loopback may run open)",
                          cfg->host);
    snprintf(port, sizeof port, "%d", cfg->port);
    if (getaddrinfo(cfg->host, port, &hints, &ai) != 0 || !ai)
        return qc_err_set(err, QC_EINVAL, "--listen", "cannot resolve listen address '%s'",
                          cfg->host);
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
    if ((rc = srv_leases_grace(s, err)) < 0)
        goto fail;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, srv_http_access, s, MHD_OPTION_SOCK_ADDR,
        ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_NOTIFY_COMPLETED, srv_http_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_CONNECTION_LIMIT, 2000u, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!s->daemon) {
        rc = qc_err_set(err, QC_EIO, "--listen",
                        "cannot listen on %s:%d (in use, or not an "
                        "address of this machine)",
                        cfg->host, cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (uint16_t)cfg->port;
    freeaddrinfo(ai);
    return QC_OK;
fail:
    freeaddrinfo(ai);
    srv_hub_stop(&s->hub);
    srv_db_close(&s->db);
    return rc;
}

void srv_server_stop(struct srv_server *s)
{
    /* Parked connections first: libmicrohttpd cannot stop with any. */
    if (s->daemon)
        MHD_quiesce_daemon(s->daemon);
    srv_hub_stop(&s->hub);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    srv_db_close(&s->db);
}
