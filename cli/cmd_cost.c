/* `qlab cost`: the hardware cost of a MAC configuration, from real
 * synthesis of hw/rtl/ with Yosys (libqhw), cached by RTL, flow script and
 * Yosys version, calibrated against published figures (docs/cost.md). */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_util.h"
#include "hw/cost/hw_cost.h"
#include "hw/cost/hw_spec.h"
#include "qcore/spec.h"
#include "qcore/sweep.h"

static const char usage[] =
    "usage: qlab cost (--mac MAC | --spec FILE) [--array RxC] [--json]\n"
    "                 [--refresh | --no-cache]\n"
    "                 [--cache DIR] [--timeout SECONDS] [--export TABLE]\n\n"
    "Prints the hardware cost of a MAC configuration (docs/mac.md): its multiplier,\n"
    "accumulator, float-to-fixed converter, the whole MAC unit and an array of them,\n"
    "synthesized from hw/rtl/ by Yosys for UltraScale+ (LUT, FF, CARRY, DSP; LUTs\n"
    "again without DSPs) and as generic gates, with the calibration of docs/cost.md.\n"
    "Figures are cached by RTL, flow script and Yosys version; a configuration the\n"
    "RTL cannot express is an error that names the field.\n\n"
    "  --mac MAC       the MAC configuration, e.g. cfg=5,a=e5m2,b=e5m2,acc=e6m5\n"
    "  --spec FILE     an experiment or a sweep instead: the MAC of each GEMM group\n"
    "                  (forward, grad-input, grad-weight) of each run, and their sums\n"
    "  --array RxC     the array's rows and columns (default 16x4)\n"
    "  --synth-array   synthesize the array top too (default: rows x cols x the\n"
    "                  MAC's figures; the array adds only wiring)\n"
    "  --units LIST    only these of multiplier,accumulator,converter,mac,array\n"
    "  --no-gates      skip the generic gate count (slow for wide multipliers)\n"
    "  --json          one JSON object instead of the table\n"
    "  --refresh       synthesize again what is cached, and store the new figures\n"
    "  --no-cache      synthesize everything; read and write no cache, no table\n"
    "  --cache DIR     the cache directory (default $QLAB_COST_CACHE, else\n"
    "                  $XDG_CACHE_HOME/qlab/cost or ~/.cache/qlab/cost)\n"
    "  --timeout S     the limit of one Yosys run in seconds (default 900)\n"
    "  --export TABLE  also merge the figures used into the cost table TABLE\n"
    "                  (hw/cost-table.json's form; made if missing)\n"
    "  -h, --help      this text\n\n"
    "Environment: QLAB_HW_DIR (the hw/ folder; default beside the binary),\n"
    "QLAB_YOSYS (the yosys binary; default from PATH).\n";

enum {
    OPT_MAC = 256,
    OPT_ARRAY,
    OPT_JSON,
    OPT_REFRESH,
    OPT_NO_CACHE,
    OPT_CACHE,
    OPT_TIMEOUT,
    OPT_EXPORT,
    OPT_SPEC,
    OPT_SYNTH_ARRAY,
    OPT_UNITS,
    OPT_NO_GATES
};

static json_int_t geti(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void row(struct cli_buf *b, const char *name, const json_t *u, const json_t *cal)
{
    if (!json_is_object(u)) {
        cli_buf_printf(b, "%-12s %8s\n", name, "-");
        return;
    }
    cli_buf_printf(b, "%-12s %8lld %6lld %6lld %4lld %11lld", name, (long long)geti(u, "lut"),
                   (long long)geti(u, "ff"), (long long)geti(u, "carry"), (long long)geti(u, "dsp"),
                   (long long)geti(u, "lut_nodsp"));
    if (json_object_get(u, "gates"))
        cli_buf_printf(b, " %7lld", (long long)geti(u, "gates"));
    else
        cli_buf_printf(b, " %7s", "-");
    if (json_is_object(cal))
        cli_buf_printf(b, " %9lld", (long long)geti(cal, "lut"));
    cli_buf_printf(b, "\n");
}

static void table(struct cli_buf *b, const json_t *c)
{
    const json_t *cal = json_object_get(c, "calibrated"), *arr = json_object_get(c, "array");
    char name[32];

    cli_buf_printf(b, "MAC %s (%s)\n", json_string_value(json_object_get(c, "mac_config")),
                   json_string_value(json_object_get(c, "kind")));
    cli_buf_printf(b, "%-12s %8s %6s %6s %4s %11s %7s%s\n", "unit", "LUT", "FF", "CARRY", "DSP",
                   "LUT (nodsp)", "gates", json_is_object(cal) ? " LUT (cal)" : "");
    row(b, "multiplier", json_object_get(c, "multiplier"), json_object_get(cal, "multiplier"));
    row(b, "accumulator", json_object_get(c, "accumulator"), json_object_get(cal, "accumulator"));
    row(b, "converter", json_object_get(c, "converter"), json_object_get(cal, "converter"));
    row(b, "mac", json_object_get(c, "mac"), json_object_get(cal, "mac"));
    snprintf(name, sizeof name, "array %lldx%lld", (long long)geti(arr, "rows"),
             (long long)geti(arr, "cols"));
    cli_buf_printf(b, "%-12s %8lld %6lld %6lld %4lld %11s %7s", name, (long long)geti(arr, "lut"),
                   (long long)geti(arr, "ff"), (long long)geti(arr, "carry"),
                   (long long)geti(arr, "dsp"), "-", "-");
    if (json_is_object(json_object_get(cal, "array")))
        cli_buf_printf(b, " %9lld", (long long)geti(json_object_get(cal, "array"), "lut"));
    cli_buf_printf(b, "\n%s, %s; figures %s%s\n", json_string_value(json_object_get(c, "tool")),
                   json_string_value(json_object_get(c, "flow")),
                   strcmp(json_string_value(json_object_get(c, "source")), "cache") == 0
                       ? "from the cache"
                       : "synthesized now",
                   json_is_object(cal) && !json_is_true(json_object_get(cal, "rtl_match"))
                       ? " (the calibration was fitted to other RTL)"
                       : "");
}

/* An experiment's cost, or {"sweep", "runs": [{"name", "cost"}]} for a sweep. */
static int spec_cost(json_t **out, const struct hw_cost_ctx *ctx, const struct hw_cost_opts *o,
                     const char *path, struct qc_err *err)
{
    struct qc_spec *s = malloc(sizeof *s);
    json_t *doc = NULL, *runs = NULL, *specs = NULL;
    json_error_t jerr;
    int rc = QC_OK;

    *out = NULL;
    if (!s)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    if (!(doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
        rc =
            qc_err_set(err, QC_EINVAL, "", "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_object_get(doc, "base")) { /* an experiment */
        if (!(rc = qc_spec_from_json(s, doc, err)))
            rc = hw_cost_spec(out, ctx, s, o, NULL, err);
        goto out;
    }
    struct qc_sweep_info info;
    if ((rc = qc_sweep_expand(&specs, &info, doc, 10000, err)))
        goto out;
    runs = json_array();
    size_t i;
    json_t *sp;
    json_array_foreach(specs, i, sp)
    {
        json_t *c = NULL;
        if ((rc = qc_spec_from_json(s, sp, err)) || (rc = hw_cost_spec(&c, ctx, s, o, NULL, err)))
            goto out;
        json_array_append_new(runs, json_pack("{ss so}", "name", s->name, "cost", c));
    }
    *out = json_pack("{ss sO}", "sweep", info.name, "runs", runs);
out:
    json_decref(doc);
    json_decref(specs);
    json_decref(runs);
    free(s);
    return rc;
}

static void spec_row(struct cli_buf *b, const char *name, const json_t *c)
{
    char cal[32] = "-";
    const json_t *lc = json_object_get(c, "lut_calibrated");
    if (json_is_integer(lc))
        snprintf(cal, sizeof cal, "%lld", (long long)json_integer_value(lc));
    if (!json_is_integer(json_object_get(c, "lut"))) {
        cli_buf_printf(b, "%-40s %s\n", name, json_string_value(json_object_get(c, "status")));
        const char *g;
        json_t *e;
        json_object_foreach(json_object_get(c, "groups"), g, e)
        {
            const char *why = json_string_value(json_object_get(e, "error"));
            if (!why)
                why = json_string_value(json_object_get(e, "pending"));
            if (why)
                cli_buf_printf(b, "  %s: %s\n", g, why);
        }
        return;
    }
    cli_buf_printf(b, "%-40s %8lld %6lld %4lld %8lld %9s\n", name, (long long)geti(c, "lut"),
                   (long long)geti(c, "ff"), (long long)geti(c, "dsp"), (long long)geti(c, "gates"),
                   cal);
}

static void spec_table(struct cli_buf *b, const json_t *c)
{
    cli_buf_printf(b, "%-40s %8s %6s %4s %8s %9s\n", "run (sum of the three GEMM groups)", "LUT",
                   "FF", "DSP", "gates", "LUT (cal)");
    if (!json_object_get(c, "runs")) {
        spec_row(b, "experiment", c);
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(c, "runs"), i, r)
    {
        spec_row(b, json_string_value(json_object_get(r, "name")), json_object_get(r, "cost"));
    }
}

/* Merges the figures a cost used into the table file at `path`. */
static int export_table(const char *path, json_t *figures, const struct hw_tool *tool,
                        struct qc_err *err)
{
    char tmp[PATH_MAX + 16];
    json_t *t = NULL;
    int rc;

    if ((rc = hw_table_load(&t, path, err)))
        return rc;
    if (!tool->version[0]) {
        json_decref(t);
        return qc_err_set(err, QC_EUNAVAIL, "", "--export needs yosys to name the table's version");
    }
    json_object_set_new(t, "tool", json_string(tool->version));
    json_object_set_new(t, "rtl", json_string(tool->rtl_hash));
    json_object_update(json_object_get(t, "entries"), figures);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json_dump_file(t, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) || rename(tmp, path))
        rc = qc_err_set(err, QC_EIO, "", "%s: cannot write the table", path);
    json_decref(t);
    return rc;
}

static int parse_units(unsigned *out, const char *s)
{
    char buf[256], *save = NULL;
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    *out = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int u = 0;
        while (u < HW_UNIT_COUNT && strcmp(t, hw_unit_name((enum hw_unit)u)))
            u++;
        if (u == HW_UNIT_COUNT)
            return -1;
        *out |= 1u << u;
    }
    return *out ? 0 : -1;
}

/* Ctrl-C or SIGTERM stops a running Yosys (its own process group does not
 * see the terminal's signal) before qlab exits. */
static atomic_bool stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_flag, true);
}

int cli_cmd_cost(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"mac", required_argument, NULL, OPT_MAC},
        {"array", required_argument, NULL, OPT_ARRAY},
        {"json", no_argument, NULL, OPT_JSON},
        {"refresh", no_argument, NULL, OPT_REFRESH},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"export", required_argument, NULL, OPT_EXPORT},
        {"spec", required_argument, NULL, OPT_SPEC},
        {"synth-array", no_argument, NULL, OPT_SYNTH_ARRAY},
        {"units", required_argument, NULL, OPT_UNITS},
        {"no-gates", no_argument, NULL, OPT_NO_GATES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0], *mac_s = NULL, *cache_dir = NULL, *export_p = NULL;
    const char *spec_p = NULL;
    bool json = false, no_cache = false;
    struct hw_cost_opts o = {0};
    struct hw_tool *tool = NULL;
    struct hw_dirstore ds;
    struct hw_store store;
    struct hw_cost_ctx ctx = {0};
    json_t *tab = NULL, *calib = NULL, *cost = NULL;
    struct qc_mac mac;
    struct qc_err err;
    struct cli_buf out;
    int64_t v;
    int opt, rc;

    if (cli_wants_help(argc, argv))
        return cli_print_help(usage);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_MAC:
            mac_s = optarg;
            break;
        case OPT_ARRAY: {
            char x;
            if (sscanf(optarg, "%d%c%d", &o.rows, &x, &o.cols) != 3 || x != 'x' || o.rows < 1 ||
                o.cols < 1 || o.rows > 256 || o.cols > 256)
                return cli_fail(cmd, QC_EINVAL, "--array '%s' is not RxC with 1..256 each", optarg);
            break;
        }
        case OPT_JSON:
            json = true;
            break;
        case OPT_REFRESH:
            o.refresh = true;
            break;
        case OPT_NO_CACHE:
            no_cache = true;
            break;
        case OPT_CACHE:
            cache_dir = optarg;
            break;
        case OPT_NO_GATES:
            o.no_gates = true;
            break;
        case OPT_SYNTH_ARRAY:
            o.synth_array = true;
            break;
        case OPT_UNITS:
            if (parse_units(&o.units, optarg))
                return cli_fail(cmd, QC_EINVAL,
                                "--units '%s': a list of multiplier, accumulator, converter, "
                                "mac, array",
                                optarg);
            break;
        case OPT_SPEC:
            spec_p = optarg;
            break;
        case OPT_EXPORT:
            export_p = optarg;
            break;
        case OPT_TIMEOUT:
            if (!cli_parse_i64(optarg, 1, 86400, &v))
                return cli_fail(cmd, QC_EINVAL, "--timeout '%s' is not 1..86400 seconds", optarg);
            o.timeout_s = (int)v;
            break;
        default:
            return cli_fail_opt(cmd, opt, argv);
        }
    }
    if (optind < argc)
        return cli_fail(cmd, QC_EINVAL, "unexpected argument '%s'", argv[optind]);
    if (!mac_s == !spec_p)
        return cli_fail(cmd, QC_EINVAL, "give one of --mac and --spec (see 'qlab cost --help')");
    if (no_cache && (o.refresh || cache_dir))
        return cli_fail(cmd, QC_EINVAL, "--no-cache excludes --refresh and --cache");
    if (mac_s) {
        if ((rc = qc_mac_parse(&mac, mac_s, &err)))
            return cli_fail_err(cmd, "--mac", &err);
        /* The RTL-expressibility check first: a clear error before any search. */
        struct hw_params probe;
        if ((rc = hw_params_from_mac(&probe, &mac, &err)))
            return cli_fail_err(cmd, "--mac", &err);
    }
    if (!(tool = malloc(sizeof *tool)))
        return cli_fail(cmd, QC_ENOMEM, "out of memory");
    if ((rc = hw_tool_init(tool, NULL, &err))) {
        free(tool);
        return cli_fail_err(cmd, NULL, &err);
    }
    ctx.tool = tool;
    if (no_cache) {
        o.refresh = true;
    } else {
        char path[PATH_MAX + 32];
        if ((rc = hw_dirstore_init(&ds, cache_dir, &err)))
            goto fail;
        hw_dirstore_bind(&store, &ds);
        ctx.store = &store;
        snprintf(path, sizeof path, "%s/cost-table.json", tool->dir);
        if ((rc = hw_table_load(&tab, path, &err)))
            goto fail;
        ctx.table = tab;
    }
    if ((rc = hw_calib_load(&calib, tool, &err)))
        goto fail;
    ctx.calib = calib;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.cancel = &stop_flag;
    if (export_p && !(ctx.collect = json_object())) {
        rc = cli_fail(cmd, QC_ENOMEM, "out of memory");
        goto done;
    }
    if (spec_p) {
        if ((rc = spec_cost(&cost, &ctx, &o, spec_p, &err)))
            goto fail;
    } else if ((rc = hw_cost_mac(&cost, &ctx, &mac, &o, NULL, &err))) {
        goto fail;
    }
    if (export_p && (rc = export_table(export_p, ctx.collect, tool, &err)))
        goto fail;
    cli_buf_init(&out);
    if (json) {
        char *text = json_dumps(cost, JSON_INDENT(2));
        if (text)
            cli_buf_printf(&out, "%s\n", text);
        else
            out.oom = true;
        free(text);
    } else if (spec_p) {
        spec_table(&out, cost);
    } else {
        table(&out, cost);
    }
    rc = out.oom ? cli_fail(cmd, QC_ENOMEM, "out of memory") : cli_print_help(out.data);
    cli_buf_free(&out);
    goto done;
fail:
    rc = cli_fail_err(cmd, NULL, &err);
done:
    json_decref(cost);
    json_decref(ctx.collect);
    json_decref(tab);
    json_decref(calib);
    hw_tool_free(tool);
    free(tool);
    return rc;
}
