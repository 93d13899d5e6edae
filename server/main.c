/* qlab-server: the REST API, the run queue and the dashboard. Prints
 * "listening on http://HOST:PORT" once ready (the port chosen when
 * --listen asks for port 0), runs until SIGTERM or SIGINT. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "server/srv.h"
#include "server/webdir.h"

int main(int argc, char **argv)
{
    static struct srv_server srv; /* large; lives for the whole process */
    struct srv_config cfg;
    struct qc_err err;
    char exe[PATH_MAX], warn[SRV_PATH_MAX + 128];
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
    /* The installed web files are found relative to the binary itself. */
    srv_webdir_exe(exe, sizeof exe, "/proc/self/exe", argv[0]);
    if (srv_webdir_resolve(&cfg, exe, warn, sizeof warn, &err) < 0) {
        fprintf(stderr, "qlab-server: %s\n", err.msg);
        return 2;
    }
    if (warn[0])
        fprintf(stderr, "qlab-server: warning: %s\n", warn);
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
    fprintf(stderr, "qlab-server: database %s, data %s, web %s, %s\n", cfg.db_path, cfg.data_dir,
            cfg.web_dir[0] ? cfg.web_dir : "(none)",
            srv.auth.enabled ? "tokens required" : "open (loopback, no token file)");
    sigwait(&sigs, &sig);
    fprintf(stderr, "qlab-server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_server_stop(&srv);
    return 0;
}
