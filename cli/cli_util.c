/* Shared plumbing of the qlab commands (see cli_util.h): error lines and exit
 * statuses, the output buffer, JSON text, number parsing and bounded reads.
 * Kept apart from the commands, which all share it (the REST client too). */
#include "cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

/* Prints the line, replacing control characters so it stays one line. */
static void print_line(const char *cmd, const char *msg)
{
    char line[1024];

    if (cmd && *cmd)
        snprintf(line, sizeof line, "qlab: %s: %s", cmd, msg);
    else
        snprintf(line, sizeof line, "qlab: %s", msg);
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

int cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_line(cmd, msg);
    return qc_error_exit_code(code);
}

int cli_fail_err(const char *cmd, const char *what, const struct qc_err *err)
{
    const char *msg = err->msg[0] ? err->msg : qc_strerror(err->code);
    const bool show_field = err->field[0] && !strstr(msg, err->field);
    int code = err->code ? err->code : QC_EINTERNAL;

    return cli_fail(cmd, code, "%s%s%s%s%s", what ? what : "", what ? ": " : "",
                    show_field ? err->field : "", show_field ? ": " : "", msg);
}

int cli_fail_opt(const char *cmd, int c, char **argv)
{
    /* getopt_long leaves optind just past the offending word. */
    const char *word = optind > 0 ? argv[optind - 1] : "";

    if (c == ':')
        return cli_fail(cmd, QC_EINVAL, "option '%s' needs a value", word);
    /* An unknown long option leaves optopt 0; a known one given a value it
     * does not take leaves its own code there. Inside a bundle of short
     * options ("-jx") optind has not moved yet, so optopt names the culprit. */
    if (optopt == 0)
        return cli_fail(cmd, QC_EINVAL, "unknown option '%s'", word);
    if (strncmp(word, "--", 2) == 0 && strchr(word, '='))
        return cli_fail(cmd, QC_EINVAL, "option '%.*s' takes no value",
                        (int)(strchr(word, '=') - word), word);
    if (optopt > 0x20 && optopt < 0x7f)
        return cli_fail(cmd, QC_EINVAL, "unknown option '-%c'", optopt);
    return cli_fail(cmd, QC_EINVAL, "unknown option '%s'", word);
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

int cli_print_help(const char *text)
{
    struct qc_err err;

    qc_err_clear(&err);
    if (cli_write_all(STDOUT_FILENO, text, strlen(text), "stdout", &err))
        return cli_fail_err("help", NULL, &err);
    return 0;
}

void cli_buf_init(struct cli_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void cli_buf_free(struct cli_buf *b)
{
    free(b->data);
    cli_buf_init(b);
}

/* Makes room for n more bytes plus a terminating NUL. */
static bool reserve(struct cli_buf *b, size_t n)
{
    if (b->oom)
        return false;
    if (n < b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void cli_buf_append(struct cli_buf *b, const void *p, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;

    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void cli_buf_json_str(struct cli_buf *b, const char *s)
{
    if (!s) {
        cli_buf_append(b, "null", 4);
        return;
    }
    cli_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            cli_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            cli_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            cli_buf_append(b, "\\n", 2);
            break;
        case '\t':
            cli_buf_append(b, "\\t", 2);
            break;
        case '\r':
            cli_buf_append(b, "\\r", 2);
            break;
        default:
            /* Control characters have no literal form in JSON; UTF-8
             * bytes pass through unchanged. */
            if (*p < 0x20 || *p == 0x7f)
                cli_buf_printf(b, "\\u%04x", *p);
            else
                cli_buf_append(b, p, 1);
        }
    }
    cli_buf_append(b, "\"", 1);
}

void cli_fmt_double(char *out, size_t len, double v)
{
    /* 17 significant digits always round-trip; fewer often do and read
     * better ("448" rather than "448.00000000000000"). */
    /* Integers below 2^53 print whole ("240", not "2.4e+02"). */
    if (v > -0x1p53 && v < 0x1p53 && v == (double)(long long)v && (v != 0.0 || !signbit(v))) {
        snprintf(out, len, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, len, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

void cli_fmt_human(char *out, size_t len, double v, int digits)
{
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v && (v != 0.0 || !signbit(v))) {
        snprintf(out, len, "%lld", (long long)v);
        return;
    }
    for (int prec = 1; prec <= digits; prec++) {
        snprintf(out, len, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
    snprintf(out, len, "%.*g", digits, v);
}

void cli_buf_double(struct cli_buf *b, double v)
{
    char tmp[40];

    if (v != v || v - v != 0.0) { /* NaN or inf: JSON has no literal */
        cli_buf_append(b, "null", 4);
        return;
    }
    cli_fmt_double(tmp, sizeof tmp, v);
    cli_buf_append(b, tmp, strlen(tmp));
}

int cli_write_all(int fd, const void *p, size_t n, const char *name, struct qc_err *err)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return qc_err_set(err, QC_EIO, "", "cannot write %s: %s", name,
                              w < 0 ? strerror(errno) : "nothing written");
        c += w;
        n -= (size_t)w;
    }
    return QC_OK;
}

bool cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;

    if (!s || !*s || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = (int64_t)v;
    return true;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    int base = 10;

    if (!s || !*s)
        return false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoull accepts a sign and spaces; a seed has neither. */
    if (!((s[0] >= '0' && s[0] <= '9') ||
          (base == 16 && ((s[0] >= 'a' && s[0] <= 'f') || (s[0] >= 'A' && s[0] <= 'F')))))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

int cli_read_fd(unsigned char **out, size_t *len, int fd, const char *name, size_t limit,
                struct qc_err *err)
{
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    struct stat sb;

    /* A regular file says its size: one allocation, no doubling. */
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        off_t pos = lseek(fd, 0, SEEK_CUR);
        if (pos >= 0 && pos < sb.st_size)
            cap = (size_t)(sb.st_size - pos) <= limit ? (size_t)(sb.st_size - pos) + 1 : limit + 1;
    }
    if (cap == 0)
        cap = 1 << 16;
    buf = malloc(cap);
    if (!buf)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory reading %s", name);
    for (;;) {
        if (n == cap) {
            if (cap > limit) {
                free(buf);
                return qc_err_set(err, QC_ERANGE, "", "%s holds more than the limit of %zu bytes",
                                  name, limit);
            }
            size_t ncap = cap > limit / 2 ? limit + 1 : cap * 2;
            unsigned char *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                return qc_err_set(err, QC_ENOMEM, "", "out of memory reading %s (%zu bytes so far)",
                                  name, n);
            }
            buf = p;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            return qc_err_set(err, QC_EIO, "", "cannot read %s: %s", name, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > limit) {
            free(buf);
            return qc_err_set(err, QC_ERANGE, "", "%s holds more than the limit of %zu bytes", name,
                              limit);
        }
    }
    *out = buf;
    *len = n;
    return QC_OK;
}

int cli_read_file_exact(unsigned char **out, const char *path, size_t expected, const char *why,
                        struct qc_err *err)
{
    unsigned char *buf = NULL;
    struct stat sb;
    size_t n = 0;
    int rc = QC_OK;
    int fd = open(path, O_RDONLY);

    if (fd < 0)
        return qc_err_set(err, errno == ENOENT ? QC_ENOTFOUND : QC_EIO, "", "cannot open '%s': %s",
                          path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        rc = qc_err_set(err, QC_EIO, "", "cannot stat '%s': %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        rc = qc_err_set(err, QC_EIO, "", "'%s' is a directory", path);
        goto out;
    }
    if (S_ISREG(sb.st_mode) && (uintmax_t)sb.st_size != (uintmax_t)expected) {
        rc = qc_err_set(err, QC_ECORRUPT, "", "'%s' has %jd bytes; expected %zu (%s)", path,
                        (intmax_t)sb.st_size, expected, why);
        goto out;
    }
    /* One spare byte tells a pipe that is too long from one that fits. */
    buf = malloc(expected + 1);
    if (!buf) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory for '%s' (%zu bytes)", path, expected);
        goto out;
    }
    while (n < expected + 1) {
        ssize_t r = read(fd, buf + n, expected + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = qc_err_set(err, QC_EIO, "", "cannot read '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n != expected) {
        if (n > expected)
            rc = qc_err_set(err, QC_ECORRUPT, "", "'%s' has more than %zu bytes; expected %zu (%s)",
                            path, expected, expected, why);
        else
            rc = qc_err_set(err, QC_ECORRUPT, "", "'%s' has %zu bytes; expected %zu (%s)", path, n,
                            expected, why);
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

double cli_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
