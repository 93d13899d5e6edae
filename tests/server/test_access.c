/* Integration tests of authentication against the real qlab-server started
 * with a token file: who may call what (401 without or with an unknown
 * token, 403 for a role that may not), worker tokens limited to their own
 * worker and leases, and the refusals to start: an open server on a
 * non-loopback address, a bad token file, a bad flag. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "srvt.h"

#define ADMIN "admin-token-aaaaaaaaaaaaaaaa"
#define READ  "read-token-bbbbbbbbbbbbbbbbbb"
#define JOIN  "join-token-cccccccccccccccccc"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void up(void)
{
    char tokens[SRVT_PATH + 16];
    srvt_dir_make(dir, sizeof dir);
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    srvt_write_file(tokens, "# roles\nadmin " ADMIN "\nread " READ "\njoin " JOIN "\n");
    srvt_start(&srv, dir, (const char *[]){"--token-file", tokens, NULL});
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

static void mkdir_only(void)
{
    srvt_dir_make(dir, sizeof dir);
}

static void rmdir_only(void)
{
    srvt_dir_remove(dir);
}

/* `method path` as `token`; asserts the status (and the error code when
 * the status is an error). */
static void expect_call(const char *token, const char *method, const char *path, const char *body,
                        long status, const char *code)
{
    struct srvt_resp r;
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = method, .path = path, .token = token, .body = body});
    if (code)
        srvt_expect_error(&r, status, code, NULL);
    else
        cr_expect_eq(r.status, status, "%s %s as %.10s: %ld %s", method, path,
                     token ? token : "(none)", r.status, r.body);
    srvt_resp_free(&r);
}

Test(access, roles_decide_what_a_token_may_do, .init = up, .fini = down)
{
    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/api/v1/runs"});
    srvt_expect_error(&r, 401, "unauthorized", "Authorization");
    srvt_resp_free(&r);
    expect_call("not-a-token-of-this-server", "GET", "/api/v1/runs", NULL, 401, "unauthorized");
    expect_call(NULL, "GET", "/healthz", NULL, 200, NULL);

    /* read: every GET, no write. */
    expect_call(READ, "GET", "/api/v1/runs", NULL, 200, NULL);
    expect_call(READ, "GET", "/api/v1/workers", NULL, 200, NULL);
    expect_call(READ, "GET", "/metrics", NULL, 200, NULL);
    expect_call(READ, "POST", "/api/v1/experiments", srvt_spec("nope"), 403, "forbidden");
    expect_call(READ, "POST", "/api/v1/workers/register",
                "{\"name\": \"w\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"cpu\"}]}", 403,
                "forbidden");
    json_t *j = srvt_json(&srv, "GET", "/api/v1/runs", NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "runs")), 0, "nothing was written");
    json_decref(j);

    /* join: registration only. */
    expect_call(JOIN, "GET", "/api/v1/runs", NULL, 403, "forbidden");
    expect_call(JOIN, "POST", "/api/v1/experiments", srvt_spec("nope"), 403, "forbidden");
    expect_call(JOIN, "POST", "/api/v1/workers/register",
                "{\"name\": \"w\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"cpu\"}]}", 201,
                NULL);

    /* admin: everything. */
    int64_t id = srvt_submit(&srv, "by-admin");
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/cancel", (long long)id);
    expect_call(READ, "POST", path, NULL, 403, "forbidden");
    expect_call(ADMIN, "POST", path, NULL, 200, NULL);

    /* EventSource cannot send headers: GETs may pass ?token=. */
    struct srvt_sse e;
    struct srvt_server anon = srv;
    anon.token[0] = '\0';
    srvt_sse_open(&e, &anon, "/api/v1/events?token=" READ, "0");
    cr_expect(srvt_sse_wait(&e, "\"state\":\"canceled\"", 5), "%s", e.buf ? e.buf : "");
    srvt_sse_close(&e);
    expect_call(NULL, "GET", "/api/v1/runs?token=" READ, NULL, 200, NULL);
    expect_call(NULL, "GET", "/api/v1/runs?token=nonsense-token-value", NULL, 401, "unauthorized");
    srvt_stop_clean(&srv);
}

Test(access, worker_tokens_act_only_for_their_own_worker_and_leases, .init = up, .fini = down)
{
    struct srvt_worker a, b;
    struct srvt_lease la, lb;
    srvt_submit(&srv, "for-a");
    srvt_submit(&srv, "for-b");
    {
        /* Registration with the join token, as a worker does. */
        struct srvt_server as_join = srv;
        snprintf(as_join.token, sizeof as_join.token, "%s", JOIN);
        srvt_register(&a, &as_join, "a", 1);
        srvt_register(&b, &as_join, "b", 1);
    }
    srvt_lease(&la, &srv, &a);
    srvt_lease(&lb, &srv, &b);

    char path[128], body[256];
    /* Another worker's heartbeat and lease long-poll. */
    snprintf(path, sizeof path, "/api/v1/workers/%lld/heartbeat", (long long)b.id);
    snprintf(body, sizeof body, "{\"runs\": [{\"run\": %lld, \"lease\": \"%s\"}]}",
             (long long)lb.run, lb.lease);
    expect_call(a.token, "POST", path, body, 403, "forbidden");
    expect_call(b.token, "POST", path, body, 200, NULL);
    snprintf(path, sizeof path, "/api/v1/workers/%lld/lease", (long long)b.id);
    expect_call(a.token, "POST", path, "{\"devices\": [\"cpu0\"]}", 403, "forbidden");

    /* Another worker's run, even with that run's lease token. */
    char lh[128];
    struct srvt_resp r;
    snprintf(lh, sizeof lh, "X-Qlab-Lease: %s", lb.lease);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)lb.run);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .token = a.token,
                               .body = "{\"points\": [{\"step\": 1, \"name\": \"x\", "
                                       "\"value\": 1}]}",
                               .headers = {lh}});
    srvt_expect_error(&r, 403, "forbidden", NULL);
    srvt_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/runs/%lld/complete", (long long)lb.run);
    srvt_do(&r, &srv,
            &(struct srvt_req){.method = "POST",
                               .path = path,
                               .token = a.token,
                               .body = "{\"state\": \"failed\"}",
                               .headers = {lh}});
    srvt_expect_error(&r, 403, "forbidden", NULL);
    srvt_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)lb.run);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_str_eq(srvt_str(j, "run.state"), "leased", "b's run is untouched");
    cr_expect(json_is_object(srvt_at(j, "run.summary")) &&
              json_object_size(srvt_at(j, "run.summary")) == 0);
    json_decref(j);

    /* A worker token is not a read or admin token. */
    expect_call(a.token, "GET", "/api/v1/runs", NULL, 403, "forbidden");
    expect_call(a.token, "POST", "/api/v1/experiments", srvt_spec("x"), 403, "forbidden");

    /* Its own calls work. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/start", (long long)la.run);
    json_decref(srvt_call(&srv, a.token, la.lease, "POST", path, NULL, 200));
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)la.run);
    json_decref(srvt_call(&srv, a.token, la.lease, "POST", path,
                          "{\"points\": [{\"step\": 1, \"name\": \"x\", \"value\": 1}]}", 200));
    /* Checkpoints: the holder, and read tokens, may fetch them. */
    snprintf(path, sizeof path, "/api/v1/runs/%lld/checkpoint", (long long)la.run);
    expect_call(READ, "GET", path, NULL, 404, "not_found");
    expect_call(JOIN, "GET", path, NULL, 403, "forbidden");
}

Test(access, open_server_refuses_a_non_loopback_address, .init = mkdir_only, .fini = rmdir_only)
{
    char db[SRVT_PATH + 16], err[4096];
    snprintf(db, sizeof db, "%s/q.db", dir);
    int status =
        srvt_run_fail((const char *[]){"--listen", "0.0.0.0:0", "--db", db, NULL}, err, sizeof err);
    cr_expect_neq(status, 0);
    cr_expect(strstr(err, "--token-file"), "the message names --token-file: %s", err);
}

Test(access, bad_token_file_stops_the_start, .init = mkdir_only, .fini = rmdir_only)
{
    char db[SRVT_PATH + 16], tokens[SRVT_PATH + 16], err[4096], where[SRVT_PATH + 32];
    snprintf(db, sizeof db, "%s/q.db", dir);
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    srvt_write_file(tokens, "admin " ADMIN "\nsuperuser " READ "\n");
    int status = srvt_run_fail(
        (const char *[]){"--listen", "127.0.0.1:0", "--db", db, "--token-file", tokens, NULL}, err,
        sizeof err);
    cr_expect_neq(status, 0);
    snprintf(where, sizeof where, "%s:2:", tokens);
    cr_expect(strstr(err, where), "the message names %s: %s", where, err);
}

Test(access, bad_flag_stops_the_start_naming_it, .init = mkdir_only, .fini = rmdir_only)
{
    char err[4096];
    int status = srvt_run_fail((const char *[]){"--lease-ttl", "soon", NULL}, err, sizeof err);
    cr_expect_eq(status, 2, "a usage error");
    cr_expect(strstr(err, "--lease-ttl"), "%s", err);
}
