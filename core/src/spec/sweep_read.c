/* The small readers of sweep documents (sweep.c, sweep_axes.c): JSON
 * pointer escaping, errors that point at a key, and the unknown-key check. */
#include <stdio.h>
#include <string.h>

#include "sweep_impl.h"

void qc__sweep_escape(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 3 < len; s++) {
        if (*s == '~' || *s == '/') {
            out[o++] = '~';
            out[o++] = *s == '~' ? '0' : '1';
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

int qc__sweep_fail_at(struct qc_err *err, const char *where, const char *segment, const char *msg)
{
    char seg[128];
    qc__sweep_escape(seg, sizeof seg, segment);
    qc_err_set(err, QC_EINVAL, "", "%s", msg);
    if (err)
        snprintf(err->field, sizeof err->field, "%.127s/%.120s", where, seg);
    return QC_EINVAL;
}

int qc__sweep_check_keys(const json_t *o, const char *where, const char *const *keys,
                         struct qc_err *err)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool known = false;
        for (const char *const *p = keys; *p; p++)
            known = known || strcmp(*p, k) == 0;
        if (!known) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown key '%.100s'", k);
            return qc__sweep_fail_at(err, where, k, msg);
        }
    }
    return QC_OK;
}
