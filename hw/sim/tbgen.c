/* qlab-tbgen: writes a Verilator test bench for hw/rtl/ from a list of MAC
 * configurations, one unit instance per line:
 *
 *     mul   cfg=5,a=e5m2,b=e5m2
 *     mac   cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=32
 *     array 4x3 cfg=5,a=e5m2,b=e5m2,acc=e6m5
 *     systolic 16x4 cfg=5,a=e5m2,b=e5m2,acc=e6m5   (qsystolic, its sequencer's ports)
 *
 * Each configuration goes through hw_params_from_mac, the mapping synthesis
 * uses, so the benches test exactly the parameters that are synthesized.
 * Output: OUT.sv (module `basename OUT` with the ports of every instance
 * packed into `in` and `out`) and OUT_map.h (where each port lies). A file
 * whose content would not change is left untouched, so that make does not
 * re-verilate a bench for nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/cost/hw_params.h"
#include "hw/sim/tb.h"

#define LINE_MAX_ 1024
#define INST_MAX  64

struct port_def {
    const char *name;
    int out, width;
};

struct inst {
    char unit[12];
    char mac[QC_MAC_TEXT_MAX];
    int rows, cols;
    const char *module;
    struct hw_kv kv[HW_KV_MAX];
    int nkv;
    int nports;
    struct port_def ports[TB_PORTS_MAX];
    int off[TB_PORTS_MAX];
};

static int add_port(struct inst *t, const char *name, int out, int width)
{
    t->ports[t->nports++] = (struct port_def){.name = name, .out = out, .width = width};
    return 0;
}

/* The ports of one instance, from its parameters. */
static void define_ports(struct inst *t, const struct hw_params *h)
{
    const int *p = h->p;
    if (strcmp(t->unit, "mul") == 0) {
        add_port(t, "a", 0, p[HW_P_AW]);
        add_port(t, "b", 0, p[HW_P_BW]);
        if (p[HW_P_KIND] == HW_KIND_FIXED) {
            add_port(t, "q", 1, p[HW_P_CW]);
        } else {
            add_port(t, "sign", 1, 1);
            add_port(t, "zero", 1, 1);
            add_port(t, "inf", 1, 1);
            add_port(t, "nan", 1, 1);
            add_port(t, "exp", 1, p[HW_P_XW]);
            add_port(t, "sig", 1, p[HW_P_PW]);
        }
        add_port(t, "ovf", 1, 1);
        add_port(t, "unf", 1, 1);
        return;
    }
    if (strcmp(t->unit, "systolic") == 0) {
        const int n = t->rows * t->cols;
        add_port(t, "start", 0, 1);
        add_port(t, "k", 0, 16);
        add_port(t, "chunk", 0, 16);
        add_port(t, "tiles", 0, 16);
        add_port(t, "a", 0, p[HW_P_AW] * t->rows);
        add_port(t, "b", 0, p[HW_P_BW] * t->cols);
        add_port(t, "kk", 1, 16);
        add_port(t, "tile", 1, 16);
        add_port(t, "done", 1, 1);
        add_port(t, "fin", 1, n);
        add_port(t, "res", 1, p[HW_P_CW] * n);
        add_port(t, "res_nan", 1, n);
        return;
    }
    const int n = strcmp(t->unit, "array") == 0 ? t->rows * t->cols : 1;
    add_port(t, "op", 0, 2);
    add_port(t, "a", 0, p[HW_P_AW] * (n > 1 ? t->rows : 1));
    add_port(t, "b", 0, p[HW_P_BW] * (n > 1 ? t->cols : 1));
    add_port(t, "res", 1, p[HW_P_CW] * n);
    add_port(t, "res_nan", 1, n);
    add_port(t, "ev_ovf", 1, 3 * n);
    add_port(t, "ev_unf", 1, 3 * n);
    add_port(t, "ev_swamp", 1, n);
}

static int parse_line(struct inst *t, char *line, const char *where)
{
    char *save = NULL;
    char *unit = strtok_r(line, " \t\n", &save);
    char *arg = strtok_r(NULL, " \t\n", &save);
    struct qc_mac m;
    struct qc_err err;
    struct hw_params h;

    memset(t, 0, sizeof *t);
    if (!unit || !arg || strlen(unit) >= sizeof t->unit) {
        fprintf(stderr, "qlab-tbgen: %s: expected 'UNIT [RxC] MAC'\n", where);
        return -1;
    }
    snprintf(t->unit, sizeof t->unit, "%s", unit);
    if (strcmp(unit, "array") == 0 || strcmp(unit, "systolic") == 0) {
        if (sscanf(arg, "%dx%d", &t->rows, &t->cols) != 2 || t->rows < 1 || t->cols < 1) {
            fprintf(stderr, "qlab-tbgen: %s: array shape '%s' is not RxC\n", where, arg);
            return -1;
        }
        arg = strtok_r(NULL, " \t\n", &save);
    } else if (strcmp(unit, "mul") && strcmp(unit, "mac")) {
        fprintf(stderr, "qlab-tbgen: %s: unit '%s' is not mul, mac, array or systolic\n", where,
                unit);
        return -1;
    }
    if (!arg || strlen(arg) >= sizeof t->mac) {
        fprintf(stderr, "qlab-tbgen: %s: missing or too long MAC string\n", where);
        return -1;
    }
    snprintf(t->mac, sizeof t->mac, "%s", arg);
    if (qc_mac_parse(&m, t->mac, &err) || hw_params_from_mac(&h, &m, &err)) {
        fprintf(stderr, "qlab-tbgen: %s: %s\n", where, err.msg);
        return -1;
    }
    const enum hw_unit u = strcmp(unit, "mul") == 0   ? HW_UNIT_MUL
                           : strcmp(unit, "mac") == 0 ? HW_UNIT_MAC
                                                      : HW_UNIT_ARRAY;
    t->nkv = hw_unit_params(&h, u, t->rows, t->cols, &t->module, t->kv);
    if (strcmp(unit, "systolic") == 0)
        t->module = "qsystolic"; /* qarray's parameters, the systolic top */
    define_ports(t, &h);
    return 0;
}

/* Writes `text` to `path` unless the file already holds exactly that. */
static int write_if_changed(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (f) {
        char *old = malloc(len + 1);
        size_t got = old ? fread(old, 1, len + 1, f) : 0;
        fclose(f);
        bool same = old && got == len && memcmp(old, text, len) == 0;
        free(old);
        if (same)
            return 0;
    }
    f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "qlab-tbgen: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct inst insts[INST_MAX];
    char line[LINE_MAX_], where[LINE_MAX_ + 64], path[4096];
    int n = 0, lineno = 0, in_w = 1, out_w = 0; /* in bit 0 is the clock */

    if (argc != 3) {
        fprintf(stderr, "usage: qlab-tbgen LIST OUT (writes OUT.sv and OUT_map.h)\n");
        return 2;
    }
    FILE *lf = fopen(argv[1], "r");
    if (!lf) {
        fprintf(stderr, "qlab-tbgen: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof line, lf)) {
        lineno++;
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || *s == '\0')
            continue;
        if (n == INST_MAX) {
            fprintf(stderr, "qlab-tbgen: %s: more than %d instances\n", argv[1], INST_MAX);
            fclose(lf);
            return 1;
        }
        snprintf(where, sizeof where, "%s:%d", argv[1], lineno);
        if (parse_line(&insts[n], s, where)) {
            fclose(lf);
            return 1;
        }
        struct inst *t = &insts[n++];
        for (int i = 0; i < t->nports; i++) {
            int *w = t->ports[i].out ? &out_w : &in_w;
            t->off[i] = *w;
            *w += t->ports[i].width;
        }
    }
    fclose(lf);
    /* At least 65 bits each: Verilator then always makes them VlWide. */
    in_w = in_w < 65 ? 65 : in_w;
    out_w = out_w < 65 ? 65 : out_w;

    const char *name = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
    size_t cap = 1 << 20, len = 0;
    char *sv = malloc(cap), *hd = malloc(cap);
    if (!sv || !hd)
        return 1;
#define OUT(buf, ...) (len += (size_t)snprintf(buf + len, cap - len, __VA_ARGS__))
    OUT(sv, "// Generated by qlab-tbgen from %s: do not edit.\n", argv[1]);
    OUT(sv, "module %s (\n    input  logic [%d:0] in,\n    output logic [%d:0] out\n);\n", name,
        in_w - 1, out_w - 1);
    OUT(sv, "    logic clk;\n    assign clk = in[0];\n");
    for (int i = 0; i < n; i++) {
        struct inst *t = &insts[i];
        OUT(sv, "    // %s %s\n    %s #(", t->unit, t->mac, t->module);
        for (int k = 0; k < t->nkv; k++)
            OUT(sv, "%s.%s(%d)", k ? ", " : "", t->kv[k].name, t->kv[k].value);
        OUT(sv, ") u%d (", i);
        if (strcmp(t->unit, "mul"))
            OUT(sv, ".clk(clk), ");
        for (int k = 0; k < t->nports; k++)
            OUT(sv, "%s.%s(%s[%d +: %d])", k ? ", " : "", t->ports[k].name,
                t->ports[k].out ? "out" : "in", t->off[k], t->ports[k].width);
        OUT(sv, ");\n");
    }
    OUT(sv, "endmodule\n");
    size_t sv_len = len;

    len = 0;
    OUT(hd, "/* Generated by qlab-tbgen from %s: do not edit. */\n", argv[1]);
    OUT(hd, "#define %s_N %d\n", name, n);
    OUT(hd, "static const struct tb_inst %s_insts[%d] = {\n", name, n);
    for (int i = 0; i < n; i++) {
        struct inst *t = &insts[i];
        OUT(hd, "    {.unit = \"%s\", .mac = \"%s\", .rows = %d, .cols = %d, .nports = %d,\n",
            t->unit, t->mac, t->rows, t->cols, t->nports);
        OUT(hd, "     .ports = {");
        for (int k = 0; k < t->nports; k++)
            OUT(hd, "%s{\"%s\", %d, %d, %d}", k ? ", " : "", t->ports[k].name, t->ports[k].out,
                t->off[k], t->ports[k].width);
        OUT(hd, "}},\n");
    }
    OUT(hd, "};\n");
#undef OUT
    int rc = 0;
    snprintf(path, sizeof path, "%s.sv", argv[2]);
    rc |= write_if_changed(path, sv, sv_len);
    snprintf(path, sizeof path, "%s_map.h", argv[2]);
    rc |= write_if_changed(path, hd, len);
    free(sv);
    free(hd);
    return rc ? 1 : 0;
}
