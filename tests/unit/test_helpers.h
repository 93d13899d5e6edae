/* Small helpers shared by the numerics unit tests: parsing that fails the
 * test loudly, bit-exact comparison of results, and a seeded generator for
 * test data, so every test is reproducible from its source alone. */
#ifndef QLAB_TEST_HELPERS_H
#define QLAB_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "qcore/format.h"
#include "qcore/round.h"

static inline struct qc_format th_format(const char *s)
{
    struct qc_format f;
    struct qc_err err;
    int rc = qc_format_parse(&f, s, &err);
    cr_assert_eq(rc, QC_OK, "parse '%s' failed: %s", s, err.msg);
    return f;
}

/* "rne", "sr:4", ... with a seed (the stream stays 0). */
static inline struct qc_round th_round(const char *s, uint64_t seed)
{
    struct qc_round r;
    struct qc_err err;
    qc_round_init(&r, QC_ROUND_RNE);
    int rc = qc_round_parse(&r, s, &err);
    cr_assert_eq(rc, QC_OK, "round '%s' failed: %s", s, err.msg);
    r.seed = seed;
    return r;
}

/* Equal bit for bit; any NaN equals any NaN (NaN canonicality is checked
 * where it matters, separately). */
static inline bool th_same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static inline bool th_same_f(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static inline bool th_same_stats(const struct qc_round_stats *a, const struct qc_round_stats *b)
{
    return a->ops == b->ops && a->overflow == b->overflow && a->underflow == b->underflow &&
           a->swamping == b->swamping;
}

/* splitmix64: test data only; the library's own generator is under test. */
static inline uint64_t th_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double th_unit(uint64_t *s)
{
    return (double)(th_next(s) >> 11) * 0x1p-53;
}

/* A random double with a random sign, full 52-bit mantissa and binary
 * exponent uniform in [elo, ehi]: spans a format's range evenly by octave. */
static inline double th_spread(uint64_t *s, int elo, int ehi)
{
    uint64_t r = th_next(s);
    int e = elo + (int)(th_next(s) % (uint64_t)(ehi - elo + 1));
    double m = 1.0 + (double)(r >> 12) * 0x1p-52;
    double v = ldexp(m, e);
    return (r & 1) ? -v : v;
}

static inline double th_bits_f64(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline float th_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
