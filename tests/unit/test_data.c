/* Datasets: the real Fashion-MNIST files load with their published shape
 * and statistics; IDX and CIFAR files written here (plain and gzip) load
 * byte for byte, and every way a file can be wrong is an error naming the
 * file; the synthetic set, shuffling and augmentation are deterministic per
 * seed, and batches are normalised by the documented formula. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "qcore/data.h"
#include "test_helpers.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define IMG         784 /* 28 x 28 */
#define CIFAR_REC   3073

/* ---- files in a temporary directory ------------------------------------ */

static void make_tmpdir(char *dir, size_t len)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, len, "%s/qlab-data.XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s failed", dir);
}

static void remove_tmpdir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        cr_assert_eq(len ? gzwrite(f, buf, (unsigned)len) : 0, (int)len);
        cr_assert_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        cr_assert_eq(fwrite(buf, 1, len, f), len);
        cr_assert_eq(fclose(f), 0);
    }
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX label file image: header (magic 0x801, n) then the labels. */
static uint8_t *idx_labels(size_t *len, uint32_t n, const uint8_t *labels)
{
    uint8_t *b = malloc(8 + (size_t)n);
    put_be32(b, 0x801);
    put_be32(b + 4, n);
    memcpy(b + 8, labels, n);
    *len = 8 + (size_t)n;
    return b;
}

static uint8_t *idx_images(size_t *len, uint32_t n, uint32_t rows, uint32_t cols,
                           const uint8_t *pixels)
{
    size_t bytes = (size_t)n * rows * cols;
    uint8_t *b = malloc(16 + bytes);
    put_be32(b, 0x803);
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    memcpy(b + 16, pixels, bytes);
    *len = 16 + bytes;
    return b;
}

/* Pixels and labels of n made-up 28x28 images. */
static void fake_images(uint8_t *pixels, uint8_t *labels, int64_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = 0; i < n * IMG; i++)
        pixels[i] = (uint8_t)th_next(&s);
    for (int64_t i = 0; i < n; i++)
        labels[i] = (uint8_t)(th_next(&s) % 10);
}

/* Writes the Fashion-MNIST test-split pair (t10k-*) for n images. */
static void write_fashion_test(const char *dir, bool gz, uint32_t n, const uint8_t *pixels,
                               const uint8_t *labels)
{
    char path[512];
    size_t len;
    uint8_t *b = idx_labels(&len, n, labels);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte%s", dir, gz ? ".gz" : "");
    write_bytes(path, b, len, gz);
    free(b);
    b = idx_images(&len, n, 28, 28, pixels);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    write_bytes(path, b, len, gz);
    free(b);
}

static bool fashion_present(void)
{
    static const char *files[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    char path[256];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", FASHION_DIR, files[i]);
        if (access(path, R_OK) != 0)
            return false;
    }
    return true;
}

static void assert_zeroed(const struct qc_dataset *d)
{
    cr_assert_null(d->pixels, "a failed load returned pixels");
    cr_assert_null(d->labels, "a failed load returned labels");
    cr_assert_eq(d->n, 0);
}

/* ---- the real Fashion-MNIST --------------------------------------------- */

Test(data, fashion_mnist_train_split_has_published_shape_and_statistics)
{
    if (!fashion_present())
        cr_skip_test("Fashion-MNIST is not installed in " FASHION_DIR
                     " (Debian package dataset-fashion-mnist)");
    struct qc_dataset d;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", NULL, QC_SPLIT_TRAIN, 0, 0, &err), QC_OK,
                 "%s", err.msg);
    cr_assert_str_eq(d.name, "fashion-mnist");
    cr_assert_eq(d.n, 60000);
    cr_assert(d.c == 1 && d.h == 28 && d.w == 28 && d.classes == 10);
    int64_t hist[10] = {0};
    for (int64_t i = 0; i < d.n; i++) {
        cr_assert_lt(d.labels[i], 10);
        hist[d.labels[i]]++;
    }
    for (int k = 0; k < 10; k++)
        cr_assert_eq(hist[k], 6000, "class %d has %lld training images", k, (long long)hist[k]);
    /* The published normalisation constants are this split's statistics. */
    float mean[1], std[1];
    qc_dataset_stats(mean, std, &d);
    cr_assert(fabsf(mean[0] - 0.2860f) < 1e-3f && fabsf(std[0] - 0.3530f) < 1e-3f, "mean %f std %f",
              (double)mean[0], (double)std[0]);
    cr_assert(d.mean[0] == 0.2860f && d.std[0] == 0.3530f);
    cr_assert_eq(d.labels[0], 9, "the first training image is an ankle boot");
    qc_dataset_free(&d);
}

Test(data, fashion_mnist_test_split_has_1000_images_per_class)
{
    if (!fashion_present())
        cr_skip_test("Fashion-MNIST is not installed in " FASHION_DIR
                     " (Debian package dataset-fashion-mnist)");
    struct qc_dataset d, lim;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", FASHION_DIR, QC_SPLIT_TEST, 0, 0, &err),
                 QC_OK, "%s", err.msg);
    cr_assert_eq(d.n, 10000);
    cr_assert(d.c == 1 && d.h == 28 && d.w == 28);
    int64_t hist[10] = {0};
    for (int64_t i = 0; i < d.n; i++)
        hist[d.labels[i]]++;
    for (int k = 0; k < 10; k++)
        cr_assert_eq(hist[k], 1000, "class %d has %lld test images", k, (long long)hist[k]);
    static const uint8_t first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    cr_assert_arr_eq(d.labels, first, 10);
    int64_t sum = 0;
    for (int k = 0; k < IMG; k++)
        sum += d.pixels[k];
    cr_assert_eq(sum, 33456, "pixel sum of the first test image");
    float mean[1], std[1];
    qc_dataset_stats(mean, std, &d);
    cr_assert(mean[0] > 0.27f && mean[0] < 0.30f, "test-split pixel mean %f", (double)mean[0]);

    /* A limit keeps a prefix of the file. */
    cr_assert_eq(qc_dataset_load(&lim, "fashion-mnist", NULL, QC_SPLIT_TEST, 100, 0, &err), QC_OK,
                 "%s", err.msg);
    cr_assert_eq(lim.n, 100);
    cr_assert_arr_eq(lim.pixels, d.pixels, 100 * IMG);
    cr_assert_arr_eq(lim.labels, d.labels, 100);
    cr_assert(lim.mean[0] == d.mean[0] && lim.std[0] == d.std[0]);
    qc_dataset_free(&lim);
    qc_dataset_free(&d);
}

/* ---- IDX files written here ---------------------------------------------- */

/* The first 64 real test images when installed (else made-up ones), written
 * as a small IDX pair both gzipped and plain: both load the same bytes. */
Test(data, gz_and_plain_idx_files_load_the_same_bytes)
{
    enum { N = 64 };
    uint8_t *pixels = malloc(N * IMG), labels[N];
    struct qc_dataset real, a, b;
    struct qc_err err;
    char gzdir[256], plaindir[256];

    if (fashion_present()) {
        cr_assert_eq(qc_dataset_load(&real, "fashion-mnist", NULL, QC_SPLIT_TEST, N, 0, &err),
                     QC_OK, "%s", err.msg);
        memcpy(pixels, real.pixels, N * IMG);
        memcpy(labels, real.labels, N);
        qc_dataset_free(&real);
    } else {
        fake_images(pixels, labels, N, 7);
    }
    make_tmpdir(gzdir, sizeof gzdir);
    make_tmpdir(plaindir, sizeof plaindir);
    write_fashion_test(gzdir, true, N, pixels, labels);
    write_fashion_test(plaindir, false, N, pixels, labels);
    cr_assert_eq(qc_dataset_load(&a, "fashion-mnist", gzdir, QC_SPLIT_TEST, 0, 0, &err), QC_OK,
                 "%s", err.msg);
    cr_assert_eq(qc_dataset_load(&b, "fashion-mnist", plaindir, QC_SPLIT_TEST, 0, 0, &err), QC_OK,
                 "%s", err.msg);
    cr_assert(a.n == N && b.n == N);
    cr_assert_arr_eq(a.pixels, pixels, N * IMG);
    cr_assert_arr_eq(b.pixels, pixels, N * IMG);
    cr_assert_arr_eq(a.labels, labels, N);
    cr_assert_arr_eq(b.labels, labels, N);
    qc_dataset_free(&a);
    qc_dataset_free(&b);
    remove_tmpdir(gzdir);
    remove_tmpdir(plaindir);
    free(pixels);
}

Test(data, limit_keeps_a_prefix_and_beyond_n_keeps_all)
{
    enum { N = 20 };
    uint8_t pixels[N * IMG], labels[N];
    struct qc_dataset d;
    struct qc_err err;
    char dir[256];

    fake_images(pixels, labels, N, 3);
    make_tmpdir(dir, sizeof dir);
    write_fashion_test(dir, true, N, pixels, labels);
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", dir, QC_SPLIT_TEST, 7, 0, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(d.n, 7);
    cr_assert_arr_eq(d.pixels, pixels, 7 * IMG);
    cr_assert_arr_eq(d.labels, labels, 7);
    qc_dataset_free(&d);
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", dir, QC_SPLIT_TEST, 1000, 0, &err), QC_OK,
                 "%s", err.msg);
    cr_assert_eq(d.n, N);
    qc_dataset_free(&d);
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", dir, QC_SPLIT_TEST, -1, 0, &err), QC_EINVAL);
    cr_assert_str_eq(err.field, "/limit");
    remove_tmpdir(dir);
}

/* ":size=32" pads each 28 x 28 image with black pixels, centred (2 on every
 * side); a size below the images' is refused naming it. */
Test(data, size_option_pads_images_centred)
{
    enum { N = 5 };
    uint8_t pixels[N * IMG], labels[N];
    struct qc_dataset d;
    struct qc_err err;
    char dir[256];

    fake_images(pixels, labels, N, 4);
    make_tmpdir(dir, sizeof dir);
    write_fashion_test(dir, true, N, pixels, labels);
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist:size=32", dir, QC_SPLIT_TEST, 0, 0, &err),
                 QC_OK, "%s", err.msg);
    cr_assert_eq(d.n, N);
    cr_assert(d.h == 32 && d.w == 32 && d.c == 1);
    cr_assert_str_eq(d.name, "fashion-mnist");
    for (int i = 0; i < N; i++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                const bool in = y >= 2 && y < 30 && x >= 2 && x < 30;
                const uint8_t want = in ? pixels[i * IMG + (y - 2) * 28 + (x - 2)] : 0;
                cr_assert_eq(d.pixels[(i * 32 + y) * 32 + x], want, "image %d (%d,%d)", i, y, x);
            }
    cr_assert_arr_eq(d.labels, labels, N);
    qc_dataset_free(&d);
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist:size=20", dir, QC_SPLIT_TEST, 0, 0, &err),
                 QC_EINVAL);
    cr_assert(strstr(err.msg, "size=20 is below the images' 28x28"), "%s", err.msg);
    remove_tmpdir(dir);
}

enum idx_fault {
    F_MISSING_IMAGES,
    F_MAGIC_IMAGES,
    F_MAGIC_LABELS,
    F_SHORT_HEADER,
    F_TRUNC_IMAGES,
    F_TRUNC_LABELS,
    F_COUNT_MISMATCH,
    F_LABEL_RANGE,
    F_DIMS,
    F_ZERO_N,
    F_ABSURD_N,
    F_ABSURD_BYTES,
    F_HUGE_TRUNC,
    F_TRAILING,
    F_GZ_BAD_CRC,
    F_GZ_CUT,
};

/* Arrays, not pointers: Criterion runs each test in a fresh process. */
struct idx_case {
    char what[24];
    int fault;
    int gz;
    int code;
    char file[8];    /* the file the message must name: images, labels or both */
    char expect[96]; /* and a phrase it must hold */
};

static struct idx_case idx_cases[] = {
    {"missing images", F_MISSING_IMAGES, 1, QC_ENOTFOUND, "images", "not found, nor"},
    {"images magic", F_MAGIC_IMAGES, 1, QC_ECORRUPT, "images",
     "bad magic number 0x00000801, expected 0x00000803"},
    {"images magic plain", F_MAGIC_IMAGES, 0, QC_ECORRUPT, "images",
     "bad magic number 0x00000801, expected 0x00000803"},
    {"labels magic", F_MAGIC_LABELS, 0, QC_ECORRUPT, "labels",
     "bad magic number 0x00000803, expected 0x00000801"},
    {"short header", F_SHORT_HEADER, 0, QC_ECORRUPT, "images",
     "truncated header: the file ends at byte offset 10"},
    /* 16-byte header, 3 images of 784 bytes and 100 bytes of the fourth. */
    {"truncated images", F_TRUNC_IMAGES, 0, QC_ECORRUPT, "images",
     "truncated image data: the file ends at byte offset 2468"},
    {"truncated images gz", F_TRUNC_IMAGES, 1, QC_ECORRUPT, "images",
     "truncated image data: the file ends at uncompressed byte offset 2468"},
    {"truncated labels", F_TRUNC_LABELS, 1, QC_ECORRUPT, "labels",
     "truncated label data: the file ends at uncompressed byte offset 10"},
    {"count mismatch", F_COUNT_MISMATCH, 1, QC_ECORRUPT, "both", "declares 4 labels"},
    {"label range", F_LABEL_RANGE, 1, QC_ECORRUPT, "labels",
     "label 10 at index 3 (byte offset 11) is outside 0..9"},
    {"label range plain", F_LABEL_RANGE, 0, QC_ECORRUPT, "labels",
     "label 10 at index 3 (byte offset 11) is outside 0..9"},
    {"dimensions", F_DIMS, 1, QC_ECORRUPT, "images",
     "1x32x32 images, but fashion-mnist images are 1x28x28"},
    {"zero images", F_ZERO_N, 0, QC_ECORRUPT, "images", "declares 0 images"},
    {"absurd count", F_ABSURD_N, 0, QC_ERANGE, "images", "declares 2147483647 images"},
    {"absurd bytes", F_ABSURD_BYTES, 0, QC_ERANGE, "images", "over the 8589934592-byte limit"},
    /* 10 million images of 28x28 (7.8 GB) declared, 5 present: the buffer
     * grows with the data, so this fails at the truncation, not in malloc. */
    {"huge truncated", F_HUGE_TRUNC, 1, QC_ECORRUPT, "images",
     "ends at uncompressed byte offset 3936"},
    {"trailing data", F_TRAILING, 0, QC_ECORRUPT, "images", "data continues past byte offset 3936"},
    {"gzip bad crc", F_GZ_BAD_CRC, 1, QC_ECORRUPT, "images", "incorrect data check"},
    {"gzip cut short", F_GZ_CUT, 1, QC_ECORRUPT, "images", "truncated image data"},
};

ParameterizedTestParameters(data, corrupt_idx_file_is_an_error_naming_the_file)
{
    return cr_make_param_array(struct idx_case, idx_cases, sizeof idx_cases / sizeof idx_cases[0]);
}

ParameterizedTest(struct idx_case *tc, data, corrupt_idx_file_is_an_error_naming_the_file)
{
    enum { N = 5 };
    uint8_t pixels[N * 32 * 32], labels[N];
    size_t llen, ilen;
    char dir[256], lpath[512], ipath[512];
    struct qc_dataset d;
    struct qc_err err;
    const char *ext = tc->gz ? ".gz" : "";

    fake_images(pixels, labels, N, 11);
    make_tmpdir(dir, sizeof dir);
    snprintf(lpath, sizeof lpath, "%s/t10k-labels-idx1-ubyte%s", dir, ext);
    snprintf(ipath, sizeof ipath, "%s/t10k-images-idx3-ubyte%s", dir, ext);
    uint8_t *lb = idx_labels(&llen, N, labels);
    uint32_t side = tc->fault == F_DIMS ? 32 : 28;
    uint8_t *ib = idx_images(&ilen, N, side, side, pixels);
    switch (tc->fault) {
    case F_MAGIC_IMAGES:
        put_be32(ib, 0x801);
        break;
    case F_MAGIC_LABELS:
        put_be32(lb, 0x803);
        break;
    case F_SHORT_HEADER:
        ilen = 10;
        break;
    case F_TRUNC_IMAGES:
        ilen = 16 + 3 * IMG + 100;
        break;
    case F_TRUNC_LABELS:
        llen = 8 + 2;
        break;
    case F_COUNT_MISMATCH:
        put_be32(lb + 4, 4);
        llen--;
        break;
    case F_LABEL_RANGE:
        lb[8 + 3] = 10;
        break;
    case F_ZERO_N:
        put_be32(lb + 4, 0);
        put_be32(ib + 4, 0);
        llen = 8;
        ilen = 16;
        break;
    case F_ABSURD_N:
        put_be32(lb + 4, 0x7fffffff);
        put_be32(ib + 4, 0x7fffffff);
        break;
    case F_ABSURD_BYTES:
        put_be32(lb + 4, 60000000);
        put_be32(ib + 4, 60000000);
        put_be32(ib + 8, 1024);
        put_be32(ib + 12, 1024);
        break;
    case F_HUGE_TRUNC:
        put_be32(lb + 4, 10000000);
        put_be32(ib + 4, 10000000);
        /* Labels for every declared image would be 10 MB: make them valid. */
        free(lb);
        lb = calloc(8 + 10000000, 1);
        put_be32(lb, 0x801);
        put_be32(lb + 4, 10000000);
        llen = 8 + 10000000;
        break;
    case F_TRAILING: {
        uint8_t *nb = realloc(ib, ilen + 10);
        cr_assert_not_null(nb);
        ib = nb;
        memset(ib + ilen, 0, 10);
        ilen += 10;
        break;
    }
    default:
        break;
    }
    write_bytes(lpath, lb, llen, tc->gz);
    if (tc->fault != F_MISSING_IMAGES)
        write_bytes(ipath, ib, ilen, tc->gz);
    if (tc->fault == F_GZ_BAD_CRC || tc->fault == F_GZ_CUT) {
        size_t zlen;
        uint8_t *z = read_whole(ipath, &zlen);
        if (tc->fault == F_GZ_BAD_CRC)
            z[zlen - 8] ^= 0xff; /* the trailer's CRC-32 */
        else
            zlen /= 2;
        write_bytes(ipath, z, zlen, false);
        free(z);
    }
    free(lb);
    free(ib);

    memset(&d, 0xa5, sizeof d); /* a failed load must zero it, whatever it held */
    int rc = qc_dataset_load(&d, "fashion-mnist", dir, QC_SPLIT_TEST, 0, 0, &err);
    cr_assert_eq(rc, tc->code, "%s: got %s (%s), expected %s", tc->what, qc_error_name(rc), err.msg,
                 qc_error_name(tc->code));
    assert_zeroed(&d);
    if (strcmp(tc->file, "labels"))
        cr_assert(strstr(err.msg, ipath), "%s: message does not name %s: %s", tc->what, ipath,
                  err.msg);
    if (strcmp(tc->file, "images"))
        cr_assert(strstr(err.msg, lpath), "%s: message does not name %s: %s", tc->what, lpath,
                  err.msg);
    cr_assert(strstr(err.msg, tc->expect), "%s: message lacks '%s': %s", tc->what, tc->expect,
              err.msg);
    if (tc->fault == F_MISSING_IMAGES) {
        /* Both names tried are named: the .gz one and the plain one. */
        char plain[512];
        snprintf(plain, sizeof plain, "%s/t10k-images-idx3-ubyte ", dir);
        cr_assert(strstr(err.msg, plain), "%s", err.msg);
    }
    remove_tmpdir(dir);
}

Test(data, missing_directory_is_not_found_with_its_name_and_a_hint)
{
    struct qc_dataset d;
    struct qc_err err;
    const char *dir = "/nonexistent/qlab-test-no-such-dir";
    cr_assert_eq(qc_dataset_load(&d, "fashion-mnist", dir, QC_SPLIT_TRAIN, 0, 0, &err),
                 QC_ENOTFOUND);
    assert_zeroed(&d);
    cr_assert(strstr(err.msg, dir), "%s", err.msg);
    cr_assert(strstr(err.msg, "dataset-fashion-mnist"), "no install hint: %s", err.msg);

    /* An empty directory: the first file looked for is named. */
    char tmp[256], want[512];
    make_tmpdir(tmp, sizeof tmp);
    cr_assert_eq(qc_dataset_load(&d, "mnist", tmp, QC_SPLIT_TRAIN, 0, 0, &err), QC_ENOTFOUND);
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte.gz", tmp);
    cr_assert(strstr(err.msg, want), "%s", err.msg);
    remove_tmpdir(tmp);
}

Test(data, raw_idx_reader_takes_any_paths_and_shape)
{
    enum { N = 3, R = 5, C = 7 };
    uint8_t pixels[N * R * C], labels[N] = {0, 2, 1};
    char dir[256], ip[512], lp[512];
    size_t len;
    struct qc_dataset d;
    struct qc_err err;

    for (int i = 0; i < N * R * C; i++)
        pixels[i] = (uint8_t)(i * 7);
    make_tmpdir(dir, sizeof dir);
    snprintf(ip, sizeof ip, "%s/imgs", dir);
    snprintf(lp, sizeof lp, "%s/labs", dir);
    uint8_t *b = idx_images(&len, N, R, C, pixels);
    write_bytes(ip, b, len, false);
    free(b);
    b = idx_labels(&len, N, labels);
    write_bytes(lp, b, len, true);
    free(b);
    cr_assert_eq(qc_dataset_read_idx(&d, ip, lp, 3, 0, &err), QC_OK, "%s", err.msg);
    cr_assert(d.n == N && d.c == 1 && d.h == R && d.w == C && d.classes == 3);
    cr_assert_arr_eq(d.pixels, pixels, sizeof pixels);
    cr_assert_arr_eq(d.labels, labels, N);
    cr_assert(d.mean[0] == 0.0f && d.std[0] == 1.0f && d.name[0] == '\0');
    qc_dataset_free(&d);
    /* The same labels with 2 classes: label 2 is out of range. */
    cr_assert_eq(qc_dataset_read_idx(&d, ip, lp, 2, 0, &err), QC_ECORRUPT);
    cr_assert(strstr(err.msg, "label 2 at index 1"), "%s", err.msg);
    remove_tmpdir(dir);
}

/* ---- CIFAR-10 ------------------------------------------------------------ */

static const char *cifar_names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

/* Record r of the made-up set: label r % 10, pixel k = (r * 31 + k * 7) mod 256. */
static void cifar_record(uint8_t *rec, int64_t r)
{
    rec[0] = (uint8_t)(r % 10);
    for (int k = 0; k < 3072; k++)
        rec[1 + k] = (uint8_t)(r * 31 + k * 7);
}

/* Six files of 3, 1, 2, 2, 4 and 5 records, numbered across files; file 1
 * (data_batch_2) is gzipped to show that compressed batches load too. */
static const int cifar_counts[6] = {3, 1, 2, 2, 4, 5};

static void write_cifar(const char *dir)
{
    int64_t r = 0;
    for (int f = 0; f < 6; f++) {
        uint8_t *buf = malloc((size_t)cifar_counts[f] * CIFAR_REC);
        char path[512];
        for (int i = 0; i < cifar_counts[f]; i++)
            cifar_record(buf + (size_t)i * CIFAR_REC, r++);
        snprintf(path, sizeof path, "%s/%s%s", dir, cifar_names[f], f == 1 ? ".gz" : "");
        write_bytes(path, buf, (size_t)cifar_counts[f] * CIFAR_REC, f == 1);
        free(buf);
    }
}

Test(data, cifar_batches_load_in_order_with_published_normalisation)
{
    char dir[256];
    struct qc_dataset d;
    struct qc_err err;
    uint8_t rec[CIFAR_REC];

    make_tmpdir(dir, sizeof dir);
    write_cifar(dir);
    cr_assert_eq(qc_dataset_load(&d, "cifar10", dir, QC_SPLIT_TRAIN, 0, 0, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_str_eq(d.name, "cifar10");
    cr_assert(d.n == 12 && d.c == 3 && d.h == 32 && d.w == 32 && d.classes == 10);
    for (int64_t r = 0; r < 12; r++) {
        cifar_record(rec, r);
        cr_assert_eq(d.labels[r], rec[0]);
        cr_assert_arr_eq(d.pixels + r * 3072, rec + 1, 3072, "record %lld", (long long)r);
    }
    cr_assert(d.mean[0] == 0.4914f && d.mean[1] == 0.4822f && d.mean[2] == 0.4465f);
    cr_assert(d.std[0] == 0.2470f && d.std[1] == 0.2435f && d.std[2] == 0.2616f);
    cr_assert(d.aug_pad == 4 && d.aug_flip);
    qc_dataset_free(&d);

    /* A limit crossing file boundaries: 3 + 1 + 1 records. */
    cr_assert_eq(qc_dataset_load(&d, "cifar-10", dir, QC_SPLIT_TRAIN, 5, 0, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(d.n, 5);
    cifar_record(rec, 4);
    cr_assert_arr_eq(d.pixels + 4 * 3072, rec + 1, 3072);
    qc_dataset_free(&d);

    cr_assert_eq(qc_dataset_load(&d, "cifar10", dir, QC_SPLIT_TEST, 0, 0, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(d.n, 5);
    cifar_record(rec, 12);
    cr_assert_eq(d.labels[0], rec[0]);
    cr_assert_arr_eq(d.pixels, rec + 1, 3072);
    qc_dataset_free(&d);
    remove_tmpdir(dir);
}

enum cifar_fault { C_TRUNC, C_LABEL, C_EMPTY, C_MISSING, C_GZ_CUT };

struct cifar_case {
    char what[16];
    int fault;
    int code;
    char file[24];
    char expect[96];
};

static struct cifar_case cifar_cases[] = {
    /* data_batch_3 keeps record 0 and 100 bytes of record 1. */
    {"truncated", C_TRUNC, QC_ECORRUPT, "data_batch_3.bin",
     "truncated record 1: the file ends at byte offset 3173"},
    {"label", C_LABEL, QC_ECORRUPT, "data_batch_4.bin",
     "label 10 of record 1 (byte offset 3073) is outside 0..9"},
    {"empty", C_EMPTY, QC_ECORRUPT, "data_batch_5.bin", "empty: expected whole 3073-byte"},
    {"missing", C_MISSING, QC_ENOTFOUND, "data_batch_4.bin", "not found"},
    /* data_batch_2 is the gzipped one; a cut stream is not a short file. */
    {"gzip cut", C_GZ_CUT, QC_ECORRUPT, "data_batch_2.bin.gz", "gzip stream is cut short"},
};

ParameterizedTestParameters(data, corrupt_cifar_file_is_an_error_naming_the_file)
{
    return cr_make_param_array(struct cifar_case, cifar_cases,
                               sizeof cifar_cases / sizeof cifar_cases[0]);
}

ParameterizedTest(struct cifar_case *tc, data, corrupt_cifar_file_is_an_error_naming_the_file)
{
    char dir[256], path[512];
    struct qc_dataset d;
    struct qc_err err;
    uint8_t buf[2 * CIFAR_REC];

    make_tmpdir(dir, sizeof dir);
    write_cifar(dir);
    snprintf(path, sizeof path, "%s/%s", dir, tc->file);
    cifar_record(buf, 0);
    cifar_record(buf + CIFAR_REC, 1);
    if (tc->fault == C_TRUNC)
        write_bytes(path, buf, CIFAR_REC + 100, false);
    else if (tc->fault == C_LABEL) {
        buf[CIFAR_REC] = 10;
        write_bytes(path, buf, 2 * CIFAR_REC, false);
    } else if (tc->fault == C_EMPTY)
        write_bytes(path, buf, 0, false);
    else if (tc->fault == C_MISSING)
        cr_assert_eq(unlink(path), 0);
    else {
        size_t zlen;
        uint8_t *z = read_whole(path, &zlen);
        write_bytes(path, z, zlen / 2, false);
        free(z);
    }
    /* Without a limit every record is read; the missing file must be found
     * missing even when the limit is met by the first file. */
    int64_t limit = tc->fault == C_MISSING ? 1 : 0;
    int rc = qc_dataset_load(&d, "cifar10", dir, QC_SPLIT_TRAIN, limit, 0, &err);
    cr_assert_eq(rc, tc->code, "%s: got %s (%s)", tc->what, qc_error_name(rc), err.msg);
    assert_zeroed(&d);
    cr_assert(strstr(err.msg, path), "%s: message does not name %s: %s", tc->what, path, err.msg);
    cr_assert(strstr(err.msg, tc->expect), "%s: message lacks '%s': %s", tc->what, tc->expect,
              err.msg);
    remove_tmpdir(dir);
}

/* ---- names and the registry ---------------------------------------------- */

struct name_case {
    char name[48];
    char expect[64];
};

static struct name_case bad_names[] = {
    {"imagenet", "unknown dataset 'imagenet'"},
    {"mnist:x=1", "mnist takes no options but size=N"},
    {"mnist:size=0", "size=0 is not an integer in 1..1024"},
    {"fashion-mnist:size=3x", "size=3x is not an integer"},
    {"synthetic:colour=1", "unknown option 'colour'"},
    {"synthetic:c=4", "c=4 is outside 1..3"},
    {"synthetic:h=abc", "h=abc is not an integer"},
    {"synthetic:h=2", "2x28 images"},
    {"synthetic:noise=2", "noise=2 is outside 0..1"},
    {"synthetic:train=0", "train=0 is outside"},
    {"synthetic:classes", "is not key=value"},
    {"synthetic:shift=9", "shift=9 is outside 0..7"},
};

ParameterizedTestParameters(data, bad_name_or_option_is_einval_on_the_name)
{
    return cr_make_param_array(struct name_case, bad_names, sizeof bad_names / sizeof bad_names[0]);
}

ParameterizedTest(struct name_case *tc, data, bad_name_or_option_is_einval_on_the_name)
{
    struct qc_dataset d;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&d, tc->name, NULL, QC_SPLIT_TRAIN, 0, 1, &err), QC_EINVAL, "%s",
                 tc->name);
    assert_zeroed(&d);
    cr_assert_str_eq(err.field, "/name");
    cr_assert(strstr(err.msg, tc->expect), "'%s': message lacks '%s': %s", tc->name, tc->expect,
              err.msg);
}

Test(data, registry_lists_every_dataset)
{
    const char *want[] = {"fashion-mnist", "mnist", "cifar10", "synthetic"};
    int i = 0;
    for (const struct qc_dataset_info *in; (in = qc_dataset_info_at(i)); i++) {
        cr_assert_lt(i, 4);
        cr_assert_str_eq(in->name, want[i]);
        cr_assert(in->classes == 10 && in->n_train > 0 && in->n_test > 0);
    }
    cr_assert_eq(i, 4);
    cr_assert_null(qc_dataset_info_at(-1));
}

/* ---- synthetic ----------------------------------------------------------- */

Test(data, synthetic_is_deterministic_per_seed)
{
    struct qc_dataset a, b, c, t, lim;
    struct qc_err err;
    const char *name = "synthetic:train=300:test=100";
    cr_assert_eq(qc_dataset_load(&a, name, NULL, QC_SPLIT_TRAIN, 0, 42, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(qc_dataset_load(&b, name, NULL, QC_SPLIT_TRAIN, 0, 42, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(qc_dataset_load(&c, name, NULL, QC_SPLIT_TRAIN, 0, 43, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(qc_dataset_load(&t, name, NULL, QC_SPLIT_TEST, 0, 42, &err), QC_OK, "%s", err.msg);
    cr_assert_eq(qc_dataset_load(&lim, name, NULL, QC_SPLIT_TRAIN, 50, 42, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_str_eq(a.name, "synthetic");
    cr_assert(a.n == 300 && t.n == 100 && lim.n == 50);
    cr_assert(a.c == 1 && a.h == 28 && a.w == 28 && a.classes == 10);
    cr_assert_arr_eq(a.pixels, b.pixels, 300 * IMG);
    cr_assert_arr_eq(a.labels, b.labels, 300);
    cr_assert(a.mean[0] == b.mean[0] && a.std[0] == b.std[0]);
    cr_assert(memcmp(a.pixels, c.pixels, 300 * IMG) != 0, "seeds 42 and 43 gave the same images");
    cr_assert(memcmp(a.pixels, t.pixels, 100 * IMG) != 0, "train and test splits are the same");
    cr_assert_arr_eq(lim.pixels, a.pixels, 50 * IMG, "a limit must keep a prefix");
    /* Both splits normalise by the same training statistics. */
    cr_assert(t.mean[0] == a.mean[0] && t.std[0] == a.std[0] && lim.mean[0] == a.mean[0]);
    cr_assert(a.mean[0] > 0.05f && a.mean[0] < 0.6f && a.std[0] > 0.05f);
    int hist[10] = {0};
    for (int i = 0; i < 300; i++) {
        cr_assert_lt(a.labels[i], 10);
        hist[a.labels[i]]++;
    }
    for (int k = 0; k < 10; k++)
        cr_assert_gt(hist[k], 10, "class %d drawn %d times in 300", k, hist[k]);
    qc_dataset_free(&a);
    qc_dataset_free(&b);
    qc_dataset_free(&c);
    qc_dataset_free(&t);
    qc_dataset_free(&lim);
}

Test(data, synthetic_options_set_the_shape)
{
    struct qc_dataset d;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&d, "synthetic:c=3:h=16:w=12:classes=4:train=40:test=9:noise=0.05",
                                 NULL, QC_SPLIT_TEST, 0, 5, &err),
                 QC_OK, "%s", err.msg);
    cr_assert(d.n == 9 && d.c == 3 && d.h == 16 && d.w == 12 && d.classes == 4);
    for (int i = 0; i < 9; i++)
        cr_assert_lt(d.labels[i], 4);
    for (int ch = 0; ch < 3; ch++)
        cr_assert(d.std[ch] > 0.0f && d.mean[ch] > 0.0f, "channel %d", ch);
    qc_dataset_free(&d);
}

/* Softmax regression, 300 SGD steps of 32 on the normalised batches: the
 * synthetic set must be learnable far above the 10% of chance. */
Test(data, synthetic_is_learnable_by_a_linear_classifier)
{
    enum { K = 10, D = IMG, B = 32, STEPS = 300 };
    struct qc_dataset tr, te;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&tr, "synthetic", NULL, QC_SPLIT_TRAIN, 0, 1, &err), QC_OK, "%s",
                 err.msg);
    cr_assert_eq(qc_dataset_load(&te, "synthetic", NULL, QC_SPLIT_TEST, 0, 1, &err), QC_OK, "%s",
                 err.msg);
    float *wt = calloc(K * (D + 1), sizeof(float)), *x = malloc(B * D * sizeof(float));
    int64_t *perm = malloc((size_t)tr.n * sizeof(int64_t));
    int32_t y[B];
    float logits[K];
    const float lr = 0.01f;

    for (int s = 0; s < STEPS; s++) {
        int64_t per_epoch = tr.n / B, at = (s % per_epoch) * B;
        if (s % per_epoch == 0)
            qc_dataset_permutation(perm, tr.n, 1, (uint64_t)(s / per_epoch));
        qc_dataset_batch(x, y, &tr, perm + at, B, false, 1, (uint64_t)s);
        for (int b = 0; b < B; b++) {
            const float *xb = x + b * D;
            float mx = -INFINITY, sum = 0.0f;
            for (int k = 0; k < K; k++) {
                float z = wt[k * (D + 1) + D];
                for (int j = 0; j < D; j++)
                    z += wt[k * (D + 1) + j] * xb[j];
                logits[k] = z;
                mx = fmaxf(mx, z);
            }
            for (int k = 0; k < K; k++)
                sum += (logits[k] = expf(logits[k] - mx));
            for (int k = 0; k < K; k++) {
                float g = (logits[k] / sum - (k == y[b] ? 1.0f : 0.0f)) * lr / B;
                for (int j = 0; j < D; j++)
                    wt[k * (D + 1) + j] -= g * xb[j];
                wt[k * (D + 1) + D] -= g;
            }
        }
    }
    int64_t correct = 0;
    int64_t idx[1];
    for (int64_t i = 0; i < te.n; i++) {
        idx[0] = i;
        qc_dataset_batch(x, y, &te, idx, 1, false, 0, 0);
        int best = 0;
        float bz = -INFINITY;
        for (int k = 0; k < K; k++) {
            float z = wt[k * (D + 1) + D];
            for (int j = 0; j < D; j++)
                z += wt[k * (D + 1) + j] * x[j];
            if (z > bz) {
                bz = z;
                best = k;
            }
        }
        correct += best == y[0];
    }
    double acc = (double)correct / (double)te.n;
    cr_log_info("synthetic: linear classifier test accuracy %.3f after %d steps", acc, STEPS);
    cr_assert_gt(acc, 0.6, "test accuracy %.3f after %d steps", acc, STEPS);
    free(wt);
    free(x);
    free(perm);
    qc_dataset_free(&tr);
    qc_dataset_free(&te);
}

/* ---- shuffling, batching, augmentation ----------------------------------- */

Test(data, permutation_is_a_permutation_deterministic_per_seed_and_epoch)
{
    enum { N = 1000 };
    int64_t p[N], q[N], r[N], s[N];
    bool seen[N] = {false};
    qc_dataset_permutation(p, N, 9, 0);
    qc_dataset_permutation(q, N, 9, 0);
    qc_dataset_permutation(r, N, 9, 1);
    qc_dataset_permutation(s, N, 10, 0);
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(p[i] >= 0 && p[i] < N && !seen[p[i]], "position %d holds %lld", i,
                  (long long)p[i]);
        seen[p[i]] = true;
        fixed += p[i] == i;
    }
    cr_assert_lt(fixed, 10, "%d fixed points: barely shuffled", fixed);
    cr_assert_arr_eq(p, q, sizeof p);
    cr_assert(memcmp(p, r, sizeof p) != 0, "epochs 0 and 1 gave the same order");
    cr_assert(memcmp(p, s, sizeof p) != 0, "seeds 9 and 10 gave the same order");
    int64_t one = -1;
    qc_dataset_permutation(&one, 1, 9, 0);
    cr_assert_eq(one, 0);
    qc_dataset_permutation(NULL, 0, 9, 0);
}

/* A hand-made 3-channel dataset of n images of side `side`, random pixels. */
static struct qc_dataset hand_dataset(int64_t n, int side, uint64_t seed)
{
    struct qc_dataset d = {.n = n, .c = 3, .h = side, .w = side, .classes = 10};
    uint64_t s = seed;
    d.pixels = malloc((size_t)(n * 3 * side * side));
    d.labels = malloc((size_t)n);
    for (int64_t i = 0; i < n * 3 * side * side; i++)
        d.pixels[i] = (uint8_t)th_next(&s);
    for (int64_t i = 0; i < n; i++)
        d.labels[i] = (uint8_t)(i % 10);
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(d.mean, mean, sizeof mean);
    memcpy(d.std, std, sizeof std);
    return d;
}

Test(data, batch_normalises_by_the_documented_formula)
{
    struct qc_dataset d = hand_dataset(6, 4, 1);
    const int64_t idx[3] = {4, 0, 5};
    float x[3 * 48];
    int32_t y[3];
    qc_dataset_batch(x, y, &d, idx, 3, false, 0, 0);
    for (int b = 0; b < 3; b++) {
        cr_assert_eq(y[b], d.labels[idx[b]]);
        for (int k = 0; k < 48; k++) {
            int ch = k / 16;
            uint8_t p = d.pixels[idx[b] * 48 + k];
            float want = ((float)p / 255.0f - d.mean[ch]) / d.std[ch];
            cr_assert(th_same_f(x[b * 48 + k], want), "image %d value %d: %a, want %a", b, k,
                      (double)x[b * 48 + k], (double)want);
        }
    }
    /* Two values worked by hand: 0 and 255 in channel 0. */
    d.pixels[0] = 0;
    d.pixels[1] = 255;
    qc_dataset_batch(x, NULL, &d, idx + 1, 1, false, 0, 0);
    cr_assert(fabsf(x[0] - (-0.4914f / 0.2470f)) < 1e-6f, "%f", (double)x[0]);
    cr_assert(fabsf(x[1] - ((1.0f - 0.4914f) / 0.2470f)) < 1e-6f, "%f", (double)x[1]);
    /* augment with no recipe (pad 0, no flip) leaves images alone. */
    float x2[48];
    qc_dataset_batch(x2, NULL, &d, idx + 1, 1, true, 3, 3);
    cr_assert_arr_eq(x2, x, sizeof x2);
    qc_dataset_free(&d);
}

/* Which (dy, dx, flip) of the recipe, if any, turns image src into out. */
static bool find_transform(const float *out, const struct qc_dataset *d, const uint8_t *src,
                           int *dy_out, int *dx_out, bool *flip_out)
{
    const int c = d->c, h = d->h, w = d->w, pad = d->aug_pad;
    for (int f = 0; f <= (d->aug_flip ? 1 : 0); f++)
        for (int dy = -pad; dy <= pad; dy++)
            for (int dx = -pad; dx <= pad; dx++) {
                bool same = true;
                for (int ch = 0; ch < c && same; ch++)
                    for (int y = 0; y < h && same; y++)
                        for (int x = 0; x < w && same; x++) {
                            int sy = y + dy, sx = (f ? w - 1 - x : x) + dx;
                            uint8_t v = sy >= 0 && sy < h && sx >= 0 && sx < w
                                            ? src[(ch * h + sy) * w + sx]
                                            : 0;
                            float want = ((float)v / 255.0f - d->mean[ch]) / d->std[ch];
                            same = th_same_f(out[(ch * h + y) * w + x], want);
                        }
                if (same) {
                    *dy_out = dy;
                    *dx_out = dx;
                    *flip_out = f;
                    return true;
                }
            }
    return false;
}

Test(data, augmentation_is_deterministic_and_crops_and_flips)
{
    enum { N = 64, S = 8, IM = 3 * S * S };
    struct qc_dataset d = hand_dataset(N, S, 2);
    d.aug_pad = 4;
    d.aug_flip = true;
    int64_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (i * 37) % N;
    float *a = malloc(N * IM * sizeof(float)), *b = malloc(N * IM * sizeof(float)),
          *c = malloc(N * IM * sizeof(float)), *plain = malloc(N * IM * sizeof(float));
    qc_dataset_batch(a, NULL, &d, idx, N, true, 7, 100);
    qc_dataset_batch(b, NULL, &d, idx, N, true, 7, 100);
    qc_dataset_batch(c, NULL, &d, idx, N, true, 7, 101);
    qc_dataset_batch(plain, NULL, &d, idx, N, false, 7, 100);
    cr_assert_arr_eq(a, b, N * IM * sizeof(float), "same (seed, step) must give the same batch");
    cr_assert(memcmp(a, c, N * IM * sizeof(float)) != 0, "steps 100 and 101 gave the same batch");

    /* Every output is one of the recipe's transforms of its source image,
     * and the batch uses flips, both directions of shift and non-shifts. */
    int flips = 0, shifted = 0, changed = 0, neg = 0, pos = 0;
    for (int i = 0; i < N; i++) {
        int dy, dx;
        bool flip;
        cr_assert(find_transform(a + i * IM, &d, d.pixels + idx[i] * IM, &dy, &dx, &flip),
                  "batch position %d is no crop/flip of image %lld", i, (long long)idx[i]);
        flips += flip;
        shifted += dy || dx;
        neg += dx < 0;
        pos += dx > 0;
        changed += memcmp(a + i * IM, plain + i * IM, IM * sizeof(float)) != 0;
    }
    cr_assert(flips > 8 && flips < N - 8, "%d flips in %d", flips, N);
    cr_assert(shifted > N / 2 && neg > 4 && pos > 4, "shifted %d, left %d, right %d", shifted, neg,
              pos);
    cr_assert_gt(changed, N / 2);

    /* The draw is keyed by the sample, not its place in the call: the
     * second half of the batch computed alone (as another thread would)
     * comes out the same. */
    qc_dataset_batch(b, NULL, &d, idx + N / 2, N / 2, true, 7, 100);
    cr_assert_arr_eq(b, a + (N / 2) * IM, (N / 2) * IM * sizeof(float));

    /* Flip only: each output is the image or its mirror. */
    d.aug_pad = 0;
    qc_dataset_batch(a, NULL, &d, idx, N, true, 7, 100);
    flips = 0;
    for (int i = 0; i < N; i++) {
        int dy, dx;
        bool flip;
        cr_assert(find_transform(a + i * IM, &d, d.pixels + idx[i] * IM, &dy, &dx, &flip));
        cr_assert(dy == 0 && dx == 0);
        flips += flip;
    }
    cr_assert(flips > 8 && flips < N - 8, "%d flips in %d", flips, N);
    free(a);
    free(b);
    free(c);
    free(plain);
    qc_dataset_free(&d);
}

Test(data, stats_are_per_channel_mean_and_std)
{
    struct qc_dataset d = {.n = 2, .c = 2, .h = 1, .w = 2, .classes = 2};
    uint8_t px[8] = {0,   255, 51,  51, /* image 1: ch0 = 0,255; ch1 = 51,51 */
                     255, 0,   102, 102};
    d.pixels = px;
    float mean[2], std[2];
    qc_dataset_stats(mean, std, &d);
    cr_assert(fabsf(mean[0] - 0.5f) < 1e-7f && fabsf(std[0] - 0.5f) < 1e-7f);
    cr_assert(fabsf(mean[1] - 0.3f) < 1e-7f && fabsf(std[1] - 0.1f) < 1e-7f, "%f %f",
              (double)mean[1], (double)std[1]);
}

Test(data, free_zeroes_and_may_be_repeated)
{
    struct qc_dataset d;
    struct qc_err err;
    cr_assert_eq(qc_dataset_load(&d, "synthetic:train=10", NULL, QC_SPLIT_TRAIN, 0, 1, &err), QC_OK,
                 "%s", err.msg);
    qc_dataset_free(&d);
    cr_assert(d.pixels == NULL && d.labels == NULL && d.n == 0);
    qc_dataset_free(&d);
    qc_dataset_free(NULL);
}

/* qc_dataset_present: what a worker reports at registration. */
Test(data, present_checks_every_file_of_both_splits_without_reading_them)
{
    /* The files created, plain or gzipped, and the name the error gives
     * while each is missing. */
    static const struct {
        const char *file, *named;
    } files[] = {{"train-images-idx3-ubyte", "train-images-idx3-ubyte"},
                 {"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"},
                 {"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"},
                 {"t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"}};
    struct qc_err err;
    char tmp[256], path[512];
    cr_expect_eq(qc_dataset_present("synthetic", NULL, &err), QC_OK, "generated: always");
    cr_expect_eq(qc_dataset_present("no-such-set", NULL, &err), QC_ENOTFOUND);
    cr_expect_eq(qc_dataset_present("mnist", "/nonexistent/qlab", &err), QC_ENOTFOUND);
    make_tmpdir(tmp, sizeof tmp);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(qc_dataset_present("mnist", tmp, &err), QC_ENOTFOUND);
        cr_expect(strstr(err.msg, files[i].named), "file %d: %s", i, err.msg);
        snprintf(path, sizeof path, "%s/%s", tmp, files[i].file);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fclose(f);
    }
    cr_expect_eq(qc_dataset_present("mnist", tmp, &err), QC_OK, "%s", err.msg);
    cr_expect_eq(qc_dataset_present("cifar10", tmp, &err), QC_ENOTFOUND);
    remove_tmpdir(tmp);
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", F_OK) == 0)
        cr_expect_eq(qc_dataset_present("fashion-mnist", NULL, &err), QC_OK, "%s", err.msg);
}
