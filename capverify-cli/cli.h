/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the capverify front-end (cli.c): exit codes (as `capverify --help` lists
 * them) and error reporting. Each command has its own header (cmd_<name>.h); reading inputs
 * is input.h's. */
#ifndef CAPV_CLI_H
#define CAPV_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <capverify.h>

enum cli_exit {
    EXIT_VERDICT_OK = 0,
    EXIT_VERDICT_WARN = 1,
    EXIT_VERDICT_FAIL = 2,
    EXIT_USAGE = 3,
    EXIT_MALFORMED = 4,
    EXIT_UNAVAILABLE = 5,
    EXIT_INTERNAL = 6
};

/* Exit code for a library status that ended a command. */
int cli_exit_for_status(capv_status st);

/* Prints "capverify: <what>: <detail>" for a failed library call on stderr and returns the
 * matching exit code. */
int cli_report(const char *what, capv_status st, const capv_error *err);

/* Prints a usage error on stderr, with a pointer to --help, and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints `s` as a JSON string literal on `f` (falls back to a lossy hex form for names that
 * are not UTF-8, so the output stays valid JSON). */
void cli_print_json_string(FILE *f, const char *s);

#endif
