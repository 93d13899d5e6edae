/* The front door of a plain-HTTP server: its own thread accepts the
 * connections, checks the framing of every request on them (request line,
 * header block, Content-Length, chunked bodies) and relays the bytes to
 * libmicrohttpd through a socketpair per connection (MHD_add_connection,
 * with the client's real address). libmicrohttpd answers malformed framing
 * itself with an HTML page or no answer at all; behind the gate it never
 * sees any: the gate forwards the requests before the bad one, lets their
 * answers out, then answers the bad one with the API's JSON error and
 * closes. Everything else (routing, limits, timeouts, responses) stays
 * libmicrohttpd's and the handlers'. With a certificate the gate is also
 * the TLS endpoint (GnuTLS, TLS 1.2 and 1.3): it decrypts before it checks,
 * so the same holds for HTTPS.
 *
 * Thread safety: srv_gate_start and srv_gate_stop from the main thread;
 * everything else runs on the gate's thread. */
#ifndef SRV_GATE_H
#define SRV_GATE_H

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "qcore/error.h"

/* A request head larger than this is 431 (libmicrohttpd's own pool is
 * larger, so it never hits its limit first). */
#define SRV_GATE_HEAD_MAX (16u << 10)
/* A request line this long or longer is 414. 8 KiB, as common proxies
 * allow: a metrics read naming a deep model's per-layer series runs to a
 * few KiB of query. */
#define SRV_GATE_LINE_MAX (8u << 10)

/* A socket handed to the gate from another thread (srv_gate_adopt). */
struct srv_gate_adoption {
    struct srv_gate_adoption *next;
    int fd;
    struct sockaddr_storage addr;
    socklen_t len;
};

struct srv_gate {
    int listen_fd, epoll_fd, wake_fd, adopt_fd;
    pthread_mutex_t mu; /* guards `adopt` */
    bool mu_init;
    struct srv_gate_adoption *adopt;
    pthread_t thread;
    bool running, draining;
    bool paused; /* out of descriptors: accepting again soon */
    bool tls;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    struct MHD_Daemon *daemon;
    struct srv_gate_link *links; /* every open connection */
};

/* Listens on `addr` (backlog 512, SO_REUSEADDR) and starts the thread that
 * feeds `daemon` (started with MHD_USE_NO_LISTEN_SOCKET). With `cert_pem`
 * and `key_pem` (PEM text, copied; NULL for plain HTTP) every connection is
 * TLS. QC_EIO naming the address, or QC_EINVAL naming --tls-cert for a
 * certificate and key GnuTLS refuses. */
int srv_gate_start(struct srv_gate *g, struct MHD_Daemon *daemon, const struct sockaddr *addr,
                   socklen_t len, const char *cert_pem, const char *key_pem, struct qc_err *err);
/* Takes a connected stream socket as if it had been accepted from `addr`
 * (the fuzzer feeds the gate through socketpairs this way). The gate owns
 * `fd` from the call on. Any thread. */
int srv_gate_adopt(struct srv_gate *g, int fd, const struct sockaddr *addr, socklen_t len);
/* The port bound (for port 0) and whether the bound address is loopback. */
uint16_t srv_gate_port(const struct srv_gate *g);
bool srv_gate_loopback(const struct srv_gate *g);
/* Stops accepting; the thread keeps relaying the answers under way for up
 * to a second, then ends. srv_gate_stop waits for that, then closes every
 * connection left. A gate never started is a no-op. */
void srv_gate_drain(struct srv_gate *g);
void srv_gate_tls_free(struct srv_gate *g); /* (srv_gate_stop calls it) */
void srv_gate_stop(struct srv_gate *g);

/* ---- the framing check, apart so that tests and the fuzzer drive it ---- */

enum srv_frame_state {
    SRV_F_LINE = 0, /* the request line */
    SRV_F_HEADERS,
    SRV_F_BODY,       /* Content-Length bytes */
    SRV_F_CHUNK_SIZE, /* a chunk-size line */
    SRV_F_CHUNK_DATA,
    SRV_F_CHUNK_END, /* the CRLF after a chunk's data */
    SRV_F_TRAILERS,
    SRV_F_BAD /* a framing error: nothing more is forwarded */
};

struct srv_frame {
    enum srv_frame_state state;
    char line[SRV_GATE_LINE_MAX]; /* the start of the current line (enough to check it) */
    size_t line_len;              /* bytes of the current line seen (may exceed line[]) */
    size_t head_len;              /* bytes of the current request head */
    uint64_t left;                /* body or chunk bytes still to come */
    bool has_length, chunked;
    uint64_t length;
    size_t held; /* bytes of an incomplete head or line, not yet released */
    /* Where the current request began, in bytes fed since the start. */
    uint64_t fed, request_start;
    /* The error, once state is SRV_F_BAD; `mid_body` when it came after
     * the request's head was released (in its chunked body). */
    int status;
    bool mid_body;
    const char *code;
    char msg[160];
};

void srv_frame_init(struct srv_frame *f);
/* Whether the stream stopped inside a request whose head was released (a
 * body or chunk still owed): that request can never complete. */
bool srv_frame_in_body(const struct srv_frame *f);
/* Feeds the next `n` bytes of the stream; returns how many bytes are now
 * released for forwarding, counted from the first byte not yet released
 * (which may have been fed before): a request head, a chunk-size line and
 * trailers are released only once complete and well-formed, body bytes at
 * once. Held bytes are never released after a framing error (state
 * SRV_F_BAD), and nothing fed after it is. */
size_t srv_frame_feed(struct srv_frame *f, const char *data, size_t n);
/* The error response for a frame in SRV_F_BAD: a complete HTTP/1.1
 * response with the JSON error body and Connection: close. */
size_t srv_frame_error(const struct srv_frame *f, char *out, size_t len);

#endif
