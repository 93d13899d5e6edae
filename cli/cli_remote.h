/* What the REST client commands share beyond the transport: option
 * parsing with the common --server/--token/--json, and value formatting
 * for tables. */
#ifndef CLI_REMOTE_H
#define CLI_REMOTE_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>

#include "cli_rest.h"

/* Takes --server/--token out of argv and prints the usage (with the shared
 * options) for --help. Returns -1 to go on, else the exit status. */
int cli_remote_begin(const char *cmd, const char *usage, struct cli_rest *rest, int *argc,
                     char **argv);

/* Prints `j` indented on stdout. */
void cli_print_json(const json_t *j);

/* A table cell for a JSON value, for people: integers whole (65536, even
 * when JSON holds 65536.0), other numbers to 4 significant digits (0.05,
 * 0.8123), null as "-". */
void cli_cell(char *out, size_t len, const json_t *v);

/* A run id argument ("12"): QC_EINVAL naming it otherwise. */
int cli_parse_id(const char *cmd, const char *s, long long *id);

#endif
