/* Unit tests of the metric journal (worker/qw_journal.c) on real files: the
 * header and its mode, each batch synced before append returns, replay of
 * exactly what the file promises (every point not acknowledged, in append
 * order, bit for bit), a torn last line ignored, truncation once the
 * server has caught up, the bound that pauses training, and the errors of
 * unreadable, corrupt and unwritable journals. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker/qw_journal.h"
#include "wut.h"

#define HEADER "qlab-worker-journal 1 run=7 lease=L-1 token=tok\n"

static char dir[WUT_PATH];
static char path[WUT_PATH + 32];

static void setup(void)
{
    wut_dir_make(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run-7.jnl", dir);
}

static void teardown(void)
{
    wut_dir_remove(dir);
}

TestSuite(journal, .init = setup, .fini = teardown, .timeout = 30);

static struct qw_point pt(int64_t step, double value, const char *name)
{
    struct qw_point p = {.step = step, .value = value};
    snprintf(p.name, sizeof p.name, "%s", name);
    return p;
}

static struct qw_journal *create(int64_t max_bytes)
{
    struct qw_journal *j = NULL;
    struct qc_err err;
    int rc = qw_journal_create(&j, path, 7, "L-1", "tok", max_bytes, &err);
    cr_assert_eq(rc, 0, "create: %s", err.msg);
    cr_assert_not_null(j);
    return j;
}

static void append(struct qw_journal *j, const struct qw_point *p, int n)
{
    struct qc_err err;
    int rc = qw_journal_append(j, p, n, NULL, &err);
    cr_assert_eq(rc, 0, "append: %s", err.msg);
}

/* Loads the file and checks its points against `want` exactly. */
static void expect_replay(const struct qw_point *want, int64_t n)
{
    struct qw_journal *j = NULL;
    struct qw_journal_rec rec;
    struct qc_err err;

    int rc = qw_journal_load(&j, &rec, path, &err);
    cr_assert_eq(rc, 0, "load: %s", err.msg);
    cr_assert_not_null(j);
    cr_assert_eq(rec.run, 7);
    cr_assert_str_eq(rec.lease, "L-1");
    cr_assert_str_eq(rec.token, "tok");
    cr_assert_eq(rec.n, n, "replay has %lld points, expected %lld", (long long)rec.n, (long long)n);
    for (int64_t i = 0; i < n; i++) {
        cr_expect_eq(rec.points[i].step, want[i].step, "point %lld", (long long)i);
        cr_expect(memcmp(&rec.points[i].value, &want[i].value, sizeof(double)) == 0,
                  "point %lld: %.17g, expected %.17g", (long long)i, rec.points[i].value,
                  want[i].value);
        cr_expect_str_eq(rec.points[i].name, want[i].name, "point %lld", (long long)i);
    }
    /* A loaded journal has every point pending; the replay acks them. */
    qw_journal_ack(j, n);
    cr_expect_str_eq(qw_journal_path(j), path);
    qw_journal_destroy(j);
    free(rec.points);
}

static int load_rc(struct qc_err *err)
{
    struct qw_journal *j = NULL;
    struct qw_journal_rec rec;

    qc_err_clear(err);
    int rc = qw_journal_load(&j, &rec, path, err);
    cr_assert_eq(rc != 0, j == NULL, "a journal handle exactly on success");
    qw_journal_destroy(j);
    free(rec.points);
    return rc;
}

Test(journal, create_writes_a_synced_header_that_only_its_owner_can_read)
{
    struct stat st;

    wut_probe_reset();
    struct qw_journal *j = create(1 << 20);
    char *text = wut_read_file(path);
    cr_expect_str_eq(text, HEADER);
    free(text);
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "mode %o: the file holds the worker token",
                 (unsigned)(st.st_mode & 0777));
    /* The header is on disk, and so is the directory entry naming it. */
    cr_assert_eq(wut_probe_count(), 2);
    cr_expect_eq(wut_probe_event(0)->call, WUT_FDATASYNC);
    cr_expect(!wut_probe_event(0)->dir);
    cr_expect_eq(wut_probe_event(0)->size, (off_t)strlen(HEADER));
    cr_expect_eq(wut_probe_event(1)->call, WUT_FSYNC);
    cr_expect(wut_probe_event(1)->dir, "the second sync is the directory's");
    qw_journal_destroy(j);
}

Test(journal, create_without_a_token_writes_a_dash_that_loads_as_empty)
{
    struct qw_journal *j = NULL;
    struct qw_journal_rec rec;
    struct qc_err err;

    cr_assert_eq(qw_journal_create(&j, path, 12, "abc", "", 1 << 20, &err), 0, "%s", err.msg);
    qw_journal_destroy(j);
    char *text = wut_read_file(path);
    cr_expect_str_eq(text, "qlab-worker-journal 1 run=12 lease=abc token=-\n");
    free(text);
    cr_assert_eq(qw_journal_load(&j, &rec, path, &err), 0, "%s", err.msg);
    cr_expect_eq(rec.run, 12);
    cr_expect_str_eq(rec.token, "");
    cr_expect_eq(rec.n, 0);
    qw_journal_destroy(j);
    free(rec.points);
}

Test(journal, create_refuses_a_lease_or_token_it_could_not_read_back)
{
    static const char *const bad[][2] = {{"a b", "tok"}, {"", "tok"}, {"L", "t\tk"}, {"L\n", ""}};
    struct qw_journal *j = NULL;
    struct qc_err err;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qc_err_clear(&err);
        int rc = qw_journal_create(&j, path, 3, bad[i][0], bad[i][1], 1 << 20, &err);
        cr_expect_eq(rc, QC_EINVAL, "lease '%s' token '%s'", bad[i][0], bad[i][1]);
        cr_expect_null(j);
        cr_expect(strstr(err.msg, "run 3"), "the message names the run: %s", err.msg);
        cr_expect_eq(access(path, F_OK), -1, "nothing is written");
    }
}

Test(journal, create_truncates_an_older_file_of_the_same_name)
{
    wut_write_file(path, "qlab-worker-journal 1 run=7 lease=old token=-\n1 2 x\n", false);
    struct qw_journal *j = create(1 << 20);
    qw_journal_destroy(j);
    expect_replay(NULL, 0);
}

Test(journal, each_batch_is_synced_before_append_returns)
{
    const struct qw_point a[2] = {pt(1, 0.5, "train_loss"), pt(1, 0.1, "lr")};
    const struct qw_point b[1] = {pt(2, 0.25, "train_loss")};
    struct stat st;

    struct qw_journal *j = create(1 << 20);
    wut_probe_reset();
    append(j, a, 2);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(wut_probe_count(), 1, "one sync per batch, not per point");
    cr_expect_eq(wut_probe_event(0)->call, WUT_FDATASYNC);
    cr_expect_eq(wut_probe_event(0)->size, st.st_size, "the sync covers the whole batch");
    cr_expect_gt(st.st_size, (off_t)strlen(HEADER));
    append(j, b, 1);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(wut_probe_count(), 2);
    cr_expect_eq(wut_probe_event(1)->size, st.st_size);
    qw_journal_destroy(j);
}

Test(journal, replay_returns_every_point_in_append_order_bit_for_bit)
{
    /* Values that a shorter decimal form than %.17g would not round-trip. */
    const struct qw_point a[3] = {pt(0, 0.1, "lr"), pt(0, -2.5e-300, "fwd_underflow_rate"),
                                  pt(10, 1.0 / 3.0, "train_acc")};
    const struct qw_point b[2] = {pt(11, 123456789.125, "fwd_macs"), pt(12, -0.0, "x")};
    struct qw_point all[5] = {a[0], a[1], a[2], b[0], b[1]};

    struct qw_journal *j = create(1 << 20);
    append(j, a, 3);
    append(j, b, 2);
    qw_journal_destroy(j);
    expect_replay(all, 5);
}

Test(journal, a_torn_last_line_is_ignored)
{
    const struct qw_point a[2] = {pt(1, 0.5, "train_loss"), pt(2, 0.25, "train_loss")};
    /* A crash mid-write leaves part of a line; even one that parses is not
     * trusted without its newline (its value may be cut short). */
    static const char *const torn[] = {"3 0.12", "3 0.125 train_lo", "3 0.125 train_loss"};

    for (size_t i = 0; i < sizeof torn / sizeof torn[0]; i++) {
        struct qw_journal *j = create(1 << 20);
        append(j, a, 2);
        qw_journal_destroy(j);
        wut_write_file(path, torn[i], true);
        expect_replay(a, 2);
    }
}

Test(journal, replay_ends_at_a_damaged_line)
{
    const struct qw_point a[1] = {pt(1, 0.5, "train_loss")};
    char line[128];

    struct qw_journal *j = create(1 << 20);
    append(j, a, 1);
    qw_journal_destroy(j);
    wut_write_file(path, "not a point\n2 0.25 train_loss\n", true);
    expect_replay(a, 1);

    /* A name as long as the limit cannot be a point's name. */
    j = create(1 << 20);
    append(j, a, 1);
    qw_journal_destroy(j);
    snprintf(line, sizeof line, "2 0.25 %0*d\n", QW_METRIC_NAME_MAX, 0);
    wut_write_file(path, line, true);
    expect_replay(a, 1);
}

Test(journal, the_next_append_drops_points_once_all_are_acknowledged)
{
    const struct qw_point a[2] = {pt(1, 0.5, "train_loss"), pt(1, 0.1, "lr")};
    const struct qw_point b[1] = {pt(2, 0.25, "train_loss")};
    char want[256];

    struct qw_journal *j = create(1 << 20);
    append(j, a, 2);
    qw_journal_ack(j, 2);
    append(j, b, 1);
    qw_journal_destroy(j);
    char *text = wut_read_file(path);
    snprintf(want, sizeof want, "%s2 0.25 train_loss\n", HEADER);
    cr_expect_str_eq(text, want, "the file is the header and the one unacknowledged line");
    free(text);
    expect_replay(b, 1);
}

Test(journal, points_stay_until_every_earlier_point_is_acknowledged)
{
    const struct qw_point a[2] = {pt(1, 0.5, "train_loss"), pt(1, 0.1, "lr")};
    const struct qw_point b[1] = {pt(2, 0.25, "train_loss")};
    const struct qw_point c[1] = {pt(3, 0.125, "train_loss")};
    const struct qw_point ab[3] = {a[0], a[1], b[0]};

    /* Truncation is all or nothing: with a[1] still pending, a[0] (already
     * acknowledged) is replayed too, and the server drops it as a duplicate
     * of (run, step, name). */
    struct qw_journal *j = create(1 << 20);
    append(j, a, 2);
    qw_journal_ack(j, 1);
    append(j, b, 1);
    expect_replay(ab, 3);
    qw_journal_ack(j, 2);
    append(j, c, 1);
    qw_journal_destroy(j);
    expect_replay(c, 1);
}

Test(journal, acknowledged_points_stay_on_disk_until_the_next_append)
{
    const struct qw_point a[2] = {pt(1, 0.5, "train_loss"), pt(1, 0.1, "lr")};

    /* The acking thread does no disk I/O; a crash before the next append
     * replays these, which the server deduplicates. */
    struct qw_journal *j = create(1 << 20);
    append(j, a, 2);
    qw_journal_ack(j, 2);
    qw_journal_destroy(j);
    expect_replay(a, 2);
}

Test(journal, acks_beyond_the_appended_points_are_clamped)
{
    const struct qw_point a[1] = {pt(1, 0.5, "a")};
    const struct qw_point b[1] = {pt(2, 0.5, "b")};
    const struct qw_point c[1] = {pt(3, 0.5, "c")};

    /* Were the surplus ack kept, the count would never again equal the
     * appended points and the file would never be truncated. */
    struct qw_journal *j = create(1 << 20);
    append(j, a, 1);
    qw_journal_ack(j, 5);
    append(j, b, 1);
    qw_journal_ack(j, 1);
    append(j, c, 1);
    qw_journal_destroy(j);
    expect_replay(c, 1);
}

Test(journal, a_full_journal_gives_up_when_told_to_stop)
{
    const struct qw_point a[1] = {pt(1, 0.5, "a")};
    const struct qw_point b[1] = {pt(2, 0.5, "a_name_long_enough_to_pass_the_bound")};
    atomic_int stop = 1;
    struct qc_err err;

    /* Room for the header and the first line only. */
    struct qw_journal *j = create((int64_t)strlen(HEADER) + 16);
    cr_assert_eq(qw_journal_append(j, a, 1, &stop, &err), 0, "room left: stop does not matter");
    qc_err_clear(&err);
    cr_expect_eq(qw_journal_append(j, b, 1, &stop, &err), QC_ECONFLICT);
    cr_expect(strstr(err.msg, "full"), "%s", err.msg);
    qw_journal_destroy(j);
    expect_replay(a, 1);
}

struct acker {
    struct qw_journal *j;
    atomic_int acked;
};

static void *ack_later(void *arg)
{
    struct acker *k = arg;
    struct timespec t = {0, 100 * 1000000L};
    nanosleep(&t, NULL);
    atomic_store(&k->acked, 1);
    qw_journal_ack(k->j, 1);
    return NULL;
}

Test(journal, a_full_journal_waits_for_the_server_to_catch_up)
{
    const struct qw_point a[1] = {pt(1, 0.5, "a")};
    const struct qw_point b[1] = {pt(2, 0.5, "a_name_long_enough_to_pass_the_bound")};
    struct acker k = {.acked = 0};
    atomic_int stop = 0;
    struct qc_err err;
    pthread_t th;

    k.j = create((int64_t)strlen(HEADER) + 16);
    append(k.j, a, 1);
    cr_assert_eq(pthread_create(&th, NULL, ack_later, &k), 0);
    cr_expect_eq(qw_journal_append(k.j, b, 1, &stop, &err), 0, "%s", err.msg);
    cr_expect_eq(atomic_load(&k.acked), 1, "append returned before the ack that made room");
    pthread_join(th, NULL);
    qw_journal_destroy(k.j);
    expect_replay(b, 1);
}

Test(journal, load_rejects_files_that_are_no_journal)
{
    static const char *const bad[] = {
        "",
        "qlab-worker-journal 1 run=7 lease=L token=-",   /* header without its newline */
        "qlab-worker-journal 2 run=7 lease=L token=-\n", /* another version */
        "qlab-worker-journal 1 lease=L token=-\n",       /* no run */
        "qlab-worker-journal 1 run=0 lease=L token=-\n", /* no valid run */
        "qlab-worker-journal 1 run=7 token=t\n",         /* no lease */
        "1 0.5 train_loss\n",
    };
    struct qc_err err;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wut_write_file(path, bad[i], false);
        cr_expect_eq(load_rc(&err), QC_ECORRUPT, "file '%s'", bad[i]);
        cr_expect(strstr(err.msg, path), "the message names the file: %s", err.msg);
    }
}

Test(journal, load_of_a_missing_file_is_an_io_error_naming_it)
{
    struct qc_err err;

    cr_expect_eq(load_rc(&err), QC_EIO);
    cr_expect(strstr(err.msg, path), "%s", err.msg);
    cr_expect(strstr(err.msg, strerror(ENOENT)), "%s", err.msg);
}

Test(journal, create_on_a_full_device_is_an_io_error)
{
    struct qw_journal *j = NULL;
    struct qc_err err;

    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("/dev/full is not writable here: %s", strerror(errno));
    cr_expect_eq(qw_journal_create(&j, "/dev/full", 7, "L", "", 1 << 20, &err), QC_EIO);
    cr_expect_null(j);
    cr_expect(strstr(err.msg, "/dev/full"), "%s", err.msg);
    cr_expect(strstr(err.msg, strerror(ENOSPC)), "%s", err.msg);
}

Test(journal, append_past_the_file_size_limit_is_an_io_error)
{
    struct qw_point many[64];
    struct rlimit old, lim;
    struct qc_err err;

    for (int i = 0; i < 64; i++)
        many[i] = pt(i, 0.5, "train_loss");
    struct qw_journal *j = create(1 << 20);
    /* The kernel refuses writes past RLIMIT_FSIZE (EFBIG once SIGXFSZ is
     * ignored): a disk that fills up mid-batch. */
    signal(SIGXFSZ, SIG_IGN);
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = strlen(HEADER) + 100;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0, "setrlimit: %s", strerror(errno));
    int rc = qw_journal_append(j, many, 64, NULL, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_expect_eq(rc, QC_EIO);
    cr_expect(strstr(err.msg, path), "%s", err.msg);
    qw_journal_destroy(j);
}
