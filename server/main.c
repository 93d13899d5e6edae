/* qlab-server: the REST API, the run queue and the dashboard. Prints
 * "listening on http://HOST:PORT" once ready (the port chosen when
 * --listen asks for port 0), runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"

int main(int argc, char **argv)
{
    static struct srv_server srv; /* large; lives for the whole process */
    struct srv_config cfg;
    struct qc_err err;
    bool help;
    sigset_t sigs;
    int sig;

    qc_err_clear(&err);
    srv_config_init(&cfg);
    if (srv_config_parse(&cfg, argc, argv, &help, &err) < 0) {
        fprintf(stderr, "qlab-server: %s\n%s", err.msg, srv_config_usage);
        return 2;
    }
    if (help) {
        fputs(srv_config_usage, stdout);
        return 0;
    }
    /* Every thread inherits this mask; only sigwait below sees the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A write past a file-size limit fails with EFBIG (an upload answers
     * 507) instead of killing the server. */
    signal(SIGXFSZ, SIG_IGN);

    if (srv_server_start(&srv, &cfg, &err) < 0) {
        fprintf(stderr, "qlab-server: %s%s%s\n", err.field[0] ? err.field : "",
                err.field[0] ? ": " : "", err.msg);
        return 1;
    }
    const bool v6 = strchr(cfg.host, ':') != NULL;
    printf("listening on %s://%s%s%s:%u\n", srv.tls ? "https" : "http", v6 ? "[" : "", cfg.host,
           v6 ? "]" : "", (unsigned)srv.port);
    fflush(stdout);
    fprintf(stderr, "qlab-server: database %s, data %s, %s\n", cfg.db_path, cfg.data_dir,
            srv.auth.enabled ? "tokens required" : "open (loopback, no token file)");
    sigwait(&sigs, &sig);
    fprintf(stderr, "qlab-server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_server_stop(&srv);
    return 0;
}
