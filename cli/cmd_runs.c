/* `qlab runs`, `qlab show`, `qlab cancel`, `qlab workers`: the run queue and
 * the machines, read from qlab-server and printed as tables (or --json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

static int call_print(const char *cmd, const struct cli_rest *rest, const char *method,
                      const char *path, json_t **out)
{
    struct qc_err err;
    long status;
    qc_err_clear(&err);
    if (cli_rest_call(rest, method, path, NULL, &status, out, &err) < 0)
        return cli_fail_err(cmd, NULL, &err);
    return 0;
}

/* A run's LUTs (the sum over its three MAC units), else its cost status
 * ("pending", "unsupported", ...), else "-" (no cost model on the server). */
static void cost_cell(char *out, size_t n, const json_t *cost)
{
    const json_t *lut = json_object_get(cost, "lut");
    const char *status = json_string_value(json_object_get(cost, "status"));
    if (json_is_integer(lut))
        snprintf(out, n, "%lld", (long long)json_integer_value(lut));
    else
        snprintf(out, n, "%s", status ? status : "-");
}

static const char runs_usage[] =
    "usage: qlab runs [--sweep ID] [--state S[,S...]] [--filter F] [--order-by [-]FIELD]\n"
    "                 [--limit N] [--wide] [--json]\n\n"
    "Lists runs, oldest first: id, state, attempt, worker, validation accuracy,\n"
    "training loss, LUTs of the run's three MAC units (docs/cost.md), name.\n"
    "Lines fit 100 columns, long names cut short with '...'; --wide prints\n"
    "them whole. --filter takes conditions joined with 'and' over run columns,\n"
    "tag, metric.NAME, best.NAME, cost.NAME and spec fields by dotted path\n"
    "(docs/api.md, \"Filters\"):\n"
    "  --filter 'arith.forward.mac.acc = \"e6m5\" and metric.val_acc > 0.8'\n"
    "--order-by sorts on any of them, '-' first for descending. --json gives\n"
    "the runs with their specs.\n";

#define TABLE_COLS 100

int cli_cmd_runs(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"state", required_argument, NULL, 't'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"filter", required_argument, NULL, 'f'},
                                         {"order-by", required_argument, NULL, 'o'},
                                         {"wide", no_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    char path[8192] = "/api/v1/runs?limit=";
    const char *state = NULL, *filter = NULL, *order = NULL;
    long long sweep = 0;
    int64_t limit = 100;
    bool as_json = false, wide = false, cut = false;
    int c, rc = cli_remote_begin("runs", runs_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("runs", optarg, &sweep)))
                return rc;
        } else if (c == 't') {
            state = optarg;
            if (strspn(state, "abcdefghijklmnopqrstuvwxyz,") != strlen(state))
                return cli_fail("runs", QC_EINVAL, "--state takes state names, got '%s'", state);
        } else if (c == 'l') {
            if (!cli_parse_i64(optarg, 1, 1000, &limit))
                return cli_fail("runs", QC_EINVAL, "--limit wants 1..1000, got '%s'", optarg);
        } else if (c == 'j') {
            as_json = true;
        } else if (c == 'w') {
            wide = true;
        } else if (c == 'f') {
            filter = optarg;
        } else if (c == 'o') {
            order = optarg;
        } else {
            return cli_fail_opt("runs", c, argv);
        }
    }
    if (optind != argc)
        return cli_fail("runs", QC_EINVAL, "unexpected argument '%s'", argv[optind]);
    if ((filter && strlen(filter) > 2000) || (order && strlen(order) > 150))
        return cli_fail("runs", QC_EINVAL, "--filter or --order-by is too long");
    size_t n = strlen(path);
    n += (size_t)snprintf(path + n, sizeof path - n, "%lld", (long long)limit);
    if (sweep)
        n += (size_t)snprintf(path + n, sizeof path - n, "&sweep=%lld", sweep);
    if (state)
        n += (size_t)snprintf(path + n, sizeof path - n, "&state=%.100s", state);
    if (as_json)
        n += (size_t)snprintf(path + n, sizeof path - n, "&spec=1");
    const char *keys[] = {"filter", "order_by"}, *vals[] = {filter, order};
    for (int i = 0; i < 2; i++) {
        char *e = vals[i] ? cli_rest_escape(vals[i]) : NULL;
        if (vals[i] && !e)
            return cli_fail("runs", QC_ENOMEM, "out of memory");
        if (e)
            n += (size_t)snprintf(path + n, sizeof path - n, "&%s=%s", keys[i], e);
        free(e);
    }
    json_t *out = NULL;
    if ((rc = call_print("runs", &rest, "GET", path, &out)))
        return rc;
    if (as_json) {
        cli_print_json(out);
    } else {
        size_t i;
        json_t *r;
        printf("%6s  %-9s  %3s  %6s  %8s  %9s  %8s  %s\n", "ID", "STATE", "ATT", "WORKER",
               "VAL_ACC", "LOSS", "LUT", "NAME");
        json_array_foreach(json_object_get(out, "runs"), i, r)
        {
            char wk[32], acc[32], loss[32], lut[32];
            json_t *sum = json_object_get(r, "summary");
            cli_cell(wk, sizeof wk, json_object_get(r, "worker"));
            cli_cell(acc, sizeof acc, json_object_get(sum, "val_acc"));
            cli_cell(loss, sizeof loss, json_object_get(sum, "train_loss"));
            cost_cell(lut, sizeof lut, json_object_get(r, "cost"));
            char name[1024];
            int lead = printf("%6lld  %-9s  %3lld  %6s  %8s  %9s  %8s  ",
                              (long long)json_integer_value(json_object_get(r, "id")),
                              json_string_value(json_object_get(r, "state")),
                              (long long)json_integer_value(json_object_get(r, "attempt")), wk, acc,
                              loss, lut);
            snprintf(name, sizeof name, "%s", json_string_value(json_object_get(r, "name")));
            size_t room = lead < TABLE_COLS - 4 ? (size_t)(TABLE_COLS - lead) : 4;
            if (!wide && strlen(name) > room) {
                snprintf(name + room - 3, 4, "...");
                cut = true;
            }
            printf("%s\n", name);
        }
        if (!json_is_null(json_object_get(out, "next_cursor")))
            printf("(more: raise --limit or filter)\n");
        if (cut)
            printf("(names cut to fit %d columns: --wide prints them whole)\n", TABLE_COLS);
    }
    json_decref(out);
    return 0;
}

/* The cost block of `qlab show`: the sums, then each GEMM group's MAC. */
static void print_cost(const json_t *cost)
{
    const char *g;
    json_t *e;

    if (!json_is_object(cost)) {
        printf("cost              - (the server has no hardware cost model)\n");
        return;
    }
    const char *status = json_string_value(json_object_get(cost, "status"));
    if (json_is_integer(json_object_get(cost, "lut"))) {
        char cal[32] = "-";
        if (json_is_integer(json_object_get(cost, "lut_calibrated")))
            snprintf(cal, sizeof cal, "%lld",
                     (long long)json_integer_value(json_object_get(cost, "lut_calibrated")));
        printf("cost              %lld LUT, %lld FF, %lld DSP, %lld gates, %s LUT calibrated "
               "(the three MAC units)\n",
               (long long)json_integer_value(json_object_get(cost, "lut")),
               (long long)json_integer_value(json_object_get(cost, "ff")),
               (long long)json_integer_value(json_object_get(cost, "dsp")),
               (long long)json_integer_value(json_object_get(cost, "gates")), cal);
    } else {
        printf("cost              %s\n", status ? status : "-");
    }
    const char *tool = json_string_value(json_object_get(cost, "tool"));
    if (tool)
        printf("cost_tool         %s\n", tool);
    /* Each group's figures or why it has none, then its MAC on a line of
     * its own (a whole MAC string is about 100 characters). */
    json_object_foreach(json_object_get(cost, "groups"), g, e)
    {
        const char *why = json_string_value(json_object_get(e, "error"));
        if (!why)
            why = json_string_value(json_object_get(e, "pending"));
        if (why)
            printf("  %-12s %s\n", g, why);
        else
            printf("  %-12s %6lld LUT %5lld FF %3lld DSP %7lld gates\n", g,
                   (long long)json_integer_value(json_object_get(e, "lut")),
                   (long long)json_integer_value(json_object_get(e, "ff")),
                   (long long)json_integer_value(json_object_get(e, "dsp")),
                   (long long)json_integer_value(json_object_get(e, "gates")));
        printf("    %s\n", json_string_value(json_object_get(e, "mac")));
    }
}

static const char show_usage[] =
    "usage: qlab show RUN [--json]\n\n"
    "Shows one run: state, attempts and leases, summary metrics, hardware cost,\n"
    "errors, spec.\n";

int cli_cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    bool as_json = false;
    long long id;
    int c, rc = cli_remote_begin("show", show_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else
            return cli_fail_opt("show", c, argv);
    }
    if (optind != argc - 1)
        return cli_fail("show", QC_EINVAL, "expects one run id");
    if ((rc = cli_parse_id("show", argv[optind], &id)))
        return rc;
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", id);
    json_t *out = NULL;
    if ((rc = call_print("show", &rest, "GET", path, &out)))
        return rc;
    json_t *r = json_object_get(out, "run");
    if (as_json) {
        cli_print_json(r);
        json_decref(out);
        return 0;
    }
    static const char *const fields[] = {
        "name",    "state",   "sweep",    "attempt",          "max_attempts",   "worker", "device",
        "created", "started", "finished", "cancel_requested", "stop_requested", "error"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char cell[512];
        json_t *v = json_object_get(r, fields[i]);
        cli_cell(cell, sizeof cell, v);
        bool is_time = strcmp(fields[i], "created") == 0 || strcmp(fields[i], "started") == 0 ||
                       strcmp(fields[i], "finished") == 0;
        if (is_time && json_is_real(v)) {
            time_t t = (time_t)json_real_value(v);
            struct tm tm;
            strftime(cell, sizeof cell, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
        }
        printf("%-17s %s\n", fields[i], cell);
    }
    print_cost(json_object_get(r, "cost"));
    const char *k;
    json_t *v;
    json_t *sum = json_object_get(r, "summary");
    json_t *spec_j = json_object_get(r, "spec"); /* jansson's getters take NULL */
    const char *board =
        json_string_value(json_object_get(json_object_get(spec_j, "device"), "board"));
    if (!board)
        board = json_string_value(json_object_get(sum, "board"));
    json_t *ept = json_object_get(sum, "epoch_board_time_s");
    if (board || ept) {
        /* An FPGA run: its board, and the time the board would take. */
        printf("%-17s %s%s\n", "board", board ? board : "(any fpga)",
               json_is_true(json_object_get(sum, "board_emulated")) ? " (emulated)" : "");
        if (json_is_number(ept)) {
            const double per = json_number_value(ept);
            const json_t *ep =
                json_object_get(json_object_get(json_object_get(r, "spec"), "train"), "epochs");
            const long long n = json_is_integer(ep) ? (long long)json_integer_value(ep) : 0;
            printf("%-17s %.6g s per epoch", "on-board time", per);
            if (n > 0)
                printf(", %.6g s for %lld epoch%s", per * (double)n, n, n == 1 ? "" : "s");
            json_t *ips = json_object_get(sum, "epoch_board_images_per_s");
            if (json_is_number(ips))
                printf(" (%.6g images/s)", json_number_value(ips));
            printf(" (estimated: docs/fpga.md)\n");
        }
    }
    printf("summary\n");
    json_object_foreach(json_object_get(r, "summary"), k, v)
    {
        char cell[64];
        cli_cell(cell, sizeof cell, v);
        printf("  %-28s %s\n", k, cell);
    }
    size_t i;
    printf("leases\n");
    json_array_foreach(json_object_get(r, "leases"), i, v)
    {
        char out_[32];
        cli_cell(out_, sizeof out_, json_object_get(v, "outcome"));
        printf("  attempt %lld on worker %lld %s: %s\n",
               (long long)json_integer_value(json_object_get(v, "attempt")),
               (long long)json_integer_value(json_object_get(v, "worker")),
               json_string_value(json_object_get(v, "device")), out_);
    }
    /* 15 digits: 0.05 rather than 0.050000000000000003 (--json keeps 17). */
    char *spec = json_dumps(json_object_get(r, "spec"), JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    printf("spec\n%s\n", spec ? spec : "null");
    free(spec);
    json_decref(out);
    return 0;
}

static const char cancel_usage[] =
    "usage: qlab cancel RUN | qlab cancel --sweep ID\n\n"
    "Cancels a run (queued: at once; running: its worker stops it within\n"
    "seconds), or every unfinished run of a sweep.\n";

int cli_cmd_cancel(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    bool as_json = false;
    long long sweep = 0, id = 0;
    int c, rc = cli_remote_begin("cancel", cancel_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("cancel", optarg, &sweep)))
                return rc;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("cancel", c, argv);
        }
    }
    if (sweep ? optind != argc : optind != argc - 1)
        return cli_fail("cancel", QC_EINVAL, "expects one run id, or --sweep ID");
    if (!sweep && (rc = cli_parse_id("cancel", argv[optind], &id)))
        return rc;
    char path[64];
    snprintf(path, sizeof path, sweep ? "/api/v1/sweeps/%lld/cancel" : "/api/v1/runs/%lld/cancel",
             sweep ? sweep : id);
    json_t *out = NULL;
    if ((rc = call_print("cancel", &rest, "POST", path, &out)))
        return rc;
    if (as_json)
        cli_print_json(out);
    else if (sweep)
        printf("sweep %lld: %lld runs canceled or stopping\n", sweep,
               (long long)json_integer_value(json_object_get(out, "canceled")));
    else {
        json_t *r = json_object_get(out, "run");
        printf("run %lld: %s%s\n", id, json_string_value(json_object_get(r, "state")),
               json_is_true(json_object_get(r, "cancel_requested")) ? " (stopping)" : "");
    }
    json_decref(out);
    return 0;
}

static const char workers_usage[] =
    "usage: qlab workers [--json]\n\n"
    "Lists the workers: devices with free slots, current runs, last heartbeat.\n";

int cli_cmd_workers(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    bool as_json = false;
    int c, rc = cli_remote_begin("workers", workers_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else
            return cli_fail_opt("workers", c, argv);
    }
    if (optind != argc)
        return cli_fail("workers", QC_EINVAL, "unexpected argument '%s'", argv[optind]);
    json_t *out = NULL;
    if ((rc = call_print("workers", &rest, "GET", "/api/v1/workers", &out)))
        return rc;
    if (as_json) {
        cli_print_json(out);
        json_decref(out);
        return 0;
    }
    size_t i, j;
    json_t *w, *d;
    printf("%4s  %-16s  %-4s  %-24s  %-12s  %s\n", "ID", "NAME", "LIVE", "DEVICES (free/slots)",
           "RUNS", "SEEN");
    json_array_foreach(json_object_get(out, "workers"), i, w)
    {
        char devs[256] = "", runs[128] = "";
        json_array_foreach(json_object_get(w, "devices"), j, d)
        {
            size_t n = strlen(devs);
            json_t *fr = json_object_get(d, "free");
            snprintf(devs + n, sizeof devs - n, "%s%s %lld/%lld", n ? ", " : "",
                     json_string_value(json_object_get(d, "id")),
                     (long long)(fr ? json_integer_value(fr) : -1),
                     (long long)json_integer_value(json_object_get(d, "slots")));
        }
        json_array_foreach(json_object_get(w, "runs"), j, d)
        {
            size_t n = strlen(runs);
            snprintf(runs + n, sizeof runs - n, "%s%lld", n ? "," : "",
                     (long long)json_integer_value(d));
        }
        printf("%4lld  %-16s  %-4s  %-24s  %-12s  %.0f s ago\n",
               (long long)json_integer_value(json_object_get(w, "id")),
               json_string_value(json_object_get(w, "name")),
               json_is_true(json_object_get(w, "live")) ? "yes" : "no", devs, runs[0] ? runs : "-",
               (double)time(NULL) - json_number_value(json_object_get(w, "last_seen")));
    }
    json_decref(out);
    return 0;
}
