/* One arithmetic, two compilers: QC_HD marks the static inline functions
 * that gcc compiles for the CPU and nvcc compiles for both the host and the
 * GPU (the *_hd.h headers: Philox, exact values, rounding, the MAC), so the
 * CPU test suite runs the very code the CUDA kernels run. This header adds
 * the few bit-level primitives those functions need, each exact on both
 * compilers (no libm call whose result could differ between them).
 *
 * The *_hd.h headers are C11 that is also C++ for nvcc: no designated or
 * compound initializers, no implicit conversion to an enum, no host-only
 * calls (printf, assert, libm beyond what is written here). */
#ifndef QCORE_HD_H
#define QCORE_HD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define QC_HD __host__ __device__
#else
#define QC_HD
#endif

/* The bits of a double and back (a bit cast, never a conversion). */
static inline QC_HD uint64_t qc__hd_bits(double d)
{
#ifdef __CUDA_ARCH__
    return (uint64_t)__double_as_longlong(d);
#else
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
#endif
}

static inline QC_HD double qc__hd_double(uint64_t u)
{
#ifdef __CUDA_ARCH__
    return __longlong_as_double((long long)u);
#else
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
#endif
}

/* Leading zeros of a nonzero 64-bit word. */
static inline QC_HD int qc__hd_clz64(uint64_t v)
{
#ifdef __CUDA_ARCH__
    return __clzll((long long)v);
#else
    return __builtin_clzll(v);
#endif
}

/* Classification by the bits, identical on every IEEE-754 machine. */
static inline QC_HD bool qc__hd_signbit(double d)
{
    return (qc__hd_bits(d) >> 63) != 0;
}

static inline QC_HD bool qc__hd_isnan(double d)
{
    return (qc__hd_bits(d) << 1) > (UINT64_C(0x7ff) << 53);
}

static inline QC_HD bool qc__hd_isinf(double d)
{
    return (qc__hd_bits(d) << 1) == (UINT64_C(0x7ff) << 53);
}

static inline QC_HD bool qc__hd_isfinite(double d)
{
    return (qc__hd_bits(d) << 1) < (UINT64_C(0x7ff) << 53);
}

static inline QC_HD double qc__hd_fabs(double d)
{
    return qc__hd_double(qc__hd_bits(d) & ~(UINT64_C(1) << 63));
}

/* The canonical quiet NaN (what C's NAN converts to) and +-inf. */
static inline QC_HD double qc__hd_nan(void)
{
    return qc__hd_double(UINT64_C(0x7ff8000000000000));
}

static inline QC_HD double qc__hd_inf(bool neg)
{
    return qc__hd_double(UINT64_C(0x7ff0000000000000) | ((uint64_t)neg << 63));
}

/* Double additions and products rounded once to nearest: the intrinsics on
 * the GPU (never contracted into a fused multiply-add, whatever the
 * compiler flags), plain operators on the CPU (built with
 * -ffp-contract=off). */
static inline QC_HD double qc__hd_dadd(double a, double b)
{
#ifdef __CUDA_ARCH__
    return __dadd_rn(a, b);
#else
    return a + b;
#endif
}

static inline QC_HD double qc__hd_dsub(double a, double b)
{
#ifdef __CUDA_ARCH__
    return __dsub_rn(a, b);
#else
    return a - b;
#endif
}

static inline QC_HD double qc__hd_dmul(double a, double b)
{
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

/* The square root rounded once to nearest (IEEE 754 requires it of both
 * processors; the GPU's intrinsic says so outright). */
static inline QC_HD double qc__hd_sqrt(double a)
{
#ifdef __CUDA_ARCH__
    return __dsqrt_rn(a);
#else
    return __builtin_sqrt(a);
#endif
}

/* 2^e for a normal exponent, -1022 <= e <= 1023, from its bits. */
static inline QC_HD double qc__hd_pow2(int e)
{
    return qc__hd_double((uint64_t)(e + 1023) << 52);
}

/* x * 2^e by multiplications with normal powers of two. Every use in the
 * library scales a value whose result is exactly representable (a format
 * value, a fixed-point code), and then each product is exact: the scaling
 * moves monotonically from x to the result, so no step can drop a bit the
 * result keeps. Results beyond the range overflow to inf, as ldexp does. */
static inline QC_HD double qc__hd_ldexp(double x, int e)
{
    while (e > 1023) {
        x = qc__hd_dmul(x, qc__hd_pow2(1023));
        e -= 1023;
    }
    while (e < -1022) {
        x = qc__hd_dmul(x, qc__hd_pow2(-1022));
        e += 1022;
    }
    return qc__hd_dmul(x, qc__hd_pow2(e));
}

/* floor(log2 |x|) of a finite nonzero double, subnormals included. */
static inline QC_HD int qc__hd_ilog2(double x)
{
    const uint64_t b = qc__hd_bits(x) & ~(UINT64_C(1) << 63);
    const int e = (int)(b >> 52);

    if (e != 0)
        return e - 1023;
    return 63 - qc__hd_clz64(b) - 1074; /* subnormal: b x 2^-1074 */
}

#endif
