/* Hardware cost in run records (server/cost.c, docs/cost.md): a run gets
 * the cost of its three GEMM groups' MACs at once when the figures are
 * known (the committed hw/cost-table.json), "unsupported" naming the field
 * when the RTL cannot express a MAC, "unavailable" when nothing may
 * synthesize here; and with --cost-jobs, a real Yosys run in the background
 * fills a pending run in, after a restart in the middle of it too. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;

static void start_jobs0(void)
{
    static const char *const args[] = {"--cost-jobs", "0", NULL};
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, args);
}

static void stop(void)
{
    srvt_stop_clean(&srv);
    srvt_dir_remove(dir);
}

/* A lenet5 spec on the synthetic data with `arith` (a JSON object body). */
static const char *spec_with(const char *name, const char *arith)
{
    static char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"name\": \"%s\", \"model\": {\"arch\": \"lenet5\"}, "
             "\"dataset\": {\"name\": \"synthetic\"}, \"train\": {\"epochs\": 1}, "
             "\"arith\": %s}",
             name, arith);
    return buf;
}

static json_t *run_cost(int64_t id)
{
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)id);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    json_t *c = json_incref(json_object_get(json_object_get(j, "run"), "cost"));
    json_decref(j);
    return c;
}

static int64_t submit(const char *body)
{
    json_t *j = srvt_json(&srv, "POST", "/api/v1/experiments", body, 201);
    int64_t id = srvt_int(j, "run.id");
    json_decref(j);
    return id;
}

Test(cost, known_figures_are_attached_at_once, .init = start_jobs0, .fini = stop)
{
    /* fp32 everywhere: in the committed table (hw/calibrate.py puts the
     * examples' configurations there). */
    json_t *c = run_cost(srvt_submit(&srv, "fp32"));
    cr_assert_str_eq(srvt_str(c, "status"), "ok", "%s", json_dumps(c, 0));
    const int64_t lut = srvt_int(c, "lut");
    cr_assert_gt(lut, 0);
    cr_assert_eq(lut,
                 srvt_int(c, "groups.forward.lut") + srvt_int(c, "groups.grad_input.lut") +
                     srvt_int(c, "groups.grad_weight.lut"),
                 "the run's LUTs are its three MAC units'");
    cr_assert_gt(srvt_int(c, "gates"), lut);
    cr_assert_gt(srvt_int(c, "dsp"), 0, "fp32 multipliers use DSP blocks");
    cr_assert(strncmp(srvt_str(c, "tool"), "Yosys ", 6) == 0);
    json_decref(c);
}

Test(cost, what_the_rtl_cannot_express_is_named, .init = start_jobs0, .fini = stop)
{
    json_t *c = run_cost(submit(spec_with(
        "sr", "{\"forward\": {\"mac\": {\"acc\": \"e6m5\", \"acc_rounding\": \"sr\"}}}")));
    cr_assert_str_eq(srvt_str(c, "status"), "unsupported");
    cr_assert(json_is_null(srvt_at(c, "lut")), "no sum without every group");
    cr_assert_str_eq(srvt_str(c, "groups.forward.field"), "acc_rounding");
    cr_assert(strstr(srvt_str(c, "groups.forward.error"), "stochastic"));
    json_decref(c);

    /* Not in any table, and no synthesis on this server. */
    const int64_t odd =
        submit(spec_with("odd", "{\"forward\": {\"weights\": \"e3m3\", \"activations\": \"e3m3\", "
                                "\"mac\": {\"cfg\": 6, \"acc\": \"e5m4:bias=20\"}}}"));
    c = run_cost(odd);
    cr_assert_str_eq(srvt_str(c, "status"), "unavailable");
    cr_assert(json_is_string(srvt_at(c, "groups.forward.pending")));
    json_decref(c);

    struct srvt_resp r;
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/metrics"});
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "qlab_cost_jobs{state=\"queued\"} 0"), "%s", r.body);
    cr_assert(strstr(r.body, "qlab_cost_pending_runs 1"), "the unavailable run waits");
    cr_assert(strstr(r.body, "qlab_cost_synth_runs_total 0"));
    srvt_resp_free(&r);

    /* Deleting a run whose cost waits takes it off the waiting list. */
    char path[64];
    snprintf(path, sizeof path, "/api/v1/runs/%lld", (long long)odd);
    json_decref(srvt_json(&srv, "DELETE", path, NULL, 200));
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/metrics"});
    cr_assert(strstr(r.body, "qlab_cost_pending_runs 0"), "%s", r.body);
    srvt_resp_free(&r);
}

/* The smallest MAC there is: 4-bit fixed-point inputs, an 8-bit
 * accumulator; a few seconds of Yosys per unit, and only the MAC unit is
 * not in the committed table. */
#define TINY                                                                                       \
    "{\"forward\": {\"weights\": \"q2.2\", \"activations\": \"q2.2\", "                            \
    "\"mac\": {\"acc\": \"q6.2\"}}, \"backward\": {\"errors\": \"q2.2\", "                         \
    "\"mac\": {\"acc\": \"q6.2\"}}}"

/* The value of a sample line "NAME VALUE" of /metrics; -1 when absent. */
static int64_t metric(const char *name)
{
    struct srvt_resp r;
    char line[160];
    srvt_do(&r, &srv, &(struct srvt_req){.method = "GET", .path = "/metrics"});
    snprintf(line, sizeof line, "\n%s ", name);
    const char *p = strstr(r.body, line);
    long long v = -1;
    if (p)
        sscanf(p + strlen(line), "%lld", &v);
    srvt_resp_free(&r);
    return v;
}

Test(cost, background_synthesis_fills_a_pending_run_across_a_restart, .timeout = 900)
{
    if (access("/usr/bin/yosys", X_OK) && system("command -v yosys >/dev/null 2>&1"))
        cr_skip_test("yosys is not installed (make deps installs it)");
    static const char *const args[] = {"--cost-jobs", "1", NULL};
    srvt_dir_make(dir, sizeof dir);
    srvt_start(&srv, dir, args);
    const int64_t id = submit(spec_with("tiny", TINY));
    json_t *c = run_cost(id);
    cr_assert_str_eq(srvt_str(c, "status"), "pending", "%s", json_dumps(c, 0));
    json_decref(c);
    /* Stop while its job runs (the Yosys process is killed), start again:
     * the job is queued again and finishes. */
    for (double t0 = srvt_now(); metric("qlab_cost_jobs{state=\"running\"}") != 1;) {
        cr_assert_lt(srvt_now() - t0, 30, "the job never started");
        srvt_sleep(0.1);
    }
    srvt_stop_clean(&srv);
    srvt_start(&srv, dir, args);
    double t0 = srvt_now();
    for (;;) {
        c = run_cost(id);
        if (strcmp(srvt_str(c, "status"), "pending"))
            break;
        json_decref(c);
        cr_assert_lt(srvt_now() - t0, 800, "still pending: %s", srvt_log(&srv));
        srvt_sleep(0.5);
    }
    cr_assert_str_eq(srvt_str(c, "status"), "ok", "%s", json_dumps(c, 0));
    cr_assert_gt(srvt_int(c, "lut"), 0);
    cr_assert_eq(srvt_int(c, "groups.forward.lut"), srvt_int(c, "groups.grad_weight.lut"),
                 "one configuration, one figure");
    json_decref(c);
    /* Only the MAC's two flows: its multiplier and accumulator come from the
     * committed table (hw/calibrate.py puts them there to keep this short). */
    cr_assert_eq(metric("qlab_cost_synth_runs_total"), 2);
    cr_assert_eq(metric("qlab_cost_jobs{state=\"done\"}"), 1);
    cr_assert_eq(metric("qlab_cost_pending_runs"), 0);
    /* A second run of the same configuration is priced at once. */
    c = run_cost(submit(spec_with("tiny-again", TINY)));
    cr_assert_str_eq(srvt_str(c, "status"), "ok");
    json_decref(c);
    stop();
}
