/* Helpers of the worker unit tests (see wut.h). */
#include "wut.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void wut_dir_make(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, len, "%s/qlab-wut-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(out), "mkdtemp %s: %s", out, strerror(errno));
}

void wut_dir_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        char p[WUT_PATH * 2];
        struct stat sb;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            wut_dir_remove(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void wut_write_file(const char *path, const char *text, bool append)
{
    FILE *f = fopen(path, append ? "a" : "w");
    cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
    cr_assert_eq(fputs(text, f) >= 0, true, "cannot write %s", path);
    cr_assert_eq(fclose(f), 0, "cannot close %s", path);
}

char *wut_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    cr_assert_not_null(f, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf, "out of memory reading %s", path);
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[len] = 0;
    return buf;
}

/* ---- the probe ------------------------------------------------------------ */

#define PROBE_MAX 64

static struct wut_event events[PROBE_MAX];
static int nevents;

int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_rename(const char *from, const char *to);

int wut_probe_count(void)
{
    return nevents;
}

const struct wut_event *wut_probe_event(int i)
{
    cr_assert(i >= 0 && i < nevents && i < PROBE_MAX, "probe event %d of %d", i, nevents);
    return &events[i];
}

void wut_probe_reset(void)
{
    memset(events, 0, sizeof events);
    nevents = 0;
}

static struct wut_event *record(enum wut_call call)
{
    struct wut_event *e = nevents < PROBE_MAX ? &events[nevents] : NULL;
    nevents++;
    if (e) {
        memset(e, 0, sizeof *e);
        e->call = call;
    }
    return e;
}

static void sync_event(enum wut_call call, int fd, int rc)
{
    struct wut_event *e = record(call);
    struct stat st;

    if (e && fstat(fd, &st) == 0) {
        e->dir = S_ISDIR(st.st_mode);
        e->size = st.st_size;
    }
    if (e)
        e->rc = rc;
}

/* Each wrapper keeps the real call's errno: the library reports it. */
int __wrap_fsync(int fd)
{
    int rc = __real_fsync(fd), e = errno;
    sync_event(WUT_FSYNC, fd, rc);
    errno = e;
    return rc;
}

int __wrap_fdatasync(int fd)
{
    int rc = __real_fdatasync(fd), e = errno;
    sync_event(WUT_FDATASYNC, fd, rc);
    errno = e;
    return rc;
}

int __wrap_rename(const char *from, const char *to)
{
    int rc = __real_rename(from, to), e = errno;
    struct wut_event *ev = record(WUT_RENAME);
    if (ev) {
        snprintf(ev->from, sizeof ev->from, "%s", from);
        snprintf(ev->to, sizeof ev->to, "%s", to);
        ev->rc = rc;
    }
    errno = e;
    return rc;
}
