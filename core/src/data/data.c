/* The dataset registry and what every dataset shares: loading by name with
 * the right files, normalisation constants and augmentation recipe (rows of
 * one table, so adding a dataset is a row), statistics, shuffling and
 * batching. Randomness is drawn from qc_rng_u64 by position, never from a
 * stateful generator, so batches do not depend on threads or backends. */
#include "qcore/data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcore/round.h"

/* Domain tags: each consumer of the user's seed hashes it with its own tag
 * into a key, so shuffling, augmentation and stochastic rounding under one
 * seed draw unrelated bits. */
#define DOMAIN_PERM UINT64_C(0x7065726d75746521) /* "permute!" */
#define DOMAIN_AUG  UINT64_C(0x6175676d656e7421) /* "augment!" */

#define PATH_BYTES 4096
#define MAX_FILES  6
/* Synthetic normalisation comes from this many training images. */
#define SYNTH_STATS_N 1024

enum source { SRC_IDX, SRC_CIFAR, SRC_SYNTH };

struct ds_row {
    struct qc_dataset_info info;
    const char *alias; /* a second accepted name, or NULL */
    enum source source;
    const char *hint; /* how to get the files, for "not found" messages */
    /* Per split: IDX {images, labels}; CIFAR the batch files in order.
     * Names without ".gz"; the compressed name is tried first. */
    const char *files[2][MAX_FILES];
    float mean[QC_DATASET_MAX_CHANNELS], std[QC_DATASET_MAX_CHANNELS];
    int aug_pad;
    bool aug_flip;
};

/* mean/std: the published training-split statistics, in units of pixel/255,
 * used for both splits so that a model sees the same scaling in training
 * and evaluation whatever `limit` was. */
static const struct ds_row rows[] = {
    {
        .info = {.name = "fashion-mnist",
                 .default_dir = "/usr/share/datasets/fashion-mnist",
                 .description = "Fashion-MNIST: Zalando clothing images, IDX files (Debian "
                                "package dataset-fashion-mnist)",
                 .c = 1,
                 .h = 28,
                 .w = 28,
                 .classes = 10,
                 .n_train = 60000,
                 .n_test = 10000},
        .source = SRC_IDX,
        .hint = "install the Debian package dataset-fashion-mnist, or pass the directory "
                "holding its IDX files",
        .files = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                  {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}},
        .mean = {0.2860f},
        .std = {0.3530f},
        .aug_pad = 2,
        .aug_flip = true, /* clothes are mirror-symmetric */
    },
    {
        .info = {.name = "mnist",
                 .default_dir = "/usr/share/datasets/mnist",
                 .description = "MNIST: handwritten digits, IDX files",
                 .c = 1,
                 .h = 28,
                 .w = 28,
                 .classes = 10,
                 .n_train = 60000,
                 .n_test = 10000},
        .source = SRC_IDX,
        .hint = "download the four IDX files from http://yann.lecun.com/exdb/mnist/ (or a "
                "mirror), or pass the directory holding them",
        .files = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                  {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}},
        .mean = {0.1307f},
        .std = {0.3081f},
        .aug_pad = 2,
        .aug_flip = false, /* a mirrored digit is another glyph */
    },
    {
        .info = {.name = "cifar10",
                 .default_dir = "/usr/share/datasets/cifar-10-batches-bin",
                 .description = "CIFAR-10: 32x32 colour photographs in 10 classes, binary "
                                "batches",
                 .c = 3,
                 .h = 32,
                 .w = 32,
                 .classes = 10,
                 .n_train = 50000,
                 .n_test = 10000},
        .alias = "cifar-10",
        .source = SRC_CIFAR,
        .hint = "unpack cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
                "or pass the directory holding its .bin files",
        .files = {{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                   "data_batch_5.bin"},
                  {"test_batch.bin"}},
        .mean = {0.4914f, 0.4822f, 0.4465f},
        .std = {0.2470f, 0.2435f, 0.2616f},
        .aug_pad = 4,
        .aug_flip = true,
    },
    {
        .info = {.name = "synthetic",
                 .default_dir = NULL,
                 .description = "generated from the seed: class-specific soft blobs plus noise; "
                                "options synthetic:c=..:h=..:w=..:classes=..:train=..:test=..:"
                                "noise=..:shift=..",
                 .c = 1,
                 .h = 28,
                 .w = 28,
                 .classes = 10,
                 .n_train = 6000,
                 .n_test = 1000},
        .source = SRC_SYNTH,
        .aug_pad = 0,
        .aug_flip = false, /* the class patterns are not mirror-symmetric */
    },
};

#define NROWS ((int)(sizeof rows / sizeof rows[0]))

const struct qc_dataset_info *qc_dataset_info_at(int i)
{
    return i >= 0 && i < NROWS ? &rows[i].info : NULL;
}

static const struct ds_row *find_row(const char *name, size_t len)
{
    for (int i = 0; i < NROWS; i++) {
        const char *a = rows[i].alias;
        if ((strlen(rows[i].info.name) == len && !memcmp(rows[i].info.name, name, len)) ||
            (a && strlen(a) == len && !memcmp(a, name, len)))
            return &rows[i];
    }
    return NULL;
}

static int check_dir(const char *dir, const struct ds_row *row, struct qc_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        return qc_err_set(err, e == ENOENT || e == ENOTDIR ? QC_ENOTFOUND : QC_EIO, "",
                          "%s: dataset directory %s: %s (%s)", row->info.name, dir, strerror(e),
                          row->hint);
    }
    if (!S_ISDIR(st.st_mode))
        return qc_err_set(err, QC_ENOTFOUND, "", "%s: %s is not a directory (%s)", row->info.name,
                          dir, row->hint);
    return QC_OK;
}

/* dir/base.gz if it exists, else dir/base; ENOTFOUND naming both. */
static int resolve(char *path, const char *dir, const char *base, const struct ds_row *row,
                   struct qc_err *err)
{
    int len = snprintf(path, PATH_BYTES, "%s/%s.gz", dir, base);
    if (len < 0 || len >= PATH_BYTES)
        return qc_err_set(err, QC_EINVAL, "", "%s: directory path too long: %s", row->info.name,
                          dir);
    if (access(path, F_OK) == 0)
        return QC_OK;
    path[len - 3] = '\0';
    if (access(path, F_OK) == 0)
        return QC_OK;
    return qc_err_set(err, QC_ENOTFOUND, "", "%s: %s/%s.gz not found, nor %s (%s)", row->info.name,
                      dir, base, path, row->hint);
}

int qc_dataset_present(const char *name, const char *dir, struct qc_err *err)
{
    const struct ds_row *row = name ? find_row(name, strlen(name)) : NULL;
    char path[PATH_BYTES];
    int rc;
    if (!row)
        return qc_err_set(err, QC_ENOTFOUND, "/name", "unknown dataset '%s'", name ? name : "");
    if (row->source == SRC_SYNTH)
        return QC_OK;
    if (!dir)
        dir = row->info.default_dir;
    if ((rc = check_dir(dir, row, err)))
        return rc;
    for (int split = 0; split < 2; split++)
        for (int i = 0; i < MAX_FILES && row->files[split][i]; i++)
            if ((rc = resolve(path, dir, row->files[split][i], row, err)))
                return rc;
    return QC_OK;
}

static int load_files(struct qc_dataset *out, const struct ds_row *row, const char *dir,
                      enum qc_split split, int64_t limit, struct qc_err *err)
{
    char(*paths)[PATH_BYTES] = NULL;
    const char *list[MAX_FILES];
    int nfiles = 0, rc;

    if (!dir)
        dir = row->info.default_dir;
    if ((rc = check_dir(dir, row, err)))
        return rc;
    if (!(paths = malloc(MAX_FILES * sizeof *paths)))
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    for (; nfiles < MAX_FILES && row->files[split][nfiles]; nfiles++) {
        if ((rc = resolve(paths[nfiles], dir, row->files[split][nfiles], row, err)))
            goto out;
        list[nfiles] = paths[nfiles];
    }
    if (row->source == SRC_IDX)
        rc = qc_dataset_read_idx(out, list[0], list[1], row->info.classes, limit, err);
    else
        rc = qc_dataset_read_cifar(out, list, nfiles, row->info.classes, limit, err);
    if (rc)
        goto out;
    if (out->c != row->info.c || out->h != row->info.h || out->w != row->info.w) {
        rc = qc_err_set(err, QC_ECORRUPT, "", "%s: %dx%dx%d images, but %s images are %dx%dx%d",
                        list[0], out->c, out->h, out->w, row->info.name, row->info.c, row->info.h,
                        row->info.w);
        qc_dataset_free(out);
        goto out;
    }
    for (int ch = 0; ch < QC_DATASET_MAX_CHANNELS; ch++) {
        out->mean[ch] = ch < out->c ? row->mean[ch] : 0.0f;
        out->std[ch] = ch < out->c ? row->std[ch] : 1.0f;
    }
out:
    free(paths);
    return rc;
}

static int load_synth(struct qc_dataset *out, const char *opts, enum qc_split split, int64_t limit,
                      uint64_t seed, struct qc_err *err)
{
    struct qc_synth_config cfg;
    struct qc_dataset train = {0};
    const struct qc_dataset *sample = out;
    int rc;

    qc_synth_config_init(&cfg);
    if ((rc = qc_synth_config_parse(&cfg, opts, err)) ||
        (rc = qc_dataset_synth(out, &cfg, split, limit, seed, err)))
        return rc;
    /* Normalise both splits by the same training sample; reuse the loaded
     * images when they already hold it. */
    int64_t ns = cfg.n_train < SYNTH_STATS_N ? cfg.n_train : SYNTH_STATS_N;
    if (split != QC_SPLIT_TRAIN || out->n < ns) {
        if ((rc = qc_dataset_synth(&train, &cfg, QC_SPLIT_TRAIN, ns, seed, err))) {
            qc_dataset_free(out);
            return rc;
        }
        sample = &train;
    }
    struct qc_dataset view = *sample;
    view.n = ns;
    qc_dataset_stats(out->mean, out->std, &view);
    for (int ch = 0; ch < out->c; ch++)
        if (out->std[ch] <= 0.0f) /* constant pixels (noise=0 on a flat image) */
            out->std[ch] = 1.0f;
    qc_dataset_free(&train);
    return QC_OK;
}

/* A file dataset's option: "size=N" pads every image with black pixels,
 * centred, to N x N (Fashion-MNIST at CIFAR's 32 x 32, for the CIFAR-style
 * ResNets). 0 when absent. */
static int parse_size(int *size, const struct ds_row *row, const char *opts, struct qc_err *err)
{
    char *end;

    *size = 0;
    if (!opts)
        return QC_OK;
    if (strncmp(opts, "size=", 5) != 0)
        return qc_err_set(err, QC_EINVAL, "/name", "%s takes no options but size=N, got '%s'",
                          row->info.name, opts);
    long v = strtol(opts + 5, &end, 10);
    if (end == opts + 5 || *end || v < 1 || v > 1024)
        return qc_err_set(err, QC_EINVAL, "/name", "%s: size=%s is not an integer in 1..1024",
                          row->info.name, opts + 5);
    *size = (int)v;
    return QC_OK;
}

/* Pads d's images to size x size, centred, with zero (black) pixels. */
static int pad_images(struct qc_dataset *d, int size, struct qc_err *err)
{
    if (size < d->h || size < d->w) {
        qc_err_set(err, QC_EINVAL, "/name", "size=%d is below the images' %dx%d", size, d->h, d->w);
        qc_dataset_free(d);
        return QC_EINVAL;
    }
    const int64_t plane = (int64_t)size * size;
    uint8_t *px = calloc((size_t)(d->n * d->c * plane) + 1, 1);
    if (!px) {
        qc_dataset_free(d);
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for %lld padded images",
                          (long long)d->n);
    }
    const int top = (size - d->h) / 2, left = (size - d->w) / 2;
    for (int64_t i = 0; i < d->n * d->c; i++)
        for (int y = 0; y < d->h; y++)
            memcpy(px + i * plane + (int64_t)(y + top) * size + left,
                   d->pixels + (i * d->h + y) * d->w, (size_t)d->w);
    free(d->pixels);
    d->pixels = px;
    d->h = d->w = size;
    return QC_OK;
}

int qc_dataset_load(struct qc_dataset *out, const char *name, const char *dir, enum qc_split split,
                    int64_t limit, uint64_t seed, struct qc_err *err)
{
    int size = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (!name)
        return qc_err_set(err, QC_EINVAL, "/name", "no dataset name given");
    if (split != QC_SPLIT_TRAIN && split != QC_SPLIT_TEST)
        return qc_err_set(err, QC_EINVAL, "/split", "split %d is neither train nor test",
                          (int)split);
    if (limit < 0)
        return qc_err_set(err, QC_EINVAL, "/limit", "limit %lld is negative", (long long)limit);

    const char *colon = strchr(name, ':');
    size_t len = colon ? (size_t)(colon - name) : strlen(name);
    const struct ds_row *row = find_row(name, len);
    if (!row) {
        char known[160] = "";
        for (int i = 0; i < NROWS; i++) {
            size_t at = strlen(known);
            snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", rows[i].info.name);
        }
        return qc_err_set(err, QC_EINVAL, "/name", "unknown dataset '%s' (known: %s)", name, known);
    }
    if (row->source != SRC_SYNTH && (rc = parse_size(&size, row, colon ? colon + 1 : NULL, err)))
        return rc;

    if (row->source == SRC_SYNTH)
        rc = load_synth(out, colon ? colon + 1 : NULL, split, limit, seed, err);
    else
        rc = load_files(out, row, dir, split, limit, err);
    if (!rc && size > 0)
        rc = pad_images(out, size, err);
    if (rc)
        return rc;
    snprintf(out->name, sizeof out->name, "%s", row->info.name);
    out->aug_pad = row->aug_pad;
    out->aug_flip = row->aug_flip;
    return QC_OK;
}

void qc_dataset_free(struct qc_dataset *d)
{
    if (!d)
        return;
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

void qc_dataset_stats(float *mean, float *std, const struct qc_dataset *d)
{
    const int64_t plane = (int64_t)d->h * d->w, img = plane * d->c;
    for (int ch = 0; ch < d->c; ch++) {
        uint64_t hist[256] = {0};
        for (int64_t i = 0; i < d->n; i++) {
            const uint8_t *p = d->pixels + i * img + ch * plane;
            for (int64_t k = 0; k < plane; k++)
                hist[p[k]]++;
        }
        /* Sums of p and p^2 fit in 64 bits up to 2^47 pixels per channel. */
        uint64_t cnt = 0, s1 = 0, s2 = 0;
        for (uint64_t v = 0; v < 256; v++) {
            cnt += hist[v];
            s1 += hist[v] * v;
            s2 += hist[v] * v * v;
        }
        if (cnt == 0) {
            mean[ch] = 0.0f;
            std[ch] = 1.0f;
            continue;
        }
        double m = (double)s1 / (double)cnt;
        double var = (double)s2 / (double)cnt - m * m;
        mean[ch] = (float)(m / 255.0);
        std[ch] = (float)(sqrt(var > 0.0 ? var : 0.0) / 255.0);
    }
}

void qc_dataset_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch)
{
    const uint64_t key = qc_rng_u64(seed, DOMAIN_PERM, 0);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    /* The modulo's bias is below (i+1)/2^64: invisible at any dataset size. */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(qc_rng_u64(key, epoch, (uint64_t)i) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void qc_dataset_batch(float *x, int32_t *y, const struct qc_dataset *d, const int64_t *idx,
                      int64_t count, bool augment, uint64_t seed, uint64_t step)
{
    const int c = d->c, h = d->h, w = d->w, pad = d->aug_pad > 0 ? d->aug_pad : 0;
    const int64_t plane = (int64_t)h * w, img = plane * c;
    const uint64_t key = qc_rng_u64(seed, DOMAIN_AUG, 0);
    const bool aug = augment && (pad > 0 || d->aug_flip);
    float lut[QC_DATASET_MAX_CHANNELS][256];

    QC_ASSERT(c >= 1 && c <= QC_DATASET_MAX_CHANNELS);
    /* The exact formula the header promises, evaluated once per value. */
    for (int ch = 0; ch < c; ch++)
        for (int v = 0; v < 256; v++)
            lut[ch][v] = ((float)v / 255.0f - d->mean[ch]) / d->std[ch];

    for (int64_t b = 0; b < count; b++) {
        /* A programmer error: indices come from a permutation of 0..n-1. */
        QC_ASSERT(idx[b] >= 0 && idx[b] < d->n);
        const uint8_t *src = d->pixels + idx[b] * img;
        float *dst = x + b * img;
        if (y)
            y[b] = d->labels[idx[b]];
        if (!aug) {
            for (int ch = 0; ch < c; ch++)
                for (int64_t k = 0; k < plane; k++)
                    dst[ch * plane + k] = lut[ch][src[ch * plane + k]];
            continue;
        }
        /* Crop offsets in -pad..pad from bits 0-15 and 16-31, the flip from
         * bit 63: one draw keyed by the sample's dataset index rather than
         * its slot in this call, so a batch split across threads or calls
         * in any way gets the same images. */
        const uint64_t r = qc_rng_u64(key, step, (uint64_t)idx[b]);
        const uint64_t span = 2 * (uint64_t)pad + 1;
        const int dy = (int)((r & 0xffff) % span) - pad;
        const int dx = (int)(((r >> 16) & 0xffff) % span) - pad;
        const bool flip = d->aug_flip && (r >> 63);
        for (int ch = 0; ch < c; ch++)
            for (int yy = 0; yy < h; yy++) {
                const int sy = yy + dy;
                float *row = dst + ch * plane + (int64_t)yy * w;
                for (int xx = 0; xx < w; xx++) {
                    const int sx = (flip ? w - 1 - xx : xx) + dx;
                    const uint8_t v = sy >= 0 && sy < h && sx >= 0 && sx < w
                                          ? src[ch * plane + (int64_t)sy * w + sx]
                                          : 0; /* black padding, as torchvision pads */
                    row[xx] = lut[ch][v];
                }
            }
    }
}
