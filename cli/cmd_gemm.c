/* `qlab gemm`: C = A x B from two raw row-major f32 files, every product and
 * sum done as the --mac configuration says (qc_gemm_cpu, or the MPFR
 * reference qc_gemm_ref with --ref); C goes to stdout as raw f32. It is the
 * command-line way to see what an accumulator does to a dot product. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_npy.h"
#include "cli_util.h"
#include "qcore/gemm.h"
#include "qcore/gemm_cpu.h"
#include "qcore/ref.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "qlab reads and writes raw little-endian values as native floats");

/* Each dimension, and each matrix's element count, is bounded so that the
 * three matrices fit in memory and every index fits comfortably. */
#define DIM_MAX     ((int64_t)1 << 20)
#define ELEMS_MAX   ((int64_t)1 << 28)
#define THREADS_MAX 4096

static const char usage[] =
    "usage: qlab gemm -M m -N n -K k --a A.f32 --b B.f32 [OPTION...] > C.f32\n\n"
    "Computes C = A x B with an emulated MAC: A is m x k and B is k x n, both raw\n"
    "row-major little-endian f32 files; C (m x n f32) goes to stdout.\n\n"
    "  -M, -N, -K N        dimensions, each 1..1048576, each matrix at most 2^28\n"
    "                      elements\n"
    "      --a FILE        A, exactly m*k*4 bytes, or a .npy of float32, shape (m, k)\n"
    "      --b FILE        B, exactly k*n*4 bytes, or a .npy of float32, shape (k, n)\n"
    "      --mac CFG       MAC configuration (docs/mac.md), e.g.\n"
    "                      'cfg=5,product=exact,acc=e6m5,acc_rounding=rne,chunk=32';\n"
    "                      default: fp32 inputs, products and accumulator\n"
    "      --a-format F    input format of A (the mac's a=F)\n"
    "      --b-format F    input format of B (the mac's b=F)\n"
    "  -t, --threads T     CPU threads, 0 = all cores (default 0)\n"
    "      --ref           use the MPFR reference instead (slow; bit-identical)\n"
    "      --stats         print the counters and the canonical MAC string as one\n"
    "                      JSON line on stderr\n"
    "  -h, --help          this text\n";

/* Parses one dimension flag's value. */
static int parse_dim(int64_t *out, const char *flag, const char *s, const char *cmd)
{
    if (!cli_parse_i64(s, 1, DIM_MAX, out))
        return cli_fail(cmd, QC_EINVAL, "%s: '%s' is not an integer in 1..%lld", flag, s,
                        (long long)DIM_MAX);
    return 0;
}

/* The key of one "key=value" item of a MAC string, without blanks. */
static bool item_key_is(const char *item, size_t len, const char *key)
{
    while (len > 0 && (*item == ' ' || *item == '\t')) {
        item++;
        len--;
    }
    const size_t klen = strlen(key);
    if (len < klen || strncmp(item, key, klen) != 0)
        return false;
    item += klen;
    len -= klen;
    while (len > 0 && (*item == ' ' || *item == '\t')) {
        item++;
        len--;
    }
    return len > 0 && *item == '=';
}

/* The MAC string with --a-format/--b-format spliced in as a=/b= items
 * (replacing any the string had), so that an override means exactly what
 * writing it in --mac means, product defaults included. */
static void build_mac_text(struct cli_buf *b, const char *mac, const char *a_fmt, const char *b_fmt)
{
    const char *p = mac ? mac : "";

    while (*p) {
        size_t len = strcspn(p, ",");
        const bool drop =
            (a_fmt && item_key_is(p, len, "a")) || (b_fmt && item_key_is(p, len, "b"));
        if (!drop && len > 0) {
            cli_buf_printf(b, "%s", b->len ? "," : "");
            cli_buf_append(b, p, len);
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (a_fmt)
        cli_buf_printf(b, "%sa=%s", b->len ? "," : "", a_fmt);
    if (b_fmt)
        cli_buf_printf(b, "%sb=%s", b->len ? "," : "", b_fmt);
}

static void print_stats(const struct qc_round_stats *st, const struct qc_mac *mac, bool ref)
{
    char text[QC_MAC_TEXT_MAX];
    struct cli_buf b;

    qc_mac_describe(mac, text, sizeof text);
    cli_buf_init(&b);
    cli_buf_printf(&b, "{\"macs\":%llu,\"overflow\":%llu,\"underflow\":%llu,\"swamping\":%llu,",
                   (unsigned long long)st->ops, (unsigned long long)st->overflow,
                   (unsigned long long)st->underflow, (unsigned long long)st->swamping);
    cli_buf_printf(&b, "\"kernel\":\"%s\",\"mac\":", ref ? "ref" : "cpu");
    cli_buf_json_str(&b, text);
    cli_buf_printf(&b, "}\n");
    if (!b.oom)
        fputs(b.data, stderr);
    cli_buf_free(&b);
}

enum { OPT_A = 256, OPT_B, OPT_AF, OPT_BF, OPT_MAC, OPT_REF, OPT_STATS };

/* A rows x cols f32 matrix from `path`: raw (exactly rows*cols*4 bytes) or
 * a .npy of that shape; decimal text is refused by name. */
static int read_matrix(unsigned char **out, const char *path, int64_t rows, int64_t cols,
                       const char *why, struct qc_err *err)
{
    unsigned char head[4096];
    ssize_t got = 0;
    int fd = open(path, O_RDONLY);

    if (fd >= 0) {
        got = read(fd, head, sizeof head);
        close(fd);
    }
    if (got > 0 && cli_npy_is(head, (size_t)got)) {
        unsigned char *buf = NULL;
        size_t len = 0;
        struct cli_npy npy;
        int rc;
        if ((fd = open(path, O_RDONLY)) < 0)
            return qc_err_set(err, QC_EIO, "", "cannot open '%s': %s", path, strerror(errno));
        rc = cli_read_fd(&buf, &len, fd, path, (size_t)(rows * cols) * 4 + 65536 + 64, err);
        close(fd);
        if (!rc)
            rc = cli_npy_parse(&npy, buf, len, true, path, err);
        if (!rc && (npy.elem != 4 || npy.ndim != 2 || npy.shape[0] != rows || npy.shape[1] != cols))
            rc = qc_err_set(err, QC_ECORRUPT, "",
                            "'%s' is a .npy of %s with %d dimensions (%lld x %lld); expected "
                            "float32 of shape (%lld, %lld)",
                            path, npy.elem == 4 ? "float32" : "float64", npy.ndim,
                            (long long)(npy.ndim > 0 ? npy.shape[0] : 0),
                            (long long)(npy.ndim > 1 ? npy.shape[1] : 0), (long long)rows,
                            (long long)cols);
        if (rc) {
            free(buf);
            return rc;
        }
        memmove(buf, buf + npy.data_off, (size_t)(rows * cols) * 4);
        *out = buf;
        return QC_OK;
    }
    if (got > 0 && cli_looks_like_text(head, (size_t)got))
        return qc_err_set(err, QC_EINVAL, "",
                          "'%s' looks like decimal text, not raw f32 values: give raw "
                          "little-endian f32 or a .npy file",
                          path);
    return cli_read_file_exact(out, path, (size_t)(rows * cols) * sizeof(float), why, err);
}

int cli_cmd_gemm(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"a", required_argument, NULL, OPT_A},
        {"b", required_argument, NULL, OPT_B},
        {"a-format", required_argument, NULL, OPT_AF},
        {"b-format", required_argument, NULL, OPT_BF},
        {"mac", required_argument, NULL, OPT_MAC},
        {"threads", required_argument, NULL, 't'},
        {"ref", no_argument, NULL, OPT_REF},
        {"stats", no_argument, NULL, OPT_STATS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    const char *m_s = NULL, *n_s = NULL, *k_s = NULL, *a_path = NULL, *b_path = NULL;
    const char *a_fmt = NULL, *b_fmt = NULL, *mac_s = NULL, *threads_s = NULL;
    bool ref = false, stats = false;
    int64_t m, n, k, threads = 0;
    unsigned char *a = NULL, *b = NULL;
    float *c = NULL;
    struct qc_round_stats st = {0};
    struct qc_gemm_desc desc;
    struct qc_mac mac;
    struct qc_err err;
    struct qc_format probe;
    struct cli_buf text;
    char why[96];
    int opt, rc = 0;

    if (cli_wants_help(argc, argv))
        return cli_print_help(usage);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":M:N:K:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'M':
            m_s = optarg;
            break;
        case 'N':
            n_s = optarg;
            break;
        case 'K':
            k_s = optarg;
            break;
        case 't':
            threads_s = optarg;
            break;
        case OPT_A:
            a_path = optarg;
            break;
        case OPT_B:
            b_path = optarg;
            break;
        case OPT_AF:
            a_fmt = optarg;
            break;
        case OPT_BF:
            b_fmt = optarg;
            break;
        case OPT_MAC:
            mac_s = optarg;
            break;
        case OPT_REF:
            ref = true;
            break;
        case OPT_STATS:
            stats = true;
            break;
        default:
            return cli_fail_opt(cmd, opt, argv);
        }
    }
    if (optind < argc)
        return cli_fail(cmd, QC_EINVAL, "unexpected argument '%s'", argv[optind]);
    if (!m_s || !n_s || !k_s)
        return cli_fail(cmd, QC_EINVAL, "missing %s", !m_s ? "-M" : !n_s ? "-N" : "-K");
    if (!a_path || !b_path)
        return cli_fail(cmd, QC_EINVAL, "missing %s", !a_path ? "--a" : "--b");
    if ((rc = parse_dim(&m, "-M", m_s, cmd)) || (rc = parse_dim(&n, "-N", n_s, cmd)) ||
        (rc = parse_dim(&k, "-K", k_s, cmd)))
        return rc;
    const struct {
        const char *what;
        int64_t elems;
    } mats[] = {{"A (m*k)", m * k}, {"B (k*n)", k * n}, {"C (m*n)", m * n}};
    for (int i = 0; i < 3; i++)
        if (mats[i].elems > ELEMS_MAX)
            return cli_fail(cmd, QC_EINVAL, "%s is %lld elements, more than the limit of %lld",
                            mats[i].what, (long long)mats[i].elems, (long long)ELEMS_MAX);
    if (threads_s && !cli_parse_i64(threads_s, 0, THREADS_MAX, &threads))
        return cli_fail(cmd, QC_EINVAL, "--threads: '%s' is not an integer in 0..%d", threads_s,
                        THREADS_MAX);

    /* Formats first on their own, so a bad one is reported under its flag. */
    qc_err_clear(&err);
    if (a_fmt && qc_format_parse(&probe, a_fmt, &err))
        return cli_fail_err(cmd, "--a-format", &err);
    if (b_fmt && qc_format_parse(&probe, b_fmt, &err))
        return cli_fail_err(cmd, "--b-format", &err);
    cli_buf_init(&text);
    build_mac_text(&text, mac_s, a_fmt, b_fmt);
    if (text.oom) {
        cli_buf_free(&text);
        return cli_fail(cmd, QC_ENOMEM, "out of memory");
    }
    if (text.len == 0) {
        qc_mac_init(&mac);
        rc = qc_mac_resolve(&mac, &err);
    } else {
        rc = qc_mac_parse(&mac, text.data, &err);
    }
    cli_buf_free(&text);
    if (rc)
        return cli_fail_err(cmd, a_fmt || b_fmt ? "--mac (with --a-format/--b-format)" : "--mac",
                            &err);

    qc_gemm_desc_init(&desc, m, n, k);
    if (qc_gemm_check(&desc, &mac, &err))
        return cli_fail_err(cmd, NULL, &err);

    snprintf(why, sizeof why, "m*k = %lld x %lld f32 values", (long long)m, (long long)k);
    if (read_matrix(&a, a_path, m, k, why, &err)) {
        rc = cli_fail_err(cmd, "--a", &err);
        goto out;
    }
    snprintf(why, sizeof why, "k*n = %lld x %lld f32 values", (long long)k, (long long)n);
    if (read_matrix(&b, b_path, k, n, why, &err)) {
        rc = cli_fail_err(cmd, "--b", &err);
        goto out;
    }
    c = malloc((size_t)(m * n) * sizeof *c);
    if (!c) {
        rc = cli_fail(cmd, QC_ENOMEM, "out of memory for C (%lld x %lld)", (long long)m,
                      (long long)n);
        goto out;
    }
    if (ref)
        rc = qc_gemm_ref(c, (const float *)a, (const float *)b, &desc, &mac, &st, &err);
    else
        rc = qc_gemm_cpu(c, (const float *)a, (const float *)b, &desc, &mac, (int)threads, &st,
                         &err);
    if (rc) {
        rc = cli_fail_err(cmd, NULL, &err);
        goto out;
    }
    if (cli_write_all(STDOUT_FILENO, c, (size_t)(m * n) * sizeof *c, "stdout", &err)) {
        rc = cli_fail_err(cmd, NULL, &err);
        goto out;
    }
    if (stats)
        print_stats(&st, &mac, ref);
out:
    free(a);
    free(b);
    free(c);
    return rc;
}
