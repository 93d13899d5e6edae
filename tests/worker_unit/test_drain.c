/* Unit tests of the drain before a batch job's end (worker/qw_drain.c and
 * its options in worker/qw_config.c): when the timer fires, the end time
 * from SLURM's environment below the flags, the signal names, and a
 * --drain-before that has no end time to count from. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "worker/qw_config.h"
#include "worker/qw_drain.h"

static void setup(void)
{
    unsetenv("QLAB_SERVER");
    unsetenv("QLAB_TOKEN");
    unsetenv("SLURM_JOB_END_TIME");
    setenv("HOME", "/home/tester", 1);
}

TestSuite(drain, .init = setup);

static int load(struct qw_config *c, struct qc_err *err, const char *const *args)
{
    char *argv[16];
    int argc = 0;

    argv[argc++] = (char *)"qlab-worker";
    for (int i = 0; args && args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    qc_err_clear(err);
    return qw_config_load(c, argc, argv, err);
}

Test(drain, the_delay_counts_back_from_the_end_and_is_never_negative)
{
    cr_expect_eq(qw_drain_delay_ms(1000.0, 120.0, 800.0), 80000u);
    cr_expect_eq(qw_drain_delay_ms(1000.0, 120.0, 879.9995), 1u); /* rounded up, not to 0 */
    cr_expect_eq(qw_drain_delay_ms(1000.0, 120.0, 880.0), 0u);
    cr_expect_eq(qw_drain_delay_ms(1000.0, 120.0, 999.0), 0u); /* due already: at once */
    cr_expect_eq(qw_drain_delay_ms(1000.0, 120.0, 5000.0), 0u);
}

Test(drain, the_end_time_comes_from_slurm_below_the_flag)
{
    struct qw_config c;
    struct qc_err err;

    cr_assert_eq(load(&c, &err, NULL), 0, "%s", err.msg);
    cr_expect_eq(c.end_time, 0.0);
    cr_expect_eq(c.drain_before_s, 0.0);
    cr_expect_eq(c.drain_signal, 0);
    setenv("SLURM_JOB_END_TIME", "1796301105", 1);
    cr_assert_eq(load(&c, &err, (const char *[]){"--drain-before", "120", NULL}), 0, "%s", err.msg);
    cr_expect_eq(c.end_time, 1796301105.0);
    cr_expect_eq(c.drain_before_s, 120.0);
    cr_assert_eq(load(&c, &err, (const char *[]){"--end-time", "1796300000", NULL}), 0, "%s",
                 err.msg);
    cr_expect_eq(c.end_time, 1796300000.0);
    setenv("SLURM_JOB_END_TIME", "soon", 1);
    cr_expect_eq(load(&c, &err, NULL), QC_EINVAL);
    cr_expect_neq(strstr(err.msg, "SLURM_JOB_END_TIME"), NULL, "%s", err.msg);
}

Test(drain, drain_before_without_an_end_time_is_refused)
{
    struct qw_config c;
    struct qc_err err;

    cr_expect_eq(load(&c, &err, (const char *[]){"--drain-before", "60", NULL}), QC_EINVAL);
    cr_expect_str_eq(err.field, "drain-before");
    cr_expect_neq(strstr(err.msg, "--end-time"), NULL, "%s", err.msg);
}

Test(drain, signal_names_with_or_without_sig)
{
    static const struct {
        const char *name;
        int signum;
    } ok[] = {{"USR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"HUP", SIGHUP}, {"none", 0}};
    struct qw_config c;
    struct qc_err err;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(load(&c, &err, (const char *[]){"--drain-signal", ok[i].name, NULL}), 0,
                     "%s: %s", ok[i].name, err.msg);
        cr_expect_eq(c.drain_signal, ok[i].signum, "%s", ok[i].name);
    }
    /* SIGTERM and SIGINT already mean shutdown; SIGKILL cannot be caught. */
    for (const char *const *bad = (const char *[]){"TERM", "KILL", "usr1", "10", NULL}; *bad;
         bad++) {
        cr_expect_eq(load(&c, &err, (const char *[]){"--drain-signal", *bad, NULL}), QC_EINVAL,
                     "%s", *bad);
        cr_expect_str_eq(err.field, "drain-signal");
    }
}
