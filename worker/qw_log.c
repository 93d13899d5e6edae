/* Leveled stderr logging with UTC timestamps (see qw_log.h). */
#include "qw_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum qw_log_level current = QW_LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

void qw_log_set_level(enum qw_log_level level)
{
    current = level;
}

bool qw_log_enabled(enum qw_log_level level)
{
    return level <= current;
}

bool qw_log_parse_level(const char *name, enum qw_log_level *out)
{
    for (int i = 0; i <= QW_LOG_DEBUG; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum qw_log_level)i;
            return true;
        }
    return false;
}

void qw_log(enum qw_log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (!qw_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: still one whole line */
    line[len++] = '\n';
    /* One write per line: stderr is unbuffered, and a single write of a
     * short buffer is not split by other threads' writes. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
