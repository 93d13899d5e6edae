/* Shared pieces of the dataset readers (data_impl.h): argument checks and
 * zlib failure decoding. */
#include <errno.h>
#include <string.h>

#include "data_impl.h"

const char *qc__zlib_reason(const char *zmsg, const char *path)
{
    size_t len = strlen(path);
    if (strncmp(zmsg, path, len) == 0 && zmsg[len] == ':' && zmsg[len + 1] == ' ')
        return zmsg + len + 2;
    return zmsg;
}

int qc__gz_failure(gzFile f, const char *path, int64_t off, struct qc_err *err)
{
    int zerr = Z_OK;
    const char *zmsg = gzerror(f, &zerr);

    if (zerr == Z_ERRNO)
        return qc_err_set(err, QC_EIO, "", "%s: read failed at byte offset %lld: %s", path,
                          (long long)off, strerror(errno));
    if (zerr == Z_MEM_ERROR)
        return qc_err_set(err, QC_ENOMEM, "", "%s: out of memory decompressing", path);
    if (zerr == Z_DATA_ERROR)
        return qc_err_set(err, QC_ECORRUPT, "",
                          "%s: corrupt gzip stream (zlib: %s) while reading uncompressed byte "
                          "offset %lld",
                          path, qc__zlib_reason(zmsg, path), (long long)off);
    return QC_OK;
}

int qc__check_read_args(int classes, int64_t limit, struct qc_err *err)
{
    if (classes < 1 || classes > QC_DATASET_MAX_CLASSES)
        return qc_err_set(err, QC_EINVAL, "/classes", "classes %d is outside 1..%d", classes,
                          QC_DATASET_MAX_CLASSES);
    if (limit < 0)
        return qc_err_set(err, QC_EINVAL, "/limit", "limit %lld is negative", (long long)limit);
    return QC_OK;
}
