/* The directory store and the committed table of synthesized figures. */
#include "hw_store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p */
static int make_dirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) && errno != EEXIST)
            return -1;
        *s = '/';
    }
    return mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
}

int hw_dirstore_init(struct hw_dirstore *d, const char *dir, struct qc_err *err)
{
    const char *env = getenv("QLAB_COST_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    int n;

    if (dir && *dir)
        n = snprintf(d->dir, sizeof d->dir, "%s", dir);
    else if (env && *env)
        n = snprintf(d->dir, sizeof d->dir, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(d->dir, sizeof d->dir, "%s/qlab/cost", xdg);
    else if (home && *home)
        n = snprintf(d->dir, sizeof d->dir, "%s/.cache/qlab/cost", home);
    else
        return qc_err_set(err, QC_EINVAL, "", "no cache directory: set QLAB_COST_CACHE or HOME");
    if (n < 0 || (size_t)n >= sizeof d->dir - 80)
        return qc_err_set(err, QC_EINVAL, "", "cache directory path too long");
    if (make_dirs(d->dir))
        return qc_err_set(err, QC_EIO, "", "%s: %s", d->dir, strerror(errno));
    return QC_OK;
}

static bool key_ok(const char *key)
{
    size_t n = strlen(key);
    return n == 64 && strspn(key, "0123456789abcdef") == n;
}

static int dir_get(void *ctx, const char *key, json_t **out)
{
    struct hw_dirstore *d = ctx;
    char p[PATH_MAX + 80];
    json_error_t jerr;

    *out = NULL;
    if (!key_ok(key))
        return QC_EINVAL;
    snprintf(p, sizeof p, "%s/%s.json", d->dir, key);
    if (access(p, R_OK))
        return QC_ENOTFOUND;
    *out = json_load_file(p, 0, &jerr);
    return *out ? QC_OK : QC_ENOTFOUND; /* unreadable: synthesize again */
}

static int dir_put(void *ctx, const char *key, const json_t *value)
{
    struct hw_dirstore *d = ctx;
    char p[PATH_MAX + 80], tmp[PATH_MAX + 100];

    if (!key_ok(key))
        return QC_EINVAL;
    snprintf(p, sizeof p, "%s/%s.json", d->dir, key);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", p, (long)getpid());
    if (json_dump_file(value, tmp, JSON_INDENT(1) | JSON_SORT_KEYS)) {
        unlink(tmp);
        return QC_EIO;
    }
    if (rename(tmp, p)) {
        unlink(tmp);
        return QC_EIO;
    }
    return QC_OK;
}

void hw_dirstore_bind(struct hw_store *s, struct hw_dirstore *d)
{
    s->get = dir_get;
    s->put = dir_put;
    s->ctx = d;
}

int hw_table_load(json_t **out, const char *path, struct qc_err *err)
{
    json_error_t jerr;

    *out = NULL;
    if (access(path, F_OK)) {
        *out = json_pack("{s:s, s:{}}", "tool", "", "entries");
        return *out ? QC_OK : qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    *out = json_load_file(path, 0, &jerr);
    if (!*out)
        return qc_err_set(err, QC_ECORRUPT, "", "%s:%d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(json_object_get(*out, "entries"))) {
        json_decref(*out);
        *out = NULL;
        return qc_err_set(err, QC_ECORRUPT, "", "%s: no \"entries\" object", path);
    }
    return QC_OK;
}

const json_t *hw_table_get(const json_t *table, const char *key)
{
    return json_object_get(json_object_get(table, "entries"), key);
}
