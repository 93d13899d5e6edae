/* Leveled logging on stderr for the worker: one line per message, written
 * with a single write(2) so that lines from the loop and the training
 * threads never interleave mid-line.
 *
 * Thread safety: every function may be called from any thread; the level
 * is set once at start-up, before any thread exists. */
#ifndef QW_LOG_H
#define QW_LOG_H

#include <stdbool.h>

enum qw_log_level { QW_LOG_ERROR = 0, QW_LOG_WARN, QW_LOG_INFO, QW_LOG_DEBUG };

void qw_log_set_level(enum qw_log_level level);
bool qw_log_enabled(enum qw_log_level level);
/* "error", "warn", "info", "debug": true and *out set on a known name. */
bool qw_log_parse_level(const char *name, enum qw_log_level *out);

void qw_log(enum qw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define qw_log_error(...) qw_log(QW_LOG_ERROR, __VA_ARGS__)
#define qw_log_warn(...)  qw_log(QW_LOG_WARN, __VA_ARGS__)
#define qw_log_info(...)  qw_log(QW_LOG_INFO, __VA_ARGS__)
#define qw_log_debug(...) qw_log(QW_LOG_DEBUG, __VA_ARGS__)

#endif
