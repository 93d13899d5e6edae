/* FPGA board benchmarks (group fpga; bench_fpga.c says what they measure). */
#ifndef QLAB_BENCH_FPGA_H
#define QLAB_BENCH_FPGA_H

void bench_fpga(void);

#endif
