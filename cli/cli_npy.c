/* .npy headers and the raw-or-text check (see cli_npy.h). */
#include "cli_npy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

bool cli_npy_is(const unsigned char *p, size_t n)
{
    return n >= sizeof MAGIC && memcmp(p, MAGIC, sizeof MAGIC) == 0;
}

/* The text after `key` (e.g. "'descr':") in the header dict, blanks skipped. */
static const char *value_of(const char *dict, const char *key)
{
    const char *k = strstr(dict, key);
    if (!k)
        return NULL;
    k += strlen(key);
    while (*k == ' ')
        k++;
    return k;
}

int cli_npy_parse(struct cli_npy *out, const unsigned char *p, size_t n, bool whole,
                  const char *name, struct qc_err *err)
{
    char dict[65536 + 1];
    size_t hlen, off;

    memset(out, 0, sizeof *out);
    if (!cli_npy_is(p, n) || n < 10)
        return qc_err_set(err, QC_ECORRUPT, "", "%s: not a .npy file", name);
    const int major = p[6];
    if (major == 1) {
        hlen = (size_t)p[8] | (size_t)p[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12)
            return qc_err_set(err, QC_ECORRUPT, "", "%s: truncated .npy header", name);
        hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
        off = 12;
    } else {
        return qc_err_set(err, QC_EUNSUPP, "", "%s: .npy version %d is not supported", name, major);
    }
    if (hlen >= sizeof dict || off + hlen > n)
        return qc_err_set(err, QC_ECORRUPT, "", "%s: truncated .npy header", name);
    memcpy(dict, p + off, hlen);
    dict[hlen] = '\0';
    const char *descr = value_of(dict, "'descr':");
    const char *order = value_of(dict, "'fortran_order':");
    const char *shape = value_of(dict, "'shape':");
    if (!descr || !order || !shape || *shape != '(')
        return qc_err_set(err, QC_ECORRUPT, "", "%s: .npy header without descr, order or shape",
                          name);
    if (strncmp(descr, "'<f4'", 5) == 0)
        out->elem = 4;
    else if (strncmp(descr, "'<f8'", 5) == 0)
        out->elem = 8;
    else
        return qc_err_set(err, QC_EUNSUPP, "", "%s: dtype %.12s: qlab reads little-endian f4 or f8",
                          name, descr);
    if (strncmp(order, "False", 5) != 0)
        return qc_err_set(err, QC_EUNSUPP, "", "%s: Fortran-order array: save it C-ordered", name);
    out->count = 1;
    for (const char *s = shape + 1; *s && *s != ')';) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        if (!isdigit((unsigned char)*s) || out->ndim == CLI_NPY_MAX_DIMS)
            return qc_err_set(err, QC_ECORRUPT, "", "%s: bad .npy shape %.40s", name, shape);
        char *end;
        long long d = strtoll(s, &end, 10);
        if (d < 0 || d > (INT64_C(1) << 40))
            return qc_err_set(err, QC_ECORRUPT, "", "%s: bad .npy shape %.40s", name, shape);
        out->shape[out->ndim++] = d;
        out->count *= d;
        if (out->count > (INT64_C(1) << 40))
            return qc_err_set(err, QC_ERANGE, "", "%s: .npy array too large", name);
        s = end;
    }
    out->data_off = off + hlen;
    if (whole && n != out->data_off + (size_t)out->count * out->elem)
        return qc_err_set(err, QC_ECORRUPT, "",
                          "%s: .npy shape holds %lld values (%zu bytes), the file has %zu bytes "
                          "of data",
                          name, (long long)out->count, (size_t)out->count * out->elem,
                          n - out->data_off);
    return QC_OK;
}

void cli_npy_header(struct cli_buf *b, size_t elem, const int64_t *shape, int ndim)
{
    char dict[512];
    int k =
        snprintf(dict, sizeof dict, "{'descr': '<f%zu', 'fortran_order': False, 'shape': (", elem);
    for (int i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s", (long long)shape[i],
                      ndim == 1      ? ","
                      : i + 1 < ndim ? ", "
                                     : "");
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    /* Magic, version, header length, then the dict padded with spaces and
     * ended by '\n' so that the data starts at a multiple of 64 bytes. */
    size_t total = 10 + (size_t)k + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)k + pad + 1;
    unsigned char head[10] = {0x93,
                              'N',
                              'U',
                              'M',
                              'P',
                              'Y',
                              1,
                              0,
                              (unsigned char)(hlen & 0xff),
                              (unsigned char)(hlen >> 8)};
    cli_buf_append(b, head, sizeof head);
    cli_buf_append(b, dict, (size_t)k);
    for (size_t i = 0; i < pad; i++)
        cli_buf_append(b, " ", 1);
    cli_buf_append(b, "\n", 1);
}

bool cli_looks_like_text(const unsigned char *p, size_t n)
{
    bool digit = false, sep = false;

    if (n < 8)
        return false;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = p[i];
        if (isdigit(c))
            digit = true;
        else if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',')
            sep = true;
        else if (!strchr("+-.eEinfINFaAtyTY", c) || c == '\0')
            return false;
    }
    return digit && sep;
}
