/* Training throughput against PyTorch fp32 (group "train"): LeNet-5, the
 * MLP and ResNet-20 (CIFAR-style, on 32 x 32 Fashion-MNIST), each trained
 * by qlab with acc=native, with e5m2 / CFG-5 / e6m5 emulated (chunk 32)
 * and with fp32 emulated exactly, and by PyTorch fp32 on the same model,
 * data slice, batch and thread count (bench/torch_train.py). Every run is
 * its own process, started in turns with the parent idle, so no run shares
 * a process with another's thread pools; each figure is the median of its
 * rounds. The runs also report their peak resident set and what a
 * training step allocates once it is in its steady state. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_heap.h"
#include "bench_train.h"
#include "bench_util.h"
#include "qcore/cpu.h"
#include "qcore/train.h"

#define EMUL_MAC "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32"

struct model_case {
    const char *name;    /* figure and torch_train.py --model name */
    const char *arch;    /* qc_model_desc arch */
    const char *dataset; /* registry name with options */
    int size;            /* image side PyTorch pads to */
    int64_t images;      /* the slice: training images per run */
    int rounds;
    double target[3]; /* per arithmetic; 0: informative */
};

static const struct model_case models[] = {
    {"lenet5", "lenet5", "fashion-mnist", 28, 2560, 3, {1.0, 0.4, 0.2}},
    {"mlp", "mlp", "fashion-mnist", 28, 12800, 3, {1.0, 0.4, 0.2}},
    {"resnet20", "resnet", "fashion-mnist:size=32", 32, 384, 1, {0, 0, 0}},
};

static const struct {
    const char *name, *mac, *format, *what;
} ariths[] = {
    {"native", "acc=native", "fp32", "acc=native: operands quantized, then OpenBLAS sgemm"},
    {"e5m2_cfg5_e6m5", EMUL_MAC, "e5m2",
     "every MAC emulated: e5m2 inputs, CFG-5, e6m5 accumulator"},
    {"fp32_exact", "cfg=1", "fp32", "fp32 emulated exactly (CFG-1, fp32 accumulator)"},
};

#define N_MODELS ((int)(sizeof models / sizeof models[0]))
#define N_ARITH  ((int)(sizeof ariths / sizeof ariths[0]))

/* ---- the child: one training run ------------------------------------------------ */

struct steps {
    int n;
    double seconds; /* steady state: every step after the first */
    int64_t images;
    bool window; /* the heap window is open */
};

/* Each "step" line (log_interval 1) carries its images and images_per_s. */
static int collect(void *ctx, const char *line)
{
    struct steps *s = ctx;
    if (!strstr(line, "\"kind\":\"step\""))
        return 0;
    const double ips = bench_json_num(line, "images_per_s");
    const double acc_seen = 128; /* every step of the slices is a full batch */
    if (s->n > 0 && ips > 0) {
        s->seconds += acc_seen / ips;
        s->images += (int64_t)acc_seen;
    }
    if (s->n == 0 && bench_heap_available()) {
        bench_heap_begin(); /* after the first step: the steady state */
        s->window = true;
    }
    s->n++;
    return 0;
}

int bench_train_child(int argc, char **argv)
{
    static struct qc_train_cfg cfg; /* large: not on the stack */
    struct steps s = {0};
    struct qc_train_hooks hooks = {.ctx = &s, .metric = collect};
    struct qc_err err;
    const struct model_case *m = NULL;
    int ai = -1;

    /* What the process holds before training: its libraries (qlab-bench
     * links cuBLAS for the GPU figures, which qlab itself opens only on a
     * GPU run). */
    const long long start_rss = bench_rss_now();
    if (argc != 3)
        bench_die("--child train MODEL ARITH THREADS");
    for (int i = 0; i < N_MODELS; i++)
        if (strcmp(argv[0], models[i].name) == 0)
            m = &models[i];
    for (int i = 0; i < N_ARITH; i++)
        if (strcmp(argv[1], ariths[i].name) == 0)
            ai = i;
    if (!m || ai < 0)
        bench_die("--child train: unknown model '%s' or arithmetic '%s'", argv[0], argv[1]);
    qc_train_cfg_init(&cfg);
    snprintf(cfg.model.arch, sizeof cfg.model.arch, "%s", m->arch);
    cfg.model.nhidden = 2;
    cfg.model.hidden[0] = 256;
    cfg.model.hidden[1] = 128;
    cfg.model.depth = 20;
    snprintf(cfg.dataset, sizeof cfg.dataset, "%s", m->dataset);
    cfg.train_limit = m->images;
    cfg.val_limit = 128;
    cfg.epochs = 1;
    cfg.batch = 128;
    cfg.log_interval = 1;
    cfg.threads = atoi(argv[2]);
    if (qc_format_parse(&cfg.arith.weights, ariths[ai].format, &err))
        bench_die("format %s: %s", ariths[ai].format, err.msg);
    cfg.arith.activations = cfg.arith.errors = cfg.arith.weights;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        if (qc_mac_parse(&cfg.arith.mac[g], ariths[ai].mac, &err))
            bench_die("MAC %s: %s", ariths[ai].mac, err.msg);
    const int rc = qc_train_run(&cfg, NULL, &hooks, NULL, &err);
    struct bench_heap_window w = {0};
    if (s.window)
        bench_heap_end(&w);
    if (rc) {
        printf("{\"skipped\":true,\"reason\":\"%s\"}\n", err.msg);
        return 0;
    }
    /* The window also saw validation and teardown: what the steps alone
     * allocated is what stayed below the first free of the net. */
    printf("{\"images_per_s\":%.6g,\"steps\":%d,\"steady_allocs\":%lld,\"steady_peak_bytes\":%lld,"
           "\"peak_rss_bytes\":%lld,\"start_rss_bytes\":%lld}\n",
           s.seconds > 0 ? (double)s.images / s.seconds : 0.0, s.n, (long long)w.allocs,
           (long long)w.peak_extra, bench_peak_rss(), start_rss);
    return 0;
}

/* ---- the parent --------------------------------------------------------------------- */

static const char *python(void)
{
    const char *p = getenv("QLAB_BENCH_PYTHON");
    return p && *p ? p : "/usr/bin/python3";
}

static const char *torch_script(void)
{
    const char *p = getenv("QLAB_TORCH_SCRIPT");
    return p && *p ? p : "bench/torch_train.py";
}

struct run_result {
    double ips[8];
    int n;
    long maxrss_kb;
    long run_kb; /* peak minus the process's start (0: unknown) */
    char line[2048];
};

/* The child's own peak resident set (its JSON line's peak_rss_bytes, read
 * from VmHWM), else what wait4 said, and what the run added to the
 * process it started in (peak - start_rss_bytes: libraries loaded, before
 * any data); the largest over the rounds. */
static void note_rss(struct run_result *r, const char *line, long rusage_kb)
{
    const double b = bench_json_num(line, "peak_rss_bytes");
    const double s0 = bench_json_num(line, "start_rss_bytes");
    const long kb = b > 0 ? (long)(b / 1024) : rusage_kb;
    if (kb > r->maxrss_kb)
        r->maxrss_kb = kb;
    if (b > 0 && s0 > 0 && (long)((b - s0) / 1024) > r->run_kb)
        r->run_kb = (long)((b - s0) / 1024);
}

static bool run_torch(struct run_result *r, const struct model_case *m, int threads)
{
    char images[32], th[16], size[16], out[1024];
    snprintf(images, sizeof images, "%lld", (long long)m->images);
    snprintf(th, sizeof th, "%d", threads);
    snprintf(size, sizeof size, "%d", m->size);
    char *argv[] = {(char *)python(),
                    (char *)torch_script(),
                    "--model",
                    (char *)m->name,
                    "--images",
                    images,
                    "--threads",
                    th,
                    "--size",
                    size,
                    NULL};
    long rss;
    if (bench_run_child(out, sizeof out, argv, &rss) != 0 || strstr(out, "\"skipped\"")) {
        snprintf(r->line, sizeof r->line, "%s", out[0] ? out : "could not run the script");
        return false;
    }
    const double v = bench_json_num(out, "images_per_s");
    if (!(v > 0)) {
        snprintf(r->line, sizeof r->line, "no images_per_s in: %.1000s", out);
        return false;
    }
    r->ips[r->n++] = v;
    note_rss(r, out, rss);
    return true;
}

static bool run_qlab(struct run_result *r, const struct model_case *m, int ai, int threads)
{
    char th[16], out[1024];
    snprintf(th, sizeof th, "%d", threads);
    char *argv[] = {(char *)bench_self(),    "--child", "train", (char *)m->name,
                    (char *)ariths[ai].name, th,        NULL};
    long rss;
    if (bench_run_child(out, sizeof out, argv, &rss) != 0 || strstr(out, "\"skipped\"")) {
        snprintf(r->line, sizeof r->line, "%s", out[0] ? out : "the child failed");
        return false;
    }
    const double v = bench_json_num(out, "images_per_s");
    if (!(v > 0))
        return false;
    r->ips[r->n++] = v;
    note_rss(r, out, rss);
    snprintf(r->line, sizeof r->line, "%s", out);
    return true;
}

static void emit_model(const struct model_case *m, struct run_result *torch, struct run_result *q,
                       int threads)
{
    const double base = bench_median(torch->ips, torch->n);
    for (int ai = 0; ai < N_ARITH; ai++) {
        char name[96], extra[512];
        if (q[ai].n == 0) {
            snprintf(name, sizeof name, "train_%s_%s", m->name, ariths[ai].name);
            bench_skip(name, q[ai].line[0] ? q[ai].line : "no run succeeded");
            continue;
        }
        const double v = bench_median(q[ai].ips, q[ai].n);
        snprintf(name, sizeof name, "train_%s_%s", m->name, ariths[ai].name);
        snprintf(extra, sizeof extra,
                 "\"images\":%lld,\"batch\":128,\"rounds\":%d,\"peak_rss_bytes\":%lld,"
                 "\"run_rss_bytes\":%lld,\"torch_peak_rss_bytes\":%lld,"
                 "\"torch_run_rss_bytes\":%lld,\"steady_allocs\":%.0f,\"steady_heap_bytes\":%.0f",
                 (long long)m->images, q[ai].n, (long long)q[ai].maxrss_kb * 1024,
                 (long long)q[ai].run_kb * 1024, (long long)torch->maxrss_kb * 1024,
                 (long long)torch->run_kb * 1024, bench_json_num(q[ai].line, "steady_allocs"),
                 bench_json_num(q[ai].line, "steady_peak_bytes"));
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = v,
            .unit = "images/s",
            .baseline = "pytorch_fp32",
            .baseline_value = base,
            .ratio = v / base,
            .target_kind = m->target[ai] > 0 ? BENCH_AT_LEAST : BENCH_NO_TARGET,
            .target = m->target[ai],
            .threads = threads,
            .isa = qc_cpu_isa_best(),
            .config = ariths[ai].mac,
            .note = ariths[ai].what,
            .extra = extra,
        });
    }
    /* Memory of a whole run (load, train, validate), qlab emulated against
     * PyTorch: the peak resident set minus what the process held before
     * (its libraries), so that the cuBLAS qlab-bench links and the Python
     * interpreter with torch's libraries stay out; the whole peaks are in
     * the extra members. */
    if (q[1].n > 0 && q[1].run_kb > 0 && torch->run_kb > 0 && strcmp(m->name, "mlp") != 0) {
        char name[96], extra[160];
        snprintf(name, sizeof name, "train_%s_peak_rss", m->name);
        snprintf(extra, sizeof extra, "\"peak_rss_bytes\":%lld,\"torch_peak_rss_bytes\":%lld",
                 (long long)q[1].maxrss_kb * 1024, (long long)torch->maxrss_kb * 1024);
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = (double)q[1].run_kb * 1024,
            .unit = "bytes",
            .baseline = "pytorch_fp32, the same",
            .baseline_value = (double)torch->run_kb * 1024,
            .ratio = (double)q[1].run_kb / (double)torch->run_kb,
            .threads = threads,
            .isa = qc_cpu_isa_best(),
            .config = EMUL_MAC,
            .note = "peak resident set (VmHWM) of the emulated run minus its process's resident "
                    "set before the run (libraries)",
            .extra = extra,
        });
    }
}

void bench_train_models(void)
{
    /* QLAB_BENCH_THREADS=N: both sides at N threads (1 is the figure least
     * bent by other jobs on a shared machine: no thread waits on another). */
    const char *env = getenv("QLAB_BENCH_THREADS");
    const int threads = env && atoi(env) > 0 ? atoi(env) : qc_cpu_count();
    struct qc_dataset probe;
    struct qc_err err;

    if (qc_dataset_load(&probe, "fashion-mnist", NULL, QC_SPLIT_TEST, 1, 0, &err)) {
        bench_skip("train", err.msg);
        return;
    }
    qc_dataset_free(&probe);
    for (int mi = 0; mi < N_MODELS; mi++) {
        const struct model_case *m = &models[mi];
        struct run_result torch = {0}, q[N_ARITH];
        memset(q, 0, sizeof q);
        bool have_torch = true;
        /* Rounds of the four runs in turn: a change in the machine's load
         * reaches every side alike. */
        for (int round = 0; round < m->rounds; round++) {
            if (have_torch)
                have_torch = run_torch(&torch, m, threads);
            for (int ai = 0; ai < N_ARITH; ai++)
                run_qlab(&q[ai], m, ai, threads);
        }
        if (!have_torch || torch.n == 0) {
            char name[96];
            snprintf(name, sizeof name, "train_%s", m->name);
            bench_skip(name, torch.line);
            continue;
        }
        emit_model(m, &torch, q, threads);
    }
}
