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
/* Every GEMM shape of a LeNet-5 and a ResNet-20 training step. */
void bench_gemm_layers(void);
/* A stochastically rounding accumulator against the same GEMM with rne. */
void bench_gemm_sr(void);

/* `qlab-bench --child sgemm M N K THREADS`: OpenBLAS sgemm alone in this
 * process, printing its best time as one JSON line. */
int bench_sgemm_child(int argc, char **argv);

#endif
