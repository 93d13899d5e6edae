/* Spec -> per-GEMM-group MAC costs and the run's headline figures. */
#include "hw_spec.h"

#include <stdio.h>
#include <string.h>

static const char *const group_names[QC_GEMM_GROUPS] = {"forward", "grad_input", "grad_weight"};

int hw_spec_macs(char (*out)[QC_MAC_TEXT_MAX], int max, const struct qc_spec *s)
{
    int n = 0;
    char text[QC_MAC_TEXT_MAX];

    for (int l = -1; l < s->arith.nlayers; l++) {
        struct qc_nn_arith a;
        struct qc_err err;
        if (l < 0)
            a = s->arith.base;
        else if (qc_spec_layer_arith(&a, s, s->arith.layers[l].name, &err))
            continue;
        for (int g = 0; g < QC_GEMM_GROUPS; g++) {
            qc_mac_describe(&a.mac[g], text, sizeof text);
            bool seen = false;
            for (int i = 0; i < n && !seen; i++)
                seen = strcmp(out[i], text) == 0;
            if (!seen && n < max)
                snprintf(out[n++], QC_MAC_TEXT_MAX, "%s", text);
        }
    }
    return n;
}

enum { ST_OK = 0, ST_PENDING = 1, ST_UNAVAILABLE = 2, ST_UNSUPPORTED = 3 };

static const char *const status_names[4] = {"ok", "pending", "unavailable", "unsupported"};

/* One group's entry; adds to the sums and raises *status (ST_*) to what
 * stands in the way of a figure, if anything. */
static int group_cost(json_t **out, const struct hw_cost_ctx *c, const struct qc_mac *m,
                      const struct hw_cost_opts *o, struct hw_cost_stats *st, double sums[5],
                      bool *have_cal, int *status, json_t **meta, struct qc_err *err)
{
    char text[QC_MAC_TEXT_MAX];
    json_t *cost = NULL;
    struct qc_err e;
    int rc;

    qc_mac_describe(m, text, sizeof text);
    rc = hw_cost_mac(&cost, c, m, o, st, &e);
    if (rc == QC_EINVAL || rc == QC_EUNAVAIL) {
        /* Without yosys nothing will synthesize it here: unavailable. */
        const int why = rc == QC_EINVAL     ? ST_UNSUPPORTED
                        : c->tool->yosys[0] ? ST_PENDING
                                            : ST_UNAVAILABLE;
        if (*status < why)
            *status = why;
        if (why == ST_UNSUPPORTED)
            *out = json_pack("{ss ss ss}", "mac", text, "error", e.msg, "field", e.field);
        else
            *out = json_pack("{ss ss}", "mac", text, "pending", e.msg);
        return *out ? QC_OK : qc_err_set(err, QC_ENOMEM, "", "out of memory");
    }
    if (rc) {
        *err = e;
        return rc;
    }
    const json_t *mac = json_object_get(cost, "mac");
    const json_t *cal = json_object_get(json_object_get(cost, "calibrated"), "mac");
    static const char *const keys[4] = {"lut", "ff", "dsp", "gates"};
    *out = json_pack("{ss}", "mac", text);
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(mac, keys[i]);
        sums[i] += (double)json_integer_value(v);
        json_object_set(*out, keys[i], v ? v : json_null());
    }
    if (cal && json_object_get(cal, "lut")) {
        json_object_set(*out, "lut_calibrated", json_object_get(cal, "lut"));
        sums[4] += (double)json_integer_value(json_object_get(cal, "lut"));
    } else {
        *have_cal = false;
    }
    if (!*meta)
        *meta = json_incref(cost);
    json_decref(cost);
    return QC_OK;
}

int hw_cost_spec(json_t **out, const struct hw_cost_ctx *c, const struct qc_spec *s,
                 const struct hw_cost_opts *o, struct hw_cost_stats *st, struct qc_err *err)
{
    struct hw_cost_stats local = {0};
    double sums[5] = {0}, scratch[5] = {0};
    bool have_cal = true, scratch_cal = true;
    int status = 0, rc = QC_OK;
    json_t *groups = json_object(), *layers = json_object(), *meta = NULL;

    *out = NULL;
    if (!st)
        st = &local;
    const int before = st->synthesized;
    for (int g = 0; g < QC_GEMM_GROUPS && !rc; g++) {
        json_t *e = NULL;
        rc = group_cost(&e, c, &s->arith.base.mac[g], o, st, sums, &have_cal, &status, &meta, err);
        if (e)
            json_object_set_new(groups, group_names[g], e);
    }
    for (int l = 0; l < s->arith.nlayers && !rc; l++) {
        struct qc_nn_arith a;
        struct qc_err e0;
        json_t *lo = json_object();
        if (qc_spec_layer_arith(&a, s, s->arith.layers[l].name, &e0) == QC_OK) {
            for (int g = 0; g < QC_GEMM_GROUPS && !rc; g++) {
                char x[QC_MAC_TEXT_MAX], y[QC_MAC_TEXT_MAX];
                if (strcmp(qc_mac_describe(&a.mac[g], x, sizeof x),
                           qc_mac_describe(&s->arith.base.mac[g], y, sizeof y)) == 0)
                    continue;
                json_t *e = NULL;
                int ignore = 0;
                rc =
                    group_cost(&e, c, &a.mac[g], o, st, scratch, &scratch_cal, &ignore, &meta, err);
                if (e)
                    json_object_set_new(lo, group_names[g], e);
            }
        }
        if (json_object_size(lo))
            json_object_set(layers, s->arith.layers[l].name, lo);
        json_decref(lo);
    }
    if (rc)
        goto out;
    const char *names[5] = {"lut", "ff", "dsp", "gates", "lut_calibrated"};
    *out = json_object();
    for (int i = 0; i < 5; i++)
        json_object_set_new(*out, names[i],
                            status == ST_OK && (i < 4 || have_cal)
                                ? json_integer((json_int_t)sums[i])
                                : json_null());
    json_object_set(*out, "groups", groups);
    json_object_set(*out, "layers", layers);
    json_object_set_new(
        *out, "tool",
        json_string(meta ? json_string_value(json_object_get(meta, "tool")) : c->tool->version));
    json_object_set_new(*out, "rtl", json_string(c->tool->rtl_hash));
    json_object_set_new(*out, "status", json_string(status_names[status]));
    json_object_set_new(*out, "source",
                        json_string(st->synthesized > before ? "synthesized" : "cache"));
out:
    json_decref(groups);
    json_decref(layers);
    json_decref(meta);
    return rc;
}
