/* Every error of a spec or a sweep at once, for people fixing a document:
 * the parsers stop at the first error, so this parses a copy again and again,
 * each time removing the member the last error pointed at (its default then
 * applies), until the document parses or an error points nowhere that can be
 * removed (a missing required key, a rule across sections). Only object
 * members are removed, never array elements, so every pointer reported is a
 * pointer into the original document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qcore/spec.h"
#include "qcore/sweep.h"

/* One RFC 6901 segment of `ptr` starting at *pos (just after a '/'), unescaped
 * into buf; *pos moves past it. */
static void next_segment(char *buf, size_t len, const char *ptr, size_t *pos)
{
    size_t o = 0;
    while (ptr[*pos] && ptr[*pos] != '/') {
        char c = ptr[(*pos)++];
        if (c == '~' && (ptr[*pos] == '0' || ptr[*pos] == '1'))
            c = ptr[(*pos)++] == '0' ? '~' : '/';
        if (o + 1 < len)
            buf[o++] = c;
    }
    buf[o] = '\0';
}

/* Removes the object member that `ptr` points at or into. A pointer into an
 * array (/parameters/p/values/2) removes the member that holds the array's
 * holder (/parameters/p): removing the array alone would only bring a second
 * error about the array missing. Returns whether something was removed. */
static bool remove_at(json_t *doc, const char *ptr)
{
    json_t *node = doc, *obj = NULL, *up_obj = NULL;
    char seg[256], key[256] = "", up_key[256] = "";
    size_t pos = 0;

    if (ptr[0] != '/')
        return false;
    while (ptr[pos] == '/') {
        pos++;
        next_segment(seg, sizeof seg, ptr, &pos);
        if (json_is_array(node)) {
            if (up_obj) {
                obj = up_obj;
                snprintf(key, sizeof key, "%s", up_key);
            }
            break;
        }
        json_t *child = json_is_object(node) ? json_object_get(node, seg) : NULL;
        if (!child)
            break; /* the pointer ends at a missing member or inside a scalar */
        up_obj = obj;
        snprintf(up_key, sizeof up_key, "%s", key);
        obj = node;
        snprintf(key, sizeof key, "%s", seg);
        node = child;
    }
    return obj && key[0] && json_object_del(obj, key) == 0;
}

/* Whether an error at `field` only says that the member just removed, or
 * the object that held it, is now missing: a consequence of the removal,
 * not a second mistake in the document. */
static bool caused_by_removal(const char *field, const char *removed)
{
    size_t n = strlen(field);
    return removed[0] && strncmp(removed, field, n) == 0 &&
           (removed[n] == '\0' || removed[n] == '/');
}

static int add_error(json_t *list, const struct qc_err *e)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "code", qc_error_name(e->code), "field", e->field,
                          "message", e->msg[0] ? e->msg : qc_strerror(e->code));
    return o ? json_array_append_new(list, o) : -1;
}

typedef int (*check_fn)(const json_t *doc, struct qc_err *err, void *ctx);

static int check_all(json_t **errors, const json_t *doc, int max, struct qc_err *first,
                     check_fn check, void *ctx)
{
    json_t *copy = json_deep_copy(doc), *list = json_array();
    struct qc_err e;
    char removed[sizeof e.field] = "";
    int rc = QC_OK;

    *errors = NULL;
    if (first)
        qc_err_clear(first);
    if (!copy || !list) {
        rc = qc_err_set(first, QC_ENOMEM, "", "out of memory");
        goto out;
    }
    for (int n = 0; n < max; n++) {
        qc_err_clear(&e);
        int r = check(copy, &e, ctx);
        if (r == QC_OK)
            break;
        if (n > 0 && caused_by_removal(e.field, removed))
            break; /* "required key missing" where we removed a bad value */
        if (n == 0 && first)
            *first = e;
        if (rc == QC_OK)
            rc = r;
        if (add_error(list, &e) < 0) {
            rc = qc_err_set(first, QC_ENOMEM, "", "out of memory");
            goto out;
        }
        if (r == QC_ENOMEM || !remove_at(copy, e.field))
            break;
        snprintf(removed, sizeof removed, "%s", e.field);
    }
    *errors = list;
    list = NULL;
out:
    json_decref(copy);
    json_decref(list);
    return rc;
}

static int check_spec(const json_t *doc, struct qc_err *err, void *ctx)
{
    return qc_spec_from_json(ctx, doc, err);
}

static int check_sweep(const json_t *doc, struct qc_err *err, void *ctx)
{
    json_t *specs = NULL; /* expanded: only that validates every run's spec */
    int rc = qc_sweep_expand(&specs, NULL, doc, *(const int64_t *)ctx, err);
    json_decref(specs);
    return rc;
}

int qc_spec_check_all(json_t **errors, const json_t *doc, int max, struct qc_err *first)
{
    struct qc_spec *spec = malloc(sizeof *spec); /* large: not on the stack */
    if (!spec) {
        *errors = NULL;
        return qc_err_set(first, QC_ENOMEM, "", "out of memory");
    }
    int rc = check_all(errors, doc, max, first, check_spec, spec);
    free(spec);
    return rc;
}

int qc_sweep_check_all(json_t **errors, const json_t *doc, int64_t cap, int max,
                       struct qc_err *first)
{
    return check_all(errors, doc, max, first, check_sweep, &cap);
}
