/* Numerics benchmarks of libqcore: fp32 quantization against memcpy, the
 * emulated GEMM and acc=native against OpenBLAS sgemm, the peak heap of one
 * GEMM call, and the slower GEMM paths, so that a regression in any kernel
 * shows up as a ratio to a baseline timed in the same run. The targets are
 * those of the performance issue. */
#include "bench_numerics.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_heap.h"
#include "bench_util.h"
#include "qcore/cpu.h"
#include "qcore/gemm.h"
#include "qcore/mac.h"
#include "qcore/quantize.h"
#include "qcore/gemm_cpu.h"

#define QUANT_N (INT64_C(16) << 20) /* 64 MiB of fp32 */
/* The prefix re-checked against the exact scalar engine after timing. */
#define QUANT_CHECK_N (INT64_C(1) << 16)
#define GEMM_DIM      512
/* Columns of B's packed panel are padded to a multiple of the kernel's
 * column block, at most 64 (kern_impl.h); 512 needs no padding. */
#define PANEL_PAD 64

#define EMUL_MAC   "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32"
#define NATIVE_MAC "cfg=5,a=e5m2,b=e5m2,acc=native"
#define FIXED_MAC  "cfg=5,a=e5m2,b=e5m2,acc=q8.13"
#define SR_MAC     "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=sr,chunk=32,seed=1"

/* Fast subjects: best of many calls. */
static const struct bench_plan plan_fast = {
    .min_reps = 5, .max_reps = 200, .budget_s = 1.2, .warm_subject = true, .base_per_round = 1};

/* Subjects that take seconds: one timed call, the cheap baseline repeated
 * to get its best. */
static const struct bench_plan plan_slow = {
    .min_reps = 1, .max_reps = 1, .budget_s = 0, .warm_subject = false, .base_per_round = 8};

static struct qc_format format_or_die(const char *s)
{
    struct qc_format f;
    struct qc_err err;

    if (qc_format_parse(&f, s, &err))
        bench_die("format '%s': %s", s, err.msg);
    return f;
}

static struct qc_mac mac_or_die(const char *s)
{
    struct qc_mac m;
    struct qc_err err;

    if (qc_mac_parse(&m, s, &err))
        bench_die("MAC '%s': %s: %s", s, err.field, err.msg);
    return m;
}

/* The thread counts every multi-threaded figure uses: 1 and all cores
 * (just 1 on a one-core machine). Returns how many. */
static int thread_counts(int out[2])
{
    out[0] = 1;
    out[1] = qc_cpu_count();
    return out[1] > 1 ? 2 : 1;
}

/* ---- quantization --------------------------------------------------------- */

struct quant_call {
    float *out;
    const float *in;
    int64_t n;
    struct qc_format fmt;
    struct qc_round rnd;
    const char *isa; /* NULL: qc_quantize_f32's own choice */
};

static void run_quantize(void *ctx)
{
    struct quant_call *q = ctx;
    struct qc_err err;
    int rc;

    if (q->isa)
        rc = qc_quantize_f32_isa(q->out, q->in, 1, q->n, &q->fmt, &q->rnd, QC_SCALE_FLOOR, 0, NULL,
                                 q->isa, &err);
    else
        rc = qc_quantize_f32(q->out, q->in, 1, q->n, &q->fmt, &q->rnd, QC_SCALE_FLOOR, 0, NULL,
                             &err);
    if (rc)
        bench_die("qc_quantize_f32 to %s: %s: %s", q->fmt.name, qc_error_name(rc), err.msg);
}

struct copy_call {
    void *dst;
    const void *src;
    size_t bytes;
};

static void run_memcpy(void *ctx)
{
    struct copy_call *c = ctx;
    memcpy(c->dst, c->src, c->bytes);
}

static const struct {
    const char *format, *rounding;
    double target; /* 0: informative */
} quant_cases[] = {
    {"e4m3", "rne", 0.6}, {"fp8_e4m3", "rne", 0}, {"e5m2", "rne", 0},
    {"bf16", "rne", 0},   {"e4m3", "sr", 0},
};

void bench_quantize(void)
{
    float *in = bench_alloc((size_t)QUANT_N * sizeof(float));
    float *out = bench_alloc((size_t)QUANT_N * sizeof(float));
    float *check = bench_alloc((size_t)(2 * QUANT_CHECK_N) * sizeof(float));
    struct copy_call copy = {.dst = out, .src = in, .bytes = (size_t)QUANT_N * sizeof(float)};
    const struct bench_case base = {run_memcpy, &copy};

    /* sigma 64: e4m3 (max 240) sees normals, some subnormals and a few
     * overflows, so no special case is left out of the timing. */
    bench_fill_normal(in, QUANT_N, 1, 64.0);
    for (size_t i = 0; i < sizeof quant_cases / sizeof quant_cases[0]; i++) {
        struct quant_call q = {.out = out, .in = in, .n = QUANT_N};
        struct qc_err err;
        struct bench_timing t;
        char name[96], config[QC_FORMAT_NAME_MAX + 32], extra[64];
        const bool sr = strncmp(quant_cases[i].rounding, "sr", 2) == 0;

        q.fmt = format_or_die(quant_cases[i].format);
        qc_round_init(&q.rnd, QC_ROUND_RNE);
        if (qc_round_parse(&q.rnd, quant_cases[i].rounding, &err))
            bench_die("rounding '%s': %s", quant_cases[i].rounding, err.msg);
        q.rnd.seed = 1;
        const struct bench_case subj = {run_quantize, &q};
        /* Stochastic rounding runs the exact scalar engine: a few hundred
         * ms per pass, so fewer rounds. */
        struct bench_plan plan = plan_fast;
        if (sr) {
            plan.min_reps = plan.max_reps = 2;
            plan.warm_subject = false;
        }
        bench_pair(&t, &subj, &base, &plan);

        /* The timed path must give what the exact scalar engine gives. The
         * prefix is recomputed: the last timed call may have been memcpy's. */
        struct quant_call fast = q, ref = q;
        fast.out = check;
        fast.n = ref.n = QUANT_CHECK_N;
        ref.out = check + QUANT_CHECK_N;
        ref.isa = "scalar";
        run_quantize(&fast);
        run_quantize(&ref);
        if (memcmp(check, check + QUANT_CHECK_N, (size_t)QUANT_CHECK_N * sizeof(float)) != 0)
            bench_die("quantize to %s/%s: SIMD result differs from the scalar engine",
                      quant_cases[i].format, quant_cases[i].rounding);

        const double v = (double)QUANT_N / t.subject_s * 1e-9;
        const double b = (double)QUANT_N / t.baseline_s * 1e-9;
        snprintf(name, sizeof name, "quantize_%s_%s", quant_cases[i].format,
                 quant_cases[i].rounding);
        snprintf(config, sizeof config, "format=%s,rounding=%s", q.fmt.name,
                 quant_cases[i].rounding);
        snprintf(extra, sizeof extra, "\"elements\":%lld,\"reps\":%d", (long long)QUANT_N, t.reps);
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = v,
            .unit = "Gelem/s",
            .baseline = "memcpy",
            .baseline_value = b,
            .ratio = v / b,
            .target_kind = quant_cases[i].target > 0 ? BENCH_AT_LEAST : BENCH_NO_TARGET,
            .target = quant_cases[i].target,
            .threads = 1,
            .isa = sr ? "scalar" : qc_cpu_isa_best(),
            .config = config,
            .note = sr ? "stochastic rounding runs the exact scalar engine" : NULL,
            .extra = extra,
        });
    }
    free(in);
    free(out);
    free(check);
}

/* ---- GEMM ------------------------------------------------------------------ */

/* Inputs and outputs shared by the GEMM benchmarks; sgemm gets the same A
 * and B (unrounded; its speed does not depend on the values). */
struct gemm_data {
    int64_t m, n, k;
    float *a, *b; /* (m,k), (k,n) */
    float *c;     /* (m,n): the subject's output */
    float *c_ref; /* (m,n): the reference result for bit checks */
    float *c_blas;
};

static void gemm_data_init(struct gemm_data *g)
{
    g->m = g->n = g->k = GEMM_DIM;
    g->a = bench_alloc((size_t)(g->m * g->k) * sizeof(float));
    g->b = bench_alloc((size_t)(g->k * g->n) * sizeof(float));
    g->c = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    g->c_ref = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    g->c_blas = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    bench_fill_normal(g->a, g->m * g->k, 2, 1.0);
    bench_fill_normal(g->b, g->k * g->n, 3, 1.0);
}

static void gemm_data_free(struct gemm_data *g)
{
    free(g->a);
    free(g->b);
    free(g->c);
    free(g->c_ref);
    free(g->c_blas);
}

static double gemm_macs(const struct gemm_data *g)
{
    return (double)g->m * (double)g->n * (double)g->k;
}

struct gemm_call {
    const struct gemm_data *g;
    struct qc_gemm_desc desc;
    struct qc_mac mac;
    int threads;
    const char *isa; /* NULL: qc_gemm_cpu, which picks the best */
    bool counters;   /* pass a stats struct (slower kernel) or NULL */
    struct qc_round_stats st;
};

static void gemm_call_init(struct gemm_call *gc, const struct gemm_data *g, const char *mac,
                           int threads, const char *isa, bool counters)
{
    memset(gc, 0, sizeof *gc);
    gc->g = g;
    qc_gemm_desc_init(&gc->desc, g->m, g->n, g->k);
    gc->mac = mac_or_die(mac);
    gc->threads = threads;
    gc->isa = isa;
    gc->counters = counters;
}

static void run_gemm(void *ctx)
{
    struct gemm_call *gc = ctx;
    struct qc_round_stats *st = gc->counters ? &gc->st : NULL;
    struct qc_err err;
    int rc;

    /* acc=native hands the product to OpenBLAS, whose thread count is its
     * own global setting: qc_gemm_cpu's `threads` does not reach it. */
    if (gc->mac.native)
        openblas_set_num_threads(gc->threads);
    memset(&gc->st, 0, sizeof gc->st);
    if (gc->isa)
        rc = qc_gemm_cpu_isa(gc->g->c, gc->g->a, gc->g->b, &gc->desc, &gc->mac, gc->threads,
                             gc->isa, st, &err);
    else
        rc = qc_gemm_cpu(gc->g->c, gc->g->a, gc->g->b, &gc->desc, &gc->mac, gc->threads, st, &err);
    if (rc)
        bench_die("qc_gemm_cpu (isa %s, %d threads): %s: %s", gc->isa ? gc->isa : "auto",
                  gc->threads, qc_error_name(rc), err.msg);
}

struct sgemm_call {
    const struct gemm_data *g;
    int threads;
};

static void run_sgemm(void *ctx)
{
    struct sgemm_call *s = ctx;
    const struct gemm_data *g = s->g;

    openblas_set_num_threads(s->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->m, (int)g->n, (int)g->k, 1.0f,
                g->a, (int)g->k, g->b, (int)g->n, 0.0f, g->c_blas, (int)g->n);
}

/* OpenBLAS's pthreads workers spin for about 0.1 s after a multi-threaded
 * call (measured here: one core stays busy); on a 2-core machine they would
 * steal the next subject's cores, so a baseline call is followed by a pause. */
static double settle_for(int threads)
{
    return threads > 1 ? 0.15 : 0.0;
}

struct gemm_figure {
    const char *bench;
    const char *mac;
    int threads;
    const char *isa;
    bool counters;
    double target; /* 0: informative */
    const char *note;
};

/* Times one configuration against sgemm at the same thread count, emits the
 * figure, and leaves the subject's result in g->c (counters in gc). */
static void gemm_measure(struct gemm_call *gc, const struct gemm_data *g,
                         const struct gemm_figure *f, const struct bench_plan *plan)
{
    struct sgemm_call sg = {.g = g, .threads = f->threads};
    const struct bench_case subj = {run_gemm, gc}, base = {run_sgemm, &sg};
    struct bench_plan p = *plan;
    struct bench_timing t;
    char config[QC_MAC_TEXT_MAX], extra[256];

    gemm_call_init(gc, g, f->mac, f->threads, f->isa, f->counters);
    p.settle_s = settle_for(f->threads);
    bench_pair(&t, &subj, &base, &p);
    if (f->counters && gc->st.ops != (uint64_t)gemm_macs(g))
        bench_die("%s: counters report %llu MACs, expected %.0f", f->bench,
                  (unsigned long long)gc->st.ops, gemm_macs(g));

    const double v = gemm_macs(g) / t.subject_s * 1e-9;
    const double b = gemm_macs(g) / t.baseline_s * 1e-9;
    int len = snprintf(extra, sizeof extra, "\"shape\":[%lld,%lld,%lld],\"reps\":%d",
                       (long long)g->m, (long long)g->n, (long long)g->k, t.reps);
    if (f->counters)
        snprintf(extra + len, sizeof extra - (size_t)len,
                 ",\"counters\":{\"macs\":%llu,\"overflow\":%llu,\"underflow\":%llu,"
                 "\"swamping\":%llu}",
                 (unsigned long long)gc->st.ops, (unsigned long long)gc->st.overflow,
                 (unsigned long long)gc->st.underflow, (unsigned long long)gc->st.swamping);
    bench_emit(&(struct bench_figure){
        .bench = f->bench,
        .value = v,
        .unit = "GMAC/s",
        .baseline = "openblas_sgemm",
        .baseline_value = b,
        .ratio = v / b,
        .target_kind = f->target > 0 ? BENCH_AT_LEAST : BENCH_NO_TARGET,
        .target = f->target,
        .threads = f->threads,
        .isa = f->isa ? f->isa : qc_cpu_isa_best(),
        .config = qc_mac_describe(&gc->mac, config, sizeof config),
        .note = f->note,
        .extra = extra,
    });
}

/* Dies unless g->c equals g->c_ref bit for bit: the emulated GEMM promises
 * the same bits for every thread count and kernel (docs/mac.md). */
static void check_same_bits(const struct gemm_data *g, const char *what)
{
    const int64_t n = g->m * g->n;

    if (memcmp(g->c, g->c_ref, (size_t)n * sizeof(float)) == 0)
        return;
    for (int64_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, g->c + i, sizeof x);
        memcpy(&y, g->c_ref + i, sizeof y);
        if (x != y)
            bench_die("%s: result differs from the reference run at C[%lld][%lld]: "
                      "%a (0x%08x) vs %a (0x%08x); the emulated GEMM must give the same bits "
                      "for every thread count and kernel",
                      what, (long long)(i / g->n), (long long)(i % g->n), (double)g->c[i],
                      (unsigned)x, (double)g->c_ref[i], (unsigned)y);
    }
}

static void keep_as_ref(const struct gemm_data *g)
{
    memcpy(g->c_ref, g->c, (size_t)(g->m * g->n) * sizeof(float));
}

void bench_gemm_emul(void)
{
    struct gemm_data g;
    struct qc_round_stats counted_ref = {0};
    int threads[2];
    const int nt = thread_counts(threads);
    bool have_ref = false, have_counted = false;

    gemm_data_init(&g);
    for (int ti = 0; ti < nt; ti++) {
        for (int counters = 0; counters <= 1; counters++) {
            struct gemm_call gc;
            char name[96];
            snprintf(name, sizeof name, "gemm_emul_e6m5_%s_t%d",
                     counters ? "counters" : "nocounters", threads[ti]);
            const struct gemm_figure f = {
                .bench = name,
                .mac = EMUL_MAC,
                .threads = threads[ti],
                .counters = counters,
                .target = 1.0 / 20,
                .note = counters ? "with a qc_round_stats: counting kernel"
                                 : "stats NULL: the kernel variant without counters",
            };
            gemm_measure(&gc, &g, &f, &plan_fast);
            if (!have_ref) {
                keep_as_ref(&g);
                have_ref = true;
            } else {
                check_same_bits(&g, name);
            }
            if (counters && !have_counted) {
                counted_ref = gc.st;
                have_counted = true;
            } else if (counters && memcmp(&counted_ref, &gc.st, sizeof gc.st) != 0) {
                bench_die("%s: counters differ from the 1-thread run", name);
            }
        }
    }
    gemm_data_free(&g);
}

void bench_gemm_native(void)
{
    struct gemm_data g;
    int threads[2];
    const int nt = thread_counts(threads);

    gemm_data_init(&g);
    for (int ti = 0; ti < nt; ti++) {
        struct gemm_call gc;
        char name[64];
        snprintf(name, sizeof name, "gemm_native_t%d", threads[ti]);
        const struct gemm_figure f = {
            .bench = name,
            .mac = NATIVE_MAC,
            .threads = threads[ti],
            .target = 0.8,
            .note = "inputs rounded to e5m2 (cfg 5 reading), then OpenBLAS sgemm with "
                    "openblas_set_num_threads(threads); not bit-reproducible by contract, so "
                    "no bit check",
        };
        gemm_measure(&gc, &g, &f, &plan_fast);
    }
    gemm_data_free(&g);
    /* Leave OpenBLAS as the next benchmark expects to find it. */
    openblas_set_num_threads(qc_cpu_count());
}

/* ---- memory ---------------------------------------------------------------- */

static void gemm_memory_one(const struct gemm_data *g, const char *bench, const char *mac,
                            int threads, const char *isa, bool counters, bool warm,
                            const char *note)
{
    struct gemm_call gc;
    struct bench_heap_window w;
    char config[QC_MAC_TEXT_MAX], extra[256];

    gemm_call_init(&gc, g, mac, threads, isa, counters);
    /* A first call starts OpenMP's and OpenBLAS's thread pools, whose
     * bookkeeping is theirs, not the GEMM's. */
    if (warm)
        run_gemm(&gc);
    bench_heap_begin();
    run_gemm(&gc);
    bench_heap_end(&w);

    const int64_t n_pad = (g->n + PANEL_PAD - 1) / PANEL_PAD * PANEL_PAD;
    const double io = (double)(g->m * g->k + g->k * g->n + g->m * g->n) * sizeof(float);
    const double panel = (double)(g->k * n_pad) * sizeof(float);
    const double budget = io + threads * panel;
    snprintf(extra, sizeof extra,
             "\"shape\":[%lld,%lld,%lld],\"allocs\":%lld,\"largest_allocs\":[%zu,%zu,%zu,%zu],"
             "\"left_allocated\":%lld",
             (long long)g->m, (long long)g->n, (long long)g->k, (long long)w.allocs, w.largest[0],
             w.largest[1], w.largest[2], w.largest[3], (long long)w.end_extra);
    bench_emit(&(struct bench_figure){
        .bench = bench,
        .value = (double)w.peak_extra,
        .unit = "bytes",
        .baseline = "inputs+output+threads*panel",
        .baseline_value = budget,
        .ratio = (double)w.peak_extra / budget,
        .target_kind = BENCH_AT_MOST,
        .target = 1.0,
        .threads = threads,
        .isa = isa ? isa : qc_cpu_isa_best(),
        .config = qc_mac_describe(&gc.mac, config, sizeof config),
        .note = note,
        .extra = extra,
    });
}

void bench_gemm_memory(void)
{
    struct gemm_data g;
    int threads[2];
    const int nt = thread_counts(threads);
    const int all = threads[nt - 1];
    char name[96];

    if (!bench_heap_available()) {
        bench_skip("gemm_mem", "heap accounting is compiled out under sanitizers");
        return;
    }
    gemm_data_init(&g);
    for (int ti = 0; ti < nt; ti++) {
        for (int counters = 0; counters <= 1; counters++) {
            snprintf(name, sizeof name, "gemm_mem_e6m5_%s_t%d",
                     counters ? "counters" : "nocounters", threads[ti]);
            gemm_memory_one(&g, name, EMUL_MAC, threads[ti], NULL, counters, true,
                            "peak heap above the caller's buffers during one qc_gemm_cpu call");
        }
    }
    snprintf(name, sizeof name, "gemm_mem_native_t%d", all);
    gemm_memory_one(&g, name, NATIVE_MAC, all, NULL, false, true,
                    "malloc'd bytes only: OpenBLAS takes its work buffers by mmap, unseen here");
    /* Configurations the SIMD kernel cannot run (fixed-point or stochastic
     * accumulators, or isa=scalar) take the exact scalar engine, which
     * rounds A and B into fp64 copies. One thread is the tightest budget.
     * Slow (seconds): no warm-up call; the 1-thread runs above started
     * what OpenMP needs. */
    gemm_memory_one(&g, "gemm_mem_q8.13_t1", FIXED_MAC, 1, NULL, false, false,
                    "exact scalar engine path (as for acc_rounding=sr and isa=scalar)");
    gemm_data_free(&g);
}

/* ---- slower paths ------------------------------------------------------------ */

void bench_gemm_paths(void)
{
    /* The best ISA is measured by bench_gemm_emul already. */
    static const char *const isas[] = {"generic", "avx2"};
    struct gemm_data g;
    struct gemm_call gc;
    int threads[2];
    const int all = threads[thread_counts(threads) - 1];
    char name[96];

    gemm_data_init(&g);
    /* The reference bits: the default kernel, all threads. */
    gemm_call_init(&gc, &g, EMUL_MAC, all, NULL, false);
    run_gemm(&gc);
    keep_as_ref(&g);

    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        snprintf(name, sizeof name, "gemm_path_%s_t1", isas[i]);
        if (!qc_cpu_isa_available(isas[i])) {
            bench_skip(name, "this CPU cannot run the instruction set");
            continue;
        }
        gemm_measure(&gc, &g,
                     &(struct gemm_figure){.bench = name,
                                           .mac = EMUL_MAC,
                                           .threads = 1,
                                           .isa = isas[i],
                                           .note = "SIMD kernel forced onto this ISA, no counters"},
                     &plan_fast);
        check_same_bits(&g, name);
    }

    snprintf(name, sizeof name, "gemm_path_scalar_t%d", all);
    gemm_measure(&gc, &g,
                 &(struct gemm_figure){.bench = name,
                                       .mac = EMUL_MAC,
                                       .threads = all,
                                       .isa = "scalar",
                                       .note = "exact scalar engine forced, no counters"},
                 &plan_slow);
    check_same_bits(&g, name);

    snprintf(name, sizeof name, "gemm_acc_q8.13_t%d", all);
    gemm_measure(&gc, &g,
                 &(struct gemm_figure){.bench = name,
                                       .mac = FIXED_MAC,
                                       .threads = all,
                                       .note = "fixed-point accumulator: no SIMD plan, so the "
                                               "exact scalar engine runs"},
                 &plan_slow);

    snprintf(name, sizeof name, "gemm_acc_e6m5_sr_t%d", all);
    gemm_measure(&gc, &g,
                 &(struct gemm_figure){.bench = name,
                                       .mac = SR_MAC,
                                       .threads = all,
                                       .note = "stochastic accumulator rounding: no SIMD plan, "
                                               "so the exact scalar engine runs"},
                 &plan_slow);
    gemm_data_free(&g);
}
