/* Unit tests of qlab-server's settings and tokens, without HTTP: flag and
 * environment parsing (every error names the flag or variable at fault),
 * the token file (every error names file:line), constant-time token
 * comparison and token generation. */
#include <criterion/criterion.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/config.h"
#include "srvt.h"

static int parse(struct srv_config *c, struct qc_err *err, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    bool help;
    argv[argc++] = (char *)"qlab-server";
    for (int i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    srv_config_init(c);
    qc_err_clear(err);
    return srv_config_parse(c, argc, argv, &help, err);
}

Test(config, defaults_listen_on_loopback_with_data_beside_the_database)
{
    struct srv_config c;
    struct qc_err err;
    cr_assert_eq(parse(&c, &err, (const char *[]){NULL}), QC_OK, "%s", err.msg);
    cr_expect_str_eq(c.host, "127.0.0.1");
    cr_expect_eq(c.port, 8080);
    cr_expect_str_eq(c.db_path, "var/qlab.db");
    cr_expect_str_eq(c.data_dir, "var/data");
    cr_expect_eq(c.max_body, (size_t)8 << 20);
    cr_expect_eq(c.max_sweep_runs, 10000);
    cr_expect(!c.durable);
    cr_expect(!c.web_given); /* server/webdir.c looks for the dashboard */
}

Test(config, flags_in_both_spellings_are_applied)
{
    struct srv_config c;
    struct qc_err err;
    const char *args[] = {"--listen=[::1]:0",
                          "--db",
                          "/srv/q/x.db",
                          "--threads",
                          "4",
                          "--lease-ttl=2.5",
                          "--heartbeat",
                          "0.5",
                          "--max-body",
                          "2048",
                          "--max-sweep-runs",
                          "7",
                          "--max-attempts",
                          "5",
                          "--durable",
                          "--web=",
                          NULL};
    cr_assert_eq(parse(&c, &err, args), QC_OK, "%s", err.msg);
    cr_expect_str_eq(c.host, "::1");
    cr_expect_eq(c.port, 0);
    cr_expect_str_eq(c.db_path, "/srv/q/x.db");
    cr_expect_str_eq(c.data_dir, "/srv/q/data");
    cr_expect_eq(c.threads, 4);
    cr_expect_float_eq(c.lease_ttl, 2.5, 1e-12);
    cr_expect_float_eq(c.heartbeat, 0.5, 1e-12);
    cr_expect_eq(c.max_body, 2048);
    cr_expect_eq(c.max_sweep_runs, 7);
    cr_expect_eq(c.max_attempts, 5);
    cr_expect(c.durable);
    cr_expect_str_eq(c.web_dir, "");
    cr_expect(c.web_given);
}

Test(config, help_is_recognised)
{
    struct srv_config c;
    struct qc_err err;
    bool help = false;
    char *argv[] = {(char *)"qlab-server", (char *)"--help", NULL};
    srv_config_init(&c);
    cr_assert_eq(srv_config_parse(&c, 2, argv, &help, &err), QC_OK);
    cr_expect(help);
    cr_expect_neq(strstr(srv_config_usage, "--token-file"), NULL);
}

/* Each bad command line, and the flag its error must name. */
static const struct {
    const char *args[4];
    const char *field;
} bad_flags[] = {
    {{"--listen", "no-port-here"}, "--listen"},
    {{"--listen", "127.0.0.1:99999"}, "--listen"},
    {{"--listen", "127.0.0.1:"}, "--listen"},
    {{"--threads", "0"}, "--threads"},
    {{"--threads", "many"}, "--threads"},
    {{"--lease-ttl", "abc"}, "--lease-ttl"},
    {{"--lease-ttl", "0"}, "--lease-ttl"},
    {{"--heartbeat=-1"}, "--heartbeat"},
    {{"--max-body", "10"}, "--max-body"},
    {{"--max-checkpoint", "1k"}, "--max-checkpoint"},
    {{"--max-sweep-runs", "0"}, "--max-sweep-runs"},
    {{"--max-attempts", "101"}, "--max-attempts"},
    {{"--db", ""}, "--db"},
    {{"--bogus", "1"}, "--bogus"},
    {{"--db"}, "--db"},
    {{"stray"}, "stray"},
};

Test(config, each_bad_flag_is_named_in_the_error)
{
    for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
        struct srv_config c;
        struct qc_err err;
        int rc = parse(&c, &err, bad_flags[i].args);
        cr_expect_eq(rc, QC_EINVAL, "case %zu (%s): rc %d", i, bad_flags[i].args[0], rc);
        cr_expect_str_eq(err.field, bad_flags[i].field, "case %zu: field '%s', message '%s'", i,
                         err.field, err.msg);
        cr_expect(err.msg[0] && strstr(err.msg, bad_flags[i].field),
                  "case %zu: the message names %s: '%s'", i, bad_flags[i].field, err.msg);
    }
}

Test(config, environment_errors_name_the_variable)
{
    struct srv_config c;
    struct qc_err err;
    setenv("QLAB_LISTEN", "nowhere", 1);
    cr_assert_eq(parse(&c, &err, (const char *[]){NULL}), QC_EINVAL);
    cr_expect_str_eq(err.field, "QLAB_LISTEN", "%s", err.msg);
}

Test(config, flags_override_the_environment)
{
    struct srv_config c;
    struct qc_err err;
    setenv("QLAB_DB", "/from/env.db", 1);
    setenv("QLAB_LISTEN", "127.0.0.1:1234", 1);
    cr_assert_eq(parse(&c, &err, (const char *[]){"--db", "/from/flag.db", NULL}), QC_OK, "%s",
                 err.msg);
    cr_expect_str_eq(c.db_path, "/from/flag.db");
    cr_expect_eq(c.port, 1234);
}

/* Loopback is a property of the resolved address, never of the host
 * string (defect 6: "127.x.example" may resolve anywhere). */
Test(config, only_loopback_addresses_count_as_loopback)
{
    static const struct {
        const char *host;
        bool loopback;
    } cases[] = {{"127.0.0.1", true},
                 {"127.1.2.3", true},
                 {"::1", true},
                 {"::ffff:127.0.0.9", true},
                 {"0.0.0.0", false},
                 {"10.0.0.1", false},
                 {"::", false},
                 {"192.168.1.2", false},
                 {"::ffff:10.1.2.3", false},
                 {"128.0.0.1", false},
                 {"126.255.255.255", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *ai = NULL;
        cr_assert_eq(getaddrinfo(cases[i].host, NULL, &hints, &ai), 0, "%s", cases[i].host);
        cr_expect_eq(srv_addr_loopback(ai->ai_addr), cases[i].loopback, "%s", cases[i].host);
        freeaddrinfo(ai);
    }
}

/* ---- the token file ------------------------------------------------------ */

static char tdir[SRVT_PATH];

static void tdir_make(void)
{
    srvt_dir_make(tdir, sizeof tdir);
}

static void tdir_remove(void)
{
    srvt_dir_remove(tdir);
}

static int load(struct srv_auth *a, struct qc_err *err, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/tokens", tdir);
    srvt_write_file(path, text);
    qc_err_clear(err);
    return srv_auth_load(a, path, err);
}

Test(auth, token_file_roles_comments_and_blank_lines, .init = tdir_make, .fini = tdir_remove)
{
    static struct srv_auth a;
    struct qc_err err;
    char path[SRVT_PATH + 16];
    int rc = load(&a, &err,
                  "# lab tokens\n"
                  "\n"
                  "admin  admin-token-0123456789 ada.l@lab  # the lab lead\n"
                  "read\tread-token-0123456789\n"
                  "   join join-token-0123456789\n",
                  path, sizeof path);
    cr_assert_eq(rc, QC_OK, "%s", err.msg);
    cr_expect(a.enabled);
    cr_expect_eq(a.ntokens, 3);
    cr_expect_eq(srv_auth_lookup(&a, "admin-token-0123456789"), SRV_ROLE_ADMIN);
    cr_expect_eq(srv_auth_lookup(&a, "read-token-0123456789"), SRV_ROLE_READ);
    cr_expect_eq(srv_auth_lookup(&a, "join-token-0123456789"), SRV_ROLE_JOIN);
    cr_expect_eq(srv_auth_lookup(&a, "admin-token-012345678"), SRV_ROLE_NONE, "a prefix");
    cr_expect_eq(srv_auth_lookup(&a, "admin-token-01234567890"), SRV_ROLE_NONE, "an extension");
    cr_expect_eq(srv_auth_lookup(&a, "# the lab lead"), SRV_ROLE_NONE);
    cr_expect_eq(srv_auth_lookup(&a, ""), SRV_ROLE_NONE);
    cr_expect_str_eq(srv_auth_name(&a, "admin-token-0123456789"), "ada.l@lab");
    cr_expect_str_eq(srv_auth_name(&a, "read-token-0123456789"), "read", "the role by default");
    cr_expect_null(srv_auth_name(&a, "admin-token-012345678"));
}

Test(auth, no_token_file_means_auth_disabled)
{
    static struct srv_auth a;
    struct qc_err err;
    cr_assert_eq(srv_auth_load(&a, "", &err), QC_OK);
    cr_expect(!a.enabled);
    cr_expect_eq(srv_auth_lookup(&a, "anything-at-all-0123"), SRV_ROLE_NONE);
}

/* Each bad token file, the line its error must name and a word of the
 * reason. */
static const struct {
    const char *text;
    int line;
    const char *why;
} bad_files[] = {
    {"admin admin-token-0123456789\nroot root-token-0123456789\n", 2, "unknown role"},
    {"# c\n\nadmin short\n", 3, "shorter"},
    {"read\n", 1, "ROLE TOKEN"},
    {"join join-token-0123456789 name extra\n", 1, "ROLE TOKEN"},
    {"admin admin-token-0123456789 bad/name\n", 1, "a name is"},
    {"admin admin-token-0123456789\nread "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     2, "longer"},
};

Test(auth, token_file_errors_name_file_and_line, .init = tdir_make, .fini = tdir_remove)
{
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        static struct srv_auth a;
        struct qc_err err;
        char path[SRVT_PATH + 16], where[SRVT_PATH + 40];
        int rc = load(&a, &err, bad_files[i].text, path, sizeof path);
        cr_expect_eq(rc, QC_EINVAL, "case %zu: rc %d", i, rc);
        snprintf(where, sizeof where, "%s:%d:", path, bad_files[i].line);
        cr_expect(strstr(err.msg, where), "case %zu: '%s' does not name %s", i, err.msg, where);
        cr_expect(strstr(err.msg, bad_files[i].why), "case %zu: '%s' does not say '%s'", i, err.msg,
                  bad_files[i].why);
        cr_expect_str_eq(err.field, "--token-file");
    }
}

Test(auth, empty_or_missing_token_file_is_refused, .init = tdir_make, .fini = tdir_remove)
{
    static struct srv_auth a;
    struct qc_err err;
    char path[SRVT_PATH + 16], missing[SRVT_PATH + 16];
    cr_expect_eq(load(&a, &err, "# nothing but comments\n\n", path, sizeof path), QC_EINVAL);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "no tokens"), "%s", err.msg);
    snprintf(missing, sizeof missing, "%s/absent", tdir);
    cr_expect_eq(srv_auth_load(&a, missing, &err), QC_EIO);
    cr_expect(strstr(err.msg, missing), "%s", err.msg);
    cr_expect_str_eq(err.field, "--token-file");
}

Test(auth, token_eq_is_exact)
{
    cr_expect(srv_token_eq("abcdef0123456789", "abcdef0123456789"));
    cr_expect(!srv_token_eq("abcdef0123456789", "abcdef0123456788"));
    cr_expect(!srv_token_eq("abcdef0123456789", "bbcdef0123456789"));
    cr_expect(!srv_token_eq("abcdef0123456789", "abcdef012345678"), "a prefix");
    cr_expect(!srv_token_eq("abcdef012345678", "abcdef0123456789"), "an extension");
    cr_expect(!srv_token_eq("abcabc", "abc"), "a repetition of the shorter one");
    cr_expect(!srv_token_eq("", "x"));
    cr_expect(!srv_token_eq("x", ""));
    cr_expect(!srv_token_eq("", ""), "an empty token never matches");
}

Test(auth, random_tokens_are_hex_and_differ)
{
    char a[65], b[65];
    cr_assert_eq(srv_token_random(a, sizeof a, 32), QC_OK);
    cr_assert_eq(srv_token_random(b, sizeof b, 32), QC_OK);
    cr_expect_eq(strlen(a), 64);
    cr_expect_eq(strspn(a, "0123456789abcdef"), 64, "%s", a);
    cr_expect_str_neq(a, b);
    char small[8];
    cr_expect_lt(srv_token_random(small, sizeof small, 32), 0, "too small a buffer is refused");
}
