/* Helpers shared by the qlab commands: one-line error reports whose exit
 * status comes from the core's error table, a growable output buffer (a
 * command writes stdout only once it has succeeded), JSON text, bounded
 * number parsing and bounded reads of whole files. */
#ifndef CLI_UTIL_H
#define CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"

#ifndef QLAB_VERSION
#define QLAB_VERSION "0.1.0"
#endif

/* Prints "qlab: CMD: message" as one line on stderr (newlines in the message
 * become spaces) and returns the exit status of `code`: 2 for QC_EINVAL
 * (usage errors), 1 for the rest (qc_error_exit_code). */
int cli_fail(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for an error the core filled in. `what` ("--mac", a file name)
 * prefixes the message when non-NULL; err->field is shown when the message
 * does not already name it. */
int cli_fail_err(const char *cmd, const char *what, const struct qc_err *err);
/* Reports the option getopt_long just rejected (it returned '?' or ':'). */
int cli_fail_opt(const char *cmd, int c, char **argv);

/* True when -h or --help appears before a "--". */
bool cli_wants_help(int argc, char **argv);
/* Writes a command's usage text to stdout; returns 0 (or 1 if stdout fails). */
int cli_print_help(const char *text);

/* A growable byte buffer. Allocation failure is sticky: every later append is
 * dropped and `oom` stays set, so a caller checks once, at the end. */
struct cli_buf {
    char *data;
    size_t len, cap;
    bool oom;
};

void cli_buf_init(struct cli_buf *b);
void cli_buf_free(struct cli_buf *b);
void cli_buf_append(struct cli_buf *b, const void *p, size_t n);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with escapes; NULL gives `null`. */
void cli_buf_json_str(struct cli_buf *b, const char *s);
/* The shortest decimal that reads back as exactly `v` (strtod), so traits
 * round-trip; non-finite values give `null` in JSON terms. */
void cli_buf_double(struct cli_buf *b, double v);
/* The shortest round-trip decimal of `v` into `out` (at least 32 bytes). */
void cli_fmt_double(char *out, size_t len, double v);
/* `v` for people: integers whole (65536), others the shortest decimal of
 * at most `digits` significant digits that reads back as `v`, else `v`
 * rounded to `digits` (0.05, not 0.050000000000000003; 0.8123 for
 * 0.81234567 with 4). At least 32 bytes. */
void cli_fmt_human(char *out, size_t len, double v, int digits);

/* Seconds since the epoch, wall clock. */
double cli_wall_time(void);

/* Writes all n bytes to fd, retrying short writes. QC_EIO on failure. */
int cli_write_all(int fd, const void *p, size_t n, const char *name, struct qc_err *err);

/* Decimal integer in [lo, hi], nothing else in the string. */
bool cli_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* Decimal, or hexadecimal with 0x, in the full uint64_t range. */
bool cli_parse_u64(const char *s, uint64_t *out);

/* Reads fd to its end into a new malloc'd buffer (*out, caller frees; never
 * NULL on success). More than `limit` bytes is QC_ERANGE; `name` names the
 * source in messages. */
int cli_read_fd(unsigned char **out, size_t *len, int fd, const char *name, size_t limit,
                struct qc_err *err);
/* Reads exactly `expected` bytes from `path` into a new malloc'd buffer.
 * A file that cannot be opened is QC_EIO (QC_ENOTFOUND when it does not
 * exist); a size other than `expected` is QC_ECORRUPT, naming the file, its
 * size and `expected` (explained by `why`, e.g. "4 x 8 f32 values"). */
int cli_read_file_exact(unsigned char **out, const char *path, size_t expected, const char *why,
                        struct qc_err *err);

#endif
