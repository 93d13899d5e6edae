/* Heap accounting for qlab-bench: the peak of live heap bytes over a window
 * of code, so a benchmark can check how much memory one library call needs.
 * bench_heap.c replaces malloc and friends in the bench binary to see every
 * allocation, the library's, OpenMP's and OpenBLAS's included. */
#ifndef QLAB_BENCH_HEAP_H
#define QLAB_BENCH_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_HEAP_TOP 4

struct bench_heap_window {
    int64_t live_at_start;          /* live bytes when the window opened */
    int64_t peak_extra;             /* highest live bytes above live_at_start */
    int64_t end_extra;              /* live bytes above live_at_start at the end (leaks) */
    int64_t allocs;                 /* allocation calls inside the window */
    size_t largest[BENCH_HEAP_TOP]; /* biggest single allocations, descending */
};

/* False where the replacement is compiled out (sanitizer builds bring their
 * own allocator); the window functions then report zeros. */
bool bench_heap_available(void);

/* Opens a window: peak, allocation count and largest sizes start afresh.
 * Windows do not nest; allocations on all threads count. */
void bench_heap_begin(void);
void bench_heap_end(struct bench_heap_window *out);

#endif
