/* Metric reads at the edges (defects 8 and 9): a step of 2^63-1 used to
 * overflow the downsampling arithmetic (1001 points for max_points=10),
 * and a run with more than 256 series silently lost the rest. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvt.h"

static char dir[SRVT_PATH];
static struct srvt_server srv;
static struct srvt_worker wk;
static struct srvt_lease ls;

static void up(void)
{
    srvt_up_leased(dir, sizeof dir, &srv, &wk, &ls, "m");
}

static void down(void)
{
    srvt_down(&srv, dir);
}

TestSuite(metrics_read, .init = up, .fini = down);

static void post(const char *body)
{
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)ls.run);
    json_t *j = srvt_call(&srv, wk.token, ls.lease, "POST", path, body, 200);
    json_decref(j);
}

static char *grow(char *buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        buf = realloc(buf, *cap);
        cr_assert_not_null(buf);
    }
    memcpy(buf + *len, text, n + 1);
    *len += n;
    return buf;
}

Test(metrics_read, the_largest_step_downsamples_like_any_other)
{
    char *body = NULL, pt[96];
    size_t len = 0, cap = 0;
    body = grow(body, &len, &cap, "{\"points\": [");
    for (int s = 0; s < 1000; s++) {
        snprintf(pt, sizeof pt, "{\"step\": %d, \"name\": \"loss\", \"value\": %d},", s, s);
        body = grow(body, &len, &cap, pt);
    }
    body = grow(body, &len, &cap,
                "{\"step\": 9223372036854775807, \"name\": \"loss\", \"value\": -1}]}");
    post(body);
    free(body);

    char path[128];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?max_points=10", (long long)ls.run);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *steps = srvt_at(j, "series.loss.step");
    cr_assert(json_is_array(steps));
    cr_expect_leq(json_array_size(steps), 10, "max_points=10 gave %zu points",
                  json_array_size(steps));
    /* Five buckets over 0..2^63-1: the first holds 0..999 (its min and
     * max), the last the one huge step. */
    cr_assert_eq(json_array_size(steps), 3);
    cr_expect_eq(srvt_int(j, "series.loss.step.0"), 0);
    cr_expect_eq(srvt_int(j, "series.loss.step.1"), 999);
    cr_expect_eq(srvt_int(j, "series.loss.step.2"), INT64_MAX);
    cr_expect_eq(srvt_int(j, "last_step"), INT64_MAX);
    cr_expect(json_is_true(srvt_at(j, "downsampled")));
    json_decref(j);

    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics?since=9223372036854775806",
             (long long)ls.run);
    j = srvt_json(&srv, "GET", path, NULL, 200);
    cr_expect_eq(json_array_size(srvt_at(j, "series.loss.step")), 1);
    json_decref(j);
}

Test(metrics_read, every_series_is_returned)
{
    /* 300 names in two batches (a batch holds at most 256 names). */
    for (int b = 0; b < 2; b++) {
        char *body = NULL, pt[96];
        size_t len = 0, cap = 0;
        body = grow(body, &len, &cap, "{\"points\": [");
        for (int i = b * 150; i < (b + 1) * 150; i++) {
            snprintf(pt, sizeof pt, "%s{\"step\": 1, \"name\": \"m%03d\", \"value\": %d}",
                     i == b * 150 ? "" : ",", i, i);
            body = grow(body, &len, &cap, pt);
        }
        body = grow(body, &len, &cap, "]}");
        post(body);
        free(body);
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v1/runs/%lld/metrics", (long long)ls.run);
    json_t *j = srvt_json(&srv, "GET", path, NULL, 200);
    const json_t *series = json_object_get(j, "series");
    cr_expect_eq(json_object_size(series), 300, "%zu series of 300", json_object_size(series));
    cr_expect_eq(json_number_value(srvt_at(j, "series.m299.value.0")), 299.0);
    json_decref(j);
}
