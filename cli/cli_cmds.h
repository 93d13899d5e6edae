/* Entry points of the qlab commands, one per cmd_*.c file, called by the
 * dispatcher in main.c. Each takes the command's own argv (argv[0] is the
 * command name), handles --help itself, and returns the process exit status
 * after reporting any error as one line on stderr. */
#ifndef CLI_CMDS_H
#define CLI_CMDS_H

int cli_cmd_formats(int argc, char **argv);
int cli_cmd_quantize(int argc, char **argv);
int cli_cmd_gemm(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_validate(int argc, char **argv);
int cli_cmd_cost(int argc, char **argv);
/* The REST client (qlab-server): */
int cli_cmd_submit(int argc, char **argv);
int cli_cmd_runs(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_watch(int argc, char **argv);
int cli_cmd_cancel(int argc, char **argv);
int cli_cmd_workers(int argc, char **argv);
int cli_cmd_metrics(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
int cli_cmd_sweeps(int argc, char **argv);
int cli_cmd_tag(int argc, char **argv);
int cli_cmd_note(int argc, char **argv);
int cli_cmd_rename(int argc, char **argv);
int cli_cmd_rm(int argc, char **argv);
int cli_cmd_upload(int argc, char **argv);

/* The long CSV of several runs' (comma list `runs`, may be NULL) or a
 * sweep's (`sweep`, 0 for none) metric points, to `out_path` (NULL:
 * stdout); the exit status (cmd_export.c). */
struct cli_rest;
int cli_metrics_long(const struct cli_rest *rest, const char *runs, long long sweep,
                     const char *names, const char *out_path);

/* Records a run trained here on the server (POST /runs/import), then its
 * checkpoint: `spec_text` (the canonical spec), the metric lines `lines`
 * (JSON lines as qlab train writes them) with each line's wall time
 * (`times`, ntimes of them; NULL: the points get `finished`), the
 * checkpoint directory (""
 * or NULL: none), times in seconds since the epoch (0: unknown), the
 * outcome (`error` NULL for success) and tags. *id receives the run's id
 * (also reported on stderr); returns the exit status (cmd_upload.c). */
int cli_upload_run(long long *id, const struct cli_rest *rest, const char *spec_text,
                   const char *lines, size_t lines_len, const double *times, size_t ntimes,
                   const char *checkpoint_dir, double started, double finished, const char *error,
                   const char *const *tags, int ntags, const char *note);

#endif
