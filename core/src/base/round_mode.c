/* The vocabulary of rounding (qcore/round.h): a mode's text form and the
 * event counters, kept apart from the rounding engine (num/round.c) because
 * every layer, the SIMD kernels included, speaks it. */
#include "qcore/round.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qc_round_init(struct qc_round *r, enum qc_round_mode mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->sr_bits = QC_SR_BITS_DEFAULT;
}

static const char *const mode_names[] = {"rne", "rna", "rtz", "rup", "rdn", "sr"};

int qc_round_parse(struct qc_round *out, const char *s, struct qc_err *err)
{
    for (int m = QC_ROUND_RNE; m <= QC_ROUND_RDN; m++) {
        if (strcmp(s, mode_names[m]) == 0) {
            out->mode = (enum qc_round_mode)m;
            out->sr_bits = QC_SR_BITS_DEFAULT;
            return QC_OK;
        }
    }
    if (strcmp(s, "sr") == 0) {
        out->mode = QC_ROUND_SR;
        out->sr_bits = QC_SR_BITS_DEFAULT;
        return QC_OK;
    }
    if (strncmp(s, "sr:", 3) == 0) {
        char *end;
        long bits = strtol(s + 3, &end, 10);
        if (end == s + 3 || *end || bits < 1 || bits > QC_SR_BITS_MAX)
            return qc_err_set(err, QC_EINVAL, "", "%s: stochastic rounding bits must be 1..%d", s,
                              QC_SR_BITS_MAX);
        out->mode = QC_ROUND_SR;
        out->sr_bits = (int)bits;
        return QC_OK;
    }
    return qc_err_set(err, QC_EINVAL, "",
                      "unknown rounding mode '%s' (rne, rna, rtz, rup, rdn, sr, sr:R)", s);
}

const char *qc_round_describe(const struct qc_round *r, char *buf, int len)
{
    if (r->mode == QC_ROUND_SR)
        snprintf(buf, (size_t)len, "sr:%d", r->sr_bits);
    else
        snprintf(buf, (size_t)len, "%s", mode_names[r->mode]);
    return buf;
}

void qc_round_stats_add(struct qc_round_stats *acc, const struct qc_round_stats *x)
{
    acc->ops += x->ops;
    acc->overflow += x->overflow;
    acc->underflow += x->underflow;
    acc->swamping += x->swamping;
}
