/* The training step's element-wise operations (core/src/backend/ops.h).
 *
 * The host runs an operation's bodies in nested loops over coordinates;
 * the GPU runs qc__op_run, one flat index per thread in whatever order the
 * threads happen to run, each index split into its coordinates. These
 * tests run both on the CPU: every kind, shapes with ragged edges and
 * overlapping windows, and the flat indices in a shuffled order, must give
 * the host loops' bits. So the index arithmetic the kernels run, and the
 * claim that no index depends on another's output, are checked here where
 * there is no GPU. The pooling gradient is checked against the scatter
 * loop whose order it reproduces. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ops.h"
#include "backend/ops_hd.h"
#include "test_helpers.h"

/* Up to this many buffers per operation, each `len` floats, copied whole
 * between the two runs. */
#define NBUF 20

struct bufs {
    float *f[NBUF];
    int64_t len[NBUF];
    int n;
};

static float *buf(struct bufs *b, int64_t len, uint64_t *seed, bool special)
{
    cr_assert_lt(b->n, NBUF);
    float *p = calloc((size_t)len + 1, sizeof *p);
    cr_assert_not_null(p);
    for (int64_t i = 0; i < len; i++) {
        const uint64_t r = th_next(seed);
        p[i] = (float)th_spread(seed, -6, 4);
        /* a few zeros of both signs, infinities and NaNs */
        if (special && r % 29 == 0)
            p[i] = (r >> 8) % 2 ? -0.0f : 0.0f;
        else if (special && r % 53 == 0)
            p[i] = (r >> 8) % 3 == 0 ? NAN : (r >> 8) % 3 == 1 ? INFINITY : -INFINITY;
    }
    b->f[b->n] = p;
    b->len[b->n++] = len;
    return p;
}

static void bufs_free(struct bufs *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->f[i]);
}

/* The same pointer in `to` as p is in `from`. */
static void *moved(const struct bufs *from, const struct bufs *to, const void *p)
{
    if (!p)
        return NULL;
    for (int i = 0; i < from->n; i++) {
        const float *lo = from->f[i], *hi = lo + from->len[i] + 1;
        if ((const float *)p >= lo && (const float *)p < hi)
            return to->f[i] + ((const float *)p - lo);
    }
    cr_assert_fail("pointer outside the test's buffers");
    return NULL;
}

static struct bufs clone(const struct bufs *b)
{
    struct bufs c = {.n = b->n};
    for (int i = 0; i < b->n; i++) {
        c.len[i] = b->len[i];
        c.f[i] = malloc(((size_t)b->len[i] + 1) * sizeof(float));
        cr_assert_not_null(c.f[i]);
        memcpy(c.f[i], b->f[i], ((size_t)b->len[i] + 1) * sizeof(float));
    }
    return c;
}

/* `op` (on buffers `b`) repointed at the clone `c`. */
static struct qc_op repoint(const struct qc_op *op, const struct bufs *b, const struct bufs *c)
{
    struct qc_op o = *op;
#define MV(field) ((o.field) = moved(b, c, (op->field)))
    switch (op->kind) {
    case QC_OP_ZERO:
    case QC_OP_PUT:
    case QC_OP_ADD:
    case QC_OP_RELU:
    case QC_OP_RELU_GRAD:
    case QC_OP_NONFINITE:
        MV(u.map.y), MV(u.map.x), MV(u.map.x2), MV(u.map.flag);
        break;
    case QC_OP_BIAS:
    case QC_OP_BIAS_GRAD:
        MV(u.bias.y), MV(u.bias.b), MV(u.bias.db), MV(u.bias.dy);
        break;
    case QC_OP_SWAP01:
        MV(u.swap.y), MV(u.swap.x);
        break;
    case QC_OP_POOL:
    case QC_OP_POOL_GRAD:
        MV(u.pool.x), MV(u.pool.y), MV(u.pool.argmax), MV(u.pool.dy), MV(u.pool.dx);
        break;
    case QC_OP_BN_STATS:
    case QC_OP_BN_APPLY:
    case QC_OP_BN_SUMS:
    case QC_OP_BN_GRAD:
        MV(u.bn.x), MV(u.bn.gamma), MV(u.bn.beta), MV(u.bn.y), MV(u.bn.xh), MV(u.bn.bmean),
            MV(u.bn.binv), MV(u.bn.rmean), MV(u.bn.rvar), MV(u.bn.sums), MV(u.bn.dy), MV(u.bn.dx),
            MV(u.bn.dgamma), MV(u.bn.dbeta);
        break;
    case QC_OP_SGD:
    case QC_OP_ADAM:
        MV(u.optim.params), MV(u.optim.m), MV(u.optim.v), MV(u.optim.grads);
        break;
    case QC_OP_KINDS:
        break;
    }
#undef MV
    return o;
}

/* Runs `op` on the host loops (four threads where the operation is large
 * enough to split) and, on a copy of every buffer, as the GPU's flat
 * indices in a shuffled order;
 * every buffer must come out the same, bit for bit. */
static void check_orders(const struct qc_op *op, struct bufs *b, const char *what)
{
    struct bufs c = clone(b);
    const struct qc_op flat = repoint(op, b, &c);
    const int64_t n = qc__op_size(op);
    int64_t *perm = malloc((size_t)(n + 1) * sizeof *perm);
    uint64_t seed = (uint64_t)n * 77 + (uint64_t)op->kind;

    cr_assert_not_null(perm);
    cr_assert_gt(n, 0, "%s: empty", what);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(th_next(&seed) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    qc__op_host(op, 4);
    for (int64_t i = 0; i < n; i++)
        qc__op_run(&flat, perm[i], n, perm[i] + 1); /* index perm[i] alone */
    for (int i = 0; i < b->n; i++)
        cr_assert(memcmp(b->f[i], c.f[i], (size_t)b->len[i] * sizeof(float)) == 0,
                  "%s (%s): buffer %d differs between the host loops and the flat indices", what,
                  qc__op_name(op->kind), i);
    free(perm);
    bufs_free(&c);
}

Test(ops, maps_biases_and_permutations_match_in_any_order)
{
    static const enum qc_op_kind maps[] = {QC_OP_ZERO, QC_OP_PUT,       QC_OP_ADD,
                                           QC_OP_RELU, QC_OP_RELU_GRAD, QC_OP_NONFINITE};
    uint64_t seed = 11;

    for (size_t k = 0; k < sizeof maps / sizeof maps[0]; k++)
        for (int acc = 0; acc < 2; acc++) {
            struct bufs b = {0};
            struct qc_op op = {.kind = maps[k]};
            op.u.map = (struct qc_op_map){.n = 40037,
                                          .y = buf(&b, 40037, &seed, true),
                                          .x = buf(&b, 40037, &seed, true),
                                          .x2 = buf(&b, 40037, &seed, true),
                                          .flag = (int32_t *)buf(&b, 1, &seed, false),
                                          .acc = acc};
            *op.u.map.flag = 0;
            check_orders(&op, &b, "map");
            if (maps[k] == QC_OP_NONFINITE)
                cr_expect_eq(*op.u.map.flag, 1, "the data has infinities and NaNs");
            bufs_free(&b);
        }

    /* a convolution's bias (channel-major rows) and a dense layer's (columns) */
    for (int dense = 0; dense < 2; dense++) {
        const int64_t c = 7, inner = dense ? 1 : 45, rows = dense ? 13 : 7;
        const int64_t n = rows * inner * (dense ? c : 1);
        struct bufs b = {0};
        struct qc_op op = {.kind = QC_OP_BIAS};
        op.u.bias = (struct qc_op_bias){.n = n,
                                        .c = c,
                                        .inner = inner,
                                        .y = buf(&b, n, &seed, true),
                                        .b = buf(&b, c, &seed, false)};
        check_orders(&op, &b, "bias");
        op.kind = QC_OP_BIAS_GRAD;
        op.u.bias.db = buf(&b, c, &seed, false);
        op.u.bias.dy = op.u.bias.y;
        op.u.bias.cstride = dense ? 1 : inner;
        op.u.bias.tstride = dense ? c : 1;
        op.u.bias.count = dense ? n / c : inner;
        check_orders(&op, &b, "bias gradient");
        bufs_free(&b);
    }

    for (int acc = 0; acc < 2; acc++) {
        struct bufs b = {0};
        struct qc_op op = {.kind = QC_OP_SWAP01};
        op.u.swap = (struct qc_op_swap){.d0 = 5,
                                        .d1 = 9,
                                        .inner = 7,
                                        .y = buf(&b, 315, &seed, false),
                                        .x = buf(&b, 315, &seed, false),
                                        .acc = acc};
        check_orders(&op, &b, "swap");
        bufs_free(&b);
    }
}

/* Pooling geometries: non-overlapping, overlapping (k > stride), windows
 * that leave a ragged edge uncovered, and the global average. */
static const struct {
    int64_t h, w, k, stride;
} pools[] = {{8, 8, 2, 2}, {9, 7, 3, 2}, {7, 10, 3, 1}, {11, 9, 2, 3}, {6, 6, 6, 6}};

/* A pooling operation over `planes` planes of geometry pools[g], its
 * buffers random (with zeros, infinities and NaNs in the input when
 * `special`). */
static struct qc_op pool_case(struct bufs *b, size_t g, int64_t planes, bool max, bool acc,
                              bool special, uint64_t *seed)
{
    const int64_t h = pools[g].h, w = pools[g].w, k = pools[g].k, s = pools[g].stride;
    const int64_t oh = (h - k) / s + 1, ow = (w - k) / s + 1;
    struct qc_op op = {.kind = QC_OP_POOL};

    op.u.pool = (struct qc_op_pool){.planes = planes,
                                    .h = h,
                                    .w = w,
                                    .oh = oh,
                                    .ow = ow,
                                    .k = k,
                                    .stride = s,
                                    .max = max,
                                    .acc = acc,
                                    .inv = 1.0f / (float)(k * k),
                                    .x = buf(b, planes * h * w, seed, special),
                                    .y = buf(b, planes * oh * ow, seed, false),
                                    .argmax = (int32_t *)buf(b, planes * oh * ow, seed, false),
                                    .dy = buf(b, planes * oh * ow, seed, false),
                                    .dx = buf(b, planes * h * w, seed, false)};
    return op;
}

Test(ops, pooling_matches_in_any_order)
{
    uint64_t seed = 5;

    for (size_t g = 0; g < sizeof pools / sizeof pools[0]; g++)
        for (int max = 0; max < 2; max++)
            for (int acc = 0; acc < 2; acc++) {
                struct bufs b = {0};
                struct qc_op op = pool_case(&b, g, 3, max, acc, true, &seed);
                check_orders(&op, &b, "pool");
                op.kind = QC_OP_POOL_GRAD;
                check_orders(&op, &b, "pool gradient");
                bufs_free(&b);
            }
}

/* The pooling gradient gathers per input; a loop over the outputs that
 * scatters each one's gradient into its window (from zero, or onto the
 * gradient there with acc) is the definition it must reproduce, order of
 * the additions included (overlapping windows add several terms). */
Test(ops, pooling_gradient_adds_in_the_scatter_order)
{
    uint64_t seed = 9;

    for (size_t g = 0; g < sizeof pools / sizeof pools[0]; g++)
        for (int max = 0; max < 2; max++)
            for (int acc = 0; acc < 2; acc++) {
                const int64_t planes = 2, h = pools[g].h, w = pools[g].w, k = pools[g].k,
                              s = pools[g].stride;
                const int64_t oh = (h - k) / s + 1, ow = (w - k) / s + 1;
                struct bufs b = {0};
                struct qc_op op = pool_case(&b, g, planes, max, acc, false, &seed);
                struct qc_err err;
                cr_assert_eq(qc_backend_op(NULL, &op, &err), QC_OK); /* the argmaxes */
                float *want = malloc((size_t)(planes * h * w) * sizeof *want);
                cr_assert_not_null(want);
                for (int64_t i = 0; i < planes * h * w; i++)
                    want[i] = acc ? op.u.pool.dx[i] : 0.0f;
                for (int64_t pl = 0; pl < planes; pl++)
                    for (int64_t y = 0; y < oh; y++)
                        for (int64_t x = 0; x < ow; x++) {
                            const int64_t o = (pl * oh + y) * ow + x;
                            float *dx = want + pl * h * w;
                            if (max) {
                                dx[op.u.pool.argmax[o]] += op.u.pool.dy[o];
                                continue;
                            }
                            for (int64_t i = 0; i < k; i++)
                                for (int64_t j = 0; j < k; j++)
                                    dx[(y * s + i) * w + x * s + j] +=
                                        op.u.pool.dy[o] * op.u.pool.inv;
                        }
                op.kind = QC_OP_POOL_GRAD;
                cr_assert_eq(qc_backend_op(NULL, &op, &err), QC_OK);
                for (int64_t i = 0; i < planes * h * w; i++)
                    cr_assert(th_same_f(op.u.pool.dx[i], want[i]),
                              "%lldx%lld k=%lld s=%lld %s acc=%d: input %lld: %a, scatter %a",
                              (long long)h, (long long)w, (long long)k, (long long)s,
                              max ? "max" : "avg", acc, (long long)i, (double)op.u.pool.dx[i],
                              (double)want[i]);
                free(want);
                bufs_free(&b);
            }
}

Test(ops, batchnorm_matches_in_any_order)
{
    static const enum qc_op_kind kinds[] = {QC_OP_BN_STATS, QC_OP_BN_APPLY, QC_OP_BN_SUMS,
                                            QC_OP_BN_GRAD};
    uint64_t seed = 3;

    for (int train = 0; train < 2; train++)
        for (int acc = 0; acc < 2; acc++) {
            const int64_t c = 5, n = 37;
            struct bufs b = {0};
            struct qc_op op;
            op.u.bn = (struct qc_op_bn){.c = c,
                                        .n = n,
                                        .train = train,
                                        .acc = acc,
                                        .x = buf(&b, c * n, &seed, false),
                                        .gamma = buf(&b, c, &seed, false),
                                        .beta = buf(&b, c, &seed, false),
                                        .y = buf(&b, c * n, &seed, false),
                                        .xh = buf(&b, c * n, &seed, false),
                                        .bmean = buf(&b, c, &seed, false),
                                        .binv = buf(&b, c, &seed, false),
                                        .rmean = buf(&b, c, &seed, false),
                                        .rvar = buf(&b, c, &seed, false),
                                        .sums = (double *)buf(&b, 2 * c * 2, &seed, false),
                                        .dy = buf(&b, c * n, &seed, false),
                                        .dx = buf(&b, c * n, &seed, false),
                                        .dgamma = buf(&b, c, &seed, false),
                                        .dbeta = buf(&b, c, &seed, false)};
            for (int i = 0; i < c; i++)
                op.u.bn.rvar[i] = fabsf(op.u.bn.rvar[i]);
            /* each kind in the order a step runs them, so every one reads
             * what the one before wrote */
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                op.kind = kinds[k];
                check_orders(&op, &b, "batchnorm");
            }
            bufs_free(&b);
        }
}

Test(ops, optimizer_steps_match_in_any_order)
{
    uint64_t seed = 8;

    for (int kind = 0; kind < 2; kind++)
        for (int quant = 0; quant < 2; quant++) {
            const int64_t n = 301;
            struct bufs b = {0};
            struct qc_op op = {.kind = kind ? QC_OP_ADAM : QC_OP_SGD};
            op.u.optim = (struct qc_op_optim){.n = n,
                                              .params = buf(&b, n, &seed, false),
                                              .m = buf(&b, n, &seed, false),
                                              .v = buf(&b, n, &seed, false),
                                              .grads = buf(&b, n, &seed, true),
                                              .grad_mul = 0.25f,
                                              .weight_decay = 1e-3f,
                                              .momentum = 0.9f,
                                              .lr_f = 0.05f,
                                              .nesterov = true,
                                              .beta1 = 0.9f,
                                              .one_minus_beta1 = (float)(1.0 - 0.9),
                                              .beta2 = 0.999f,
                                              .one_minus_beta2 = (float)(1.0 - 0.999),
                                              .lr = 0.05,
                                              .bc1 = 0.19,
                                              .bc2 = 0.002,
                                              .eps = 1e-8,
                                              .quant_moment = quant,
                                              .quant_update = quant,
                                              .quant_master = quant,
                                              .moment = th_format("bf16"),
                                              .update = th_format("e5m2"),
                                              .master = th_format("fp16")};
            for (int64_t i = 0; i < n; i++)
                op.u.optim.v[i] = fabsf(op.u.optim.v[i]);
            check_orders(&op, &b, kind ? "adam" : "sgd");
            bufs_free(&b);
        }
}

/* The flat indices' division: 32-bit where both operands fit, 64-bit
 * beyond, the same quotients and remainders either way. */
Test(ops, index_division_matches_across_the_32_bit_boundary)
{
    static const int64_t as[] = {0,
                                 1,
                                 7,
                                 4095,
                                 INT64_C(0xffffffff),
                                 INT64_C(0x100000000),
                                 INT64_C(0x100000001),
                                 INT64_C(0x7fffffffffff)};
    static const int64_t bs[] = {1, 3, 64, 1000003, INT64_C(0xffffffff), INT64_C(0x100000000)};

    for (size_t i = 0; i < sizeof as / sizeof as[0]; i++)
        for (size_t j = 0; j < sizeof bs / sizeof bs[0]; j++) {
            int64_t q, r;
            qc__op_divmod(as[i], bs[j], &q, &r);
            cr_assert(q == as[i] / bs[j] && r == as[i] % bs[j], "%lld / %lld: %lld r %lld",
                      (long long)as[i], (long long)bs[j], (long long)q, (long long)r);
        }
}
