/* The JSON text writer (jtext.h). */
#include "server/jtext.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_jtext_init(struct srv_jtext *j)
{
    memset(j, 0, sizeof *j);
}

void srv_jtext_free(struct srv_jtext *j)
{
    free(j->text);
    memset(j, 0, sizeof *j);
}

char *srv_jtext_take(struct srv_jtext *j, size_t *len)
{
    char *t = j->oom ? NULL : j->text;
    if (j->oom)
        free(j->text);
    else if (!t && (t = calloc(1, 1)) == NULL)
        j->oom = true;
    *len = t ? j->len : 0;
    memset(j, 0, sizeof *j);
    return t;
}

static bool reserve(struct srv_jtext *j, size_t n)
{
    if (j->oom)
        return false;
    if (j->len + n + 1 <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : 4096;
    while (cap < j->len + n + 1)
        cap *= 2;
    char *p = realloc(j->text, cap);
    if (!p) {
        j->oom = true;
        return false;
    }
    j->text = p;
    j->cap = cap;
    return true;
}

void srv_jtext_raw(struct srv_jtext *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = '\0';
}

void srv_jtext_lit(struct srv_jtext *j, const char *s)
{
    srv_jtext_raw(j, s, strlen(s));
}

void srv_jtext_str(struct srv_jtext *j, const char *s)
{
    if (!s) {
        srv_jtext_raw(j, "null", 4);
        return;
    }
    srv_jtext_raw(j, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        srv_jtext_raw(j, run, (size_t)(s - run));
        char esc[8];
        switch (c) {
        case '"':
            srv_jtext_raw(j, "\\\"", 2);
            break;
        case '\\':
            srv_jtext_raw(j, "\\\\", 2);
            break;
        case '\b':
            srv_jtext_raw(j, "\\b", 2);
            break;
        case '\f':
            srv_jtext_raw(j, "\\f", 2);
            break;
        case '\n':
            srv_jtext_raw(j, "\\n", 2);
            break;
        case '\r':
            srv_jtext_raw(j, "\\r", 2);
            break;
        case '\t':
            srv_jtext_raw(j, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04X", c);
            srv_jtext_raw(j, esc, 6);
        }
        run = s + 1;
    }
    srv_jtext_raw(j, run, (size_t)(s - run));
    srv_jtext_raw(j, "\"", 1);
}

void srv_jtext_int(struct srv_jtext *j, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    srv_jtext_raw(j, b, (size_t)n);
}

void srv_jtext_real(struct srv_jtext *j, double v)
{
    char b[40];
    int n = isfinite(v) ? snprintf(b, sizeof b, "%.17g", v) : -1;
    if (n < 0 || (size_t)n >= sizeof b - 3) { /* jansson has no inf or NaN either */
        srv_jtext_raw(j, "null", 4);
        return;
    }
    /* A dot or an exponent, so that it reads back as a real. */
    if (!strchr(b, '.') && !strchr(b, 'e')) {
        memcpy(b + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(b, 'e');
    if (e) { /* "1e+20" -> "1e20", "1e-05" -> "1e-5" */
        char *from = e + 1, *to = e + 1;
        if (*from == '+')
            from++;
        else if (*from == '-')
            from++, to++;
        while (*from == '0' && from[1])
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(b);
    }
    srv_jtext_raw(j, b, (size_t)n);
}

void srv_jtext_bool(struct srv_jtext *j, bool v)
{
    if (v)
        srv_jtext_raw(j, "true", 4);
    else
        srv_jtext_raw(j, "false", 5);
}

void srv_jtext_key(struct srv_jtext *j, const char *key)
{
    srv_jtext_str(j, key);
    srv_jtext_raw(j, ":", 1);
}
