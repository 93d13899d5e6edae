/* Typed sweep axes: a parameter written as a family of formats (every
 * exponent x mantissa split, fixed-point widths, MX element x block size) or
 * as an integer sequence (a CFG range), expanded into the plain list of
 * values the rest of the sweep code knows. Members are validated one by one
 * with the format parser and ordered by bit width, so heatmaps and
 * accuracy-vs-bits plots get real, ordered axes. */
#include "sweep_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/format.h"

/* One expanded member before sorting: its text and its sort keys. */
struct member {
    char text[QC_FORMAT_NAME_MAX];
    int bits, k1, k2; /* total (element) bits, then family-specific keys */
};

/* Small integer list read from key `key` of `o`. */
struct ints {
    int64_t v[64];
    int n;
};

static int read_ints(struct ints *out, const json_t *o, const char *key, int64_t lo, int64_t hi,
                     bool required, const char *where, struct qc_err *err)
{
    const json_t *a = json_object_get(o, key);
    size_t i;
    const json_t *x;

    out->n = 0;
    if (!a) {
        if (required)
            return qc_err_set(err, QC_EINVAL, where, "this family needs \"%s\"", key);
        return QC_OK;
    }
    if (!json_is_array(a) || json_array_size(a) == 0 ||
        json_array_size(a) > sizeof out->v / sizeof out->v[0])
        return qc__sweep_fail_at(err, where, key, "must be an array of 1..64 integers");
    json_array_foreach(a, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) {
            char at[200], idx[24], msg[96];
            snprintf(at, sizeof at, "%s/%s", where, key);
            snprintf(idx, sizeof idx, "%zu", i);
            snprintf(msg, sizeof msg, "must be an integer in %lld..%lld", (long long)lo,
                     (long long)hi);
            return qc__sweep_fail_at(err, at, idx, msg);
        }
        out->v[out->n++] = json_integer_value(x);
    }
    return QC_OK;
}

/* The strings of array `key` (default: one empty string). */
static int read_strings(const char *out[64], int *n, const json_t *o, const char *key,
                        bool required, const char *where, struct qc_err *err)
{
    const json_t *a = json_object_get(o, key);
    size_t i;
    const json_t *x;

    *n = 0;
    if (!a) {
        if (required)
            return qc_err_set(err, QC_EINVAL, where, "this family needs \"%s\"", key);
        out[(*n)++] = "";
        return QC_OK;
    }
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 64)
        return qc__sweep_fail_at(err, where, key, "must be an array of 1..64 strings");
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x) || strlen(json_string_value(x)) > 40) {
            char at[200], idx[24];
            snprintf(at, sizeof at, "%s/%s", where, key);
            snprintf(idx, sizeof idx, "%zu", i);
            return qc__sweep_fail_at(err, at, idx, "must be a string of at most 40 characters");
        }
        out[(*n)++] = json_string_value(x);
    }
    return QC_OK;
}

static int cmp_member(const void *pa, const void *pb)
{
    const struct member *a = pa, *b = pb;
    if (a->bits != b->bits)
        return a->bits < b->bits ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    return a->k2 < b->k2 ? -1 : a->k2 > b->k2;
}

/* Appends member `text` after checking that it parses as a format; the
 * error names the member and what made it. */
static int add_member(struct member *m, int *n, const char *text, int k1, int k2,
                      const char *made_of, const char *where, struct qc_err *err)
{
    struct qc_format f;
    struct qc_err ferr;

    if (*n >= QC_SWEEP_VALUES_MAX)
        return qc_err_set(err, QC_EINVAL, where, "the family has more than %d members",
                          QC_SWEEP_VALUES_MAX);
    if (qc_format_parse(&f, text, &ferr) < 0)
        return qc_err_set(err, QC_EINVAL, where, "member '%s' (%s): %s", text, made_of, ferr.msg);
    for (int i = 0; i < *n; i++)
        if (strcmp(m[i].text, text) == 0)
            return qc_err_set(err, QC_EINVAL, where, "member '%s' (%s) appears twice", text,
                              made_of);
    snprintf(m[*n].text, sizeof m[*n].text, "%s", text);
    m[*n].bits = f.bits;
    m[*n].k1 = k1;
    m[*n].k2 = k2;
    (*n)++;
    return QC_OK;
}

static void with_mod(char *buf, size_t len, const char *base, const char *mod)
{
    snprintf(buf, len, "%s%s%s", base, mod[0] ? ":" : "", mod);
}

/* {"family": "eXmY", "exp": [...], "man": [...], "mods": [...]} */
static int family_float(struct member *m, int *n, const json_t *o, const char *where,
                        struct qc_err *err)
{
    static const char *const keys[] = {"family", "exp", "man", "mods", NULL};
    struct ints e, man;
    const char *mods[64];
    int nmods, rc;

    if ((rc = qc__sweep_check_keys(o, where, keys, err)) < 0 ||
        (rc = read_ints(&e, o, "exp", 2, 11, true, where, err)) < 0 ||
        (rc = read_ints(&man, o, "man", 0, 52, true, where, err)) < 0 ||
        (rc = read_strings(mods, &nmods, o, "mods", false, where, err)) < 0)
        return rc;
    for (int i = 0; i < e.n; i++)
        for (int j = 0; j < man.n; j++)
            for (int k = 0; k < nmods; k++) {
                char base[32], text[QC_FORMAT_NAME_MAX], what[96];
                snprintf(base, sizeof base, "e%dm%d", (int)e.v[i], (int)man.v[j]);
                with_mod(text, sizeof text, base, mods[k]);
                snprintf(what, sizeof what, "exp %d, man %d, mods '%s'", (int)e.v[i], (int)man.v[j],
                         mods[k]);
                if ((rc = add_member(m, n, text, (int)e.v[i], k, what, where, err)) < 0)
                    return rc;
            }
    return QC_OK;
}

/* {"family": "qM.N", "bits": [total...], "int": [M...], "mods": [...]} */
static int family_fixed(struct member *m, int *n, const json_t *o, const char *where,
                        struct qc_err *err)
{
    static const char *const keys[] = {"family", "bits", "int", "mods", NULL};
    struct ints bits, ib;
    const char *mods[64];
    int nmods, rc;

    if ((rc = qc__sweep_check_keys(o, where, keys, err)) < 0 ||
        (rc = read_ints(&bits, o, "bits", 2, 64, true, where, err)) < 0 ||
        (rc = read_ints(&ib, o, "int", 1, 64, true, where, err)) < 0 ||
        (rc = read_strings(mods, &nmods, o, "mods", false, where, err)) < 0)
        return rc;
    for (int i = 0; i < bits.n; i++)
        for (int j = 0; j < ib.n; j++)
            for (int k = 0; k < nmods; k++) {
                char base[32], text[QC_FORMAT_NAME_MAX], what[96];
                if (ib.v[j] > bits.v[i])
                    return qc_err_set(err, QC_EINVAL, where,
                                      "int %d exceeds bits %d: a qM.N format needs M <= M + N",
                                      (int)ib.v[j], (int)bits.v[i]);
                snprintf(base, sizeof base, "q%d.%d", (int)ib.v[j], (int)(bits.v[i] - ib.v[j]));
                with_mod(text, sizeof text, base, mods[k]);
                snprintf(what, sizeof what, "bits %d, int %d, mods '%s'", (int)bits.v[i],
                         (int)ib.v[j], mods[k]);
                if ((rc = add_member(m, n, text, (int)ib.v[j], k, what, where, err)) < 0)
                    return rc;
            }
    return QC_OK;
}

/* {"family": "mx", "elem": ["fp8_e4m3", "int8", ...], "block": [16, 32]} and
 * {"family": "bfp", "bits": [4, 8], "block": [...]} */
static int family_block(struct member *m, int *n, const json_t *o, bool mx, const char *where,
                        struct qc_err *err)
{
    static const char *const mx_keys[] = {"family", "elem", "block", NULL};
    static const char *const bfp_keys[] = {"family", "bits", "block", NULL};
    struct ints block, bits;
    const char *elem[64];
    int nelem = 0, rc;

    if ((rc = qc__sweep_check_keys(o, where, mx ? mx_keys : bfp_keys, err)) < 0 ||
        (rc = read_ints(&block, o, "block", 1, 4096, false, where, err)) < 0)
        return rc;
    if (block.n == 0) {
        block.v[0] = 32;
        block.n = 1;
    }
    if (mx) {
        if ((rc = read_strings(elem, &nelem, o, "elem", true, where, err)) < 0)
            return rc;
    } else if ((rc = read_ints(&bits, o, "bits", 2, 32, true, where, err)) < 0) {
        return rc;
    }
    int outer = mx ? nelem : bits.n;
    for (int i = 0; i < outer; i++)
        for (int j = 0; j < block.n; j++) {
            char text[QC_FORMAT_NAME_MAX], what[96];
            if (mx) {
                snprintf(text, sizeof text, "mx%s@%d", elem[i], (int)block.v[j]);
                snprintf(what, sizeof what, "elem '%s', block %d", elem[i], (int)block.v[j]);
            } else {
                snprintf(text, sizeof text, "bfp%d@%d", (int)bits.v[i], (int)block.v[j]);
                snprintf(what, sizeof what, "bits %d, block %d", (int)bits.v[i], (int)block.v[j]);
            }
            if ((rc = add_member(m, n, text, (int)block.v[j], i, what, where, err)) < 0)
                return rc;
        }
    return QC_OK;
}

/* {"from": A, "to": B, "step": S}: A, A+S, ... up to B inclusive. */
static int sequence(json_t **out, const json_t *o, const char *where, struct qc_err *err)
{
    static const char *const keys[] = {"from", "to", "step", NULL};
    const json_t *a = json_object_get(o, "from"), *b = json_object_get(o, "to"),
                 *s = json_object_get(o, "step");
    int rc;

    if ((rc = qc__sweep_check_keys(o, where, keys, err)) < 0)
        return rc;
    if (!json_is_integer(a) || !json_is_integer(b))
        return qc_err_set(err, QC_EINVAL, where, "a sequence needs integers \"from\" and \"to\"");
    if (s && (!json_is_integer(s) || json_integer_value(s) < 1))
        return qc__sweep_fail_at(err, where, "step", "step must be a positive integer");
    const int64_t lo = json_integer_value(a), hi = json_integer_value(b);
    const int64_t step = s ? json_integer_value(s) : 1;
    if (lo > hi)
        return qc_err_set(err, QC_EINVAL, where, "from (%lld) must not exceed to (%lld)",
                          (long long)lo, (long long)hi);
    /* Counted in unsigned arithmetic so that a range spanning int64 cannot overflow. */
    const uint64_t count = ((uint64_t)hi - (uint64_t)lo) / (uint64_t)step + 1;
    if (count > QC_SWEEP_VALUES_MAX)
        return qc_err_set(err, QC_EINVAL, where, "the sequence has %llu values, more than %d",
                          (unsigned long long)count, QC_SWEEP_VALUES_MAX);
    json_t *arr = json_array();
    for (uint64_t i = 0; arr && i < count; i++)
        if (json_array_append_new(arr, json_integer((json_int_t)(lo + (int64_t)i * step))) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    *out = arr;
    return 1;
}

int qc__sweep_axis(json_t **out, const json_t *o, const char *where, struct qc_err *err)
{
    struct member *m = NULL;
    int n = 0, rc;

    *out = NULL;
    if (json_object_get(o, "values") || json_object_get(o, "min") || json_object_get(o, "max"))
        return 0; /* a list or a range: any other key there is unknown to them */
    if (json_object_get(o, "from") || json_object_get(o, "to") || json_object_get(o, "step"))
        return sequence(out, o, where, err);
    const json_t *fam = json_object_get(o, "family");
    if (!fam)
        return 0;
    const char *f = json_string_value(fam);
    if (!f)
        return qc__sweep_fail_at(err, where, "family", "family must be a string");
    m = malloc(QC_SWEEP_VALUES_MAX * sizeof *m);
    if (!m)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory");
    if (strcmp(f, "eXmY") == 0 || strcmp(f, "float") == 0)
        rc = family_float(m, &n, o, where, err);
    else if (strcmp(f, "qM.N") == 0 || strcmp(f, "fixed") == 0)
        rc = family_fixed(m, &n, o, where, err);
    else if (strcmp(f, "mx") == 0 || strcmp(f, "bfp") == 0)
        rc = family_block(m, &n, o, strcmp(f, "mx") == 0, where, err);
    else
        rc = qc__sweep_fail_at(err, where, "family",
                               "unknown family (eXmY, qM.N, mx, bfp; or from/to for integers)");
    if (rc < 0)
        goto out;
    /* Stable order by bit width: qsort is not stable, so the keys include
     * each member's position in its own lists. */
    qsort(m, (size_t)n, sizeof *m, cmp_member);
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(m[i].text)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    if (!arr) {
        rc = qc_err_set(err, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    *out = arr;
    rc = 1;
out:
    free(m);
    return rc;
}
