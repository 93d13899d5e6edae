/* GPU benchmarks: the emulated 4096^3 GEMM (e5m2, CFG-5, e6m5, chunk 32) on
 * the CUDA backend against cuBLAS sgemm of the same size timed in the same
 * run (target: at least 1/10 of its speed), the GPU against this machine's
 * CPU on a 1024^3 emulated GEMM, and one ResNet-20 epoch on 32x32 inputs,
 * fully emulated, against the same epoch on the native path. Every GPU
 * result that is timed is also checked against the CPU bit for bit (a
 * sample of rows for the large GEMM): a fast wrong answer is no figure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cuda.h"
#include "bench_util.h"
#include "qcore/backend.h"
#include "qcore/cpu.h"
#include "qcore/gemm_cpu.h"
#include "qcore/train.h"

#define BIG_DIM    4096
#define SMALL_DIM  1024
#define CHECK_ROWS 2
#define EMUL_MAC   "cfg=5,a=e5m2,b=e5m2,product=exact,acc=e6m5,acc_rounding=rne,chunk=32"
#define NATIVE_MAC "cfg=5,a=e5m2,b=e5m2,acc=native"

static struct qc_mac mac_or_die(const char *s)
{
    struct qc_mac m;
    struct qc_err err;

    if (qc_mac_parse(&m, s, &err))
        bench_die("MAC '%s': %s", s, err.msg);
    return m;
}

/* The CUDA backend on device 0, or NULL with the reason reported for each
 * of `names` (a NULL-terminated list of the figures that cannot run). */
static struct qc_backend *gpu_or_skip(const char *const *names)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts o = {.threads = 1, .device = 0};
    struct qc_err err;

    if (qc_backend_create(&be, "cuda", &o, &err) == QC_OK)
        return be;
    for (int i = 0; names[i]; i++)
        bench_skip(names[i], err.msg);
    return NULL;
}

/* Wall time of one GEMM call on `be`; dies on an error. */
static double time_gemm(struct qc_backend *be, float *c, const float *a, const float *b,
                        const struct qc_gemm_desc *d, const struct qc_mac *m)
{
    struct qc_err err;
    const double t0 = bench_now();

    if (qc_backend_gemm(be, c, a, b, d, m, NULL, &err))
        bench_die("%s GEMM: %s", be->vt->kind, err.msg);
    return bench_now() - t0;
}

/* Rows [0, rows) of c (n wide) against the CPU backend's result for them. */
static void check_rows(const float *c, const float *a, const float *b, int64_t rows, int64_t n,
                       int64_t k, const struct qc_mac *m, const char *what)
{
    struct qc_backend *cpu = NULL;
    struct qc_backend_opts o = {.threads = 0};
    struct qc_gemm_desc d;
    struct qc_err err;
    float *want = bench_alloc((size_t)(rows * n) * sizeof(float));

    if (qc_backend_create(&cpu, "cpu", &o, &err))
        bench_die("cpu backend: %s", err.msg);
    qc_gemm_desc_init(&d, rows, n, k);
    if (qc_backend_gemm(cpu, want, a, b, &d, m, NULL, &err))
        bench_die("cpu GEMM: %s", err.msg);
    if (memcmp(want, c, (size_t)(rows * n) * sizeof(float)) != 0)
        bench_die("%s: the GPU's result differs from the CPU's in the first %lld rows", what,
                  (long long)rows);
    qc_backend_destroy(cpu);
    free(want);
}

void bench_cuda_gemm(void)
{
    static const char *const names[] = {"cuda_gemm_emul_4096", "cuda_gemm_native_4096",
                                        "cuda_gemm_vs_cpu_1024", NULL};
    struct qc_backend *gpu = gpu_or_skip(names);
    const int64_t n = BIG_DIM;
    char why[256], extra[512];
    double sgemm_s;

    if (!gpu)
        return;
    if (bench_cuda_sgemm_time(0, n, n, n, 10, &sgemm_s, why, sizeof why)) {
        for (int i = 0; names[i]; i++)
            bench_skip(names[i], why);
        qc_backend_destroy(gpu);
        return;
    }
    float *a = bench_alloc((size_t)(n * n) * sizeof(float));
    float *b = bench_alloc((size_t)(n * n) * sizeof(float));
    float *c = bench_alloc((size_t)(n * n) * sizeof(float));
    bench_fill_normal(a, n * n, 1, 1.0);
    bench_fill_normal(b, n * n, 2, 1.0);
    const struct qc_mac emul = mac_or_die(EMUL_MAC), native = mac_or_die(NATIVE_MAC);
    struct qc_gemm_desc d;

    /* The emulated GEMM: best of two calls (the first also sizes the
     * backend's buffers), then a sample of rows checked on the CPU. */
    qc_gemm_desc_init(&d, n, n, n);
    double emul_s = time_gemm(gpu, c, a, b, &d, &emul);
    const double second = time_gemm(gpu, c, a, b, &d, &emul);
    if (second < emul_s)
        emul_s = second;
    check_rows(c, a, b, CHECK_ROWS, n, n, &emul, "cuda_gemm_emul_4096");
    const double macs = (double)n * (double)n * (double)n;
    snprintf(extra, sizeof extra,
             "\"m\":%lld,\"emulated_s\":%.4f,\"sgemm_s\":%.5f,\"emulated_gmac_s\":%.2f,"
             "\"sgemm_tflops\":%.2f,\"checked_rows\":%d",
             (long long)n, emul_s, sgemm_s, macs / emul_s * 1e-9, 2 * macs / sgemm_s * 1e-12,
             CHECK_ROWS);
    const struct bench_figure fe = {
        .bench = "cuda_gemm_emul_4096",
        .value = emul_s,
        .unit = "s",
        .baseline = "cuBLAS sgemm, same size, data on the device",
        .baseline_value = sgemm_s,
        .ratio = sgemm_s / emul_s,
        .target_kind = BENCH_AT_LEAST,
        .target = 0.1,
        .threads = 1,
        .isa = gpu->device,
        .config = EMUL_MAC,
        .note = "ratio: the emulation's speed as a fraction of sgemm's; the emulated time "
                "includes the copies to and from the host",
        .extra = extra,
    };
    bench_emit(&fe);

    /* acc=native through the backend: sgemm plus the copies and the input
     * rounding, against sgemm alone. */
    double native_s = time_gemm(gpu, c, a, b, &d, &native);
    const double again = time_gemm(gpu, c, a, b, &d, &native);
    if (again < native_s)
        native_s = again;
    const struct bench_figure fn = {
        .bench = "cuda_gemm_native_4096",
        .value = native_s,
        .unit = "s",
        .baseline = "cuBLAS sgemm, same size, data on the device",
        .baseline_value = sgemm_s,
        .ratio = sgemm_s / native_s,
        .threads = 1,
        .isa = gpu->device,
        .config = NATIVE_MAC,
        .note = "the backend's native path end to end (copies, input rounding) against sgemm",
    };
    bench_emit(&fn);

    /* The GPU against all of this machine's cores, same emulated GEMM,
     * whole result compared. */
    struct qc_backend *cpu = NULL;
    struct qc_backend_opts co = {.threads = 0};
    struct qc_err err;
    const int64_t s = SMALL_DIM;
    float *cc = bench_alloc((size_t)(s * s) * sizeof(float));
    if (qc_backend_create(&cpu, "cpu", &co, &err))
        bench_die("cpu backend: %s", err.msg);
    qc_gemm_desc_init(&d, s, s, s);
    d.lda = d.ldb = n; /* the top-left corners of A and B */
    const double gpu_s = time_gemm(gpu, c, a, b, &d, &emul);
    const double cpu_s = time_gemm(cpu, cc, a, b, &d, &emul);
    if (memcmp(c, cc, (size_t)(s * s) * sizeof(float)) != 0)
        bench_die("cuda_gemm_vs_cpu_1024: the GPU's result differs from the CPU's");
    snprintf(extra, sizeof extra, "\"cpu_threads\":%d,\"cpu_isa\":\"%s\"", cpu->threads,
             qc_cpu_isa_best());
    const struct bench_figure fc = {
        .bench = "cuda_gemm_vs_cpu_1024",
        .value = gpu_s,
        .unit = "s",
        .baseline = "the CPU backend, every core, same GEMM (identical result checked)",
        .baseline_value = cpu_s,
        .ratio = cpu_s / gpu_s,
        .threads = 1,
        .isa = gpu->device,
        .config = EMUL_MAC,
        .note = "ratio: the GPU's speed-up over the CPU",
        .extra = extra,
    };
    bench_emit(&fc);
    qc_backend_destroy(cpu);
    qc_backend_destroy(gpu);
    free(a);
    free(b);
    free(c);
    free(cc);
}

/* ---- ResNet-20, one epoch ------------------------------------------------ */

#define EPOCH_IMAGES 50000

struct epoch_ctx {
    struct qc_train_cfg cfg;
    struct qc_net net;
    int rc;
    struct qc_err err;
};

static void resnet_cfg(struct epoch_ctx *c, int64_t images, const char *mac, const char *fmt)
{
    qc_train_cfg_init(&c->cfg);
    snprintf(c->cfg.dataset, sizeof c->cfg.dataset, "synthetic:c=3:h=32:w=32:train=%lld:test=256",
             (long long)images);
    snprintf(c->cfg.model.arch, sizeof c->cfg.model.arch, "resnet");
    c->cfg.model.depth = 20;
    snprintf(c->cfg.backend, sizeof c->cfg.backend, "cuda");
    c->cfg.epochs = 1;
    c->cfg.batch = 128;
    c->cfg.log_interval = 1000000; /* no metric lines */
    c->cfg.threads = qc_cpu_count();
    qc_format_parse(&c->cfg.arith.weights, fmt, &c->err);
    c->cfg.arith.activations = c->cfg.arith.errors = c->cfg.arith.weights;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        qc_mac_parse(&c->cfg.arith.mac[g], mac, &c->err);
}

static double run_epoch(struct epoch_ctx *c)
{
    const double t0 = bench_now();
    c->rc = qc_train_run(&c->cfg, NULL, NULL, &c->net, &c->err);
    return bench_now() - t0;
}

void bench_cuda_train_epoch(void)
{
    static const char *const names[] = {"cuda_train_epoch_resnet20", NULL};
    static const char emul_mac[] = "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32";
    static struct epoch_ctx emul, native; /* large: not on the stack */
    const char *env = getenv("QLAB_BENCH_CUDA_IMAGES");
    const int64_t images = env && atoll(env) > 0 ? atoll(env) : EPOCH_IMAGES;
    struct qc_backend *probe = gpu_or_skip(names);
    char extra[512];

    if (!probe)
        return;
    qc_backend_destroy(probe);
    resnet_cfg(&native, images, "acc=native", "fp32");
    resnet_cfg(&emul, images, emul_mac, "e5m2");
    const double native_s = run_epoch(&native);
    const double emul_s = run_epoch(&emul);
    qc_net_free(&native.net);
    qc_net_free(&emul.net);
    if (native.rc || emul.rc) {
        bench_skip(names[0], native.rc ? native.err.msg : emul.err.msg);
        return;
    }
    snprintf(extra, sizeof extra,
             "\"images\":%lld,\"emulated_s\":%.2f,\"native_s\":%.2f,\"emulated_images_s\":%.1f,"
             "\"epoch_s_estimate\":%.1f",
             (long long)images, emul_s, native_s, (double)images / emul_s,
             emul_s * (double)EPOCH_IMAGES / (double)images);
    const struct bench_figure f = {
        .bench = "cuda_train_epoch_resnet20",
        .value = emul_s,
        .unit = "s",
        .baseline = "same epoch on the GPU with acc=native (cuBLAS sgemm)",
        .baseline_value = native_s,
        .ratio = emul_s / native_s,
        .threads = native.cfg.threads,
        .isa = "cuda",
        .config = emul_mac,
        .note = images == EPOCH_IMAGES
                    ? "ResNet-20, 32x32x3 synthetic images, one epoch of 50000 plus validation; "
                      "the GEMMs on the GPU, the other layers on the CPU"
                    : "ResNet-20, 32x32x3 synthetic images, a slice of an epoch "
                      "(QLAB_BENCH_CUDA_IMAGES); epoch_s_estimate scales it to 50000",
        .extra = extra,
    };
    bench_emit(&f);
}
