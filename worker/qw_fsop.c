/* File housekeeping (see qw_fsop.h). */
#include "qw_fsop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qw_log.h"

int qw_fs_mkdirs(const char *path, struct qc_err *err)
{
    char buf[4096];

    if (strlen(path) >= sizeof buf)
        return qc_err_set(err, QC_EINVAL, "", "path too long: %s", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return qc_err_set(err, QC_EIO, "", "mkdir %s: %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

int qw_fs_remove(const char *path, struct qc_err *err)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char sub[4096];
        if (!d)
            return qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(errno));
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            int rc = qw_fs_remove(sub, err);
            if (rc) {
                closedir(d);
                return rc;
            }
        }
        closedir(d);
        if (rmdir(path) != 0 && errno != ENOENT)
            return qc_err_set(err, QC_EIO, "", "rmdir %s: %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return qc_err_set(err, QC_EIO, "", "unlink %s: %s", path, strerror(errno));
    return 0;
}

int qw_fs_read(void **data, size_t *len, const char *path, struct qc_err *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t got = 0;

    *data = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(e));
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory reading %s", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *len = got;
    return 0;
}

int qw_fs_write_atomic(const char *path, const void *data, size_t len, struct qc_err *err)
{
    char tmp[4096];
    const char *p = data;
    size_t left = len;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return qc_err_set(err, QC_EIO, "", "%s: %s", tmp, strerror(errno));
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    if (left || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        if (left)
            close(fd);
        unlink(tmp);
        return qc_err_set(err, QC_EIO, "", "%s: %s", path, strerror(e));
    }
    return 0;
}

struct rm_work {
    uv_work_t req;
    char *paths[2];
};

static void rm_do(uv_work_t *w)
{
    struct rm_work *r = w->data;
    struct qc_err err;

    for (int i = 0; i < 2; i++)
        if (r->paths[i] && qw_fs_remove(r->paths[i], &err))
            qw_log_warn("cannot remove %s: %s", r->paths[i], err.msg);
}

static void rm_done(uv_work_t *w, int status)
{
    struct rm_work *r = w->data;
    (void)status;
    free(r->paths[0]);
    free(r->paths[1]);
    free(r);
}

void qw_fsop_remove_async(uv_loop_t *loop, const char *path1, const char *path2)
{
    struct rm_work *r = calloc(1, sizeof *r);

    if (!r)
        return;
    r->req.data = r;
    r->paths[0] = path1 ? strdup(path1) : NULL;
    r->paths[1] = path2 ? strdup(path2) : NULL;
    if (uv_queue_work(loop, &r->req, rm_do, rm_done) != 0)
        rm_done(&r->req, 0);
}
