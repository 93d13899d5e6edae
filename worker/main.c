/* qlab-worker: leases runs from a qlab server and trains them here
 * (docs/worker.md). main wires the configuration, logging, libcurl and the
 * event loop together; everything else lives in the qw_* modules. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "qw_config.h"
#include "qw_log.h"
#include "qw_worker.h"

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    static struct qw_config cfg; /* outlives the worker; large, so not on the stack */
    struct qw_worker *w = NULL;
    struct qc_err err;
    uv_loop_t loop;
    int rc;

    qc_err_clear(&err);
    rc = qw_config_load(&cfg, argc, argv, &err);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "qlab-worker: %s\n%s", err.msg, "try 'qlab-worker --help'\n");
        return 2;
    }
    qw_log_set_level(cfg.log_level);
    signal(SIGPIPE, SIG_IGN); /* a server that hangs up is an error code, not a death */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        qw_log_error("curl_global_init failed");
        return 1;
    }
    uv_loop_init(&loop);
    if (qw_worker_create(&w, &loop, &cfg, &err)) {
        qw_log_error("%s", err.msg);
        rc = 1;
    } else {
        qw_worker_start(w);
        uv_run(&loop, UV_RUN_DEFAULT);
        rc = qw_worker_exit_code(w);
        if (qw_worker_forced(w)) {
            /* Training threads still run and hold pointers into the loop:
             * no orderly teardown is possible. Journals are on disk. */
            qw_log_warn("exiting with training threads still running");
            _exit(rc);
        }
    }
    /* Whatever is still open (sockets curl never reported closed) goes now. */
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    qw_worker_destroy(w);
    uv_loop_close(&loop);
    curl_global_cleanup();
    return rc;
}
