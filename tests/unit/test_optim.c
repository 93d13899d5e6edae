/* Unit tests of the optimizers, learning-rate schedules and loss scaler
 * (core/src/train/optim.c) against steps worked out by hand. The numbers
 * are chosen so that every float operation of a step is exact (small
 * dyadic values), which makes the expected parameters exact too: each
 * comment carries the arithmetic. Where a rounding is the point (the
 * quantized master, update and momentum), the comment names the two
 * neighbours and the tie rule. */
#include <criterion/criterion.h>
#include <math.h>

#include "qcore/optim.h"
#include "test_helpers.h"

static struct qc_optim_cfg sgd(double lr, double momentum, bool nesterov, double wd)
{
    return (struct qc_optim_cfg){.kind = QC_OPTIM_SGD,
                                 .lr = lr,
                                 .momentum = momentum,
                                 .nesterov = nesterov,
                                 .weight_decay = wd};
}

static struct qc_optim_cfg adam(double lr, double beta1, double beta2, double eps, double wd)
{
    return (struct qc_optim_cfg){.kind = QC_OPTIM_ADAM,
                                 .lr = lr,
                                 .beta1 = beta1,
                                 .beta2 = beta2,
                                 .eps = eps,
                                 .weight_decay = wd};
}

static void init(struct qc_optim *o, const struct qc_optim_cfg *c, int64_t n)
{
    struct qc_err err;
    cr_assert_eq(qc_optim_init(o, c, n, NULL, &err), QC_OK, "%s", err.msg);
}

/* One step on the host, which cannot fail. */
static void step(struct qc_optim *o, float *p, const float *g, float mul, double lr)
{
    struct qc_err err;
    cr_assert_eq(qc_optim_step(o, p, g, mul, lr, &err), QC_OK, "%s", err.msg);
}

/* Bit-exact comparison of n parameters after step `step`. */
static void expect_params(const float *got, const float *want, int n, int step)
{
    for (int i = 0; i < n; i++)
        cr_expect(th_same_f(got[i], want[i]), "step %d, parameter %d: %.9g, expected %.9g", step, i,
                  (double)got[i], (double)want[i]);
}

/* ---- SGD ------------------------------------------------------------------ */

Test(optim, sgd_moves_against_the_gradient_by_lr)
{
    /* p -= lr * g with lr = 0.5:
     *   step 1: {1, -2, 0.5} - 0.5 * {0.5, 1, -4} = {0.75, -2.5, 2.5}
     *   step 2: {0.75, -2.5, 2.5} - {0.25, 0.5, -2} = {0.5, -3, 4.5} */
    const struct qc_optim_cfg c = sgd(0.5, 0, false, 0);
    const float g[3] = {0.5f, 1, -4};
    float p[3] = {1, -2, 0.5f};
    struct qc_optim o;

    init(&o, &c, 3);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){0.75f, -2.5f, 2.5f}, 3, 1);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){0.5f, -3, 4.5f}, 3, 2);
    cr_expect_eq(o.t, 2);
    qc_optim_free(&o);
}

Test(optim, the_gradient_multiplier_scales_before_the_step)
{
    /* A loss scale of 4 undone: g = {2, 4, -16} * 0.25 = {0.5, 1, -4}, so
     * step 1 is the one above: {0.75, -2.5, 2.5}. */
    const struct qc_optim_cfg c = sgd(0.5, 0, false, 0);
    const float g[3] = {2, 4, -16};
    float p[3] = {1, -2, 0.5f};
    struct qc_optim o;

    init(&o, &c, 3);
    step(&o, p, g, 0.25f, c.lr);
    expect_params(p, (const float[]){0.75f, -2.5f, 2.5f}, 3, 1);
    qc_optim_free(&o);
}

Test(optim, the_learning_rate_of_the_call_is_the_one_used)
{
    /* The schedule's rate is passed per step: lr 0.25 instead of the
     * configured 0.5 moves {1} by 0.25 * 2 = 0.5 to {0.5}. */
    const struct qc_optim_cfg c = sgd(0.5, 0, false, 0);
    float p[1] = {1};
    struct qc_optim o;

    init(&o, &c, 1);
    step(&o, p, (const float[]){2}, 1, 0.25);
    expect_params(p, (const float[]){0.5f}, 1, 1);
    qc_optim_free(&o);
}

Test(optim, sgd_momentum_accumulates_the_gradients)
{
    /* m = mu * m + g; p -= lr * m, with mu = 0.5, lr = 0.5, g = {1, -2}:
     *   step 1: m = {1, -2};                          p = {1, 1} - {0.5, -1} = {0.5, 2}
     *   step 2: m = 0.5 * {1, -2} + g = {1.5, -3};    p -= {0.75, -1.5}  -> {-0.25, 3.5}
     *   step 3: m = {0.75, -1.5} + g = {1.75, -3.5};  p -= {0.875, -1.75} -> {-1.125, 5.25} */
    const struct qc_optim_cfg c = sgd(0.5, 0.5, false, 0);
    const float g[2] = {1, -2};
    const float want[3][2] = {{0.5f, 2}, {-0.25f, 3.5f}, {-1.125f, 5.25f}};
    const float want_m[3][2] = {{1, -2}, {1.5f, -3}, {1.75f, -3.5f}};
    float p[2] = {1, 1};
    struct qc_optim o;

    init(&o, &c, 2);
    for (int s = 0; s < 3; s++) {
        step(&o, p, g, 1, c.lr);
        expect_params(p, want[s], 2, s + 1);
        expect_params(o.m, want_m[s], 2, s + 1);
    }
    qc_optim_free(&o);
}

Test(optim, nesterov_looks_one_momentum_step_ahead)
{
    /* m = mu * m + g; p -= lr * (g + mu * m), with mu = 0.5, lr = 0.5,
     * g = {1, -2}:
     *   step 1: m = {1, -2};   g + 0.5 m = {1.5, -3};    p = {1, 1} - {0.75, -1.5} = {0.25, 2.5}
     *   step 2: m = {1.5, -3}; g + 0.5 m = {1.75, -3.5}; p -= {0.875, -1.75} -> {-0.625, 4.25}
     * (plain momentum would give {0.5, 2} and {-0.25, 3.5}) */
    const struct qc_optim_cfg c = sgd(0.5, 0.5, true, 0);
    const float g[2] = {1, -2};
    float p[2] = {1, 1};
    struct qc_optim o;

    init(&o, &c, 2);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){0.25f, 2.5f}, 2, 1);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){-0.625f, 4.25f}, 2, 2);
    expect_params(o.m, (const float[]){1.5f, -3}, 2, 2);
    qc_optim_free(&o);
}

Test(optim, weight_decay_adds_to_the_gradient)
{
    /* Coupled L2: g' = g + wd * p, with wd = 0.25, lr = 0.5, g = {1, 1}:
     *   step 1: g' = {1 + 0.5, 1 - 1} = {1.5, 0};   p = {2, -4} - {0.75, 0} = {1.25, -4}
     *   step 2: g' = {1 + 0.3125, 0} = {1.3125, 0}; p = {1.25 - 0.65625, -4}
     *                                                   = {0.59375, -4} */
    const struct qc_optim_cfg c = sgd(0.5, 0, false, 0.25);
    const float g[2] = {1, 1};
    float p[2] = {2, -4};
    struct qc_optim o;

    init(&o, &c, 2);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){1.25f, -4}, 2, 1);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){0.59375f, -4}, 2, 2);
    qc_optim_free(&o);
}

Test(optim, weight_decay_enters_the_momentum)
{
    /* wd = 0.5, mu = 0.5, lr = 1, g = {0}, p = {2}:
     *   step 1: g' = 0 + 0.5 * 2 = 1;     m = 1;                 p = 2 - 1 = 1
     *   step 2: g' = 0.5;                 m = 0.5 * 1 + 0.5 = 1; p = 1 - 1 = 0 */
    const struct qc_optim_cfg c = sgd(1, 0.5, false, 0.5);
    float p[1] = {2};
    struct qc_optim o;

    init(&o, &c, 1);
    step(&o, p, (const float[]){0}, 1, c.lr);
    expect_params(p, (const float[]){1}, 1, 1);
    step(&o, p, (const float[]){0}, 1, c.lr);
    expect_params(p, (const float[]){0}, 1, 2);
    qc_optim_free(&o);
}

/* ---- Adam ----------------------------------------------------------------- */

Test(optim, adam_first_step_is_lr_times_the_sign_thanks_to_bias_correction)
{
    /* beta1 = 0.5, beta2 = 0.9375, eps = 0, lr = 0.5, g = {2, -0.5, 4}:
     *   m = 0.5 g,  v = 0.0625 g^2
     *   m_hat = m / (1 - 0.5) = g,  v_hat = v / (1 - 0.9375) = g^2
     *   step = lr * g / |g| = {0.5, -0.5, 0.5};  p = {1, 1, 1} - step = {0.5, 1.5, 0.5}
     * Without the correction the step would be lr * 0.5 g / (0.25 |g|),
     * twice as long. */
    const struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 0, 0);
    const float g[3] = {2, -0.5f, 4};
    float p[3] = {1, 1, 1};
    struct qc_optim o;

    init(&o, &c, 3);
    step(&o, p, g, 1, c.lr);
    expect_params(p, (const float[]){0.5f, 1.5f, 0.5f}, 3, 1);
    expect_params(o.m, (const float[]){1, -0.25f, 2}, 3, 1);
    expect_params(o.v, (const float[]){0.25f, 0.015625f, 1}, 3, 1);
    qc_optim_free(&o);
}

Test(optim, adam_with_a_constant_gradient_steps_lr_each_time)
{
    /* With g constant, m_t = (1 - beta1^t) g and v_t = (1 - beta2^t) g^2,
     * so m_hat = g and v_hat = g^2 at every step: p falls by lr = 0.5 per
     * step. For g = 2 (beta1 = 0.5, beta2 = 0.9375):
     *   t = 2: m = 0.5 * 1 + 1 = 1.5 = 0.75 * 2
     *          v = 0.9375 * 0.25 + 0.25 = 0.484375 = (31/256) * 4 = (1 - 0.9375^2) * 4
     *   t = 3: m = 1.75 = 0.875 * 2
     *          v = 0.7041015625 = (1 - 0.9375^3) * 4 */
    const struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 0, 0);
    const float want_m[3] = {1, 1.5f, 1.75f}, want_v[3] = {0.25f, 0.484375f, 0.7041015625f};
    float p[1] = {3};
    struct qc_optim o;

    init(&o, &c, 1);
    for (int s = 0; s < 3; s++) {
        step(&o, p, (const float[]){2}, 1, c.lr);
        expect_params(p, (const float[]){3 - 0.5f * (float)(s + 1)}, 1, s + 1);
        expect_params(o.m, &want_m[s], 1, s + 1);
        expect_params(o.v, &want_v[s], 1, s + 1);
    }
    qc_optim_free(&o);
}

Test(optim, adam_second_step_after_the_gradient_turns)
{
    /* beta1 = 0.5, beta2 = 0.9375, eps = 0, lr = 0.5; g = 2 then -2:
     *   step 1: p = 1 - 0.5 = 0.5 (as above)
     *   step 2: m = 0.5 * 1 + 0.5 * (-2) = -0.5;    m_hat = -0.5 / 0.75 = -2/3
     *           v = 0.9375 * 0.25 + 0.0625 * 4 = 0.484375;
     *           v_hat = 0.484375 / (1 - 0.87890625) = 4
     *           step = 0.5 * (-2/3) / 2 = -1/6, rounded to float once;
     *           p = 0.5 - float(-1/6), rounded to float */
    const struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 0, 0);
    float p[1] = {1};
    struct qc_optim o;

    init(&o, &c, 1);
    step(&o, p, (const float[]){2}, 1, c.lr);
    step(&o, p, (const float[]){-2}, 1, c.lr);
    const float step = (float)(-1.0 / 6.0);
    expect_params(p, (const float[]){0.5f - step}, 1, 2);
    expect_params(o.m, (const float[]){-0.5f}, 1, 2);
    expect_params(o.v, (const float[]){0.484375f}, 1, 2);
    qc_optim_free(&o);
}

Test(optim, adam_eps_is_added_to_the_root)
{
    /* eps = 2, g = 2: step = lr * 2 / (sqrt(4) + 2) = lr / 2 = 0.25; p = 1 - 0.25 = 0.75 */
    const struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 2, 0);
    float p[1] = {1};
    struct qc_optim o;

    init(&o, &c, 1);
    step(&o, p, (const float[]){2}, 1, c.lr);
    expect_params(p, (const float[]){0.75f}, 1, 1);
    qc_optim_free(&o);
}

Test(optim, adam_weight_decay_adds_to_the_gradient)
{
    /* wd = 0.5, g = -1, p = 4: g' = -1 + 2 = 1 > 0, so p falls by lr:
     * 4 - 0.5 = 3.5 (without decay it would rise to 4.5). */
    const struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 0, 0.5);
    float p[1] = {4};
    struct qc_optim o;

    init(&o, &c, 1);
    step(&o, p, (const float[]){-1}, 1, c.lr);
    expect_params(p, (const float[]){3.5f}, 1, 1);
    qc_optim_free(&o);
}

/* ---- quantized master, update and momentum -------------------------------- */

Test(optim, a_bf16_master_swallows_an_update_below_half_its_spacing)
{
    /* bf16 keeps 8 significant bits: below 1 the spacing is 2^-8.
     *   1 - 2^-9 lies halfway between 1 - 2^-8 and 1; ties to even give 1,
     *     so the update is lost (fp32 master: 0.998046875);
     *   1 - 3 * 2^-8 = 253/256 is a bf16 value and is kept exactly. */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);
    float p[2] = {1, 1};
    struct qc_optim o;

    c.quant_master = true;
    c.master = th_format("bf16");
    init(&o, &c, 2);
    step(&o, p, (const float[]){0x1p-9f, 3 * 0x1p-8f}, 1, c.lr);
    expect_params(p, (const float[]){1, 253.0f / 256.0f}, 2, 1);
    qc_optim_free(&o);

    c.quant_master = false;
    p[0] = p[1] = 1;
    init(&o, &c, 2);
    step(&o, p, (const float[]){0x1p-9f, 3 * 0x1p-8f}, 1, c.lr);
    expect_params(p, (const float[]){1 - 0x1p-9f, 253.0f / 256.0f}, 2, 1);
    qc_optim_free(&o);
}

Test(optim, a_quantized_update_is_rounded_before_it_is_applied)
{
    /* fp8_e4m3 keeps 4 significant bits: 1.0625 lies halfway between 1 and
     * 1.125, ties to even give 1; 1.375 is an e4m3 value.
     *   p = {2, 2} - {1, 1.375} = {1, 0.625} (fp32 update: {0.9375, 0.625}) */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);
    float p[2] = {2, 2};
    struct qc_optim o;

    c.quant_update = true;
    c.update = th_format("fp8_e4m3");
    init(&o, &c, 2);
    step(&o, p, (const float[]){1.0625f, 1.375f}, 1, c.lr);
    expect_params(p, (const float[]){1, 0.625f}, 2, 1);
    qc_optim_free(&o);
}

Test(optim, quantized_momentum_is_stored_rounded)
{
    /* e4m3 momentum, mu = 0.5, lr = 0.5, g = 1.0625:
     *   step 1: m = round(1.0625) = 1 (tie to even);  p = 1 - 0.5 = 0.5
     *   step 2: m = round(0.5 + 1.0625 = 1.5625): neighbours 1.5 and 1.625,
     *           1.5625 is the tie, even gives 1.5;    p = 0.5 - 0.75 = -0.25 */
    struct qc_optim_cfg c = sgd(0.5, 0.5, false, 0);
    float p[1] = {1};
    struct qc_optim o;

    c.quant_momentum = true;
    c.moment = th_format("fp8_e4m3");
    init(&o, &c, 1);
    step(&o, p, (const float[]){1.0625f}, 1, c.lr);
    expect_params(o.m, (const float[]){1}, 1, 1);
    expect_params(p, (const float[]){0.5f}, 1, 1);
    step(&o, p, (const float[]){1.0625f}, 1, c.lr);
    expect_params(o.m, (const float[]){1.5f}, 1, 2);
    expect_params(p, (const float[]){-0.25f}, 1, 2);
    qc_optim_free(&o);
}

Test(optim, adam_rounds_its_first_moment_only)
{
    /* e4m3 moments with Adam, beta1 = 0.5, beta2 = 0.9375, lr = 0.5, g = 2.125:
     *   m = round(0.5 * 2.125 = 1.0625) = 1 (tie to even), while v stays fp32:
     *   v = 0.0625 * 2.125^2 = 289/1024 = 0.2822265625 (e4m3 would round it);
     *   step = 0.5 * (1 / 0.5) / sqrt(0.2822265625 / 0.0625 = 4.515625)
     *        = 1 / 2.125 = 8/17, rounded to float once; p = 1 - step */
    struct qc_optim_cfg c = adam(0.5, 0.5, 0.9375, 0, 0);
    float p[1] = {1};
    struct qc_optim o;

    c.quant_momentum = true;
    c.moment = th_format("fp8_e4m3");
    init(&o, &c, 1);
    step(&o, p, (const float[]){2.125f}, 1, c.lr);
    expect_params(o.m, (const float[]){1}, 1, 1);
    expect_params(o.v, (const float[]){0.2822265625f}, 1, 1);
    expect_params(p, (const float[]){1 - (float)(8.0 / 17.0)}, 1, 1);
    qc_optim_free(&o);
}

/* ---- schedules ------------------------------------------------------------ */

static void expect_lr(const struct qc_optim_cfg *c, int64_t step, double want)
{
    const double got = qc_optim_lr(c, step);
    cr_expect(th_same(got, want), "step %lld: lr %.17g, expected %.17g", (long long)step, got,
              want);
}

Test(optim, constant_schedule)
{
    struct qc_optim_cfg c = sgd(0.1, 0, false, 0);

    c.sched = QC_SCHED_CONSTANT;
    for (int64_t s = 0; s < 1000; s += 99)
        expect_lr(&c, s, 0.1);
}

Test(optim, linear_warmup_rises_to_the_rate_then_holds)
{
    /* warmup 4, lr 1: steps 0..3 get (step + 1) / 4 = 0.25, 0.5, 0.75, 1. */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);

    c.warmup_steps = 4;
    expect_lr(&c, 0, 0.25);
    expect_lr(&c, 1, 0.5);
    expect_lr(&c, 2, 0.75);
    expect_lr(&c, 3, 1);
    expect_lr(&c, 4, 1);
    expect_lr(&c, 100, 1);
}

Test(optim, step_schedule_multiplies_by_gamma_every_step_size)
{
    /* lr 1, gamma 0.5, step_size 3: 1 for steps 0..2, 0.5 for 3..5, 0.25
     * for 6..8, 2^-10 at step 30. */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);

    c.sched = QC_SCHED_STEP;
    c.gamma = 0.5;
    c.step_size = 3;
    const double want[9] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25};
    for (int s = 0; s < 9; s++)
        expect_lr(&c, s, want[s]);
    expect_lr(&c, 30, 0x1p-10);
    /* step_size 0: no decay at all. */
    c.step_size = 0;
    expect_lr(&c, 30, 1);
}

Test(optim, step_schedule_under_warmup)
{
    /* warmup 2 scales the stepped rate: step 0: 1 * 1/2; step 1: 1 * 2/2;
     * step 2 (step_size 2): 0.5. */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);

    c.sched = QC_SCHED_STEP;
    c.gamma = 0.5;
    c.step_size = 2;
    c.warmup_steps = 2;
    expect_lr(&c, 0, 0.5);
    expect_lr(&c, 1, 1);
    expect_lr(&c, 2, 0.5);
}

static void expect_lr_near(const struct qc_optim_cfg *c, int64_t step, double want)
{
    /* cos(pi t) is not exact in double: allow a few ulps of 1. */
    const double got = qc_optim_lr(c, step);
    cr_expect(fabs(got - want) <= 4e-16, "step %lld: lr %.17g, expected %.17g", (long long)step,
              got, want);
}

Test(optim, cosine_schedule_falls_to_zero_at_the_total)
{
    /* lr 1, total 4: lr(s) = (1 + cos(pi s / 4)) / 2:
     *   s = 0: 1;  s = 1: 1/2 + sqrt(2)/4;  s = 2: 1/2;  s = 3: 1/2 - sqrt(2)/4;
     *   s = 4 and after: 0. */
    struct qc_optim_cfg c = sgd(1, 0, false, 0);

    c.sched = QC_SCHED_COSINE;
    c.total_steps = 4;
    expect_lr(&c, 0, 1);
    expect_lr_near(&c, 1, 0.5 + sqrt(2.0) / 4);
    expect_lr_near(&c, 2, 0.5);
    expect_lr_near(&c, 3, 0.5 - sqrt(2.0) / 4);
    expect_lr_near(&c, 4, 0);
    expect_lr_near(&c, 40, 0);
}

Test(optim, cosine_schedule_starts_after_the_warmup)
{
    /* lr 2, warmup 2, total 6: steps 0, 1 warm up (1, 2); the cosine spans
     * the 4 steps after: s = 2: 2;  s = 4: 2 * 1/2 = 1;  s = 6: 0. */
    struct qc_optim_cfg c = sgd(2, 0, false, 0);

    c.sched = QC_SCHED_COSINE;
    c.warmup_steps = 2;
    c.total_steps = 6;
    expect_lr(&c, 0, 1);
    expect_lr(&c, 1, 2);
    expect_lr(&c, 2, 2);
    expect_lr_near(&c, 4, 1);
    expect_lr_near(&c, 6, 0);
    /* No room after the warmup (total <= warmup): the rate holds. */
    c.total_steps = 2;
    expect_lr(&c, 5, 2);
}

/* ---- loss scaler ---------------------------------------------------------- */

Test(optim, a_static_loss_scale_skips_overflowing_steps_and_holds)
{
    struct qc_loss_scaler s = {.kind = QC_LOSS_SCALE_STATIC, .scale = 128};

    cr_expect(!qc_loss_scaler_update(&s, false));
    cr_expect(qc_loss_scaler_update(&s, true));
    cr_expect(qc_loss_scaler_update(&s, true));
    cr_expect_eq(s.scale, 128);
    cr_expect_eq(s.skipped, 2);
}

Test(optim, a_dynamic_loss_scale_backs_off_and_grows_within_bounds)
{
    /* scale 8, backoff 0.5 (min 2), growth 2 after 2 good steps (max 16):
     *   overflow: 4 (skip);  overflow: 2 (skip);  overflow: 2 (min; skip)
     *   good, good: 4;  good, good: 8;  4 good: 16, then 16 (max) */
    struct qc_loss_scaler s = {.kind = QC_LOSS_SCALE_DYNAMIC,
                               .scale = 8,
                               .growth_interval = 2,
                               .growth = 2,
                               .backoff = 0.5,
                               .min = 2,
                               .max = 16};
    const double after_overflow[3] = {4, 2, 2};

    for (int i = 0; i < 3; i++) {
        cr_expect(qc_loss_scaler_update(&s, true));
        cr_expect_eq(s.scale, after_overflow[i], "overflow %d", i);
    }
    cr_expect_eq(s.skipped, 3);
    const double after_good[8] = {2, 4, 4, 8, 8, 16, 16, 16};
    for (int i = 0; i < 8; i++) {
        cr_expect(!qc_loss_scaler_update(&s, false));
        cr_expect_eq(s.scale, after_good[i], "good step %d", i);
    }
    /* An overflow restarts the count of good steps. */
    cr_expect(!qc_loss_scaler_update(&s, false));
    cr_expect(qc_loss_scaler_update(&s, true));
    cr_expect_eq(s.scale, 8);
    cr_expect(!qc_loss_scaler_update(&s, false));
    cr_expect_eq(s.scale, 8, "one good step after the overflow is not yet two");
    cr_expect_eq(s.skipped, 4);
}

Test(optim, all_finite_finds_a_nan_or_an_infinity_anywhere)
{
    float x[5] = {0, -1, 3e38f, 1e-45f, 2};

    cr_expect(qc_all_finite(x, 5));
    x[4] = NAN;
    cr_expect(!qc_all_finite(x, 5));
    cr_expect(qc_all_finite(x, 4));
    x[0] = -INFINITY;
    cr_expect(!qc_all_finite(x, 1));
}
