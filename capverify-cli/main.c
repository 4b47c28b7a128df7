/* SPDX-License-Identifier: Apache-2.0 */
/* capverify: the command-line front-end of libcapverify (docs/architecture.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_audit.h"
#include "cmd_commit.h"
#include "cmd_hash.h"
#include "cmd_jwks.h"
#include "cmd_keys.h"
#include "cmd_policy.h"
#include "cmd_registry.h"
#include "cmd_sign.h"
#include "cmd_token.h"
#include "cmd_verify.h"
#include "cmd_version.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "audit", cmd_audit, "verify audit logs (hash chains), print their tip, export events" },
    { "commit", cmd_commit, "recompute commitment roots from supplier and UBO CSV files" },
    { "hash", cmd_hash, "print SHA3-256, SHA-256 or BLAKE3 digests of files" },
    { "jwks", cmd_jwks, "fetch a JWKS and show the keys it accepts and ignores" },
    { "keys", cmd_keys, "generate Ed25519 keys, show trust stores, compute key ids" },
    { "policy", cmd_policy, "compile, lint and evaluate policies; print policy hashes" },
    { "registry", cmd_registry, "the registry database: entries, backup, restore, check" },
    { "sign", cmd_sign, "append an Ed25519 signature to a manifest" },
    { "token", cmd_token, "validate a bearer JWT against a JWKS" },
    { "verify", cmd_verify, "verify CAP packages (directories or .zip files)" },
    { "version", cmd_version, "print the version of the tool and library" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: capverify <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nRun 'capverify help <command>' (or 'capverify <command> --help') for the options\n"
            "of a command.\n"
            "Exit codes: 0 ok, 1 warn, 2 fail, 3 usage error, 4 malformed input,\n"
            "5 unavailable (I/O, network), 6 internal error.\n");
}

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) of two short words,
 * capped: "did you mean" for a mistyped command. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    size_t d[33][33];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* The command `name` most likely meant (a prefix of one, or within two edits), or NULL. */
static const char *suggestion(const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        size_t d = strncmp(commands[i].name, name, strlen(name)) == 0 && *name
                       ? 1
                       : distance(name, commands[i].name);
        if (d < best_d) {
            best_d = d;
            best = commands[i].name;
        }
    }
    return best;
}

/* Returns `rc`, or when what went to standard output did not get there (a full disk,
 * /dev/full, a closed pipe), says so and returns the I/O error's exit code instead: a
 * verdict that is no failure is not what the caller got, nothing was. */
static int output_written(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "capverify: cannot write output\n");
        if (rc == EXIT_VERDICT_OK || rc == EXIT_VERDICT_WARN)
            rc = EXIT_UNAVAILABLE;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    char help_arg[] = "--help";
    if (strcmp(name, "help") == 0 && argc > 2) {
        /* capverify help COMMAND = capverify COMMAND --help */
        name = argv[2];
        argv[1] = argv[2];
        argv[2] = help_arg;
        argc = 3;
    } else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
               strcmp(name, "help") == 0) {
        usage(stdout);
        return output_written(EXIT_VERDICT_OK);
    }
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_global_init(&err);
        if (st != CAPV_OK)
            return cli_report("initialisation", st, &err);
        int rc = commands[i].run(argc - 1, argv + 1);
        capv_global_shutdown();
        return output_written(rc);
    }
    const char *guess = suggestion(name);
    if (guess != NULL)
        return cli_usage_error(NULL, "unknown command '%s'; did you mean '%s'?", name, guess);
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
