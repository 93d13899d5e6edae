/* Error codes and the error-detail buffer shared by every qlab component.
 * One X-macro table gives each code its name, HTTP status, CLI exit code and
 * message, so the server's error bodies and the CLI's exits never disagree. */
#ifndef QCORE_ERROR_H
#define QCORE_ERROR_H

#include <stdarg.h>

/*        name      value  http  exit  message */
#define QC_ERRORS(X)                                                                               \
    X(OK, 0, 200, 0, "success")                                                                    \
    X(EINVAL, -1, 400, 2, "invalid argument")                                                      \
    X(ENOMEM, -2, 500, 1, "out of memory")                                                         \
    X(ERANGE, -3, 400, 1, "value out of range")                                                    \
    X(EUNSUPP, -4, 501, 1, "operation not supported by this backend")                              \
    X(EIO, -5, 500, 1, "input/output error")                                                       \
    X(ECORRUPT, -6, 400, 1, "corrupt or foreign data")                                             \
    X(ENOTFOUND, -7, 404, 1, "not found")                                                          \
    X(ECONFLICT, -8, 409, 1, "conflict")                                                           \
    X(EINTERNAL, -9, 500, 1, "internal error")                                                     \
    X(EUNAUTH, -10, 401, 1, "authentication required")                                             \
    X(EFORBID, -11, 403, 1, "forbidden")                                                           \
    X(ETOOBIG, -12, 413, 1, "too large")                                                           \
    X(ESTALE, -13, 409, 1, "stale lease")                                                          \
    X(EUNAVAIL, -14, 503, 1, "unavailable")

enum qc_error {
#define QC__ERR_ENUM(name, val, http, ex, msg) QC_##name = (val),
    QC_ERRORS(QC__ERR_ENUM)
#undef QC__ERR_ENUM
};

/* Detail travelling beside a code. `field` is a JSON pointer or a flag name
 * ("" when the error is not about one field); `msg` is a full sentence that
 * names the offending value. Caller-owned; qc_err_set may be passed NULL. */
struct qc_err {
    int code;
    char field[256];
    char msg[384];
};

void qc_err_clear(struct qc_err *err);
/* Sets code, field and a printf-formatted message; returns `code` so that a
 * caller can write `return qc_err_set(err, QC_EINVAL, "/x", "...")`. */
int qc_err_set(struct qc_err *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes the field path: turns "/acc" into "/arith/forward/mac/acc". */
void qc_err_prefix_field(struct qc_err *err, const char *prefix);

const char *qc_error_name(int code); /* "EINVAL" */
const char *qc_strerror(int code);   /* "invalid argument" */
int qc_error_http_status(int code);  /* 400 */
int qc_error_exit_code(int code);    /* 2 for usage errors, 1 otherwise */

/* Programmer errors (impossible values inside the library: never user or
 * network data) stop the process with the failed condition and its place.
 * Stays on in release builds: a wrong number is worse than a crash. */
#define QC_ASSERT(cond) ((cond) ? (void)0 : qc__assert_fail(#cond, __FILE__, __LINE__))
#ifdef __cplusplus /* the CUDA backend's .cu files include this header too */
[[noreturn]] void qc__assert_fail(const char *cond, const char *file, int line);
#else
_Noreturn void qc__assert_fail(const char *cond, const char *file, int line);
#endif

#endif
