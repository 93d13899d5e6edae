/* `qlab watch RUN | --sweep ID`: live progress from the server's event
 * stream until the run (or every run of the sweep) has finished: a run's
 * real step of its planned total and an ETA (from its total_steps series),
 * a sweep's runs by state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_cmds.h"
#include "cli_remote.h"
#include "cli_util.h"

static const char usage[] =
    "usage: qlab watch RUN | qlab watch --sweep ID  [--json]\n\n"
    "Follows a run (its state, step N of M, epoch, latest loss and accuracy,\n"
    "and an ETA from the rate its steps arrive at) or a sweep (its runs by\n"
    "state, leased and running apart) live, one line per change, and exits\n"
    "when everything has finished: 0 when all succeeded, 1 otherwise. With\n"
    "--json each line is one JSON object instead.\n";

struct watch {
    const struct cli_rest *rest;
    long long run, sweep;
    bool json, finished, all_ok, failed_call;
    struct qc_err err;
    char last_line[1024];
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

static int get(struct watch *w, const char *path, json_t **out)
{
    long status;
    if (cli_rest_call(w->rest, "GET", path, NULL, &status, out, &w->err) < 0) {
        w->failed_call = true;
        return -1;
    }
    return 0;
}

/* "1h 02m", "3m 04s", "12s". */
static void fmt_duration(char *out, size_t len, double s)
{
    long v = s < 0 ? 0 : (long)(s + 0.5);
    if (v >= 3600)
        snprintf(out, len, "%ldh %02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60)
        snprintf(out, len, "%ldm %02lds", v / 60, v % 60);
    else
        snprintf(out, len, "%lds", v);
}

/* Progress from the run's total_steps series (one point per step line,
 * each with the time the server stored it): the last step, the planned
 * total, and the step rate over the last ten lines. */
struct progress {
    long long step, total;
    double steps_per_s; /* 0: unknown */
};

static int read_progress(struct watch *w, struct progress *p)
{
    char path[128];
    json_t *m = NULL;

    memset(p, 0, sizeof *p);
    p->step = p->total = -1;
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?names=total_steps", w->run);
    if (get(w, path, &m))
        return -1;
    const json_t *s = json_object_get(json_object_get(m, "series"), "total_steps");
    const json_t *steps = json_object_get(s, "step"), *vals = json_object_get(s, "value"),
                 *times = json_object_get(s, "time");
    size_t n = json_array_size(steps);
    if (n > 0) {
        p->step = (long long)json_integer_value(json_array_get(steps, n - 1));
        p->total = (long long)json_number_value(json_array_get(vals, n - 1));
        size_t k = n > 10 ? n - 10 : 0;
        double dt = json_number_value(json_array_get(times, n - 1)) -
                    json_number_value(json_array_get(times, k));
        long long ds = p->step - (long long)json_integer_value(json_array_get(steps, k));
        if (json_array_size(times) == n && dt > 0 && ds > 0)
            p->steps_per_s = (double)ds / dt;
    }
    json_decref(m);
    return 0;
}

/* Reads the current state and prints one line; sets `finished`. */
static int refresh(struct watch *w)
{
    char path[64], line[1024];
    json_t *out = NULL;
    snprintf(path, sizeof path, w->sweep ? "/api/v1/sweeps/%lld" : "/api/v1/runs/%lld",
             w->sweep ? w->sweep : w->run);
    if (get(w, path, &out))
        return 1;
    if (w->sweep) {
        json_t *s = json_object_get(out, "sweep"), *cnt = json_object_get(s, "counts");
        long long q = json_integer_value(json_object_get(cnt, "queued")),
                  l = json_integer_value(json_object_get(cnt, "leased")),
                  r = json_integer_value(json_object_get(cnt, "running")),
                  ok = json_integer_value(json_object_get(cnt, "succeeded")),
                  f = json_integer_value(json_object_get(cnt, "failed")),
                  c = json_integer_value(json_object_get(cnt, "canceled"));
        w->finished = q + l + r == 0;
        w->all_ok = f + c == 0;
        if (w->json) {
            json_t *o = json_pack("{s:I,s:s?,s:O?,s:b}", "sweep", (json_int_t)w->sweep, "name",
                                  json_string_value(json_object_get(s, "name")), "counts", cnt,
                                  "finished", w->finished);
            char *t = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
            snprintf(line, sizeof line, "%s", t ? t : "{}");
            free(t);
            json_decref(o);
        } else {
            snprintf(line, sizeof line,
                     "sweep %lld: %lld queued, %lld leased, %lld running, %lld succeeded, "
                     "%lld failed, %lld canceled",
                     w->sweep, q, l, r, ok, f, c);
        }
    } else {
        json_t *r = json_object_get(out, "run"), *sum = json_object_get(r, "summary");
        const char *state = json_string_value(json_object_get(r, "state"));
        const json_t *epochs =
            json_object_get(json_object_get(json_object_get(r, "spec"), "train"), "epochs");
        const json_t *epoch = json_object_get(sum, "epoch");
        struct progress p;
        if (read_progress(w, &p)) {
            json_decref(out);
            return 1;
        }
        w->finished = is_final(state);
        w->all_ok = state && strcmp(state, "succeeded") == 0;
        double eta = state && strcmp(state, "running") == 0 && p.steps_per_s > 0 && p.total > 0
                         ? (double)(p.total - p.step) / p.steps_per_s
                         : -1;
        if (w->json) {
            json_t *o = json_pack(
                "{s:I,s:s?,s:I,s:O?,s:O?,s:O?,s:O?,s:O?}", "run", (json_int_t)w->run, "state",
                state, "attempt", json_integer_value(json_object_get(r, "attempt")), "epochs",
                epochs, "train_loss", json_object_get(sum, "train_loss"), "val_acc",
                json_object_get(sum, "val_acc"), "error", json_object_get(r, "error"), "worker",
                json_object_get(r, "worker"));
            json_object_set_new(o, "epoch",
                                json_is_number(epoch)
                                    ? json_integer((json_int_t)json_number_value(epoch))
                                    : json_null());
            json_object_set_new(o, "step", p.step >= 0 ? json_integer(p.step) : json_null());
            json_object_set_new(o, "total_steps",
                                p.total > 0 ? json_integer(p.total) : json_null());
            json_object_set_new(o, "eta_s", eta >= 0 ? json_real(eta) : json_null());
            char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            snprintf(line, sizeof line, "%s", t ? t : "{}");
            free(t);
            json_decref(o);
        } else {
            char acc[32], loss[32], stepb[96] = "", epochb[64] = "", etab[64] = "", err[300] = "";
            cli_cell(acc, sizeof acc, json_object_get(sum, "val_acc"));
            cli_cell(loss, sizeof loss, json_object_get(sum, "train_loss"));
            if (p.step >= 0 && p.total > 0)
                snprintf(stepb, sizeof stepb, ", step %lld of %lld (%.1f%%)", p.step, p.total,
                         100.0 * (double)p.step / (double)p.total);
            else if (p.step >= 0)
                snprintf(stepb, sizeof stepb, ", step %lld", p.step);
            if (json_is_number(epoch) && json_is_integer(epochs))
                snprintf(epochb, sizeof epochb, ", epoch %lld of %lld",
                         (long long)json_number_value(epoch) + 1,
                         (long long)json_integer_value(epochs));
            else if (json_is_number(epoch))
                snprintf(epochb, sizeof epochb, ", epoch %lld",
                         (long long)json_number_value(epoch) + 1);
            if (eta >= 0) {
                char d[32];
                fmt_duration(d, sizeof d, eta);
                snprintf(etab, sizeof etab, ", ETA %s", d);
            }
            if (json_is_string(json_object_get(r, "error")))
                snprintf(err, sizeof err, " error: %.250s",
                         json_string_value(json_object_get(r, "error")));
            snprintf(line, sizeof line,
                     "run %lld: %s (attempt %lld)%s%s, train_loss %s, val_acc %s%s%s", w->run,
                     state ? state : "?",
                     (long long)json_integer_value(json_object_get(r, "attempt")), stepb, epochb,
                     loss, acc, etab, err);
        }
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
                                         {"json", no_argument, NULL, 'j'},
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
        } else if (c == 'j') {
            w.json = true;
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
