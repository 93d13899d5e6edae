/* Helpers of the REST client commands. */
#include "cli_remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

int cli_remote_begin(const char *cmd, const char *usage, struct cli_rest *rest, int *argc,
                     char **argv)
{
    struct qc_err err;
    if (cli_wants_help(*argc, argv)) {
        char text[4096];
        snprintf(text, sizeof text, "%s\nShared options:\n%s", usage, cli_rest_opts_help);
        return cli_print_help(text);
    }
    qc_err_clear(&err);
    cli_rest_init(rest);
    if (cli_rest_take_opts(rest, argc, argv, &err) < 0)
        return cli_fail_err(cmd, NULL, &err);
    opterr = 0;
    optind = 1;
    return -1;
}

void cli_print_json(const json_t *j)
{
    char *t = json_dumps(j, JSON_INDENT(2));
    printf("%s\n", t ? t : "null");
    free(t);
}

void cli_cell(char *out, size_t len, const json_t *v)
{
    if (!v || json_is_null(v))
        snprintf(out, len, "-");
    else if (json_is_string(v))
        snprintf(out, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        cli_fmt_human(out, len, json_real_value(v), 4);
    else if (json_is_boolean(v))
        snprintf(out, len, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(out, len, "...");
}

int cli_parse_id(const char *cmd, const char *s, long long *id)
{
    int64_t v;
    if (!cli_parse_i64(s, 1, INT64_MAX, &v))
        return cli_fail(cmd, QC_EINVAL, "'%s' is not an id (a positive integer)", s);
    *id = (long long)v;
    return 0;
}
