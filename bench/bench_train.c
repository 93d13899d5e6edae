/* One training epoch of LeNet-5 on (a slice of) Fashion-MNIST with e5m2
 * inputs, CFG-5 and an e6m5 accumulator, against the same epoch with the
 * `native` fp32 path, both in this run: the emulation's cost in training
 * time, and the peak heap of each. */
#include <stdio.h>
#include <string.h>

#include "bench_heap.h"
#include "bench_train.h"
#include "bench_util.h"
#include "qcore/cpu.h"
#include "qcore/train.h"

/* A slice keeps the benchmark short; the ratio is what is reported. */
#define TRAIN_SLICE 2048

struct epoch_ctx {
    struct qc_train_cfg cfg;
    int rc;
    struct qc_err err;
};

static void run_epoch(void *p)
{
    struct epoch_ctx *c = p;
    c->rc = qc_train_run(&c->cfg, NULL, NULL, NULL, &c->err);
}

static void configure(struct epoch_ctx *c, const char *mac, const char *fmt)
{
    qc_train_cfg_init(&c->cfg);
    c->cfg.train_limit = TRAIN_SLICE;
    c->cfg.val_limit = 512;
    c->cfg.epochs = 1;
    c->cfg.batch = 128;
    c->cfg.log_interval = 1000000; /* no metric lines */
    qc_format_parse(&c->cfg.arith.weights, fmt, &c->err);
    c->cfg.arith.activations = c->cfg.arith.errors = c->cfg.arith.weights;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        qc_mac_parse(&c->cfg.arith.mac[g], mac, &c->err);
}

void bench_train_epoch(void)
{
    static const char emul_mac[] = "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32";
    static struct epoch_ctx emul, native; /* large: not on the stack */
    struct bench_timing t;
    char extra[512];

    configure(&emul, emul_mac, "e5m2");
    configure(&native, "acc=native", "fp32");
    struct qc_dataset probe;
    struct qc_err err;
    if (qc_dataset_load(&probe, "fashion-mnist", NULL, QC_SPLIT_TEST, 1, 0, &err)) {
        bench_skip("train_epoch_lenet5", err.msg);
        return;
    }
    qc_dataset_free(&probe);

    const struct bench_plan plan = {.min_reps = 2,
                                    .max_reps = 3,
                                    .budget_s = 20.0,
                                    .warm_subject = false,
                                    .base_per_round = 1,
                                    .settle_s = 0.15};
    const struct bench_case subject = {run_epoch, &emul}, baseline = {run_epoch, &native};
    bench_pair(&t, &subject, &baseline, &plan);
    if (emul.rc || native.rc) {
        bench_skip("train_epoch_lenet5", emul.rc ? emul.err.msg : native.err.msg);
        return;
    }

    struct bench_heap_window he, hn;
    bench_heap_begin();
    run_epoch(&emul);
    bench_heap_end(&he);
    bench_heap_begin();
    run_epoch(&native);
    bench_heap_end(&hn);
    snprintf(extra, sizeof extra,
             "\"images\":%d,\"emulated_s\":%.3f,\"native_s\":%.3f,\"peak_heap_emulated\":%lld,"
             "\"peak_heap_native\":%lld",
             TRAIN_SLICE, t.subject_s, t.baseline_s, (long long)he.peak_extra,
             (long long)hn.peak_extra);
    const struct bench_figure f = {
        .bench = "train_epoch_lenet5",
        .value = t.subject_s / t.baseline_s,
        .unit = "x native time",
        .baseline = "same epoch, acc=native fp32",
        .baseline_value = t.baseline_s,
        .ratio = t.subject_s / t.baseline_s,
        .target_kind = BENCH_AT_MOST,
        .target = 4.0,
        .threads = qc_cpu_count(),
        .isa = qc_cpu_isa_best(),
        .config = emul_mac,
        .note = "LeNet-5, one epoch of a Fashion-MNIST slice plus validation",
        .extra = extra,
    };
    bench_emit(&f);
}
