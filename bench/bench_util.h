/* Shared helpers of qlab-bench: interleaved best-of-N timing of a subject
 * against a baseline, one JSON line per figure, and deterministic test data.
 * Every figure is a ratio to a baseline timed in the same run, because the
 * absolute speed of a shared, noisy machine means little on its own. */
#ifndef QLAB_BENCH_UTIL_H
#define QLAB_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One benchmark of the qlab-bench table: `name` selects it on the command
 * line, `group` selects it together with the rest of its component. */
struct bench_entry {
    const char *name;
    const char *group;
    void (*run)(void);
};

/* A timed piece of work and its context (borrowed for the measurement). */
struct bench_case {
    void (*fn)(void *ctx);
    void *ctx;
};

/* How long to measure. Rounds alternate subject and baseline (the order
 * flips every round) until both `min_reps` are done and `budget_s` is spent,
 * or `max_reps` is reached. */
struct bench_plan {
    int min_reps, max_reps;
    double budget_s;
    bool warm_subject;  /* one untimed subject call first (skip for slow ones) */
    int base_per_round; /* baseline calls per round (>= 1): cheap baselines */
    double settle_s;    /* pause after each baseline call: lets spinning
                           OpenBLAS workers go to sleep before the subject */
};

struct bench_timing {
    double subject_s, baseline_s; /* best (smallest) time of one call */
    int reps;                     /* rounds measured */
};

enum bench_target { BENCH_NO_TARGET, BENCH_AT_LEAST, BENCH_AT_MOST };

/* One figure, printed by bench_emit as one JSON line. Strings are borrowed;
 * NULL optional strings are left out. */
struct bench_figure {
    const char *bench;
    double value;
    const char *unit;
    const char *baseline;
    double baseline_value;
    double ratio;
    enum bench_target target_kind;
    double target;
    int threads;
    const char *isa;    /* kernel variant that ran */
    const char *config; /* format/rounding or MAC configuration */
    const char *note;
    const char *extra; /* preformatted extra members: `"k":1,"l":[2]` (trusted) */
};

double bench_now(void);
void bench_sleep(double seconds);

/* Times `subject` and `baseline` interleaved per `plan`. */
void bench_pair(struct bench_timing *out, const struct bench_case *subject,
                const struct bench_case *baseline, const struct bench_plan *plan);

void bench_emit(const struct bench_figure *f);
/* A figure that could not be measured here, with the reason. */
void bench_skip(const char *bench, const char *reason);

/* Prints "qlab-bench: <message>" to stderr and exits with status 1. For
 * failed sanity checks and library errors: a benchmark of wrong results is
 * worthless. */
_Noreturn void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 64-byte aligned, every page touched (so page faults stay out of timings);
 * dies when out of memory. Free with free(). */
void *bench_alloc(size_t bytes);

/* Normally distributed values with standard deviation `scale`, from `seed`
 * alone: every run benchmarks the same data. */
void bench_fill_normal(float *x, int64_t n, uint64_t seed, double scale);

/* ---- baselines in their own process ---------------------------------------
 * A baseline timed inside qlab-bench would share the process with the
 * thread pools the subjects started; it runs as a child instead (qlab-bench
 * itself with --child, or the PyTorch script), the parent idle meanwhile. */

/* The path of this executable, to run it as a child. */
const char *bench_self(void);

/* Runs argv (argv[0] a path; no shell) with its stdout captured into `out`
 * (at most cap - 1 bytes, NUL-terminated); stderr passes through. Returns
 * its exit status, -1 when it could not run; *maxrss_kb (may be NULL) gets
 * its peak resident set in KiB. */
int bench_run_child(char *out, size_t cap, char *const argv[], long *maxrss_kb);

/* This process's peak resident set in bytes (VmHWM of /proc/self/status),
 * -1 when unknown. A child measures itself: the parent's getrusage of a
 * child spawned by vfork reports at least the parent's own peak. */
long long bench_peak_rss(void);
/* This process's resident set now in bytes (VmRSS), -1 when unknown. */
long long bench_rss_now(void);

/* The number after "key": in a JSON line; NAN when absent or null. */
double bench_json_num(const char *json, const char *key);

/* Copies the string after "key": in a JSON line into out (empty when
 * absent). */
void bench_json_str(char *out, size_t cap, const char *json, const char *key);

/* Median of n values (sorts them). */
double bench_median(double *v, int n);

#endif
