/* The filter and order_by grammar (filter.h): a tokenizer, a field table
 * per list, and keyset cursors encoded as base64url JSON. */
#include "server/filter.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/run_query.h"

/* ---- the SQL builder ---------------------------------------------------- */

void srv_sql_init(struct srv_sql *q)
{
    memset(q, 0, sizeof *q);
}

void srv_sql_free(struct srv_sql *q)
{
    for (int i = 0; i < q->nbinds; i++)
        free(q->binds[i].t);
    free(q->binds);
    free(q->text);
    memset(q, 0, sizeof *q);
}

void srv_sql_add(struct srv_sql *q, const char *frag)
{
    size_t n = strlen(frag);
    if (q->oom)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = q->cap ? q->cap : 256;
        while (cap < q->len + n + 1)
            cap *= 2;
        char *t = realloc(q->text, cap);
        if (!t) {
            q->oom = true;
            return;
        }
        q->text = t;
        q->cap = cap;
    }
    memcpy(q->text + q->len, frag, n + 1);
    q->len += n;
}

static struct srv_bind *bind_slot(struct srv_sql *q)
{
    if (q->oom)
        return NULL;
    if (q->nbinds == q->cap_binds) {
        int cap = q->cap_binds ? q->cap_binds * 2 : 16;
        struct srv_bind *b = realloc(q->binds, (size_t)cap * sizeof *b);
        if (!b) {
            q->oom = true;
            return NULL;
        }
        q->binds = b;
        q->cap_binds = cap;
    }
    struct srv_bind *b = &q->binds[q->nbinds++];
    memset(b, 0, sizeof *b);
    return b;
}

void srv_sql_int(struct srv_sql *q, int64_t v)
{
    struct srv_bind *b = bind_slot(q);
    if (b)
        *b = (struct srv_bind){.type = SRV_BIND_INT, .i = v};
}

void srv_sql_real(struct srv_sql *q, double v)
{
    struct srv_bind *b = bind_slot(q);
    if (b)
        *b = (struct srv_bind){.type = SRV_BIND_REAL, .d = v};
}

void srv_sql_text(struct srv_sql *q, const char *t)
{
    char *copy = strdup(t);
    struct srv_bind *b = copy ? bind_slot(q) : NULL;
    if (!b) {
        free(copy);
        q->oom = true;
        return;
    }
    *b = (struct srv_bind){.type = SRV_BIND_TEXT, .t = copy};
}

void srv_sql_append(struct srv_sql *q, const struct srv_sql *from)
{
    if (from->oom)
        q->oom = true;
    if (from->text)
        srv_sql_add(q, from->text);
    for (int i = 0; i < from->nbinds; i++) {
        const struct srv_bind *b = &from->binds[i];
        if (b->type == SRV_BIND_TEXT)
            srv_sql_text(q, b->t);
        else if (b->type == SRV_BIND_INT)
            srv_sql_int(q, b->i);
        else
            srv_sql_real(q, b->d);
    }
}

void srv_sql_bind(const struct srv_sql *q, sqlite3_stmt *st, int *k)
{
    for (int i = 0; i < q->nbinds; i++, (*k)++) {
        const struct srv_bind *b = &q->binds[i];
        if (b->type == SRV_BIND_INT)
            sqlite3_bind_int64(st, *k, b->i);
        else if (b->type == SRV_BIND_REAL)
            sqlite3_bind_double(st, *k, b->d);
        else
            sqlite3_bind_text(st, *k, b->t, -1, SQLITE_TRANSIENT);
    }
}

/* ---- fields ------------------------------------------------------------- */

/* A metric or cost name: letters, digits, '_', '.', '/'. */
static bool metric_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '/')
            return false;
    return true;
}

/* A dotted path of plain keys ("a.b_c"): what a JSON path may hold. */
static bool dotted_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64 || s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.')
            return false;
    return true;
}

/* How a field compares: a plain expression, or membership in a tags list. */
enum field_kind { F_EXPR, F_TAGS };

struct field {
    enum field_kind kind;
    struct srv_sql expr; /* F_EXPR: the expression with its binds */
    const char *tags_col;
};

static const struct {
    const char *name, *sql;
} run_cols[] = {
    {"id", "runs.id"},
    {"name", "runs.name"},
    {"state", "runs.state"},
    {"sweep", "runs.sweep_id"},
    {"worker", "runs.worker_id"},
    {"device", "runs.device"},
    {"attempt", "runs.attempt"},
    {"priority", "runs.priority"},
    {"created", "runs.created"},
    {"started", "runs.started"},
    {"finished", "runs.finished"},
    {"duration", "(runs.finished - runs.started)"},
    {"error", "runs.error"},
    {"submitted_by", "runs.submitted_by"},
    {"note", "runs.note"},
    {"imported", "(runs.import_key IS NOT NULL)"},
};

static const struct {
    const char *name, *sql;
} sweep_cols[] = {
    {"id", "sweeps.id"},
    {"name", "sweeps.name"},
    {"method", "sweeps.method"},
    {"created", "sweeps.created"},
    {"submitted_by", "sweeps.submitted_by"},
    {"note", "sweeps.note"},
    {"runs", "(SELECT count(*) FROM runs WHERE runs.sweep_id = sweeps.id)"},
};

/* The JSON path of one summary key: `$."val_acc"`. A metric name may hold
 * dots ("fwd.rate"), so it is one quoted key, where spec and cost paths
 * are dotted walks. */
static void json_key_path(char *out, size_t len, const char *key)
{
    snprintf(out, len, "$.\"%s\"", key);
}

bool srv_metric_maximize(const char *name)
{
    size_t n = strlen(name);
    return (n >= 3 && strcmp(name + n - 3, "acc") == 0) ||
           (n >= 8 && strcmp(name + n - 8, "accuracy") == 0);
}

/* Resolves `name` into f; QC_EINVAL with a message naming it. */
static int field_resolve(struct field *f, enum srv_table t, const char *name, char *why,
                         size_t why_len)
{
    char path[200];
    memset(f, 0, sizeof *f);
    f->kind = F_EXPR;
    if (strcmp(name, "tag") == 0 || strcmp(name, "tags") == 0) {
        f->kind = F_TAGS;
        f->tags_col = t == SRV_TABLE_RUNS ? "runs.tags" : "sweeps.tags";
        return QC_OK;
    }
    if (t == SRV_TABLE_RUNS) {
        for (size_t i = 0; i < sizeof run_cols / sizeof run_cols[0]; i++)
            if (strcmp(name, run_cols[i].name) == 0) {
                srv_sql_add(&f->expr, run_cols[i].sql);
                return QC_OK;
            }
        if (strncmp(name, "metric.", 7) == 0 && metric_name_ok(name + 7)) {
            json_key_path(path, sizeof path, name + 7);
            srv_sql_add(&f->expr, "json_extract(runs.summary, ?)");
            srv_sql_text(&f->expr, path);
            return QC_OK;
        }
        if (strncmp(name, "best.", 5) == 0 && metric_name_ok(name + 5)) {
            srv_sql_add(&f->expr, srv_metric_maximize(name + 5)
                                      ? "(SELECT max(m.value) FROM metrics m WHERE m.run_id = "
                                        "runs.id AND m.name_id = (SELECT id FROM metric_names "
                                        "WHERE name = ?))"
                                      : "(SELECT min(m.value) FROM metrics m WHERE m.run_id = "
                                        "runs.id AND m.name_id = (SELECT id FROM metric_names "
                                        "WHERE name = ?))");
            srv_sql_text(&f->expr, name + 5);
            return QC_OK;
        }
        if (strncmp(name, "cost.", 5) == 0 && dotted_ok(name + 5)) {
            snprintf(path, sizeof path, "$.%s", name + 5);
            srv_sql_add(&f->expr, "json_extract(runs.cost, ?)");
            srv_sql_text(&f->expr, path);
            return QC_OK;
        }
        const char *p = strncmp(name, "spec.", 5) == 0 ? name + 5 : name;
        if (srv_spec_path_known(p)) {
            snprintf(path, sizeof path, "$.%s", p);
            srv_sql_add(&f->expr, "json_extract(runs.spec, ?)");
            srv_sql_text(&f->expr, path);
            return QC_OK;
        }
        snprintf(why, why_len,
                 "unknown field '%.80s': not a run column (id, name, state, sweep, worker, "
                 "device, attempt, priority, created, started, finished, duration, error, "
                 "submitted_by, note, imported), tag, metric.NAME, best.NAME, cost.NAME, nor a "
                 "spec field's dotted path",
                 name);
        return QC_EINVAL;
    }
    for (size_t i = 0; i < sizeof sweep_cols / sizeof sweep_cols[0]; i++)
        if (strcmp(name, sweep_cols[i].name) == 0) {
            srv_sql_add(&f->expr, sweep_cols[i].sql);
            return QC_OK;
        }
    if (strncmp(name, "base.", 5) == 0 && srv_spec_path_known(name + 5)) {
        snprintf(path, sizeof path, "$.%s", name);
        srv_sql_add(&f->expr, "json_extract(sweeps.doc, ?)");
        srv_sql_text(&f->expr, path);
        return QC_OK;
    }
    snprintf(why, why_len,
             "unknown field '%.80s': not a sweep column (id, name, method, created, "
             "submitted_by, note, runs), tag, nor base.PATH (a spec field of the base "
             "experiment)",
             name);
    return QC_EINVAL;
}

/* ---- the tokenizer ------------------------------------------------------ */

enum tok { T_END, T_WORD, T_STRING, T_NUMBER, T_OP, T_LPAREN, T_RPAREN, T_COMMA, T_BAD };

struct lexer {
    const char *s, *p;
    enum tok tok;
    const char *start; /* of the current token */
    char text[1024];   /* word, string (unescaped), number or operator */
    double num;
    bool integral;
};

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("_./:@+-", c));
}

static void next(struct lexer *lx)
{
    const char *p = lx->p;
    while (*p && isspace((unsigned char)*p))
        p++;
    lx->start = p;
    lx->text[0] = '\0';
    if (!*p) {
        lx->tok = T_END;
    } else if (*p == '(' || *p == ')' || *p == ',') {
        lx->tok = *p == '(' ? T_LPAREN : *p == ')' ? T_RPAREN : T_COMMA;
        p++;
    } else if (strchr("=!<>", *p)) {
        size_t n = (p[1] == '=' || (p[0] == '<' && p[1] == '>')) ? 2 : 1;
        snprintf(lx->text, sizeof lx->text, "%.*s", (int)n, p);
        lx->tok = strcmp(lx->text, "!") == 0 ? T_BAD : T_OP;
        p += n;
    } else if (*p == '"' || *p == '\'') {
        char q = *p++;
        size_t n = 0;
        lx->tok = T_BAD;
        bool fits = true;
        while (*p && *p != q) {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 < sizeof lx->text)
                lx->text[n++] = *p;
            else
                fits = false;
            p++;
        }
        lx->text[n] = '\0';
        if (*p == q) {
            lx->tok = fits ? T_STRING : T_BAD; /* never a silently shortened value */
            p++;
        }
    } else if (word_char(*p)) {
        size_t n = 0;
        bool fits = true;
        while (word_char(*p)) {
            if (n + 1 < sizeof lx->text)
                lx->text[n++] = *p;
            else
                fits = false;
            p++;
        }
        lx->text[n] = '\0';
        char *end;
        double v = strtod(lx->text, &end);
        if (!*end && isfinite(v) &&
            (isdigit((unsigned char)lx->text[0]) || lx->text[0] == '-' || lx->text[0] == '+' ||
             lx->text[0] == '.')) {
            lx->tok = T_NUMBER;
            lx->num = v;
            lx->integral = !strpbrk(lx->text, ".eEnN") && fabs(v) < 9e15;
        } else {
            lx->tok = T_WORD;
        }
        if (!fits)
            lx->tok = T_BAD;
    } else {
        lx->tok = T_BAD;
        p++;
    }
    lx->p = p;
}

static bool is_kw(const struct lexer *lx, const char *kw)
{
    return lx->tok == T_WORD && strcasecmp(lx->text, kw) == 0;
}

static int fail_at(struct qc_err *err, const struct lexer *lx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct qc_err *err, const struct lexer *lx, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return qc_err_set(err, QC_EINVAL, "?filter", "filter, column %d: %s",
                      (int)(lx->start - lx->s) + 1, msg);
}

/* A value token bound into q; `null` is refused here (the caller handles
 * `= null`). */
static int bind_value(struct srv_sql *q, struct lexer *lx, struct qc_err *err)
{
    if (lx->tok == T_NUMBER) {
        if (lx->integral)
            srv_sql_int(q, (int64_t)lx->num);
        else
            srv_sql_real(q, lx->num);
    } else if (lx->tok == T_STRING) {
        srv_sql_text(q, lx->text);
    } else if (is_kw(lx, "true") || is_kw(lx, "false")) {
        srv_sql_int(q, lx->text[0] == 't' || lx->text[0] == 'T');
    } else if (lx->tok == T_WORD && !is_kw(lx, "null") && !is_kw(lx, "and")) {
        srv_sql_text(q, lx->text); /* a bare word: e6m5, q8.13, e5m2:sat */
    } else {
        return fail_at(err, lx, "expected a value (a number, \"text\", true or false)");
    }
    next(lx);
    return QC_OK;
}

/* One condition: FIELD OP VALUE | FIELD in (V, ...) | FIELD like "pat". */
static int condition(struct srv_sql *where, enum srv_table t, struct lexer *lx, struct qc_err *err)
{
    static const struct {
        const char *op, *sql;
    } ops[] = {{"=", " = "}, {"==", " = "},  {"!=", " IS NOT "}, {"<>", " IS NOT "},
               {"<", " < "}, {"<=", " <= "}, {">", " > "},       {">=", " >= "}};
    struct field f;
    char why[400], name[200];
    int rc;

    if (lx->tok != T_WORD || is_kw(lx, "and"))
        return fail_at(err, lx, "expected a field name");
    snprintf(name, sizeof name, "%.190s", lx->text);
    if (field_resolve(&f, t, name, why, sizeof why) < 0) {
        srv_sql_free(&f.expr);
        return fail_at(err, lx, "%s", why);
    }
    next(lx);
    struct srv_sql c;
    srv_sql_init(&c);
    if (f.kind == F_TAGS) {
        srv_sql_add(&c, " AND ");
        if (lx->tok == T_OP && (strcmp(lx->text, "!=") == 0 || strcmp(lx->text, "<>") == 0))
            srv_sql_add(&c, "NOT ");
        srv_sql_add(&c, "EXISTS (SELECT 1 FROM json_each(");
        srv_sql_add(&c, f.tags_col);
        srv_sql_add(&c, ") WHERE value");
    } else {
        srv_sql_add(&c, " AND (");
        srv_sql_append(&c, &f.expr);
    }
    if (lx->tok == T_OP) {
        const char *sql = " = ";
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
            if (strcmp(lx->text, ops[i].op) == 0)
                sql = ops[i].sql;
        bool eq = strcmp(sql, " = ") == 0, negated = strcmp(sql, " IS NOT ") == 0;
        if (f.kind == F_TAGS && !eq && !negated) {
            rc = fail_at(err, lx, "tags compare with =, !=, in or like, not '%s'", lx->text);
            goto out;
        }
        next(lx);
        if (is_kw(lx, "null")) {
            if (f.kind == F_TAGS || (!eq && !negated)) {
                rc = fail_at(err, lx, "null compares only with = and !=");
                goto out;
            }
            srv_sql_add(&c, negated ? " IS NOT NULL" : " IS NULL");
            next(lx);
        } else {
            srv_sql_add(&c, f.kind == F_TAGS ? " = ?" : sql);
            if (f.kind != F_TAGS)
                srv_sql_add(&c, "?");
            if ((rc = bind_value(&c, lx, err)) < 0)
                goto out;
        }
    } else if (is_kw(lx, "in")) {
        next(lx);
        if (lx->tok != T_LPAREN) {
            rc = fail_at(err, lx, "expected '(' after in");
            goto out;
        }
        next(lx);
        srv_sql_add(&c, " IN (");
        for (int n = 0;; n++) {
            if (n == SRV_FILTER_IN_MAX) {
                rc = fail_at(err, lx, "more than %d values in one list", SRV_FILTER_IN_MAX);
                goto out;
            }
            srv_sql_add(&c, n ? ", ?" : "?");
            if ((rc = bind_value(&c, lx, err)) < 0)
                goto out;
            if (lx->tok == T_RPAREN)
                break;
            if (lx->tok != T_COMMA) {
                rc = fail_at(err, lx, "expected ',' or ')' in the list");
                goto out;
            }
            next(lx);
        }
        next(lx);
        srv_sql_add(&c, ")");
    } else if (is_kw(lx, "like")) {
        next(lx);
        if (lx->tok != T_STRING && lx->tok != T_WORD) {
            rc = fail_at(err, lx, "like takes a pattern (\"e5m%%\": %% any text, _ one character)");
            goto out;
        }
        srv_sql_add(&c, " LIKE ?");
        srv_sql_text(&c, lx->text);
        next(lx);
    } else {
        rc = fail_at(err, lx, "expected an operator (=, !=, <, <=, >, >=, in, like) after '%s'",
                     name);
        goto out;
    }
    srv_sql_add(&c, ")");
    srv_sql_append(where, &c);
    rc = QC_OK;
out:
    srv_sql_free(&c);
    srv_sql_free(&f.expr);
    return rc;
}

int srv_filter_parse(struct srv_sql *where, enum srv_table t, const char *text, struct qc_err *err)
{
    struct lexer lx = {.s = text, .p = text};
    int rc;
    if (!text)
        return QC_OK;
    if (strlen(text) > SRV_FILTER_TEXT_MAX)
        return qc_err_set(err, QC_EINVAL, "?filter", "filter longer than %d bytes",
                          SRV_FILTER_TEXT_MAX);
    next(&lx);
    if (lx.tok == T_END)
        return QC_OK;
    for (int n = 0;; n++) {
        if (n == SRV_FILTER_CONDS)
            return fail_at(err, &lx, "more than %d conditions", SRV_FILTER_CONDS);
        if ((rc = condition(where, t, &lx, err)) < 0)
            return rc;
        if (lx.tok == T_END)
            break;
        if (!is_kw(&lx, "and"))
            return fail_at(err, &lx, "expected 'and' between conditions (or the end)");
        next(&lx);
    }
    return where->oom ? qc_err_set(err, QC_ENOMEM, "", "out of memory") : QC_OK;
}

/* ---- order and cursors -------------------------------------------------- */

int srv_order_parse(struct srv_order *o, enum srv_table t, const char *text, bool default_desc,
                    struct qc_err *err)
{
    struct field f;
    char why[400];
    memset(o, 0, sizeof *o);
    o->desc = default_desc;
    if (!text || !text[0])
        return QC_OK;
    if (strlen(text) >= sizeof o->text)
        return qc_err_set(err, QC_EINVAL, "?order_by", "order_by is too long");
    snprintf(o->text, sizeof o->text, "%s", text);
    o->desc = text[0] == '-';
    const char *name = text + (text[0] == '-' || text[0] == '+');
    if (field_resolve(&f, t, name, why, sizeof why) < 0) {
        srv_sql_free(&f.expr);
        return qc_err_set(err, QC_EINVAL, "?order_by", "order_by: %s", why);
    }
    if (f.kind == F_TAGS) {
        srv_sql_free(&f.expr);
        return qc_err_set(err, QC_EINVAL, "?order_by", "order_by: runs cannot be ordered by tags");
    }
    o->key = f.expr;
    return o->key.oom ? qc_err_set(err, QC_ENOMEM, "", "out of memory") : QC_OK;
}

void srv_order_free(struct srv_order *o)
{
    srv_sql_free(&o->key);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const char *in, size_t n)
{
    char *out = malloc(n / 3 * 4 + 5), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        if (i + 1 < n)
            *o++ = b64[v >> 6 & 63];
        if (i + 2 < n)
            *o++ = b64[v & 63];
    }
    *o = '\0';
    return out;
}

/* Decodes into out (at least strlen(in) bytes); -1 on a bad character. */
static long b64_decode(char *out, const char *in)
{
    uint32_t v = 0;
    int bits = 0;
    long n = 0;
    for (; *in; in++) {
        const char *p = strchr(b64, *in);
        if (!p)
            return -1;
        v = v << 6 | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)(v >> bits & 0xff);
        }
    }
    return n;
}

char *srv_cursor_make(const struct srv_order *o, sqlite3_stmt *st, int col, int64_t id)
{
    json_t *key;
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_NULL:
        key = json_null();
        break;
    case SQLITE_INTEGER:
        key = json_integer(sqlite3_column_int64(st, col));
        break;
    case SQLITE_FLOAT:
        key = json_real(sqlite3_column_double(st, col));
        break;
    default:
        key = json_string((const char *)sqlite3_column_text(st, col));
    }
    json_t *a = json_pack("[s,o,I]", o->text, key ? key : json_null(), (json_int_t)id);
    char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    char *out = text ? b64_encode(text, strlen(text)) : NULL;
    free(text);
    return out;
}

int srv_cursor_where(struct srv_sql *where, const struct srv_order *o, const char *cursor,
                     struct qc_err *err)
{
    if (!cursor || !cursor[0])
        return QC_OK;
    if (!o->key.text) {
        char *end;
        long long id = strtoll(cursor, &end, 10);
        if (*end || id < 0)
            return qc_err_set(err, QC_EINVAL, "?cursor",
                              "cursor '%.40s' is not one this list gave (next_cursor)", cursor);
        if (id == 0) /* the start */
            return QC_OK;
        srv_sql_add(where, o->desc ? " AND id < ?" : " AND id > ?");
        srv_sql_int(where, id);
        return QC_OK;
    }
    size_t n = strlen(cursor);
    char *text = n < 4096 ? malloc(n + 1) : NULL;
    long len = text ? b64_decode(text, cursor) : -1;
    json_t *a = len > 0 ? json_loadb(text, (size_t)len, 0, NULL) : NULL;
    free(text);
    const json_t *key = json_array_get(a, 1), *id = json_array_get(a, 2);
    const char *ord = json_string_value(json_array_get(a, 0));
    int rc = QC_OK;
    if (!json_is_array(a) || json_array_size(a) != 3 || !ord || !json_is_integer(id) ||
        !(json_is_null(key) || json_is_number(key) || json_is_string(key)))
        rc = qc_err_set(err, QC_EINVAL, "?cursor",
                        "cursor '%.40s' is not one this list gave (next_cursor)", cursor);
    else if (strcmp(ord, o->text) != 0)
        rc = qc_err_set(err, QC_EINVAL, "?cursor",
                        "the cursor belongs to order_by=%.60s, not order_by=%.60s", ord, o->text);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    /* NULL keys sort last in either direction: ORDER BY (okey IS NULL),
     * okey, id. */
    const char *cmp = o->desc ? " < ?" : " > ?";
    if (json_is_null(key)) {
        srv_sql_add(where, " AND (okey IS NULL AND id");
        srv_sql_add(where, cmp);
        srv_sql_add(where, ")");
        srv_sql_int(where, json_integer_value(id));
    } else {
        srv_sql_add(where, " AND (okey IS NULL OR okey");
        srv_sql_add(where, cmp);
        srv_sql_add(where, " OR (okey = ? AND id");
        srv_sql_add(where, cmp);
        srv_sql_add(where, "))");
        for (int i = 0; i < 2; i++) {
            if (json_is_integer(key))
                srv_sql_int(where, json_integer_value(key));
            else if (json_is_real(key))
                srv_sql_real(where, json_real_value(key));
            else
                srv_sql_text(where, json_string_value(key));
        }
        srv_sql_int(where, json_integer_value(id));
    }
    json_decref(a);
    return where->oom ? qc_err_set(err, QC_ENOMEM, "", "out of memory") : QC_OK;
}
