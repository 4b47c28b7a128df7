/* SPDX-License-Identifier: Apache-2.0 */
/* Shared pieces of the capverify front-end (cli.c): exit codes (as `capverify --help` lists
 * them) and error reporting. Each command has its own header (cmd_<name>.h); reading inputs
 * is input.h's. */
#ifndef CAPV_CLI_H
#define CAPV_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Option parsing of every command: getopt_long with GNU argument permutation, so options
 * take `--opt value` or `--opt=value`, may follow the operands, unique prefixes of long
 * options are accepted and `--` ends the options. A command calls cli_opt_begin() and then
 * cli_next_opt() until it returns -1; its operands are then argv[optind..argc). argv[0] is
 * the command's name. */
#define CLI_OPT_ERROR (-2)
#define CLI_OPT_HELP                                                                               \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

void cli_opt_begin(void);

/* The next option: its `val` in `longopts` (or the character of a short option in
 * `shortopts`, getopt syntax), -1 after the last option, or CLI_OPT_ERROR once the usage
 * error of `cmd` was printed (unknown option, a value missing or not allowed). */
int cli_next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts);

/* The option cli_next_opt() returned last, as written ("--trust", "-q"), for messages. */
const char *cli_opt_name(void);

/* A subcommand of a command (capverify audit verify, ...): its name and what runs it, with
 * argv[0] its name. */
typedef struct cli_subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
} cli_subcommand;

/* Runs the subcommand argv[1] of `cmd` (one of the `n` of `subs`). Without one: `usage` on
 * stderr and EXIT_USAGE; "--help", "-h" or "help": `usage` on stdout; an unknown one: a usage
 * error that lists them. */
int cli_run_subcommand(const char *cmd, int argc, char **argv, const cli_subcommand *subs, size_t n,
                       void (*usage)(FILE *f));

/* Prints `s` as a JSON string literal on `f` (falls back to a lossy hex form for names that
 * are not UTF-8, so the output stays valid JSON). */
void cli_print_json_string(FILE *f, const char *s);

/* The fields every backup's JSON shares, a local one's and a stored one's (each string as
 * JSON: sidecars are read from directories and buckets others may write), on stdout after a
 * member: `,"created_at":…,"sha3_256":…,…,"tool_version":…`. */
void cli_print_backup_fields(const char *created_at, const char *sha3_256, uint64_t size_bytes,
                             int schema_version, uint64_t entries, uint64_t verifications,
                             const char *tool_version);

/* Ctrl-C and SIGTERM while caught (`on`; false restores the default; docs/registry.md,
 * "JSON import / export and pages", "Off-site copies"): the first is noted, for the command to stop at its next step
 * and remove what it made (cli_interrupted; the off-site store's calls are cancelled); a
 * second ends the process. */
void cli_interrupt_catch(bool on);
bool cli_interrupted(void);

/* While `path` is not NULL, Ctrl-C and SIGTERM remove the SQLite file `path`, which this
 * command created, with its companions (cli_remove_sqlite_file), and end the process: for
 * work the library cannot stop halfway (docs/registry.md, "Copy between storages"). NULL
 * restores the default. */
void cli_interrupt_remove(const char *path);

/* Removes the SQLite file `path`, which this command created, and its companions (-wal,
 * -shm, .lock). */
void cli_remove_sqlite_file(const char *path);

#endif
