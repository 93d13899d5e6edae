/* Entry points of the numerics benchmarks (bench_numerics.c) for the
 * qlab-bench table: quantization, emulated and native GEMM speed, and the
 * heap a GEMM call needs. Each prints its figures as JSON lines. */
#ifndef QLAB_BENCH_NUMERICS_H
#define QLAB_BENCH_NUMERICS_H

void bench_quantize(void);
void bench_gemm_emul(void);
void bench_gemm_native(void);
void bench_gemm_memory(void);
void bench_gemm_paths(void);

#endif
