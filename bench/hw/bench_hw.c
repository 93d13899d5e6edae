/* qlab-hw-bench: the hardware cost machinery (make bench, group "hw").
 *
 *   hw_synth_<unit>  seconds of one Yosys run (the UltraScale+ flow) per
 *                    unit class of the demo's MAC, against Yosys reading and
 *                    elaborating the same RTL (the fixed cost of any run)
 *   hw_lookup        a cost lookup of the demo's MAC with every figure
 *                    cached (target < 1 ms), against reading one cached
 *                    figure file
 *   hw_verilator     MAC steps per second of the Verilator model of one MAC
 *                    unit, against the core's scalar reference twin
 *                    (qc_gemm_ref) on the same configuration
 *
 * One JSON line per figure (bench/bench_util.h), each with its baseline. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "hw/cost/hw_cost.h"
#include "hw/sim/tb.h"
#include "qcore/gemm.h"
#include "qcore/quantize.h"
#include "qcore/ref.h"
#include "tb_bench_map.h"

extern const struct tb_ops tb_bench_ops;

#define DEMO_MAC "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32"
#define CONV_MAC "cfg=5,a=e5m2,b=e5m2,acc=q8.13,acc_rounding=rne,chunk=32"

static struct hw_tool tool;

static struct qc_mac mac_or_die(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    if (qc_mac_parse(&m, s, &err))
        bench_die("MAC '%s': %s", s, err.msg);
    return m;
}

/* Yosys reading the RTL and elaborating `module`: the floor of any run. */
static double elaborate_s(const char *module)
{
    char script[HW_RTL_MAX * (PATH_MAX + 1) + 256];
    size_t n = (size_t)snprintf(script, sizeof script, "read_verilog -sv");
    for (int i = 0; i < tool.nrtl; i++)
        n += (size_t)snprintf(script + n, sizeof script - n, " %s", tool.rtl[i]);
    snprintf(script + n, sizeof script - n, "; hierarchy -top %s", module);
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        execl(tool.yosys, tool.yosys, "-q", "-p", script, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
        bench_die("yosys could not elaborate %s", module);
    return bench_now() - t0;
}

static void bench_synth(void)
{
    static const struct {
        const char *mac;
        enum hw_unit unit;
    } units[] = {{DEMO_MAC, HW_UNIT_MUL},
                 {DEMO_MAC, HW_UNIT_ACC},
                 {CONV_MAC, HW_UNIT_CONV},
                 {DEMO_MAC, HW_UNIT_MAC}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        struct qc_mac m = mac_or_die(units[i].mac);
        struct hw_params p;
        struct hw_kv kv[HW_KV_MAX];
        const char *module = NULL;
        json_t *fig = NULL;
        struct qc_err err;
        char name[64];
        if (hw_params_from_mac(&p, &m, &err))
            bench_die("%s", err.msg);
        int nkv = hw_unit_params(&p, units[i].unit, 0, 0, &module, kv);
        if (hw_synth_run(&fig, &tool, HW_FLOW_XILINX, module, kv, nkv, 900, NULL, &err))
            bench_die("%s", err.msg);
        const double secs = json_real_value(json_object_get(fig, "seconds"));
        const double base = elaborate_s(module);
        snprintf(name, sizeof name, "hw_synth_%s", hw_unit_name(units[i].unit));
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = secs,
            .unit = "s",
            .baseline = "yosys reading and elaborating the same RTL",
            .baseline_value = base,
            .ratio = secs / base,
            .config = units[i].mac,
            .note = "synth_xilinx -family xcup -flatten (hw/syn/xilinx.ys), one run"});
        json_decref(fig);
    }
}

struct lookup_ctx {
    struct hw_cost_ctx *ctx;
    struct qc_mac *mac;
    const char *file;
};

static void lookup_once(void *p)
{
    struct lookup_ctx *l = p;
    struct hw_cost_opts o = {.lookup_only = true};
    struct qc_err err;
    json_t *c = NULL;
    if (hw_cost_mac(&c, l->ctx, l->mac, &o, NULL, &err))
        bench_die("lookup: %s", err.msg);
    json_decref(c);
}

static void read_once(void *p)
{
    struct lookup_ctx *l = p;
    json_error_t jerr;
    json_t *j = json_load_file(l->file, 0, &jerr);
    if (!j)
        bench_die("%s: %s", l->file, jerr.text);
    json_decref(j);
}

static void bench_lookup(void)
{
    char dir[] = "/tmp/qlab-hw-bench-XXXXXX", file[PATH_MAX];
    struct hw_dirstore ds;
    struct hw_store store;
    struct qc_err err;
    struct qc_mac m = mac_or_die(DEMO_MAC);
    json_t *collect = json_object(), *c = NULL;
    struct hw_cost_ctx ctx = {.tool = &tool, .collect = collect};
    struct hw_cost_opts fill = {0};

    if (!mkdtemp(dir) || hw_dirstore_init(&ds, dir, &err))
        bench_die("cache directory: %s", dir);
    hw_dirstore_bind(&store, &ds);
    ctx.store = &store;
    /* Fill the store: from the committed table when it holds the figures. */
    char path[PATH_MAX + 32];
    json_t *table = NULL;
    snprintf(path, sizeof path, "%s/cost-table.json", tool.dir);
    if (hw_table_load(&table, path, &err))
        bench_die("%s", err.msg);
    ctx.table = table;
    if (hw_cost_mac(&c, &ctx, &m, &fill, NULL, &err))
        bench_die("%s", err.msg);
    json_decref(c);
    const char *key;
    json_t *v;
    json_object_foreach(collect, key, v)
    {
        store.put(store.ctx, key, v);
        snprintf(file, sizeof file, "%s/%s.json", dir, key);
    }
    ctx.table = NULL; /* the store alone answers */
    ctx.collect = NULL;
    struct lookup_ctx l = {.ctx = &ctx, .mac = &m, .file = file};
    struct bench_timing t;
    bench_pair(&t, &(struct bench_case){lookup_once, &l}, &(struct bench_case){read_once, &l},
               &(struct bench_plan){.min_reps = 20,
                                    .max_reps = 2000,
                                    .budget_s = 1.0,
                                    .warm_subject = true,
                                    .base_per_round = 1});
    char note[96], extra[64];
    snprintf(note, sizeof note, "%d cached figures read from a directory store",
             (int)json_object_size(collect));
    /* The target is absolute (a lookup under 1 ms), not a ratio. */
    snprintf(extra, sizeof extra, "\"target_ms\":\"<1\",\"met_ms\":%s",
             t.subject_s < 1e-3 ? "true" : "false");
    bench_emit(&(struct bench_figure){.bench = "hw_lookup",
                                      .value = t.subject_s * 1e3,
                                      .unit = "ms",
                                      .baseline = "reading one cached figure file",
                                      .baseline_value = t.baseline_s * 1e3,
                                      .ratio = t.subject_s / t.baseline_s,
                                      .config = DEMO_MAC,
                                      .note = note,
                                      .extra = extra});
    json_decref(collect);
    json_decref(table);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        bench_die("cannot remove %s", dir);
}

enum { DOT_K = 256, DOTS = 512 };

struct vl_ctx {
    void *h;
    const struct tb_inst *t;
    uint64_t *acode, *bcode; /* DOTS x DOT_K */
    float *a, *b;            /* the same values for the reference: DOT_K x 1 each dot */
    struct qc_mac mac;
};

static void set_port(struct vl_ctx *v, const char *name, uint64_t x)
{
    const struct tb_port *p = tb_port(v->t, name);
    tb_bench_ops.set(v->h, p->off, p->width, x);
}

/* DOTS dot products of DOT_K through the model: CLR, MACs, a FLUSH per 32. */
static void verilator_dots(void *p)
{
    struct vl_ctx *v = p;
    for (int d = 0; d < DOTS; d++) {
        set_port(v, "op", 1);
        tb_bench_ops.tick(v->h);
        for (int k = 0; k < DOT_K; k++) {
            set_port(v, "op", 2);
            set_port(v, "a", v->acode[d * DOT_K + k]);
            set_port(v, "b", v->bcode[d * DOT_K + k]);
            tb_bench_ops.tick(v->h);
            if (k % 32 == 31) {
                set_port(v, "op", 3);
                tb_bench_ops.tick(v->h);
            }
        }
    }
}

/* The same number of MACs through the scalar MPFR twin (one dot per call:
 * 1 x 1 outputs, K = DOT_K, so its setup is counted as the model's is). */
static void ref_dots(void *p)
{
    struct vl_ctx *v = p;
    struct qc_gemm_desc d;
    struct qc_err err;
    float c;
    qc_gemm_desc_init(&d, 1, 1, DOT_K);
    for (int i = 0; i < DOTS / 16; i++)
        if (qc_gemm_ref(&c, v->a + (size_t)i * DOT_K, v->b + (size_t)i * DOT_K, &d, &v->mac, NULL,
                        &err))
            bench_die("%s", err.msg);
}

static void bench_verilator(void)
{
    struct vl_ctx v = {.t = &tb_bench_insts[0]};
    uint64_t seed = 42;
    v.mac = mac_or_die(v.t->mac);
    v.acode = bench_alloc(sizeof *v.acode * DOTS * DOT_K);
    v.bcode = bench_alloc(sizeof *v.bcode * DOTS * DOT_K);
    v.a = bench_alloc(sizeof *v.a * DOTS * DOT_K);
    v.b = bench_alloc(sizeof *v.b * DOTS * DOT_K);
    bench_fill_normal(v.a, DOTS * DOT_K, seed, 1.0);
    bench_fill_normal(v.b, DOTS * DOT_K, seed + 1, 1.0);
    for (int64_t i = 0; i < DOTS * DOT_K; i++) {
        uint64_t ca, cb;
        v.a[i] = (float)qc_round_value(&v.mac.a_read, v.a[i], NULL, 0, NULL);
        v.b[i] = (float)qc_round_value(&v.mac.b_read, v.b[i], NULL, 0, NULL);
        if (qc_format_encode(&ca, &v.mac.a_read, v.a[i]) ||
            qc_format_encode(&cb, &v.mac.b_read, v.b[i]))
            bench_die("encode");
        v.acode[i] = ca;
        v.bcode[i] = cb;
    }
    v.h = tb_bench_ops.open();
    struct bench_timing t;
    bench_pair(&t, &(struct bench_case){verilator_dots, &v}, &(struct bench_case){ref_dots, &v},
               &(struct bench_plan){.min_reps = 3,
                                    .max_reps = 20,
                                    .budget_s = 3.0,
                                    .warm_subject = true,
                                    .base_per_round = 1});
    tb_bench_ops.close(v.h);
    const double model = (double)DOTS * DOT_K / t.subject_s;
    const double ref = (double)DOTS / 16 * DOT_K / t.baseline_s;
    bench_emit(&(struct bench_figure){
        .bench = "hw_verilator",
        .value = model,
        .unit = "MAC/s",
        .baseline = "qc_gemm_ref, the core's scalar MPFR twin",
        .baseline_value = ref,
        .ratio = model / ref,
        .threads = 1,
        .config = v.t->mac,
        .note = "one qmac model, one clock per MAC plus a FLUSH per chunk of 32"});
    free(v.acode);
    free(v.bcode);
    free(v.a);
    free(v.b);
}

int main(void)
{
    struct qc_err err;
    if (hw_tool_init(&tool, NULL, &err))
        bench_die("%s", err.msg);
    if (!tool.yosys[0]) {
        bench_skip("hw_synth", "yosys is not installed (make deps installs it)");
        bench_skip("hw_lookup", "yosys is not installed: no Yosys version to key the cache");
    } else {
        bench_synth();
        bench_lookup();
    }
    bench_verilator();
    hw_tool_free(&tool);
    return 0;
}
