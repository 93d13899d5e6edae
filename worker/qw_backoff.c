/* Exponential back-off with "equal jitter" (see qw_backoff.h). */
#include "qw_backoff.h"

void qw_backoff_init(struct qw_backoff *b, double base_s, double max_s, uint64_t seed)
{
    b->base_s = base_s;
    b->max_s = max_s < base_s ? base_s : max_s;
    b->cur_s = 0;
    b->rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

static double uniform(struct qw_backoff *b)
{
    /* splitmix64: plenty for jitter, and no shared state between threads. */
    uint64_t z = (b->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

uint64_t qw_backoff_next_ms(struct qw_backoff *b)
{
    b->cur_s = b->cur_s <= 0 ? b->base_s : b->cur_s * 2;
    if (b->cur_s > b->max_s)
        b->cur_s = b->max_s;
    const double d = b->cur_s * (0.5 + 0.5 * uniform(b));
    return (uint64_t)(d * 1000.0);
}

void qw_backoff_reset(struct qw_backoff *b)
{
    b->cur_s = 0;
}
