/* Typed readers for the experiment spec: each checks one JSON value (type,
 * range, characters, format string) and, when it is wrong, reports the value
 * and its JSON pointer, so a researcher sees exactly which key to fix. */
#include "spec_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qc__spec_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void qc__spec_ptr(char *out, size_t len, const char *ptr, const char *key)
{
    size_t n = (size_t)snprintf(out, len, "%s/", ptr);

    for (const char *k = key; *k && n + 1 < len; k++) {
        if (*k == '~' || *k == '/') {
            if (n + 2 >= len)
                break;
            out[n++] = '~';
            out[n++] = *k == '~' ? '0' : '1';
        } else {
            out[n++] = *k;
        }
    }
    if (n < len)
        out[n] = '\0';
}

/* The shortest %g text that reads back as x. */
static const char *num(char *buf, size_t len, double x)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, len, "%.*g", p, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return buf;
}

const char *qc__spec_describe(char *buf, size_t len, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        snprintf(buf, len, "the string '%.48s%s'", s, strlen(s) > 48 ? "..." : "");
        break;
    }
    case JSON_INTEGER:
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        num(buf, len, json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(buf, len, "true");
        break;
    case JSON_FALSE:
        snprintf(buf, len, "false");
        break;
    case JSON_NULL:
        snprintf(buf, len, "null");
        break;
    case JSON_ARRAY:
        snprintf(buf, len, "an array");
        break;
    case JSON_OBJECT:
        snprintf(buf, len, "an object");
        break;
    }
    return buf;
}

static int wrong_type(const struct qc__jobj *o, const char *key, const json_t *v, const char *want,
                      struct qc_err *err)
{
    char ptr[QC_SPEC_PTR_MAX], d[80];

    qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
    return qc_err_set(err, QC_EINVAL, ptr, "%s must be %s, not %s", key, want,
                      qc__spec_describe(d, sizeof d, v));
}

/* The value at key, or NULL (absent; also null when `nullable`). */
static const json_t *get(const struct qc__jobj *o, const char *key, bool nullable)
{
    const json_t *v = o->v ? json_object_get(o->v, key) : NULL;

    return v && nullable && json_is_null(v) ? NULL : v;
}

bool qc__spec_has(const struct qc__jobj *o, const char *key, bool nonnull)
{
    return get(o, key, nonnull) != NULL;
}

static int check_keys(const struct qc__jobj *o, struct qc_err *err)
{
    const char *const *keys = qc__spec_keys(o->ptr);
    const char *key;
    const json_t *v;

    if (!keys)
        return qc_err_set(err, QC_EINTERNAL, o->ptr, "no key table for this object");
    if (keys[0] && strcmp(keys[0], "*") == 0)
        return QC_OK; /* a map: its keys are names, checked by its reader */
    json_object_foreach((json_t *)o->v, key, v)
    {
        bool known = false;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(keys[i], key) == 0;
        if (!known) {
            char ptr[QC_SPEC_PTR_MAX], list[256];
            size_t n = 0;
            list[0] = '\0';
            for (int i = 0; keys[i] && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", keys[i]);
            qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
            return qc_err_set(err, QC_EINVAL, ptr, "unknown key '%.64s' (expected one of: %s)", key,
                              list);
        }
    }
    return QC_OK;
}

int qc__spec_root(struct qc__jobj *out, const json_t *root, struct qc_err *err)
{
    char d[80];

    out->v = root;
    out->ptr[0] = '\0';
    if (!root || !json_is_object(root))
        return qc_err_set(err, QC_EINVAL, "", "a spec must be a JSON object, not %s",
                          root ? qc__spec_describe(d, sizeof d, root) : "nothing");
    return check_keys(out, err);
}

int qc__spec_object(struct qc__jobj *out, const struct qc__jobj *o, const char *key, bool required,
                    struct qc_err *err)
{
    const json_t *v = get(o, key, false);

    out->v = NULL;
    qc__spec_ptr(out->ptr, sizeof out->ptr, o->ptr, key);
    if (!v) {
        if (required)
            return qc_err_set(err, QC_EINVAL, out->ptr, "required key '%s' is missing", key);
        return 0;
    }
    if (!json_is_object(v))
        return wrong_type(o, key, v, "an object", err);
    out->v = v;
    int rc = check_keys(out, err);
    return rc ? rc : 1;
}

int qc__spec_int_value(int64_t *out, const json_t *v, const char *ptr, const char *name, int64_t lo,
                       int64_t hi, struct qc_err *err)
{
    char d[80];
    int64_t x;

    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == nearbyint(json_real_value(v)) &&
               fabs(json_real_value(v)) < 0x1p62) {
        x = (int64_t)json_real_value(v); /* 1e3 is an integer too, as in JSON Schema */
    } else {
        return qc_err_set(err, QC_EINVAL, ptr, "%s must be an integer, not %s", name,
                          qc__spec_describe(d, sizeof d, v));
    }
    if (x < lo || x > hi)
        return qc_err_set(err, QC_EINVAL, ptr, "%s %s is outside %lld..%lld", name,
                          qc__spec_describe(d, sizeof d, v), (long long)lo, (long long)hi);
    *out = x;
    return 1;
}

int qc__spec_int(int64_t *out, const struct qc__jobj *o, const char *key, int64_t lo, int64_t hi,
                 struct qc_err *err)
{
    const json_t *v = get(o, key, false);
    char ptr[QC_SPEC_PTR_MAX];

    if (!v)
        return 0;
    qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
    return qc__spec_int_value(out, v, ptr, key, lo, hi, err);
}

int qc__spec_real(double *out, const struct qc__jobj *o, const char *key, double lo, bool lo_open,
                  double hi, bool hi_open, struct qc_err *err)
{
    const json_t *v = get(o, key, false);
    char ptr[QC_SPEC_PTR_MAX], d[80], a[32], b[32];

    if (!v)
        return 0;
    if (!json_is_number(v))
        return wrong_type(o, key, v, "a number", err);
    const double x = json_number_value(v);
    const bool below = lo_open ? !(x > lo) : !(x >= lo);
    const bool above = hi_open ? !(x < hi) : !(x <= hi);
    if (below || above) {
        qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
        qc__spec_describe(d, sizeof d, v);
        if (isinf(hi))
            return qc_err_set(err, QC_EINVAL, ptr, "%s %s must be %s %s", key, d,
                              lo_open ? ">" : ">=", num(a, sizeof a, lo));
        return qc_err_set(err, QC_EINVAL, ptr, "%s %s is outside %c%s, %s%c", key, d,
                          lo_open ? '(' : '[', num(a, sizeof a, lo), num(b, sizeof b, hi),
                          hi_open ? ')' : ']');
    }
    *out = x;
    return 1;
}

int qc__spec_bool(bool *out, const struct qc__jobj *o, const char *key, struct qc_err *err)
{
    const json_t *v = get(o, key, false);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(o, key, v, "true or false", err);
    *out = json_is_true(v);
    return 1;
}

/* The string at key (type-checked), NULL with rc 0 when absent. */
static int get_string(const char **out, const struct qc__jobj *o, const char *key, bool nullable,
                      bool required, struct qc_err *err)
{
    const json_t *v = get(o, key, nullable);

    *out = NULL;
    if (!v) {
        if (required) {
            char ptr[QC_SPEC_PTR_MAX];
            qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
            return qc_err_set(err, QC_EINVAL, ptr, "required key '%s' is missing", key);
        }
        return 0;
    }
    if (!json_is_string(v))
        return wrong_type(o, key, v, nullable ? "a string or null" : "a string", err);
    *out = json_string_value(v);
    return 1;
}

int qc__spec_enum(int *out, const struct qc__jobj *o, const char *key, const char *const *names,
                  bool required, struct qc_err *err)
{
    const char *s;
    char ptr[QC_SPEC_PTR_MAX], list[256];
    size_t n = 0;
    int rc;

    if ((rc = get_string(&s, o, key, false, required, err)) <= 0)
        return rc;
    list[0] = '\0';
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 1;
        }
        if (n < sizeof list)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", names[i]);
    }
    qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
    return qc_err_set(err, QC_EINVAL, ptr, "%s '%.64s' is not one of %s", key, s, list);
}

static bool char_ok(unsigned char c, enum qc__spec_chars chars)
{
    switch (chars) {
    case QC__CHARS_TEXT:
        return c >= 0x20 && c < 0x7f;
    case QC__CHARS_IDENT:
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
    case QC__CHARS_PATH:
        return c >= 0x20 && c != 0x7f;
    }
    return false;
}

int qc__spec_string(char *out, size_t cap, const struct qc__jobj *o, const char *key,
                    enum qc__spec_chars chars, bool nullable, bool required, struct qc_err *err)
{
    static const char *const what[] = {
        [QC__CHARS_TEXT] = "printable ASCII characters",
        [QC__CHARS_IDENT] = "letters, digits, '_', '.' and '-'",
        [QC__CHARS_PATH] = "no control characters",
    };
    const char *s;
    char ptr[QC_SPEC_PTR_MAX];
    int rc;

    if ((rc = get_string(&s, o, key, nullable, required, err)) <= 0)
        return rc;
    const size_t n = strlen(s);
    qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
    if (n == 0 || n >= cap)
        return qc_err_set(err, QC_EINVAL, ptr, "%s '%.48s%s' must be 1..%zu bytes long, not %zu",
                          key, s, n > 48 ? "..." : "", cap - 1, n);
    for (size_t i = 0; i < n; i++)
        if (!char_ok((unsigned char)s[i], chars))
            return qc_err_set(err, QC_EINVAL, ptr,
                              "%s '%.48s%s' has a character outside the allowed set (%s) at "
                              "byte %zu",
                              key, s, n > 48 ? "..." : "", what[chars], i);
    memcpy(out, s, n + 1);
    return 1;
}

int qc__spec_format(struct qc_format *out, const char **word, const struct qc__jobj *o,
                    const char *key, const char *const *also, bool nullable, struct qc_err *err)
{
    const char *s;
    char ptr[QC_SPEC_PTR_MAX];
    int rc;

    if (word)
        *word = NULL;
    if ((rc = get_string(&s, o, key, nullable, false, err)) <= 0)
        return rc;
    for (int i = 0; also && also[i]; i++) {
        if (strcmp(s, also[i]) == 0) {
            *word = also[i];
            return 1;
        }
    }
    if ((rc = qc_format_parse(out, s, err))) {
        /* The format parser's message names the string; only the place is ours. */
        qc__spec_ptr(ptr, sizeof ptr, o->ptr, key);
        if (err)
            qc__spec_copy(err->field, sizeof err->field, ptr);
        return rc;
    }
    return 1;
}
