/* MAC configurations: the "cfg=5,acc=e6m5,..." language, the derived
 * multiplier reading of each CFG, and the exact scalar dot product that every
 * configuration can run (the SIMD kernel covers the common ones faster); its
 * arithmetic is mac_hd.h's, shared with the CUDA GEMM. */
#include "mac_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qc_mac_init(struct qc_mac *m)
{
    struct qc_err err;

    memset(m, 0, sizeof *m);
    m->cfg = 1;
    qc_format_parse(&m->a, "fp32", &err);
    m->b = m->a;
    m->acc = m->a;
    qc_round_init(&m->acc_round, QC_ROUND_RNE);
    /* m->prod stays unnamed: "the default product format". */
}

static bool prod_is_default(const struct qc_mac *m)
{
    return !m->prod_exact && m->prod.name[0] == '\0';
}

/* Re-files a format or rounding error under `key`, prefixing the key. The
 * message is copied first: it cannot be both source and destination. */
static int refile(struct qc_err *err, int rc, const char *key)
{
    char msg[sizeof err->msg];

    if (!err)
        return rc;
    snprintf(msg, sizeof msg, "%s", err->msg);
    return qc_err_set(err, rc, key, "%s: %s", key, msg);
}

static int parse_i64(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static int set_key(struct qc_mac *m, const char *key, const char *val, struct qc_err *err)
{
    int64_t x;
    int rc;

    if (strcmp(key, "cfg") == 0) {
        if (parse_i64(val, 1, 6, &x))
            return qc_err_set(err, QC_EINVAL, "cfg", "cfg '%s' is not one of 1..6", val);
        m->cfg = (int)x;
    } else if (strcmp(key, "a") == 0 || strcmp(key, "b") == 0) {
        struct qc_format *f = key[0] == 'a' ? &m->a : &m->b;
        if ((rc = qc_format_parse(f, val, err)))
            return refile(err, rc, key);
    } else if (strcmp(key, "product") == 0) {
        m->prod_exact = strcmp(val, "exact") == 0;
        memset(&m->prod, 0, sizeof m->prod);
        if (!m->prod_exact && (rc = qc_format_parse(&m->prod, val, err)))
            return refile(err, rc, "product");
    } else if (strcmp(key, "acc") == 0) {
        m->native = strcmp(val, "native") == 0;
        if (!m->native && (rc = qc_format_parse(&m->acc, val, err)))
            return refile(err, rc, "acc");
    } else if (strcmp(key, "acc_rounding") == 0) {
        if ((rc = qc_round_parse(&m->acc_round, val, err)))
            return refile(err, rc, "acc_rounding");
    } else if (strcmp(key, "chunk") == 0) {
        if (parse_i64(val, 0, INT64_C(1) << 40, &x))
            return qc_err_set(err, QC_EINVAL, "chunk", "chunk '%s' is not a count >= 0", val);
        m->chunk = x;
    } else if (strcmp(key, "fused") == 0) {
        if (strcmp(val, "1") && strcmp(val, "0") && strcmp(val, "true") && strcmp(val, "false"))
            return qc_err_set(err, QC_EINVAL, "fused", "fused '%s' is not 0, 1, true or false",
                              val);
        m->fused = val[0] == '1' || val[0] == 't';
    } else if (strcmp(key, "scale_rule") == 0) {
        if ((rc = qc_scale_rule_parse(&m->scale_rule, val, err)))
            return refile(err, rc, "scale_rule");
    } else if (strcmp(key, "seed") == 0) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(val, &end, 10);
        if (errno || end == val || *end || val[0] == '-')
            return qc_err_set(err, QC_EINVAL, "seed", "seed '%s' is not an unsigned integer", val);
        m->acc_round.seed = s;
    } else {
        return qc_err_set(err, QC_EINVAL, key,
                          "unknown MAC key '%s' (cfg, a, b, product, acc, acc_rounding, chunk, "
                          "fused, seed, scale_rule)",
                          key);
    }
    return QC_OK;
}

int qc_mac_parse(struct qc_mac *out, const char *s, struct qc_err *err)
{
    char buf[QC_MAC_TEXT_MAX * 2];
    char *save = NULL;
    struct qc_mac m;
    int rc;

    qc_mac_init(&m);
    if (strlen(s) >= sizeof buf)
        return qc_err_set(err, QC_EINVAL, "", "MAC string longer than %d characters",
                          (int)sizeof buf - 1);
    strcpy(buf, s);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1])
            return qc_err_set(err, QC_EINVAL, "", "MAC item '%s' is not key=value", tok);
        *eq = '\0';
        if ((rc = set_key(&m, tok, eq + 1, err)))
            return rc;
    }
    if ((rc = qc_mac_resolve(&m, err)))
        return rc;
    *out = m;
    return QC_OK;
}

/* The multiplier's reading of an input format under `cfg` (docs/mac.md). */
static int read_format(struct qc_format *out, const struct qc_format *f, int cfg, const char *key,
                       struct qc_err *err)
{
    char s[QC_FORMAT_NAME_MAX + 64];
    int rc;

    *out = *f;
    if (f->kind != QC_FMT_FLOAT || cfg < 4)
        return QC_OK;
    snprintf(s, sizeof s, "e%dm%d:bias=%d:inf1%s%s", f->ebits, f->mbits, f->bias,
             cfg == 5   ? ":subnormal-as-normal"
             : cfg == 6 ? ":daz"
                        : "",
             (f->flags & QC_FMTF_SAT) ? ":sat" : "");
    if ((rc = qc_format_parse(out, s, err)))
        return refile(err, rc, key);
    return QC_OK;
}

int qc_mac_resolve(struct qc_mac *m, struct qc_err *err)
{
    int rc;

    if (m->cfg < 1 || m->cfg > 6)
        return qc_err_set(err, QC_EINVAL, "cfg", "cfg %d is not one of 1..6", m->cfg);
    if (!m->native && !qc_format_is_scalar(&m->acc))
        return qc_err_set(err, QC_EINVAL, "acc",
                          "acc: %s is a block format; an accumulator is a float, fixed-point or "
                          "integer format",
                          m->acc.name);
    if (m->acc_round.mode == QC_ROUND_SR &&
        (m->acc_round.sr_bits < 1 || m->acc_round.sr_bits > QC_SR_BITS_MAX))
        return qc_err_set(err, QC_EINVAL, "acc_rounding",
                          "stochastic rounding bits %d outside 1..%d", m->acc_round.sr_bits,
                          QC_SR_BITS_MAX);
    if (m->chunk < 0)
        return qc_err_set(err, QC_EINVAL, "chunk", "chunk %lld is negative", (long long)m->chunk);
    if ((unsigned)m->scale_rule > QC_SCALE_ROUND)
        return qc_err_set(err, QC_EINVAL, "scale_rule", "invalid scale rule %d",
                          (int)m->scale_rule);
    if ((rc = read_format(&m->a_read, &m->a, m->cfg, "a", err)) ||
        (rc = read_format(&m->b_read, &m->b, m->cfg, "b", err)))
        return rc;

    const bool float_in = m->a.kind == QC_FMT_FLOAT && m->b.kind == QC_FMT_FLOAT;
    memset(&m->prod_round, 0, sizeof m->prod_round);
    if (m->cfg >= 3) {
        if (!prod_is_default(m) && !m->prod_exact)
            return qc_err_set(err, QC_EINVAL, "product",
                              "product: CFG-%d products are exact; a product format applies to "
                              "CFG-1 and CFG-2 only",
                              m->cfg);
        m->prod_exact = true;
    } else if (prod_is_default(m)) {
        if (m->a.kind == QC_FMT_FLOAT)
            m->prod = m->a;
        else
            m->prod_exact = true;
    }
    if (!m->prod_exact) {
        if (m->prod.kind != QC_FMT_FLOAT)
            return qc_err_set(err, QC_EINVAL, "product", "product: %s is not a float format",
                              m->prod.name);
        m->prod_round = m->prod;
        if (m->cfg == 2) {
            if (m->prod.flags & (QC_FMTF_DAZ | QC_FMTF_SAN))
                return qc_err_set(err, QC_EINVAL, "product",
                                  "product: CFG-2 flushes subnormal products; %s cannot also "
                                  "have daz or subnormal-as-normal",
                                  m->prod.name);
            char s[QC_FORMAT_NAME_MAX + 8];
            snprintf(s, sizeof s, "%s%s", m->prod.name,
                     (m->prod.flags & QC_FMTF_NOSUB) ? "" : ":nosub");
            if ((rc = qc_format_parse(&m->prod_round, s, err)))
                return refile(err, rc, "product");
        }
    }
    /* The flush threshold: the smallest normal of the exact-product format
     * eP = e(max X + 1)m(Ya + Yb + 1), bias bias_a + bias_b + 1. */
    m->prod_flush = 0.0;
    if (float_in && m->prod_exact && m->cfg >= 2)
        m->prod_flush = ldexp(1.0, 1 - (m->a_read.bias + m->b_read.bias + 1));
    return QC_OK;
}

const char *qc_mac_describe(const struct qc_mac *m, char *buf, int len)
{
    char r[32];

    snprintf(buf, (size_t)len,
             "cfg=%d,a=%s,b=%s,product=%s,acc=%s,acc_rounding=%s,chunk=%lld,"
             "fused=%d,seed=%llu,scale_rule=%s",
             m->cfg, m->a.name, m->b.name, m->prod_exact ? "exact" : m->prod.name,
             m->native ? "native" : m->acc.name, qc_round_describe(&m->acc_round, r, sizeof r),
             (long long)m->chunk, m->fused ? 1 : 0, (unsigned long long)m->acc_round.seed,
             qc_scale_rule_name(m->scale_rule));
    return buf;
}

double qc_mac_multiply(const struct qc_mac *m, double a, double b, struct qc_round_stats *st)
{
    struct qc_xval p;
    struct qc_round rne;
    unsigned ev = 0;

    qc__x_mul(&p, a, b);
    qc__mac_product_step(&p, m, st);
    /* Exact whenever the product has <= 53 significant bits (see mac.h). */
    qc_round_init(&rne, QC_ROUND_RNE);
    struct qc_format f64;
    struct qc_err err;
    qc_format_parse(&f64, "fp64", &err);
    return qc__round_x(&f64, &p, &rne, 0, &ev);
}

double qc__mac_dot(const struct qc_mac *m, const double *a, int64_t sa, const double *b, int64_t sb,
                   int64_t k, uint64_t sr_base, struct qc_round_stats *st)
{
    return qc__mac_dot_hd(m, a, sa, b, sb, k, sr_base, st);
}
