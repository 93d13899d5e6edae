/* Unit tests of the worker's configuration (worker/qw_config.c): the
 * defaults, the order of the sources (defaults < --config file <
 * environment < flags, whatever the order of the flags), and errors that
 * name the flag, variable or file:line at fault. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/qw_config.h"
#include "wut.h"

static char dir[WUT_PATH];
static char cfgpath[WUT_PATH + 32];

static void setup(void)
{
    wut_dir_make(dir, sizeof dir);
    snprintf(cfgpath, sizeof cfgpath, "%s/worker.conf", dir);
    unsetenv("QLAB_SERVER");
    unsetenv("QLAB_TOKEN");
    unsetenv("STATE_DIRECTORY");
    setenv("HOME", "/home/tester", 1);
}

static void teardown(void)
{
    wut_dir_remove(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

static int load(struct qw_config *c, struct qc_err *err, const char *const *args)
{
    char *argv[32];
    int argc = 0;

    argv[argc++] = (char *)"qlab-worker";
    for (int i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    qc_err_clear(err);
    return qw_config_load(c, argc, argv, err);
}

static void load_ok(struct qw_config *c, const char *const *args)
{
    struct qc_err err;
    int rc = load(c, &err, args);
    cr_assert_eq(rc, 0, "load: %s", err.msg);
}

/* A bad setting: QC_EINVAL, the field, and each piece of `parts` (NULL-
 * terminated) somewhere in the message. */
static void expect_error(const char *const *args, const char *field, const char *const *parts)
{
    struct qw_config c;
    struct qc_err err;

    cr_expect_eq(load(&c, &err, args), QC_EINVAL, "%s %s", args[0], args[1] ? args[1] : "");
    cr_expect_str_eq(err.field, field, "message: %s", err.msg);
    for (int i = 0; parts[i]; i++)
        cr_expect(strstr(err.msg, parts[i]), "'%s' not in: %s", parts[i], err.msg);
}

Test(config, defaults)
{
    struct qw_config c;
    char host[QW_NAME_MAX] = "";

    load_ok(&c, NULL);
    cr_expect_str_eq(c.server, "http://127.0.0.1:8080");
    cr_expect_str_eq(c.token, "");
    gethostname(host, sizeof host - 1);
    cr_expect_str_eq(c.name, host);
    cr_expect_str_eq(c.tags, "");
    cr_expect_str_eq(c.state_dir, "/home/tester/.local/state/qlab-worker");
    cr_expect_eq(c.slots, 1);
    cr_expect_eq(c.threads, 0);
    cr_expect(!c.once);
    cr_expect_eq(c.log_level, QW_LOG_INFO);
    cr_expect_eq(c.heartbeat_s, 0);
    cr_expect_eq(c.lease_wait_s, 30);
    cr_expect_eq(c.http_timeout_s, 30);
    cr_expect_eq(c.backoff_max_s, 30);
    cr_expect_eq(c.checkpoint_every, 100);
    cr_expect_eq(c.flush_s, 1.0);
    cr_expect_eq(c.flush_points, 1000);
    cr_expect_eq(c.journal_max_bytes, (int64_t)64 << 20, "64 MB, in bytes");
    cr_expect_eq(c.shutdown_timeout_s, 10);
}

Test(config, the_state_directory_follows_systemd_then_home)
{
    struct qw_config c;
    char want[64];

    setenv("STATE_DIRECTORY", "/var/lib/qlab-worker", 1);
    load_ok(&c, NULL);
    cr_expect_str_eq(c.state_dir, "/var/lib/qlab-worker");
    unsetenv("STATE_DIRECTORY");
    unsetenv("HOME");
    load_ok(&c, NULL);
    snprintf(want, sizeof want, "/tmp/qlab-worker-%d", (int)getuid());
    cr_expect_str_eq(c.state_dir, want);
}

Test(config, file_then_environment_then_flags)
{
    struct qw_config c;

    wut_write_file(cfgpath,
                   "# the lab's worker\n"
                   "server = http://file:1\n"
                   "token=file-token\n"
                   "  slots =\t2  \n"
                   "\n"
                   "lease-wait = 5\n"
                   "once = yes\n"
                   "journal-max = 3\n",
                   false);
    /* The file alone. */
    load_ok(&c, (const char *const[]){"--config", cfgpath, NULL});
    cr_expect_str_eq(c.server, "http://file:1");
    cr_expect_str_eq(c.token, "file-token");
    cr_expect_eq(c.slots, 2);
    cr_expect_eq(c.lease_wait_s, 5);
    cr_expect(c.once);
    cr_expect_eq(c.journal_max_bytes, (int64_t)3 << 20);
    cr_expect_eq(c.flush_points, 1000, "what the file leaves out keeps its default");

    /* The environment over the file. */
    setenv("QLAB_SERVER", "http://env:2", 1);
    setenv("QLAB_TOKEN", "env-token", 1);
    load_ok(&c, (const char *const[]){"--config", cfgpath, NULL});
    cr_expect_str_eq(c.server, "http://env:2");
    cr_expect_str_eq(c.token, "env-token");
    cr_expect_eq(c.slots, 2);

    /* Flags over both, even when they come before --config. */
    load_ok(&c, (const char *const[]){"--slots", "3", "--server", "http://flag:3", "--config",
                                      cfgpath, "--token", "flag-token", NULL});
    cr_expect_str_eq(c.server, "http://flag:3");
    cr_expect_str_eq(c.token, "flag-token");
    cr_expect_eq(c.slots, 3);
    cr_expect_eq(c.lease_wait_s, 5);
}

Test(config, an_empty_environment_variable_is_not_set)
{
    struct qw_config c;

    wut_write_file(cfgpath, "server = http://file:1\n", false);
    setenv("QLAB_SERVER", "", 1);
    load_ok(&c, (const char *const[]){"--config", cfgpath, NULL});
    cr_expect_str_eq(c.server, "http://file:1");
}

Test(config, flags_of_every_type)
{
    struct qw_config c;

    load_ok(&c, (const char *const[]){"--name",    "w1",
                                      "--tags",    "gpu,big",
                                      "--threads", "4",
                                      "--once",    "--log-level",
                                      "debug",     "--heartbeat",
                                      "0.5",       "--http-timeout",
                                      "2.5",       "--backoff-max",
                                      "7",         "--checkpoint-every",
                                      "0",         "--flush-interval",
                                      "0.25",      "--flush-points",
                                      "10",        "--journal-max",
                                      "1",         "--shutdown-timeout",
                                      "1",         "--state-dir",
                                      "/s",        NULL});
    cr_expect_str_eq(c.name, "w1");
    cr_expect_str_eq(c.tags, "gpu,big");
    cr_expect_eq(c.threads, 4);
    cr_expect(c.once);
    cr_expect_eq(c.log_level, QW_LOG_DEBUG);
    cr_expect_eq(c.heartbeat_s, 0.5);
    cr_expect_eq(c.http_timeout_s, 2.5);
    cr_expect_eq(c.backoff_max_s, 7);
    cr_expect_eq(c.checkpoint_every, 0);
    cr_expect_eq(c.flush_s, 0.25);
    cr_expect_eq(c.flush_points, 10);
    cr_expect_eq(c.journal_max_bytes, (int64_t)1 << 20);
    cr_expect_eq(c.shutdown_timeout_s, 1);
    cr_expect_str_eq(c.state_dir, "/s");
}

Test(config, trailing_slashes_leave_the_server_url)
{
    struct qw_config c;

    load_ok(&c, (const char *const[]){"--server", "https://lab:8443///", NULL});
    cr_expect_str_eq(c.server, "https://lab:8443");
}

Test(config, a_bad_flag_value_names_the_flag)
{
    expect_error((const char *const[]){"--slots", "0", NULL}, "slots",
                 (const char *const[]){"flag", "slots '0'", "whole number in 1..1024", NULL});
    expect_error((const char *const[]){"--slots", "1.5", NULL}, "slots",
                 (const char *const[]){"slots '1.5'", NULL});
    expect_error((const char *const[]){"--lease-wait", "31", NULL}, "lease-wait",
                 (const char *const[]){"lease-wait '31'", "0..30", NULL});
    expect_error((const char *const[]){"--heartbeat", "soon", NULL}, "heartbeat",
                 (const char *const[]){"heartbeat 'soon'", "number", NULL});
    expect_error((const char *const[]){"--http-timeout", "nan", NULL}, "http-timeout",
                 (const char *const[]){"http-timeout 'nan'", NULL});
    expect_error((const char *const[]){"--log-level", "loud", NULL}, "log-level",
                 (const char *const[]){"log-level 'loud'", NULL});
    expect_error((const char *const[]){"--server", "ftp://x", NULL}, "server",
                 (const char *const[]){"'ftp://x'", "http(s)://", NULL});
    expect_error((const char *const[]){"--state-dir", "", NULL}, "state-dir",
                 (const char *const[]){"state-dir is empty", NULL});
}

Test(config, unknown_flags_missing_values_and_stray_arguments_are_named)
{
    expect_error((const char *const[]){"--slotz", "2", NULL}, "--slotz",
                 (const char *const[]){"unknown option", "--slotz", NULL});
    expect_error((const char *const[]){"--slots", NULL}, "--slots",
                 (const char *const[]){"missing value for", "--slots", NULL});
    expect_error((const char *const[]){"extra", NULL}, "extra",
                 (const char *const[]){"unexpected argument 'extra'", NULL});
}

Test(config, a_too_long_value_names_its_source_and_limit)
{
    char url[QW_URL_MAX + 8];

    memset(url, 'a', sizeof url);
    memcpy(url, "http://", 7);
    url[QW_URL_MAX] = 0; /* QW_URL_MAX characters: one too many */
    setenv("QLAB_SERVER", url, 1);
    expect_error((const char *const[]){NULL}, "server",
                 (const char *const[]){"QLAB_SERVER", "longer than 511 bytes", NULL});
}

Test(config, a_bad_file_line_names_the_file_and_line)
{
    char where[WUT_PATH + 64];
    const char *const args[] = {"--config", cfgpath, NULL};

    wut_write_file(cfgpath, "# ok\nslots = 2\nslots = zero\n", false);
    snprintf(where, sizeof where, "%s:3", cfgpath);
    expect_error(args, "slots", (const char *const[]){where, "slots 'zero'", NULL});

    wut_write_file(cfgpath, "slotz = 2\n", false);
    snprintf(where, sizeof where, "%s:1", cfgpath);
    expect_error(args, "config", (const char *const[]){where, "unknown key 'slotz'", NULL});

    wut_write_file(cfgpath, "\n\nonce\n", false);
    snprintf(where, sizeof where, "%s:3", cfgpath);
    expect_error(args, "config", (const char *const[]){where, "expected key = value", NULL});

    wut_write_file(cfgpath, "once = maybe\n", false);
    snprintf(where, sizeof where, "%s:1", cfgpath);
    expect_error(args, "once", (const char *const[]){where, "once 'maybe'", NULL});
}

Test(config, a_missing_file_is_named)
{
    expect_error((const char *const[]){"--config", "/nonexistent/worker.conf", NULL}, "config",
                 (const char *const[]){"--config", "/nonexistent/worker.conf", NULL});
}

Test(config, help_and_version_ask_the_caller_to_exit)
{
    static char want[8192];
    struct qw_config c;
    struct qc_err err;

    cr_redirect_stdout();
    cr_expect_eq(load(&c, &err, (const char *const[]){"--help", NULL}), 1);
    cr_expect_eq(load(&c, &err, (const char *const[]){"--slots", "2", "--version", NULL}), 1);
    fflush(stdout);
    snprintf(want, sizeof want, "%sqlab-worker %s\n", qw_config_usage, QW_VERSION);
    cr_expect_stdout_eq_str(want);
}
