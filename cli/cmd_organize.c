/* Keeping results in order from the shell: `qlab sweeps` (the sweep list
 * with filters), `qlab tag`, `qlab note`, `qlab rename` (PATCH /runs/{id}
 * or /sweeps/{id}) and `qlab rm` (DELETE, which reclaims a run's metrics,
 * events and checkpoint). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

/* Appends "&key=<escaped value>" to path. */
static int add_param(const char *cmd, struct cli_buf *path, const char *key, const char *value)
{
    char *e = cli_rest_escape(value);
    if (!e)
        return cli_fail(cmd, QC_ENOMEM, "out of memory");
    cli_buf_printf(path, "&%s=%s", key, e);
    free(e);
    return 0;
}

static const char sweeps_usage[] =
    "usage: qlab sweeps [--filter F] [--order-by [-]FIELD] [--limit N] [--json]\n\n"
    "Lists sweeps, newest first: id, runs done/total, failed, tags, who\n"
    "submitted it, name. --filter takes the grammar of docs/api.md (\"Filters\")\n"
    "over id, name, method, created, submitted_by, note, runs, tag and\n"
    "base.PATH (the base experiment's fields): 'tag = study and runs > 10'.\n";

int cli_cmd_sweeps(int argc, char **argv)
{
    static const struct option opts[] = {
        {"filter", required_argument, NULL, 'f'}, {"order-by", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'l'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct cli_buf path;
    struct qc_err err;
    const char *filter = NULL, *order = NULL;
    int64_t limit = 100;
    bool as_json = false;
    int c, rc = cli_remote_begin("sweeps", sweeps_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'f') {
            filter = optarg;
        } else if (c == 'o') {
            order = optarg;
        } else if (c == 'l') {
            if (!cli_parse_i64(optarg, 1, 1000, &limit))
                return cli_fail("sweeps", QC_EINVAL, "--limit wants 1..1000, got '%s'", optarg);
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("sweeps", c, argv);
        }
    }
    if (optind != argc)
        return cli_fail("sweeps", QC_EINVAL, "unexpected argument '%s'", argv[optind]);
    cli_buf_init(&path);
    cli_buf_printf(&path, "/api/v1/sweeps?limit=%lld", (long long)limit);
    if ((filter && (rc = add_param("sweeps", &path, "filter", filter))) ||
        (order && (rc = add_param("sweeps", &path, "order_by", order)))) {
        cli_buf_free(&path);
        return rc;
    }
    json_t *out = NULL;
    long status;
    qc_err_clear(&err);
    rc = path.oom ? cli_fail("sweeps", QC_ENOMEM, "out of memory")
         : cli_rest_call(&rest, "GET", path.data, NULL, &status, &out, &err) < 0
             ? cli_fail_err("sweeps", NULL, &err)
             : 0;
    cli_buf_free(&path);
    if (rc)
        return rc;
    if (as_json) {
        cli_print_json(out);
        json_decref(out);
        return 0;
    }
    size_t i, j;
    json_t *sw, *t;
    printf("%5s  %-11s  %6s  %-24s  %-12s  %s\n", "ID", "DONE/RUNS", "FAILED", "TAGS", "BY",
           "NAME");
    json_array_foreach(json_object_get(out, "sweeps"), i, sw)
    {
        json_t *counts = json_object_get(sw, "counts");
        long long done = 0;
        static const char *const fin[] = {"succeeded", "failed", "canceled"};
        for (int k = 0; k < 3; k++)
            done += (long long)json_integer_value(json_object_get(counts, fin[k]));
        char runs[32], tags[128] = "", by[64];
        snprintf(runs, sizeof runs, "%lld/%lld", done,
                 (long long)json_integer_value(json_object_get(sw, "runs")));
        json_array_foreach(json_object_get(sw, "tags"), j, t)
        {
            size_t n = strlen(tags);
            snprintf(tags + n, sizeof tags - n, "%s%s", n ? "," : "", json_string_value(t));
        }
        cli_cell(by, sizeof by, json_object_get(sw, "submitted_by"));
        printf("%5lld  %-11s  %6lld  %-24s  %-12s  %s\n",
               (long long)json_integer_value(json_object_get(sw, "id")), runs,
               (long long)json_integer_value(json_object_get(counts, "failed")),
               tags[0] ? tags : "-", by, json_string_value(json_object_get(sw, "name")));
    }
    if (!json_is_null(json_object_get(out, "next_cursor")))
        printf("(more: raise --limit or filter)\n");
    json_decref(out);
    return 0;
}

/* ---- PATCH: tag, note, rename ------------------------------------------- */

/* Parses `RUN ARGS...` or `--sweep ID ARGS...` (getopt has run): the
 * target's path and the index of its first further argument. */
static int target(const char *cmd, int argc, char **argv, long long sweep, char *path, size_t len,
                  int *first)
{
    long long id;
    int rc;
    if (sweep) {
        snprintf(path, len, "/api/v1/sweeps/%lld", sweep);
        *first = optind;
        return 0;
    }
    if (optind >= argc)
        return cli_fail(cmd, QC_EINVAL, "expects a run id, or --sweep ID");
    if ((rc = cli_parse_id(cmd, argv[optind], &id)))
        return rc;
    snprintf(path, len, "/api/v1/runs/%lld", id);
    *first = optind + 1;
    return 0;
}

/* Sends PATCH `body` (stolen) and prints the result. */
static int patch(const char *cmd, const struct cli_rest *rest, const char *path, json_t *body,
                 bool as_json)
{
    struct qc_err err;
    json_t *out = NULL;
    long status;
    qc_err_clear(&err);
    int rc = cli_rest_call(rest, "PATCH", path, body, &status, &out, &err);
    json_decref(body);
    if (rc < 0)
        return cli_fail_err(cmd, NULL, &err);
    json_t *o = json_object_get(out, "run");
    bool run = o != NULL;
    if (!o)
        o = json_object_get(out, "sweep");
    if (as_json) {
        cli_print_json(o);
    } else {
        char *tags = json_dumps(json_object_get(o, "tags"), JSON_COMPACT);
        printf("%s %lld: %s, tags %s\n", run ? "run" : "sweep",
               (long long)json_integer_value(json_object_get(o, "id")),
               json_string_value(json_object_get(o, "name")), tags ? tags : "[]");
        free(tags);
    }
    json_decref(out);
    return 0;
}

static const char tag_usage[] =
    "usage: qlab tag RUN TAG... | qlab tag --sweep ID TAG... [--remove | --set]\n\n"
    "Adds tags to a run or a sweep (--remove takes them off, --set replaces\n"
    "the list; --set with no tag clears it). A tag is 1..64 letters, digits or\n"
    "_.-:/@+=. Runs are found by tag with qlab runs --filter 'tag = T'.\n";

int cli_cmd_tag(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sweep", required_argument, NULL, 's'}, {"remove", no_argument, NULL, 'r'},
        {"set", no_argument, NULL, 'S'},         {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    long long sweep = 0;
    bool remove = false, set = false, as_json = false;
    char path[96];
    int first, c, rc = cli_remote_begin("tag", tag_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("tag", optarg, &sweep)))
                return rc;
        } else if (c == 'r') {
            remove = true;
        } else if (c == 'S') {
            set = true;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("tag", c, argv);
        }
    }
    if (remove && set)
        return cli_fail("tag", QC_EINVAL, "--remove and --set exclude each other");
    if ((rc = target("tag", argc, argv, sweep, path, sizeof path, &first)))
        return rc;
    if (first == argc && !set)
        return cli_fail("tag", QC_EINVAL, "expects at least one tag");
    json_t *tags = json_array();
    for (int i = first; i < argc; i++)
        json_array_append_new(tags, json_string(argv[i]));
    json_t *body = json_pack("{s:o}", set ? "tags" : remove ? "remove_tags" : "add_tags", tags);
    return patch("tag", &rest, path, body, as_json);
}

static const char note_usage[] =
    "usage: qlab note RUN [TEXT | -f FILE] | qlab note --sweep ID [TEXT | -f FILE]\n\n"
    "Sets the markdown note of a run or a sweep to TEXT, or to FILE's contents\n"
    "(-f - reads stdin). With neither, prints the note.\n";

int cli_cmd_note(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"file", required_argument, NULL, 'f'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    long long sweep = 0;
    const char *file = NULL;
    bool as_json = false;
    char path[96];
    int first, c, rc = cli_remote_begin("note", note_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("note", optarg, &sweep)))
                return rc;
        } else if (c == 'f') {
            file = optarg;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("note", c, argv);
        }
    }
    if ((rc = target("note", argc, argv, sweep, path, sizeof path, &first)))
        return rc;
    if (argc - first > 1 || (file && argc - first > 0))
        return cli_fail("note", QC_EINVAL, "expects one TEXT argument or -f FILE");
    qc_err_clear(&err);
    if (!file && first == argc) { /* print it */
        json_t *out = NULL;
        long status;
        if (cli_rest_call(&rest, "GET", path, NULL, &status, &out, &err) < 0)
            return cli_fail_err("note", NULL, &err);
        json_t *o = json_object_get(out, sweep ? "sweep" : "run");
        const char *note = json_string_value(json_object_get(o, "note"));
        if (as_json)
            cli_print_json(json_object_get(o, "note"));
        else if (note && note[0])
            printf("%s%s", note, note[strlen(note) - 1] == '\n' ? "" : "\n");
        json_decref(out);
        return 0;
    }
    json_t *text = NULL;
    if (file) {
        unsigned char *data = NULL;
        size_t len = 0;
        int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return cli_fail("note", QC_EIO, "-f: cannot read %s", file);
        rc = cli_read_fd(&data, &len, fd, file, 65536, &err);
        if (fd > 0)
            close(fd);
        if (rc < 0)
            return cli_fail_err("note", NULL, &err);
        text = json_stringn((const char *)data, len);
        free(data);
        if (!text)
            return cli_fail("note", QC_EINVAL, "-f: %s is not UTF-8 text", file);
    } else {
        text = json_string(argv[first]);
        if (!text)
            return cli_fail("note", QC_EINVAL, "the note is not UTF-8 text");
    }
    return patch("note", &rest, path, json_pack("{s:o}", "note", text), as_json);
}

static const char rename_usage[] = "usage: qlab rename RUN NAME | qlab rename --sweep ID NAME\n\n"
                                   "Renames a run or a sweep.\n";

int cli_cmd_rename(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    long long sweep = 0;
    bool as_json = false;
    char path[96];
    int first, c, rc = cli_remote_begin("rename", rename_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("rename", optarg, &sweep)))
                return rc;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("rename", c, argv);
        }
    }
    if ((rc = target("rename", argc, argv, sweep, path, sizeof path, &first)))
        return rc;
    if (argc - first != 1)
        return cli_fail("rename", QC_EINVAL, "expects one new name");
    json_t *name = json_string(argv[first]);
    if (!name)
        return cli_fail("rename", QC_EINVAL, "the name is not UTF-8 text");
    return patch("rename", &rest, path, json_pack("{s:o}", "name", name), as_json);
}

static const char rm_usage[] =
    "usage: qlab rm RUN... | qlab rm --sweep ID\n\n"
    "Deletes runs (with their metrics, events and checkpoints), or a sweep with\n"
    "all its runs. There is no undo.\n";

int cli_cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct qc_err err;
    long long sweep = 0, id;
    bool as_json = false;
    int c, rc = cli_remote_begin("rm", rm_usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("rm", optarg, &sweep)))
                return rc;
        } else if (c == 'j') {
            as_json = true;
        } else {
            return cli_fail_opt("rm", c, argv);
        }
    }
    if (sweep ? optind != argc : optind == argc)
        return cli_fail("rm", QC_EINVAL, "expects run ids, or --sweep ID");
    /* Every id checked before anything is deleted. */
    for (int i = optind; i < argc; i++)
        if ((rc = cli_parse_id("rm", argv[i], &id)))
            return rc;
    int n = sweep ? 1 : argc - optind;
    for (int k = 0; k < n; k++) {
        const char *run = sweep ? NULL : argv[optind + k];
        char path[96];
        json_t *out = NULL;
        long status;
        if (sweep)
            snprintf(path, sizeof path, "/api/v1/sweeps/%lld", sweep);
        else
            snprintf(path, sizeof path, "/api/v1/runs/%s", run);
        qc_err_clear(&err);
        if (cli_rest_call(&rest, "DELETE", path, NULL, &status, &out, &err) < 0)
            return cli_fail_err("rm", NULL, &err);
        if (as_json)
            cli_print_json(out ? out : json_null());
        else if (sweep)
            printf("sweep %lld deleted\n", sweep);
        else
            printf("run %s deleted\n", run);
        json_decref(out);
    }
    return 0;
}
