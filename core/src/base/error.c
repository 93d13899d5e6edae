/* The error table's accessors and the qc_err buffer helpers. */
#include "qcore/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct err_row {
    int code;
    const char *name;
    int http;
    int exit_code;
    const char *msg;
};

static const struct err_row err_rows[] = {
#define QC__ERR_ROW(name, val, http, ex, msg) {(val), #name, (http), (ex), (msg)},
    QC_ERRORS(QC__ERR_ROW)
#undef QC__ERR_ROW
};

static const struct err_row *find_row(int code)
{
    if (code == QC_EINTERNAL)
        return &err_rows[-QC_EINTERNAL]; /* rows are in value order: 0, -1, ... */
    for (size_t i = 0; i < sizeof err_rows / sizeof err_rows[0]; i++)
        if (err_rows[i].code == code)
            return &err_rows[i];
    return find_row(QC_EINTERNAL); /* unknown codes are internal errors */
}

const char *qc_error_name(int code)
{
    return find_row(code)->name;
}

const char *qc_strerror(int code)
{
    return find_row(code)->msg;
}

int qc_error_http_status(int code)
{
    return find_row(code)->http;
}

int qc_error_exit_code(int code)
{
    return find_row(code)->exit_code;
}

void qc_err_clear(struct qc_err *err)
{
    if (!err)
        return;
    err->code = QC_OK;
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

int qc_err_set(struct qc_err *err, int code, const char *field, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void qc_err_prefix_field(struct qc_err *err, const char *prefix)
{
    char buf[sizeof err->field];

    if (!err || !prefix || !*prefix)
        return;
    snprintf(buf, sizeof buf, "%s%s", prefix, err->field);
    memcpy(err->field, buf, sizeof buf);
}

void qc__assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "qcore: assertion failed: %s (%s:%d)\n", cond, file, line);
    abort();
}
