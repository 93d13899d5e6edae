/* `qlab metrics RUN`: a run's metric series from qlab-server, as a table of
 * steps (one column per metric), CSV, or the server's JSON. Several runs or
 * a sweep give one long CSV instead (cmd_export.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

static const char usage[] =
    "usage: qlab metrics RUN [--names A,B] [--max-points N] [--csv | --json]\n"
    "       qlab metrics RUN RUN... | --sweep ID [--names A,B] [-o FILE]\n\n"
    "Prints a run's metrics, one row per step and one column per metric.\n"
    "--max-points downsamples each series on the server (min and max per\n"
    "bucket kept). Several runs, or every run of a sweep, give one long CSV:\n"
    "run,name,step,value,time (every point, time in seconds since the epoch).\n";

/* Row-major merge of the series on their steps. */
static void print_rows(const json_t *series, bool csv)
{
    const char *name;
    json_t *s;
    size_t nser = json_object_size(series), *pos = calloc(nser ? nser : 1, sizeof *pos);
    if (!pos)
        return;
    printf(csv ? "step" : "%10s", "step");
    json_object_foreach((json_t *)series, name, s) printf(csv ? ",%s" : "  %14s", name);
    printf("\n");
    for (;;) {
        long long step = -1;
        size_t k = 0;
        json_object_foreach((json_t *)series, name, s)
        {
            json_t *steps = json_object_get(s, "step");
            if (pos[k] < json_array_size(steps)) {
                long long v = (long long)json_integer_value(json_array_get(steps, pos[k]));
                if (step < 0 || v < step)
                    step = v;
            }
            k++;
        }
        if (step < 0)
            break;
        printf(csv ? "%lld" : "%10lld", step);
        k = 0;
        json_object_foreach((json_t *)series, name, s)
        {
            json_t *steps = json_object_get(s, "step"), *vals = json_object_get(s, "value");
            char cell[40] = "";
            if (pos[k] < json_array_size(steps) &&
                json_integer_value(json_array_get(steps, pos[k])) == step) {
                json_t *v = json_array_get(vals, pos[k]);
                if (json_is_number(v))
                    cli_fmt_double(cell, sizeof cell, json_number_value(v));
                else
                    snprintf(cell, sizeof cell, csv ? "nan" : "nan");
                pos[k]++;
            }
            printf(csv ? ",%s" : "  %14s", cell);
            k++;
        }
        printf("\n");
    }
    free(pos);
}

int cli_cmd_metrics(int argc, char **argv)
{
    static const struct option opts[] = {
        {"names", required_argument, NULL, 'n'}, {"max-points", required_argument, NULL, 'm'},
        {"csv", no_argument, NULL, 'c'},         {"json", no_argument, NULL, 'j'},
        {"sweep", required_argument, NULL, 's'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    bool csv = false, as_json = false;
    const char *names = NULL, *out_path = NULL;
    int64_t max_points = 0;
    long long id, sweep = 0;
    int c, rc = cli_remote_begin("metrics", usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("metrics", optarg, &sweep)))
                return rc;
        } else if (c == 'o') {
            out_path = optarg;
        } else if (c == 'n') {
            names = optarg;
            if (!names[0] ||
                strspn(names, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./,") != strlen(names))
                return cli_fail("metrics", QC_EINVAL,
                                "--names takes metric names separated "
                                "by commas, got '%s'",
                                names);
        } else if (c == 'm') {
            if (!cli_parse_i64(optarg, 2, 1000000, &max_points))
                return cli_fail("metrics", QC_EINVAL, "--max-points wants 2..1000000, got '%s'",
                                optarg);
        } else if (c == 'c') {
            csv = true;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("metrics", c, argv);
        }
    }
    if (csv && as_json)
        return cli_fail("metrics", QC_EINVAL, "--csv and --json exclude each other");
    if (sweep || argc - optind > 1) {
        char runs[4096] = "";
        for (int i = optind; i < argc; i++) {
            size_t len = strlen(runs);
            if ((rc = cli_parse_id("metrics", argv[i], &id)))
                return rc;
            if (len + 24 > sizeof runs)
                return cli_fail("metrics", QC_EINVAL, "too many runs (use --sweep)");
            snprintf(runs + len, sizeof runs - len, "%s%lld", len ? "," : "", id);
        }
        if (as_json || max_points)
            return cli_fail("metrics", QC_EINVAL,
                            "several runs or --sweep give the long CSV only (no --json, "
                            "--max-points)");
        return cli_metrics_long(&rest, runs[0] ? runs : NULL, sweep, names, out_path);
    }
    if (out_path)
        return cli_fail("metrics", QC_EINVAL, "-o goes with several runs or --sweep");
    if (optind != argc - 1)
        return cli_fail("metrics", QC_EINVAL, "expects one run id");
    if ((rc = cli_parse_id("metrics", argv[optind], &id)))
        return rc;
    char path[512];
    int n = snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?max_points=%lld", id,
                     (long long)max_points);
    if (names)
        snprintf(path + n, sizeof path - (size_t)n, "&names=%.300s", names);
    json_t *out = NULL;
    long status;
    qc_err_clear(&err);
    if (cli_rest_call(&rest, "GET", path, NULL, &status, &out, &err) < 0)
        return cli_fail_err("metrics", NULL, &err);
    if (as_json)
        cli_print_json(out);
    else
        print_rows(json_object_get(out, "series"), csv);
    json_decref(out);
    return 0;
}
