/* Internal to the sweep code (sweep.c, sweep_read.c, sweep_axes.c). */
#ifndef QCORE_SWEEP_IMPL_H
#define QCORE_SWEEP_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "qcore/sweep.h"

/* JSON pointer segment escaping (RFC 6901): '~' -> "~0", '/' -> "~1". */
void qc__sweep_escape(char *out, size_t len, const char *s);

/* qc_err_set(QC_EINVAL) with the message `msg` and the field
 * "<where>/<segment>" (the segment escaped). Returns QC_EINVAL. */
int qc__sweep_fail_at(struct qc_err *err, const char *where, const char *segment, const char *msg);

/* QC_EINVAL at "<where>/<key>" for the first key of object `o` not in the
 * NULL-terminated `keys`. */
int qc__sweep_check_keys(const json_t *o, const char *where, const char *const *keys,
                         struct qc_err *err);

/* A typed axis at `where` (docs/spec.md): a format family ("family") or an
 * integer sequence ("from"/"to"/"step"), expanded into *out (a new array,
 * ordered by bit width for families). Returns 1 when `o` is a typed axis and
 * *out was set, 0 when it is none (no "family", "from", "to" or "step"), or a
 * negative QC_E* code with `err` pointing into the parameter. */
int qc__sweep_axis(json_t **out, const json_t *o, const char *where, struct qc_err *err);

#endif
