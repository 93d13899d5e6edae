/* Run-time choice of the SIMD kernel variant, from what this CPU supports.
 * Pure queries of the CPU: no state is cached, so nothing here is mutable. */
#include "qcore/cpu.h"

#include <string.h>
#include <unistd.h>

#include "kern_impl.h"

static bool has_avx512(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("bmi2");
#else
    return false;
#endif
}

static bool has_avx2(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
    return false;
#endif
}

const char *qc_cpu_isa_best(void)
{
    return has_avx512() ? "avx512" : has_avx2() ? "avx2" : "generic";
}

bool qc_cpu_isa_available(const char *isa)
{
    if (strcmp(isa, "avx512") == 0)
        return has_avx512();
    if (strcmp(isa, "avx2") == 0)
        return has_avx2();
    return strcmp(isa, "generic") == 0;
}

const struct qc__kern *qc__kern_get(const char *isa)
{
    if (!isa || strcmp(isa, "auto") == 0)
        isa = qc_cpu_isa_best();
    if (!qc_cpu_isa_available(isa))
        return NULL;
    if (strcmp(isa, "avx512") == 0)
        return &qc__kern_avx512;
    if (strcmp(isa, "avx2") == 0)
        return &qc__kern_avx2;
    return &qc__kern_generic;
}

int qc_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
