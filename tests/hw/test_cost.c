/* The cost driver (libqhw): the MAC -> RTL parameter mapping and its
 * errors naming the field, cache keys that change with every input, and a
 * real Yosys run: equal to the committed one, stored, found again, and
 * answered from a table without Yosys.
 * Tests that need yosys skip with the reason when it is not installed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/cost/hw_cost.h"
#include "hw/cost/hw_spec.h"
#include "qcore/mac.h"
#include "qcore/spec.h"

static struct hw_tool *tool;

static void tool_init(void)
{
    struct qc_err err;
    tool = malloc(sizeof *tool);
    cr_assert(tool);
    cr_assert_eq(hw_tool_init(tool, NULL, &err), QC_OK, "%s", err.msg);
}

static void tool_fini(void)
{
    hw_tool_free(tool);
    free(tool);
}

static struct qc_mac mac_of(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "%s: %s", s, err.msg);
    return m;
}

Test(cost, configurations_without_rtl_name_their_field)
{
    static const struct {
        const char *mac, *field, *says;
    } cases[] = {
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=sr", "acc_rounding", "stochastic"},
        {"a=mxfp8_e4m3,b=mxfp8_e4m3", "a", "block format"},
        {"a=e5m2,b=bfp8@16", "b", "block format"},
        {"acc=native", "acc", "native"},
        {"a=q8.8,b=q8.8,acc=q8.8:wrap", "acc", "wraps"},
        {"a=q8.8,b=e5m2,acc=q8.8", "b", "two floats or two fixed-point"},
        {"a=q8.8,b=q8.8,acc=fp32", "acc", "fixed-point accumulator"},
        {"a=int8,b=int8,acc=q16.0", "a", "integer"},
        {"a=fp64,b=fp64", "a", "mantissa bits"},
        {"cfg=1,a=e4m3,b=e4m3,product=e4m3:daz", "product", "daz"},
        {"cfg=5,a=e5m2,b=e5m2,acc=e6m5:fn", "acc", "sat only"},
        {"cfg=5,a=e5m2,b=e5m2,acc=int16", "acc", "integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct qc_mac m = mac_of(cases[i].mac);
        struct hw_params p;
        struct qc_err err;
        qc_err_clear(&err);
        cr_assert_eq(hw_params_from_mac(&p, &m, &err), QC_EINVAL, "%s mapped", cases[i].mac);
        cr_assert_str_eq(err.field, cases[i].field, "%s: %s", cases[i].mac, err.msg);
        cr_assert(strstr(err.msg, cases[i].says), "%s: '%s' lacks '%s'", cases[i].mac, err.msg,
                  cases[i].says);
    }
}

Test(cost, parameters_follow_the_cfg_and_formats)
{
    struct hw_params p;
    struct qc_err err;
    struct qc_mac m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=e6m5");
    cr_assert_eq(hw_params_from_mac(&p, &m, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(p.p[HW_P_KIND], HW_KIND_FLOAT);
    cr_assert_eq(p.p[HW_P_TA], 2, "CFG-5 reads inf1");
    cr_assert_eq(p.p[HW_P_SA], 1, "CFG-5 reads subnormal-as-normal");
    cr_assert_eq(p.p[HW_P_PMODE], 1, "exact product, flushed");
    cr_assert_eq(p.p[HW_P_FLUSHE], -30, "below e6m5's smallest normal 2^-30");
    cr_assert_eq(p.p[HW_P_PW], 6, "3 x 3 significand bits");
    cr_assert_eq(p.p[HW_P_SW], 6);
    cr_assert_eq(p.p[HW_P_CW], 12);
    m = mac_of("cfg=1,a=fp32,b=fp32,acc=fp16,acc_rounding=rtz");
    cr_assert_eq(hw_params_from_mac(&p, &m, &err), QC_OK);
    cr_assert_eq(p.p[HW_P_PMODE], 2, "CFG-1 rounds the product");
    cr_assert_eq(p.p[HW_P_PW], 24);
    cr_assert_eq(p.p[HW_P_SW], 24, "the addend port is as wide as the wider operand");
    cr_assert_eq(p.p[HW_P_RM], QC_ROUND_RTZ);
    m = mac_of("cfg=5,a=e5m2,b=e5m2,acc=q8.13");
    cr_assert_eq(hw_params_from_mac(&p, &m, &err), QC_OK);
    cr_assert_eq(p.p[HW_P_KIND], HW_KIND_CONV);
    cr_assert_eq(p.p[HW_P_CW], 21);
    m = mac_of("a=q8.8,b=q8.8,acc=q16.16,fused=1");
    cr_assert_eq(hw_params_from_mac(&p, &m, &err), QC_OK);
    cr_assert_eq(p.p[HW_P_KIND], HW_KIND_FIXED);
    const char *module;
    struct hw_kv kv[HW_KV_MAX];
    cr_assert_eq(hw_unit_params(&p, HW_UNIT_CONV, 0, 0, &module, kv), 0, "no converter");
    cr_assert_gt(hw_unit_params(&p, HW_UNIT_MUL, 0, 0, &module, kv), 0);
    cr_assert_str_eq(module, "qx_mul");
}

Test(cost, keys_change_with_every_input, .init = tool_init, .fini = tool_fini)
{
    struct hw_kv kv[2] = {{"N", 12}, {"X", 1}};
    char k0[65], k1[65];
    hw_synth_key(k0, tool, "Yosys 0.23", HW_FLOW_XILINX, "qx_acc", kv, 1);
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX, "qx_acc", kv, 1);
    cr_assert_str_eq(k0, k1, "the same inputs give the same key");
    cr_assert_eq(strlen(k0), 64);
    cr_assert_eq(strspn(k0, "0123456789abcdef"), 64, "a key is SHA-256 in hex: %s", k0);
    cr_assert_eq(strspn(tool->rtl_hash, "0123456789abcdef"), 64, "%s", tool->rtl_hash);
    hw_synth_key(k1, tool, "Yosys 0.24", HW_FLOW_XILINX, "qx_acc", kv, 1);
    cr_assert_str_neq(k0, k1, "the Yosys version");
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_GATES, "qx_acc", kv, 1);
    cr_assert_str_neq(k0, k1, "the flow script");
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX_NODSP, "qx_acc", kv, 1);
    cr_assert_str_neq(k0, k1, "the flow options");
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX, "qf_acc", kv, 1);
    cr_assert_str_neq(k0, k1, "the module");
    kv[0].value = 13;
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX, "qx_acc", kv, 1);
    cr_assert_str_neq(k0, k1, "a parameter");
    kv[0].value = 12;
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX, "qx_acc", kv, 2);
    cr_assert_str_neq(k0, k1, "one parameter more");
    /* The RTL: the same everything over another hash. */
    char saved[65];
    memcpy(saved, tool->rtl_hash, sizeof saved);
    tool->rtl_hash[0] = tool->rtl_hash[0] == '0' ? '1' : '0';
    hw_synth_key(k1, tool, "Yosys 0.23", HW_FLOW_XILINX, "qx_acc", kv, 1);
    memcpy(tool->rtl_hash, saved, sizeof saved);
    cr_assert_str_neq(k0, k1, "the RTL");
}

/* A directory store in a fresh temporary directory. */
struct tmp_store {
    char dir[64];
    struct hw_dirstore ds;
    struct hw_store st;
};

static void tmp_store(struct tmp_store *t)
{
    struct qc_err err;
    snprintf(t->dir, sizeof t->dir, "/tmp/qlab-cost-test-XXXXXX");
    cr_assert(mkdtemp(t->dir));
    cr_assert_eq(hw_dirstore_init(&t->ds, t->dir, &err), QC_OK, "%s", err.msg);
    hw_dirstore_bind(&t->st, &t->ds);
}

static void tmp_store_remove(struct tmp_store *t)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    cr_assert_eq(system(cmd), 0);
}

/* A small real unit: a 12-bit saturating accumulator, whose Xilinx figures
 * hw/calibrate.py committed to hw/cost-table.json (the Q6.6 row). */
#define SMALL_MAC "a=q6.6,b=q6.6,acc=q6.6"

/* make test's one real Yosys run of libqhw (the server's tests run the gate
 * flow): today's synthesis equals the committed one, made by hw/calibrate.py
 * at calibration time, so figures are deterministic across runs; stored,
 * it is found again without Yosys. */
Test(cost, yosys_runs_are_deterministic_stored_and_found, .init = tool_init, .fini = tool_fini,
     .timeout = 600)
{
    if (!tool->yosys[0])
        cr_skip_test("yosys is not installed (make deps installs it)");
    struct qc_mac m = mac_of(SMALL_MAC);
    struct hw_cost_opts o = {.units = 1u << HW_UNIT_ACC, .no_gates = true, .refresh = true};
    struct hw_cost_ctx ctx = {.tool = tool};
    struct hw_cost_stats st = {0};
    struct qc_err err;
    json_t *a = NULL, *c = NULL, *t = NULL, *committed = NULL;
    char path[PATH_MAX + 32];

    /* Synthesized (refresh), and stored. */
    struct tmp_store ts;
    tmp_store(&ts);
    ctx.store = &ts.st;
    cr_assert_eq(hw_cost_mac(&a, &ctx, &m, &o, &st, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(st.synthesized, 1, "the Xilinx flow, once");
    const json_t *acc = json_object_get(a, "accumulator");
    cr_assert_gt(json_integer_value(json_object_get(acc, "lut")), 0);
    cr_assert_eq(json_integer_value(json_object_get(acc, "ff")), 12, "the 12-bit register");
    cr_assert_str_eq(json_string_value(json_object_get(a, "source")), "synthesized");

    /* The committed table's figures of the same key: equal. */
    snprintf(path, sizeof path, "%s/cost-table.json", tool->dir);
    cr_assert_eq(hw_table_load(&committed, path, &err), QC_OK, "%s", err.msg);
    struct hw_cost_opts lo = {.units = 1u << HW_UNIT_ACC, .no_gates = true, .lookup_only = true};
    struct hw_cost_ctx cctx = {.tool = tool, .table = committed};
    cr_assert_eq(hw_cost_mac(&t, &cctx, &m, &lo, NULL, &err), QC_OK,
                 "%s (hw/calibrate.py puts the Q6.6 accumulator in the table)", err.msg);
    cr_assert(
        json_equal(json_object_get(t, "accumulator"), acc),
        "today's synthesis differs from the committed one (LUTs %lld vs %lld)",
        (long long)json_integer_value(json_object_get(acc, "lut")),
        (long long)json_integer_value(json_object_get(json_object_get(t, "accumulator"), "lut")));
    json_decref(committed);

    /* Then found in the store: no Yosys run. */
    o.refresh = false;
    json_t *collect = json_object();
    ctx.collect = collect;
    st = (struct hw_cost_stats){0};
    cr_assert_eq(hw_cost_mac(&c, &ctx, &m, &o, &st, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(st.synthesized, 0, "found in the store");
    cr_assert_eq(st.cached, 1);
    cr_assert_str_eq(json_string_value(json_object_get(c, "source")), "cache");
    json_object_del(c, "source");
    json_object_del(a, "source");
    cr_assert(json_equal(a, c), "the stored figures are the synthesized ones");
    cr_assert_eq(json_object_size(collect), 1, "the figure collected for --export");

    /* lookup_only on what is not there yet. */
    struct qc_mac other = mac_of("a=q5.6,b=q6.6,acc=q5.6");
    json_t *d = NULL;
    o.lookup_only = true;
    cr_assert_eq(hw_cost_mac(&d, &ctx, &other, &o, NULL, &err), QC_EUNAVAIL);
    cr_assert(strstr(err.msg, "not synthesized yet"), "%s", err.msg);

    /* A table of those figures answers with no store and no yosys. */
    json_t *table = json_pack("{ss sO}", "tool", tool->version, "entries", collect);
    char saved[PATH_MAX];
    memcpy(saved, tool->yosys, sizeof saved);
    tool->yosys[0] = '\0';
    tool->version[0] = '\0';
    struct hw_cost_ctx tctx = {.tool = tool, .table = table};
    json_t *e = NULL;
    int rc = hw_cost_mac(&e, &tctx, &m, &o, NULL, &err);
    memcpy(tool->yosys, saved, sizeof saved);
    cr_assert_eq(rc, QC_OK, "%s", err.msg);
    cr_assert(json_equal(json_object_get(e, "accumulator"), acc));
    cr_assert_str_eq(json_string_value(json_object_get(e, "tool")),
                     json_string_value(json_object_get(a, "tool")), "the table names its Yosys");
    json_decref(table);
    json_decref(collect);
    json_decref(a);
    json_decref(c);
    json_decref(t);
    json_decref(e);
    tmp_store_remove(&ts);
}

Test(cost, a_spec_sums_its_three_groups_and_names_what_is_missing, .init = tool_init,
     .fini = tool_fini)
{
    static struct qc_spec s;
    struct hw_cost_opts o = {.lookup_only = true};
    struct hw_cost_ctx ctx = {.tool = tool};
    struct qc_err err;
    json_t *c = NULL;

    /* Stochastic accumulator rounding in the backward GEMMs: unsupported,
     * the error names the field. */
    const char *doc = "{\"name\": \"sr\", \"model\": {\"arch\": \"mlp\", \"hidden\": [8]},"
                      " \"dataset\": {\"name\": \"synthetic\"},"
                      " \"arith\": {\"forward\": {\"mac\": {\"acc\": \"e6m5\"}},"
                      "  \"backward\": {\"mac\": {\"acc\": \"e6m5\", \"acc_rounding\": \"sr\"}}}}";
    cr_assert_eq(qc_spec_parse(&s, doc, strlen(doc), &err), QC_OK, "%s", err.msg);
    cr_assert_eq(hw_cost_spec(&c, &ctx, &s, &o, NULL, &err), QC_OK, "%s", err.msg);
    cr_assert_str_eq(json_string_value(json_object_get(c, "status")), "unsupported");
    cr_assert(json_is_null(json_object_get(c, "lut")), "no sum without every group");
    const json_t *g = json_object_get(json_object_get(c, "groups"), "grad_input");
    cr_assert_str_eq(json_string_value(json_object_get(g, "field")), "acc_rounding");
    g = json_object_get(json_object_get(c, "groups"), "forward");
    cr_assert(json_object_get(g, "pending"), "forward: lookup only, nothing synthesized");
    char macs[HW_SPEC_MACS_MAX][QC_MAC_TEXT_MAX];
    cr_assert_eq(hw_spec_macs(macs, HW_SPEC_MACS_MAX, &s), 2, "forward, and backward = wgrad");
    json_decref(c);
}
