/* capverify: the command-line front-end of libcapverify (SPEC §10). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
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
    fprintf(f, "\nRun 'capverify <command> --help' for the options of a command.\n"
               "Exit codes: 0 ok, 1 warn, 2 fail, 3 usage error, 4 malformed input,\n"
               "5 unavailable (I/O, network), 6 internal error.\n");
}

int cli_exit_for_status(capv_status st)
{
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_OK: return EXIT_VERDICT_OK;
    case CAPV_CLASS_REJECTED: return EXIT_VERDICT_FAIL;
    case CAPV_CLASS_MALFORMED: return EXIT_MALFORMED;
    case CAPV_CLASS_UNAVAILABLE: return EXIT_UNAVAILABLE;
    case CAPV_CLASS_USAGE:
    case CAPV_CLASS_INTERNAL: break;
    }
    return EXIT_INTERNAL;
}

int cli_report(const char *what, capv_status st, const capv_error *err)
{
    const char *detail = err && err->message[0] ? err->message : capv_strerror(st);
    fprintf(stderr, "capverify: %s: %s\n", what, detail);
    return cli_exit_for_status(st);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "capverify%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'capverify %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

void cli_print_json_string(FILE *f, const char *s)
{
    char *q = NULL;
    if (capv_json_quote(&q, NULL, s, strlen(s), NULL) == CAPV_OK) {
        fputs(q, f);
        capv_free(q);
        return;
    }
    /* Not UTF-8 (file names may be anything): keep the output valid JSON. */
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            fputc(*p, f);
        else
            fprintf(f, "\\\\x%02x", *p);
    fputc('"', f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_VERDICT_OK;
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
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "capverify: cannot write output\n");
            if (rc == EXIT_VERDICT_OK)
                rc = EXIT_UNAVAILABLE;
        }
        return rc;
    }
    return cli_usage_error(NULL, "unknown command '%s'", name);
}
