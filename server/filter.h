/* The search grammar of GET /runs and GET /sweeps (docs/api.md, "Filters"):
 * `filter` conditions over fixed columns, spec fields, tags, metrics and
 * cost fields joined with `and`, one `order_by` key (`-` for descending),
 * and cursors that stay correct under that order (keyset paging on the key
 * and the id). Every field resolves to a SQL expression from a fixed table;
 * spec paths, metric names and values are bound parameters, so no request
 * text ever becomes SQL. */
#ifndef SRV_FILTER_H
#define SRV_FILTER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qcore/error.h"

#define SRV_FILTER_TEXT_MAX 4096 /* bytes of a filter */
#define SRV_FILTER_CONDS    32   /* conditions joined with `and` */
#define SRV_FILTER_IN_MAX   100  /* values of one `in` list */

enum srv_table { SRV_TABLE_RUNS = 0, SRV_TABLE_SWEEPS };

struct srv_bind {
    enum { SRV_BIND_INT, SRV_BIND_REAL, SRV_BIND_TEXT } type;
    int64_t i;
    double d;
    char *t; /* owned */
};

/* SQL text grown from fixed fragments and the values bound to its `?`s, in
 * text order. Allocation failure is sticky (`oom`). */
struct srv_sql {
    char *text;
    size_t len, cap;
    struct srv_bind *binds;
    int nbinds, cap_binds;
    bool oom;
};

void srv_sql_init(struct srv_sql *q);
void srv_sql_free(struct srv_sql *q);
void srv_sql_add(struct srv_sql *q, const char *frag);
void srv_sql_int(struct srv_sql *q, int64_t v);
void srv_sql_real(struct srv_sql *q, double v);
void srv_sql_text(struct srv_sql *q, const char *t); /* copied */
/* Appends `from`'s text and binds. */
void srv_sql_append(struct srv_sql *q, const struct srv_sql *from);
/* Binds every value, from parameter *k on; *k ends past the last. */
void srv_sql_bind(const struct srv_sql *q, sqlite3_stmt *st, int *k);

/* Appends " AND (cond)" for each condition of `text` (borrowed) to `where`.
 * QC_EINVAL with err->field "?filter" and the column of the problem. */
int srv_filter_parse(struct srv_sql *where, enum srv_table t, const char *text, struct qc_err *err);

/* A parsed order_by: the key expression (its own binds), and the direction. */
struct srv_order {
    struct srv_sql key; /* empty: the default order (by id) */
    bool desc;
    char text[160]; /* the order_by as given, checked against cursors */
};

/* Parses `text` ("-metric.val_acc", "name"); NULL or "" leaves the default
 * order, by id (descending when `default_desc`). QC_EINVAL with err->field
 * "?order_by". */
int srv_order_parse(struct srv_order *o, enum srv_table t, const char *text, bool default_desc,
                    struct qc_err *err);
void srv_order_free(struct srv_order *o);

/* Appends the keyset condition of `cursor` (from srv_cursor_make under the
 * same order) on the columns `okey` and `id` (the default order: the
 * decimal id of the last row, on `id` alone; "" and "0" start the list); QC_EINVAL (?cursor) when
 * it is malformed or belongs to another order_by. */
int srv_cursor_where(struct srv_sql *where, const struct srv_order *o, const char *cursor,
                     struct qc_err *err);
/* The cursor after a row whose key is column `col` of `st` and whose id is
 * `id`: a new string (caller frees), NULL when out of memory. */
char *srv_cursor_make(const struct srv_order *o, sqlite3_stmt *st, int col, int64_t id);

/* Whether "best" of metric `name` is its maximum (names ending in "acc" or
 * "accuracy") rather than its minimum (losses, rates). */
bool srv_metric_maximize(const char *name);

#endif
