/* Tokens at rest and registration abuse: the database holds only SHA-256
 * hashes of worker tokens (a copy of it gives no one a token), older
 * databases are upgraded at start-up, the token file may hold hashes, and
 * each join token may register only --register-rate workers a minute. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "srvt.h"

#define ADMIN "admin-token-aaaaaaaaaaaaaaaa"
#define READ  "read-token-bbbbbbbbbbbbbbbbbb"
#define JOIN  "join-token-cccccccccccccccccc"
#define JOIN2 "join-token-dddddddddddddddddd"

static char dir[SRVT_PATH], tokens[SRVT_PATH + 16];
static struct srvt_server srv;

static void up(void)
{
    char hash[SRV_TOKEN_HASH_LEN + 1], text[512];
    srvt_dir_make(dir, sizeof dir);
    snprintf(tokens, sizeof tokens, "%s/tokens", dir);
    /* The read token is given by its hash only. */
    srv_token_hash(hash, READ);
    snprintf(text, sizeof text, "admin " ADMIN "\nread %s\njoin " JOIN "\njoin " JOIN2 "\n", hash);
    srvt_write_file(tokens, text);
}

static void down(void)
{
    srvt_stop(&srv, SIGKILL);
    srvt_dir_remove(dir);
}

TestSuite(tokens, .init = up, .fini = down);

static void start(void)
{
    srvt_start(&srv, dir, (const char *[]){"--token-file", tokens, "--register-rate", "3", NULL});
    snprintf(srv.token, sizeof srv.token, "%s", ADMIN);
}

static long reg(const char *token, const char *name, char *worker_token, struct srvt_resp *keep)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"devices\": [{\"id\": \"cpu0\", \"kind\": \"cpu\"}]}", name);
    struct srvt_resp r;
    srvt_do(
        &r, &srv,
        &(struct srvt_req){
            .method = "POST", .path = "/api/v1/workers/register", .token = token, .body = body});
    long st = r.status;
    if (worker_token && st == 201)
        snprintf(worker_token, 80, "%s", srvt_str(r.json, "token"));
    if (keep)
        *keep = r;
    else
        srvt_resp_free(&r);
    return st;
}

static void query_text(const char *sql, char *out, size_t len)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    out[0] = '\0';
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(tokens, the_database_holds_hashes_and_the_file_may_too)
{
    char wt[80], stored[256], want[SRV_TOKEN_HASH_LEN + 1];
    start();
    cr_assert_eq(reg(JOIN, "w1", wt, NULL), 201);
    query_text("SELECT group_concat(token) FROM workers", stored, sizeof stored);
    srv_token_hash(want, wt);
    cr_expect_str_eq(stored, want, "the worker's row holds the hash of its token only");
    cr_expect(!strstr(stored, wt));
    /* The token works; its hash, presented as a token, does not. */
    json_decref(srvt_call(&srv, wt, NULL, "POST", "/api/v1/workers/1/heartbeat", "{}", 200));
    json_decref(srvt_call(&srv, want, NULL, "POST", "/api/v1/workers/1/heartbeat", "{}", 401));
    /* The read token given by its hash in the file. */
    json_decref(srvt_call(&srv, READ, NULL, "GET", "/api/v1/runs", NULL, 200));
    char rh[SRV_TOKEN_HASH_LEN + 1];
    srv_token_hash(rh, READ);
    json_decref(srvt_call(&srv, rh, NULL, "GET", "/api/v1/runs", NULL, 401));
}

Test(tokens, a_database_from_before_hashing_is_upgraded_at_start)
{
    char stored[256], want[SRV_TOKEN_HASH_LEN + 1];
    const char *legacy = "legacy-worker-token-0123456789abcdef";
    start();
    srvt_stop(&srv, SIGTERM);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO workers (name, host, token, devices, registered, last_seen) VALUES "
             "('old', 'h', '%s', '[{\"id\":\"cpu0\",\"kind\":\"cpu\"}]', 1, 1)",
             legacy);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(srv.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    start();
    query_text("SELECT token FROM workers WHERE name = 'old'", stored, sizeof stored);
    srv_token_hash(want, legacy);
    cr_expect_str_eq(stored, want);
    json_decref(srvt_call(&srv, legacy, NULL, "POST", "/api/v1/workers/1/heartbeat", "{}", 200));
}

Test(tokens, registration_is_rate_limited_per_join_token)
{
    start();
    for (int i = 0; i < 3; i++)
        cr_expect_eq(reg(JOIN, "burst", NULL, NULL), 201, "registration %d of the burst", i);
    struct srvt_resp r;
    cr_expect_eq(reg(JOIN, "one-too-many", NULL, &r), 429);
    srvt_expect_error(&r, 429, "rate_limited", "Authorization");
    int ra = atoi(srvt_header(&r, "Retry-After"));
    cr_expect(ra >= 1 && ra <= 20, "Retry-After %d (3 a minute: one every 20 s)", ra);
    srvt_resp_free(&r);
    /* Another join token, and the admin, are not affected. */
    cr_expect_eq(reg(JOIN2, "other", NULL, NULL), 201);
    cr_expect_eq(reg(ADMIN, "admin-made", NULL, NULL), 201);
    json_t *j = srvt_json(&srv, "GET", "/api/v1/workers", NULL, 200);
    cr_expect_eq(json_array_size(json_object_get(j, "workers")), 5);
    json_decref(j);
}
