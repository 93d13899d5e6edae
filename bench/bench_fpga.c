/* FPGA boards (group fpga): the emulated board's training speed against
 * the CPU backend on the same spec (the cycle model's overhead), the
 * board's predicted throughput for LeNet-5 and ResNet-20 against the array's
 * peak and this machine's fp32 CPU training, and what max calibration of
 * block scales costs on the board against delay_update for blocks of
 * 16/32/64 (predicted latency ratio). Predictions come from dry runs: the
 * fpga backend charges every GEMM of real training steps to the ZCU104's
 * cycle model without computing it (docs/fpga.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_fpga.h"
#include "bench_util.h"
#include "qcore/board.h"
#include "qcore/cpu.h"
#include "qcore/train.h"

#define BOARD "zcu104"

struct run_ctx {
    struct qc_train_cfg cfg;
    struct qc_train_opts opts;
    int rc;
    struct qc_err err;
    char epoch_line[8192]; /* the last epoch line */
};

static int on_metric(void *ctx, const char *line)
{
    struct run_ctx *c = ctx;
    if (strstr(line, "\"kind\":\"epoch\""))
        snprintf(c->epoch_line, sizeof c->epoch_line, "%s", line);
    return 0;
}

static void run_train(void *p)
{
    struct run_ctx *c = p;
    const struct qc_train_hooks hooks = {.ctx = c, .metric = on_metric};
    c->rc = qc_train_run(&c->cfg, &c->opts, &hooks, NULL, &c->err);
}

/* A number member of a metric line; dies when it is missing. */
static double member(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        bench_die("no %s in the metric line: %.200s", key, line);
    return strtod(p + strlen(pat), NULL);
}

static void configure(struct run_ctx *c, const char *arch, const char *dataset, int64_t batch,
                      int64_t images, const char *fmt, const char *mac, enum qc_scale_policy policy,
                      const char *backend)
{
    memset(c, 0, sizeof *c);
    qc_train_cfg_init(&c->cfg);
    snprintf(c->cfg.model.arch, sizeof c->cfg.model.arch, "%s", arch);
    if (strcmp(arch, "resnet") == 0)
        c->cfg.model.depth = 20;
    snprintf(c->cfg.dataset, sizeof c->cfg.dataset, "%s", dataset);
    c->cfg.train_limit = images;
    c->cfg.val_limit = batch;
    c->cfg.epochs = 1;
    c->cfg.batch = batch;
    c->cfg.log_interval = 1000000;
    if (qc_format_parse(&c->cfg.arith.weights, fmt, &c->err))
        bench_die("%s: %s", fmt, c->err.msg);
    c->cfg.arith.activations = c->cfg.arith.errors = c->cfg.arith.weights;
    for (int g = 0; g < QC_GEMM_GROUPS; g++)
        if (qc_mac_parse(&c->cfg.arith.mac[g], mac, &c->err))
            bench_die("%s: %s", mac, c->err.msg);
    c->cfg.scaling.policy = policy;
    snprintf(c->cfg.backend, sizeof c->cfg.backend, "%s", backend);
    if (strcmp(backend, "fpga") == 0)
        snprintf(c->cfg.board, sizeof c->cfg.board, BOARD);
}

/* The emulated board trains as fast as the CPU backend it computes with:
 * the model's charge per GEMM is the only extra work. */
static void train_throughput(void)
{
    static struct run_ctx fpga, cpu; /* large: not on the stack */
    static const char mac[] = "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32";
    struct bench_timing t;
    char extra[256];

    configure(&fpga, "lenet5", "fashion-mnist", 128, 2048, "e5m2", mac, QC_SCALE_POLICY_NONE,
              "fpga");
    configure(&cpu, "lenet5", "fashion-mnist", 128, 2048, "e5m2", mac, QC_SCALE_POLICY_NONE, "cpu");
    const struct bench_plan plan = {.min_reps = 2,
                                    .max_reps = 3,
                                    .budget_s = 20.0,
                                    .warm_subject = false,
                                    .base_per_round = 1,
                                    .settle_s = 0.15};
    const struct bench_case subject = {run_train, &fpga}, baseline = {run_train, &cpu};
    bench_pair(&t, &subject, &baseline, &plan);
    if (fpga.rc || cpu.rc) {
        bench_skip("fpga_train_epoch_lenet5", fpga.rc ? fpga.err.msg : cpu.err.msg);
        return;
    }
    snprintf(extra, sizeof extra, "\"images\":2048,\"board\":\"%s\",\"board_time_s\":%.6g", BOARD,
             member(fpga.epoch_line, "board_time_s"));
    bench_emit(&(struct bench_figure){
        .bench = "fpga_train_epoch_lenet5",
        .value = 2048 / t.subject_s,
        .unit = "images/s",
        .baseline = "the cpu backend, same spec and run",
        .baseline_value = 2048 / t.baseline_s,
        .ratio = t.baseline_s / t.subject_s,
        .threads = qc_cpu_count(),
        .config = mac,
        .note = "emulated zcu104 (exact CPU GEMM + cycle model) vs cpu; the metrics are identical",
        .extra = extra,
    });
}

struct model_row {
    const char *name, *arch, *dataset;
    int64_t batch, images;
};

static const struct model_row models[] = {
    {"lenet5", "lenet5", "synthetic:c=1:h=28:w=28:train=256:test=128", 128, 256},
    {"resnet20", "resnet", "synthetic:c=3:h=32:w=32:train=128:test=128", 64, 128},
};

/* Board time of one dry-run epoch; its epoch line in c->epoch_line. */
static double dry_epoch(struct run_ctx *c, const struct model_row *m, const char *fmt,
                        const char *mac, enum qc_scale_policy policy)
{
    configure(c, m->arch, m->dataset, m->batch, m->images, fmt, mac, policy, "fpga");
    c->cfg.board_dry_run = true;
    run_train(c);
    if (c->rc)
        bench_die("%s dry run (%s, %s): %s", m->name, fmt, qc_scale_policy_name(policy),
                  c->err.msg);
    return member(c->epoch_line, "board_time_s");
}

static void predicted(void)
{
    static struct run_ctx dry, native;
    static const char mac[] = "cfg=5,a=e5m2,b=e5m2,acc=e6m5,acc_rounding=rne,chunk=32";
    struct qc_board b;
    struct qc_err err;
    char name[96], extra[256];

    if (qc_board_find(&b, BOARD, &err))
        bench_die("%s", err.msg);
    const double peak = (double)b.rows * b.cols * b.clock_hz;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        const struct model_row *m = &models[i];
        const double t = dry_epoch(&dry, m, "e5m2", mac, QC_SCALE_POLICY_NONE);
        const double util = member(dry.epoch_line, "board_utilisation");
        const double ips = member(dry.epoch_line, "board_images_per_s");
        snprintf(extra, sizeof extra,
                 "\"board\":\"%s\",\"batch\":%lld,\"board_time_s\":%.6g,\"utilisation\":%.4g",
                 BOARD, (long long)m->batch, t, util);
        snprintf(name, sizeof name, "fpga_predicted_gmacs_%s", m->name);
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = util * peak / 1e9,
            .unit = "GMAC/s",
            .baseline = "the array's peak (rows x cols x clock)",
            .baseline_value = peak / 1e9,
            .ratio = util,
            .config = mac,
            .note = "predicted by the cycle model over a training epoch's GEMMs",
            .extra = extra,
        });
        /* This machine's fp32 training (OpenBLAS), timed in this run. */
        configure(&native, m->arch, m->dataset, m->batch, m->images, "fp32", "acc=native",
                  QC_SCALE_POLICY_NONE, "cpu");
        const double t0 = bench_now();
        run_train(&native);
        const double cpu_s = bench_now() - t0;
        if (native.rc)
            bench_die("%s fp32 epoch: %s", m->name, native.err.msg);
        /* The wall time includes validation (val_limit = one batch). */
        const double cpu_ips = (double)(m->images + m->batch) / cpu_s;
        snprintf(name, sizeof name, "fpga_predicted_images_per_s_%s", m->name);
        bench_emit(&(struct bench_figure){
            .bench = name,
            .value = ips,
            .unit = "images/s",
            .baseline = "fp32 training on this machine's CPU (OpenBLAS), same run",
            .baseline_value = cpu_ips,
            .ratio = ips / cpu_ips,
            .threads = qc_cpu_count(),
            .config = mac,
            .note = "board: GEMMs only (forward, backward, weight gradients), by the model",
            .extra = extra,
        });
    }
}

/* Max calibration against delay_update with MXFP8 (E4M3) blocks of 16, 32
 * and 64: predicted board latency of a training epoch. */
static void calibration(void)
{
    static struct run_ctx c;
    static const int blocks[] = {16, 32, 64};
    char fmt[32], mac[128], name[96], extra[128];

    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        for (size_t j = 0; j < sizeof blocks / sizeof blocks[0]; j++) {
            snprintf(fmt, sizeof fmt, "mxfp8_e4m3@%d", blocks[j]);
            snprintf(mac, sizeof mac, "a=%s,b=%s,acc=fp32", fmt, fmt);
            const double t_max = dry_epoch(&c, &models[i], fmt, mac, QC_SCALE_POLICY_MAX);
            const double t_du = dry_epoch(&c, &models[i], fmt, mac, QC_SCALE_POLICY_DELAY_UPDATE);
            snprintf(name, sizeof name, "fpga_max_vs_delay_update_%s_b%d", models[i].name,
                     blocks[j]);
            snprintf(extra, sizeof extra, "\"board\":\"%s\",\"block\":%d", BOARD, blocks[j]);
            bench_emit(&(struct bench_figure){
                .bench = name,
                .value = t_max,
                .unit = "s (predicted board time, one epoch)",
                .baseline = "delay_update scaling, same model and block",
                .baseline_value = t_du,
                .ratio = t_max / t_du,
                .config = mac,
                .note = "max: operands stay fp32 until their blocks are whole, and each tile "
                        "waits for its first block's amax",
                .extra = extra,
            });
        }
    }
}

void bench_fpga(void)
{
    struct qc_dataset probe;
    struct qc_err err;

    if (qc_dataset_load(&probe, "fashion-mnist", NULL, QC_SPLIT_TEST, 1, 0, &err))
        bench_skip("fpga_train_epoch_lenet5", err.msg);
    else {
        qc_dataset_free(&probe);
        train_throughput();
    }
    predicted();
    calibration();
}
