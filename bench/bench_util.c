/* Timing, reporting and test-data helpers shared by every qlab-bench
 * component (see bench_util.h), so that all figures are measured and
 * printed the same way. */
#include "bench_util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_sleep(double seconds)
{
    struct timespec ts;

    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double time_once(const struct bench_case *c)
{
    const double t0 = bench_now();
    c->fn(c->ctx);
    return bench_now() - t0;
}

static double time_baseline(const struct bench_case *base, const struct bench_plan *plan)
{
    const int n = plan->base_per_round > 1 ? plan->base_per_round : 1;
    double best = INFINITY;

    for (int i = 0; i < n; i++) {
        const double t = time_once(base);
        if (t < best)
            best = t;
        bench_sleep(plan->settle_s);
    }
    return best;
}

void bench_pair(struct bench_timing *out, const struct bench_case *subject,
                const struct bench_case *baseline, const struct bench_plan *plan)
{
    const double start = bench_now();

    out->subject_s = out->baseline_s = INFINITY;
    out->reps = 0;
    /* Warm-up: caches, lazily started thread pools, first-touch faults. */
    baseline->fn(baseline->ctx);
    bench_sleep(plan->settle_s);
    if (plan->warm_subject)
        subject->fn(subject->ctx);
    while (out->reps < plan->max_reps &&
           (out->reps < plan->min_reps || bench_now() - start < plan->budget_s)) {
        double ts, tb;
        /* Flipping the order keeps a drift in machine load (another job
         * starting) from always favouring the same side. */
        if (out->reps % 2 == 0) {
            ts = time_once(subject);
            tb = time_baseline(baseline, plan);
        } else {
            tb = time_baseline(baseline, plan);
            ts = time_once(subject);
        }
        if (ts < out->subject_s)
            out->subject_s = ts;
        if (tb < out->baseline_s)
            out->baseline_s = tb;
        out->reps++;
    }
}

/* Integral values (byte counts) print exactly; others with 4 digits. */
static void put_num(double v)
{
    if (!isfinite(v))
        fputs("null", stdout);
    else if (v == floor(v) && fabs(v) < 0x1p53)
        printf("%.0f", v);
    else
        printf("%.4g", v);
}

static void put_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void put_member(const char *key, const char *s)
{
    if (!s)
        return;
    printf(",\"%s\":", key);
    put_str(s);
}

void bench_emit(const struct bench_figure *f)
{
    fputs("{\"bench\":", stdout);
    put_str(f->bench);
    fputs(",\"value\":", stdout);
    put_num(f->value);
    put_member("unit", f->unit);
    put_member("baseline", f->baseline);
    fputs(",\"baseline_value\":", stdout);
    put_num(f->baseline_value);
    fputs(",\"ratio\":", stdout);
    put_num(f->ratio);
    if (f->target_kind != BENCH_NO_TARGET) {
        const bool at_least = f->target_kind == BENCH_AT_LEAST;
        const bool met = at_least ? f->ratio >= f->target : f->ratio <= f->target;
        printf(",\"target\":\"%s%g\",\"met\":%s", at_least ? ">=" : "<=", f->target,
               met ? "true" : "false");
    }
    printf(",\"threads\":%d", f->threads);
    put_member("isa", f->isa);
    put_member("config", f->config);
    put_member("note", f->note);
    if (f->extra && f->extra[0])
        printf(",%s", f->extra);
    /* Other jobs on the machine skew the figures; the load says how much. */
    double load;
    if (getloadavg(&load, 1) == 1)
        printf(",\"load1\":%.2f", load);
    fputs("}\n", stdout);
    /* Line by line, so a later crash or a pipe reader loses nothing. */
    fflush(stdout);
}

void bench_skip(const char *bench, const char *reason)
{
    fputs("{\"bench\":", stdout);
    put_str(bench);
    fputs(",\"skipped\":true,\"reason\":", stdout);
    put_str(reason);
    fputs("}\n", stdout);
    fflush(stdout);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("qlab-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void *bench_alloc(size_t bytes)
{
    void *p = NULL;

    if (posix_memalign(&p, 64, bytes ? bytes : 1) != 0)
        bench_die("out of memory for a %zu-byte benchmark buffer", bytes);
    memset(p, 0, bytes);
    return p;
}

/* splitmix64: a full-period 64-bit generator, enough for test data. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* In (0, 1]: never 0, so log() below stays finite. */
static double next_unit(uint64_t *s)
{
    return (double)((next_u64(s) >> 11) + 1) * 0x1p-53;
}

void bench_fill_normal(float *x, int64_t n, uint64_t seed, double scale)
{
    uint64_t s = seed;
    const double two_pi = 6.283185307179586;

    /* Box-Muller, both outputs used. */
    for (int64_t i = 0; i < n; i += 2) {
        const double r = sqrt(-2.0 * log(next_unit(&s))) * scale;
        const double t = two_pi * next_unit(&s);
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}

const char *bench_self(void)
{
    static char path[PATH_MAX];

    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            bench_die("cannot find this executable: %s", strerror(errno));
        path[n] = '\0';
    }
    return path;
}

int bench_run_child(char *out, size_t cap, char *const argv[], long *maxrss_kb)
{
    posix_spawn_file_actions_t fa;
    int fds[2], status = -1;
    pid_t pid;
    size_t len = 0;

    if (cap)
        out[0] = '\0';
    if (maxrss_kb)
        *maxrss_kb = 0;
    fflush(stdout);
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return -1;
    }
    for (;;) {
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && len + 1 < cap; i++)
            out[len++] = buf[i];
    }
    if (cap)
        out[len < cap ? len : cap - 1] = '\0';
    close(fds[0]);
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    if (maxrss_kb)
        *maxrss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The "<field>: N kB" line of /proc/self/status, in bytes; -1 if absent. */
static long long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    const size_t len = strlen(field);
    long long kb = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':' &&
            sscanf(line + len + 1, " %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

long long bench_peak_rss(void)
{
    return status_kb("VmHWM");
}

long long bench_rss_now(void)
{
    return status_kb("VmRSS");
}

static const char *json_after(const char *json, const char *key)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

double bench_json_num(const char *json, const char *key)
{
    const char *p = json_after(json, key);
    char *end;

    if (!p)
        return NAN;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

void bench_json_str(char *out, size_t cap, const char *json, const char *key)
{
    const char *p = json_after(json, key);
    size_t n = 0;

    if (cap)
        out[0] = '\0';
    if (!p || *p != '"')
        return;
    for (p++; *p && *p != '"' && n + 1 < cap; p++)
        out[n++] = *p == '\\' && p[1] ? *++p : *p;
    out[n] = '\0';
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
