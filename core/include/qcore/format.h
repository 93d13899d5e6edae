/* Number formats: the parsed form of a format string ("e5m2:sat", "q8.13",
 * "mxfp4_e2m1@32"), its traits, and code <-> value conversion.
 *
 * Every format, named or spelled out, becomes one `struct qc_format` whose
 * fields (bits, bias, emin, emax, max finite, ...) drive all rounding code, so
 * adding a named format is one row in the alias table (format.c), not a new
 * code path. The format language is documented in docs/formats.md. */
#ifndef QCORE_FORMAT_H
#define QCORE_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"

enum qc_format_kind {
    QC_FMT_FLOAT = 0, /* eXmY and named IEEE-style formats */
    QC_FMT_FIXED = 1, /* qM.N two's complement */
    QC_FMT_INT = 2,   /* intN symmetric */
    QC_FMT_MX = 3,    /* OCP microscaling: element format + E8M0 scale per block */
    QC_FMT_BFP = 4,   /* block floating point: intN elements + shared exponent */
};

/* Encoding and behaviour flags (the ":" modifiers). */
enum {
    QC_FMTF_SAT = 1u << 0,    /* results beyond max finite (inf too) -> +-max */
    QC_FMTF_WRAP = 1u << 1,   /* fixed point: wrap modulo 2^M instead of saturating */
    QC_FMTF_NOSUB = 1u << 2,  /* subnormal results flush to a signed zero */
    QC_FMTF_DAZ = 1u << 3,    /* subnormal codes read as zero */
    QC_FMTF_SAN = 1u << 4,    /* subnormal-as-normal: code exp 0 reads 1.m x 2^-bias */
    QC_FMTF_FN = 1u << 5,     /* top exponent holds normals; all-ones mantissa = NaN */
    QC_FMTF_INF1 = 1u << 6,   /* top exponent holds normals; all-ones mantissa = inf */
    QC_FMTF_BIAS = 1u << 7,   /* bias given explicitly with bias=B */
    QC_FMTF_FINITE = 1u << 8, /* top exponent holds normals; no inf, no NaN (OCP FP6/FP4) */
};

#define QC_FORMAT_NAME_MAX 64

/* One parsed format. Plain data: copy it freely; nothing to free.
 * For MX and BFP the element fields (kind of element in `elem`, ebits, mbits,
 * ibits ...) describe one element and `block` the block length. */
struct qc_format {
    enum qc_format_kind kind;
    enum qc_format_kind elem; /* MX/BFP: QC_FMT_FLOAT or QC_FMT_INT; else == kind */
    int bits;                 /* storage bits of one element code */
    int ebits, mbits;         /* float: exponent and stored mantissa bits */
    int bias;                 /* float: exponent bias */
    int emin, emax;           /* float: unbiased exponents of min and max normal */
    int ibits, fbits;         /* fixed qM.N: M (incl. sign), N; int: ibits = N */
    int block;                /* MX/BFP block length; 0 otherwise */
    unsigned flags;           /* QC_FMTF_* */
    bool has_inf, has_nan;
    double max_finite;             /* largest finite magnitude (element, for blocks) */
    double min_normal;             /* smallest positive normal (fixed/int: one ulp) */
    double min_subnormal;          /* smallest positive nonzero value */
    int elem_emax;                 /* MX/BFP: exponent of the largest element power of two */
    char name[QC_FORMAT_NAME_MAX]; /* canonical string; parses back to this format */
};

/* Parses `s`. On error fills `err` (field "" ; the message names the bad part,
 * e.g. "e9m60: 9+60+1 bits exceed 64") and returns QC_EINVAL. */
int qc_format_parse(struct qc_format *out, const char *s, struct qc_err *err);

/* True for formats whose every value is a single number (float, fixed, int). */
bool qc_format_is_scalar(const struct qc_format *f);
/* True if every value of a scalar format is exactly an fp32 value. */
bool qc_format_fits_f32(const struct qc_format *f);

/* The scalar format a MX/BFP element is rounded to (with sat set, as the
 * OCP spec requires); for scalar formats a copy of `f`. */
void qc_format_element(struct qc_format *out, const struct qc_format *f);

/* Value of a scalar format code (the low `bits` bits of `code`). NaN codes
 * give a quiet NaN. Fixed point and int codes are two's complement. */
double qc_format_decode(const struct qc_format *f, uint64_t code);
/* Code of a value of scalar format `f`. The value must be exactly
 * representable (QC_ERANGE otherwise, also for NaN in a format without a NaN
 * code). -0 maps to the negative-zero code where the format has one. */
int qc_format_encode(uint64_t *code, const struct qc_format *f, double v);

/* Named formats, for `qlab formats` and GET /api/v1/formats. Returns the
 * number of names; `qc_format_name_at(i)` the i-th (static storage). */
int qc_format_name_count(void);
const char *qc_format_name_at(int i);

/* One-line text of what a named alias stands for ("fp16" -> "IEEE binary16"). */
const char *qc_format_alias_doc(const char *name);

#endif
