/* `qlab submit FILE`: checks an experiment or a sweep here with the same
 * core code the server runs, then submits it. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_rest.h"
#include "cli_util.h"
#include "qcore/spec.h"
#include "qcore/sweep.h"

static const char usage[] =
    "usage: qlab submit FILE [--priority N] [OPTION...]\n\n"
    "Submits an experiment spec (docs/spec.md) or a sweep (a document with\n"
    "\"base\" and \"parameters\") to qlab-server, after checking it locally. The\n"
    "server's warnings (no registered worker can run it: its device kind, its\n"
    "dataset) are printed on stderr; the run is queued all the same.\n\n"
    "      --priority N   queue priority of an experiment (higher first)\n";

int cli_cmd_submit(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"priority", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    bool as_json = false;
    int64_t priority = 0;
    int c, rc;

    if (cli_wants_help(argc, argv)) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s", usage, cli_rest_opts_help);
        return cli_print_help(text);
    }
    qc_err_clear(&err);
    cli_rest_init(&rest);
    if (cli_rest_take_opts(&rest, &argc, argv, &err) < 0)
        return cli_fail_err("submit", NULL, &err);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else if (c == 'p') {
            if (!cli_parse_i64(optarg, -1000000, 1000000, &priority))
                return cli_fail("submit", QC_EINVAL, "--priority wants an integer, got '%s'",
                                optarg);
        } else
            return cli_fail_opt("submit", c, argv);
    }
    if (optind != argc - 1)
        return cli_fail("submit", QC_EINVAL, "expects one file");
    const char *path = argv[optind];
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return cli_fail("submit", QC_EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    bool sweep = json_object_get(doc, "base") || json_object_get(doc, "parameters");
    /* The same validation the server does, so a typo never costs a round trip. */
    if (sweep) {
        json_t *specs = NULL;
        rc = qc_sweep_expand(&specs, NULL, doc, QC_SWEEP_DEFAULT_CAP, &err);
        json_decref(specs);
    } else {
        struct qc_spec *spec = malloc(sizeof *spec);
        rc = spec ? qc_spec_from_json(spec, doc, &err) : qc_err_set(&err, QC_ENOMEM, "", "oom");
        free(spec);
    }
    if (rc < 0) {
        json_decref(doc);
        err.code = QC_EINVAL; /* a bad document is the user's to fix: exit 2 */
        return cli_fail_err("submit", path, &err);
    }
    char api[64];
    snprintf(api, sizeof api, sweep ? "/api/v1/sweeps" : "/api/v1/experiments?priority=%lld",
             (long long)priority);
    long status;
    json_t *out = NULL;
    rc = cli_rest_call(&rest, "POST", api, doc, &status, &out, &err);
    json_decref(doc);
    if (rc < 0)
        return cli_fail_err("submit", NULL, &err);
    /* Advice from the server about its workers (no device of the kind, the
     * dataset installed nowhere): the run is queued all the same. */
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(out, "warnings"), i, w) fprintf(
        stderr, "qlab: submit: warning: %s\n", json_string_value(json_object_get(w, "message")));
    if (as_json) {
        char *t = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", t ? t : "null");
        free(t);
    } else if (sweep) {
        json_t *s = json_object_get(out, "sweep");
        printf("sweep %lld submitted: %lld runs\n",
               (long long)json_integer_value(json_object_get(s, "id")),
               (long long)json_integer_value(json_object_get(s, "runs")));
    } else {
        json_t *r = json_object_get(out, "run");
        printf("run %lld submitted: %s\n", (long long)json_integer_value(json_object_get(r, "id")),
               json_string_value(json_object_get(r, "name")));
    }
    json_decref(out);
    return 0;
}
