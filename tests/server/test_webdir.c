/* Where qlab-server finds the dashboard (server/webdir.c): the installed
 * copy beside the binary before ./web, a --web directory that must exist,
 * and a warning (never a silent 404) when there is none. Each test builds
 * the layouts in a temporary directory and runs in its own process, so it
 * may change the working directory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/config.h"
#include "server/webdir.h"
#include "srvt.h"

static void make_web(const char *dir)
{
    char path[SRVT_PATH * 2];
    cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
    snprintf(path, sizeof path, "%s/index.html", dir);
    srvt_write_file(path, "<!doctype html>");
}

/* PREFIX/bin and PREFIX/share/qlab/web under `root`, the binary's path in exe. */
static void make_prefix(const char *root, bool with_web, char *exe, size_t n)
{
    char p[SRVT_PATH * 2];
    const char *dirs[] = {"usr", "usr/bin", "usr/share", "usr/share/qlab"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
    }
    if (with_web) {
        snprintf(p, sizeof p, "%s/usr/share/qlab/web", root);
        make_web(p);
    }
    snprintf(exe, n, "%s/usr/bin/qlab-server", root);
}

static int resolve(struct srv_config *c, const char *exe, char *warn, size_t n, struct qc_err *err,
                   const char *web_flag)
{
    srv_config_init(c);
    if (web_flag) {
        c->web_given = true;
        snprintf(c->web_dir, sizeof c->web_dir, "%s", web_flag);
    }
    qc_err_clear(err);
    return srv_webdir_resolve(c, exe, warn, n, err);
}

Test(webdir, the_installed_copy_beside_the_binary_wins_over_the_working_directory)
{
    char root[SRVT_PATH], exe[SRVT_PATH * 2], want[SRVT_PATH * 2], warn[2048];
    struct srv_config c;
    struct qc_err err;

    srvt_dir_make(root, sizeof root);
    make_prefix(root, true, exe, sizeof exe);
    /* A ./web in the working directory too: the installed one must win. */
    cr_assert_eq(chdir(root), 0);
    make_web("web");
    cr_assert_eq(resolve(&c, exe, warn, sizeof warn, &err, NULL), QC_OK, "%s", err.msg);
    snprintf(want, sizeof want, "%s/usr/share/qlab/web", root);
    cr_expect_str_eq(c.web_dir, want);
    cr_expect_str_eq(warn, "");
    srvt_dir_remove(root);
}

Test(webdir, the_source_tree_falls_back_to_dot_web)
{
    char root[SRVT_PATH], exe[SRVT_PATH * 2], want[SRVT_PATH * 2], warn[2048];
    struct srv_config c;
    struct qc_err err;

    srvt_dir_make(root, sizeof root);
    make_prefix(root, false, exe, sizeof exe); /* build/bin without share/ */
    cr_assert_eq(chdir(root), 0);
    make_web("web");
    cr_assert_eq(resolve(&c, exe, warn, sizeof warn, &err, NULL), QC_OK, "%s", err.msg);
    snprintf(want, sizeof want, "%s/web", root);
    cr_expect_str_eq(c.web_dir, want);
    cr_expect_str_eq(warn, "");
    srvt_dir_remove(root);
}

Test(webdir, no_dashboard_anywhere_is_a_warning_naming_the_places_looked_in)
{
    char root[SRVT_PATH], exe[SRVT_PATH * 2], warn[4096];
    struct srv_config c;
    struct qc_err err;

    srvt_dir_make(root, sizeof root);
    make_prefix(root, false, exe, sizeof exe);
    cr_assert_eq(chdir(root), 0);
    cr_assert_eq(resolve(&c, exe, warn, sizeof warn, &err, NULL), QC_OK, "%s", err.msg);
    cr_expect_str_eq(c.web_dir, "");
    cr_expect_neq(strstr(warn, "share/qlab/web"), NULL, "%s", warn);
    cr_expect_neq(strstr(warn, "./web"), NULL, "%s", warn);
    cr_expect_neq(strstr(warn, "API only"), NULL, "%s", warn);
    srvt_dir_remove(root);
}

Test(webdir, a_missing_web_directory_is_an_error_naming_the_flag)
{
    char root[SRVT_PATH], bad[SRVT_PATH * 2], exe[SRVT_PATH * 2], warn[2048];
    struct srv_config c;
    struct qc_err err;

    srvt_dir_make(root, sizeof root);
    make_prefix(root, true, exe, sizeof exe);
    snprintf(bad, sizeof bad, "%s/nowhere", root);
    cr_expect_eq(resolve(&c, exe, warn, sizeof warn, &err, bad), QC_EINVAL);
    cr_expect_str_eq(err.field, "--web");
    cr_expect_neq(strstr(err.msg, bad), NULL, "%s", err.msg);
    /* A file is not a directory either. */
    snprintf(bad, sizeof bad, "%s/usr/share/qlab/web/index.html", root);
    cr_expect_eq(resolve(&c, exe, warn, sizeof warn, &err, bad), QC_EINVAL);
    cr_expect_neq(strstr(err.msg, "not a directory"), NULL, "%s", err.msg);
    srvt_dir_remove(root);
}

Test(webdir, an_explicit_directory_is_kept_and_an_empty_one_serves_nothing)
{
    char root[SRVT_PATH], exe[SRVT_PATH * 2], dir[SRVT_PATH * 2], warn[4096];
    struct srv_config c;
    struct qc_err err;

    srvt_dir_make(root, sizeof root);
    make_prefix(root, true, exe, sizeof exe);
    snprintf(dir, sizeof dir, "%s/mine", root);
    cr_assert_eq(mkdir(dir, 0755), 0);
    /* No index.html: accepted (the operator asked for it), with a warning. */
    cr_assert_eq(resolve(&c, exe, warn, sizeof warn, &err, dir), QC_OK, "%s", err.msg);
    cr_expect_str_eq(c.web_dir, dir);
    cr_expect_neq(strstr(warn, "index.html"), NULL, "%s", warn);
    /* --web "": the API only, without a warning and without looking around. */
    cr_assert_eq(resolve(&c, exe, warn, sizeof warn, &err, ""), QC_OK, "%s", err.msg);
    cr_expect_str_eq(c.web_dir, "");
    cr_expect_str_eq(warn, "");
    srvt_dir_remove(root);
}

Test(webdir, the_binary_is_found_through_proc_then_argv0_then_path)
{
    char root[SRVT_PATH], exe[SRVT_PATH * 2], link[SRVT_PATH * 2], nolink[SRVT_PATH * 2];
    char path[SRVT_PATH * 3], out[4096];

    srvt_dir_make(root, sizeof root);
    make_prefix(root, true, exe, sizeof exe);
    srvt_write_file(exe, "#!/bin/sh\n");
    cr_assert_eq(chmod(exe, 0755), 0);
    snprintf(link, sizeof link, "%s/exe-link", root);
    cr_assert_eq(symlink(exe, link), 0);
    snprintf(nolink, sizeof nolink, "%s/no-proc/exe", root);

    /* /proc/self/exe (here a symlink standing for it) wins over argv[0]. */
    srv_webdir_exe(out, sizeof out, link, "/somewhere/else");
    cr_expect_str_eq(out, exe);
    /* Without /proc (a chroot): argv[0] when it is a path... */
    cr_assert_eq(chdir(root), 0);
    srv_webdir_exe(out, sizeof out, nolink, "usr/bin/qlab-server");
    cr_expect_str_eq(out, exe);
    /* ...else the first executable of that name on PATH. */
    snprintf(path, sizeof path, "%s/nothing-here:%s/usr/bin", root, root);
    cr_assert_eq(setenv("PATH", path, 1), 0);
    srv_webdir_exe(out, sizeof out, nolink, "qlab-server");
    cr_expect_str_eq(out, exe);
    srv_webdir_exe(out, sizeof out, nolink, "qlab-nonesuch");
    cr_expect_str_eq(out, "");
    srvt_dir_remove(root);
}
