/* Where the server listens and how (defect 6 and TLS): loopback is judged
 * by the address bound, never by the host string; a non-loopback address
 * needs tokens, and tokens need TLS there unless --insecure-http says a
 * TLS-terminating proxy is in front; HTTPS works with a certificate made
 * here by the openssl command and is verified by libcurl against it. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "srvt.h"

#define ADMIN "admin-token-aaaaaaaaaaaaaaaa"

static char dir[SRVT_PATH];
static struct srvt_server srv;
static char tokens[SRVT_PATH + 16], db[SRVT_PATH + 16];

static void up(void)
{
    srvt_dir_make(dir, sizeof dir);
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    snprintf(db, sizeof db, "%s/q.db", dir);
    srvt_write_file(tokens, "admin " ADMIN "\n");
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(listen, .init = up, .fini = down);

/* An IPv4 address of this machine that is not loopback, or false. */
static bool routable_ipv4(char *out, size_t len)
{
    struct ifaddrs *ifs, *i;
    bool found = false;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (i = ifs; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            (ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) >> 24) != 127)
            found = getnameinfo(i->ifa_addr, sizeof(struct sockaddr_in), out, (socklen_t)len, NULL,
                                0, NI_NUMERICHOST) == 0;
    freeifaddrs(ifs);
    return found;
}

/* "127.attack.example" resolves (through /etc/hosts, replaced in a private
 * mount namespace of the server's process only) to a routable address of
 * this machine. Without a token file the server must refuse to start. */
Test(listen, a_name_that_starts_with_127_but_resolves_elsewhere_is_not_loopback)
{
    char ip[64], hosts[SRVT_PATH + 16], text[256], log[SRVT_PATH + 16];
    if (!routable_ipv4(ip, sizeof ip))
        cr_skip_test("this machine has no non-loopback IPv4 address to resolve to");
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    snprintf(text, sizeof text, "127.0.0.1 localhost\n%s 127.attack.example\n", ip);
    srvt_write_file(hosts, text);
    snprintf(log, sizeof log, "%s/err.log", dir);
    const char *bin = getenv("QLAB_SERVER_BIN");
    cr_assert(bin && bin[0], "QLAB_SERVER_BIN must name the qlab-server binary");

    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) != 0)
            _exit(77); /* no mount namespace here (not root, or a sandbox) */
        execl(bin, bin, "--listen", "127.attack.example:0", "--db", db, "--web", "", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    pid_t r = 0;
    for (double end = srvt_now() + 15;
         (r = waitpid(pid, &status, WNOHANG)) == 0 && srvt_now() < end;)
        srvt_sleep(0.02);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    struct srvt_server dummy = {0};
    snprintf(dummy.log, sizeof dummy.log, "%s", log);
    const char *out = srvt_log(&dummy);
    if (r != 0 && WIFEXITED(status) && WEXITSTATUS(status) == 77)
        cr_skip_test("cannot replace /etc/hosts in a private mount namespace here");
    cr_assert_neq(r, 0, "the server started open on 127.attack.example (%s): %s", ip, out);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "exit status %d", status);
    cr_expect(strstr(out, "--token-file") && strstr(out, ip),
              "the refusal names the flag and %s: %s", ip, out);
}

Test(listen, tokens_off_loopback_need_tls_or_insecure_http)
{
    char err[4096];
    int status = srvt_run_fail(
        (const char *[]){"--listen", "0.0.0.0:0", "--db", db, "--token-file", tokens, NULL}, err,
        sizeof err);
    cr_expect_neq(status, 0);
    cr_expect(strstr(err, "--tls-cert") && strstr(err, "--insecure-http"), "%s", err);
    /* Behind a TLS-terminating proxy: allowed, said out loud. */
    srvt_start(
        &srv, dir,
        (const char *[]){"--listen", "0.0.0.0:0", "--token-file", tokens, "--insecure-http", NULL});
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
    json_decref(srvt_json(&srv, "GET", "/api/v1/runs", NULL, 200));
}

/* ---- TLS ------------------------------------------------------------------- */

static char cert[SRVT_PATH + 16], key[SRVT_PATH + 16];

/* A self-signed certificate for 127.0.0.1 and localhost, by the openssl
 * command; skips without it. */
static void make_cert(void)
{
    char cmd[4 * SRVT_PATH];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        cr_skip_test("the openssl command is not installed (Debian: openssl)");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -days 2 -subj /CN=localhost "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>%s/openssl.log",
             key, cert, dir);
    cr_assert_eq(system(cmd), 0, "openssl failed (see %s/openssl.log)", dir);
}

static CURLcode fetch(const char *url, const char *cacert, long *status)
{
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    if (cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
    CURLcode cc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    fclose(null);
    return cc;
}

Test(listen, https_with_a_test_certificate)
{
    make_cert();
    srvt_start(&srv, dir,
               (const char *[]){"--listen", "0.0.0.0:0", "--token-file", tokens, "--tls-cert", cert,
                                "--tls-key", key, NULL});
    cr_assert(srv.tls, "it says https://");
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
    snprintf(srv.cacert, sizeof srv.cacert, "%s", cert);
    /* A full round trip over TLS, SSE included. */
    int64_t id = srvt_submit(&srv, "tls");
    json_t *j = srvt_json(&srv, "GET", "/api/v1/runs", NULL, 200);
    cr_expect_eq(srvt_int(j, "runs.0.id"), id);
    json_decref(j);
    struct srvt_sse e;
    srvt_sse_open(&e, &srv, "/api/v1/events?since=0", NULL);
    cr_expect(srvt_sse_wait(&e, "event: run", 10), "the event stream works over TLS");
    srvt_sse_close(&e);

    char url[128];
    long status;
    /* Not trusted without the test CA. */
    snprintf(url, sizeof url, "https://127.0.0.1:%d/healthz", srv.port);
    CURLcode cc = fetch(url, NULL, &status);
    cr_expect(cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT,
              "an unknown CA must fail verification: %s", curl_easy_strerror(cc));
    cr_expect_eq(fetch(url, cert, &status), CURLE_OK);
    cr_expect_eq(status, 200);
    /* Nothing is served in clear on the TLS port. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", srv.port);
    cc = fetch(url, NULL, &status);
    cr_expect(cc != CURLE_OK || status != 200, "plain HTTP got %ld", status);
    /* Malformed framing inside TLS gets the JSON error too (the gate is
     * the TLS endpoint and checks the decrypted bytes). */
    char cmd[3 * SRVT_PATH], out[4096] = "";
    snprintf(cmd, sizeof cmd,
             "printf 'GET /healthz HTTP/9.9\\r\\nHost: x\\r\\n\\r\\n' | timeout 10 openssl "
             "s_client -quiet -CAfile %s -connect 127.0.0.1:%d 2>/dev/null",
             cert, srv.port);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    pclose(p);
    cr_expect(strstr(out, "HTTP/1.1 505") && strstr(out, "\"code\":\"http_version\""),
              "over TLS: %s", out);
    srvt_stop_clean(&srv);
}

Test(listen, a_key_that_does_not_match_is_refused)
{
    char other[SRVT_PATH + 16], cmd[3 * SRVT_PATH], err[4096];
    make_cert();
    snprintf(other, sizeof other, "%s/other.pem", dir);
    snprintf(
        cmd, sizeof cmd,
        "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out %s 2>/dev/null",
        other);
    cr_assert_eq(system(cmd), 0);
    int status = srvt_run_fail((const char *[]){"--listen", "127.0.0.1:0", "--db", db, "--tls-cert",
                                                cert, "--tls-key", other, NULL},
                               err, sizeof err);
    cr_expect_neq(status, 0);
    cr_expect(strstr(err, "--tls-cert"), "%s", err);
    status = srvt_run_fail(
        (const char *[]){"--listen", "127.0.0.1:0", "--db", db, "--tls-cert", cert, NULL}, err,
        sizeof err);
    cr_expect_eq(status, 2);
    cr_expect(strstr(err, "--tls-key"), "%s", err);
}
