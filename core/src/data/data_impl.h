/* Internal helpers shared by the dataset readers: decoding zlib's read
 * failures into qlab errors that name the file and the offset. */
#ifndef QCORE_DATA_IMPL_H
#define QCORE_DATA_IMPL_H

#include <stdint.h>
#include <zlib.h>

#include "qcore/data.h"
#include "qcore/error.h"

/* gzerror's message without the "path: " prefix zlib puts on it. */
const char *qc__zlib_reason(const char *zmsg, const char *path);

/* The failure behind a short gzread at uncompressed offset `off`, when it is
 * a read error (QC_EIO), memory (QC_ENOMEM) or corrupt data (QC_ECORRUPT);
 * QC_OK when the data simply ended or a gzip stream was cut short, which
 * each reader words for its own format. */
int qc__gz_failure(gzFile f, const char *path, int64_t off, struct qc_err *err);

/* The raw readers' common arguments: 1 <= classes <= QC_DATASET_MAX_CLASSES,
 * limit >= 0 (QC_EINVAL naming the argument otherwise). */
int qc__check_read_args(int classes, int64_t limit, struct qc_err *err);

#endif
