/* Finding the dashboard's files (see webdir.h). An installed server must
 * not depend on the directory it was started from, and a wrong --web must
 * say so at start rather than answer 404 to every page. */
#include "server/webdir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool has_index(const char *dir)
{
    char path[SRV_PATH_MAX + 16];
    struct stat sb;
    snprintf(path, sizeof path, "%s/index.html", dir);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Copies the absolute form of `dir` into c->web_dir (the form given when
 * it cannot be resolved or does not fit). */
static void take(struct srv_config *c, const char *dir)
{
    char real[PATH_MAX];
    const char *src = realpath(dir, real) && strlen(real) < sizeof c->web_dir ? real : dir;
    const size_t n = strlen(src);
    if (n < sizeof c->web_dir)
        memcpy(c->web_dir, src, n + 1);
    else
        c->web_dir[0] = '\0'; /* longer than any path the server can open */
}

void srv_webdir_exe(char *out, size_t out_size, const char *proc_link, const char *argv0)
{
    char real[PATH_MAX], cand[PATH_MAX];
    ssize_t n;

    out[0] = '\0';
    if (proc_link && (n = readlink(proc_link, real, sizeof real - 1)) > 0) {
        real[n] = '\0';
        snprintf(out, out_size, "%s", real);
        return;
    }
    if (!argv0 || !argv0[0])
        return;
    if (strchr(argv0, '/')) {
        if (realpath(argv0, real))
            snprintf(out, out_size, "%s", real);
        return;
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        const int len = colon ? (int)(colon - path) : (int)strlen(path);
        if (len > 0 &&
            (size_t)snprintf(cand, sizeof cand, "%.*s/%s", len, path, argv0) < sizeof cand &&
            access(cand, X_OK) == 0 && realpath(cand, real)) {
            snprintf(out, out_size, "%s", real);
            return;
        }
        path = colon ? colon + 1 : NULL;
    }
}

int srv_webdir_resolve(struct srv_config *c, const char *exe, char *warn, size_t warn_size,
                       struct qc_err *err)
{
    char installed[SRV_PATH_MAX + 32] = "";
    struct stat sb;

    if (warn_size)
        warn[0] = '\0';
    if (c->web_given) {
        if (!c->web_dir[0])
            return QC_OK; /* --web "": the API only, on purpose */
        if (stat(c->web_dir, &sb) != 0)
            return qc_err_set(err, QC_EINVAL, "--web", "--web %s: %s", c->web_dir, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
            return qc_err_set(err, QC_EINVAL, "--web", "--web %s: not a directory", c->web_dir);
        if (!has_index(c->web_dir))
            snprintf(warn, warn_size, "--web %s has no index.html: the dashboard will not load",
                     c->web_dir);
        take(c, c->web_dir);
        return QC_OK;
    }
    const char *slash = exe ? strrchr(exe, '/') : NULL;
    if (slash) {
        snprintf(installed, sizeof installed, "%.*s/%s", (int)(slash - exe), exe,
                 SRV_WEBDIR_INSTALLED);
        if (has_index(installed)) {
            take(c, installed);
            return QC_OK;
        }
    }
    if (has_index("web")) {
        take(c, "web");
        return QC_OK;
    }
    c->web_dir[0] = '\0';
    snprintf(warn, warn_size,
             "no dashboard files in %s%s./web: serving the API only (--web DIR names them)",
             installed[0] ? installed : "", installed[0] ? " nor " : "");
    return QC_OK;
}
