/* Numerics benchmarks of libqcore: fp32 quantization against memcpy, the
 * emulated GEMM and acc=native against OpenBLAS sgemm (run in a process of
 * its own, so that it never shares one with the OpenMP pool the subjects
 * started), every GEMM shape of a LeNet-5 and a ResNet-20 step, stochastic
 * rounding against rne, the peak heap of one GEMM call, and the slower
 * GEMM paths, so that a regression in any kernel shows up as a ratio to a
 * baseline timed in the same run. The targets are those of the
 * performance issues. */
#include "bench_numerics.h"

#include <cblas.h>
#include <math.h>
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
#define QUANT_CHECK_N  (INT64_C(1) << 16)
#define GEMM_DIM       1024 /* the headline figures */
#define GEMM_DIM_SMALL 512  /* memory and the slow paths */
/* Columns of B's packed panel are padded to a multiple of the kernel's
 * column block, at most 64 (kern_impl.h); 512 needs no padding. */
#define PANEL_PAD 64

#define EMUL_MAC   "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32"
#define NATIVE_MAC "cfg=5,a=e5m2,b=e5m2,acc=native"
#define FIXED_MAC  "cfg=5,a=e5m2,b=e5m2,acc=q8.13"
#define SR_MAC     "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=sr,chunk=32,seed=1"
#define RNE_MAC    "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32"

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
    {"bf16", "rne", 0},   {"e4m3", "sr", 0.3},
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
        bench_pair(&t, &subj, &base, &plan_fast);

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
            .threads = sr ? qc_cpu_count() : 1,
            .isa = qc_cpu_isa_best(),
            .config = config,
            .note = sr ? "SIMD Philox and rounding, threaded (each element's bits depend on its "
                         "index alone); memcpy single-threaded"
                       : NULL,
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

static void gemm_data_init_dim(struct gemm_data *g, int64_t m, int64_t n, int64_t k)
{
    g->m = m;
    g->n = n;
    g->k = k;
    g->a = bench_alloc((size_t)(g->m * g->k) * sizeof(float));
    g->b = bench_alloc((size_t)(g->k * g->n) * sizeof(float));
    g->c = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    g->c_ref = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    g->c_blas = bench_alloc((size_t)(g->m * g->n) * sizeof(float));
    bench_fill_normal(g->a, g->m * g->k, 2, 1.0);
    bench_fill_normal(g->b, g->k * g->n, 3, 1.0);
}

static void gemm_data_init(struct gemm_data *g)
{
    gemm_data_init_dim(g, GEMM_DIM_SMALL, GEMM_DIM_SMALL, GEMM_DIM_SMALL);
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
    struct qc_gemm_ws *ws; /* kept across calls (NULL: each call its own) */
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

    /* acc=native runs OpenBLAS single-threaded inside the GEMM's own
     * threads: qc_gemm_cpu's `threads` is the whole story. */
    memset(&gc->st, 0, sizeof gc->st);
    rc = qc_gemm_cpu_run(gc->g->c, gc->g->a, gc->g->b, &gc->desc, &gc->mac, gc->threads, gc->isa,
                         gc->ws, st, &err);
    if (rc)
        bench_die("qc_gemm_cpu (isa %s, %d threads): %s: %s", gc->isa ? gc->isa : "auto",
                  gc->threads, qc_error_name(rc), err.msg);
}

int bench_sgemm_child(int argc, char **argv)
{
    if (argc != 4)
        bench_die("--child sgemm M N K THREADS");
    const int m = atoi(argv[0]), n = atoi(argv[1]), k = atoi(argv[2]), threads = atoi(argv[3]);
    if (m < 1 || n < 1 || k < 1 || threads < 1)
        bench_die("--child sgemm: bad shape or thread count");
    float *a = bench_alloc((size_t)m * (size_t)k * sizeof(float));
    float *b = bench_alloc((size_t)k * (size_t)n * sizeof(float));
    float *c = bench_alloc((size_t)m * (size_t)n * sizeof(float));
    bench_fill_normal(a, (int64_t)m * k, 2, 1.0);
    bench_fill_normal(b, (int64_t)k * n, 3, 1.0);
    openblas_set_num_threads(threads);
    double best = INFINITY;
    const double start = bench_now();
    for (int rep = 0; rep < 200 && (rep < 4 || bench_now() - start < 0.6); rep++) {
        const double t0 = bench_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c,
                    n);
        const double t = bench_now() - t0;
        if (rep > 0 && t < best) /* the first call starts OpenBLAS's threads */
            best = t;
    }
    printf("{\"seconds\":%.9g,\"gmacs\":%.6g}\n", best, (double)m * n * k / best * 1e-9);
    free(a);
    free(b);
    free(c);
    return 0;
}

/* OpenBLAS sgemm on an m x n x k product in a process of its own: its best
 * time in seconds. */
static double sgemm_child_s(int64_t m, int64_t n, int64_t k, int threads)
{
    char dims[4][24], out[512];
    snprintf(dims[0], sizeof dims[0], "%lld", (long long)m);
    snprintf(dims[1], sizeof dims[1], "%lld", (long long)n);
    snprintf(dims[2], sizeof dims[2], "%lld", (long long)k);
    snprintf(dims[3], sizeof dims[3], "%d", threads);
    char *argv[] = {
        (char *)bench_self(), "--child", "sgemm", dims[0], dims[1], dims[2], dims[3], NULL};
    if (bench_run_child(out, sizeof out, argv, NULL) != 0)
        bench_die("the sgemm baseline process failed (%s)", out);
    const double s = bench_json_num(out, "seconds");
    if (!(s > 0))
        bench_die("the sgemm baseline printed no time: %s", out);
    return s;
}

/* The best time of `c` over a plan's repetitions, the baseline's turns
 * (a child process each) interleaved. */
static void time_vs_child(struct bench_timing *t, const struct bench_case *c, int64_t m, int64_t n,
                          int64_t k, int threads, const struct bench_plan *plan)
{
    const double start = bench_now();
    t->subject_s = t->baseline_s = INFINITY;
    t->reps = 0;
    if (plan->warm_subject)
        c->fn(c->ctx);
    while (t->reps < plan->max_reps &&
           (t->reps < plan->min_reps || bench_now() - start < plan->budget_s)) {
        if (t->reps < 2) { /* two baseline processes are enough for their best */
            const double b = sgemm_child_s(m, n, k, threads);
            t->baseline_s = b < t->baseline_s ? b : t->baseline_s;
        }
        const double t0 = bench_now();
        c->fn(c->ctx);
        const double s = bench_now() - t0;
        t->subject_s = s < t->subject_s ? s : t->subject_s;
        t->reps++;
    }
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

/* Times one configuration against sgemm at the same thread count (in a
 * process of its own), emits the figure, and leaves the subject's result in
 * g->c (counters in gc); returns the subject's best time. */
static double gemm_measure(struct gemm_call *gc, const struct gemm_data *g,
                           const struct gemm_figure *f, const struct bench_plan *plan)
{
    const struct bench_case subj = {run_gemm, gc};
    struct bench_timing t;
    char config[QC_MAC_TEXT_MAX], extra[256];

    static struct qc_gemm_ws *ws; /* one for every timed call, as a training run keeps one */
    if (!ws && !(ws = qc_gemm_ws_create()))
        bench_die("out of memory for a GEMM workspace");
    gemm_call_init(gc, g, f->mac, f->threads, f->isa, f->counters);
    gc->ws = ws;
    time_vs_child(&t, &subj, g->m, g->n, g->k, f->threads, plan);
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
        .baseline = "openblas_sgemm (own process)",
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
    return t.subject_s;
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

    gemm_data_init_dim(&g, GEMM_DIM, GEMM_DIM, GEMM_DIM);
    for (int ti = 0; ti < nt; ti++) {
        double secs[2];
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
            secs[counters] = gemm_measure(&gc, &g, &f, &plan_fast);
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
        char name[64];
        snprintf(name, sizeof name, "gemm_counting_cost_t%d", threads[ti]);
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = secs[1] / secs[0],
            .unit = "x the kernel without counters",
            .baseline = "gemm_emul_e6m5_nocounters",
            .baseline_value = secs[0],
            .ratio = secs[1] / secs[0],
            .target_kind = BENCH_AT_MOST,
            .target = 1.3,
            .threads = threads[ti],
            .isa = qc_cpu_isa_best(),
            .config = EMUL_MAC,
            .note = "time with overflow, underflow and swamping counted over time without",
        });
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
            .note = "inputs rounded to e5m2 (cfg 5 reading), then OpenBLAS sgemm, "
                    "single-threaded inside the GEMM's own threads; not bit-reproducible by "
                    "contract, so no bit check",
        };
        gemm_measure(&gc, &g, &f, &plan_fast);
    }
    gemm_data_free(&g);
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
                                       .note = "fixed-point accumulator: int32 lanes, "
                                               "saturation checked optimistically"},
                 &plan_slow);

    snprintf(name, sizeof name, "gemm_acc_e6m5_sr_t%d", all);
    gemm_measure(&gc, &g,
                 &(struct gemm_figure){.bench = name,
                                       .mac = SR_MAC,
                                       .threads = all,
                                       .note = "stochastic accumulator rounding: fp64 lanes, a "
                                               "Philox draw per rounding step"},
                 &plan_slow);
    gemm_data_free(&g);
}

/* ---- layer shapes ------------------------------------------------------------- */

/* Every GEMM of a training step (batch 128): forward, grad-weight and
 * grad-input per layer (none into the input), as the layers call them. */
static const struct {
    const char *name;
    int64_t m, n, k;
} layer_shapes[] = {
    {"lenet5_conv1_fwd", 6, 100352, 25},       {"lenet5_conv1_wgrad", 6, 25, 100352},
    {"lenet5_conv2_fwd", 16, 12800, 150},      {"lenet5_conv2_wgrad", 16, 150, 12800},
    {"lenet5_conv2_bwd", 6, 25088, 400},       {"lenet5_fc1_fwd", 128, 120, 400},
    {"lenet5_fc1_wgrad", 120, 400, 128},       {"lenet5_fc1_bwd", 128, 400, 120},
    {"lenet5_fc2_fwd", 128, 84, 120},          {"lenet5_fc2_wgrad", 84, 120, 128},
    {"lenet5_fc2_bwd", 128, 120, 84},          {"lenet5_fc3_fwd", 128, 10, 84},
    {"lenet5_fc3_wgrad", 10, 84, 128},         {"lenet5_fc3_bwd", 128, 84, 10},
    {"resnet20_conv1_fwd", 16, 131072, 9},     {"resnet20_conv1_wgrad", 16, 9, 131072},
    {"resnet20_s1_fwd", 16, 131072, 144},      {"resnet20_s1_wgrad", 16, 144, 131072},
    {"resnet20_s1_bwd", 16, 131072, 144},      {"resnet20_s2b1c1_fwd", 32, 32768, 144},
    {"resnet20_s2b1c1_wgrad", 32, 144, 32768}, {"resnet20_s2b1c1_bwd", 16, 131072, 288},
    {"resnet20_s2_fwd", 32, 32768, 288},       {"resnet20_s2_wgrad", 32, 288, 32768},
    {"resnet20_s2_bwd", 32, 32768, 288},       {"resnet20_s2sc_fwd", 32, 32768, 16},
    {"resnet20_s2sc_wgrad", 32, 16, 32768},    {"resnet20_s2sc_bwd", 16, 131072, 32},
    {"resnet20_s3b1c1_fwd", 64, 8192, 288},    {"resnet20_s3b1c1_wgrad", 64, 288, 8192},
    {"resnet20_s3b1c1_bwd", 32, 32768, 576},   {"resnet20_s3_fwd", 64, 8192, 576},
    {"resnet20_s3_wgrad", 64, 576, 8192},      {"resnet20_s3_bwd", 64, 8192, 576},
    {"resnet20_s3sc_fwd", 64, 8192, 32},       {"resnet20_s3sc_wgrad", 64, 32, 8192},
    {"resnet20_s3sc_bwd", 32, 32768, 64},      {"resnet20_fc_fwd", 128, 10, 64},
    {"resnet20_fc_wgrad", 10, 64, 128},        {"resnet20_fc_bwd", 128, 64, 10},
};

void bench_gemm_layers(void)
{
    const int threads = qc_cpu_count();
    static const struct bench_plan plan = {
        .min_reps = 3, .max_reps = 50, .budget_s = 0.5, .warm_subject = true};

    for (size_t i = 0; i < sizeof layer_shapes / sizeof layer_shapes[0]; i++) {
        struct gemm_data g;
        struct gemm_call gc;
        char name[96];
        gemm_data_init_dim(&g, layer_shapes[i].m, layer_shapes[i].n, layer_shapes[i].k);
        snprintf(name, sizeof name, "gemm_layer_%s", layer_shapes[i].name);
        gemm_measure(&gc, &g,
                     &(struct gemm_figure){.bench = name,
                                           .mac = EMUL_MAC,
                                           .threads = threads,
                                           .counters = true,
                                           .note = "a training step's GEMM shape (batch 128), "
                                                   "dense operands, counters on as in training"},
                     &plan);
        gemm_data_free(&g);
    }
}

/* ---- stochastic rounding ------------------------------------------------------ */

void bench_gemm_sr(void)
{
    const int threads = qc_cpu_count();
    struct gemm_data g;
    struct gemm_call rne, sr;
    struct bench_timing t;
    static const struct bench_plan plan = {
        .min_reps = 2, .max_reps = 10, .budget_s = 2.0, .warm_subject = true, .base_per_round = 1};

    gemm_data_init_dim(&g, 256, 256, 256);
    gemm_call_init(&rne, &g, RNE_MAC, threads, NULL, true);
    gemm_call_init(&sr, &g, SR_MAC, threads, NULL, true);
    const struct bench_case subj = {run_gemm, &sr}, base = {run_gemm, &rne};
    bench_pair(&t, &subj, &base, &plan);
    const double v = gemm_macs(&g) / t.subject_s * 1e-9, b = gemm_macs(&g) / t.baseline_s * 1e-9;
    char extra[128];
    snprintf(extra, sizeof extra, "\"shape\":[256,256,256],\"reps\":%d", t.reps);
    bench_emit(&(struct bench_figure){
        .bench = "gemm_sr_vs_rne",
        .value = v,
        .unit = "GMAC/s",
        .baseline = "the same GEMM with acc_rounding=rne",
        .baseline_value = b,
        .ratio = v / b,
        .target_kind = BENCH_AT_LEAST,
        .target = 1.0 / 3,
        .threads = threads,
        .isa = qc_cpu_isa_best(),
        .config = SR_MAC,
        .note =
            "one Philox4x32-10 draw per rounding step (docs/mac.md), in fp64 lanes; counters on",
        .extra = extra,
    });
    gemm_data_free(&g);
}
