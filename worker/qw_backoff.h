/* Exponential back-off with jitter for retries against the server: each
 * failure doubles the delay up to a cap, and the delay actually used is
 * drawn from [d/2, d] so that many workers that lost the same server do not
 * come back in lock-step. Plain data, owned by the caller. */
#ifndef QW_BACKOFF_H
#define QW_BACKOFF_H

#include <stdint.h>

struct qw_backoff {
    double base_s, max_s, cur_s;
    uint64_t rng;
};

void qw_backoff_init(struct qw_backoff *b, double base_s, double max_s, uint64_t seed);
/* The delay before the next attempt, in milliseconds; grows the next one. */
uint64_t qw_backoff_next_ms(struct qw_backoff *b);
/* After a success: the next failure starts from the base delay again. */
void qw_backoff_reset(struct qw_backoff *b);

#endif
