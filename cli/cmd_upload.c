/* `qlab upload` and `qlab train --upload`: a run trained on this machine
 * recorded on qlab-server as a finished run (POST /api/v1/runs/import),
 * with its spec, its metric points (the worker's mapping of the metric
 * lines, qcore/metric_line.h) and its checkpoint, so that local runs sit
 * beside the queue's in every list, export and plot. The import key is a
 * hash of the spec and the metric lines: uploading the same files again
 * answers the run recorded the first time. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"
#include "qcore/metric_line.h"
#include "qcore/spec.h"
#include "qcore/train.h"

#define TAGS_MAX      32
#define METRICS_MAX   ((size_t)1 << 30)
#define CKPT_MAX      ((size_t)256 << 20)
#define SPEC_TEXT_MAX ((size_t)1 << 20)

/* 64-bit FNV-1a from `h`. */
static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The points of every line as a JSON array; *last_step the largest step.
 * `times` (may be NULL) gives each line's wall time, its points' "t". A
 * line that is not a metric line is an error naming it. */
static int points_of(json_t **out, int64_t *last_step, const char *lines, size_t len,
                     const double *times, size_t ntimes, struct qc_err *err)
{
    json_t *pts = json_array();
    int lineno = 0;
    *last_step = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(lines + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (lines + pos)) : len - pos;
        lineno++;
        char *line = malloc(n + 1);
        if (!line) {
            json_decref(pts);
            return qc_err_set(err, QC_ENOMEM, "", "out of memory");
        }
        memcpy(line, lines + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (strspn(line, " \t\r") == n) { /* blank */
            free(line);
            continue;
        }
        struct qc_metric_point *p = NULL;
        int np = 0, nonfinite = 0;
        int rc = qc_metric_line_points(&p, &np, &nonfinite, line, err);
        free(line);
        if (rc) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            json_decref(pts);
            return qc_err_set(err, rc, "", "metrics line %d: %s", lineno, why);
        }
        for (int i = 0; i < np; i++) {
            json_t *pt = json_pack("{s:I,s:s,s:f}", "step", (json_int_t)p[i].step, "name",
                                   p[i].name, "value", p[i].value);
            if (pt && times && (size_t)lineno <= ntimes)
                json_object_set_new(pt, "t", json_real(times[lineno - 1]));
            json_array_append_new(pts, pt);
            if (p[i].step > *last_step)
                *last_step = p[i].step;
        }
        free(p);
    }
    *out = pts;
    return QC_OK;
}

/* PUT of the checkpoint file in `dir`, if there is one. */
static int put_checkpoint(const struct cli_rest *rest, int64_t run, const char *dir, int64_t step,
                          struct qc_err *err)
{
    char path[QC_TRAIN_PATH_MAX + 64], url[96], h_step[64], h_crc[64];
    unsigned char *data = NULL;
    size_t len = 0;
    qc_train_checkpoint_path(path, sizeof path, dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return QC_OK; /* trained without reaching a checkpoint */
    int rc = cli_read_fd(&data, &len, fd, path, CKPT_MAX, err);
    close(fd);
    if (rc < 0)
        return rc;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)len);
    snprintf(url, sizeof url, "/api/v1/runs/%lld/checkpoint", (long long)run);
    snprintf(h_step, sizeof h_step, "X-Qlab-Step: %lld", (long long)step);
    snprintf(h_crc, sizeof h_crc, "X-Qlab-Crc32: %08lx", (unsigned long)crc);
    const char *extra[] = {h_step, h_crc, NULL};
    struct cli_buf out;
    long status;
    cli_buf_init(&out);
    struct cli_rest r = *rest;
    r.timeout_s = 0;
    rc = cli_rest_raw(&r, "PUT", url, data, len, "application/octet-stream", extra, &status, &out,
                      err);
    cli_buf_free(&out);
    free(data);
    return rc;
}

int cli_upload_run(long long *id_out, const struct cli_rest *rest, const char *spec_text,
                   const char *lines, size_t lines_len, const double *times, size_t ntimes,
                   const char *checkpoint_dir, double started, double finished, const char *error,
                   const char *const *tags, int ntags, const char *note)
{
    struct qc_err err;
    json_t *spec = NULL, *pts = NULL, *body = NULL, *out = NULL;
    int64_t last_step = 0;
    long status;
    int rc;

    qc_err_clear(&err);
    if (!(spec = json_loads(spec_text, 0, NULL)))
        return cli_fail("upload", QC_EINVAL, "the spec is not JSON");
    if ((rc = points_of(&pts, &last_step, lines, lines_len, times, ntimes, &err)) < 0) {
        json_decref(spec);
        return cli_fail_err("upload", NULL, &err);
    }
    char key[64];
    uint64_t h1 = fnv(UINT64_C(0xcbf29ce484222325), spec_text, strlen(spec_text));
    h1 = fnv(h1, lines, lines_len);
    uint64_t h2 = fnv(UINT64_C(0x84222325cbf29ce4), lines, lines_len);
    h2 = fnv(h2, spec_text, strlen(spec_text));
    snprintf(key, sizeof key, "local-%016llx%016llx", (unsigned long long)h1,
             (unsigned long long)h2);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    body =
        json_pack("{s:o,s:s,s:s,s:o,s:s}", "spec", spec, "key", key, "state",
                  error ? "failed" : "succeeded", "points", pts, "host", host[0] ? host : "local");
    if (!body)
        return cli_fail("upload", QC_ENOMEM, "out of memory");
    if (error)
        json_object_set_new(body, "error", json_string(error));
    if (started > 0)
        json_object_set_new(body, "started", json_real(started));
    if (finished > 0)
        json_object_set_new(body, "finished", json_real(finished));
    if (note)
        json_object_set_new(body, "note", json_string(note));
    if (ntags > 0) {
        json_t *t = json_array();
        for (int i = 0; i < ntags; i++)
            json_array_append_new(t, json_string(tags[i]));
        json_object_set_new(body, "tags", t);
    }
    struct cli_rest r = *rest;
    r.timeout_s = 0;
    rc = cli_rest_call(&r, "POST", "/api/v1/runs/import", body, &status, &out, &err);
    json_decref(body);
    if (rc < 0)
        return cli_fail_err("upload", NULL, &err);
    int64_t id = json_integer_value(json_object_get(json_object_get(out, "run"), "id"));
    bool created = json_is_true(json_object_get(out, "created"));
    json_decref(out);
    if (checkpoint_dir && checkpoint_dir[0] &&
        (rc = put_checkpoint(rest, id, checkpoint_dir, last_step, &err)) < 0)
        return cli_fail_err("upload", "checkpoint", &err);
    fprintf(stderr, "qlab: upload: run %lld %s on %s\n", (long long)id,
            created ? "recorded" : "was recorded already", rest->base);
    *id_out = (long long)id;
    return 0;
}

static const char usage[] =
    "usage: qlab upload [DIR] [--spec SPEC] [--metrics FILE] [--checkpoint-dir CDIR]\n"
    "                   [--tag T]... [--note TEXT] [--failed MESSAGE]\n\n"
    "Records a run trained here with qlab train (qlab train SPEC --metrics FILE\n"
    "--checkpoint-dir CDIR) on the server as a finished run: its spec, its metric\n"
    "points and its last checkpoint. DIR stands for --spec DIR/spec.json\n"
    "--metrics DIR/metrics.jsonl --checkpoint-dir DIR. The run's id goes to\n"
    "stdout. Uploading the same files again answers the same run.\n\n"
    "      --failed MESSAGE  record it as failed, with this error\n";

int cli_cmd_upload(int argc, char **argv)
{
    static const struct option opts[] = {{"spec", required_argument, NULL, 's'},
                                         {"metrics", required_argument, NULL, 'm'},
                                         {"checkpoint-dir", required_argument, NULL, 'd'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"note", required_argument, NULL, 'n'},
                                         {"failed", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    const char *spec_path = NULL, *metrics_path = NULL, *ckdir = NULL, *note = NULL, *failed = NULL;
    const char *tags[TAGS_MAX];
    int ntags = 0;
    char spec_buf[4200], metrics_buf[4200];
    int c, rc = cli_remote_begin("upload", usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            spec_path = optarg;
        } else if (c == 'm') {
            metrics_path = optarg;
        } else if (c == 'd') {
            ckdir = optarg;
        } else if (c == 't') {
            if (ntags == TAGS_MAX)
                return cli_fail("upload", QC_EINVAL, "at most %d tags", TAGS_MAX);
            tags[ntags++] = optarg;
        } else if (c == 'n') {
            note = optarg;
        } else if (c == 'f') {
            failed = optarg;
        } else {
            return cli_fail_opt("upload", c, argv);
        }
    }
    if (argc - optind > 1)
        return cli_fail("upload", QC_EINVAL, "expects at most one run directory");
    if (optind < argc) {
        const char *dir = argv[optind];
        if (strlen(dir) > 4000)
            return cli_fail("upload", QC_EINVAL, "directory path too long");
        snprintf(spec_buf, sizeof spec_buf, "%s/spec.json", dir);
        snprintf(metrics_buf, sizeof metrics_buf, "%s/metrics.jsonl", dir);
        if (!spec_path)
            spec_path = spec_buf;
        if (!metrics_path)
            metrics_path = metrics_buf;
        if (!ckdir)
            ckdir = dir;
    }
    if (!spec_path || !metrics_path)
        return cli_fail("upload", QC_EINVAL, "needs a run directory, or --spec and --metrics");

    /* The spec as the server will store it: parsed and written canonically. */
    struct qc_spec *spec = malloc(sizeof *spec);
    if (!spec)
        return cli_fail("upload", QC_ENOMEM, "out of memory");
    qc_err_clear(&err);
    if (qc_spec_load(spec, spec_path, &err)) {
        free(spec);
        return cli_fail_err("upload", spec_path, &err);
    }
    json_t *canon = qc_spec_to_json(spec);
    free(spec);
    char *spec_text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
    json_decref(canon);
    if (!spec_text)
        return cli_fail("upload", QC_ENOMEM, "out of memory");

    unsigned char *lines = NULL;
    size_t len = 0;
    struct stat sb;
    int fd = open(metrics_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        free(spec_text);
        return cli_fail("upload", QC_EIO, "--metrics: cannot read %s", metrics_path);
    }
    double finished = fstat(fd, &sb) == 0 ? (double)sb.st_mtime : 0;
    rc = cli_read_fd(&lines, &len, fd, metrics_path, METRICS_MAX, &err);
    close(fd);
    if (rc < 0) {
        free(spec_text);
        return cli_fail_err("upload", NULL, &err);
    }
    long long id = 0;
    rc = cli_upload_run(&id, &rest, spec_text, (const char *)lines, len, NULL, 0, ckdir, 0,
                        finished, failed, tags, ntags, note);
    if (rc == 0)
        printf("%lld\n", id);
    free(lines);
    free(spec_text);
    return rc;
}
