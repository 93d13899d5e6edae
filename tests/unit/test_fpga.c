/* The FPGA backend: board presets from hw/boards/boards.conf, emulated
 * boards computing the CPU GEMM's bits with the cycle model's charge, the
 * model against a cycle-by-cycle replay of the array's schedule and its
 * calibration and bandwidth terms, and XRT with no device (a clear
 * message, never a pretend board). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcore/backend.h"
#include "qcore/board.h"
#include "qcore/fpga.h"
#include "qcore/gemm_cpu.h"
#include "test_helpers.h"

static struct qc_mac mac_of(const char *s)
{
    struct qc_mac m;
    struct qc_err err;
    cr_assert_eq(qc_mac_parse(&m, s, &err), QC_OK, "%s: %s", s, err.msg);
    return m;
}

static struct qc_board board_of(const char *name)
{
    struct qc_board b;
    struct qc_err err;
    cr_assert_eq(qc_board_find(&b, name, &err), QC_OK, "%s: %s", name, err.msg);
    return b;
}

Test(fpga, zcu104_preset_is_the_studies_array)
{
    struct qc_board b = board_of("zcu104");

    cr_assert_eq(b.rows, 16);
    cr_assert_eq(b.cols, 4);
    cr_assert_float_eq(b.clock_hz, 280e6, 1.0);
    cr_assert_float_eq(b.ddr_bytes_per_s, 19.2e9, 1.0);
    cr_assert(b.ddr_efficiency > 0 && b.ddr_efficiency <= 1);
    cr_assert(b.buffer_bytes > 0);
    cr_assert(qc_board_count() >= 1);
    for (int i = 0; i < qc_board_count(); i++) {
        struct qc_board x = board_of(qc_board_name_at(i));
        cr_assert(x.rows > 0 && x.cols > 0 && x.clock_hz > 0 && x.ddr_bytes_per_s > 0, "%s",
                  x.name);
    }
    cr_assert_null(qc_board_name_at(qc_board_count()));
}

Test(fpga, unknown_board_names_the_presets)
{
    struct qc_board b;
    struct qc_err err;

    cr_assert_eq(qc_board_find(&b, "zcu999", &err), QC_ENOTFOUND);
    cr_assert(strstr(err.msg, "zcu999") && strstr(err.msg, "zcu104"), "%s", err.msg);
}

static void fill(float *x, int64_t n, uint64_t seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)th_spread(&seed, -6, 6);
}

/* An emulated board computes the CPU GEMM's bits and counters, and its
 * timing grows by the model's cost of each GEMM. */
Test(fpga, emulated_board_equals_cpu_and_charges_the_model)
{
    static const char *const macs[] = {
        "cfg=5,a=e5m2,b=e5m2,acc=e6m5,chunk=8",
        "cfg=1,a=fp16,b=fp16,acc=fp32",
        "cfg=3,a=e4m3,b=e4m3,acc=q8.13,acc_rounding=rtz",
        "a=mxfp8_e4m3,b=mxfp8_e4m3,acc=fp32,chunk=32",
        "cfg=1,a=e5m2,b=e5m2,acc=e5m10,acc_rounding=sr,seed=3",
    };
    const int64_t m = 19, n = 11, k = 70;
    float a[19 * 70], b[70 * 11], c1[19 * 11], c2[19 * 11];
    struct qc_backend_opts opts = {
        .threads = 2, .board = "zcu104", .scale_policy = QC_SCALE_POLICY_NONE};
    struct qc_backend *be = NULL;
    struct qc_board zcu = board_of("zcu104");
    struct qc_backend_timing t;
    struct qc_err err;
    uint64_t want = 0, want_macs = 0;

    fill(a, m * k, 11);
    fill(b, k * n, 12);
    cr_assert_eq(qc_backend_create(&be, "fpga", &opts, &err), QC_OK, "%s", err.msg);
    cr_assert_str_eq(be->vt->kind, "fpga");
    cr_assert(strstr(be->device, "zcu104"), "%s", be->device);
    for (size_t i = 0; i < sizeof macs / sizeof macs[0]; i++) {
        for (int trans = 0; trans < 2; trans++) {
            struct qc_mac mac = mac_of(macs[i]);
            struct qc_gemm_desc d;
            struct qc_round_stats s1 = {0}, s2 = {0};
            struct qc_board_cost cost;
            qc_gemm_desc_init(&d, m, n, k);
            d.trans_b = trans; /* B read as n x k */
            d.sr_stream = 9;
            cr_assert_eq(qc_backend_gemm(be, c1, a, b, &d, &mac, &s1, &err), QC_OK, "%s: %s",
                         macs[i], err.msg);
            cr_assert_eq(qc_gemm_cpu(c2, a, b, &d, &mac, 1, &s2, &err), QC_OK, "%s", err.msg);
            for (int64_t e = 0; e < m * n; e++)
                cr_assert(th_same_f(c1[e], c2[e]), "%s trans %d: element %lld: %a vs %a", macs[i],
                          trans, (long long)e, c1[e], c2[e]);
            cr_assert(th_same_stats(&s1, &s2), "%s: counters differ", macs[i]);
            cr_assert_eq(qc_board_gemm_cost(&cost, &zcu, m, n, k, &mac, QC_SCALE_POLICY_NONE, &err),
                         QC_OK);
            want += cost.cycles;
            want_macs += cost.macs;
        }
    }
    be->vt->timing(be, &t);
    cr_assert_eq(t.cycles, want);
    cr_assert_eq(t.macs, want_macs);
    cr_assert_eq(t.units, 64);
    cr_assert_float_eq(t.clock_hz, 280e6, 1.0);

    struct qc_mac native = mac_of("acc=native");
    struct qc_gemm_desc d;
    qc_gemm_desc_init(&d, m, n, k);
    cr_assert_eq(qc_backend_gemm(be, c1, a, b, &d, &native, NULL, &err), QC_EUNSUPP);
    cr_assert(strstr(err.msg, "native"), "%s", err.msg);
    qc_backend_destroy(be);
}

Test(fpga, backend_needs_a_known_board)
{
    struct qc_backend *be = NULL;
    struct qc_backend_opts opts = {.board = "nope"};
    struct qc_err err;

    cr_assert_eq(qc_backend_create(&be, "fpga", &opts, &err), QC_ENOTFOUND);
    cr_assert_null(be);
    cr_assert(strstr(err.msg, "nope"), "%s", err.msg);
    opts.board = "";
    cr_assert_eq(qc_backend_create(&be, "fpga", &opts, &err), QC_EINVAL);
    cr_assert_eq(err.field[0], '/', "%s", err.field);
}

/* The array's schedule replayed cycle by cycle: per tile a CLR, k MACs and
 * a FLUSH after each chunk enter unit (0,0); unit (i,j) executes each op
 * i+j cycles later; the GEMM is done once the far unit ran the last op. */
static uint64_t replay(int R, int C, int64_t m, int64_t n, int64_t k, int64_t chunk)
{
    const int64_t tiles = ((m + R - 1) / R) * ((n + C - 1) / C);
    const int64_t s = chunk > 0 && chunk < k ? chunk : k;
    int64_t issued = 0; /* ops issued into unit (0,0), one per cycle */

    for (int64_t t = 0; t < tiles; t++) {
        issued++; /* CLR */
        for (int64_t p = 0; p < k; p++) {
            issued++; /* MAC */
            if ((p + 1) % s == 0 || p + 1 == k)
                issued++; /* FLUSH */
        }
    }
    /* The last op entered at cycle issued-1 and reaches unit (R-1,C-1)
     * R-1+C-1 cycles later; cycles are counted from 0. */
    return (uint64_t)(issued - 1 + (R - 1) + (C - 1) + 1);
}

Test(fpga, array_cycles_equal_the_replayed_schedule)
{
    static const int64_t shapes[][4] = {
        {16, 4, 32, 8},     {17, 5, 33, 8}, {6, 16, 25, 0},   {120, 84, 400, 32},
        {16, 256, 144, 16}, {1, 1, 1, 0},   {64, 10, 64, 64}, {10, 84, 120, 7},
    };
    struct qc_board b = board_of("zcu104");

    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t *s = shapes[i];
        cr_assert_eq(qc_board_array_cycles(&b, s[0], s[1], s[2], s[3]),
                     replay(b.rows, b.cols, s[0], s[1], s[2], s[3]), "shape %zu", i);
    }
    cr_assert_eq(qc_board_array_cycles(&b, 0, 4, 8, 0), 0);
}

static uint64_t cost_of(const struct qc_board *b, int64_t m, int64_t n, int64_t k, const char *mac,
                        enum qc_scale_policy pol)
{
    struct qc_board_cost c;
    struct qc_err err;
    struct qc_mac x = mac_of(mac);

    cr_assert_eq(qc_board_gemm_cost(&c, b, m, n, k, &x, pol, &err), QC_OK, "%s", err.msg);
    cr_assert(c.cycles >= c.compute_cycles, "%s", mac);
    cr_assert_eq(c.cycles, c.compute_cycles + c.calib_cycles + c.stall_cycles, "%s", mac);
    return c.cycles;
}

/* Max calibration costs block formats time, delayed policies do not, and
 * scalar formats only under max; more bandwidth never costs cycles. */
Test(fpga, calibration_and_bandwidth_terms)
{
    struct qc_board b = board_of("zcu104");
    const char *mx[] = {"a=mxfp8_e4m3@16,b=mxfp8_e4m3@16", "a=mxfp8_e4m3@32,b=mxfp8_e4m3@32",
                        "a=mxfp8_e4m3@64,b=mxfp8_e4m3@64"};
    double prev = 0;

    for (int i = 0; i < 3; i++) {
        const uint64_t live = cost_of(&b, 64, 64, 576, mx[i], QC_SCALE_POLICY_MAX);
        const uint64_t none = cost_of(&b, 64, 64, 576, mx[i], QC_SCALE_POLICY_NONE);
        const uint64_t du = cost_of(&b, 64, 64, 576, mx[i], QC_SCALE_POLICY_DELAY_UPDATE);
        const uint64_t dl = cost_of(&b, 64, 64, 576, mx[i], QC_SCALE_POLICY_DELAYED);
        cr_assert_eq(live, none, "none takes block scales from the current amax too");
        cr_assert_eq(du, dl);
        cr_assert(live > du, "%s: max %llu vs delay_update %llu", mx[i], (unsigned long long)live,
                  (unsigned long long)du);
        const double ratio = (double)live / (double)du;
        cr_assert(ratio > prev, "the wait grows with the block: %g after %g", ratio, prev);
        prev = ratio;
    }
    const char *e5 = "cfg=5,a=e5m2,b=e5m2,acc=e6m5";
    cr_assert_eq(cost_of(&b, 64, 64, 576, e5, QC_SCALE_POLICY_NONE),
                 cost_of(&b, 64, 64, 576, e5, QC_SCALE_POLICY_DELAY_UPDATE));
    cr_assert(cost_of(&b, 64, 64, 576, e5, QC_SCALE_POLICY_MAX) >
              cost_of(&b, 64, 64, 576, e5, QC_SCALE_POLICY_DELAY_UPDATE));

    struct qc_board fast = b, slow = b;
    fast.ddr_bytes_per_s *= 10;
    slow.ddr_bytes_per_s /= 100;
    const uint64_t base = cost_of(&b, 128, 64, 1024, e5, QC_SCALE_POLICY_NONE);
    cr_assert(cost_of(&fast, 128, 64, 1024, e5, QC_SCALE_POLICY_NONE) <= base);
    struct qc_board_cost c;
    struct qc_err err;
    struct qc_mac x = mac_of(e5);
    cr_assert_eq(qc_board_gemm_cost(&c, &slow, 128, 64, 1024, &x, QC_SCALE_POLICY_NONE, &err),
                 QC_OK);
    /* Starved of bandwidth, a GEMM takes at least its traffic's time. */
    const double per_cycle = slow.ddr_bytes_per_s * slow.ddr_efficiency / slow.clock_hz;
    cr_assert(c.cycles > base && (double)c.cycles >= (double)c.bytes / per_cycle * 0.99);
    cr_assert(c.stall_cycles > c.compute_cycles);
    struct qc_mac native = mac_of("acc=native");
    cr_assert_eq(qc_board_gemm_cost(&c, &b, 4, 4, 4, &native, QC_SCALE_POLICY_NONE, &err),
                 QC_EUNSUPP);
    cr_assert_eq(qc_board_gemm_cost(&c, &b, -1, 4, 4, &x, QC_SCALE_POLICY_NONE, &err), QC_EINVAL);
}

/* No FPGA here: XRT, where built, finds none and says so; opening a board
 * fails with a message, and nothing pretends to be a device. */
Test(fpga, xrt_without_devices_says_why)
{
    struct qc_fpga_device devs[4];
    struct qc_err why;

    unsetenv("XILINX_XRT");
    qc_err_clear(&why);
    cr_assert_eq(qc_fpga_devices(devs, 4, &why), 0);
    cr_assert(why.msg[0], "no reason given");
    if (strstr(qc_fpga_xrt_version(), "no XRT")) {
        cr_assert(strstr(why.msg, "no XRT"), "%s", why.msg);
        cr_skip_test("this build has no XRT (libxrt-dev): only the stub was checked");
    }
    cr_assert(strstr(why.msg, "XILINX_XRT"), "%s", why.msg);

    /* Debian installs the shim XRT loads from $XILINX_XRT/lib in the
     * multiarch folder: a folder linking to it sets XRT up for real. */
    const char *shim = "/usr/lib/x86_64-linux-gnu/libxrt_core.so.2";
    if (access(shim, R_OK) != 0)
        cr_skip_test("no %s: XRT's shim is elsewhere on this machine", shim);
    char root[] = "/tmp/qlab-xrt.XXXXXX", lib[64], link[96];
    cr_assert_not_null(mkdtemp(root));
    snprintf(lib, sizeof lib, "%s/lib", root);
    snprintf(link, sizeof link, "%s/libxrt_core.so.2", lib);
    cr_assert_eq(mkdir(lib, 0755), 0);
    cr_assert_eq(symlink(shim, link), 0);
    setenv("XILINX_XRT", root, 1);
    qc_err_clear(&why);
    const int n = qc_fpga_devices(devs, 4, &why);
    unlink(link);
    rmdir(lib);
    rmdir(root);
    if (n > 0)
        cr_skip_test("this machine has %d FPGA device(s): the zero-device case does not apply", n);
    cr_assert(strstr(why.msg, "found no FPGA devices"), "%s", why.msg);

    struct qc_backend *be = NULL;
    struct qc_backend_opts opts = {.board = "u250", .xclbin = "/nonexistent/qgemm.xclbin"};
    struct qc_err err;
    cr_assert_neq(qc_backend_create(&be, "fpga", &opts, &err), QC_OK);
    cr_assert_null(be);
    cr_assert(err.msg[0]);
}
