/* The run list writes its page as text (jtext.c) instead of building and
 * dumping a jansson tree; the text must be what jansson would have printed
 * for the same row, byte for byte, whatever the values: jansson itself is
 * the independent reference here. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/jtext.h"
#include "server/store.h"

/* Rows of SRV_RUN_COLS's shape from literals: every numeric column as
 * NULL, an integer or a real, text with escapes and UTF-8, and stored JSON
 * as SQLite's json() writes it. */
static const char *const rows[] = {
    "SELECT 1, NULL, 'plain', 'queued', 0, 0, 3, NULL, NULL, 1796353479.5142071, NULL, NULL, "
    "NULL, 0, 0, NULL, '{}', NULL, '{\"a\":1}', '[]', '', NULL, NULL",
    "SELECT 9007199254740993, 7, 'q\"b\\s/' || char(10, 9, 13, 8, 12, 1, 31) || 'é€😀', "
    "'running', -1000000, 2, 100, 4, 'cpu0', 1e20, 1e-5, -0.0, 0.1, 1, 1, "
    "'line' || char(10) || 'two', "
    "json('{\"loss\": 0.5, \"acc\": 1.0000000000000001e300, \"x\": [1, -2.4999999999999999e-7]}'), "
    "'{\"lut\":5400,\"groups\":{\"f\":{\"mac\":\"cfg=1\"}}}', '{}', '[\"a\",\"b\\\\\"]', "
    "'note' || char(0x7f), 'alice', 'key'",
    "SELECT 3, 2.5, '', 'failed', 5, 1, 1, 2, '', 3.0, 123456789012.25, 5e-324, "
    "1.7976931348623157e308, 0, 1, 'err', 'not json', '', 'x', '{\"bad\"', 'n', '', NULL",
    /* Stored JSON in another number format (not jansson's): the same values. */
    "SELECT 4, 1, 'n', 'queued', 0, 0, 1, NULL, NULL, 1.5, NULL, NULL, NULL, 0, 0, NULL, "
    "'{\"acc\":1e300,\"x\":[1,-2.5e-7,1E2]}', '{}', '{}', '[]', '', NULL, NULL",
};
#define SAME_TEXT 3 /* rows before this one print byte for byte as jansson does */

static char *jansson_text(sqlite3_stmt *st, bool with_spec)
{
    json_t *o = srv_run_json(st, with_spec);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return t;
}

Test(jtext, run_rows_as_jansson_prints_them)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sqlite3_stmt *st = NULL;
        cr_assert_eq(sqlite3_prepare_v2(db, rows[i], -1, &st, NULL), SQLITE_OK, "%s: %s", rows[i],
                     sqlite3_errmsg(db));
        cr_assert_eq(sqlite3_column_count(st), SRV_RUN_NCOLS);
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        for (int spec = 0; spec < 2; spec++) {
            struct srv_jtext j;
            size_t len;
            srv_jtext_init(&j);
            srv_run_jtext(&j, st, spec);
            char *mine = srv_jtext_take(&j, &len), *ref = jansson_text(st, spec);
            cr_assert_not_null(mine);
            cr_assert_eq(len, strlen(mine));
            if (i < SAME_TEXT)
                cr_expect_str_eq(mine, ref, "row %zu spec %d:\n%s\n%s", i, spec, mine, ref);
            /* And it parses back to the same tree. */
            json_t *a = json_loads(mine, 0, NULL), *b = json_loads(ref, 0, NULL);
            cr_expect(a && json_equal(a, b), "row %zu", i);
            json_decref(a);
            json_decref(b);
            free(mine);
            free(ref);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

Test(jtext, reals_match_jansson)
{
    /* Random bit patterns cover every exponent and digit count. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        uint64_t bits = i % 2 ? x : (x >> 12) | 0x3ff0000000000000ull;
        memcpy(&v, &bits, sizeof v);
        if (i % 5 == 0)
            v = (double)(int64_t)(x % 2000001) - 1000000.0; /* integral reals: "3.0" */
        struct srv_jtext j;
        size_t len;
        srv_jtext_init(&j);
        srv_jtext_real(&j, v);
        char *mine = srv_jtext_take(&j, &len);
        json_t *r = json_real(v);
        char *ref = r ? json_dumps(r, JSON_ENCODE_ANY) : strdup("null");
        cr_assert_str_eq(mine, ref, "%a", v);
        json_decref(r);
        free(mine);
        free(ref);
    }
}

Test(jtext, strings_match_jansson)
{
    char s[64];
    uint64_t x = 12345;
    for (int i = 0; i < 5000; i++) {
        size_t n = 0;
        for (; n < sizeof s - 1 && (n == 0 || x % 23); n++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned c = (unsigned)(x >> 57); /* 0..127: ASCII with every control character */
            s[n] = (char)(c ? c : ' ');
        }
        s[n] = '\0';
        struct srv_jtext j;
        size_t len;
        srv_jtext_init(&j);
        srv_jtext_str(&j, s);
        char *mine = srv_jtext_take(&j, &len);
        json_t *r = json_string(s);
        char *ref = json_dumps(r, JSON_ENCODE_ANY);
        cr_assert_str_eq(mine, ref);
        json_decref(r);
        free(mine);
        free(ref);
    }
}
