/* `qlab watch RUN | --sweep ID`: live progress from the server's event
 * stream until the run (or every run of the sweep) has finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

static const char usage[] =
    "usage: qlab watch RUN | qlab watch --sweep ID\n\n"
    "Follows a run (state changes and its latest metrics) or a sweep (its runs\n"
    "by state) live, and exits when everything has finished: 0 when all\n"
    "succeeded, 1 otherwise.\n";

struct watch {
    const struct cli_rest *rest;
    long long run, sweep;
    bool finished, all_ok, failed_call;
    struct qc_err err;
    char last_line[512];
};

static bool is_final(const char *state)
{
    return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "canceled") == 0);
}

static void say(struct watch *w, const char *line)
{
    if (strcmp(line, w->last_line) != 0) { /* no repeats on keep-alives */
        printf("%s\n", line);
        fflush(stdout);
        snprintf(w->last_line, sizeof w->last_line, "%s", line);
    }
}

/* Reads the current state and prints one line; sets `finished`. */
static int refresh(struct watch *w)
{
    char path[64], line[512];
    json_t *out = NULL;
    long status;
    snprintf(path, sizeof path, w->sweep ? "/api/v1/sweeps/%lld" : "/api/v1/runs/%lld",
             w->sweep ? w->sweep : w->run);
    if (cli_rest_call(w->rest, "GET", path, NULL, &status, &out, &w->err) < 0) {
        w->failed_call = true;
        return 1;
    }
    if (w->sweep) {
        json_t *s = json_object_get(out, "sweep"), *cnt = json_object_get(s, "counts");
        long long q = json_integer_value(json_object_get(cnt, "queued")),
                  l = json_integer_value(json_object_get(cnt, "leased")),
                  r = json_integer_value(json_object_get(cnt, "running")),
                  ok = json_integer_value(json_object_get(cnt, "succeeded")),
                  f = json_integer_value(json_object_get(cnt, "failed")),
                  c = json_integer_value(json_object_get(cnt, "canceled"));
        snprintf(line, sizeof line,
                 "sweep %lld: %lld queued, %lld running, %lld succeeded, %lld failed, "
                 "%lld canceled",
                 w->sweep, q, l + r, ok, f, c);
        w->finished = q + l + r == 0;
        w->all_ok = f + c == 0;
    } else {
        json_t *r = json_object_get(out, "run"), *sum = json_object_get(r, "summary");
        const char *state = json_string_value(json_object_get(r, "state"));
        char acc[32], loss[32], step[32], err[300] = "";
        cli_cell(acc, sizeof acc, json_object_get(sum, "val_acc"));
        cli_cell(loss, sizeof loss, json_object_get(sum, "train_loss"));
        cli_cell(step, sizeof step, json_object_get(sum, "step"));
        if (json_is_string(json_object_get(r, "error")))
            snprintf(err, sizeof err, " error: %.250s",
                     json_string_value(json_object_get(r, "error")));
        snprintf(line, sizeof line,
                 "run %lld: %s attempt %lld, step %s, train_loss %s, val_acc %s%s", w->run, state,
                 (long long)json_integer_value(json_object_get(r, "attempt")), step, loss, acc,
                 err);
        w->finished = is_final(state);
        w->all_ok = state && strcmp(state, "succeeded") == 0;
    }
    say(w, line);
    json_decref(out);
    return w->finished;
}

static int on_event(void *ctx, const char *id, const char *event, const char *data)
{
    struct watch *w = ctx;
    (void)id;
    if (strcmp(event, ":") != 0 && w->sweep) {
        /* The global stream: only this sweep's run events matter. */
        json_t *d = json_loads(data, 0, NULL);
        bool mine = json_integer_value(json_object_get(d, "sweep")) == w->sweep;
        json_decref(d);
        if (!mine)
            return 0;
    }
    return refresh(w);
}

int cli_cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {{"sweep", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct cli_rest rest;
    struct watch w;
    int c, rc = cli_remote_begin("watch", usage, &rest, &argc, argv);
    if (rc >= 0)
        return rc;
    memset(&w, 0, sizeof w);
    w.rest = &rest;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 's') {
            if ((rc = cli_parse_id("watch", optarg, &w.sweep)))
                return rc;
        } else {
            return cli_fail_opt("watch", c, argv);
        }
    }
    if (w.sweep ? optind != argc : optind != argc - 1)
        return cli_fail("watch", QC_EINVAL, "expects one run id, or --sweep ID");
    if (!w.sweep && (rc = cli_parse_id("watch", argv[optind], &w.run)))
        return rc;
    if (refresh(&w) || w.failed_call)
        goto done;
    char path[64];
    snprintf(path, sizeof path, w.sweep ? "/api/v1/events" : "/api/v1/runs/%lld/events", w.run);
    /* A stream that drops (a server restart) is reopened; the state is
     * re-read each time, so nothing in between is missed. */
    for (int tries = 0; !w.finished && !w.failed_call && tries < 100; tries++) {
        struct cli_rest stream = rest;
        stream.timeout_s = 0;
        if (cli_rest_sse(&stream, path, on_event, &w, &w.err) < 0 && tries >= 5)
            return cli_fail_err("watch", NULL, &w.err);
        if (!w.finished && refresh(&w) == 0 && !w.failed_call) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
        }
    }
done:
    if (w.failed_call)
        return cli_fail_err("watch", NULL, &w.err);
    return w.all_ok ? 0 : 1;
}
