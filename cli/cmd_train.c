/* `qlab train` and `qlab validate`: run an experiment spec on this machine,
 * or check one without running it. Training writes its metrics as JSON
 * lines (--metrics FILE, or stdout unless stdout is a terminal) and its
 * progress on stderr: one line kept current on a terminal, a line per
 * metric line otherwise, both read from the very metric lines it writes. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_rest.h"
#include "cli_util.h"
#include "qcore/data.h"
#include "qcore/spec.h"
#include "qcore/sweep.h"
#include "qcore/train.h"

#define THREADS_MAX 4096

static const char train_usage[] =
    "usage: qlab train SPEC.json [OPTION...]\n\n"
    "Trains the experiment SPEC.json describes (docs/spec.md) with every MAC\n"
    "emulated. Metrics are JSON lines (docs/training.md) on stdout, or in FILE;\n"
    "on a terminal stdout gets none (use --metrics or a pipe). Progress goes to\n"
    "stderr: on a terminal one line kept current (step/total, epoch, loss,\n"
    "accuracy, images/s, ETA) and a line per epoch, else one line per metric line.\n\n"
    "      --metrics FILE       write the metric lines to FILE instead of stdout\n"
    "      --checkpoint-dir DIR checkpoint there every --checkpoint-every steps and\n"
    "                           at every epoch end\n"
    "      --checkpoint-every N steps between checkpoints (default: epoch ends only)\n"
    "      --resume             continue from DIR's checkpoint when there is one\n"
    "      --max-steps N        stop after N optimizer steps in total (exit 0)\n"
    "      --upload             record the run on qlab-server when it ends (qlab upload;\n"
    "                           --server, --token, QLAB_SERVER, QLAB_TOKEN), --tag T each\n"
    "  -t, --threads T          CPU threads, 0 = all cores (default 0)\n"
    "  -q, --quiet              no progress on stderr\n";

static const char validate_usage[] =
    "usage: qlab validate FILE.json [--json] [--remote [--server URL] [--token T]]\n\n"
    "Checks an experiment spec or a sweep without running it: the schema, every\n"
    "format string, the MAC configurations, and that the model builds for the\n"
    "dataset's shape with every per-layer override naming one of its layers. A\n"
    "sweep (a document with \"base\") is expanded (docs/sweeps.md) and every run's\n"
    "spec is checked so. With --json, prints the canonical spec (every default\n"
    "filled in), or for a sweep {\"runs\", \"axes\", \"specs\"}. Every error is\n"
    "reported, one line each, each with its JSON pointer. --remote then asks the\n"
    "server (POST /experiments/validate or /sweeps/validate) and prints its\n"
    "errors and its warnings about the workers registered there (no worker has\n"
    "the device kind or the dataset); warnings leave the exit status 0.\n";

/* The spec, its canonical text, and the training configuration. */
struct loaded {
    struct qc_spec spec;
    char *canonical;
    struct qc_train_cfg cfg;
};

/* Fills `l` from the spec document `doc` (borrowed) or, when NULL, from the
 * file `path`. */
static int load_from(struct loaded *l, const char *cmd, const char *path, const json_t *doc)
{
    struct qc_err err;
    int rc;

    qc_err_clear(&err);
    rc = doc ? qc_spec_from_json(&l->spec, doc, &err) : qc_spec_load(&l->spec, path, &err);
    if (rc)
        return cli_fail_err(cmd, path, &err);
    json_t *j = qc_spec_to_json(&l->spec);
    l->canonical = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!l->canonical)
        return cli_fail(cmd, QC_ENOMEM, "out of memory");
    if ((rc = qc_train_cfg_from_spec(&l->cfg, &l->spec, l->canonical, strlen(l->canonical), &err)))
        return cli_fail_err(cmd, path, &err);
    return 0;
}

static int load(struct loaded *l, const char *cmd, const char *path)
{
    return load_from(l, cmd, path, NULL);
}

/* The model must build for the dataset's shape, and overrides must name
 * its GEMM layers: checked without loading any data. */
static int check_model(const struct loaded *l, const char *cmd, const char *path)
{
    const char *want = l->cfg.dataset;
    const struct qc_dataset_info *info = NULL;
    struct qc_backend *be = NULL;
    struct qc_net net;
    struct qc_err err;
    int rc = 0;

    for (int i = 0; qc_dataset_info_at(i); i++)
        if (strcmp(qc_dataset_info_at(i)->name, want) == 0)
            info = qc_dataset_info_at(i);
    if (!info)
        return 0; /* unknown shape (synthetic options): the run checks it */
    qc_err_clear(&err);
    if (qc_backend_create(&be, "cpu", NULL, &err))
        return cli_fail_err(cmd, NULL, &err);
    if (qc_model_build(&net, &l->cfg.model, info->c, info->h, info->w, info->classes, 1, be,
                       &err) ||
        qc_spec_check_layers(&l->spec, &net, &err))
        rc = cli_fail_err(cmd, path, &err);
    if (net.n > 0)
        qc_net_free(&net);
    qc_backend_destroy(be);
    return rc;
}

/* Every error of document `doc` at once (qc_spec_check_all or, for a sweep,
 * qc_sweep_check_all), one line each; the exit code of the first. */
static int fail_all(const json_t *doc, bool sweep, const char *path)
{
    struct qc_err first, e;
    json_t *errors = NULL;
    size_t i;
    const json_t *x;

    int rc = sweep ? qc_sweep_check_all(&errors, doc, QC_SWEEP_DEFAULT_CAP, 64, &first)
                   : qc_spec_check_all(&errors, doc, 64, &first);
    if (rc == QC_OK || json_array_size(errors) == 0) {
        json_decref(errors);
        return rc == QC_OK ? 0 : cli_fail_err("validate", path, &first);
    }
    rc = 0;
    json_array_foreach(errors, i, x)
    {
        qc_err_clear(&e);
        e.code = i == 0 ? first.code : QC_EINVAL;
        snprintf(e.field, sizeof e.field, "%s", json_string_value(json_object_get(x, "field")));
        snprintf(e.msg, sizeof e.msg, "%s", json_string_value(json_object_get(x, "message")));
        int r = cli_fail_err("validate", path, &e);
        if (i == 0)
            rc = r;
    }
    json_decref(errors);
    return rc;
}

/* A sweep: expanded, then every run's spec loaded and its model built. */
static int validate_sweep(const json_t *doc, const char *path, bool json)
{
    struct qc_sweep_info info;
    struct qc_err err;
    json_t *specs = NULL, *axes = NULL;
    struct loaded *l = NULL;
    int rc;

    qc_err_clear(&err);
    if ((rc = qc_sweep_expand(&specs, &info, doc, QC_SWEEP_DEFAULT_CAP, &err))) {
        rc = fail_all(doc, true, path);
        goto out;
    }
    if ((rc = qc_sweep_axes(&axes, doc, &err))) {
        rc = cli_fail_err("validate", path, &err);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(specs); i++) {
        char what[1200];
        const json_t *spec = json_array_get(specs, i);
        snprintf(what, sizeof what, "%s: run %zu (%s)", path, i,
                 json_string_value(json_object_get(spec, "name")));
        free(l ? l->canonical : NULL);
        free(l);
        if (!(l = calloc(1, sizeof *l))) {
            rc = cli_fail("validate", QC_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = load_from(l, "validate", what, spec)) || (rc = check_model(l, "validate", what)))
            goto out;
    }
    if (json) {
        json_t *o = json_pack("{s:I, s:O, s:O}", "runs", (json_int_t)info.runs, "axes", axes,
                              "specs", specs);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!text) {
            rc = cli_fail("validate", QC_ENOMEM, "out of memory");
            goto out;
        }
        printf("%s\n", text);
        free(text);
    } else {
        fprintf(stderr, "%s: valid sweep of %lld runs\n", path, (long long)info.runs);
    }
out:
    if (l)
        free(l->canonical);
    free(l);
    json_decref(axes);
    json_decref(specs);
    return rc;
}

/* The checks made here, with the core code the server runs. */
static int validate_local(const char *path, bool json)
{
    int rc;
    /* A document with "base" is a sweep, as for qlab submit; anything else
     * (unreadable files included) goes to the spec loader and its errors. */
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (doc && json_is_object(doc) && json_object_get(doc, "base")) {
        rc = validate_sweep(doc, path, json);
        json_decref(doc);
        return rc;
    }
    if (doc) {
        /* A JSON document: every error of the spec at once. */
        struct qc_spec *spec = malloc(sizeof *spec);
        struct qc_err err;
        rc = spec ? qc_spec_from_json(spec, doc, &err) : QC_ENOMEM;
        free(spec);
        if (rc) {
            rc = fail_all(doc, false, path);
            json_decref(doc);
            return rc;
        }
    }
    json_decref(doc);
    struct loaded *l = calloc(1, sizeof *l);
    if (!l)
        return cli_fail("validate", QC_ENOMEM, "out of memory");
    if (!(rc = load(l, "validate", path)) && !(rc = check_model(l, "validate", path))) {
        if (json)
            printf("%s\n", l->canonical);
        else
            fprintf(stderr, "%s: valid\n", path);
    }
    free(l->canonical);
    free(l);
    return rc;
}

/* --remote: the server's verdict on `path` (already valid here) and its
 * warnings about the workers it has; 2 when it finds errors. */
static int validate_remote(const struct cli_rest *rest, const char *path)
{
    struct qc_err err;
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *out = NULL, *e;
    long status;
    size_t i;
    int rc;

    if (!doc)
        return cli_fail("validate", QC_EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    qc_err_clear(&err);
    rc = cli_rest_call(rest, "POST",
                       json_object_get(doc, "base") ? "/api/v1/sweeps/validate"
                                                    : "/api/v1/experiments/validate",
                       doc, &status, &out, &err);
    json_decref(doc);
    if (rc < 0)
        return cli_fail_err("validate", NULL, &err);
    json_array_foreach(json_object_get(out, "errors"), i, e)
    {
        fprintf(stderr, "qlab: validate: %s: %s: %s (the server)\n", path,
                json_string_value(json_object_get(e, "field")),
                json_string_value(json_object_get(e, "message")));
    }
    json_array_foreach(json_object_get(out, "warnings"), i, e)
    {
        fprintf(stderr, "qlab: validate: warning: %s\n",
                json_string_value(json_object_get(e, "message")));
    }
    rc = json_is_true(json_object_get(out, "valid")) ? 0 : 2;
    if (rc == 0)
        fprintf(stderr, "%s: valid on the server too\n", path);
    json_decref(out);
    return rc;
}

int cli_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"remote", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    bool json = false, remote = false;
    int c, rc;

    if (cli_wants_help(argc, argv)) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s", validate_usage, cli_rest_opts_help);
        return cli_print_help(text);
    }
    cli_rest_init(&rest);
    if (cli_rest_take_opts(&rest, &argc, argv, &err) < 0)
        return cli_fail_err("validate", NULL, &err);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'r')
            remote = true;
        else
            return cli_fail_opt("validate", c, argv);
    }
    if (optind != argc - 1)
        return cli_fail("validate", QC_EINVAL, "expects one spec or sweep file");
    rc = validate_local(argv[optind], json);
    return rc == 0 && remote ? validate_remote(&rest, argv[optind]) : rc;
}

struct host {
    FILE *metrics;  /* NULL: the lines are not written (stdout is a terminal) */
    bool quiet;     /* no progress at all */
    bool tty;       /* stderr is a terminal: one line, rewritten */
    bool line_open; /* a progress line is on screen without its newline */
    bool failed;
    int64_t epochs;
    double t0; /* when the first step line came, and its step */
    int64_t step0;
    struct cli_buf *upload; /* the metric lines, kept for --upload */
    double *times;          /* and when each was written */
    size_t ntimes, cap_times;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* "1h 02m", "3m 04s", "12s". */
static void fmt_duration(char *out, size_t len, double s)
{
    long v = s < 0 ? 0 : (long)(s + 0.5);
    if (v >= 3600)
        snprintf(out, len, "%ldh %02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60)
        snprintf(out, len, "%ldm %02lds", v / 60, v % 60);
    else
        snprintf(out, len, "%lds", v);
}

static double num(const json_t *o, const char *k, double dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Prints one progress line: rewritten in place on a terminal. */
static void say(struct host *h, const char *text, bool keep)
{
    if (h->tty) {
        fprintf(stderr, "\r\033[K%s%s", text, keep ? "\n" : "");
        h->line_open = !keep;
    } else {
        fprintf(stderr, "%s\n", text);
    }
    fflush(stderr);
}

/* The progress of a metric line, from the same figures the line holds. */
static void progress(struct host *h, const char *line)
{
    char text[400], pct[32], eta[96] = "", ips[48] = "", tail[64];
    json_t *j = json_loads(line, 0, NULL);
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const double step = num(j, "step", 0), epoch = num(j, "epoch", 0);

    if (!j || !kind) {
        json_decref(j);
        return;
    }
    if (strcmp(kind, "epoch") == 0) {
        snprintf(text, sizeof text,
                 "epoch %lld/%lld done: train loss %.4g, accuracy %.2f%%; val loss %.4g, "
                 "accuracy %.2f%%",
                 (long long)epoch + 1, (long long)h->epochs, num(j, "train_loss", NAN),
                 100 * num(j, "train_acc", NAN), num(j, "val_loss", NAN),
                 100 * num(j, "val_acc", NAN));
        say(h, text, true);
    } else if (strcmp(kind, "step") == 0) {
        const double total = num(j, "total_steps", 0), t = now_s();
        if (h->t0 == 0) {
            h->t0 = t;
            h->step0 = (int64_t)step;
        } else if (step > (double)h->step0 && total > step) {
            fmt_duration(tail, sizeof tail,
                         (total - step) * (t - h->t0) / (step - (double)h->step0));
            snprintf(eta, sizeof eta, ", ETA %s", tail);
        }
        snprintf(pct, sizeof pct, total > 0 ? " (%.1f%%)" : "",
                 100 * step / (total > 0 ? total : 1));
        if (json_is_number(json_object_get(j, "images_per_s")))
            snprintf(ips, sizeof ips, ", %.0f img/s", num(j, "images_per_s", 0));
        snprintf(text, sizeof text, "step %lld/%lld%s, epoch %lld/%lld, loss %.4g, acc %.2f%%%s%s",
                 (long long)step, (long long)total, pct, (long long)epoch + 1, (long long)h->epochs,
                 num(j, "train_loss", NAN), 100 * num(j, "train_acc", NAN), ips, eta);
        say(h, text, false);
    }
    json_decref(j);
}

static int on_metric(void *ctx, const char *line)
{
    struct host *h = ctx;
    if (h->metrics && (fprintf(h->metrics, "%s\n", line) < 0 || fflush(h->metrics) != 0)) {
        h->failed = true;
        return 1;
    }
    if (h->upload) {
        cli_buf_printf(h->upload, "%s\n", line);
        if (h->ntimes == h->cap_times) {
            size_t cap = h->cap_times ? 2 * h->cap_times : 256;
            double *t = realloc(h->times, cap * sizeof *t);
            if (!t) {
                h->upload->oom = true;
                return 0;
            }
            h->times = t;
            h->cap_times = cap;
        }
        h->times[h->ntimes++] = cli_wall_time();
    }
    if (!h->quiet)
        progress(h, line);
    return 0;
}

int cli_cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"metrics", required_argument, NULL, 'm'},
        {"checkpoint-dir", required_argument, NULL, 'd'},
        {"checkpoint-every", required_argument, NULL, 'e'},
        {"resume", no_argument, NULL, 'r'},
        {"max-steps", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"upload", no_argument, NULL, 'U'},
        {"tag", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct qc_train_opts to;
    struct host host = {.metrics = stdout};
    const char *metrics_path = NULL, *tags[32];
    int64_t v, threads = 0;
    int c, rc, ntags = 0;
    struct cli_rest rest;
    struct cli_buf lines;
    bool upload = false;

    if (cli_wants_help(argc, argv))
        return cli_print_help(train_usage);
    cli_buf_init(&lines);
    cli_rest_init(&rest);
    struct qc_err rerr;
    if (cli_rest_take_opts(&rest, &argc, argv, &rerr) < 0)
        return cli_fail_err("train", NULL, &rerr);
    memset(&to, 0, sizeof to);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            metrics_path = optarg;
            break;
        case 'd':
            if (strlen(optarg) >= sizeof to.checkpoint_dir)
                return cli_fail("train", QC_EINVAL, "--checkpoint-dir: path too long");
            snprintf(to.checkpoint_dir, sizeof to.checkpoint_dir, "%s", optarg);
            break;
        case 'e':
        case 's':
            if (!cli_parse_i64(optarg, 1, INT64_C(1) << 40, &v))
                return cli_fail("train", QC_EINVAL, "--%s: '%s' is not a positive count",
                                c == 'e' ? "checkpoint-every" : "max-steps", optarg);
            if (c == 'e')
                to.checkpoint_every = v;
            else
                to.max_steps = v;
            break;
        case 'r':
            to.resume = true;
            break;
        case 't':
            if (!cli_parse_i64(optarg, 0, THREADS_MAX, &threads))
                return cli_fail("train", QC_EINVAL, "--threads: '%s' is not 0..%d", optarg,
                                THREADS_MAX);
            break;
        case 'q':
            host.quiet = true;
            break;
        case 'U':
            upload = true;
            break;
        case 'T':
            if (ntags == 32)
                return cli_fail("train", QC_EINVAL, "at most 32 tags");
            tags[ntags++] = optarg;
            break;
        default:
            return cli_fail_opt("train", c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_fail("train", QC_EINVAL, "expects one spec file");
    if (to.resume && !to.checkpoint_dir[0])
        return cli_fail("train", QC_EINVAL, "--resume needs --checkpoint-dir");

    struct loaded *l = calloc(1, sizeof *l);
    if (!l)
        return cli_fail("train", QC_ENOMEM, "out of memory");
    if ((rc = load(l, "train", argv[optind])))
        goto out;
    l->cfg.threads = (int)threads;
    if (metrics_path && !(host.metrics = fopen(metrics_path, to.resume ? "a" : "w"))) {
        rc = cli_fail("train", QC_EIO, "--metrics: cannot open %s", metrics_path);
        goto out;
    }
    host.tty = isatty(STDERR_FILENO);
    host.epochs = l->cfg.epochs;
    if (!metrics_path && isatty(STDOUT_FILENO)) {
        host.metrics = NULL;
        if (!host.quiet)
            fprintf(stderr, "qlab: train: metric lines are not written to a terminal; "
                            "--metrics FILE (or a pipe) keeps them\n");
    }
    struct qc_train_hooks hooks = {.ctx = &host, .metric = on_metric};
    struct qc_err err;
    qc_err_clear(&err);
    host.upload = upload ? &lines : NULL;
    double t0 = cli_wall_time();
    int trc = qc_train_run(&l->cfg, &to, &hooks, NULL, &err);
    double t1 = cli_wall_time();
    bool ok = trc == 0 || (trc == QC_ECONFLICT && to.max_steps > 0);
    if (host.line_open)
        fputc('\n', stderr);
    if (host.failed)
        rc = cli_fail("train", QC_EIO, "cannot write the metrics");
    else if (trc == QC_ECONFLICT && to.max_steps > 0)
        rc = 0; /* stopped at --max-steps, as asked */
    else if (trc)
        rc = cli_fail_err("train", argv[optind], &err);
    if (upload && !host.failed) { /* cmd_upload.c; a failed run is recorded as failed */
        long long id;
        int urc = lines.oom ? cli_fail("train", QC_ENOMEM, "out of memory for --upload")
                            : cli_upload_run(&id, &rest, l->canonical, lines.data ? lines.data : "",
                                             lines.len, host.times, host.ntimes, to.checkpoint_dir,
                                             t0, t1, ok ? NULL : err.msg, tags, ntags, NULL);
        rc = rc ? rc : urc;
    }
out:
    cli_buf_free(&lines);
    free(host.times);
    if (host.metrics && host.metrics != stdout)
        fclose(host.metrics);
    free(l->canonical);
    free(l);
    return rc;
}
