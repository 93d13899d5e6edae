/* The front door (gate.h): accept, check each request's framing, relay to
 * libmicrohttpd over a socketpair, answer malformed framing with the JSON
 * error shape. One epoll thread; each connection holds two sockets (the
 * client's and the gate's end of its socketpair) and two buffers. */
#define _GNU_SOURCE /* accept4 */
#include "server/gate.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "server/config.h"

/* ---- the framing check ---------------------------------------------------- */

void srv_frame_init(struct srv_frame *f)
{
    memset(f, 0, sizeof *f);
}

bool srv_frame_in_body(const struct srv_frame *f)
{
    return f->state == SRV_F_BODY || f->state == SRV_F_CHUNK_SIZE || f->state == SRV_F_CHUNK_DATA ||
           f->state == SRV_F_CHUNK_END || f->state == SRV_F_TRAILERS ||
           (f->state == SRV_F_BAD && f->mid_body);
}

static void frame_fail(struct srv_frame *f, int status, const char *code, const char *msg)
{
    f->mid_body = srv_frame_in_body(f);
    f->state = SRV_F_BAD;
    f->status = status;
    f->code = code;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
}

static bool is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The line without its CR (and LF); NUL-terminated in f->line. */
static size_t line_text(struct srv_frame *f)
{
    size_t n = f->line_len < sizeof f->line ? f->line_len : sizeof f->line - 1;
    if (n && f->line[n - 1] == '\n')
        n--;
    if (n && f->line[n - 1] == '\r')
        n--;
    f->line[n] = '\0';
    return n;
}

static void check_request_line(struct srv_frame *f)
{
    size_t n = line_text(f);
    if (f->line_len >= sizeof f->line)
        return frame_fail(f, 414, "uri_too_long", "the request line is 8 KiB or longer");
    char *sp1 = strchr(f->line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 == f->line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
        return frame_fail(f, 400, "bad_request",
                          "the request line is not METHOD SP TARGET SP HTTP-VERSION");
    for (char *p = f->line; p < sp1; p++)
        if (!is_tchar((unsigned char)*p))
            return frame_fail(f, 400, "bad_request", "the method is not a token");
    for (char *p = sp1 + 1; p < sp2; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return frame_fail(f, 400, "bad_request",
                              "the request target holds a control character");
    const char *v = sp2 + 1;
    if (strcmp(v, "HTTP/1.1") != 0 && strcmp(v, "HTTP/1.0") != 0) {
        bool looks = strncmp(v, "HTTP/", 5) == 0 && isdigit((unsigned char)v[5]) && v[6] == '.' &&
                     isdigit((unsigned char)v[7]) && !v[8];
        return frame_fail(f, looks ? 505 : 400, looks ? "http_version" : "bad_request",
                          looks ? "only HTTP/1.0 and HTTP/1.1 are served"
                                : "the request line does not end in HTTP/1.x");
    }
    (void)n;
}

static bool name_is(const char *line, size_t name_len, const char *want)
{
    return strlen(want) == name_len && strncasecmp(line, want, name_len) == 0;
}

static void check_header_line(struct srv_frame *f)
{
    line_text(f);
    if (f->line_len >= sizeof f->line) /* long values are fine; long names are not */
        f->line[sizeof f->line - 1] = '\0';
    const char *colon = strchr(f->line, ':');
    if (f->line[0] == ' ' || f->line[0] == '\t')
        return frame_fail(f, 400, "bad_request", "a folded header line (obsolete line folding)");
    if (!colon || colon == f->line)
        return frame_fail(f, 400, "bad_request", "a header line without a name and a colon");
    size_t nl = (size_t)(colon - f->line);
    for (size_t i = 0; i < nl; i++)
        if (!is_tchar((unsigned char)f->line[i]))
            return frame_fail(f, 400, "bad_request", "a header name is not a token");
    const char *v = colon + 1;
    for (const char *p = v; *p; p++)
        if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f)
            return frame_fail(f, 400, "bad_request", "a header value holds a control character");
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (name_is(f->line, nl, "Content-Length")) {
        uint64_t x = 0;
        if (vl == 0)
            return frame_fail(f, 400, "bad_request", "Content-Length is empty");
        for (size_t i = 0; i < vl; i++) {
            if (!isdigit((unsigned char)v[i]))
                return frame_fail(f, 400, "bad_request", "Content-Length is not a decimal number");
            if (x > ((uint64_t)1 << 62) / 10)
                return frame_fail(f, 413, "too_large", "Content-Length is beyond any limit");
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (f->has_length && f->length != x)
            return frame_fail(f, 400, "bad_request", "two different Content-Length headers");
        f->has_length = true;
        f->length = x;
    } else if (name_is(f->line, nl, "Transfer-Encoding")) {
        if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
            return frame_fail(f, 501, "not_implemented",
                              "the only transfer coding served is chunked");
        f->chunked = true;
    }
}

static void check_chunk_size(struct srv_frame *f)
{
    size_t n = line_text(f);
    uint64_t x = 0;
    size_t i = 0;
    if (f->line_len >= sizeof f->line)
        return frame_fail(f, 400, "bad_request", "a chunk-size line is 8 KiB or longer");
    for (; i < n && isxdigit((unsigned char)f->line[i]); i++) {
        if (i >= 15)
            return frame_fail(f, 413, "too_large", "a chunk size beyond 2^60 bytes");
        char c = (char)tolower((unsigned char)f->line[i]);
        x = x * 16 + (uint64_t)(isdigit((unsigned char)c) ? c - '0' : c - 'a' + 10);
    }
    if (i == 0 || (i < n && f->line[i] != ';' && f->line[i] != ' ' && f->line[i] != '\t'))
        return frame_fail(f, 400, "bad_request", "a chunk size is not a hex number");
    f->left = x;
    f->state = x ? SRV_F_CHUNK_DATA : SRV_F_TRAILERS;
}

/* The head (line and headers) is complete: what comes next. */
static void head_done(struct srv_frame *f)
{
    if (f->has_length && f->chunked)
        return frame_fail(f, 400, "bad_request",
                          "both Content-Length and Transfer-Encoding: chunked");
    if (f->chunked)
        f->state = SRV_F_CHUNK_SIZE;
    else if (f->has_length && f->length > 0)
        f->state = SRV_F_BODY, f->left = f->length;
    else
        f->state = SRV_F_LINE;
}

size_t srv_frame_feed(struct srv_frame *f, const char *data, size_t n)
{
    /* `released` counts this call's bytes that may be forwarded; bytes of
     * an incomplete head, chunk-size line or trailer section are held
     * (f->line_len, f->head_len) until the unit is complete and valid. */
    size_t released = 0;
    size_t held = f->held; /* carried over from earlier calls */
    for (size_t i = 0; i < n && f->state != SRV_F_BAD; i++) {
        char c = data[i];
        f->fed++;
        switch (f->state) {
        case SRV_F_BODY:
        case SRV_F_CHUNK_DATA:
            /* Whole runs of body bytes at once. */
            {
                uint64_t run = n - i < f->left ? n - i : f->left;
                f->left -= run;
                f->fed += run - 1;
                i += (size_t)run - 1;
                released += held + (size_t)run;
                held = 0;
                if (f->left == 0)
                    f->state = f->state == SRV_F_BODY ? SRV_F_LINE : SRV_F_CHUNK_END;
            }
            continue;
        case SRV_F_CHUNK_END:
            held++;
            if (c == '\r' && f->line_len == 0) {
                f->line_len = 1;
                continue;
            }
            if (c != '\n') {
                frame_fail(f, 400, "bad_request", "chunk data longer than its size");
                continue;
            }
            f->line_len = 0;
            released += held;
            held = 0;
            f->state = SRV_F_CHUNK_SIZE;
            continue;
        default:
            break;
        }
        /* Line-based states. */
        if (f->state == SRV_F_LINE && f->line_len == 0 && f->head_len == 0)
            f->request_start = f->fed - 1;
        held++;
        f->head_len++;
        if (f->line_len < sizeof f->line)
            f->line[f->line_len] = c;
        f->line_len++;
        if ((f->state == SRV_F_LINE || f->state == SRV_F_HEADERS) &&
            f->head_len > SRV_GATE_HEAD_MAX) {
            frame_fail(f, 431, "headers_too_large", "the request head is larger than 16 KiB");
            continue;
        }
        if (f->state == SRV_F_TRAILERS && f->head_len > SRV_GATE_HEAD_MAX) {
            frame_fail(f, 431, "headers_too_large", "the trailers are larger than 16 KiB");
            continue;
        }
        if (c == '\0') {
            frame_fail(f, 400, "bad_request", "a NUL byte in the request head");
            continue;
        }
        if (c != '\n')
            continue;
        bool empty = f->line_len == 1 || (f->line_len == 2 && f->line[0] == '\r');
        switch (f->state) {
        case SRV_F_LINE:
            if (empty) { /* blank lines before a request are ignored */
                f->head_len = 0;
                break;
            }
            check_request_line(f);
            if (f->state != SRV_F_BAD) {
                f->state = SRV_F_HEADERS;
                f->has_length = f->chunked = false;
                f->length = 0;
            }
            break;
        case SRV_F_HEADERS:
            if (empty) {
                head_done(f);
                if (f->state != SRV_F_BAD) {
                    released += held; /* the whole head, checked */
                    held = 0;
                    f->head_len = 0;
                }
            } else {
                check_header_line(f);
            }
            break;
        case SRV_F_CHUNK_SIZE:
            check_chunk_size(f);
            if (f->state != SRV_F_BAD) {
                released += held;
                held = 0;
                f->head_len = 0;
            }
            break;
        case SRV_F_TRAILERS:
            if (empty) {
                f->state = SRV_F_LINE;
                released += held;
                held = 0;
                f->head_len = 0;
            } else {
                check_header_line(f); /* a trailer is a header line */
                f->has_length = f->chunked = false;
            }
            break;
        default:
            break;
        }
        f->line_len = 0;
    }
    f->held = f->state == SRV_F_BAD ? 0 : held;
    return released;
}

size_t srv_frame_error(const struct srv_frame *f, char *out, size_t len)
{
    static const struct {
        int status;
        const char *reason;
    } reasons[] = {{400, "Bad Request"},     {413, "Content Too Large"},
                   {414, "URI Too Long"},    {431, "Request Header Fields Too Large"},
                   {501, "Not Implemented"}, {505, "HTTP Version Not Supported"}};
    const char *reason = "Bad Request";
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == f->status)
            reason = reasons[i].reason;
    char body[320];
    /* The message is one of the fixed texts above: no escaping needed. */
    int bl = snprintf(body, sizeof body,
                      "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"field\":\"\"}}",
                      f->code ? f->code : "bad_request", f->msg);
    int n = snprintf(out, len,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n%s",
                     f->status ? f->status : 400, reason, bl, body);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* ---- the relay ------------------------------------------------------------ */

#define IN_CAP  (SRV_GATE_HEAD_MAX + (8u << 10))
#define OUT_CAP (16u << 10)

struct srv_gate_link;

struct gate_end {
    struct srv_gate_link *l;
    bool client; /* the client's socket, else the gate's end of the pair */
};

struct srv_gate_link {
    struct srv_gate_link *prev, *next;
    int cfd, mfd;
    gnutls_session_t tls; /* NULL for plain HTTP */
    bool handshaken;
    struct gate_end ce, me;
    uint32_t cev, mev; /* the epoll interest now registered */
    struct srv_frame frame;
    char in[IN_CAP]; /* client -> server: [0, rel) checked, [rel, in_len) held */
    size_t in_len, rel;
    char out[OUT_CAP]; /* server -> client */
    size_t out_off, out_len;
    char err[512]; /* the JSON error, sent once the server's answers are out */
    size_t err_off, err_len;
    bool c_eof, m_eof, m_shut;
};

static void link_free(struct srv_gate *g, struct srv_gate_link *l)
{
    if (l->tls) {
        if (l->handshaken) /* best effort: a close_notify if the socket takes it now */
            gnutls_bye(l->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(l->tls);
    }
    if (l->prev)
        l->prev->next = l->next;
    else
        g->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    /* Out of the epoll set before the close: a close drops an fd from the
     * set only when no other descriptor shares its open file, and a fork
     * elsewhere in the server (the cost model's yosys runs) briefly holds
     * copies of every descriptor; the set would then report events for
     * this link after it is freed. */
    epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, l->cfd, NULL);
    close(l->cfd);
    if (l->mfd >= 0) {
        epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, l->mfd, NULL);
        close(l->mfd);
    }
    free(l);
}

static void set_interest(struct srv_gate *g, int fd, uint32_t *cur, uint32_t want,
                         struct gate_end *e)
{
    if (*cur == want)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = e};
    epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
    *cur = want;
}

/* Moves what it can in both directions; returns false when the link is
 * finished and must be freed. */
/* The client's bytes: plain, or decrypted. Like recv: > 0 bytes, 0 at the
 * end (TCP FIN or TLS close_notify), -1 with errno (EAGAIN: nothing now). */
static ssize_t client_recv(struct srv_gate_link *l, char *buf, size_t n)
{
    if (!l->tls)
        return recv(l->cfd, buf, n, MSG_DONTWAIT);
    ssize_t r = gnutls_record_recv(l->tls, buf, n);
    if (r >= 0)
        return r;
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        errno = EAGAIN;
        return -1;
    }
    if (r == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;       /* a TCP close without close_notify: the end all the same */
    errno = ECONNRESET; /* a TLS error: nothing more can be read */
    return -1;
}

static ssize_t client_send(struct srv_gate_link *l, const char *buf, size_t n)
{
    if (!l->tls)
        return send(l->cfd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    /* After GNUTLS_E_AGAIN the same buffer is offered again (pump keeps it). */
    ssize_t r = gnutls_record_send(l->tls, buf, n);
    if (r >= 0)
        return r;
    errno = r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ? EAGAIN : EPIPE;
    return -1;
}

static void server_gone(struct srv_gate *g, struct srv_gate_link *l)
{
    /* Closed rather than left in the epoll set: a hung-up socketpair end
     * would report EPOLLHUP on every wait. */
    l->m_eof = true;
    l->in_len = l->rel = 0;
    if (l->mfd >= 0) {
        epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, l->mfd, NULL);
        close(l->mfd);
        l->mfd = -1;
    }
}

static bool pump(struct srv_gate *g, struct srv_gate_link *l)
{
    if (l->tls && !l->handshaken) {
        int r = gnutls_handshake(l->tls);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
            uint32_t want = gnutls_record_get_direction(l->tls) ? EPOLLOUT : EPOLLIN;
            set_interest(g, l->cfd, &l->cev, want, &l->ce);
            set_interest(g, l->mfd, &l->mev, EPOLLIN, &l->me);
            return true;
        }
        if (r < 0)
            return false; /* a failed handshake: nothing to answer in clear */
        l->handshaken = true;
    }
    for (bool moved = true; moved;) {
        moved = false;
        /* client -> gate */
        if (!l->c_eof && l->frame.state != SRV_F_BAD && l->in_len < IN_CAP) {
            ssize_t n = client_recv(l, l->in + l->in_len, IN_CAP - l->in_len);
            if (n > 0) {
                size_t ok = srv_frame_feed(&l->frame, l->in + l->in_len, (size_t)n);
                l->in_len += (size_t)n;
                if (l->frame.state == SRV_F_BAD) { /* drop what follows the checked part */
                    l->in_len = l->rel + ok;
                    l->err_len = srv_frame_error(&l->frame, l->err, sizeof l->err);
                }
                l->rel += ok;
                moved = true;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                l->c_eof = true;
                if (n < 0) /* reset: nobody to answer */
                    return false;
                moved = true;
            }
        }
        /* gate -> server: only checked bytes */
        if (l->mfd >= 0 && l->rel > 0) {
            ssize_t n = send(l->mfd, l->in, l->rel, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                memmove(l->in, l->in + n, l->in_len - (size_t)n);
                l->in_len -= (size_t)n;
                l->rel -= (size_t)n;
                moved = true;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                server_gone(g, l); /* the server closed its end */
                moved = true;
            }
        }
        /* A request whose head the server has can never complete (a bad
         * chunk, or the client gone mid-body): libmicrohttpd would wait
         * for the rest until its timeout, so its connection is dropped,
         * after taking what it already answered. */
        if (l->mfd >= 0 && srv_frame_in_body(&l->frame) &&
            (l->c_eof || l->frame.state == SRV_F_BAD)) {
            while (l->out_len < OUT_CAP) {
                ssize_t n = recv(l->mfd, l->out + l->out_len, OUT_CAP - l->out_len, MSG_DONTWAIT);
                if (n <= 0)
                    break;
                l->out_len += (size_t)n;
            }
            server_gone(g, l);
            moved = true;
        }
        /* Nothing more will come for the server: end its input. */
        if (!l->m_shut && l->mfd >= 0 && l->rel == 0 && (l->c_eof || l->frame.state == SRV_F_BAD)) {
            shutdown(l->mfd, SHUT_WR);
            l->m_shut = true;
            moved = true;
        }
        /* server -> gate (compacting what the client has taken) */
        if (l->out_off == l->out_len) {
            l->out_off = l->out_len = 0;
        } else if (l->out_off > OUT_CAP / 2) {
            memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
            l->out_len -= l->out_off;
            l->out_off = 0;
        }
        if (!l->m_eof && l->out_len < OUT_CAP) {
            ssize_t n = recv(l->mfd, l->out + l->out_len, OUT_CAP - l->out_len, MSG_DONTWAIT);
            if (n > 0) {
                l->out_len += (size_t)n;
                moved = true;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                server_gone(g, l);
                moved = true;
            }
        }
        /* gate -> client: the server's answers, then the gate's error */
        const char *src = NULL;
        size_t avail = 0;
        if (l->out_off < l->out_len) {
            src = l->out + l->out_off;
            avail = l->out_len - l->out_off;
        } else if (l->m_eof && l->err_off < l->err_len) {
            src = l->err + l->err_off;
            avail = l->err_len - l->err_off;
        }
        if (avail) {
            ssize_t n = client_send(l, src, avail);
            if (n > 0) {
                if (src == l->err + l->err_off)
                    l->err_off += (size_t)n;
                else
                    l->out_off += (size_t)n;
                moved = true;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return false; /* the client is gone */
            }
        }
    }
    /* Done: the server closed and everything it (and the gate) had to say
     * reached the client. */
    if (l->m_eof && l->out_off >= l->out_len && l->err_off >= l->err_len)
        return false;
    uint32_t cw = 0, mw = 0;
    if (!l->c_eof && l->frame.state != SRV_F_BAD && l->in_len < IN_CAP)
        cw |= EPOLLIN;
    /* GnuTLS may hold decrypted bytes that no socket event will announce:
     * they are read once `in` has room again (a server-side event). */
    if (l->out_off < l->out_len || (l->m_eof && l->err_off < l->err_len))
        cw |= EPOLLOUT;
    if (!l->m_eof && l->out_len < OUT_CAP)
        mw |= EPOLLIN;
    if (l->rel > 0 && !l->m_eof)
        mw |= EPOLLOUT;
    set_interest(g, l->cfd, &l->cev, cw, &l->ce);
    if (l->mfd >= 0)
        set_interest(g, l->mfd, &l->mev, mw, &l->me);
    return true;
}

/* A new client socket (non-blocking): its socketpair to libmicrohttpd and
 * its link. Closes `cfd` when it cannot. */
static void link_open(struct srv_gate *g, int cfd, const struct sockaddr_storage *ss, socklen_t len)
{
    int sv[2];
    struct srv_gate_link *l = calloc(1, sizeof *l);
    if (!l || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        free(l);
        close(cfd);
        return;
    }
    /* libmicrohttpd owns sv[1] from here, whatever it answers. */
    if (MHD_add_connection(g->daemon, sv[1], (const struct sockaddr *)ss, len) != MHD_YES) {
        close(sv[0]); /* refused (the per-address limit, the connection limit) */
        close(cfd);
        free(l);
        return;
    }
    if (g->tls &&
        (gnutls_init(&l->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS ||
         gnutls_priority_set(l->tls, g->prio) != GNUTLS_E_SUCCESS ||
         gnutls_credentials_set(l->tls, GNUTLS_CRD_CERTIFICATE, g->cred) != GNUTLS_E_SUCCESS)) {
        if (l->tls)
            gnutls_deinit(l->tls);
        close(sv[0]);
        close(cfd);
        free(l);
        return;
    }
    if (l->tls)
        gnutls_transport_set_int(l->tls, cfd);
    l->cfd = cfd;
    l->mfd = sv[0];
    l->ce = (struct gate_end){.l = l, .client = true};
    l->me = (struct gate_end){.l = l, .client = false};
    srv_frame_init(&l->frame);
    struct epoll_event ce = {.events = EPOLLIN, .data.ptr = &l->ce};
    struct epoll_event me = {.events = EPOLLIN, .data.ptr = &l->me};
    l->cev = l->mev = EPOLLIN;
    epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, cfd, &ce);
    epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, l->mfd, &me);
    l->next = g->links;
    if (g->links)
        g->links->prev = l;
    g->links = l;
}

void srv_gate_tls_free(struct srv_gate *g)
{
    if (g->prio)
        gnutls_priority_deinit(g->prio);
    if (g->cred)
        gnutls_certificate_free_credentials(g->cred);
    g->prio = NULL;
    g->cred = NULL;
    g->tls = false;
}

int srv_gate_adopt(struct srv_gate *g, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct srv_gate_adoption *a = calloc(1, sizeof *a);
    if (!a || len > sizeof a->addr) {
        free(a);
        return QC_ENOMEM;
    }
    a->fd = fd;
    memcpy(&a->addr, addr, len);
    a->len = len;
    pthread_mutex_lock(&g->mu);
    a->next = g->adopt;
    g->adopt = a;
    pthread_mutex_unlock(&g->mu);
    uint64_t two = 2; /* 2: an adoption, not a stop */
    return write(g->adopt_fd, &two, sizeof two) == sizeof two ? QC_OK : QC_EIO;
}

static void adopt_all(struct srv_gate *g)
{
    uint64_t v;
    if (read(g->adopt_fd, &v, sizeof v) < 0) {
        /* nothing pending: another round took them */
    }
    pthread_mutex_lock(&g->mu);
    struct srv_gate_adoption *a = g->adopt;
    g->adopt = NULL;
    pthread_mutex_unlock(&g->mu);
    while (a) {
        struct srv_gate_adoption *next = a->next;
        fcntl(a->fd, F_SETFL, fcntl(a->fd, F_GETFL) | O_NONBLOCK);
        link_open(g, a->fd, &a->addr, a->len);
        free(a);
        a = next;
    }
}

static void accept_all(struct srv_gate *g)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int cfd = accept4(g->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment rather
                 * than spin on a listening socket that stays readable. */
                struct epoll_event le = {.events = 0, .data.ptr = &g->listen_fd};
                epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, g->listen_fd, &le);
                g->paused = true;
            }
            return; /* EAGAIN: all taken */
        }
        /* No TCP_NODELAY here: with it, a client whose request the
         * server refused from its head (the body still on its way) lost the
         * answer now and then (tests/python: "closed connection without
         * response"); Nagle's delayed last piece costs the run list's p99
         * instead (make bench: server_runs_list_p99). */
        link_open(g, cfd, &ss, len);
    }
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *gate_main(void *arg)
{
    struct srv_gate *g = arg;
    struct epoll_event evs[64];
    double drain_until = 0; /* stopping: relay what is left, up to this time */
    for (;;) {
        if (drain_until > 0 && (!g->links || mono() > drain_until))
            return NULL;
        int n = epoll_wait(g->epoll_fd, evs, 64, g->paused || drain_until > 0 ? 50 : -1);
        if (g->paused && n == 0) {
            struct epoll_event le = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
            epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, g->listen_fd, &le);
            g->paused = false;
        }
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                continue; /* a link freed earlier in this round */
            if (evs[i].data.ptr == &g->wake_fd) {
                /* Stop: accept no more, let the answers already under way
                 * out (the server's stop resumes streams and long-polls). */
                uint64_t v;
                if (read(g->wake_fd, &v, sizeof v) < 0) {
                    /* nothing to read: already drained */
                }
                epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, g->listen_fd, NULL);
                drain_until = mono() + 1.0;
                continue;
            }
            if (evs[i].data.ptr == &g->listen_fd) {
                accept_all(g);
                continue;
            }
            if (evs[i].data.ptr == &g->adopt_fd) {
                adopt_all(g);
                continue;
            }
            struct gate_end *e = evs[i].data.ptr;
            struct srv_gate_link *l = e->l;
            /* A client whose socket hung up or failed has nobody to answer. */
            bool dead = e->client && (evs[i].events & (EPOLLHUP | EPOLLERR));
            if (dead || !pump(g, l)) {
                /* Later events of this round may name the freed link. */
                for (int j = i + 1; j < n; j++)
                    if (evs[j].data.ptr == &l->ce || evs[j].data.ptr == &l->me)
                        evs[j].data.ptr = NULL;
                link_free(g, l);
            }
        }
        for (int i = 0; i < n; i++) /* keep the array clean for the next round */
            evs[i].data.ptr = NULL;
    }
}

int srv_gate_start(struct srv_gate *g, struct MHD_Daemon *daemon, const struct sockaddr *addr,
                   socklen_t len, const char *cert_pem, const char *key_pem, struct qc_err *err)
{
    int one = 1;
    memset(g, 0, sizeof *g);
    g->listen_fd = g->epoll_fd = g->wake_fd = g->adopt_fd = -1;
    if (cert_pem && key_pem) {
        gnutls_datum_t c = {(unsigned char *)cert_pem, (unsigned)strlen(cert_pem)};
        gnutls_datum_t k = {(unsigned char *)key_pem, (unsigned)strlen(key_pem)};
        int r;
        g->tls = true;
        if ((r = gnutls_certificate_allocate_credentials(&g->cred)) < 0 ||
            (r = gnutls_certificate_set_x509_key_mem(g->cred, &c, &k, GNUTLS_X509_FMT_PEM)) < 0 ||
            (r = gnutls_priority_init(&g->prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
                                      NULL)) < 0) {
            srv_gate_tls_free(g);
            return qc_err_set(err, QC_EINVAL, "--tls-cert",
                              "GnuTLS refuses the certificate and key: %s (a key that does not "
                              "match the certificate?)",
                              gnutls_strerror(r));
        }
    }
    g->daemon = daemon;
    pthread_mutex_init(&g->mu, NULL);
    g->mu_init = true;
    g->listen_fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g->listen_fd < 0 ||
        setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(g->listen_fd, addr, len) != 0 || listen(g->listen_fd, 512) != 0) {
        int e = errno;
        srv_gate_stop(g);
        return qc_err_set(err, QC_EIO, "--listen", "cannot listen: %s", strerror(e));
    }
    g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->adopt_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event le = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
    struct epoll_event we = {.events = EPOLLIN, .data.ptr = &g->wake_fd};
    struct epoll_event ae = {.events = EPOLLIN, .data.ptr = &g->adopt_fd};
    if (g->epoll_fd < 0 || g->wake_fd < 0 || g->adopt_fd < 0 ||
        epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->listen_fd, &le) != 0 ||
        epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->wake_fd, &we) != 0 ||
        epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->adopt_fd, &ae) != 0 ||
        pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        srv_gate_stop(g);
        return qc_err_set(err, QC_EIO, "", "cannot start the connection gate");
    }
    g->running = true;
    return QC_OK;
}

uint16_t srv_gate_port(const struct srv_gate *g)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(g->listen_fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

bool srv_gate_loopback(const struct srv_gate *g)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getsockname(g->listen_fd, (struct sockaddr *)&ss, &len) == 0 &&
           srv_addr_loopback((const struct sockaddr *)&ss);
}

void srv_gate_drain(struct srv_gate *g)
{
    if (g->running && !g->draining) {
        uint64_t one = 1;
        if (write(g->wake_fd, &one, sizeof one) < 0) {
            /* the eventfd cannot be full: nothing to do */
        }
        g->draining = true;
    }
}

void srv_gate_stop(struct srv_gate *g)
{
    if (g->running) {
        srv_gate_drain(g);
        pthread_join(g->thread, NULL);
        g->running = false;
    }
    while (g->links)
        link_free(g, g->links);
    while (g->adopt) {
        struct srv_gate_adoption *next = g->adopt->next;
        close(g->adopt->fd);
        free(g->adopt);
        g->adopt = next;
    }
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    if (g->epoll_fd >= 0)
        close(g->epoll_fd);
    if (g->wake_fd >= 0)
        close(g->wake_fd);
    if (g->adopt_fd >= 0)
        close(g->adopt_fd);
    g->listen_fd = g->epoll_fd = g->wake_fd = g->adopt_fd = -1;
    if (g->mu_init)
        pthread_mutex_destroy(&g->mu);
    g->mu_init = false;
    srv_gate_tls_free(g);
}
