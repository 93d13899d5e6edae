/* Heap accounting for qlab-bench (bench_heap.h): this binary defines malloc,
 * free and the rest of the family, so every allocation in the process comes
 * here; each forwards to glibc's allocator and adds the block's usable size
 * to a live-bytes counter whose peak a benchmark reads.
 *
 * glibc supports replacing its allocator this way. We forward to its
 * __libc_* entry points rather than dlsym(RTLD_NEXT, "malloc") because dlsym
 * may itself allocate, which would recurse before the lookup completes. */
#include "bench_heap.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sanitizers interpose the allocator themselves; ours would fight theirs. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HEAP_REPLACE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define HEAP_REPLACE 0
#endif
#endif
#ifndef HEAP_REPLACE
#define HEAP_REPLACE 1
#endif

/* Allocations at least this big are candidates for the "largest" list; the
 * lock that keeps that list is then taken rarely. */
#define TOP_MIN_BYTES 4096

static atomic_llong live;
static atomic_llong peak;
static atomic_llong allocs;
static atomic_flag top_lock = ATOMIC_FLAG_INIT;
static size_t top[BENCH_HEAP_TOP];
static long long window_start; /* written by the window's owner only */

bool bench_heap_available(void)
{
    return HEAP_REPLACE;
}

void bench_heap_begin(void)
{
    while (atomic_flag_test_and_set_explicit(&top_lock, memory_order_acquire))
        ;
    memset(top, 0, sizeof top);
    atomic_flag_clear_explicit(&top_lock, memory_order_release);
    atomic_store(&allocs, 0);
    window_start = atomic_load(&live);
    atomic_store(&peak, window_start);
}

void bench_heap_end(struct bench_heap_window *out)
{
    memset(out, 0, sizeof *out);
    if (!HEAP_REPLACE)
        return;
    out->live_at_start = window_start;
    out->peak_extra = atomic_load(&peak) - window_start;
    out->end_extra = atomic_load(&live) - window_start;
    out->allocs = atomic_load(&allocs);
    while (atomic_flag_test_and_set_explicit(&top_lock, memory_order_acquire))
        ;
    memcpy(out->largest, top, sizeof top);
    atomic_flag_clear_explicit(&top_lock, memory_order_release);
}

#if HEAP_REPLACE

extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static void note_top(size_t n)
{
    while (atomic_flag_test_and_set_explicit(&top_lock, memory_order_acquire))
        ;
    for (int i = 0; i < BENCH_HEAP_TOP; i++) {
        if (n > top[i]) {
            memmove(top + i + 1, top + i, (size_t)(BENCH_HEAP_TOP - 1 - i) * sizeof top[0]);
            top[i] = n;
            break;
        }
    }
    atomic_flag_clear_explicit(&top_lock, memory_order_release);
}

/* Accounts a new block `p` (NULL: the allocation failed). */
static void *took(void *p)
{
    if (p) {
        const long long n = (long long)malloc_usable_size(p);
        const long long now = atomic_fetch_add_explicit(&live, n, memory_order_relaxed) + n;
        long long pk = atomic_load_explicit(&peak, memory_order_relaxed);
        while (now > pk && !atomic_compare_exchange_weak_explicit(
                               &peak, &pk, now, memory_order_relaxed, memory_order_relaxed))
            ;
        atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
        if (n >= TOP_MIN_BYTES)
            note_top((size_t)n);
    }
    return p;
}

static void gave(void *p)
{
    if (p)
        atomic_fetch_sub_explicit(&live, (long long)malloc_usable_size(p), memory_order_relaxed);
}

void *malloc(size_t n)
{
    return took(__libc_malloc(n));
}

void free(void *p)
{
    gave(p);
    __libc_free(p);
}

void *calloc(size_t n, size_t size)
{
    return took(__libc_calloc(n, size));
}

void *realloc(void *p, size_t n)
{
    const long long old = p ? (long long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);

    if (q) {
        atomic_fetch_sub_explicit(&live, old, memory_order_relaxed);
        took(q);
    } else if (p && n == 0) {
        atomic_fetch_sub_explicit(&live, old, memory_order_relaxed); /* glibc freed p */
    }
    return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

static bool pow2(size_t x)
{
    return x && (x & (x - 1)) == 0;
}

void *memalign(size_t align, size_t n)
{
    return took(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n)
{
    if (!pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return took(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (!pow2(align) || align % sizeof(void *) != 0)
        return EINVAL;
    void *p = took(__libc_memalign(align, n));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    return took(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), n));
}

void *pvalloc(size_t n)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return took(__libc_memalign(page, (n + page - 1) / page * page));
}

#endif
