/* The CIFAR-10 binary-batch reader. The format has no header, so the checks
 * that matter are whole records, label range and a nonempty file; each
 * failure names the file, the record and its byte offset. */
#include "qcore/data.h"
#include "data_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CIFAR_C      3
#define CIFAR_SIDE   32
#define CIFAR_PIXELS (CIFAR_C * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define MAX_FILES    1024
/* Records allocated at first; the buffers double from there as records
 * arrive, since a gzip file's record count is unknown until read. */
#define GROW_FIRST 1024

/* Reads up to `len` bytes, looping over short reads; returns the count, or
 * -1 after gzread failed (the caller asks gzerror why). */
static int read_upto(gzFile f, uint8_t *dst, int len)
{
    int got = 0;
    while (got < len) {
        int r = gzread(f, dst + got, (unsigned)(len - got));
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += r;
    }
    return got;
}

/* A read that stopped early: a read error, corrupt gzip data or a gzip
 * stream cut short, when zlib says so; otherwise QC_OK (a plain file, or a
 * whole gzip stream, simply ended). */
static int stream_error(gzFile f, const char *path, int64_t off, struct qc_err *err)
{
    int zerr = Z_OK;
    int rc = qc__gz_failure(f, path, off, err);

    if (rc)
        return rc;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR)
        return qc_err_set(err, QC_ECORRUPT, "",
                          "%s: truncated: the gzip stream is cut short at uncompressed byte "
                          "offset %lld",
                          path, (long long)off);
    return QC_OK;
}

static int grow(uint8_t **pixels, uint8_t **labels, int64_t *cap, const char *path,
                struct qc_err *err)
{
    const int64_t most = QC_DATASET_MAX_BYTES / CIFAR_PIXELS < QC_DATASET_MAX_N
                             ? QC_DATASET_MAX_BYTES / CIFAR_PIXELS
                             : QC_DATASET_MAX_N;
    if (*cap >= most)
        return qc_err_set(err, QC_ERANGE, "", "%s: more than %lld records in all, over the limit",
                          path, (long long)most);
    int64_t ncap = *cap ? *cap * 2 : GROW_FIRST;
    if (ncap > most)
        ncap = most;
    uint8_t *np = realloc(*pixels, (size_t)ncap * CIFAR_PIXELS);
    if (np)
        *pixels = np;
    uint8_t *nl = np ? realloc(*labels, (size_t)ncap) : NULL;
    if (nl)
        *labels = nl;
    if (!np || !nl)
        return qc_err_set(err, QC_ENOMEM, "", "%s: out of memory for %lld records", path,
                          (long long)ncap);
    *cap = ncap;
    return QC_OK;
}

int qc_dataset_read_cifar(struct qc_dataset *out, const char *const *paths, int npaths, int classes,
                          int64_t limit, struct qc_err *err)
{
    gzFile *files = NULL;
    uint8_t *pixels = NULL, *labels = NULL, rec[CIFAR_RECORD];
    int64_t n = 0, cap = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if (npaths < 1 || npaths > MAX_FILES) {
        rc = qc_err_set(err, QC_EINVAL, "", "%d files given, expected 1..%d", npaths, MAX_FILES);
        goto out;
    }
    if ((rc = qc__check_read_args(classes, limit, err)))
        goto out;
    if (!(files = calloc((size_t)npaths, sizeof *files))) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    /* Open everything first: a missing batch is an error whatever the limit. */
    for (int i = 0; i < npaths; i++) {
        errno = 0;
        if (!(files[i] = gzopen(paths[i], "rb"))) {
            int e = errno;
            rc = e == ENOENT
                     ? qc_err_set(err, QC_ENOTFOUND, "", "%s: no such file", paths[i])
                     : qc_err_set(err, e == ENOMEM ? QC_ENOMEM : QC_EIO, "", "%s: cannot open: %s",
                                  paths[i], e ? strerror(e) : "zlib could not open it");
            goto out;
        }
        gzbuffer(files[i], 1u << 17);
    }

    for (int i = 0; i < npaths && (limit == 0 || n < limit); i++) {
        for (int64_t r = 0; limit == 0 || n < limit; r++) {
            int64_t off = r * CIFAR_RECORD;
            int got = read_upto(files[i], rec, CIFAR_RECORD);
            if (got < CIFAR_RECORD &&
                (rc = stream_error(files[i], paths[i], off + (got > 0 ? got : 0), err)))
                goto out;
            if (got <= 0 && r == 0) {
                rc = qc_err_set(err, QC_ECORRUPT, "",
                                "%s: empty: expected whole %d-byte CIFAR-10 records (1 label "
                                "byte + 3x32x32 pixel bytes)",
                                paths[i], CIFAR_RECORD);
                goto out;
            }
            if (got <= 0)
                break;
            if (got < CIFAR_RECORD) {
                rc = qc_err_set(err, QC_ECORRUPT, "",
                                "%s: truncated record %lld: the file ends at %sbyte offset "
                                "%lld, inside a %d-byte record (1 label byte + 3x32x32 pixel "
                                "bytes) that started at byte offset %lld",
                                paths[i], (long long)r, gzdirect(files[i]) ? "" : "uncompressed ",
                                (long long)(off + got), CIFAR_RECORD, (long long)off);
                goto out;
            }
            if (rec[0] >= classes) {
                rc = qc_err_set(err, QC_ECORRUPT, "",
                                "%s: label %u of record %lld (byte offset %lld) is outside 0..%d",
                                paths[i], (unsigned)rec[0], (long long)r, (long long)off,
                                classes - 1);
                goto out;
            }
            if (n == cap && (rc = grow(&pixels, &labels, &cap, paths[i], err)))
                goto out;
            labels[n] = rec[0];
            memcpy(pixels + n * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
            n++;
        }
    }

    /* Trim the doubling slack: a loaded split lives for the whole run. */
    uint8_t *tp = realloc(pixels, (size_t)n * CIFAR_PIXELS), *tl = realloc(labels, (size_t)n);
    out->pixels = tp ? tp : pixels;
    out->labels = tl ? tl : labels;
    pixels = labels = NULL;
    out->n = n;
    out->c = CIFAR_C;
    out->h = out->w = CIFAR_SIDE;
    out->classes = classes;
    for (int ch = 0; ch < QC_DATASET_MAX_CHANNELS; ch++) {
        out->mean[ch] = 0.0f;
        out->std[ch] = 1.0f;
    }
    rc = QC_OK;
out:
    free(pixels);
    free(labels);
    if (files)
        for (int i = 0; i < npaths; i++)
            if (files[i])
                gzclose(files[i]);
    free(files);
    return rc;
}
