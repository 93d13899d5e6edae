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
/* The REST client (qlab-server): */
int cli_cmd_submit(int argc, char **argv);
int cli_cmd_runs(int argc, char **argv);
int cli_cmd_show(int argc, char **argv);
int cli_cmd_watch(int argc, char **argv);
int cli_cmd_cancel(int argc, char **argv);
int cli_cmd_workers(int argc, char **argv);
int cli_cmd_metrics(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);

#endif
