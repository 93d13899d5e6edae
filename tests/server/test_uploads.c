/* Checkpoint uploads at their edges (defects 3 and 7): a body that cannot
 * be stored (disk full, a file-size limit) is 507 insufficient_storage,
 * which a worker retries, not 413 too_large, which it takes as final; and
 * an upload without the run's current lease is refused with 409 from its
 * headers, before any of its body reaches the disk (it used to be written
 * out first and then refused for its CRC). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;
static struct srvt_worker wk;
static struct srvt_lease ls;

static void up(void)
{
    srvt_up_leased(dir, sizeof dir, &srv, &wk, &ls, "u");
}

static void down(void)
{
    srvt_down(&srv, dir);
}

/* The server may write files of at most 1 MiB (its database stays far
 * below that). */
static void up_limited(void)
{
    srv.fsize_limit = 1 << 20;
    up();
}

TestSuite(uploads, .init = up, .fini = down);

/* `expect`: send Expect: 100-continue, as a client sending a large body
 * should, so a refusal from the headers arrives before any of it. */
static void put_as(struct srvt_resp *r, const char *lease, size_t len, bool good_crc, bool expect)
{
    char *body = malloc(len);
    char path[96], crc[48], step[32], lh[128];
    cr_assert_not_null(body);
    for (size_t i = 0; i < len; i++)
        body[i] = (char)(i * 7);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, (const Bytef *)body, (uInt)len);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)ls.run);
    snprintf(crc, sizeof crc, "X-Qlab-Crc32: %08lx", good_crc ? c : c ^ 1);
    snprintf(step, sizeof step, "X-Qlab-Step: 7");
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", lease);
    struct srvt_req rq = {.method = "PUT",
                          .path = path,
                          .token = wk.token,
                          .body = body,
                          .body_len = len,
                          .content_type = "application/octet-stream",
                          .headers = {crc, step, lease ? lh : NULL},
                          .expect_continue = expect};
    srvt_do(r, &srv, &rq);
    free(body);
}

static void put(struct srvt_resp *r, const char *lease, size_t len, bool good_crc)
{
    put_as(r, lease, len, good_crc, false);
}

/* No upload-* file is left in the data directory. */
static void expect_no_uploads(void)
{
    char data[SRVT_PATH + 8];
    snprintf(data, sizeof data, "%s/data", dir);
    DIR *d = opendir(data);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        cr_expect(strncmp(de->d_name, "upload-", 7) != 0, "left behind: %s", de->d_name);
    closedir(d);
}

Test(uploads, a_body_the_disk_cannot_hold_is_507_not_413, .init = up_limited)
{
    struct srvt_resp r;
    put(&r, ls.lease, 2u << 20, true);
    srvt_expect_error(&r, 507, "insufficient_storage", NULL);
    srvt_resp_free(&r);
    expect_no_uploads();
    /* Space enough for a smaller one: stored. */
    put(&r, ls.lease, 100000, true);
    cr_expect_eq(r.status, 200, "%s", r.body);
    srvt_resp_free(&r);
}

Test(uploads, the_lease_is_checked_before_the_body)
{
    struct srvt_resp r;
    /* A wrong lease and a damaged body: the lease answers, from the headers. */
    put_as(&r, "not-the-lease", 3u << 20, false, true);
    srvt_expect_error(&r, 409, "stale_lease", "X-Qlab-Lease");
    srvt_resp_free(&r);
    put_as(&r, NULL, 3u << 20, false, true);
    srvt_expect_error(&r, 400, "invalid_request", "X-Qlab-Lease");
    srvt_resp_free(&r);
    expect_no_uploads();
    /* The connection-level refusal left the server serving. */
    put(&r, ls.lease, 1000, true);
    cr_expect_eq(r.status, 200, "%s", r.body);
    srvt_resp_free(&r);
}
