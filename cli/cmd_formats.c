/* `qlab formats`: the traits of number formats, as an aligned table or as a
 * JSON array, generated from the core's parsed struct qc_format so that the
 * CLI, the docs and GET /api/v1/formats never disagree about a format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_util.h"
#include "qcore/format.h"

static const char usage[] =
    "usage: qlab formats [FMT...] [--wide | --json]\n\n"
    "Prints the traits of each format string FMT (any spelling: e4m7:bias=10:nosub,\n"
    "q8.13, mxfp4_e2m1@16, ...) or, without FMT, of every named format.\n\n"
    "  --wide     every trait (exponent range, fixed-point widths, inf/NaN,\n"
    "             modifiers, description), numbers as the shortest decimals that\n"
    "             read back exactly (about 240 columns)\n"
    "  --json     one JSON array of objects instead of the table; values that\n"
    "             do not apply to a format (bias of q8.13) are null\n"
    "  -h, --help this text\n\n"
    "The default table fits 100 columns: E/I and M/F are the exponent and\n"
    "mantissa bits of a float, or the integer and fraction bits of fixed point;\n"
    "the limits are rounded to 4 significant digits.\n";

/* The ':' modifiers in canonical order, for the modifiers column. */
static const struct {
    unsigned flag;
    const char *name;
} modifier_names[] = {
    {QC_FMTF_SAT, "sat"},
    {QC_FMTF_WRAP, "wrap"},
    {QC_FMTF_NOSUB, "nosub"},
    {QC_FMTF_DAZ, "daz"},
    {QC_FMTF_SAN, "subnormal-as-normal"},
    {QC_FMTF_FN, "fn"},
    {QC_FMTF_INF1, "inf1"},
    {QC_FMTF_FINITE, "finite"},
};

#define N_MODIFIER_NAMES ((int)(sizeof modifier_names / sizeof modifier_names[0]))

static const char *kind_name(enum qc_format_kind k)
{
    switch (k) {
    case QC_FMT_FLOAT:
        return "float";
    case QC_FMT_FIXED:
        return "fixed";
    case QC_FMT_INT:
        return "int";
    case QC_FMT_MX:
        return "mx";
    case QC_FMT_BFP:
        return "bfp";
    }
    return "?";
}

/* The alias description of a format's base name ("mxfp4_e2m1" for
 * "mxfp4_e2m1@16", "fp16" for "fp16:sat"); NULL for spelled-out formats. */
static const char *base_doc(const struct qc_format *f)
{
    char base[QC_FORMAT_NAME_MAX];

    snprintf(base, sizeof base, "%s", f->name);
    base[strcspn(base, ":@")] = '\0';
    return qc_format_alias_doc(base);
}

static bool is_block(const struct qc_format *f)
{
    return f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP;
}

/* The table: one header row and one row per format, columns padded to the
 * widest cell. The last column (a free-text description) is not padded. */
enum {
    COL_NAME,
    COL_KIND,
    COL_BITS,
    COL_E,
    COL_M,
    COL_BIAS,
    COL_EMIN,
    COL_EMAX,
    COL_IBITS,
    COL_FBITS,
    COL_MAX,
    COL_MINN,
    COL_MINS,
    COL_INF,
    COL_NAN,
    COL_BLOCK,
    COL_EEMAX,
    COL_MODS,
    COL_DOC,
    N_COLS
};

static const char *const col_titles[N_COLS] = {
    "NAME", "KIND",  "BITS",      "E",          "M",           "BIAS",          "EMIN",
    "EMAX", "I",     "F",         "MAX_FINITE", "MIN_NORMAL",  "MIN_SUBNORMAL", "INF",
    "NAN",  "BLOCK", "ELEM_EMAX", "MODIFIERS",  "DESCRIPTION",
};

#define CELL_MAX 200

struct row {
    char cell[N_COLS][CELL_MAX];
};

static void set_int(char *cell, bool applies, long v)
{
    if (applies)
        snprintf(cell, CELL_MAX, "%ld", v);
    else
        snprintf(cell, CELL_MAX, "-");
}

static void modifiers_text(char *out, size_t len, const struct qc_format *f)
{
    size_t n = 0;

    out[0] = '\0';
    if (f->flags & QC_FMTF_BIAS)
        n += (size_t)snprintf(out + n, len - n, "bias=%d", f->bias);
    for (int i = 0; i < N_MODIFIER_NAMES && n < len; i++)
        if (f->flags & modifier_names[i].flag)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", modifier_names[i].name);
}

static void fill_row(struct row *r, const struct qc_format *f)
{
    const bool fl = f->elem == QC_FMT_FLOAT;
    const char *doc = base_doc(f);

    snprintf(r->cell[COL_NAME], CELL_MAX, "%s", f->name);
    snprintf(r->cell[COL_KIND], CELL_MAX, "%s", kind_name(f->kind));
    set_int(r->cell[COL_BITS], true, f->bits);
    set_int(r->cell[COL_E], fl, f->ebits);
    set_int(r->cell[COL_M], fl, f->mbits);
    set_int(r->cell[COL_BIAS], fl, f->bias);
    set_int(r->cell[COL_EMIN], fl, f->emin);
    set_int(r->cell[COL_EMAX], fl, f->emax);
    set_int(r->cell[COL_IBITS], !fl, f->ibits);
    set_int(r->cell[COL_FBITS], !fl, f->fbits);
    cli_fmt_double(r->cell[COL_MAX], CELL_MAX, f->max_finite);
    cli_fmt_double(r->cell[COL_MINN], CELL_MAX, f->min_normal);
    cli_fmt_double(r->cell[COL_MINS], CELL_MAX, f->min_subnormal);
    snprintf(r->cell[COL_INF], CELL_MAX, "%s", f->has_inf ? "yes" : "no");
    snprintf(r->cell[COL_NAN], CELL_MAX, "%s", f->has_nan ? "yes" : "no");
    set_int(r->cell[COL_BLOCK], is_block(f), f->block);
    set_int(r->cell[COL_EEMAX], is_block(f), f->elem_emax);
    modifiers_text(r->cell[COL_MODS], CELL_MAX, f);
    if (!r->cell[COL_MODS][0])
        snprintf(r->cell[COL_MODS], CELL_MAX, "-");
    snprintf(r->cell[COL_DOC], CELL_MAX, "%s", doc ? doc : "");
}

/* The 100-column table's columns, in order, and where their cells come from. */
static const int narrow_cols[] = {COL_NAME, COL_KIND, COL_BITS, COL_E,    COL_M,    COL_BIAS,
                                  COL_EMAX, COL_MAX,  COL_MINN, COL_MINS, COL_BLOCK};
#define N_NARROW ((int)(sizeof narrow_cols / sizeof narrow_cols[0]))

static void write_narrow(struct cli_buf *b, const struct qc_format *fmts, int n)
{
    struct row *rows = calloc((size_t)n + 1, sizeof *rows);
    size_t width[N_NARROW] = {0};

    if (!rows) {
        b->oom = true;
        return;
    }
    for (int c = 0; c < N_NARROW; c++)
        snprintf(rows[0].cell[c], CELL_MAX, "%s", col_titles[narrow_cols[c]]);
    snprintf(rows[0].cell[3], CELL_MAX, "E/I");
    snprintf(rows[0].cell[4], CELL_MAX, "M/F");
    snprintf(rows[0].cell[9], CELL_MAX, "MIN_SUB");
    for (int i = 0; i < n; i++) {
        const struct qc_format *f = &fmts[i];
        const bool fl = f->elem == QC_FMT_FLOAT;
        struct row full;
        fill_row(&full, f);
        for (int c = 0; c < N_NARROW; c++)
            snprintf(rows[i + 1].cell[c], CELL_MAX, "%s", full.cell[narrow_cols[c]]);
        set_int(rows[i + 1].cell[3], true, fl ? f->ebits : f->ibits);
        set_int(rows[i + 1].cell[4], true, fl ? f->mbits : f->fbits);
        cli_fmt_human(rows[i + 1].cell[7], CELL_MAX, f->max_finite, 4);
        cli_fmt_human(rows[i + 1].cell[8], CELL_MAX, f->min_normal, 4);
        cli_fmt_human(rows[i + 1].cell[9], CELL_MAX, f->min_subnormal, 4);
    }
    for (int i = 0; i <= n; i++)
        for (int c = 0; c < N_NARROW; c++)
            if (strlen(rows[i].cell[c]) > width[c])
                width[c] = strlen(rows[i].cell[c]);
    for (int i = 0; i <= n; i++) {
        for (int c = 0; c < N_NARROW; c++)
            cli_buf_printf(b, c < 2 ? "%-*s%s" : "%*s%s", (int)width[c], rows[i].cell[c],
                           c < N_NARROW - 1 ? "  " : "\n");
    }
    free(rows);
}

static void write_table(struct cli_buf *b, const struct qc_format *fmts, int n)
{
    struct row *rows = calloc((size_t)n + 1, sizeof *rows);
    size_t width[N_COLS] = {0};

    if (!rows) {
        b->oom = true;
        return;
    }
    for (int c = 0; c < N_COLS; c++)
        snprintf(rows[0].cell[c], CELL_MAX, "%s", col_titles[c]);
    for (int i = 0; i < n; i++)
        fill_row(&rows[i + 1], &fmts[i]);
    for (int i = 0; i <= n; i++)
        for (int c = 0; c < N_COLS; c++)
            if (strlen(rows[i].cell[c]) > width[c])
                width[c] = strlen(rows[i].cell[c]);
    for (int i = 0; i <= n; i++) {
        /* Text columns are left-aligned, numbers right-aligned. */
        for (int c = 0; c < N_COLS - 1; c++) {
            const bool left =
                c == COL_NAME || c == COL_KIND || c == COL_INF || c == COL_NAN || c == COL_MODS;
            cli_buf_printf(b, left ? "%-*s  " : "%*s  ", (int)width[c], rows[i].cell[c]);
        }
        cli_buf_printf(b, "%s", rows[i].cell[N_COLS - 1]);
        /* No trailing blanks when the last column is empty. */
        while (b->len > 0 && b->data[b->len - 1] == ' ')
            b->data[--b->len] = '\0';
        cli_buf_printf(b, "\n");
    }
    free(rows);
}

static void json_int(struct cli_buf *b, const char *key, bool applies, long v)
{
    if (applies)
        cli_buf_printf(b, ",\"%s\":%ld", key, v);
    else
        cli_buf_printf(b, ",\"%s\":null", key);
}

static void json_double(struct cli_buf *b, const char *key, double v)
{
    cli_buf_printf(b, ",\"%s\":", key);
    cli_buf_double(b, v);
}

static void write_json(struct cli_buf *b, const struct qc_format *fmts, int n)
{
    cli_buf_printf(b, "[");
    for (int i = 0; i < n; i++) {
        const struct qc_format *f = &fmts[i];
        const bool fl = f->elem == QC_FMT_FLOAT;
        bool first = true;

        cli_buf_printf(b, "%s\n{\"name\":", i ? "," : "");
        cli_buf_json_str(b, f->name);
        cli_buf_printf(b, ",\"kind\":\"%s\",\"elem_kind\":\"%s\"", kind_name(f->kind),
                       kind_name(f->elem));
        json_int(b, "bits", true, f->bits);
        json_int(b, "ebits", fl, f->ebits);
        json_int(b, "mbits", fl, f->mbits);
        json_int(b, "bias", fl, f->bias);
        json_int(b, "emin", fl, f->emin);
        json_int(b, "emax", fl, f->emax);
        json_int(b, "ibits", !fl, f->ibits);
        json_int(b, "fbits", !fl, f->fbits);
        json_double(b, "max_finite", f->max_finite);
        json_double(b, "min_normal", f->min_normal);
        json_double(b, "min_subnormal", f->min_subnormal);
        cli_buf_printf(b, ",\"has_inf\":%s,\"has_nan\":%s", f->has_inf ? "true" : "false",
                       f->has_nan ? "true" : "false");
        cli_buf_printf(b, ",\"flags\":%u,\"modifiers\":[", f->flags);
        if (f->flags & QC_FMTF_BIAS) {
            cli_buf_printf(b, "\"bias=%d\"", f->bias);
            first = false;
        }
        for (int m = 0; m < N_MODIFIER_NAMES; m++) {
            if (!(f->flags & modifier_names[m].flag))
                continue;
            cli_buf_printf(b, "%s", first ? "" : ",");
            cli_buf_json_str(b, modifier_names[m].name);
            first = false;
        }
        cli_buf_printf(b, "]");
        json_int(b, "block", is_block(f), f->block);
        json_int(b, "elem_emax", is_block(f), f->elem_emax);
        cli_buf_printf(b, ",\"doc\":");
        cli_buf_json_str(b, base_doc(f));
        cli_buf_printf(b, "}");
    }
    cli_buf_printf(b, "%s]\n", n ? "\n" : "");
}

int cli_cmd_formats(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"wide", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    bool wide = false;
    struct qc_format *fmts = NULL;
    struct cli_buf out;
    struct qc_err err;
    bool json = false;
    int n = 0, c, rc = 0;

    if (cli_wants_help(argc, argv))
        return cli_print_help(usage);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":jh", longopts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'w')
            wide = true;
        else
            return cli_fail_opt(cmd, c, argv);
    }

    const int nargs = argc - optind;
    const int count = nargs > 0 ? nargs : qc_format_name_count();
    cli_buf_init(&out);
    qc_err_clear(&err);
    fmts = calloc(count > 0 ? (size_t)count : 1, sizeof *fmts);
    if (!fmts) {
        rc = cli_fail(cmd, QC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < count; i++) {
        const char *s = nargs > 0 ? argv[optind + i] : qc_format_name_at(i);
        int qrc = qc_format_parse(&fmts[n], s, &err);
        if (qrc) {
            rc = cli_fail_err(cmd, NULL, &err);
            goto out;
        }
        n++;
    }
    if (json && wide) {
        rc = cli_fail(cmd, QC_EINVAL, "--wide and --json: pick one");
        goto out;
    }
    if (json)
        write_json(&out, fmts, n);
    else if (wide)
        write_table(&out, fmts, n);
    else
        write_narrow(&out, fmts, n);
    if (out.oom) {
        rc = cli_fail(cmd, QC_ENOMEM, "out of memory");
        goto out;
    }
    if (cli_write_all(1, out.data, out.len, "stdout", &err))
        rc = cli_fail_err(cmd, NULL, &err);
out:
    free(fmts);
    cli_buf_free(&out);
    return rc;
}
