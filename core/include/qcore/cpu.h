/* CPU kernel selection: which instruction-set variant of the SIMD kernels
 * runs. Every variant computes the same bits; the choice only changes speed,
 * and tests run each available one against the reference. */
#ifndef QCORE_CPU_H
#define QCORE_CPU_H

#include <stdbool.h>

/* "avx512", "avx2" or "generic": the best variant this CPU runs. */
const char *qc_cpu_isa_best(void);
/* True if `isa` names a variant this CPU can run. */
bool qc_cpu_isa_available(const char *isa);
/* Number of online CPUs (at least 1). */
int qc_cpu_count(void);

#endif
