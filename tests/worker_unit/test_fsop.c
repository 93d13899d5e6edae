/* Unit tests of the worker's file housekeeping (worker/qw_fsop.c) on real
 * files: an atomic write is synced before the rename that publishes it and
 * leaves no temporary file behind, whether it succeeds or fails; mkdir -p,
 * rm -rf (blocking and on libuv's thread pool) and whole-file reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "worker/qw_fsop.h"
#include "wut.h"

static char dir[WUT_PATH];
static char path[WUT_PATH + 32], tmp[WUT_PATH + 64];

static void setup(void)
{
    wut_dir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/ckpt.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
}

static void teardown(void)
{
    wut_dir_remove(dir);
}

TestSuite(fsop, .init = setup, .fini = teardown, .timeout = 30);

Test(fsop, an_atomic_write_is_synced_in_full_before_the_rename)
{
    static const char data[] = "checkpoint bytes\0with a NUL inside";
    struct qc_err err;
    struct stat st;

    wut_write_file(path, "the old checkpoint", false);
    wut_probe_reset();
    cr_assert_eq(qw_fs_write_atomic(path, data, sizeof data, &err), 0, "%s", err.msg);
    cr_assert_eq(wut_probe_count(), 2, "one sync, one rename");
    cr_expect_eq(wut_probe_event(0)->call, WUT_FSYNC);
    cr_expect_eq(wut_probe_event(0)->size, (off_t)sizeof data, "the sync covers every byte");
    cr_expect_eq(wut_probe_event(1)->call, WUT_RENAME);
    cr_expect_str_eq(wut_probe_event(1)->from, tmp);
    cr_expect_str_eq(wut_probe_event(1)->to, path);

    void *got = NULL;
    size_t len = 0;
    cr_assert_eq(qw_fs_read(&got, &len, path, &err), 0, "%s", err.msg);
    cr_expect_eq(len, sizeof data);
    cr_expect(memcmp(got, data, sizeof data) == 0);
    free(got);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o", (unsigned)(st.st_mode & 0777));
    cr_expect_eq(access(tmp, F_OK), -1, "no temporary file is left");
}

Test(fsop, a_failed_rename_keeps_the_old_file_and_removes_the_temporary_one)
{
    struct qc_err err;
    char sub[WUT_PATH + 64];

    /* A non-empty directory cannot be replaced by a file. */
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(sub, sizeof sub, "%s/keep", path);
    wut_write_file(sub, "kept", false);
    cr_expect_eq(qw_fs_write_atomic(path, "x", 1, &err), QC_EIO);
    cr_expect(strstr(err.msg, path), "the message names the file: %s", err.msg);
    cr_expect_eq(access(tmp, F_OK), -1, "no temporary file is left");
    char *kept = wut_read_file(sub);
    cr_expect_str_eq(kept, "kept");
    free(kept);
}

Test(fsop, a_write_that_runs_out_of_room_keeps_the_old_file)
{
    static char big[8192];
    struct rlimit old, lim;
    struct qc_err err;

    wut_write_file(path, "the old checkpoint", false);
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0, "setrlimit: %s", strerror(errno));
    wut_probe_reset();
    int rc = qw_fs_write_atomic(path, big, sizeof big, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_expect_eq(rc, QC_EIO);
    cr_expect(strstr(err.msg, strerror(EFBIG)), "%s", err.msg);
    cr_expect_eq(wut_probe_count(), 0, "neither synced nor renamed");
    cr_expect_eq(access(tmp, F_OK), -1, "no temporary file is left");
    char *text = wut_read_file(path);
    cr_expect_str_eq(text, "the old checkpoint");
    free(text);
}

Test(fsop, mkdirs_creates_every_level_readable_only_by_its_owner)
{
    char deep[WUT_PATH + 64];
    struct qc_err err;
    struct stat st;

    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    cr_assert_eq(qw_fs_mkdirs(deep, &err), 0, "%s", err.msg);
    cr_assert_eq(qw_fs_mkdirs(deep, &err), 0, "an existing directory is success: %s", err.msg);
    cr_assert_eq(stat(deep, &st), 0);
    cr_expect(S_ISDIR(st.st_mode));
    cr_expect_eq(st.st_mode & 0777, 0700, "mode %o", (unsigned)(st.st_mode & 0777));

    /* A file in the way is an error naming the path. */
    snprintf(deep, sizeof deep, "%s/a/b/c/f", dir);
    wut_write_file(deep, "", false);
    snprintf(deep, sizeof deep, "%s/a/b/c/f/g", dir);
    cr_expect_eq(qw_fs_mkdirs(deep, &err), QC_EIO);
    cr_expect(strstr(err.msg, "/a/b/c/f"), "%s", err.msg);
}

Test(fsop, remove_deletes_a_tree_and_a_missing_path_is_success)
{
    char p[WUT_PATH + 64];
    struct qc_err err;

    snprintf(p, sizeof p, "%s/t/u", dir);
    cr_assert_eq(qw_fs_mkdirs(p, &err), 0, "%s", err.msg);
    snprintf(p, sizeof p, "%s/t/u/f", dir);
    wut_write_file(p, "x", false);
    snprintf(p, sizeof p, "%s/t/g", dir);
    wut_write_file(p, "y", false);
    snprintf(p, sizeof p, "%s/t", dir);
    cr_expect_eq(qw_fs_remove(p, &err), 0, "%s", err.msg);
    cr_expect_eq(access(p, F_OK), -1);
    cr_expect_eq(qw_fs_remove(p, &err), 0, "already gone: %s", err.msg);
}

Test(fsop, read_of_a_missing_file_names_it)
{
    void *data = (void *)1;
    size_t len = 1;
    struct qc_err err;

    cr_expect_eq(qw_fs_read(&data, &len, path, &err), QC_EIO);
    cr_expect_null(data);
    cr_expect_eq(len, 0);
    cr_expect(strstr(err.msg, path), "%s", err.msg);
}

Test(fsop, remove_async_removes_both_paths_on_the_thread_pool)
{
    char a[WUT_PATH + 64], b[WUT_PATH + 64];
    uv_loop_t loop;

    snprintf(a, sizeof a, "%s/run", dir);
    snprintf(b, sizeof b, "%s/run.jnl", dir);
    cr_assert_eq(mkdir(a, 0700), 0);
    wut_write_file(b, "j", false);
    cr_assert_eq(uv_loop_init(&loop), 0);
    qw_fsop_remove_async(&loop, a, b);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "nothing left open");
    cr_expect_eq(access(a, F_OK), -1);
    cr_expect_eq(access(b, F_OK), -1);
}
