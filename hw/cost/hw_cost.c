/* The cost of one MAC configuration, assembled from per-unit synthesis
 * runs (each cached on its own key) and calibrated (docs/cost.md). */
#include "hw_cost.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int collected(json_t *fig, const struct hw_cost_ctx *c, const char *key, struct qc_err *err)
{
    if (c->collect && json_object_set(c->collect, key, fig))
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    return QC_OK;
}

/* The figures of one run: the store, the committed table, else Yosys. */
static int figures(json_t **out, const struct hw_cost_ctx *c, const struct hw_cost_opts *o,
                   enum hw_flow flow, const char *module, const struct hw_kv *kv, int nkv,
                   struct hw_cost_stats *st, struct qc_err *err)
{
    const char *version = c->tool->version;
    char key[65];
    int rc;

    if (!version[0] && c->table) /* no yosys here: the table's figures still apply */
        version = json_string_value(json_object_get(c->table, "tool"));
    hw_synth_key(key, c->tool, version ? version : "", flow, module, kv, nkv);
    if (!o->refresh) {
        if (c->store && c->store->get(c->store->ctx, key, out) == QC_OK) {
            st->cached++;
            return collected(*out, c, key, err);
        }
        const json_t *row = c->table ? hw_table_get(c->table, key) : NULL;
        if (row) {
            st->cached++;
            if (!(*out = json_deep_copy(row)))
                return qc_err_set(err, QC_ENOMEM, "", "out of memory");
            return collected(*out, c, key, err);
        }
    }
    if (o->lookup_only)
        return qc_err_set(err, QC_EUNAVAIL, "", "%s (%s) is not synthesized yet", module,
                          hw_flow_name(flow));
    rc = hw_synth_run(out, c->tool, flow, module, kv, nkv,
                      o->timeout_s > 0 ? o->timeout_s : HW_TIMEOUT_DEFAULT, o->cancel, err);
    if (rc)
        return rc;
    st->synthesized++;
    st->seconds += json_real_value(json_object_get(*out, "seconds"));
    if (c->store)
        c->store->put(c->store->ctx, key, *out); /* a failed put only costs a rerun */
    return collected(*out, c, key, err);
}

static json_int_t geti(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* One unit: Xilinx figures (and the all-LUT ones where DSPs were used),
 * generic gates unless `gates` is false. NULL in *out when the
 * configuration has no such unit. */
static int unit_cost(json_t **out, const struct hw_cost_ctx *c, const struct hw_cost_opts *o,
                     const struct hw_params *p, enum hw_unit unit, int rows, int cols, bool gates,
                     struct hw_cost_stats *st, struct qc_err *err)
{
    struct hw_kv kv[HW_KV_MAX];
    const char *module = NULL;
    json_t *x = NULL, *nd = NULL, *g = NULL;
    int rc;

    *out = NULL;
    const int nkv = hw_unit_params(p, unit, rows, cols, &module, kv);
    if (nkv == 0)
        return QC_OK;
    if ((rc = figures(&x, c, o, HW_FLOW_XILINX, module, kv, nkv, st, err)))
        goto out;
    /* Without DSP blocks in the first place, -nodsp maps the same netlist. */
    if (geti(x, "dsp") > 0 &&
        (rc = figures(&nd, c, o, HW_FLOW_XILINX_NODSP, module, kv, nkv, st, err)))
        goto out;
    if (gates && (rc = figures(&g, c, o, HW_FLOW_GATES, module, kv, nkv, st, err)))
        goto out;
    *out =
        json_pack("{sI sI sI sI sI}", "lut", geti(x, "lut"), "ff", geti(x, "ff"), "carry",
                  geti(x, "carry"), "dsp", geti(x, "dsp"), "lut_nodsp", geti(nd ? nd : x, "lut"));
    if (*out && g)
        json_object_set_new(*out, "gates", json_integer(geti(g, "gates")));
    if (!*out)
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
out:
    json_decref(x);
    json_decref(nd);
    json_decref(g);
    return rc;
}

/* A new reference to `v`, or null. */
static json_t *or_null(json_t *v)
{
    return v ? json_incref(v) : json_null();
}

static const char *kind_name(int kind)
{
    return kind == HW_KIND_FLOAT ? "float" : kind == HW_KIND_CONV ? "float-to-fixed" : "fixed";
}

/* class -> {"scale", "error"} of the calibration, or NULL. */
static const json_t *calib_class(const json_t *calib, const char *cls)
{
    return json_object_get(json_object_get(calib, "lut"), cls);
}

/* A class's model: scale x raw^exponent (exponent 1 when absent). */
static double apply_model(const json_t *k, double raw)
{
    const json_t *e = json_object_get(k, "exponent");
    return json_number_value(json_object_get(k, "scale")) *
           pow(raw, e ? json_number_value(e) : 1.0);
}

static json_t *calibrated_unit(const json_t *calib, const char *cls, const json_t *unit,
                               double *sum)
{
    const json_t *k = calib_class(calib, cls);
    if (!unit || !k)
        return json_null();
    double v = apply_model(k, (double)geti(unit, "lut"));
    *sum += v;
    return json_pack("{sI sf ss}", "lut", (json_int_t)lround(v), "error",
                     json_number_value(json_object_get(k, "error")), "class", cls);
}

static json_t *calibrated(const json_t *calib, const struct hw_tool *t, int kind, json_t *mul,
                          json_t *acc, json_t *conv, json_t *mac, json_t *array)
{
    double sum = 0;
    if (!calib)
        return json_null();
    json_t *r = json_object();
    json_object_set_new(r, "multiplier", calibrated_unit(calib, "multiplier", mul, &sum));
    json_object_set_new(
        r, "accumulator",
        calibrated_unit(calib, kind == HW_KIND_FLOAT ? "float_accumulator" : "fixed_accumulator",
                        acc, &sum));
    json_object_set_new(r, "converter", calibrated_unit(calib, "converter", conv, &sum));
    json_t *m = json_pack("{sI}", "lut", (json_int_t)lround(sum));
    const json_t *g = json_object_get(calib, "gates");
    if (g && json_object_get(mac, "gates"))
        json_object_set_new(m, "gates",
                            json_integer(lround(json_number_value(json_object_get(g, "scale")) *
                                                (double)geti(mac, "gates"))));
    json_object_set_new(r, "mac", m);
    const json_t *a = json_object_get(calib, "array");
    if (a)
        json_object_set_new(
            r, "array",
            json_pack("{sI sf}", "lut",
                      (json_int_t)lround(json_number_value(json_object_get(a, "overhead")) +
                                         json_number_value(json_object_get(a, "scale")) *
                                             (double)geti(array, "lut")),
                      "error", json_number_value(json_object_get(a, "error"))));
    const char *rtl = json_string_value(json_object_get(calib, "rtl"));
    json_object_set_new(r, "rtl_match", json_boolean(rtl && strcmp(rtl, t->rtl_hash) == 0));
    return r;
}

int hw_cost_mac(json_t **out, const struct hw_cost_ctx *c, const struct qc_mac *m,
                const struct hw_cost_opts *o, struct hw_cost_stats *st, struct qc_err *err)
{
    struct hw_params p;
    struct hw_cost_stats local = {0};
    json_t *u[HW_UNIT_COUNT] = {NULL};
    char text[QC_MAC_TEXT_MAX * 2];
    int rc;

    *out = NULL;
    if (!st)
        st = &local;
    const int rows = o->rows > 0 ? o->rows : HW_ROWS_DEFAULT;
    const int cols = o->cols > 0 ? o->cols : HW_COLS_DEFAULT;
    if ((rc = hw_params_from_mac(&p, m, err)))
        return rc;
    const int before = st->synthesized;
    unsigned want = o->units ? o->units : HW_UNITS_ALL;
    if ((want & (1u << HW_UNIT_ARRAY)) && !o->synth_array)
        want |= 1u << HW_UNIT_MAC;
    for (int i = 0; i < HW_UNIT_COUNT; i++) {
        if (!(want & (1u << i)) || (i == HW_UNIT_ARRAY && !o->synth_array))
            continue;
        if ((rc = unit_cost(&u[i], c, o, &p, (enum hw_unit)i, rows, cols,
                            i != HW_UNIT_ARRAY && !o->no_gates, st, err)))
            goto out;
    }
    json_t *array = json_null();
    if (want & (1u << HW_UNIT_ARRAY)) {
        const json_t *src = o->synth_array ? u[HW_UNIT_ARRAY] : u[HW_UNIT_MAC];
        const json_int_t k = o->synth_array ? 1 : (json_int_t)rows * cols;
        array = json_pack("{si si sI sI sI sI ss}", "rows", rows, "cols", cols, "lut",
                          k * geti(src, "lut"), "ff", k * geti(src, "ff"), "carry",
                          k * geti(src, "carry"), "dsp", k * geti(src, "dsp"), "method",
                          o->synth_array ? "synthesized" : "mac x rows x cols");
    }
    const char *version = c->tool->version[0]
                              ? c->tool->version
                              : json_string_value(json_object_get(c->table, "tool"));
    *out = json_pack(
        "{ss ss so so so so so so s{si si si si si si si} ss ss ss ss}", "mac_config",
        qc_mac_describe(m, text, sizeof text), "kind", kind_name(p.p[HW_P_KIND]), "mac",
        or_null(u[HW_UNIT_MAC]), "multiplier", or_null(u[HW_UNIT_MUL]), "accumulator",
        or_null(u[HW_UNIT_ACC]), "converter", or_null(u[HW_UNIT_CONV]), "array", array,
        "calibrated",
        want == HW_UNITS_ALL ? calibrated(c->calib, c->tool, p.p[HW_P_KIND], u[HW_UNIT_MUL],
                                          u[HW_UNIT_ACC], u[HW_UNIT_CONV], u[HW_UNIT_MAC], array)
                             : json_null(),
        "gate_weights", "and2", HW_W_AND, "or2", HW_W_OR, "xor2", HW_W_XOR, "not", HW_W_NOT, "mux2",
        HW_W_MUX, "half_adder", HW_W_HA, "full_adder", HW_W_FA, "tool", version ? version : "",
        "flow",
        "synth_xilinx -family xcup -noiopad (hw/syn/xilinx.ys); generic gates "
        "(hw/syn/gates.ys)",
        "rtl", c->tool->rtl_hash, "source", st->synthesized > before ? "synthesized" : "cache");
    if (!*out)
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
out:
    for (int i = 0; i < HW_UNIT_COUNT; i++)
        json_decref(u[i]);
    return rc;
}

int hw_calib_load(json_t **out, const struct hw_tool *t, struct qc_err *err)
{
    char p[PATH_MAX + 32];
    json_error_t jerr;

    *out = NULL;
    snprintf(p, sizeof p, "%s/calibration.json", t->dir);
    if (access(p, F_OK))
        return QC_OK;
    if (!(*out = json_load_file(p, 0, &jerr)))
        return qc_err_set(err, QC_ECORRUPT, "", "%s:%d: %s", p, jerr.line, jerr.text);
    return QC_OK;
}
