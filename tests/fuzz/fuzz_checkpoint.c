/* libFuzzer target: the checkpoint reader (qc_checkpoint_load) against a
 * small built net (an MLP on 1x4x4 inputs, Adam, dynamic loss scaling).
 * Every input is written to a file and loaded. An input that ends in the
 * trailer ("QEND" and a CRC-32) gets its CRC fixed first, so mutations get
 * past the checksum into the sections. A refused file must leave
 * the net, the optimizer and the scaler unchanged (the reader's contract).
 * QLAB_FUZZ_SEED_OUT=FILE makes LLVMFuzzerInitialize write a valid
 * checkpoint of this net there (the seed in tests/fuzz/corpus/checkpoint). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "qcore/backend.h"
#include "qcore/checkpoint.h"
#include "qcore/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct qc_net net;
static struct qc_optim opt;
static struct qc_loss_scaler scaler;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct qc_backend *be;
    struct qc_err err;
    struct qc_backend_opts bo = {.threads = 1};
    struct qc_model_desc m = {.arch = "mlp", .hidden = {5}, .nhidden = 1, .width = 1};
    struct qc_optim_cfg oc = {
        .kind = QC_OPTIM_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    (void)argc;
    (void)argv;
    if (qc_backend_create(&be, "cpu", &bo, &err) ||
        qc_model_build(&net, &m, 1, 4, 4, 3, 2, be, &err) ||
        qc_optim_init(&opt, &oc, net.nparams, NULL, &err)) {
        fprintf(stderr, "fuzz_checkpoint: setup: %s\n", err.msg);
        abort();
    }
    qc_net_init_params(&net, 7);
    scaler = (struct qc_loss_scaler){.kind = QC_LOSS_SCALE_DYNAMIC, .scale = 1024};
    snprintf(path, sizeof path, "/tmp/qlab-fuzz-ckpt-%d", (int)getpid());
    const char *seed = getenv("QLAB_FUZZ_SEED_OUT");
    if (seed) {
        struct qc_ckpt_progress p = {.epoch = 1, .step = 9, .pos = 4, .fingerprint = 0x5eed};
        for (int64_t i = 0; i < opt.n; i++)
            opt.m[i] = (float)i * 0.001f;
        if (qc_checkpoint_save(seed, &net, &opt, &scaler, &p, "xtra", 4, &err)) {
            fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qc_ckpt_progress p;
    struct qc_err err;
    char extra[4];
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    if (size >= 8 && memcmp(copy + size - 8, "QEND", 4) == 0) {
        uint32_t crc = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
        memcpy(copy + size - 4, &crc, 4); /* the file's byte order: this machine's, as written */
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(copy, 1, size, f) != size) {
        perror(path);
        abort();
    }
    fclose(f);
    free(copy);
    float before = net.params[0], m0 = opt.m[0];
    double scale = scaler.scale;
    if (qc_checkpoint_load(path, &net, &opt, &scaler, &p, extra, sizeof extra, &err) != QC_OK &&
        (net.params[0] != before || opt.m[0] != m0 || scaler.scale != scale)) {
        fprintf(stderr, "a refused checkpoint changed the state: %s\n", err.msg);
        __builtin_trap();
    }
    unlink(path);
    return 0;
}
