/* The IDX reader (MNIST, Fashion-MNIST): an image file and a label file,
 * plain or gzip-compressed, validated field by field so that a bad file is
 * an error that says which file, where and what was expected. */
#include "qcore/data.h"
#include "data_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define LABELS_HEADER    8
#define IMAGES_HEADER    16
/* First allocation for a data block; it doubles from there up to the
 * declared size as bytes arrive. */
#define GROW_FIRST (INT64_C(1) << 20)
/* gzread takes an unsigned count and returns an int. */
#define READ_CHUNK (INT64_C(1) << 30)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int open_file(gzFile *out, const char *path, struct qc_err *err)
{
    errno = 0;
    *out = gzopen(path, "rb");
    if (!*out) {
        int e = errno;
        if (e == ENOENT)
            return qc_err_set(err, QC_ENOTFOUND, "", "%s: no such file", path);
        return qc_err_set(err, e == ENOMEM ? QC_ENOMEM : QC_EIO, "", "%s: cannot open: %s", path,
                          e ? strerror(e) : "zlib could not open it");
    }
    gzbuffer(*out, 1u << 17);
    return QC_OK;
}

/* Reports a gzread that returned fewer bytes than asked: a read error, a
 * corrupt gzip stream, or the end of the data at uncompressed offset `off`. */
static int short_read(gzFile f, const char *path, int64_t off, const char *what,
                      int64_t expected_end, const char *why, struct qc_err *err)
{
    int rc = qc__gz_failure(f, path, off, err);

    if (rc)
        return rc;
    /* Z_OK at end of file, Z_BUF_ERROR for a gzip stream cut short. Offsets
     * in a gzip file count decompressed bytes, and say so. */
    return qc_err_set(err, QC_ECORRUPT, "",
                      "%s: truncated %s: the file ends at %sbyte offset %lld, expected %lld "
                      "bytes (%s)",
                      path, what, gzdirect(f) ? "" : "uncompressed ", (long long)off,
                      (long long)expected_end, why);
}

/* Reads exactly `len` (> 0) bytes starting at uncompressed offset `off` into a new
 * buffer (owned by the caller on success), growing it as data arrives so
 * that a header overstating a short file's size costs little memory. */
static int read_block(uint8_t **out, gzFile f, int64_t len, int64_t off, const char *path,
                      const char *what, const char *why, struct qc_err *err)
{
    uint8_t *buf = NULL;
    int64_t cap = 0, got = 0;

    *out = NULL;
    while (got < len) {
        if (got == cap) {
            int64_t ncap = cap ? cap * 2 : GROW_FIRST;
            if (ncap > len)
                ncap = len;
            uint8_t *nbuf = realloc(buf, (size_t)ncap);
            if (!nbuf) {
                free(buf);
                return qc_err_set(err, QC_ENOMEM, "", "%s: out of memory for %lld bytes of %s",
                                  path, (long long)ncap, what);
            }
            buf = nbuf;
            cap = ncap;
        }
        int64_t want = cap - got < READ_CHUNK ? cap - got : READ_CHUNK;
        int r = gzread(f, buf + got, (unsigned)want);
        if (r <= 0) {
            free(buf);
            return short_read(f, path, off + got, what, off + len, why, err);
        }
        got += r;
    }
    *out = buf;
    return QC_OK;
}

static int read_header(uint8_t *hdr, gzFile f, int len, const char *path, const char *kind,
                       struct qc_err *err)
{
    int got = 0;
    while (got < len) {
        int r = gzread(f, hdr + got, (unsigned)(len - got));
        if (r <= 0) {
            char why[64];
            snprintf(why, sizeof why, "the IDX %s header", kind);
            return short_read(f, path, got, "header", len, why, err);
        }
        got += r;
    }
    return QC_OK;
}

static int check_magic(uint32_t found, uint32_t expected, const char *path, const char *kind,
                       struct qc_err *err)
{
    if (found == expected)
        return QC_OK;
    return qc_err_set(err, QC_ECORRUPT, "",
                      "%s: bad magic number 0x%08x, expected 0x%08x (IDX %s: unsigned bytes, %u "
                      "dimension%s)",
                      path, found, expected, kind, expected & 0xffu,
                      (expected & 0xffu) == 1 ? "" : "s");
}

/* After reading every declared byte: anything more means the header and the
 * data disagree. */
static int check_end(gzFile f, const char *path, int64_t off, const char *why, struct qc_err *err)
{
    uint8_t extra;
    int r = gzread(f, &extra, 1);
    if (r > 0)
        return qc_err_set(err, QC_ECORRUPT, "",
                          "%s: data continues past byte offset %lld, where the file should end "
                          "(%s)",
                          path, (long long)off, why);
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);
    if (zerr == Z_DATA_ERROR || zerr == Z_ERRNO)
        return qc_err_set(err, zerr == Z_ERRNO ? QC_EIO : QC_ECORRUPT, "",
                          "%s: %s after the last declared byte (offset %lld)", path,
                          zerr == Z_ERRNO ? strerror(errno) : qc__zlib_reason(zmsg, path),
                          (long long)off);
    if (zerr == Z_BUF_ERROR)
        return qc_err_set(err, QC_ECORRUPT, "",
                          "%s: the gzip stream is cut short after all %lld declared bytes", path,
                          (long long)off);
    return QC_OK;
}

int qc_dataset_read_idx(struct qc_dataset *out, const char *images_path, const char *labels_path,
                        int classes, int64_t limit, struct qc_err *err)
{
    gzFile fi = NULL, fl = NULL;
    uint8_t hi[IMAGES_HEADER], hl[LABELS_HEADER];
    uint8_t *pixels = NULL, *labels = NULL;
    char ldecl[64], idecl[96];
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = qc__check_read_args(classes, limit, err)))
        goto out;
    if ((rc = open_file(&fl, labels_path, err)) || (rc = open_file(&fi, images_path, err)))
        goto out;
    if ((rc = read_header(hl, fl, LABELS_HEADER, labels_path, "labels", err)) ||
        (rc = check_magic(be32(hl), IDX_MAGIC_LABELS, labels_path, "labels", err)) ||
        (rc = read_header(hi, fi, IMAGES_HEADER, images_path, "images", err)) ||
        (rc = check_magic(be32(hi), IDX_MAGIC_IMAGES, images_path, "images", err)))
        goto out;

    int64_t nl = be32(hl + 4), n = be32(hi + 4), rows = be32(hi + 8), cols = be32(hi + 12);
    if (n < 1 || n > QC_DATASET_MAX_N) {
        rc = qc_err_set(err, n < 1 ? QC_ECORRUPT : QC_ERANGE, "",
                        "%s: the header declares %lld images, expected 1..%lld", images_path,
                        (long long)n, (long long)QC_DATASET_MAX_N);
        goto out;
    }
    if (rows < 1 || rows > QC_DATASET_MAX_SIDE || cols < 1 || cols > QC_DATASET_MAX_SIDE) {
        rc = qc_err_set(err, rows < 1 || cols < 1 ? QC_ECORRUPT : QC_ERANGE, "",
                        "%s: the header declares %lldx%lld images, expected sides 1..%d",
                        images_path, (long long)rows, (long long)cols, QC_DATASET_MAX_SIDE);
        goto out;
    }
    if (n * rows * cols > QC_DATASET_MAX_BYTES) {
        rc = qc_err_set(err, QC_ERANGE, "",
                        "%s: the header declares %lld images of %lldx%lld, over the %lld-byte "
                        "limit",
                        images_path, (long long)n, (long long)rows, (long long)cols,
                        (long long)QC_DATASET_MAX_BYTES);
        goto out;
    }
    if (nl != n) {
        rc = qc_err_set(err, QC_ECORRUPT, "",
                        "label/image count mismatch: %s declares %lld labels, %s declares %lld "
                        "images",
                        labels_path, (long long)nl, images_path, (long long)n);
        goto out;
    }

    int64_t m = limit > 0 && limit < n ? limit : n, img = rows * cols;
    snprintf(ldecl, sizeof ldecl, "the header declares %lld labels", (long long)n);
    snprintf(idecl, sizeof idecl, "the header declares %lld images of %lldx%lld", (long long)n,
             (long long)rows, (long long)cols);
    if ((rc = read_block(&labels, fl, m, LABELS_HEADER, labels_path, "label data", ldecl, err)))
        goto out;
    for (int64_t i = 0; i < m; i++)
        if (labels[i] >= classes) {
            rc = qc_err_set(err, QC_ECORRUPT, "",
                            "%s: label %u at index %lld (byte offset %lld) is outside 0..%d",
                            labels_path, (unsigned)labels[i], (long long)i,
                            (long long)(LABELS_HEADER + i), classes - 1);
            goto out;
        }
    if ((rc = read_block(&pixels, fi, m * img, IMAGES_HEADER, images_path, "image data", idecl,
                         err)))
        goto out;
    /* With a limit the rest of the file is never read, so its end is only
     * checked on a full read. */
    if (m == n && ((rc = check_end(fl, labels_path, LABELS_HEADER + n, ldecl, err)) ||
                   (rc = check_end(fi, images_path, IMAGES_HEADER + n * img, idecl, err))))
        goto out;

    out->n = m;
    out->c = 1;
    out->h = (int)rows;
    out->w = (int)cols;
    out->classes = classes;
    out->pixels = pixels;
    out->labels = labels;
    out->mean[0] = out->mean[1] = out->mean[2] = 0.0f;
    out->std[0] = out->std[1] = out->std[2] = 1.0f;
    pixels = labels = NULL;
    rc = QC_OK;
out:
    free(pixels);
    free(labels);
    if (fi)
        gzclose(fi);
    if (fl)
        gzclose(fl);
    return rc;
}
