/* `qlab quantize`: raw little-endian f32/f64 values on stdin (or a .npy
 * file, or decimal text with --text), the same values rounded once to a
 * format on stdout, in the same form, through qc_quantize_f32/_f64. Scalar
 * formats read raw from a regular file are streamed in chunks (first_index
 * keeps stochastic rounding identical to one call); everything else is read
 * whole and written only once it has all succeeded. Text given where raw
 * values are expected is refused: read as floats it would be nonsense. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_npy.h"
#include "cli_util.h"
#include "qcore/quantize.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "qlab reads and writes raw little-endian values as native floats");

/* Input beyond this is refused: it is held in memory (with the output). */
#define INPUT_LIMIT ((size_t)1 << 30)
/* Values per quantize call when streaming or converting. */
#define CHUNK_VALUES ((int64_t)1 << 16)

static const char usage[] =
    "usage: qlab quantize --format FMT [OPTION...] < IN > OUT\n\n"
    "Reads raw little-endian values from stdin and writes each one rounded\n"
    "(once, exactly) to FMT on stdout, in the output type. A .npy file (f4 or\n"
    "f8, C order) is read as its dtype and shape (the last dimension is --cols)\n"
    "and written back as a .npy of the output type. With --text, stdin holds\n"
    "decimal numbers (separated by blanks, newlines or commas; read as the\n"
    "nearest f64 unless --in f32) and stdout gets the results as decimals that\n"
    "read back exactly, one per line (a row of --cols per line).\n\n"
    "  -f, --format FMT        number format (see 'qlab formats'); required\n"
    "  -r, --rounding R        rne (default), rna, rtz, rup, rdn, sr, sr:BITS\n"
    "  -s, --seed S            seed of stochastic rounding (decimal or 0x hex; 0)\n"
    "      --scale-rule RULE   block scale: floor (default, OCP), ceil, round\n"
    "      --cols N            values per row: blocks of MX/BFP formats never\n"
    "                          cross rows (default: the whole input is one row)\n"
    "      --in f32|f64        input element type (default f32)\n"
    "      --out f32|f64       output element type (default: the input's)\n"
    "      --text              decimal text in and out instead of raw values\n"
    "      --stats             print the rounding counters as one JSON line on stderr\n"
    "  -h, --help              this text\n\n"
    "Value i of the input draws stochastic-rounding bits for index i, so a\n"
    "result depends only on the seed and the position. The input is limited\n"
    "to 1 GiB.\n";

struct qopts {
    struct qc_format fmt;
    struct qc_round rnd;
    enum qc_scale_rule rule;
    int64_t cols;             /* 0: not given */
    size_t in_size, out_size; /* 4 (f32) or 8 (f64) */
    bool in_given, out_given; /* --in, --out were given */
    bool text;                /* --text */
};

static int parse_type(size_t *out, const char *s)
{
    if (strcmp(s, "f32") == 0)
        *out = 4;
    else if (strcmp(s, "f64") == 0)
        *out = 8;
    else
        return -1;
    return 0;
}

/* f64 values that must become f32: exact by construction when the format
 * fits fp32; checked anyway so a value never changes silently. `out` may
 * alias `in` (float i lands at or before double i's bytes). */
static int narrow(void *out, const double *in, int64_t n, uint64_t first, struct qc_err *err)
{
    unsigned char *o = out;

    for (int64_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, &in[i], sizeof v);
        float f = (float)v;
        if (!isnan(v) && (double)f != v)
            return qc_err_set(err, QC_ERANGE, "",
                              "value %.17g at index %llu is not an fp32 value; use --out f64", v,
                              (unsigned long long)(first + (uint64_t)i));
        memcpy(o + (size_t)i * sizeof f, &f, sizeof f);
    }
    return QC_OK;
}

/* Rounds rows x cols values of the input type in `in` (modified in place)
 * into `out` of the output type. For f32 -> f64 `out` must not alias `in`;
 * otherwise it may. */
static int quantize(void *out, void *in, int64_t rows, int64_t cols, const struct qopts *o,
                    uint64_t first, struct qc_round_stats *total, struct qc_err *err)
{
    struct qc_round_stats st = {0};
    const int64_t n = rows * cols;
    int rc;

    if (o->in_size == 4 && o->out_size == 4) {
        rc = qc_quantize_f32(out, in, rows, cols, &o->fmt, &o->rnd, o->rule, first, &st, err);
    } else if (o->in_size == 8 && o->out_size == 8) {
        rc = qc_quantize_f64(out, in, rows, cols, &o->fmt, &o->rnd, o->rule, first, &st, err);
    } else if (o->in_size == 4) {
        /* f32 -> f64 is exact, so rounding the widened values rounds once. */
        double *d = out;
        const float *f = in;
        for (int64_t i = 0; i < n; i++)
            d[i] = f[i];
        rc = qc_quantize_f64(d, d, rows, cols, &o->fmt, &o->rnd, o->rule, first, &st, err);
    } else {
        rc = qc_quantize_f64(in, in, rows, cols, &o->fmt, &o->rnd, o->rule, first, &st, err);
        if (!rc)
            rc = narrow(out, in, n, first, err);
    }
    if (!rc)
        qc_round_stats_add(total, &st);
    return rc;
}

/* Scalar formats from a regular file: chunk by chunk, O(chunk) memory. The
 * size is validated before anything is written, and a format the output
 * type cannot hold fails on the first chunk, also before any write. */
static int run_stream(const struct qopts *o, size_t bytes, struct qc_round_stats *st,
                      struct qc_err *err)
{
    const int64_t total = (int64_t)(bytes / o->in_size);
    unsigned char *in = malloc((size_t)CHUNK_VALUES * o->in_size);
    unsigned char *out = malloc((size_t)CHUNK_VALUES * o->out_size);
    int rc = QC_OK;

    if (!in || !out) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    for (int64_t done = 0; done < total;) {
        const int64_t n = total - done < CHUNK_VALUES ? total - done : CHUNK_VALUES;
        const size_t want = (size_t)n * o->in_size;
        size_t got = 0;
        while (got < want) {
            ssize_t r = read(STDIN_FILENO, in + got, want - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                rc = qc_err_set(err, QC_EIO, "", "stdin: %s after %zu of %zu bytes",
                                r < 0 ? strerror(errno) : "file shrank while reading",
                                (size_t)done * o->in_size + got, bytes);
                goto out;
            }
            got += (size_t)r;
        }
        if ((rc = quantize(out, in, n, 1, o, (uint64_t)done, st, err)))
            goto out;
        if ((rc = cli_write_all(STDOUT_FILENO, out, (size_t)n * o->out_size, "stdout", err)))
            goto out;
        done += n;
    }
out:
    free(in);
    free(out);
    return rc;
}

/* Rounds the n values in `in` (input type, modified) into *out (output
 * type; `in` itself unless widening), row by row of o->cols. */
static int quantize_all(unsigned char **out, unsigned char *in, int64_t n, const struct qopts *o,
                        struct qc_round_stats *st, struct qc_err *err)
{
    int rc = QC_OK;

    *out = in;
    if (o->cols && n % o->cols)
        return qc_err_set(err, QC_ECORRUPT, "", "stdin holds %lld values, not rows of --cols %lld",
                          (long long)n, (long long)o->cols);
    if (n == 0)
        return QC_OK;
    /* Only a widening needs a second buffer; the other cases work in place. */
    if (o->out_size > o->in_size && !(*out = malloc((size_t)n * o->out_size)))
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for %lld output values", (long long)n);
    if (qc_format_is_scalar(&o->fmt)) {
        for (int64_t done = 0; done < n && !rc; done += CHUNK_VALUES) {
            const int64_t c = n - done < CHUNK_VALUES ? n - done : CHUNK_VALUES;
            rc = quantize(*out + (size_t)done * o->out_size, in + (size_t)done * o->in_size, c, 1,
                          o, (uint64_t)done, st, err);
        }
    } else {
        const int64_t cols = o->cols ? o->cols : n;
        rc = quantize(*out, in, n / cols, cols, o, 0, st, err);
    }
    return rc;
}

/* Decimal text into n values of the input type (a new buffer). */
static int parse_text(unsigned char **vals, int64_t *n, const char *text, size_t len,
                      const struct qopts *o, struct qc_err *err)
{
    size_t cap = 1024;
    int64_t k = 0;
    unsigned char *v = malloc(cap * o->in_size);
    const char *p = text, *end = text + len;

    if (!v)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') {
            p++;
            continue;
        }
        char tok[128];
        size_t tl = strcspn(p, " \t\r\n,");
        if (tl > (size_t)(end - p))
            tl = (size_t)(end - p);
        snprintf(tok, sizeof tok, "%.*s", (int)(tl < sizeof tok - 1 ? tl : sizeof tok - 1), p);
        char *stop;
        errno = 0;
        double d = strtod(tok, &stop);
        if (tl >= sizeof tok || stop == tok || *stop) {
            free(v);
            return qc_err_set(err, QC_EINVAL, "", "stdin: value %lld, '%.40s', is not a number",
                              (long long)k + 1, tok);
        }
        if ((size_t)k == cap) {
            unsigned char *w = realloc(v, 2 * cap * o->in_size);
            if (!w) {
                free(v);
                return qc_err_set(err, QC_ENOMEM, "", "out of memory");
            }
            v = w;
            cap *= 2;
        }
        if (o->in_size == 4) {
            /* --in f32: the value is first the nearest f32, as a raw f32 file would hold. */
            float f = (float)d;
            memcpy(v + (size_t)k * 4, &f, 4);
        } else {
            memcpy(v + (size_t)k * 8, &d, 8);
        }
        k++;
        p += tl;
    }
    *vals = v;
    *n = k;
    return QC_OK;
}

/* The shortest decimal that reads back as the f32 `f`. */
static void fmt_float(char *out, size_t len, float f)
{
    if (f == (float)(long long)f && f > -0x1p53f && f < 0x1p53f && (f != 0 || !signbit(f))) {
        snprintf(out, len, "%lld", (long long)f);
        return;
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, len, "%.*g", prec, (double)f);
        if (strtof(out, NULL) == f)
            return;
    }
}

static int write_text(const unsigned char *vals, int64_t n, const struct qopts *o,
                      struct qc_err *err)
{
    struct cli_buf b;
    char cell[64];
    int rc;

    cli_buf_init(&b);
    for (int64_t i = 0; i < n; i++) {
        if (o->out_size == 4) {
            float f;
            memcpy(&f, vals + (size_t)i * 4, 4);
            fmt_float(cell, sizeof cell, f);
        } else {
            double d;
            memcpy(&d, vals + (size_t)i * 8, 8);
            cli_fmt_double(cell, sizeof cell, d);
        }
        const bool eol = !o->cols || (i + 1) % o->cols == 0;
        cli_buf_printf(&b, "%s%c", cell, eol ? '\n' : ' ');
    }
    rc = b.oom ? qc_err_set(err, QC_ENOMEM, "", "out of memory")
               : cli_write_all(STDOUT_FILENO, b.data, b.len, "stdout", err);
    cli_buf_free(&b);
    return rc;
}

/* Everything else: read all of stdin (raw, .npy or --text), round all of
 * it, then write it in the form it came in. */
static int run_whole(struct qopts *o, struct qc_round_stats *st, struct qc_err *err)
{
    unsigned char *in = NULL, *out = NULL, *vals = NULL;
    size_t bytes = 0;
    int64_t n = 0;
    struct cli_npy npy;
    bool is_npy = false;
    int rc;

    if ((rc = cli_read_fd(&in, &bytes, STDIN_FILENO, "stdin", INPUT_LIMIT, err)))
        return rc;
    if (o->text) {
        if ((rc = parse_text(&vals, &n, (const char *)in, bytes, o, err)))
            goto out;
    } else if (cli_npy_is(in, bytes)) {
        if ((rc = cli_npy_parse(&npy, in, bytes, true, "stdin", err)))
            goto out;
        if (o->in_given && npy.elem != o->in_size) {
            rc =
                qc_err_set(err, QC_EINVAL, "--in", "stdin is a .npy of f%zu values; --in says f%zu",
                           npy.elem * 8, o->in_size * 8);
            goto out;
        }
        o->in_size = npy.elem;
        if (!o->out_given)
            o->out_size = npy.elem;
        if (!o->cols && npy.ndim >= 2)
            o->cols = npy.shape[npy.ndim - 1];
        is_npy = true;
        n = npy.count;
        vals = in + npy.data_off;
    } else {
        if (cli_looks_like_text(in, bytes < 4096 ? bytes : 4096)) {
            rc = qc_err_set(err, QC_EINVAL, "",
                            "stdin looks like decimal text ('%.20s...'), not raw %s values: use "
                            "--text, or give raw little-endian values (or a .npy file)",
                            (const char *)in, o->in_size == 4 ? "f32" : "f64");
            goto out;
        }
        if (bytes % o->in_size) {
            rc = qc_err_set(err, QC_ECORRUPT, "",
                            "stdin holds %zu bytes, not a multiple of the %zu-byte %s element",
                            bytes, o->in_size, o->in_size == 4 ? "f32" : "f64");
            goto out;
        }
        n = (int64_t)(bytes / o->in_size);
        vals = in;
    }
    if ((rc = quantize_all(&out, vals, n, o, st, err)))
        goto out;
    if (o->text) {
        rc = write_text(out, n, o, err);
    } else if (is_npy) {
        struct cli_buf b;
        cli_buf_init(&b);
        cli_npy_header(&b, o->out_size, npy.shape, npy.ndim);
        rc = b.oom ? qc_err_set(err, QC_ENOMEM, "", "out of memory")
                   : cli_write_all(STDOUT_FILENO, b.data, b.len, "stdout", err);
        cli_buf_free(&b);
        if (!rc && n)
            rc = cli_write_all(STDOUT_FILENO, out, (size_t)n * o->out_size, "stdout", err);
    } else if (n) {
        rc = cli_write_all(STDOUT_FILENO, out, (size_t)n * o->out_size, "stdout", err);
    }
out:
    if (out != vals)
        free(out);
    if (vals != in && !is_npy)
        free(vals);
    free(in);
    return rc;
}

/* The first bytes of a regular stdin, left unread (pread). */
static size_t peek(unsigned char *buf, size_t len)
{
    off_t pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
    ssize_t r = pos < 0 ? -1 : pread(STDIN_FILENO, buf, len, pos);
    return r > 0 ? (size_t)r : 0;
}

/* True when stdin is a regular file; *bytes is what is left of it. */
static bool stdin_regular(size_t *bytes)
{
    struct stat sb;

    if (fstat(STDIN_FILENO, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    off_t pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
    if (pos < 0)
        return false;
    *bytes = pos < sb.st_size ? (size_t)(sb.st_size - pos) : 0;
    return true;
}

/* One JSON line on stderr: what was done and the core's counters. */
static void print_stats(const struct qopts *o, const struct qc_round_stats *st)
{
    char rnd[64];
    struct cli_buf b;

    qc_round_describe(&o->rnd, rnd, sizeof rnd);
    cli_buf_init(&b);
    cli_buf_printf(&b, "{\"format\":");
    cli_buf_json_str(&b, o->fmt.name);
    cli_buf_printf(&b, ",\"rounding\":");
    cli_buf_json_str(&b, rnd);
    cli_buf_printf(&b, ",\"seed\":%llu,\"scale_rule\":", (unsigned long long)o->rnd.seed);
    cli_buf_json_str(&b, qc_scale_rule_name(o->rule));
    cli_buf_printf(&b, ",\"ops\":%llu,\"overflow\":%llu,\"underflow\":%llu}\n",
                   (unsigned long long)st->ops, (unsigned long long)st->overflow,
                   (unsigned long long)st->underflow);
    if (!b.oom)
        fputs(b.data, stderr);
    cli_buf_free(&b);
}

enum { OPT_SCALE = 256, OPT_COLS, OPT_IN, OPT_OUT, OPT_STATS, OPT_TEXT };

int cli_cmd_quantize(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"rounding", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},
        {"scale-rule", required_argument, NULL, OPT_SCALE},
        {"cols", required_argument, NULL, OPT_COLS},
        {"in", required_argument, NULL, OPT_IN},
        {"out", required_argument, NULL, OPT_OUT},
        {"stats", no_argument, NULL, OPT_STATS},
        {"text", no_argument, NULL, OPT_TEXT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    const char *fmt_s = NULL, *rnd_s = "rne", *rule_s = "floor", *seed_s = NULL;
    const char *in_s = NULL, *out_s = NULL, *cols_s = NULL;
    struct qc_round_stats st = {0};
    struct qopts o;
    struct qc_err err;
    bool stats = false, text = false;
    size_t bytes = 0;
    uint64_t seed = 0;
    int c, rc;

    if (cli_wants_help(argc, argv))
        return cli_print_help(usage);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:r:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            fmt_s = optarg;
            break;
        case 'r':
            rnd_s = optarg;
            break;
        case 's':
            seed_s = optarg;
            break;
        case OPT_SCALE:
            rule_s = optarg;
            break;
        case OPT_COLS:
            cols_s = optarg;
            break;
        case OPT_IN:
            in_s = optarg;
            break;
        case OPT_OUT:
            out_s = optarg;
            break;
        case OPT_STATS:
            stats = true;
            break;
        case OPT_TEXT:
            text = true;
            break;
        default:
            return cli_fail_opt(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_fail(cmd, QC_EINVAL, "unexpected argument '%s' (values come on stdin)",
                        argv[optind]);

    memset(&o, 0, sizeof o);
    qc_err_clear(&err);
    if (!fmt_s)
        return cli_fail(cmd, QC_EINVAL, "missing --format");
    if (qc_format_parse(&o.fmt, fmt_s, &err))
        return cli_fail_err(cmd, "--format", &err);
    qc_round_init(&o.rnd, QC_ROUND_RNE);
    if (qc_round_parse(&o.rnd, rnd_s, &err))
        return cli_fail_err(cmd, "--rounding", &err);
    if (seed_s && !cli_parse_u64(seed_s, &seed))
        return cli_fail(cmd, QC_EINVAL, "--seed: '%s' is not an unsigned 64-bit integer", seed_s);
    o.rnd.seed = seed;
    o.rnd.stream = 0;
    if (qc_scale_rule_parse(&o.rule, rule_s, &err))
        return cli_fail_err(cmd, "--scale-rule", &err);
    if (cols_s && !cli_parse_i64(cols_s, 1, (int64_t)(INPUT_LIMIT / 4), &o.cols))
        return cli_fail(cmd, QC_EINVAL, "--cols: '%s' is not an integer in 1..%zu", cols_s,
                        INPUT_LIMIT / 4);
    o.text = text;
    o.in_given = in_s != NULL;
    o.out_given = out_s != NULL;
    if (!in_s)
        in_s = text ? "f64" : "f32"; /* text is read as the nearest double */
    if (parse_type(&o.in_size, in_s))
        return cli_fail(cmd, QC_EINVAL, "--in: '%s' is not f32 or f64", in_s);
    o.out_size = o.in_size;
    if (out_s && parse_type(&o.out_size, out_s))
        return cli_fail(cmd, QC_EINVAL, "--out: '%s' is not f32 or f64", out_s);
    /* The f64 -> f32 path rounds in f64 and narrows: refuse up front, as
     * qc_quantize_f32 does, a format whose values fp32 cannot hold. */
    if (o.in_size == 8 && o.out_size == 4 && qc_format_is_scalar(&o.fmt) &&
        !qc_format_fits_f32(&o.fmt))
        return cli_fail(cmd, QC_EINVAL,
                        "--out f32: %s has values that are not fp32 values; use --out f64",
                        o.fmt.name);

    unsigned char head[4096];
    size_t nhead = 0;
    bool regular = stdin_regular(&bytes);
    if (regular)
        nhead = peek(head, sizeof head);
    /* .npy files and text go the whole-input way, which reads them. */
    if (!text && qc_format_is_scalar(&o.fmt) && regular && !cli_npy_is(head, nhead) &&
        !cli_looks_like_text(head, nhead)) {
        if (bytes > INPUT_LIMIT)
            return cli_fail(cmd, QC_ERANGE, "stdin holds %zu bytes, more than the limit of %zu",
                            bytes, INPUT_LIMIT);
        if (bytes % o.in_size)
            return cli_fail(cmd, QC_ECORRUPT,
                            "stdin holds %zu bytes, not a multiple of the %zu-byte %s element",
                            bytes, o.in_size, o.in_size == 4 ? "f32" : "f64");
        if (o.cols && (int64_t)(bytes / o.in_size) % o.cols)
            return cli_fail(cmd, QC_ECORRUPT, "stdin holds %lld values, not rows of --cols %lld",
                            (long long)(bytes / o.in_size), (long long)o.cols);
        rc = run_stream(&o, bytes, &st, &err);
    } else {
        rc = run_whole(&o, &st, &err);
    }
    if (rc)
        return cli_fail_err(cmd, NULL, &err);
    if (stats)
        print_stats(&o, &st);
    return 0;
}
