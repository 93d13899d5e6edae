/* Unit tests of the retry back-off (worker/qw_backoff.c): the first delay,
 * doubling up to the cap, the jitter range [d/2, d] and its spread, reset
 * after a success, and seeds that keep workers out of lock-step. Delays
 * are checked against the exact ranges: the bounds chosen here are powers
 * of two, so every d/2 and d is exact in milliseconds. */
#include <criterion/criterion.h>

#include "worker/qw_backoff.h"

/* The nominal delay before the k-th consecutive failure (0-based). */
static double nominal_s(double base_s, double max_s, int k)
{
    double d = base_s;
    for (int i = 0; i < k; i++)
        d *= 2;
    return d < max_s ? d : max_s;
}

static void expect_in_range(uint64_t ms, double d_s, const char *what, int k)
{
    /* d * (1/2 + u/2) with u in [0, 1), truncated to whole milliseconds;
     * u's largest value rounds the factor to 1, so d itself can occur. */
    const uint64_t lo = (uint64_t)(d_s * 500), hi = (uint64_t)(d_s * 1000);
    cr_expect(ms >= lo && ms <= hi, "%s %d: %llu ms outside [%llu, %llu]", what, k,
              (unsigned long long)ms, (unsigned long long)lo, (unsigned long long)hi);
}

Test(backoff, delays_double_from_the_base_to_the_cap)
{
    struct qw_backoff b;

    qw_backoff_init(&b, 0.25, 4.0, 1);
    for (int k = 0; k < 12; k++) {
        const uint64_t ms = qw_backoff_next_ms(&b);
        cr_expect_eq(b.cur_s, nominal_s(0.25, 4.0, k), "failure %d: nominal %g s", k, b.cur_s);
        expect_in_range(ms, nominal_s(0.25, 4.0, k), "failure", k);
    }
}

Test(backoff, the_cap_holds_for_every_seed)
{
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct qw_backoff b;
        qw_backoff_init(&b, 0.5, 8.0, seed);
        for (int k = 0; k < 20; k++)
            expect_in_range(qw_backoff_next_ms(&b), nominal_s(0.5, 8.0, k), "seed/failure",
                            (int)seed * 100 + k);
    }
}

Test(backoff, a_cap_below_the_base_is_raised_to_the_base)
{
    struct qw_backoff b;

    qw_backoff_init(&b, 1.0, 0.5, 3);
    cr_expect_eq(b.max_s, 1.0);
    for (int k = 0; k < 5; k++)
        expect_in_range(qw_backoff_next_ms(&b), 1.0, "failure", k);
}

Test(backoff, the_jitter_spreads_over_the_whole_range)
{
    /* 4 s nominal: draws in [2000, 4000] ms. With 2000 draws, each quarter
     * of the range must be hit; a delay stuck at d or d/2, or a jitter of
     * the wrong width, fails. */
    int quarter[4] = {0};

    for (uint64_t seed = 0; seed < 2000; seed++) {
        struct qw_backoff b;
        qw_backoff_init(&b, 4.0, 4.0, seed);
        const uint64_t ms = qw_backoff_next_ms(&b);
        expect_in_range(ms, 4.0, "seed", (int)seed);
        int q = (int)((ms - 2000) / 500);
        quarter[q > 3 ? 3 : q]++;
    }
    for (int q = 0; q < 4; q++)
        cr_expect_gt(quarter[q], 300, "quarter %d of [2 s, 4 s] drawn %d times of 2000", q,
                     quarter[q]);
}

Test(backoff, reset_starts_again_from_the_base)
{
    struct qw_backoff b;

    qw_backoff_init(&b, 0.25, 64.0, 9);
    for (int k = 0; k < 6; k++)
        qw_backoff_next_ms(&b);
    cr_expect_eq(b.cur_s, 8.0);
    qw_backoff_reset(&b);
    expect_in_range(qw_backoff_next_ms(&b), 0.25, "after reset", 0);
    expect_in_range(qw_backoff_next_ms(&b), 0.5, "after reset", 1);
}

Test(backoff, the_same_seed_repeats_and_other_seeds_do_not)
{
    struct qw_backoff a, b, c;
    int differ = 0;

    qw_backoff_init(&a, 0.25, 4.0, 42);
    qw_backoff_init(&b, 0.25, 4.0, 42);
    qw_backoff_init(&c, 0.25, 4.0, 43);
    for (int k = 0; k < 20; k++) {
        const uint64_t x = qw_backoff_next_ms(&a), y = qw_backoff_next_ms(&b);
        cr_expect_eq(x, y, "failure %d", k);
        differ += x != qw_backoff_next_ms(&c);
    }
    /* Two workers that lost the same server come back at different times. */
    cr_expect_gt(differ, 15, "seeds 42 and 43 gave the same delay %d times of 20", 20 - differ);
}
