/* The board presets: hw/boards/boards.conf, embedded into the library at
 * build time (scripts/embed_text.py writes it as one string literal into
 * boards_conf.inc), parsed here without any JSON library. A preset the
 * file does not define, or a line it cannot read, is an error naming the
 * board and key; the file is checked whole by the unit tests. */
#include "qcore/board.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char boards_conf[] =
#include "boards_conf.inc"
    ;

#define BOARDS_MAX 16

static struct qc_board table[BOARDS_MAX];
static int ntable;
static struct qc_err table_err;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int num(double *out, const char *board, const char *key, const char *v, double lo, double hi,
               struct qc_err *err)
{
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    if (errno || end == v || *end || !(*out >= lo && *out <= hi))
        return qc_err_set(err, QC_EINVAL, key,
                          "hw/boards/boards.conf [%s]: %s = '%s' is no number in [%g, %g]", board,
                          key, v, lo, hi);
    return QC_OK;
}

static int set_key(struct qc_board *b, const char *key, const char *v, struct qc_err *err)
{
    double x;
    int rc;

    if (strcmp(key, "part") == 0) {
        snprintf(b->part, sizeof b->part, "%s", v);
        return QC_OK;
    }
    static const struct {
        const char *key;
        double lo, hi;
    } keys[] = {{"rows", 1, 1024},          {"cols", 1, 1024},           {"clock_mhz", 1, 2000},
                {"ddr_gbps", 0.001, 10000}, {"ddr_efficiency", 0.01, 1}, {"ddr_latency_ns", 0, 1e6},
                {"buffer_kib", 1, 1 << 20}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].key) != 0)
            continue;
        if ((rc = num(&x, b->name, key, v, keys[i].lo, keys[i].hi, err)))
            return rc;
        switch (i) {
        case 0:
        case 1:
            if (x != (int)x)
                return qc_err_set(err, QC_EINVAL, key,
                                  "hw/boards/boards.conf [%s]: %s = '%s' is no whole number",
                                  b->name, key, v);
            *(i == 0 ? &b->rows : &b->cols) = (int)x;
            break;
        case 2:
            b->clock_hz = x * 1e6;
            break;
        case 3:
            b->ddr_bytes_per_s = x * 1e9;
            break;
        case 4:
            b->ddr_efficiency = x;
            break;
        case 5:
            b->ddr_latency_s = x * 1e-9;
            break;
        default:
            b->buffer_bytes = (int64_t)(x * 1024);
            break;
        }
        return QC_OK;
    }
    return qc_err_set(err, QC_EINVAL, key, "hw/boards/boards.conf [%s]: unknown key '%s'", b->name,
                      key);
}

static int check_board(const struct qc_board *b, struct qc_err *err)
{
    if (!b->rows || !b->cols || !b->clock_hz || !b->ddr_bytes_per_s || !b->ddr_efficiency ||
        !b->buffer_bytes)
        return qc_err_set(err, QC_EINVAL, b->name,
                          "hw/boards/boards.conf [%s]: rows, cols, clock_mhz, ddr_gbps, "
                          "ddr_efficiency and buffer_kib are all required",
                          b->name);
    return QC_OK;
}

/* Parses `text` into table[]; returns the count or a negative code. */
static int parse(const char *text, struct qc_err *err)
{
    char *copy = strdup(text), *save = NULL;
    int n = 0, rc = QC_OK, lineno = 0;

    if (!copy)
        return qc_err_set(err, QC_ENOMEM, "", "out of memory for the board table");
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || close[1] || close == s + 1 || close - s - 1 >= QC_BOARD_NAME_MAX) {
                rc = qc_err_set(err, QC_EINVAL, "", "hw/boards/boards.conf: bad section '%s'", s);
                goto out;
            }
            if (n && (rc = check_board(&table[n - 1], err)))
                goto out;
            if (n == BOARDS_MAX) {
                rc = qc_err_set(err, QC_ERANGE, "", "hw/boards/boards.conf: more than %d boards",
                                BOARDS_MAX);
                goto out;
            }
            memset(&table[n], 0, sizeof table[n]);
            snprintf(table[n].name, sizeof table[n].name, "%.*s", (int)(close - s - 1), s + 1);
            table[n].ddr_efficiency = 1.0;
            n++;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !n) {
            rc = qc_err_set(err, QC_EINVAL, "",
                            "hw/boards/boards.conf: '%s' is no key = value line inside a [board]",
                            s);
            goto out;
        }
        *eq = '\0';
        if ((rc = set_key(&table[n - 1], trim(s), trim(eq + 1), err)))
            goto out;
    }
    if (n && (rc = check_board(&table[n - 1], err)))
        goto out;
    rc = n;
out:
    free(copy);
    return rc;
}

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void parse_once(void)
{
    int n = parse(boards_conf, &table_err);

    ntable = n < 0 ? 0 : n;
    table_err.code = n < 0 ? n : QC_OK;
}

/* Parsed once (the text is a constant); every caller then sees the same
 * table or the same error. */
static int load(struct qc_err *err)
{
    pthread_once(&table_once, parse_once);
    if (table_err.code) {
        if (err)
            *err = table_err;
        return table_err.code;
    }
    return QC_OK;
}

int qc_board_find(struct qc_board *out, const char *name, struct qc_err *err)
{
    char known[256] = "";
    int rc;

    if ((rc = load(err)))
        return rc;
    for (int i = 0; i < ntable; i++) {
        if (name && strcmp(table[i].name, name) == 0) {
            *out = table[i];
            return QC_OK;
        }
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", table[i].name);
    }
    return qc_err_set(err, QC_ENOTFOUND, "board",
                      "unknown board '%s' (hw/boards/boards.conf has %s)", name ? name : "", known);
}

int qc_board_count(void)
{
    return load(NULL) ? 0 : ntable;
}

const char *qc_board_name_at(int i)
{
    return i >= 0 && i < qc_board_count() ? table[i].name : NULL;
}
