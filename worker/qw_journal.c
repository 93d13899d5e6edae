/* The per-run metric journal (see qw_journal.h). */
#include "qw_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "qlab-worker-journal 1 "

struct qw_journal {
    char path[1024];
    int fd;
    int64_t max_bytes;
    off_t header_len;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Guarded by mu. Counts are of points since creation, in append order. */
    int64_t appended, acked;
    off_t file_len;
};

static bool token_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s > '~')
            return false;
    return true;
}

static int sync_dir(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static struct qw_journal *alloc(const char *path, int fd, int64_t max_bytes)
{
    struct qw_journal *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;

    if (!j)
        return NULL;
    snprintf(j->path, sizeof j->path, "%s", path);
    j->fd = fd;
    j->max_bytes = max_bytes;
    pthread_mutex_init(&j->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    return j;
}

int qw_journal_create(struct qw_journal **out, const char *path, int64_t run, const char *lease,
                      const char *token, int64_t max_bytes, struct qc_err *err)
{
    char head[3 * QW_JOURNAL_TOKEN_MAX];

    *out = NULL;
    if (!token_ok(lease) || (*token && !token_ok(token)))
        return qc_err_set(err, QC_EINVAL, "",
                          "lease or worker token has spaces or control "
                          "characters; cannot journal run %" PRId64,
                          run);
    int n = snprintf(head, sizeof head, MAGIC "run=%" PRId64 " lease=%s token=%s\n", run, lease,
                     *token ? token : "-");
    if (n < 0 || (size_t)n >= sizeof head)
        return qc_err_set(err, QC_EINVAL, "", "lease or token too long");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return qc_err_set(err, QC_EIO, "", "journal %s: %s", path, strerror(errno));
    if (write(fd, head, (size_t)n) != n || fdatasync(fd) != 0 || sync_dir(path) != 0) {
        int e = errno;
        close(fd);
        return qc_err_set(err, QC_EIO, "", "journal %s: %s", path, strerror(e));
    }
    struct qw_journal *j = alloc(path, fd, max_bytes);
    if (!j) {
        close(fd);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for a journal");
    }
    j->header_len = j->file_len = n;
    *out = j;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int qw_journal_append(struct qw_journal *j, const struct qw_point *p, int n, const atomic_int *stop,
                      struct qc_err *err)
{
    size_t cap = (size_t)n * (QW_METRIC_NAME_MAX + 48) + 1, len = 0;
    char *buf = malloc(cap);
    bool truncate = false;
    int rc = 0;

    if (!buf)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for journal lines");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%" PRId64 " %.17g %s\n", p[i].step,
                                p[i].value, p[i].name);

    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->acked == j->appended) {
            truncate = j->file_len > j->header_len;
            break;
        }
        if (j->file_len + (off_t)len <= j->max_bytes)
            break;
        if (stop && atomic_load(stop)) {
            rc = qc_err_set(err, QC_ECONFLICT, "", "stopped while the journal was full");
            break;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 100 * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &t);
    }
    pthread_mutex_unlock(&j->mu);
    if (rc)
        goto out;

    /* Only this thread writes the file, so the I/O needs no lock. */
    off_t new_len = (truncate ? j->header_len : j->file_len) + (off_t)len;
    if ((truncate &&
         (ftruncate(j->fd, j->header_len) != 0 || lseek(j->fd, j->header_len, SEEK_SET) < 0)) ||
        write_all(j->fd, buf, len) != 0 || fdatasync(j->fd) != 0) {
        rc = qc_err_set(err, QC_EIO, "", "journal %s: %s", j->path, strerror(errno));
        goto out;
    }
    pthread_mutex_lock(&j->mu);
    j->appended += n;
    j->file_len = new_len;
    pthread_mutex_unlock(&j->mu);
out:
    free(buf);
    return rc;
}

void qw_journal_ack(struct qw_journal *j, int64_t n)
{
    pthread_mutex_lock(&j->mu);
    j->acked += n;
    if (j->acked > j->appended)
        j->acked = j->appended;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

const char *qw_journal_path(const struct qw_journal *j)
{
    return j->path;
}

void qw_journal_destroy(struct qw_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* "key=value" → value into out; false if the word is not that key. */
static bool word(const char *w, const char *key, char *out, size_t len)
{
    size_t k = strlen(key);
    if (strncmp(w, key, k) != 0 || w[k] != '=')
        return false;
    snprintf(out, len, "%s", w + k + 1);
    return true;
}

int qw_journal_load(struct qw_journal **out, struct qw_journal_rec *rec, const char *path,
                    struct qc_err *err)
{
    FILE *f = fopen(path, "r");
    char line[1024], runs[32] = "", *save;
    int64_t cap = 0;
    int rc = 0;

    *out = NULL;
    memset(rec, 0, sizeof *rec);
    if (!f)
        return qc_err_set(err, QC_EIO, "", "journal %s: %s", path, strerror(errno));
    if (!fgets(line, sizeof line, f) || strncmp(line, MAGIC, strlen(MAGIC)) != 0 ||
        !strchr(line, '\n')) {
        rc = qc_err_set(err, QC_ECORRUPT, "", "journal %s: no valid header", path);
        goto out;
    }
    line[strcspn(line, "\n")] = 0;
    for (char *w = strtok_r(line + strlen(MAGIC), " ", &save); w; w = strtok_r(NULL, " ", &save))
        (void)(word(w, "run", runs, sizeof runs) ||
               word(w, "lease", rec->lease, sizeof rec->lease) ||
               word(w, "token", rec->token, sizeof rec->token));
    rec->run = strtoll(runs, NULL, 10);
    if (rec->run <= 0 || !rec->lease[0]) {
        rc = qc_err_set(err, QC_ECORRUPT, "", "journal %s: header names no run or lease", path);
        goto out;
    }
    if (!strcmp(rec->token, "-"))
        rec->token[0] = 0;
    while (fgets(line, sizeof line, f)) {
        struct qw_point p;
        char name[QW_METRIC_NAME_MAX + 1];
        if (!strchr(line, '\n'))
            break; /* torn last line */
        if (sscanf(line, "%" SCNd64 " %lf %64s", &p.step, &p.value, name) != 3 ||
            strlen(name) >= QW_METRIC_NAME_MAX)
            break;
        memcpy(p.name, name, strlen(name) + 1); /* length checked above */
        if (rec->n == cap) {
            cap = cap ? cap * 2 : 256;
            struct qw_point *np = realloc(rec->points, (size_t)cap * sizeof *np);
            if (!np) {
                rc = qc_err_set(err, QC_ENOMEM, "", "out of memory loading %s", path);
                goto out;
            }
            rec->points = np;
        }
        rec->points[rec->n++] = p;
    }
    struct qw_journal *j = alloc(path, -1, INT64_MAX);
    if (!j) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for a journal");
        goto out;
    }
    j->appended = rec->n;
    *out = j;
out:
    if (rc) {
        free(rec->points);
        rec->points = NULL;
        rec->n = 0;
    }
    fclose(f);
    return rc;
}
