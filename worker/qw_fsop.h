/* Local file housekeeping for the worker: creating directories, removing a
 * run's files, reading a checkpoint into memory. The blocking forms are
 * for the training threads and for start-up; the loop thread uses
 * qw_fsop_remove_async, which does the work on libuv's thread pool. */
#ifndef QW_FSOP_H
#define QW_FSOP_H

#include <stddef.h>
#include <uv.h>

#include "qcore/error.h"

/* mkdir -p with mode 0700 (the state directory holds tokens). */
int qw_fs_mkdirs(const char *path, struct qc_err *err);
/* rm -rf of a file or directory; a missing path is success. */
int qw_fs_remove(const char *path, struct qc_err *err);
/* Reads a whole file (malloc'ed, caller frees *data). */
int qw_fs_read(void **data, size_t *len, const char *path, struct qc_err *err);
/* Writes a file through a temporary name, synced, then renamed. */
int qw_fs_write_atomic(const char *path, const void *data, size_t len, struct qc_err *err);

/* qw_fs_remove of each non-NULL path on the thread pool; failures are
 * logged. The paths are copied. */
void qw_fsop_remove_async(uv_loop_t *loop, const char *path1, const char *path2);

#endif
