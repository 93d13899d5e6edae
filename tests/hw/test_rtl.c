/* The RTL of hw/rtl/ against the core, bit for bit: Verilator models of the
 * multipliers (every input pair of the 8-bit formats, 2^17 random pairs of each of
 * the wider ones) against qc_mac_multiply, and of whole MAC units and
 * arrays running chunked dot products against qc_gemm_cpu and qc_gemm_ref,
 * rounding events included. The benches and their configurations come
 * from the hw/sim/ lists through qlab-tbgen, the mapping synthesis uses. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/sim/tb.h"
#include "qcore/gemm.h"
#include "qcore/gemm_cpu.h"
#include "qcore/mac.h"
#include "qcore/quantize.h"
#include "qcore/ref.h"

#include "qcore/board.h"
#include "tb_array_map.h"
#include "tb_mac_map.h"
#include "tb_mul_map.h"
#include "tb_systolic_map.h"

extern const struct tb_ops tb_mul_ops, tb_mac_ops, tb_array_ops, tb_systolic_ops;

enum { OP_NOP = 0, OP_CLR = 1, OP_MAC = 2, OP_FLUSH = 3 };

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static bool same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static struct qc_mac parse_mac(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "%s: %s", s, err.msg);
    return m;
}

static int fmt_bits(const struct qc_format *f)
{
    return f->kind == QC_FMT_FIXED ? f->ibits + f->fbits : f->bits;
}

/* Is `code` a value of the multiplier's reading (NaN codes included)? A
 * subnormal code of a nosub format, say, is not: rounding would move it. */
static bool is_value(const struct qc_format *f, uint64_t code, double *v)
{
    *v = qc_format_decode(f, code);
    if (isnan(*v))
        return true;
    return same(qc_round_value(f, *v, NULL, 0, NULL), *v);
}

static void set(const struct tb_ops *o, void *h, const struct tb_inst *t, const char *port,
                uint64_t v)
{
    const struct tb_port *p = tb_port(t, port);
    o->set(h, p->off, p->width, v);
}

static uint64_t get(const struct tb_ops *o, void *h, const struct tb_inst *t, const char *port)
{
    const struct tb_port *p = tb_port(t, port);
    return o->get(h, p->off, p->width);
}

/* The multiplier's output as a double (exact: products have <= 53 bits). */
static double mul_value(const struct tb_ops *o, void *h, const struct tb_inst *t)
{
    const struct tb_port *pe = tb_port(t, "exp"), *ps = tb_port(t, "sig");
    const bool neg = get(o, h, t, "sign");
    if (get(o, h, t, "nan"))
        return NAN;
    if (get(o, h, t, "inf"))
        return neg ? -INFINITY : INFINITY;
    if (get(o, h, t, "zero"))
        return neg ? -0.0 : 0.0;
    int64_t e = (int64_t)(o->get(h, pe->off, pe->width) << (64 - pe->width)) >> (64 - pe->width);
    double v = ldexp((double)o->get(h, ps->off, ps->width), (int)e - (ps->width - 1));
    return neg ? -v : v;
}

/* What the core says one multiplier instance gives for (va, vb): the
 * product, or for a fixed-point multiplier the product on the accumulator's
 * grid, with the events of that step. */
static double core_mul(const struct qc_mac *m, double va, double vb, struct qc_round_stats *st)
{
    double p = qc_mac_multiply(m, va, vb, st);
    if (m->a.kind != QC_FMT_FIXED)
        return p;
    return qc_round_value(&m->acc, p, &m->acc_round, 0, st);
}

static double rtl_mul(const struct tb_ops *o, void *h, const struct tb_inst *t,
                      const struct qc_mac *m)
{
    if (m->a.kind != QC_FMT_FIXED)
        return mul_value(o, h, t);
    return qc_format_decode(&m->acc, get(o, h, t, "q"));
}

static void check_mul(void *h, const struct tb_inst *t, const struct qc_mac *m, uint64_t ca,
                      uint64_t cb, double va, double vb, long *checked)
{
    struct qc_round_stats st = {0};
    const double want = core_mul(m, va, vb, &st);
    const double got = rtl_mul(&tb_mul_ops, h, t, m);
    const uint64_t ovf = get(&tb_mul_ops, h, t, "ovf"), unf = get(&tb_mul_ops, h, t, "unf");
    cr_assert(same(got, want), "%s: %#llx x %#llx (%a x %a): rtl %a, core %a", t->mac,
              (unsigned long long)ca, (unsigned long long)cb, va, vb, got, want);
    cr_assert(ovf == st.overflow && unf == st.underflow,
              "%s: %#llx x %#llx: rtl events ovf %llu unf %llu, core %llu %llu", t->mac,
              (unsigned long long)ca, (unsigned long long)cb, (unsigned long long)ovf,
              (unsigned long long)unf, (unsigned long long)st.overflow,
              (unsigned long long)st.underflow);
    (*checked)++;
}

Test(rtl, multipliers_every_8bit_pair, .timeout = 300)
{
    struct qc_mac macs[tb_mul_N];
    static double va[tb_mul_N][256], vb[tb_mul_N][256];
    static bool oka[tb_mul_N][256], okb[tb_mul_N][256];
    bool eight[tb_mul_N];
    long checked = 0;
    int n8 = 0;

    for (int i = 0; i < tb_mul_N; i++) {
        macs[i] = parse_mac(tb_mul_insts[i].mac);
        eight[i] = fmt_bits(&macs[i].a_read) == 8 && fmt_bits(&macs[i].b_read) == 8;
        n8 += eight[i];
        for (int c = 0; eight[i] && c < 256; c++) {
            oka[i][c] = is_value(&macs[i].a_read, (uint64_t)c, &va[i][c]);
            okb[i][c] = is_value(&macs[i].b_read, (uint64_t)c, &vb[i][c]);
        }
    }
    cr_assert_gt(n8, 20, "the bench lost its 8-bit multipliers");
    void *h = tb_mul_ops.open();
    for (int ca = 0; ca < 256; ca++) {
        for (int cb = 0; cb < 256; cb++) {
            for (int i = 0; i < tb_mul_N; i++) {
                if (!eight[i])
                    continue;
                set(&tb_mul_ops, h, &tb_mul_insts[i], "a", (uint64_t)ca);
                set(&tb_mul_ops, h, &tb_mul_insts[i], "b", (uint64_t)cb);
            }
            tb_mul_ops.eval(h);
            for (int i = 0; i < tb_mul_N; i++)
                if (eight[i] && oka[i][ca] && okb[i][cb])
                    check_mul(h, &tb_mul_insts[i], &macs[i], (uint64_t)ca, (uint64_t)cb, va[i][ca],
                              vb[i][cb], &checked);
        }
    }
    tb_mul_ops.close(h);
    cr_log_info("rtl: %ld 8-bit products equal to the core over %d multipliers", checked, n8);
}

/* A random code that is a value of `f`: mostly moderate magnitudes (the
 * products then round, cancel and swamp), some far out (overflow,
 * underflow, subnormals), a few raw codes (inf, NaN, odd encodings). */
static uint64_t random_code(const struct qc_format *f, uint64_t *s, double *v)
{
    const int bits = fmt_bits(f);
    const uint64_t mask = bits >= 64 ? ~0ull : (1ull << bits) - 1;
    for (;;) {
        uint64_t r = next_u64(s);
        uint64_t code;
        if (f->kind == QC_FMT_FIXED || r % 100 < 3) {
            code = next_u64(s) & mask;
            if (f->kind == QC_FMT_FIXED && r % 2)
                code = (uint64_t)((int64_t)(next_u64(s) % (1u << (f->fbits + 2))) -
                                  (1 << (f->fbits + 1))) &
                       mask;
        } else {
            const int span = r % 100 < 80 ? 3 : (f->emax - f->emin) / 2 + 2;
            const int e = (int)(next_u64(s) % (uint64_t)(2 * span + 1)) - span;
            double x = ldexp(1.0 + (double)(next_u64(s) >> 11) * 0x1p-53, e);
            x = qc_round_value(f, (r >> 32) & 1 ? -x : x, NULL, 0, NULL);
            if (qc_format_encode(&code, f, x))
                continue;
        }
        if (is_value(f, code, v))
            return code;
    }
}

Test(rtl, multipliers_random_wide_pairs, .timeout = 300)
{
    enum { PAIRS = 1 << 17 }; /* per multiplier: 1.5M random products in all */
    struct qc_mac macs[tb_mul_N];
    bool wide[tb_mul_N];
    uint64_t seed = 12345;
    long checked = 0;
    int nw = 0;

    for (int i = 0; i < tb_mul_N; i++) {
        macs[i] = parse_mac(tb_mul_insts[i].mac);
        wide[i] = fmt_bits(&macs[i].a_read) > 8 || fmt_bits(&macs[i].b_read) > 8;
        nw += wide[i];
    }
    cr_assert_gt(nw, 8, "the bench lost its wide multipliers");
    void *h = tb_mul_ops.open();
    static uint64_t ca[tb_mul_N], cb[tb_mul_N];
    static double va[tb_mul_N], vb[tb_mul_N];
    for (long n = 0; n < PAIRS; n++) {
        for (int i = 0; i < tb_mul_N; i++) {
            if (!wide[i])
                continue;
            ca[i] = random_code(&macs[i].a_read, &seed, &va[i]);
            cb[i] = random_code(&macs[i].b_read, &seed, &vb[i]);
            set(&tb_mul_ops, h, &tb_mul_insts[i], "a", ca[i]);
            set(&tb_mul_ops, h, &tb_mul_insts[i], "b", cb[i]);
        }
        tb_mul_ops.eval(h);
        for (int i = 0; i < tb_mul_N; i++)
            if (wide[i])
                check_mul(h, &tb_mul_insts[i], &macs[i], ca[i], cb[i], va[i], vb[i], &checked);
    }
    tb_mul_ops.close(h);
    cr_log_info("rtl: %ld random wide products equal to the core over %d multipliers", checked, nw);
}

/* ---- dot products ----------------------------------------------------- */

/* One MAC unit's GEMM: its data, the core's answers and the RTL's. */
struct job {
    const struct tb_inst *t;
    struct qc_mac mac;
    int unit; /* the PE within an array */
    int64_t m, n, k;
    uint64_t *acode, *bcode; /* a:(m,k) b:(k,n) */
    float *a, *b, *c;        /* c: the core */
    struct qc_round_stats st;
    struct qc_round_stats rtl;
};

static void job_init(struct job *j, const struct tb_inst *t, int64_t m, int64_t n, int64_t k,
                     uint64_t *seed)
{
    memset(j, 0, sizeof *j);
    j->t = t;
    j->mac = parse_mac(t->mac);
    j->m = m, j->n = n, j->k = k;
    j->acode = calloc((size_t)(m * k), sizeof *j->acode);
    j->bcode = calloc((size_t)(k * n), sizeof *j->bcode);
    j->a = calloc((size_t)(m * k), sizeof *j->a);
    j->b = calloc((size_t)(k * n), sizeof *j->b);
    j->c = calloc((size_t)(m * n), sizeof *j->c);
    cr_assert(j->acode && j->bcode && j->a && j->b && j->c);
    for (int64_t i = 0; i < m * k; i++) {
        double v;
        j->acode[i] = random_code(&j->mac.a_read, seed, &v);
        j->a[i] = (float)v;
    }
    for (int64_t i = 0; i < k * n; i++) {
        double v;
        j->bcode[i] = random_code(&j->mac.b_read, seed, &v);
        j->b[i] = (float)v;
    }
    struct qc_gemm_desc d;
    struct qc_err err;
    qc_gemm_desc_init(&d, m, n, k);
    cr_assert_eq(qc_gemm_cpu(j->c, j->a, j->b, &d, &j->mac, 1, &j->st, &err), QC_OK, "%s: %s",
                 t->mac, err.msg);
}

static void job_free(struct job *j)
{
    free(j->acode);
    free(j->bcode);
    free(j->a);
    free(j->b);
    free(j->c);
}

/* The reference twin agrees with the fast GEMM on a corner of the job. */
static void job_check_ref(struct job *j, int64_t m, int64_t n)
{
    struct qc_gemm_desc d;
    struct qc_err err;
    struct qc_round_stats st = {0};
    float *c = calloc((size_t)(m * n), sizeof *c);
    cr_assert(c);
    qc_gemm_desc_init(&d, m, n, j->k);
    d.ldb = j->n;
    d.lda = j->k;
    cr_assert_eq(qc_gemm_ref(c, j->a, j->b, &d, &j->mac, &st, &err), QC_OK, "%s", err.msg);
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < n; q++)
            cr_assert(same(c[i * n + q], j->c[i * j->n + q]),
                      "%s: ref and cpu differ at (%lld,%lld)", j->t->mac, (long long)i,
                      (long long)q);
    free(c);
}

/* The op sequence of one output: CLR, then per chunk its MACs and a FLUSH. */
static int op_at(const struct job *j, int64_t cycle, int64_t *kk)
{
    const int64_t chunk = j->mac.chunk > 0 && j->mac.chunk < j->k ? j->mac.chunk : j->k;
    if (cycle == 0)
        return OP_CLR;
    int64_t c = cycle - 1;
    int64_t full = c / (chunk + 1), pos = c % (chunk + 1);
    int64_t k0 = full * chunk;
    if (k0 >= j->k)
        return OP_NOP;
    int64_t len = j->k - k0 < chunk ? j->k - k0 : chunk;
    if (pos < len) {
        *kk = k0 + pos;
        return OP_MAC;
    }
    return pos == len ? OP_FLUSH : OP_NOP;
}

static int64_t cycles_of(const struct job *j)
{
    const int64_t chunk = j->mac.chunk > 0 && j->mac.chunk < j->k ? j->mac.chunk : j->k;
    return 1 + j->k + (j->k + chunk - 1) / chunk;
}

static int popcount(uint64_t v)
{
    return __builtin_popcountll(v);
}

static void add_events(struct qc_round_stats *st, const struct tb_ops *o, void *h,
                       const struct tb_inst *t, int unit)
{
    const struct tb_port *po = tb_port(t, "ev_ovf"), *pu = tb_port(t, "ev_unf"),
                         *ps = tb_port(t, "ev_swamp");
    st->overflow += popcount(o->get(h, po->off + 3 * unit, 3));
    st->underflow += popcount(o->get(h, pu->off + 3 * unit, 3));
    st->swamping += popcount(o->get(h, ps->off + unit, 1));
}

static double result_of(const struct job *j, const struct tb_ops *o, void *h, int unit)
{
    const struct tb_port *pr = tb_port(j->t, "res"), *pn = tb_port(j->t, "res_nan");
    const int cw = pr->width / (j->t->rows ? j->t->rows * j->t->cols : 1);
    if (o->get(h, pn->off + unit, 1))
        return NAN;
    return qc_format_decode(&j->mac.acc, o->get(h, pr->off + cw * unit, cw));
}

static void check_results(struct job *j, int64_t i, int64_t q, double got)
{
    const double want = j->c[i * j->n + q];
    cr_assert(same(got, want), "%s: C(%lld,%lld): rtl %a, core %a", j->t->mac, (long long)i,
              (long long)q, got, want);
}

static void check_events(const struct job *j)
{
    cr_assert(j->rtl.overflow == j->st.overflow && j->rtl.underflow == j->st.underflow &&
                  j->rtl.swamping == j->st.swamping,
              "%s: rtl events ovf %llu unf %llu swamp %llu, core %llu %llu %llu", j->t->mac,
              (unsigned long long)j->rtl.overflow, (unsigned long long)j->rtl.underflow,
              (unsigned long long)j->rtl.swamping, (unsigned long long)j->st.overflow,
              (unsigned long long)j->st.underflow, (unsigned long long)j->st.swamping);
}

Test(rtl, mac_units_run_the_core_dot_products, .timeout = 300)
{
    enum { M = 24, N = 24, K = 150 };
    static struct job jobs[tb_mac_N];
    uint64_t seed = 777;
    int64_t cyc = 0;
    long macs = 0;

    for (int u = 0; u < tb_mac_N; u++) {
        job_init(&jobs[u], &tb_mac_insts[u], M, N, K, &seed);
        job_check_ref(&jobs[u], 3, 4);
        cyc = cycles_of(&jobs[u]) > cyc ? cycles_of(&jobs[u]) : cyc;
    }
    void *h = tb_mac_ops.open();
    for (int64_t i = 0; i < M; i++) {
        for (int64_t q = 0; q < N; q++) {
            for (int64_t c = 0; c < cyc; c++) {
                for (int u = 0; u < tb_mac_N; u++) {
                    struct job *j = &jobs[u];
                    int64_t kk = 0;
                    int op = op_at(j, c, &kk);
                    set(&tb_mac_ops, h, j->t, "op", (uint64_t)op);
                    if (op == OP_MAC) {
                        set(&tb_mac_ops, h, j->t, "a", j->acode[i * K + kk]);
                        set(&tb_mac_ops, h, j->t, "b", j->bcode[kk * N + q]);
                        macs++;
                    }
                }
                tb_mac_ops.eval(h); /* the events of this cycle's op */
                for (int u = 0; u < tb_mac_N; u++)
                    add_events(&jobs[u].rtl, &tb_mac_ops, h, jobs[u].t, 0);
                tb_mac_ops.tick(h);
            }
            for (int u = 0; u < tb_mac_N; u++)
                check_results(&jobs[u], i, q, result_of(&jobs[u], &tb_mac_ops, h, 0));
        }
    }
    tb_mac_ops.close(h);
    for (int u = 0; u < tb_mac_N; u++) {
        check_events(&jobs[u]);
        job_free(&jobs[u]);
    }
    cr_log_info("rtl: %ld MAC steps over %d units equal to qc_gemm_cpu", macs, tb_mac_N);
}

Test(rtl, arrays_run_tiled_gemms, .timeout = 300)
{
    enum { M = 12, N = 6, K = 70 };
    static struct job jobs[tb_array_N];
    uint64_t seed = 99;

    for (int u = 0; u < tb_array_N; u++) {
        job_init(&jobs[u], &tb_array_insts[u], M, N, K, &seed);
        cr_assert(M % jobs[u].t->rows == 0 && N % jobs[u].t->cols == 0);
    }
    void *h = tb_array_ops.open();
    for (int u = 0; u < tb_array_N; u++) {
        struct job *j = &jobs[u];
        const int R = j->t->rows, C = j->t->cols;
        const struct tb_port *pa = tb_port(j->t, "a"), *pb = tb_port(j->t, "b");
        const int aw = pa->width / R, bw = pb->width / C;
        for (int64_t i0 = 0; i0 < M; i0 += R) {
            for (int64_t q0 = 0; q0 < N; q0 += C) {
                for (int64_t c = 0; c < cycles_of(j); c++) {
                    int64_t kk = 0;
                    int op = op_at(j, c, &kk);
                    set(&tb_array_ops, h, j->t, "op", (uint64_t)op);
                    for (int r = 0; op == OP_MAC && r < R; r++)
                        tb_array_ops.set(h, pa->off + r * aw, aw, j->acode[(i0 + r) * K + kk]);
                    for (int s = 0; op == OP_MAC && s < C; s++)
                        tb_array_ops.set(h, pb->off + s * bw, bw, j->bcode[kk * N + q0 + s]);
                    tb_array_ops.eval(h);
                    for (int pe = 0; pe < R * C; pe++)
                        add_events(&j->rtl, &tb_array_ops, h, j->t, pe);
                    tb_array_ops.tick(h);
                }
                for (int r = 0; r < R; r++)
                    for (int s = 0; s < C; s++)
                        check_results(j, i0 + r, q0 + s, result_of(j, &tb_array_ops, h, r * C + s));
            }
        }
        check_events(j);
    }
    tb_array_ops.close(h);
    for (int u = 0; u < tb_array_N; u++)
        job_free(&jobs[u]);
}

/* ---- the systolic top against the core and the cycle model ------------- */

/* Scaled-down GEMM shapes of LeNet-5 and ResNet-20 layers (m output
 * channels or batch rows, n positions, k = in channels x kernel), with odd
 * ones that leave partial tiles; every one runs on every systolic bench. */
static const struct {
    const char *what;
    int64_t m, n, k;
} systolic_shapes[] = {
    {"lenet5 conv1 fwd (6 x 5x5x1, 12 positions)", 6, 12, 25},
    {"lenet5 conv2 fwd (16 x 5x5x6, 8 positions)", 16, 8, 150},
    {"lenet5 fc3 fwd (batch 5, 10 x 84)", 5, 10, 84},
    {"resnet20 conv 3x3x16 fwd (16, 9 positions)", 16, 9, 144},
    {"resnet20 conv 3x3x32 wgrad (32 x 288, 4 positions)", 32, 4, 40},
    {"resnet20 1x1 projection (32 x 16, 7 positions)", 32, 7, 16},
    {"odd", 3, 5, 1},
};

Test(rtl, systolic_top_equals_the_core_and_the_cycle_model, .timeout = 600)
{
    uint64_t seed = 4242;
    long checked = 0;

    void *h = tb_systolic_ops.open();
    for (int u = 0; u < tb_systolic_N; u++) {
        const struct tb_inst *t = &tb_systolic_insts[u];
        const int R = t->rows, C = t->cols;
        const struct tb_port *pa = tb_port(t, "a"), *pb = tb_port(t, "b");
        const struct tb_port *pk = tb_port(t, "kk"), *pt = tb_port(t, "tile");
        const struct tb_port *pf = tb_port(t, "fin"), *pd = tb_port(t, "done");
        const int aw = pa->width / R, bw = pb->width / C;
        const struct qc_board board = {.rows = R, .cols = C};
        for (size_t s = 0; s < sizeof systolic_shapes / sizeof systolic_shapes[0]; s++) {
            const int64_t M = systolic_shapes[s].m, N = systolic_shapes[s].n,
                          K = systolic_shapes[s].k;
            struct job j;
            job_init(&j, t, M, N, K, &seed);
            const int64_t tr = (M + R - 1) / R, tc = (N + C - 1) / C;
            int64_t *done_tiles = calloc((size_t)(R * C), sizeof *done_tiles);
            cr_assert(done_tiles);
            set(&tb_systolic_ops, h, t, "k", (uint64_t)K);
            set(&tb_systolic_ops, h, t, "chunk", (uint64_t)(j.mac.chunk > 0 ? j.mac.chunk : 0));
            set(&tb_systolic_ops, h, t, "tiles", (uint64_t)(tr * tc));
            set(&tb_systolic_ops, h, t, "start", 1);
            tb_systolic_ops.eval(h);
            tb_systolic_ops.tick(h); /* the cycle `start` is taken */
            set(&tb_systolic_ops, h, t, "start", 0);
            int64_t cycles = 0;
            bool done = false;
            /* Until done, and one cycle more for the far corner's copy. */
            for (int64_t extra = 0; extra < 2 && cycles < 10000000;) {
                const int64_t kk = (int64_t)tb_systolic_ops.get(h, pk->off, pk->width);
                const int64_t tile = (int64_t)tb_systolic_ops.get(h, pt->off, pt->width);
                const int64_t i0 = tile / tc * R, q0 = tile % tc * C;
                for (int r = 0; r < R; r++) {
                    const int64_t i = i0 + r;
                    tb_systolic_ops.set(h, pa->off + r * aw, aw,
                                        i < M && kk < K ? j.acode[i * K + kk] : 0);
                }
                for (int c = 0; c < C; c++) {
                    const int64_t q = q0 + c;
                    tb_systolic_ops.set(h, pb->off + c * bw, bw,
                                        q < N && kk < K ? j.bcode[kk * N + q] : 0);
                }
                tb_systolic_ops.eval(h);
                tb_systolic_ops.tick(h);
                if (!done) {
                    cycles++;
                    done = tb_systolic_ops.get(h, pd->off, 1) != 0;
                }
                if (done)
                    extra++;
                for (int unit = 0; unit < R * C; unit++) {
                    if (!tb_systolic_ops.get(h, pf->off + unit, 1))
                        continue;
                    const int64_t tt = done_tiles[unit]++;
                    const int64_t i = tt / tc * R + unit / C, q = tt % tc * C + unit % C;
                    if (i < M && q < N) {
                        check_results(&j, i, q, result_of(&j, &tb_systolic_ops, h, unit));
                        checked++;
                    }
                }
            }
            cr_assert(done, "%s: %s: no done", t->mac, systolic_shapes[s].what);
            for (int unit = 0; unit < R * C; unit++)
                cr_assert_eq(done_tiles[unit], tr * tc, "%s: %s: unit %d finished %lld tiles",
                             t->mac, systolic_shapes[s].what, unit, (long long)done_tiles[unit]);
            const uint64_t model = qc_board_array_cycles(&board, M, N, K, j.mac.chunk);
            cr_assert_eq((uint64_t)cycles, model,
                         "%s %dx%d: %s (%lldx%lldx%lld): rtl %lld cycles, model %llu", t->mac, R, C,
                         systolic_shapes[s].what, (long long)M, (long long)N, (long long)K,
                         (long long)cycles, (unsigned long long)model);
            free(done_tiles);
            job_free(&j);
        }
    }
    tb_systolic_ops.close(h);
    cr_log_info(
        "rtl: the systolic top: %ld results equal to qc_gemm_cpu, cycles equal to the model",
        checked);
}
