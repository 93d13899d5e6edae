/* MAC configuration -> Verilog parameters of hw/rtl/, with an error naming
 * the field for every configuration the RTL does not implement. */
#include "hw_params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const param_names[HW_P_COUNT] = {
#define HW__P_NAME(n) #n,
    HW_PARAMS(HW__P_NAME)
#undef HW__P_NAME
};

const char *hw_param_name(enum hw_param p)
{
    return (unsigned)p < HW_P_COUNT ? param_names[p] : "?";
}

const char *hw_unit_name(enum hw_unit unit)
{
    switch (unit) {
    case HW_UNIT_MUL:
        return "multiplier";
    case HW_UNIT_ACC:
        return "accumulator";
    case HW_UNIT_CONV:
        return "converter";
    case HW_UNIT_MAC:
        return "mac";
    case HW_UNIT_ARRAY:
        return "array";
    default:
        return "?";
    }
}

/* The widest float significand the RTL's tests can check through doubles:
 * two input significands must fit 53 bits together. */
#define IN_MBITS_MAX  23
#define ACC_MBITS_MAX 52
#define FIXED_MAX     62

/* TOP and SUB of qf_decode for a float format's reading. */
static int top_mode(const struct qc_format *f)
{
    if (f->flags & QC_FMTF_FN)
        return 1;
    if (f->flags & QC_FMTF_INF1)
        return 2;
    if (f->flags & QC_FMTF_FINITE)
        return 3;
    return 0;
}

static int sub_mode(const struct qc_format *f)
{
    if (f->flags & QC_FMTF_SAN)
        return 1;
    if (f->flags & QC_FMTF_DAZ)
        return 2;
    return 0;
}

/* A float input (already the CFG's reading) the multiplier can decode. */
static int check_input(const struct qc_format *f, const char *key, struct qc_err *err)
{
    if (f->kind == QC_FMT_MX || f->kind == QC_FMT_BFP)
        return qc_err_set(err, QC_EINVAL, key,
                          "%s: block format %s has no RTL: block scales are not implemented in "
                          "hw/rtl/",
                          key, f->name);
    if (f->kind == QC_FMT_INT)
        return qc_err_set(err, QC_EINVAL, key,
                          "%s: integer format %s has no RTL; use a fixed-point qM.N input", key,
                          f->name);
    if (f->kind == QC_FMT_FIXED) {
        if (f->ibits + f->fbits > 32)
            return qc_err_set(err, QC_EINVAL, key,
                              "%s: %s is wider than the 32 bits the fixed-point multiplier takes",
                              key, f->name);
        return QC_OK;
    }
    if (f->mbits < 1 || f->mbits > IN_MBITS_MAX)
        return qc_err_set(err, QC_EINVAL, key,
                          "%s: %s has %d mantissa bits; the RTL multiplier takes 1..%d", key,
                          f->name, f->mbits, IN_MBITS_MAX);
    return QC_OK;
}

static int check_acc(const struct qc_mac *m, struct qc_err *err)
{
    const struct qc_format *f = &m->acc;
    const unsigned ok_float = QC_FMTF_SAT | QC_FMTF_NOSUB | QC_FMTF_BIAS;

    if (m->native)
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: native accumulation (OpenBLAS sgemm, unspecified order) has no "
                          "hardware; name an accumulator format such as fp32");
    if (m->acc_round.mode == QC_ROUND_SR)
        return qc_err_set(err, QC_EINVAL, "acc_rounding",
                          "acc_rounding: stochastic rounding is not implemented in the RTL "
                          "(rne, rna, rtz, rup and rdn are)");
    if (f->kind == QC_FMT_INT)
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: integer accumulator %s has no RTL; use a fixed-point qM.N",
                          f->name);
    if (f->kind == QC_FMT_FIXED) {
        if (f->flags & QC_FMTF_WRAP)
            return qc_err_set(err, QC_EINVAL, "acc", "acc: %s wraps; the RTL accumulator saturates",
                              f->name);
        if (f->ibits + f->fbits > FIXED_MAX)
            return qc_err_set(err, QC_EINVAL, "acc", "acc: %s is wider than %d bits", f->name,
                              FIXED_MAX);
        return QC_OK;
    }
    if (f->flags & ~ok_float)
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: %s: the RTL accumulator takes eXmY with bias=, nosub and sat "
                          "only (IEEE inf/NaN, subnormals)",
                          f->name);
    if (f->mbits < 1 || f->mbits > ACC_MBITS_MAX)
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: %s has %d mantissa bits; the RTL accumulator takes 1..%d", f->name,
                          f->mbits, ACC_MBITS_MAX);
    return QC_OK;
}

static int bits_signed(long v)
{
    int b = 1;
    while (labs(v) >= (1L << (b - 1)))
        b++;
    return b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

int hw_params_from_mac(struct hw_params *out, const struct qc_mac *m, struct qc_err *err)
{
    struct hw_params h;
    int *p = h.p;
    int rc;

    memset(&h, 0, sizeof h);
    if ((rc = check_acc(m, err)) || (rc = check_input(&m->a_read, "a", err)) ||
        (rc = check_input(&m->b_read, "b", err)))
        return rc;
    const bool fa = m->a.kind == QC_FMT_FLOAT, fb = m->b.kind == QC_FMT_FLOAT;
    const bool fixed_acc = m->acc.kind == QC_FMT_FIXED;
    if (fa != fb)
        return qc_err_set(err, QC_EINVAL, "b",
                          "b: %s and %s: the RTL multiplies two floats or two fixed-point values",
                          m->a.name, m->b.name);
    if (!fa && !fixed_acc)
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: fixed-point inputs feed a fixed-point accumulator in the RTL, "
                          "not %s",
                          m->acc.name);

    p[HW_P_KIND] = !fa ? HW_KIND_FIXED : fixed_acc ? HW_KIND_CONV : HW_KIND_FLOAT;
    p[HW_P_RM] = (int)m->acc_round.mode;
    long elo = 0, ehi = 0; /* every exponent the datapath meets */
    if (fa) {
        const struct qc_format *a = &m->a_read, *b = &m->b_read;
        p[HW_P_EA] = a->ebits, p[HW_P_MA] = a->mbits, p[HW_P_BA] = a->bias;
        p[HW_P_TA] = top_mode(a), p[HW_P_SA] = sub_mode(a);
        p[HW_P_EB] = b->ebits, p[HW_P_MB] = b->mbits, p[HW_P_BB] = b->bias;
        p[HW_P_TB] = top_mode(b), p[HW_P_SB] = sub_mode(b);
        p[HW_P_AW] = a->ebits + a->mbits + 1;
        p[HW_P_BW] = b->ebits + b->mbits + 1;
        elo = (long)(-a->bias - a->mbits) + (-b->bias - b->mbits);
        ehi = (long)((1 << a->ebits) - a->bias) + ((1 << b->ebits) - b->bias) + 1;
        if (m->fused) {
            p[HW_P_PMODE] = 0;
        } else if (!m->prod_exact) {
            const struct qc_format *f = &m->prod_round;
            if (f->flags & (QC_FMTF_DAZ | QC_FMTF_SAN))
                return qc_err_set(err, QC_EINVAL, "product",
                                  "product: %s: daz and subnormal-as-normal product formats "
                                  "have no RTL",
                                  f->name);
            if (f->mbits < 1 || f->mbits > IN_MBITS_MAX * 2 + 1)
                return qc_err_set(err, QC_EINVAL, "product",
                                  "product: %s has %d mantissa bits; the RTL rounds to 1..%d",
                                  f->name, f->mbits, IN_MBITS_MAX * 2 + 1);
            p[HW_P_PMODE] = 2;
            p[HW_P_EP] = f->ebits, p[HW_P_MP] = f->mbits, p[HW_P_BP] = f->bias;
            p[HW_P_TP] = top_mode(f);
            p[HW_P_PSAT] = (f->flags & QC_FMTF_SAT) != 0;
            p[HW_P_PNOSUB] = (f->flags & QC_FMTF_NOSUB) != 0;
            elo = elo < -f->bias - f->mbits - 4 ? elo : -f->bias - f->mbits - 4;
            ehi = ehi > (1 << f->ebits) - f->bias + 2 ? ehi : (1 << f->ebits) - f->bias + 2;
        } else if (m->prod_flush > 0.0) {
            p[HW_P_PMODE] = 1;
            p[HW_P_FLUSHE] = ilogb(m->prod_flush);
        }
        p[HW_P_PW] = p[HW_P_PMODE] == 2 ? p[HW_P_MP] + 1 : p[HW_P_MA] + p[HW_P_MB] + 2;
    } else {
        p[HW_P_QIA] = m->a.ibits, p[HW_P_QFA] = m->a.fbits;
        p[HW_P_QIB] = m->b.ibits, p[HW_P_QFB] = m->b.fbits;
        p[HW_P_AW] = m->a.ibits + m->a.fbits;
        p[HW_P_BW] = m->b.ibits + m->b.fbits;
        if (m->a.fbits + m->b.fbits - m->acc.fbits >= p[HW_P_AW] + p[HW_P_BW])
            return qc_err_set(err, QC_EINVAL, "acc", "acc: %s drops every bit of a %s x %s product",
                              m->acc.name, m->a.name, m->b.name);
    }
    if (fixed_acc) {
        p[HW_P_QI] = m->acc.ibits, p[HW_P_QF] = m->acc.fbits;
        p[HW_P_CW] = m->acc.ibits + m->acc.fbits;
        p[HW_P_SW] = p[HW_P_PW];
    } else {
        const struct qc_format *c = &m->acc;
        p[HW_P_EC] = c->ebits, p[HW_P_MC] = c->mbits, p[HW_P_BC] = c->bias;
        p[HW_P_CSAT] = (c->flags & QC_FMTF_SAT) != 0;
        p[HW_P_CNOSUB] = (c->flags & QC_FMTF_NOSUB) != 0;
        p[HW_P_CW] = c->ebits + c->mbits + 1;
        p[HW_P_SW] = imax(p[HW_P_PW], c->mbits + 1);
        elo = elo < -c->bias - c->mbits ? elo : -c->bias - c->mbits;
        ehi = ehi > (1 << c->ebits) - c->bias ? ehi : (1 << c->ebits) - c->bias;
    }
    if (fa) {
        /* Exponents meet shifts and window widths (adder, converter) and
         * differences of two exponents: room for all of it, signed. */
        long span = labs(elo) > labs(ehi) ? labs(elo) : labs(ehi);
        span = 2 * span + p[HW_P_SW] + 8 + p[HW_P_QI] + p[HW_P_QF] + 2 * p[HW_P_BC] + 16;
        p[HW_P_XW] = bits_signed(span) + 1;
    } else {
        p[HW_P_XW] = 8; /* unused by the fixed-point datapath */
    }
    *out = h;
    return QC_OK;
}

/* The parameters each unit's top module takes. */
static const enum hw_param mul_f[] = {HW_P_EA,    HW_P_MA,     HW_P_BA,     HW_P_TA, HW_P_SA,
                                      HW_P_EB,    HW_P_MB,     HW_P_BB,     HW_P_TB, HW_P_SB,
                                      HW_P_PMODE, HW_P_FLUSHE, HW_P_EP,     HW_P_MP, HW_P_BP,
                                      HW_P_TP,    HW_P_PSAT,   HW_P_PNOSUB, HW_P_XW, HW_P_PW};
static const enum hw_param mul_x[] = {HW_P_QIA, HW_P_QFA, HW_P_QIB, HW_P_QFB,
                                      HW_P_QI,  HW_P_QF,  HW_P_RM};
static const enum hw_param acc_f[] = {HW_P_EC,     HW_P_MC, HW_P_BC, HW_P_CSAT,
                                      HW_P_CNOSUB, HW_P_RM, HW_P_XW, HW_P_SW};
static const enum hw_param conv[] = {HW_P_QI, HW_P_QF, HW_P_RM, HW_P_XW};

static int put(struct hw_kv *kv, int n, const char *name, int v)
{
    kv[n].name = name;
    kv[n].value = v;
    return n + 1;
}

static int put_list(struct hw_kv *kv, const struct hw_params *p, const enum hw_param *l, int k)
{
    for (int i = 0; i < k; i++)
        put(kv, i, param_names[l[i]], p->p[l[i]]);
    return k;
}

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

int hw_unit_params(const struct hw_params *p, enum hw_unit unit, int rows, int cols,
                   const char **module, struct hw_kv *kv)
{
    const int kind = p->p[HW_P_KIND];
    int n = 0;

    switch (unit) {
    case HW_UNIT_MUL:
        *module = kind == HW_KIND_FIXED ? "qx_mul" : "qf_mul";
        return kind == HW_KIND_FIXED ? put_list(kv, p, mul_x, LEN(mul_x))
                                     : put_list(kv, p, mul_f, LEN(mul_f));
    case HW_UNIT_ACC:
        if (kind == HW_KIND_FLOAT) {
            *module = "qf_acc";
            return put_list(kv, p, acc_f, LEN(acc_f));
        }
        *module = "qx_acc";
        return put(kv, 0, "N", p->p[HW_P_QI] + p->p[HW_P_QF]);
    case HW_UNIT_CONV:
        if (kind != HW_KIND_CONV)
            return 0;
        *module = "qx_conv";
        n = put_list(kv, p, conv, LEN(conv));
        return put(kv, n, "SW", p->p[HW_P_PW]);
    case HW_UNIT_ARRAY:
        *module = "qarray";
        n = put(kv, n, "R", rows);
        n = put(kv, n, "C", cols);
        break;
    case HW_UNIT_MAC:
        *module = "qmac";
        break;
    default:
        return 0;
    }
    for (int i = 0; i < HW_P_COUNT; i++)
        n = put(kv, n, param_names[i], p->p[i]);
    return n;
}
