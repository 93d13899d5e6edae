/* Organising runs and sweeps: PATCH /runs/{id} and /sweeps/{id} rename,
 * set the markdown note, and replace, add or remove tags, in one
 * transaction, with an event so open dashboards follow. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/srv.h"
#include "server/store.h"

#define TAGS_MAX     32
#define TAG_LEN      64
#define NOTE_MAX     65536
#define RUN_NAME_MAX 256

bool srv_tag_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > TAG_LEN)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_.-:/@+=", *s))
            return false;
    return true;
}

/* Text without control characters other than newlines and tabs (notes) or
 * none at all (names). */
static bool text_ok(const char *s, bool multiline)
{
    for (; *s; s++)
        if ((unsigned char)*s < ' ' && !(multiline && (*s == '\n' || *s == '\t' || *s == '\r')))
            return false;
    return true;
}

int srv_tags_check(struct srv_req *r, const json_t *tags, const char *field)
{
    size_t i;
    const json_t *t;
    if (!json_is_array(tags) || json_array_size(tags) > TAGS_MAX)
        return srv_fail(r, QC_EINVAL, "invalid_request", field,
                        "tags must be an array of at most %d strings", TAGS_MAX);
    json_array_foreach(tags, i, t)
    {
        if (!srv_tag_ok(json_string_value(t))) {
            char f[80];
            snprintf(f, sizeof f, "%s/%zu", field, i);
            return srv_fail(r, QC_EINVAL, "invalid_request", f,
                            "a tag is 1..%d letters, digits or _.-:/@+=", TAG_LEN);
        }
    }
    return QC_OK;
}

/* The new tag list: `old` (the stored JSON text) replaced by "tags", then
 * "add_tags" appended and "remove_tags" taken out; duplicates dropped, the
 * first occurrence's position kept. New reference, or NULL with r->err. */
static json_t *merge_tags(struct srv_req *r, const char *old, const json_t *doc)
{
    const json_t *set = json_object_get(doc, "tags"), *add = json_object_get(doc, "add_tags"),
                 *del = json_object_get(doc, "remove_tags");
    json_t *cur = set ? json_deep_copy(set) : json_loads(old ? old : "[]", 0, NULL);
    json_t *out = json_array();
    size_t i, j;
    const json_t *t, *d;
    if (!cur || !out)
        goto oom;
    if (add)
        json_array_extend(cur, (json_t *)add);
    json_array_foreach(cur, i, t)
    {
        bool keep = true;
        json_array_foreach(out, j, d) keep = keep && !json_equal(t, d);
        json_array_foreach(del, j, d) keep = keep && !json_equal(t, d);
        if (keep)
            json_array_append(out, (json_t *)t);
    }
    json_decref(cur);
    if (json_array_size(out) > TAGS_MAX) {
        json_decref(out);
        srv_fail(r, QC_EINVAL, "invalid_request", "/add_tags", "more than %d tags", TAGS_MAX);
        return NULL;
    }
    return out;
oom:
    json_decref(cur);
    json_decref(out);
    srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    return NULL;
}

/* Checks the PATCH body: known keys, each of the right shape. */
static int check_patch(struct srv_req *r, const json_t *doc)
{
    static const char *const keys[] = {"name", "note", "tags", "add_tags", "remove_tags"};
    const char *k;
    const json_t *v;
    int rc;
    if (json_object_size(doc) == 0)
        return srv_fail(r, QC_EINVAL, "invalid_request", "",
                        "nothing to change: give name, note, tags, add_tags or remove_tags");
    json_object_foreach((json_t *)doc, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known = known || strcmp(k, keys[i]) == 0;
        char f[80];
        snprintf(f, sizeof f, "/%.70s", k);
        if (!known)
            return srv_fail(r, QC_EINVAL, "invalid_request", f,
                            "unknown key '%.60s' (name, note, tags, add_tags, remove_tags)", k);
        if (strcmp(k, "name") == 0) {
            const char *s = json_string_value(v);
            if (!s || !s[0] || strlen(s) > RUN_NAME_MAX || !text_ok(s, false))
                return srv_fail(r, QC_EINVAL, "invalid_request", f,
                                "name must be 1..%d characters on one line", RUN_NAME_MAX);
        } else if (strcmp(k, "note") == 0) {
            const char *s = json_string_value(v);
            if (!s || strlen(s) > NOTE_MAX || !text_ok(s, true))
                return srv_fail(r, QC_EINVAL, "invalid_request", f,
                                "note must be markdown text of at most %d bytes", NOTE_MAX);
        } else if ((rc = srv_tags_check(r, v, f)) < 0) {
            return rc;
        }
    }
    return QC_OK;
}

/* PATCH on `table` ("runs" or "sweeps"): the statements are literals per
 * table so that each is prepared once. */
static int patch(struct srv_req *r, bool run)
{
    static const char run_get[] = "SELECT tags FROM runs WHERE id = ?";
    static const char sweep_get[] = "SELECT tags FROM sweeps WHERE id = ?";
    static const char run_set[] = "UPDATE runs SET name = coalesce(?, name), note = coalesce(?, "
                                  "note), tags = ? WHERE id = ?";
    static const char sweep_set[] = "UPDATE sweeps SET name = coalesce(?, name), note = "
                                    "coalesce(?, note), tags = ? WHERE id = ?";
    struct srv_server *s = r->srv;
    json_t *tags = NULL, *out = NULL, *changed = NULL;
    char *tags_text = NULL;
    int rc;
    json_t *doc = srv_body_json(r);
    if (!doc)
        return QC_EINVAL;
    if ((rc = check_patch(r, doc)) < 0) {
        json_decref(doc);
        return rc;
    }
    struct srv_conn *c = srv_tx_begin(s, &r->err);
    if (!c) {
        json_decref(doc);
        return r->err.code;
    }
    sqlite3_stmt *st = srv_stmt(c, run ? run_get : sweep_get, &r->err);
    rc = st ? QC_OK : QC_EIO;
    if (st) {
        sqlite3_bind_int64(st, 1, r->id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            tags = merge_tags(r, (const char *)sqlite3_column_text(st, 0), doc);
        sqlite3_reset(st);
        if (step == SQLITE_DONE)
            rc = srv_fail(r, QC_ENOTFOUND, NULL, "", "no %s %lld", run ? "run" : "sweep",
                          (long long)r->id);
        else if (step != SQLITE_ROW)
            rc = srv_db_fail(c, &r->err, "load tags");
        else if (!tags)
            rc = r->err.code;
    }
    if (rc >= 0 && !(tags_text = json_dumps(tags, JSON_COMPACT)))
        rc = srv_fail(r, QC_ENOMEM, NULL, "", "out of memory");
    if (rc >= 0 && !(st = srv_stmt(c, run ? run_set : sweep_set, &r->err)))
        rc = QC_EIO;
    if (rc >= 0) {
        const char *name = json_string_value(json_object_get(doc, "name"));
        const char *note = json_string_value(json_object_get(doc, "note"));
        if (name)
            sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (note)
            sqlite3_bind_text(st, 2, note, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, tags_text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, r->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = srv_db_fail(c, &r->err, "update");
        sqlite3_reset(st);
    }
    if (rc >= 0) {
        const char *k;
        json_t *v;
        changed = json_array();
        json_object_foreach(doc, k, v) json_array_append_new(changed, json_string(k));
        if (run) {
            rc = srv_run_event(s, c, r->id, json_pack("{s:O}", "updated", changed), &r->err);
        } else {
            int64_t ev = srv_event_add(
                c, "sweep", 0, r->id,
                json_pack("{s:I,s:O}", "sweep", (json_int_t)r->id, "updated", changed), &r->err);
            rc = ev < 0 ? (int)ev : QC_OK;
            if (ev > 0)
                s->tx_event = ev;
        }
    }
    if (rc >= 0)
        rc = run ? srv_run_load(c, r->id, false, &out, &r->err)
                 : srv_sweep_load(c, r->id, false, &out, &r->err);
    rc = srv_tx_end(s, rc, &r->err);
    json_decref(changed);
    json_decref(tags);
    free(tags_text);
    json_decref(doc);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    return srv_reply(r, 200, json_pack("{s:o}", run ? "run" : "sweep", out));
}

int srv_route_run_patch(struct srv_req *r)
{
    return patch(r, true);
}

int srv_route_sweep_patch(struct srv_req *r)
{
    return patch(r, false);
}
