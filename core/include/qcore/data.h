/* Datasets for training: image classification sets loaded whole into memory
 * as bytes (Fashion-MNIST, MNIST, CIFAR-10, a seeded synthetic set), and the
 * deterministic shuffling, normalisation and augmentation that turn them
 * into float batches.
 *
 * Every random choice (shuffle order, crop offsets, flips, synthetic images)
 * is a pure function of (seed, epoch or step, position) drawn from
 * qc_rng_u64, so a run gives the same batches on any machine, backend or
 * thread count. Each consumer derives its own key from the seed and a domain
 * tag, so the same user seed used for stochastic rounding draws unrelated
 * bits.
 *
 * Files are read through zlib, which takes plain and gzip-compressed files
 * alike. Every header-declared size is checked against the QC_DATASET_MAX_*
 * limits before anything is allocated, and buffers grow only as data
 * actually arrives, so a corrupt header cannot make a reader allocate more
 * than about twice the file's real contents.
 *
 * Errors (struct qc_err, message always names the file and what was
 * expected): QC_ENOTFOUND a directory or file is missing (the message names
 * every name tried); QC_EIO a read failed; QC_ECORRUPT a file's contents are
 * not what its format says (bad magic number, dimensions, truncation with
 * its byte offset, label/image count mismatch, label out of range, data past
 * the declared end); QC_ERANGE a declared size beyond the limits below;
 * QC_EINVAL a bad argument (unknown dataset name, bad synthetic option);
 * QC_ENOMEM. On failure the output dataset is left zeroed: nothing half-built
 * is returned and there is nothing to free.
 *
 * Thread safety: loaders are reentrant. A loaded dataset is read-only after
 * loading, so any number of threads may batch from it at once. */
#ifndef QCORE_DATA_H
#define QCORE_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "qcore/error.h"

#define QC_DATASET_NAME_MAX 32
/* Limits on what a file header may declare; checked before allocating. */
#define QC_DATASET_MAX_N        (INT64_C(1) << 26) /* samples per split */
#define QC_DATASET_MAX_SIDE     1024               /* image height and width */
#define QC_DATASET_MAX_CHANNELS 3
#define QC_DATASET_MAX_CLASSES  256                /* labels are bytes */
#define QC_DATASET_MAX_BYTES    (INT64_C(1) << 33) /* pixel bytes per split (8 GiB) */

enum qc_split { QC_SPLIT_TRAIN = 0, QC_SPLIT_TEST = 1 };

/* A split of a dataset in memory. Caller-owned storage: fill it with one of
 * the loaders below, release it with qc_dataset_free. */
struct qc_dataset {
    char name[QC_DATASET_NAME_MAX]; /* registry name ("fashion-mnist"), "" from the raw readers */
    int64_t n;                      /* samples */
    int c, h, w;                    /* image shape: channels, height, width */
    int classes;                    /* every label is in 0..classes-1 */
    uint8_t *pixels;                /* n*c*h*w bytes, image-major then NCHW planes; owned */
    uint8_t *labels;                /* n bytes; owned */
    /* Per-channel normalisation applied by qc_dataset_batch, in units of
     * pixel/255: x = (p/255 - mean[ch]) / std[ch]. The raw readers set
     * mean 0, std 1; qc_dataset_load sets the dataset's own values. */
    float mean[QC_DATASET_MAX_CHANNELS], std[QC_DATASET_MAX_CHANNELS];
    /* Augmentation used by qc_dataset_batch when asked for: a random crop
     * after `aug_pad` pixels of zero padding on every side, and a random
     * horizontal flip when `aug_flip`. Set per dataset by qc_dataset_load;
     * the caller may change them. */
    int aug_pad;
    bool aug_flip;
};

/* A row of the registry, for listing (`qlab datasets`, the REST API). */
struct qc_dataset_info {
    const char *name;        /* "fashion-mnist" */
    const char *default_dir; /* NULL when nothing is read from disk */
    const char *description; /* one sentence: what it is, where its files come from */
    int c, h, w, classes;    /* the standard shape (synthetic: its defaults) */
    int64_t n_train, n_test; /* the standard split sizes */
};

/* Registry rows in order, NULL past the end. Borrowed, static. */
const struct qc_dataset_info *qc_dataset_info_at(int i);

/* Whether every file of both splits of dataset `name` is in `dir` (NULL:
 * its standard directory), without reading them: QC_OK, or QC_ENOTFOUND
 * naming the missing file and how to get it. Generated datasets are always
 * present. Workers report the datasets they have with it. */
int qc_dataset_present(const char *name, const char *dir, struct qc_err *err);

/* Loads split `split` of the dataset named `name` from directory `dir`
 * (NULL: the dataset's default directory), keeping the first `limit`
 * samples in file order (0: all). Names:
 *   "fashion-mnist", "mnist"  IDX files train-images-idx3-ubyte,
 *       train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 *       t10k-labels-idx1-ubyte, each with or without ".gz" (".gz" is tried
 *       first); 60000/10000 images of 1x28x28, 10 classes. Default dirs
 *       /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)
 *       and /usr/share/datasets/mnist. Option ":size=N" pads every
 *       image with black pixels, centred, to N x N (N >= 28;
 *       "fashion-mnist:size=32" is CIFAR's shape for the CIFAR ResNets).
 *   "cifar10" (or "cifar-10")  binary batches data_batch_1..5.bin (train)
 *       and test_batch.bin (test), each record 1 label byte + 3x32x32
 *       pixel bytes; 50000/10000 images, 10 classes. Default dir
 *       /usr/share/datasets/cifar-10-batches-bin.
 *   "synthetic[:key=value]..."  generated from `seed` (see
 *       qc_synth_config_parse for the keys); `dir` is ignored. `seed` is
 *       ignored by every other dataset.
 * Normalisation: the published per-channel training-split statistics for
 * MNIST (0.1307/0.3081), Fashion-MNIST (0.2860/0.3530) and CIFAR-10 (mean
 * 0.4914 0.4822 0.4465, std 0.2470 0.2435 0.2616), the same for both splits
 * and for any `limit`; for synthetic, computed with qc_dataset_stats from
 * the first min(1024, train size) training images of the same seed and
 * configuration. Augmentation: fashion-mnist pad 2 + flip (clothes are
 * mirror-symmetric); mnist pad 2, no flip (digits are not); cifar10 pad 4 +
 * flip (the standard recipe); synthetic none (its class patterns are not
 * mirror-symmetric).
 * `out` is overwritten (any previous contents are not freed). */
int qc_dataset_load(struct qc_dataset *out, const char *name, const char *dir, enum qc_split split,
                    int64_t limit, uint64_t seed, struct qc_err *err);

/* Frees the pixels and labels and zeroes `d`; a zeroed dataset and NULL are
 * no-ops, so a dataset may be freed twice. */
void qc_dataset_free(struct qc_dataset *d);

/* The raw readers behind qc_dataset_load, for files not in the registry.
 * They set name "", mean 0, std 1, no augmentation.
 *
 * An IDX pair: `images_path` holds magic 0x00000803 (unsigned bytes, 3
 * dimensions: n, rows, cols), `labels_path` magic 0x00000801 (1 dimension:
 * n); the counts must agree and every label be below `classes` (1..256).
 * Reads the first `limit` samples (0: all, and then also checks that
 * nothing follows the declared data). */
int qc_dataset_read_idx(struct qc_dataset *out, const char *images_path, const char *labels_path,
                        int classes, int64_t limit, struct qc_err *err);

/* CIFAR-10 binary records (1 label byte, then 3072 pixel bytes: the red,
 * green and blue 32x32 planes) from `npaths` files read in order, each a
 * whole number of at least one record; the first `limit` records in all
 * (0: all). Every file is opened, even those past `limit`, so a missing
 * batch is reported whatever the limit. */
int qc_dataset_read_cifar(struct qc_dataset *out, const char *const *paths, int npaths, int classes,
                          int64_t limit, struct qc_err *err);

/* The synthetic dataset: each class has a prototype image made of a few soft
 * blobs (positions, sizes, strengths and colours drawn from the seed); a
 * sample is its class prototype shifted by up to `shift` pixels, scaled in
 * intensity, plus per-pixel noise of standard deviation `noise` (in units of
 * the pixel range), clamped to 0..255. Labels are uniform random. A small
 * MLP or CNN learns it to well above chance in a few hundred steps. Only
 * +, *, / enter the pixel values, so they are the same bytes on every
 * machine (no libm transcendental whose last bit could differ). Sample i of
 * a split depends only on (seed, configuration, split, i): a `limit` keeps a
 * prefix of the full split. */
struct qc_synth_config {
    int c, h, w;             /* 1..QC_DATASET_MAX_CHANNELS, 4..QC_DATASET_MAX_SIDE */
    int classes;             /* 2..QC_DATASET_MAX_CLASSES */
    int64_t n_train, n_test; /* 1..QC_DATASET_MAX_N, and pixel bytes within the limit */
    double noise;            /* 0..1 */
    int shift;               /* 0..min(h, w)/4 */
};

/* Defaults: 1x28x28, 10 classes, 6000 train / 1000 test, noise 0.3, shift 3:
 * a 64-unit MLP reaches about 90% test accuracy in 300 SGD steps of 32 and
 * about 94% in 1000, so there is headroom for arithmetic to matter. */
void qc_synth_config_init(struct qc_synth_config *cfg);

/* Applies colon-separated "key=value" options (keys c, h, w, classes,
 * train, test, noise, shift; e.g. "c=3:h=32:w=32:train=2000") over `cfg`,
 * then validates the whole configuration. "" or NULL only validates.
 * QC_EINVAL with field "/name" on an unknown key or bad value. */
int qc_synth_config_parse(struct qc_synth_config *cfg, const char *opts, struct qc_err *err);

/* Generates the first `limit` samples (0: all) of split `split`. */
int qc_dataset_synth(struct qc_dataset *out, const struct qc_synth_config *cfg, enum qc_split split,
                     int64_t limit, uint64_t seed, struct qc_err *err);

/* Per-channel mean and population standard deviation of the pixels, in
 * units of pixel/255 (entries past d->c are left alone). Exact up to the
 * final division: computed from integer histograms. */
void qc_dataset_stats(float *mean, float *std, const struct qc_dataset *d); /* mean, std: (d->c) */

/* perm:(n) = a permutation of 0..n-1 by Fisher-Yates, the swap partner of
 * position i drawn from qc_rng_u64 keyed by (seed, epoch, i). Deterministic
 * per (seed, epoch); epochs give independent orders. */
void qc_dataset_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t epoch);

/* x:(count, c, h, w) = the normalised images d[idx[b]], y:(count) their
 * labels (y may be NULL). With `augment`, sample idx[b] gets crop offsets
 * and a flip drawn from (seed, step, idx[b]): keyed by the sample rather
 * than its slot in the call, so splitting a batch across threads or calls
 * gives the same images (a sample repeated within one step gets the same
 * augmentation). Padding is black (pixel 0, which normalises to -mean/std,
 * as torchvision pads before normalising). Every idx[b] must be in 0..n-1
 * (checked: a bad index aborts, as it is a programmer error). */
void qc_dataset_batch(float *x, int32_t *y, const struct qc_dataset *d, const int64_t *idx,
                      int64_t count, bool augment, uint64_t seed, uint64_t step);

#endif
