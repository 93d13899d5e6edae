/* Where synthesized figures are kept, keyed by hw_synth_key: a small
 * get/put interface so that the CLI can use a directory of JSON files and
 * the server its SQLite database, plus the committed table of figures
 * (hw/cost-table.json) that every lookup falls back to. */
#ifndef QHW_STORE_H
#define QHW_STORE_H

#include <jansson.h>
#include <limits.h>

#include "qcore/error.h"

struct hw_store {
    /* *out: a new reference, or QC_ENOTFOUND. */
    int (*get)(void *ctx, const char *key, json_t **out);
    /* Stores a copy of `value` (borrowed). */
    int (*put)(void *ctx, const char *key, const json_t *value);
    void *ctx;
};

/* A directory of <key>.json files, written atomically (temp + rename), so
 * that concurrent processes sharing it never read half a file. */
struct hw_dirstore {
    char dir[PATH_MAX];
};

/* `dir`, else $QLAB_COST_CACHE, else $XDG_CACHE_HOME/qlab/cost, else
 * $HOME/.cache/qlab/cost; created if missing. */
int hw_dirstore_init(struct hw_dirstore *d, const char *dir, struct qc_err *err);
void hw_dirstore_bind(struct hw_store *s, struct hw_dirstore *d);

/* The committed table: {"tool": "...", "rtl": "...", "entries": {key: figures}}.
 * A missing file gives an empty table, not an error. */
int hw_table_load(json_t **out, const char *path, struct qc_err *err);
/* The table's figures for `key` (borrowed), or NULL. */
const json_t *hw_table_get(const json_t *table, const char *key);

#endif
