/* libFuzzer target: the whole HTTP request path of qlab-server. One real
 * server (the gate that checks framing, libmicrohttpd, the router,
 * authentication, every handler, SQLite in a temporary directory) runs in
 * this process; each input is written as raw client bytes into one end of
 * a socketpair whose other end the gate adopts as an accepted connection
 * (srv_gate_adopt), so request lines, headers, query strings, chunked and
 * plain bodies all reach the real code without a TCP port per input. The answer is read until the
 * server closes or 300 ms pass (event streams never end), then the connection is dropped.
 *
 * The server runs open (no token file, as on loopback) so that every route
 * is reachable, with long-polls capped at 50 ms and, in this build
 * (-DSRV_SSE_KEEPALIVE_S=0.05), event streams that notice a gone client
 * within 50 ms. A crash, a sanitizer report or a hang is a finding. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/srv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srv_server srv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct srv_config cfg;
    struct qc_err err;
    char dir[] = "/tmp/qlab-fuzz-http-XXXXXX";
    (void)argc;
    (void)argv;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    srv_config_init(&cfg);
    snprintf(cfg.host, sizeof cfg.host, "127.0.0.1");
    cfg.port = 0;
    snprintf(cfg.db_path, sizeof cfg.db_path, "%s/q.db", dir);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data", dir);
    cfg.web_dir[0] = '\0';
    cfg.threads = 2;
    cfg.heavy_lists = 1;
    cfg.max_wait = 0.05;
    cfg.lease_ttl = 2;
    cfg.max_body = 1 << 20;
    cfg.max_checkpoint = 1 << 20;
    cfg.max_sweep_runs = 50;
    if (srv_server_start(&srv, &cfg, &err) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("socketpair");
        abort();
    }
    /* The gate owns sv[1] from here (it closes it). */
    if (srv_gate_adopt(&srv.gate, sv[1], (const struct sockaddr *)&peer, sizeof peer) != QC_OK) {
        close(sv[0]);
        return 0;
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    bool shut = false;
    char buf[16384];
    for (int rounds = 0; rounds < 300; rounds++) {
        if (sent < size) {
            ssize_t n = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                break;
        }
        if (sent == size && !shut) {
            shutdown(sv[0], SHUT_WR); /* the client is done sending */
            shut = true;
        }
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        if (poll(&p, 1, 1) > 0) {
            ssize_t n = recv(sv[0], buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN))
                break; /* the server closed: done */
        }
    }
    close(sv[0]);
    return 0;
}
