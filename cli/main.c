/* The qlab program: a dispatcher over a table of commands (name, entry
 * point, one-line help). Each command lives in its own cmd_*.c file; the
 * local ones (formats, quantize, gemm, train) and the REST client's (submit,
 * runs, metrics, watch) are rows of the same table. */
#include <stdio.h>
#include <string.h>

#include "cli_cmds.h"
#include "cli_util.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"formats", cli_cmd_formats, "print the traits of number formats (table or --json)"},
    {"quantize", cli_cmd_quantize, "round raw f32/f64 values from stdin to a format"},
    {"gemm", cli_cmd_gemm, "multiply two f32 matrix files with an emulated MAC"},
    {"train", cli_cmd_train, "train an experiment spec here, metrics as JSON lines"},
    {"validate", cli_cmd_validate, "check an experiment spec without running it"},
    {"cost", cli_cmd_cost, "hardware cost of a MAC configuration, synthesized with Yosys"},
    {"submit", cli_cmd_submit, "check and submit an experiment or a sweep to qlab-server"},
    {"runs", cli_cmd_runs, "list runs (--sweep ID, --state S, --filter, --order-by)"},
    {"show", cli_cmd_show, "show one run: state, leases, summary, spec"},
    {"watch", cli_cmd_watch, "follow a run or a sweep live until it finishes"},
    {"cancel", cli_cmd_cancel, "cancel a run or a sweep"},
    {"workers", cli_cmd_workers, "list the workers and their devices"},
    {"metrics", cli_cmd_metrics, "print a run's metric series, or several runs' as one CSV"},
    {"sweeps", cli_cmd_sweeps, "list sweeps (--filter, --order-by)"},
    {"export", cli_cmd_export, "write a sweep's results table as CSV or JSON"},
    {"tag", cli_cmd_tag, "add or remove tags of a run or a sweep"},
    {"note", cli_cmd_note, "set or print the markdown note of a run or a sweep"},
    {"rename", cli_cmd_rename, "rename a run or a sweep"},
    {"rm", cli_cmd_rm, "delete runs or a sweep, with their metrics and checkpoints"},
    {"upload", cli_cmd_upload, "record a run trained here on the server"},
    {"report", cli_cmd_report, "write a sweep's results and plots as one HTML page"},
    {"help", NULL, "show this help, or a command's: qlab help COMMAND"},
};

#define N_COMMANDS ((int)(sizeof commands / sizeof commands[0]))

static const struct command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int print_usage(void)
{
    struct cli_buf b;
    int rc;

    cli_buf_init(&b);
    cli_buf_printf(&b, "usage: qlab COMMAND [OPTION...]\n"
                       "       qlab COMMAND --help | qlab help [COMMAND] | qlab --version\n\n"
                       "Low-precision arithmetic emulation (libqcore) and the qlab-server client\n"
                       "(QLAB_SERVER, QLAB_TOKEN).\n\n"
                       "Commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        cli_buf_printf(&b, "  %-10s %s\n", commands[i].name, commands[i].help);
    cli_buf_printf(
        &b, "\nExit status: 0 success, 2 usage error, 1 server, network or any other error.\n");
    rc = b.oom ? cli_fail(NULL, QC_ENOMEM, "out of memory") : cli_print_help(b.data);
    cli_buf_free(&b);
    return rc;
}

/* `qlab help CMD` is `qlab CMD --help`. */
static int run_help(int argc, char **argv)
{
    if (argc < 2)
        return print_usage();
    if (argc > 2)
        return cli_fail("help", QC_EINVAL, "takes at most one command name");
    const struct command *c = find_command(argv[1]);
    if (!c)
        return cli_fail("help", QC_EINVAL, "unknown command '%s'", argv[1]);
    if (!c->run)
        return print_usage();
    char help_flag[] = "--help";
    char *sub_argv[] = {argv[1], help_flag, NULL};
    return c->run(2, sub_argv);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_fail(NULL, QC_EINVAL, "missing command (see 'qlab help')");
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return print_usage();
    if (strcmp(name, "--version") == 0) {
        if (argc > 2)
            return cli_fail(NULL, QC_EINVAL, "--version takes no arguments");
        return cli_print_help("qlab " QLAB_VERSION "\n");
    }
    if (name[0] == '-')
        return cli_fail(NULL, QC_EINVAL, "unknown option '%s' (see 'qlab help')", name);
    const struct command *c = find_command(name);
    if (!c)
        return cli_fail(name, QC_EINVAL, "unknown command (see 'qlab help')");
    if (!c->run)
        return run_help(argc - 1, argv + 1);
    return c->run(argc - 1, argv + 1);
}
