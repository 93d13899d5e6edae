/* `qlab report SWEEP -o report.html`: one self-contained HTML page about a
 * sweep, for a paper's appendix or a colleague without access to the
 * server. The page is the dashboard's report template (web/report/) with
 * uPlot, the report's renderer and the sweep's data (runs with their specs
 * and summaries, downsampled loss-scale and counter series, the axes from
 * qc_sweep_axes, the software versions) written into it; the dashboard's
 * "HTML report" button fills the same template the same way. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"
#include "qcore/sweep.h"

static const char usage[] =
    "usage: qlab report SWEEP [-o FILE] [--web DIR]\n\n"
    "Writes one self-contained HTML page about sweep SWEEP: the results table,\n"
    "the grid of two swept parameters, accuracy against bits, the Pareto front\n"
    "of accuracy against hardware cost (once runs carry a cost), the loss scale\n"
    "and overflow/underflow/swamping rates of every run, each run's hottest\n"
    "layer, the sweep document and the software versions. The plots are drawn\n"
    "by uPlot, inlined with everything else: the page needs no network.\n\n"
    "  -o, --output FILE  where to write it (default sweep-SWEEP-report.html;\n"
    "                     - for stdout)\n"
    "      --web DIR      the dashboard's files (report/ and vendor/); default\n"
    "                     $QLAB_WEB, else found beside the qlab binary\n"
    "                     (PREFIX/share/qlab/web, or the source tree's web/)\n";

/* The metric series a report plots (web/js/report_link.js names the same). */
static const char series_names[] =
    "loss_scale,train_loss,val_acc,fwd_overflow_rate,fwd_underflow_rate,fwd_swamping_rate,"
    "bwd_overflow_rate,bwd_underflow_rate,bwd_swamping_rate,wgrad_overflow_rate,"
    "wgrad_underflow_rate,wgrad_swamping_rate";
#define SERIES_POINTS 300
#define FILE_LIMIT    ((size_t)16 << 20)

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A directory holding report/report.html and vendor/uPlot.iife.min.js. */
static bool web_ok(const char *dir)
{
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    snprintf(a, sizeof a, "%s/report/report.html", dir);
    snprintf(b, sizeof b, "%s/vendor/uPlot.iife.min.js", dir);
    return is_file(a) && is_file(b);
}

/* --web, $QLAB_WEB, then beside the binary: an installed tree
 * (PREFIX/bin/qlab -> PREFIX/share/qlab/web) or a build tree
 * (build/bin/qlab or build/asan/bin/qlab -> web/), then ./web. */
static int find_web(char *out, size_t len, const char *given)
{
    char exe[PATH_MAX];
    const char *env = getenv("QLAB_WEB");

    if (given) {
        snprintf(out, len, "%s", given);
        if (!web_ok(out))
            return cli_fail("report", QC_EINVAL,
                            "--web %s: no report/report.html and vendor/uPlot.iife.min.js there "
                            "(run make deps to fetch uPlot)",
                            given);
        return 0;
    }
    if (env && env[0]) {
        snprintf(out, len, "%s", env);
        if (web_ok(out))
            return 0;
    }
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* Installed, then a build tree (build/bin, build/asan/bin). */
            static const char *const rel[] = {"/../share/qlab/web", "/../web", "/../../web",
                                              "/../../../web"};
            for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
                snprintf(out, len, "%s%s", exe, rel[i]);
                if (web_ok(out))
                    return 0;
            }
        }
    }
    snprintf(out, len, "web");
    if (web_ok(out))
        return 0;
    return cli_fail("report", QC_ENOTFOUND,
                    "cannot find the dashboard's report files (report/report.html and "
                    "vendor/uPlot.iife.min.js): give --web DIR or set QLAB_WEB (in a source "
                    "tree, web/ after make deps)");
}

/* A whole file as a NUL-terminated string (caller frees). */
static int slurp(char **out, const char *dir, const char *name)
{
    char path[PATH_MAX + 64];
    unsigned char *buf = NULL;
    size_t len = 0;
    struct qc_err err;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail("report", QC_EIO, "%s: %s", path, strerror(errno));
    qc_err_clear(&err);
    int rc = cli_read_fd(&buf, &len, fileno(f), path, FILE_LIMIT, &err);
    fclose(f);
    if (rc)
        return cli_fail_err("report", NULL, &err);
    char *s = realloc(buf, len + 1);
    if (!s) {
        free(buf);
        return cli_fail("report", QC_ENOMEM, "out of memory");
    }
    s[len] = '\0';
    *out = s;
    return 0;
}

static int get_json(const struct cli_rest *rest, const char *path, json_t **out)
{
    struct qc_err err;
    long status;
    qc_err_clear(&err);
    if (cli_rest_call(rest, "GET", path, NULL, &status, out, &err) < 0)
        return cli_fail_err("report", NULL, &err);
    return 0;
}

/* Every run of the sweep with its spec, following the list's cursor. */
static int read_runs(const struct cli_rest *rest, long long sweep, json_t *runs)
{
    char path[512];
    const char *cursor = NULL;
    json_t *page = NULL;
    int rc = 0;

    do {
        snprintf(path, sizeof path, "/api/v1/runs?sweep=%lld&spec=1&limit=1000%s%.300s", sweep,
                 cursor ? "&cursor=" : "", cursor ? cursor : "");
        json_t *next = NULL;
        if ((rc = get_json(rest, path, &next)))
            break;
        json_decref(page);
        page = next;
        json_array_extend(runs, json_object_get(page, "runs"));
        cursor = json_string_value(json_object_get(page, "next_cursor"));
    } while (cursor && cursor[0]);
    json_decref(page);
    return rc;
}

static bool plotted(const char *name)
{
    size_t n = strlen(name);
    for (const char *p = series_names; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* Each run's plotted series, downsampled, steps and values only, and the
 * mean over the run of each per-layer counter (layers_*) for the table of
 * hottest layers. */
static int read_series(const struct cli_rest *rest, const json_t *runs, json_t *series,
                       json_t *layers)
{
    size_t i;
    const json_t *r;

    json_array_foreach(runs, i, r)
    {
        char path[128], key[32];
        long long id = (long long)json_integer_value(json_object_get(r, "id"));
        json_t *m = NULL, *keep = json_object(), *means = json_object();
        snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?max_points=%d", id, SERIES_POINTS);
        int rc = get_json(rest, path, &m);
        if (rc) {
            json_decref(keep);
            json_decref(means);
            return rc;
        }
        const char *name;
        json_t *one;
        json_object_foreach(json_object_get(m, "series"), name, one)
        {
            if (plotted(name)) {
                json_object_set_new(keep, name,
                                    json_pack("{s:O,s:O}", "step", json_object_get(one, "step"),
                                              "value", json_object_get(one, "value")));
            } else if (strncmp(name, "layers_", 7) == 0) {
                size_t k;
                json_t *v;
                double sum = 0;
                int n = 0;
                json_array_foreach(json_object_get(one, "value"), k, v)
                {
                    if (json_is_number(v)) {
                        sum += json_number_value(v);
                        n++;
                    }
                }
                if (n)
                    json_object_set_new(means, name, json_real(sum / n));
            }
        }
        snprintf(key, sizeof key, "%lld", id);
        json_object_set_new(series, key, keep);
        json_object_set_new(layers, key, means);
        json_decref(m);
    }
    return 0;
}

/* Appends `s` to `b` with "<" as \u003c: no string of the data can close
 * the <script> element it sits in. */
static void append_json_text(struct cli_buf *b, const char *s)
{
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "<");
        cli_buf_append(b, p, n);
        p += n;
        if (*p == '<') {
            cli_buf_append(b, "\\u003c", 6);
            p++;
        }
    }
}

static void append_html_text(struct cli_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            cli_buf_append(b, "&lt;", 4);
        else if (*s == '&')
            cli_buf_append(b, "&amp;", 5);
        else
            cli_buf_append(b, s, 1);
    }
}

/* The template with each marker replaced once, in the template's order. */
static int fill(struct cli_buf *b, const char *tpl, const char *title, const char *css,
                const char *uplot, const char *data, const char *script)
{
    static const char *const marks[] = {"<!--QLAB:TITLE-->", "/*QLAB:UPLOT_CSS*/",
                                        "/*QLAB:UPLOT_JS*/", "/*QLAB:DATA*/", "/*QLAB:REPORT_JS*/"};
    const char *p = tpl;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *at = strstr(p, marks[i]);
        if (!at)
            return cli_fail("report", QC_ECORRUPT,
                            "report template: no %s marker (or out of order)", marks[i]);
        cli_buf_append(b, p, (size_t)(at - p));
        switch (i) {
        case 0:
            append_html_text(b, title);
            break;
        case 1:
            cli_buf_append(b, css, strlen(css));
            break;
        case 2:
            cli_buf_append(b, uplot, strlen(uplot));
            break;
        case 3:
            append_json_text(b, data);
            break;
        default:
            cli_buf_append(b, script, strlen(script));
        }
        p = at + strlen(marks[i]);
    }
    cli_buf_append(b, p, strlen(p));
    return 0;
}

/* Writes `b` to `path` through a temporary file renamed into place. */
static int write_out(const struct cli_buf *b, const char *path)
{
    struct qc_err err;
    char tmp[PATH_MAX + 16];

    qc_err_clear(&err);
    if (strcmp(path, "-") == 0) {
        if (cli_write_all(STDOUT_FILENO, b->data, b->len, "stdout", &err))
            return cli_fail_err("report", NULL, &err);
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return cli_fail("report", QC_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cli_fail("report", QC_EIO, "%s: %s", path, strerror(e));
    }
    return 0;
}

int cli_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"web", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    const char *output = NULL, *web_given = NULL;
    char web[PATH_MAX], outname[64], title[300];
    char *tpl = NULL, *script = NULL, *uplot = NULL, *css = NULL, *vers = NULL, *text = NULL;
    json_t *sw = NULL, *runs = NULL, *series = NULL, *layers = NULL, *workers = NULL, *axes = NULL,
           *data = NULL;
    struct cli_buf out;
    struct qc_err err;
    long long id;
    int c, rc = cli_remote_begin("report", usage, &rest, &argc, argv);

    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        if (c == 'o')
            output = optarg;
        else if (c == 'w')
            web_given = optarg;
        else
            return cli_fail_opt("report", c, argv);
    }
    if (optind != argc - 1)
        return cli_fail("report", QC_EINVAL, "expects one sweep id");
    if ((rc = cli_parse_id("report", argv[optind], &id)))
        return rc;
    if ((rc = find_web(web, sizeof web, web_given)))
        return rc;
    cli_buf_init(&out);
    if ((rc = slurp(&tpl, web, "report/report.html")) ||
        (rc = slurp(&script, web, "report/report.js")) ||
        (rc = slurp(&uplot, web, "vendor/uPlot.iife.min.js")) ||
        (rc = slurp(&css, web, "vendor/uPlot.min.css")))
        goto out;
    char vpath[PATH_MAX + 32];
    snprintf(vpath, sizeof vpath, "%s/vendor/versions.json", web);
    if (is_file(vpath) && (rc = slurp(&vers, web, "vendor/versions.json")))
        goto out;

    char path[64];
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld", id);
    json_t *got = NULL;
    if ((rc = get_json(&rest, path, &got)))
        goto out;
    sw = json_incref(json_object_get(got, "sweep"));
    json_decref(got);
    runs = json_array();
    series = json_object();
    layers = json_object();
    if (!sw || !runs || !series || !layers) {
        rc = cli_fail("report", QC_EIO, "the server's answer has no sweep");
        goto out;
    }
    if ((rc = read_runs(&rest, id, runs)) || (rc = read_series(&rest, runs, series, layers)))
        goto out;
    if ((rc = get_json(&rest, "/api/v1/workers", &got)))
        goto out;
    workers = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(got, "workers"), i, w)
        json_array_append_new(workers, json_pack("{s:O?,s:O?}", "name", json_object_get(w, "name"),
                                                 "version", json_object_get(w, "version")));
    json_decref(got);
    /* The axes as the server expanded the sweep: typed axes ordered, bits. */
    qc_err_clear(&err);
    if (sw && qc_sweep_axes(&axes, json_object_get(sw, "sweep"), &err) != QC_OK) {
        rc = cli_fail_err("report", "the sweep document", &err);
        goto out;
    }
    json_t *vj = vers ? json_loads(vers, 0, NULL) : NULL;
    json_t *versions =
        json_pack("{s:s,s:O?}", "qlab", QLAB_VERSION, "uPlot", json_object_get(vj, "uplot"));
    json_decref(vj);
    char server[600];
    snprintf(server, sizeof server, "%s", rest.base);
    data = json_pack("{s:f,s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:o}", "generated", (double)time(NULL),
                     "generator", "qlab report " QLAB_VERSION, "server", server, "sweep", sw,
                     "axes", axes, "runs", runs, "series", series, "layers", layers, "workers",
                     workers, "versions", versions);
    text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    if (!text) {
        rc = cli_fail("report", QC_ENOMEM, "out of memory for the report's data");
        goto out;
    }
    snprintf(title, sizeof title, "%.200s — qlab report",
             json_string_value(json_object_get(sw, "name"))
                 ? json_string_value(json_object_get(sw, "name"))
                 : "sweep");
    if ((rc = fill(&out, tpl, title, css, uplot, text, script)))
        goto out;
    if (out.oom) {
        rc = cli_fail("report", QC_ENOMEM, "out of memory");
        goto out;
    }
    if (!output) {
        snprintf(outname, sizeof outname, "sweep-%lld-report.html", id);
        output = outname;
    }
    if ((rc = write_out(&out, output)))
        goto out;
    if (strcmp(output, "-") != 0)
        fprintf(stderr, "qlab: report: wrote %s (%zu runs, %zu KiB)\n", output,
                json_array_size(runs), (out.len + 1023) / 1024);
out:
    cli_buf_free(&out);
    free(tpl);
    free(script);
    free(uplot);
    free(css);
    free(vers);
    free(text);
    json_decref(data);
    json_decref(sw);
    json_decref(runs);
    json_decref(series);
    json_decref(layers);
    json_decref(workers);
    json_decref(axes);
    return rc;
}
