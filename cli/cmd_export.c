/* `qlab export SWEEP`: a sweep's results table (one row per run: its
 * fields, swept parameters, final and best metrics, cost, spec fields) as
 * the server writes it, CSV or JSON; and `qlab metrics` over several runs
 * or a whole sweep, one long CSV of (run, name, step, value, time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

/* Writes `b` to `path` ("-" or NULL: stdout). */
static int write_out(const char *cmd, const char *path, const struct cli_buf *b)
{
    struct qc_err err;
    qc_err_clear(&err);
    if (!path || strcmp(path, "-") == 0) {
        if (cli_write_all(1, b->data, b->len, "stdout", &err) < 0)
            return cli_fail_err(cmd, NULL, &err);
        return 0;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return cli_fail(cmd, QC_EIO, "-o: cannot write %s", path);
    bool ok = fwrite(b->data ? b->data : "", 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        return cli_fail(cmd, QC_EIO, "-o: cannot write %s", path);
    return 0;
}

static const char export_usage[] =
    "usage: qlab export SWEEP [--csv | --json] [-o FILE]\n\n"
    "Writes a sweep's results, one row per run: id, name, state, worker, timings,\n"
    "the swept parameters, metric.NAME (final value) and best.NAME (best value of\n"
    "val_* metrics) for every metric, cost.* when the run has a cost, then every\n"
    "spec field by its dotted path. CSV by default (the same bytes as GET\n"
    "/api/v1/sweeps/ID/results?format=csv); --json gives {\"columns\", \"rows\"}.\n\n"
    "  -o, --output FILE   write there instead of stdout\n";

int cli_cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"csv", no_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    bool csv = false, json = false;
    const char *out_path = NULL;
    long long id;
    int c, rc = cli_remote_begin("export", export_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        if (c == 'c')
            csv = true;
        else if (c == 'j')
            json = true;
        else if (c == 'o')
            out_path = optarg;
        else
            return cli_fail_opt("export", c, argv);
    }
    if (csv && json)
        return cli_fail("export", QC_EINVAL, "--csv and --json exclude each other");
    if (optind != argc - 1)
        return cli_fail("export", QC_EINVAL, "expects one sweep id");
    if ((rc = cli_parse_id("export", argv[optind], &id)))
        return rc;
    char path[96];
    snprintf(path, sizeof path, "/api/v1/sweeps/%lld/results?format=%s", id, json ? "json" : "csv");
    struct cli_buf b;
    long status;
    cli_buf_init(&b);
    qc_err_clear(&err);
    rest.timeout_s = 0; /* a large sweep's table takes what it takes */
    if (cli_rest_raw(&rest, "GET", path, NULL, 0, NULL, NULL, &status, &b, &err) < 0) {
        cli_buf_free(&b);
        return cli_fail_err("export", NULL, &err);
    }
    if (json) { /* indented, like every --json */
        json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        char *t = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        b.len = 0;
        if (t)
            cli_buf_printf(&b, "%s\n", t);
        free(t);
        if (!t || b.oom) {
            cli_buf_free(&b);
            return cli_fail("export", QC_EIO, "the server's answer is not JSON");
        }
    }
    rc = write_out("export", out_path, &b);
    cli_buf_free(&b);
    return rc;
}

int cli_metrics_long(const struct cli_rest *rest, const char *runs, long long sweep,
                     const char *names, const char *out_path)
{
    struct cli_buf path, b;
    struct qc_err err;
    long status;
    int rc;
    cli_buf_init(&path);
    cli_buf_init(&b);
    cli_buf_printf(&path, "/api/v1/metrics?format=csv");
    if (runs)
        cli_buf_printf(&path, "&runs=%s", runs);
    if (sweep)
        cli_buf_printf(&path, "&sweep=%lld", sweep);
    if (names)
        cli_buf_printf(&path, "&names=%s", names);
    qc_err_clear(&err);
    struct cli_rest r = *rest;
    r.timeout_s = 0;
    if (path.oom)
        rc = cli_fail("metrics", QC_ENOMEM, "out of memory");
    else if (cli_rest_raw(&r, "GET", path.data, NULL, 0, NULL, NULL, &status, &b, &err) < 0)
        rc = cli_fail_err("metrics", NULL, &err);
    else
        rc = write_out("metrics", out_path, &b);
    cli_buf_free(&path);
    cli_buf_free(&b);
    return rc;
}
