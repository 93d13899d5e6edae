/* The generator behind stochastic rounding (base/rng_hd.h): Philox4x32-10
 * against Random123's published known-answer vectors, and the two ways the
 * core draws from it (qc_rng_u64, qc_sr_draw) against the block layout
 * docs/formats.md specifies. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "qcore/round.h"

/* Random123 kat_vectors, "philox4x32 10": counter words, key words, out. */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} kat[] = {
    {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

static uint64_t pair(uint32_t lo, uint32_t hi)
{
    return (uint64_t)lo | ((uint64_t)hi << 32);
}

Test(rng, philox4x32_10_matches_random123_known_answers)
{
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t w[4];
        qc_philox4x32(pair(kat[i].key[0], kat[i].key[1]), pair(kat[i].ctr[0], kat[i].ctr[1]),
                      pair(kat[i].ctr[2], kat[i].ctr[3]), w);
        for (int j = 0; j < 4; j++)
            cr_expect_eq(w[j], kat[i].out[j], "vector %zu word %d: %08x, want %08x", i, j, w[j],
                         kat[i].out[j]);
    }
}

Test(rng, rng_u64_is_the_first_two_words_of_block_index_stream)
{
    const uint64_t seed = 0x0123456789abcdefu, stream = 0xfedcba9876543210u;
    for (uint64_t index = 0; index < 64; index += 7) {
        uint32_t w[4];
        qc_philox4x32(seed, index, stream, w);
        cr_expect_eq(qc_rng_u64(seed, stream, index), pair(w[0], w[1]));
    }
}

Test(rng, sr_draw_takes_one_word_of_a_block_per_index)
{
    const uint64_t seed = 42, stream = 7;
    for (uint64_t index = 1000; index < 1040; index++) {
        uint32_t lo[4], hi[4];
        qc_philox4x32(seed, index / 4, stream, lo);
        qc_philox4x32(seed, index / 4 + (UINT64_C(1) << 63), stream, hi);
        const uint32_t w = lo[index % 4];
        cr_expect_eq(qc_sr_draw(seed, stream, index, 32), w);
        cr_expect_eq(qc_sr_draw(seed, stream, index, 1), w & 1u);
        cr_expect_eq(qc_sr_draw(seed, stream, index, 13), w & 0x1fffu);
        cr_expect_eq(qc_sr_draw(seed, stream, index, 64), pair(w, hi[index % 4]));
        cr_expect_eq(qc_sr_draw(seed, stream, index, 40), pair(w, hi[index % 4] & 0xffu));
    }
}

/* A coarse check that the layout did not make neighbours alike: over 2^16
 * indices the 32-bit draws average near 2^31, each bit is set about half
 * the time, and no two neighbours repeat. */
Test(rng, sr_draws_look_uniform_and_neighbours_differ)
{
    enum { N = 1 << 16 };
    double sum = 0;
    int ones[32] = {0}, repeats = 0;
    uint64_t prev = UINT64_MAX;
    for (uint64_t i = 0; i < N; i++) {
        const uint64_t u = qc_sr_draw(9, 3, i, 32);
        sum += (double)u;
        for (int b = 0; b < 32; b++)
            ones[b] += (int)((u >> b) & 1u);
        repeats += u == prev;
        prev = u;
    }
    const double mean = sum / N / 4294967296.0;
    cr_expect(mean > 0.49 && mean < 0.51, "mean %.4f of 1", mean);
    for (int b = 0; b < 32; b++)
        cr_expect(ones[b] > N / 2 - 600 && ones[b] < N / 2 + 600, "bit %d set %d of %d", b, ones[b],
                  N);
    cr_expect_eq(repeats, 0);
}
