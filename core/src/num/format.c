/* Format strings -> struct qc_format, traits, and code <-> value conversion.
 *
 * Named formats are rows of `aliases`; everything else is spelled out
 * (eXmY, qM.N, intN, bfpN) and shares the same trait computation, so a new
 * named format is a new row. */
#include "qcore/format.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every value of every format must be an exact double: that is the API's
 * value type, and what lets the exact reference compare bit for bit. */
#define DOUBLE_EMAX    1023
#define DOUBLE_LSB_EXP (-1074)
#define FIXED_MAX_BITS 53

/* A modifier that keeps the top exponent code for normals but reserves
 * nothing in it: OCP FP6/FP4 elements. It exists so that every alias
 * (mxfp6_e3m2's elements, ...) stays expressible as a string. */
#define MOD_FINITE "finite"

struct alias {
    const char *name;
    enum qc_format_kind kind;
    enum qc_format_kind elem;
    int ebits, mbits;
    int ibits; /* int elements */
    unsigned flags;
    const char *doc;
};

static const struct alias aliases[] = {
    {.name = "fp64", .kind = QC_FMT_FLOAT, .ebits = 11, .mbits = 52, .doc = "IEEE 754 binary64"},
    {.name = "fp32", .kind = QC_FMT_FLOAT, .ebits = 8, .mbits = 23, .doc = "IEEE 754 binary32"},
    {.name = "tf32",
     .kind = QC_FMT_FLOAT,
     .ebits = 8,
     .mbits = 10,
     .doc = "NVIDIA TensorFloat-32 (fp32 range, fp16 precision)"},
    {.name = "bf16", .kind = QC_FMT_FLOAT, .ebits = 8, .mbits = 7, .doc = "bfloat16"},
    {.name = "fp16", .kind = QC_FMT_FLOAT, .ebits = 5, .mbits = 10, .doc = "IEEE 754 binary16"},
    {.name = "fp8_e4m3",
     .kind = QC_FMT_FLOAT,
     .ebits = 4,
     .mbits = 3,
     .flags = QC_FMTF_FN,
     .doc = "OCP FP8 E4M3: no inf, NaN only at S.1111.111, max 448"},
    {.name = "fp8_e5m2",
     .kind = QC_FMT_FLOAT,
     .ebits = 5,
     .mbits = 2,
     .doc = "OCP FP8 E5M2 (IEEE-style inf and NaN)"},
    {.name = "mxfp8_e4m3",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_FLOAT,
     .ebits = 4,
     .mbits = 3,
     .flags = QC_FMTF_FN,
     .doc = "OCP MX: FP8 E4M3 elements, E8M0 scale per block"},
    {.name = "mxfp8_e5m2",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_FLOAT,
     .ebits = 5,
     .mbits = 2,
     .doc = "OCP MX: FP8 E5M2 elements, E8M0 scale per block"},
    {.name = "mxfp6_e3m2",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_FLOAT,
     .ebits = 3,
     .mbits = 2,
     .flags = QC_FMTF_FINITE,
     .doc = "OCP MX: FP6 E3M2 elements (no inf/NaN), max 28"},
    {.name = "mxfp6_e2m3",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_FLOAT,
     .ebits = 2,
     .mbits = 3,
     .flags = QC_FMTF_FINITE,
     .doc = "OCP MX: FP6 E2M3 elements (no inf/NaN), max 7.5"},
    {.name = "mxfp4_e2m1",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_FLOAT,
     .ebits = 2,
     .mbits = 1,
     .flags = QC_FMTF_FINITE,
     .doc = "OCP MX: FP4 E2M1 elements (no inf/NaN), max 6"},
    {.name = "mxint8",
     .kind = QC_FMT_MX,
     .elem = QC_FMT_INT,
     .ibits = 8,
     .doc = "OCP MX: INT8 elements x 2^-6 (max 127/64), E8M0 scale per block"},
};

#define N_ALIASES ((int)(sizeof aliases / sizeof aliases[0]))

int qc_format_name_count(void)
{
    return N_ALIASES;
}

const char *qc_format_name_at(int i)
{
    return (i >= 0 && i < N_ALIASES) ? aliases[i].name : NULL;
}

const char *qc_format_alias_doc(const char *name)
{
    for (int i = 0; i < N_ALIASES; i++)
        if (strcmp(aliases[i].name, name) == 0)
            return aliases[i].doc;
    return NULL;
}

bool qc_format_is_scalar(const struct qc_format *f)
{
    return f->kind == QC_FMT_FLOAT || f->kind == QC_FMT_FIXED || f->kind == QC_FMT_INT;
}

bool qc_format_fits_f32(const struct qc_format *f)
{
    switch (f->elem) {
    case QC_FMT_FLOAT:
        if (f->kind != QC_FMT_FLOAT)
            return f->mbits <= 23; /* block elements are scaled by E8M0: see quantize */
        return f->mbits <= 23 && f->emax <= 127 && f->emin - f->mbits >= -149;
    case QC_FMT_FIXED:
        return f->ibits + f->fbits <= 24;
    case QC_FMT_INT:
        /* An N-bit integer scaled by a power of two (block scales stay in
         * fp32's range: see qc_block_scale_exp). */
        return f->ibits <= 24;
    default:
        return false;
    }
}

/* Fills the float traits from ebits, mbits, bias and flags. */
static int float_traits(struct qc_format *f, const char *s, struct qc_err *err)
{
    const int top = (1 << f->ebits) - 1; /* top exponent code */
    const bool top_normal = f->flags & (QC_FMTF_FN | QC_FMTF_INF1 | QC_FMTF_FINITE);
    const bool top_reserves_one = f->flags & (QC_FMTF_FN | QC_FMTF_INF1);

    f->emin = 1 - f->bias;
    if (!top_normal) {
        f->emax = top - 1 - f->bias;
        f->max_finite = ldexp(2.0 - ldexp(1.0, -f->mbits), f->emax);
    } else if (top_reserves_one && f->mbits == 0) {
        /* The only top mantissa is the reserved all-ones one. */
        f->emax = top - 1 - f->bias;
        f->max_finite = ldexp(1.0, f->emax);
    } else {
        f->emax = top - f->bias;
        f->max_finite = ldexp(2.0 - ldexp(top_reserves_one ? 2.0 : 1.0, -f->mbits), f->emax);
    }
    f->has_inf = !(f->flags & (QC_FMTF_FN | QC_FMTF_FINITE));
    f->has_nan = !(f->flags & (QC_FMTF_INF1 | QC_FMTF_FINITE));
    f->min_normal = ldexp(1.0, f->emin);
    if (f->flags & QC_FMTF_DAZ || f->mbits == 0)
        f->min_subnormal = f->min_normal;
    else if (f->flags & QC_FMTF_SAN)
        f->min_subnormal = ldexp(1.0 + ldexp(1.0, -f->mbits), f->emin - 1);
    else
        f->min_subnormal = ldexp(1.0, f->emin - f->mbits);

    const int lsb = f->emin - ((f->flags & QC_FMTF_SAN) ? 1 : 0) - f->mbits;
    if (f->emax > DOUBLE_EMAX || lsb < DOUBLE_LSB_EXP)
        return qc_err_set(err, QC_EINVAL, "",
                          "%s: exponent range [%d, %d] with %d mantissa bits leaves the fp64 "
                          "range that qlab computes in",
                          s, f->emin, f->emax, f->mbits);
    return QC_OK;
}

static void int_traits(struct qc_format *f)
{
    /* Symmetric intN, optionally scaled by 2^-fbits (MX/BFP elements). */
    f->max_finite = ldexp((double)((INT64_C(1) << (f->ibits - 1)) - 1), -f->fbits);
    f->min_normal = f->min_subnormal = ldexp(1.0, -f->fbits);
    f->bits = f->ibits;
}

static void fixed_traits(struct qc_format *f)
{
    f->bits = f->ibits + f->fbits;
    f->max_finite = ldexp(1.0, f->ibits - 1) - ldexp(1.0, -f->fbits);
    f->min_normal = f->min_subnormal = ldexp(1.0, -f->fbits);
}

/* Parses a decimal int in [lo, hi] from s[0..len); false if malformed. */
static bool parse_int(const char *s, size_t len, long lo, long hi, long *out)
{
    char buf[24];
    char *end;

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!isdigit((unsigned char)buf[0]) && !(buf[0] == '-' && isdigit((unsigned char)buf[1])))
        return false;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "e5m2" -> ebits, mbits. */
static int parse_exmy(struct qc_format *f, const char *base, const char *s, struct qc_err *err)
{
    const char *m = strchr(base, 'm');
    long x, y;

    if (base[0] != 'e' || !m || !parse_int(base + 1, (size_t)(m - base - 1), 0, 999, &x) ||
        !parse_int(m + 1, strlen(m + 1), 0, 999, &y))
        return qc_err_set(err, QC_EINVAL, "", "%s: unknown format '%s'", s, base);
    if (x + y + 1 > 64)
        return qc_err_set(err, QC_EINVAL, "", "%s: %ld+%ld+1 bits exceed 64", s, x, y);
    if (x < 2 || x > 11)
        return qc_err_set(err, QC_EINVAL, "", "%s: exponent bits %ld outside 2..11", s, x);
    if (y > 52)
        return qc_err_set(err, QC_EINVAL, "", "%s: mantissa bits %ld outside 0..52", s, y);
    f->kind = f->elem = QC_FMT_FLOAT;
    f->ebits = (int)x;
    f->mbits = (int)y;
    return QC_OK;
}

static int parse_base(struct qc_format *f, const char *base, const char *s, struct qc_err *err)
{
    long v, w;
    const char *at = strchr(base, '@');
    size_t blen = at ? (size_t)(at - base) : strlen(base);
    char name[QC_FORMAT_NAME_MAX];

    if (blen >= sizeof name)
        return qc_err_set(err, QC_EINVAL, "", "%s: format name too long", s);
    memcpy(name, base, blen);
    name[blen] = '\0';

    for (int i = 0; i < N_ALIASES; i++) {
        const struct alias *a = &aliases[i];
        if (strcmp(a->name, name) != 0)
            continue;
        f->kind = a->kind;
        f->elem = a->kind == QC_FMT_MX ? a->elem : a->kind;
        f->ebits = a->ebits;
        f->mbits = a->mbits;
        f->ibits = a->ibits;
        f->flags = a->flags;
        goto block;
    }
    if (name[0] == 'e') {
        int rc = parse_exmy(f, name, s, err);
        if (rc)
            return rc;
    } else if (name[0] == 'q') {
        const char *dot = strchr(name, '.');
        if (!dot || !parse_int(name + 1, (size_t)(dot - name - 1), 0, 999, &v) ||
            !parse_int(dot + 1, strlen(dot + 1), 0, 999, &w))
            return qc_err_set(err, QC_EINVAL, "", "%s: unknown format '%s' (fixed point is qM.N)",
                              s, name);
        if (v < 1)
            return qc_err_set(err, QC_EINVAL, "", "%s: fixed point needs at least the sign bit", s);
        if (v + w > FIXED_MAX_BITS)
            return qc_err_set(err, QC_EINVAL, "",
                              "%s: %ld+%ld bits exceed the %d that fit an fp64 exactly", s, v, w,
                              FIXED_MAX_BITS);
        f->kind = f->elem = QC_FMT_FIXED;
        f->ibits = (int)v;
        f->fbits = (int)w;
    } else if (strncmp(name, "int", 3) == 0) {
        if (!parse_int(name + 3, strlen(name + 3), 0, 999, &v))
            return qc_err_set(err, QC_EINVAL, "", "%s: unknown format '%s'", s, name);
        if (v < 2 || v > FIXED_MAX_BITS)
            return qc_err_set(err, QC_EINVAL, "", "%s: integer bits %ld outside 2..%d", s, v,
                              FIXED_MAX_BITS);
        f->kind = f->elem = QC_FMT_INT;
        f->ibits = (int)v;
    } else if (strncmp(name, "bfp", 3) == 0) {
        if (!parse_int(name + 3, strlen(name + 3), 0, 999, &v))
            return qc_err_set(err, QC_EINVAL, "", "%s: unknown format '%s'", s, name);
        if (v < 2 || v > 24)
            return qc_err_set(err, QC_EINVAL, "", "%s: bfp mantissa bits %ld outside 2..24", s, v);
        f->kind = QC_FMT_BFP;
        f->elem = QC_FMT_INT;
        f->ibits = (int)v;
    } else {
        return qc_err_set(err, QC_EINVAL, "", "%s: unknown format '%s'", s, name);
    }

block:
    if (f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP) {
        f->block = 32;
        if (at && !parse_int(at + 1, strlen(at + 1), 1, 4096, &v))
            return qc_err_set(err, QC_EINVAL, "",
                              "%s: block size '%s' is not an integer in 1..4096", s, at + 1);
        if (at)
            f->block = (int)v;
    } else if (at) {
        return qc_err_set(err, QC_EINVAL, "",
                          "%s: '@' block size applies only to mx and bfp formats", s);
    }
    return QC_OK;
}

struct modifier {
    const char *name;
    unsigned flag;
};

static const struct modifier modifiers[] = {
    {"sat", QC_FMTF_SAT},
    {"wrap", QC_FMTF_WRAP},
    {"nosub", QC_FMTF_NOSUB},
    {"daz", QC_FMTF_DAZ},
    {"subnormal-as-normal", QC_FMTF_SAN},
    {"fn", QC_FMTF_FN},
    {"inf1", QC_FMTF_INF1},
    {MOD_FINITE, QC_FMTF_FINITE},
};

#define N_MODIFIERS ((int)(sizeof modifiers / sizeof modifiers[0]))

/* Modifier flags that exclude each other, with why. */
static const struct {
    unsigned a, b;
} conflicts[] = {
    {QC_FMTF_SAT, QC_FMTF_WRAP},    {QC_FMTF_FN, QC_FMTF_INF1}, {QC_FMTF_FN, QC_FMTF_FINITE},
    {QC_FMTF_INF1, QC_FMTF_FINITE}, {QC_FMTF_DAZ, QC_FMTF_SAN}, {QC_FMTF_DAZ, QC_FMTF_NOSUB},
    {QC_FMTF_SAN, QC_FMTF_NOSUB},
};

static const char *flag_name(unsigned flag)
{
    for (int i = 0; i < N_MODIFIERS; i++)
        if (modifiers[i].flag == flag)
            return modifiers[i].name;
    return "?";
}

static int apply_modifier(struct qc_format *f, const char *mod, bool *bias_set, long *bias,
                          const char *s, struct qc_err *err)
{
    if (strncmp(mod, "bias=", 5) == 0) {
        if (f->kind != QC_FMT_FLOAT)
            return qc_err_set(err, QC_EINVAL, "", "%s: bias= applies only to eXmY formats", s);
        if (!parse_int(mod + 5, strlen(mod + 5), -100000, 100000, bias))
            return qc_err_set(err, QC_EINVAL, "", "%s: bias '%s' is not an integer", s, mod + 5);
        *bias_set = true;
        f->flags |= QC_FMTF_BIAS;
        return QC_OK;
    }
    for (int i = 0; i < N_MODIFIERS; i++) {
        if (strcmp(modifiers[i].name, mod) != 0)
            continue;
        unsigned fl = modifiers[i].flag;
        if (f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP)
            return qc_err_set(err, QC_EINVAL, "",
                              "%s: modifier '%s' does not apply to block formats", s, mod);
        if (fl == QC_FMTF_WRAP && f->kind != QC_FMT_FIXED)
            return qc_err_set(err, QC_EINVAL, "", "%s: 'wrap' applies only to fixed point", s);
        if (fl != QC_FMTF_SAT && fl != QC_FMTF_WRAP && f->kind != QC_FMT_FLOAT)
            return qc_err_set(err, QC_EINVAL, "", "%s: '%s' applies only to eXmY formats", s, mod);
        if (f->flags & fl)
            return qc_err_set(err, QC_EINVAL, "", "%s: modifier '%s' given twice", s, mod);
        f->flags |= fl;
        for (size_t c = 0; c < sizeof conflicts / sizeof conflicts[0]; c++)
            if ((f->flags & conflicts[c].a) && (f->flags & conflicts[c].b))
                return qc_err_set(err, QC_EINVAL, "", "%s: '%s' and '%s' cannot be combined", s,
                                  flag_name(conflicts[c].a), flag_name(conflicts[c].b));
        return QC_OK;
    }
    return qc_err_set(err, QC_EINVAL, "", "%s: unknown modifier '%s'", s, mod);
}

/* Writes the canonical string: base name, then modifiers in a fixed order. */
static void make_name(struct qc_format *f, const char *base)
{
    char *p = f->name;
    size_t left = sizeof f->name;
    int n = snprintf(p, left, "%s", base);

    if (f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP) {
        char *at = strchr(p, '@');
        if (at)
            *at = '\0';
        n = (int)strlen(p);
        snprintf(p + n, left - (size_t)n, "@%d", f->block);
        return;
    }
    if (f->flags & QC_FMTF_BIAS)
        n += snprintf(p + n, left - (size_t)n, ":bias=%d", f->bias);
    for (int i = 0; i < N_MODIFIERS; i++) {
        /* An alias's own flags are part of its name. */
        bool own = false;
        for (int a = 0; a < N_ALIASES; a++)
            if (strcmp(aliases[a].name, base) == 0 && (aliases[a].flags & modifiers[i].flag))
                own = true;
        if ((f->flags & modifiers[i].flag) && !own && n < (int)left)
            n += snprintf(p + n, left - (size_t)n, ":%s", modifiers[i].name);
    }
}

int qc_format_parse(struct qc_format *out, const char *s, struct qc_err *err)
{
    struct qc_format f;
    char buf[QC_FORMAT_NAME_MAX];
    char *save = NULL, *tok;
    bool bias_set = false;
    long bias = 0;
    int rc;

    memset(&f, 0, sizeof f);
    if (!s || !*s)
        return qc_err_set(err, QC_EINVAL, "", "empty format string");
    if (strlen(s) >= sizeof buf)
        return qc_err_set(err, QC_EINVAL, "", "format string longer than %d characters",
                          (int)sizeof buf - 1);
    strcpy(buf, s);
    tok = strtok_r(buf, ":", &save);
    if (!tok)
        return qc_err_set(err, QC_EINVAL, "", "%s: missing format name", s);
    if ((rc = parse_base(&f, tok, s, err)))
        return rc;
    char base_name[QC_FORMAT_NAME_MAX];
    snprintf(base_name, sizeof base_name, "%s", tok);
    while ((tok = strtok_r(NULL, ":", &save)))
        if ((rc = apply_modifier(&f, tok, &bias_set, &bias, s, err)))
            return rc;
    if (strstr(s, "::") || s[strlen(s) - 1] == ':')
        return qc_err_set(err, QC_EINVAL, "", "%s: empty modifier", s);

    switch (f.elem) {
    case QC_FMT_FLOAT:
        f.bits = 1 + f.ebits + f.mbits;
        f.bias = bias_set ? (int)bias : (1 << (f.ebits - 1)) - 1;
        if ((rc = float_traits(&f, s, err)))
            return rc;
        break;
    case QC_FMT_FIXED:
        fixed_traits(&f);
        break;
    case QC_FMT_INT:
        /* MX/BFP elements are intN scaled so the block maximum lands in [1, 2). */
        f.fbits = f.kind == QC_FMT_INT ? 0 : f.ibits - 2;
        int_traits(&f);
        f.has_inf = f.has_nan = false;
        break;
    default:
        return qc_err_set(err, QC_EINTERNAL, "", "%s: bad element kind", s);
    }
    if (f.kind == QC_FMT_MX || f.kind == QC_FMT_BFP)
        f.elem_emax = f.elem == QC_FMT_FLOAT ? f.emax : 0;
    make_name(&f, base_name);
    *out = f;
    return QC_OK;
}

void qc_format_element(struct qc_format *out, const struct qc_format *f)
{
    *out = *f;
    if (qc_format_is_scalar(f))
        return;
    out->kind = f->elem;
    out->block = 0;
    out->flags |= QC_FMTF_SAT;
}

double qc_format_decode(const struct qc_format *f, uint64_t code)
{
    const uint64_t mask = f->bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << f->bits) - 1;

    code &= mask;
    if (f->elem == QC_FMT_FIXED || f->elem == QC_FMT_INT) {
        /* Sign-extend the two's complement code. */
        int64_t v = (int64_t)(code << (64 - f->bits)) >> (64 - f->bits);
        return ldexp((double)v, -f->fbits);
    }
    const int top = (1 << f->ebits) - 1;
    const uint64_t mall = (UINT64_C(1) << f->mbits) - 1;
    const bool neg = (code >> (f->bits - 1)) & 1;
    const int e = (int)((code >> f->mbits) & (uint64_t)top);
    const uint64_t m = code & mall;
    double v;

    if (e == top && !(f->flags & (QC_FMTF_FN | QC_FMTF_INF1 | QC_FMTF_FINITE))) {
        v = m == 0 ? INFINITY : NAN;
    } else if (e == top && m == mall && (f->flags & QC_FMTF_FN)) {
        v = NAN;
    } else if (e == top && m == mall && (f->flags & QC_FMTF_INF1)) {
        v = INFINITY;
    } else if (e == 0) {
        if (m == 0 || (f->flags & QC_FMTF_DAZ))
            v = 0.0;
        else if (f->flags & QC_FMTF_SAN)
            v = ldexp((double)(m | (UINT64_C(1) << f->mbits)), f->emin - 1 - f->mbits);
        else
            v = ldexp((double)m, f->emin - f->mbits);
    } else {
        v = ldexp((double)(m | (UINT64_C(1) << f->mbits)), e - f->bias - f->mbits);
    }
    if (isnan(v))
        return NAN;
    return neg ? -v : v;
}

int qc_format_encode(uint64_t *code, const struct qc_format *f, double v)
{
    if (f->elem == QC_FMT_FIXED || f->elem == QC_FMT_INT) {
        if (!isfinite(v))
            return QC_ERANGE;
        double q = ldexp(v, f->fbits);
        double lo = f->elem == QC_FMT_INT ? -ldexp(f->max_finite, f->fbits)
                                          : -ldexp(1.0, f->ibits - 1 + f->fbits);
        if (q != nearbyint(q) || q < lo || v > f->max_finite)
            return QC_ERANGE;
        uint64_t mask = (UINT64_C(1) << f->bits) - 1;
        *code = (uint64_t)(int64_t)q & mask;
        return QC_OK;
    }

    const int top = (1 << f->ebits) - 1;
    const uint64_t mall = (UINT64_C(1) << f->mbits) - 1;
    const uint64_t sign = signbit(v) ? UINT64_C(1) << (f->bits - 1) : 0;
    double a = fabs(v);
    int e;

    if (isnan(v)) {
        if (!f->has_nan)
            return QC_ERANGE;
        /* The canonical quiet NaN: top exponent, all-ones mantissa (fn),
         * or top exponent with the mantissa's top bit (IEEE style). */
        uint64_t m = (f->flags & QC_FMTF_FN) ? mall : (mall + 1) >> 1;
        *code = ((uint64_t)top << f->mbits) | (m ? m : 1);
        return QC_OK;
    }
    if (isinf(v)) {
        if (!f->has_inf)
            return QC_ERANGE;
        *code = sign | ((uint64_t)top << f->mbits) | ((f->flags & QC_FMTF_INF1) ? mall : 0);
        return QC_OK;
    }
    if (a == 0.0) {
        *code = sign;
        return QC_OK;
    }
    if (a > f->max_finite || a < f->min_subnormal)
        return QC_ERANGE;
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)) */
    int lsb = (e < f->emin ? f->emin : e) - f->mbits;
    if ((f->flags & QC_FMTF_SAN) && e == f->emin - 1)
        lsb = e - f->mbits;
    double sig = ldexp(a, -lsb);
    if (sig != floor(sig))
        return QC_ERANGE;
    uint64_t s = (uint64_t)sig;
    if (e >= f->emin) {
        *code = sign | ((uint64_t)(e + f->bias) << f->mbits) | (s & mall);
        return QC_OK;
    }
    if (f->flags & QC_FMTF_DAZ)
        return QC_ERANGE;
    if (f->flags & QC_FMTF_SAN) {
        if (e != f->emin - 1 || (s & mall) == 0)
            return QC_ERANGE;
        *code = sign | (s & mall);
        return QC_OK;
    }
    *code = sign | s; /* subnormal: exponent code 0 */
    return QC_OK;
}
