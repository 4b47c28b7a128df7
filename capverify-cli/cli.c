/* SPDX-License-Identifier: Apache-2.0 */
/* Exit codes and error reporting shared by every command (cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_exit_for_status(capv_status st)
{
    switch (capv_status_class_of(st)) {
    case CAPV_CLASS_OK: return EXIT_VERDICT_OK;
    case CAPV_CLASS_REJECTED: return EXIT_VERDICT_FAIL;
    case CAPV_CLASS_MALFORMED: return EXIT_MALFORMED;
    case CAPV_CLASS_UNAVAILABLE: return EXIT_UNAVAILABLE;
    case CAPV_CLASS_USAGE:
        /* what the command line asked cannot be done (an export of a PostgreSQL registry, a
         * name that is no backup's); the rest of the class is a fault of ours */
        if (st == CAPV_E_INVALID_ARG || st == CAPV_E_UNSUPPORTED)
            return EXIT_USAGE;
        break;
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

int cli_run_subcommand(const char *cmd, int argc, char **argv, const cli_subcommand *subs, size_t n,
                       void (*usage)(FILE *f))
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
    char names[256] = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", subs[i].name);
    }
    return cli_usage_error(cmd, "unknown subcommand '%s' (%s)", name, names);
}

static char opt_name[64];

void cli_opt_begin(void)
{
    optind = 0; /* glibc: start over, with a fresh permutation of the new argv */
    opterr = 0; /* errors are reported by cli_next_opt, in the tool's words */
    opt_name[0] = '\0';
}

const char *cli_opt_name(void)
{
    return opt_name;
}

/* The long option `arg` ("--name=value") names, or NULL. */
static const struct option *long_option_of(const char *arg, const struct option *longopts)
{
    size_t n = strcspn(arg + 2, "=");
    for (const struct option *o = longopts; o->name != NULL; o++)
        if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
            return o;
    return NULL;
}

int cli_next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts)
{
    char spec[32];
    int longindex = -1;
    /* ':' first: a missing value returns ':' instead of '?' */
    snprintf(spec, sizeof spec, ":%s", shortopts);
    int c = getopt_long(argc, argv, spec, longopts, &longindex);
    if (c == -1)
        return -1;
    /* the argument just read: getopt has moved optind past it (and its separate value) */
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    if (longindex >= 0)
        snprintf(opt_name, sizeof opt_name, "--%s", longopts[longindex].name);
    else if (c != '?' && c != ':')
        snprintf(opt_name, sizeof opt_name, "-%c", c);
    if (c == ':') {
        if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
            cli_usage_error(cmd, "option '-%c' needs a value", optopt);
        else
            cli_usage_error(cmd, "option '%s' needs a value", arg);
        return CLI_OPT_ERROR;
    }
    if (c == '?') {
        const struct option *o = strncmp(arg, "--", 2) == 0 ? long_option_of(arg, longopts) : NULL;
        if (o != NULL && o->has_arg == no_argument && strchr(arg, '=') != NULL)
            cli_usage_error(cmd, "option '--%s' takes no value", o->name);
        else if (strncmp(arg, "--", 2) == 0)
            cli_usage_error(cmd, "unknown option '%.*s'", (int)strcspn(arg, "="), arg);
        else
            cli_usage_error(cmd, "unknown option '-%c'", optopt);
        return CLI_OPT_ERROR;
    }
    return c;
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

void cli_print_backup_fields(const char *created_at, const char *sha3_256, uint64_t size_bytes,
                             int schema_version, uint64_t entries, uint64_t verifications,
                             const char *tool_version)
{
    fputs(",\"created_at\":", stdout);
    cli_print_json_string(stdout, created_at);
    fputs(",\"sha3_256\":", stdout);
    cli_print_json_string(stdout, sha3_256);
    printf(",\"size_bytes\":%llu,\"schema_version\":%d,\"entries\":%llu,\"verifications\":%llu,"
           "\"tool_version\":",
           (unsigned long long)size_bytes, schema_version, (unsigned long long)entries,
           (unsigned long long)verifications);
    cli_print_json_string(stdout, tool_version);
}

/* ---- Ctrl-C and SIGTERM ------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

/* The companions of a SQLite registry file: its name plus each of these. */
static const char *const sqlite_suffixes[] = { "", "-wal", "-shm", ".lock" };
#define SQLITE_FILES (sizeof sqlite_suffixes / sizeof sqlite_suffixes[0])

/* cli_interrupt_remove's files and messages, made beforehand: a signal handler may call
 * unlink and write, not snprintf. */
static char remove_paths[SQLITE_FILES][PATH_MAX];
static char removed_note[PATH_MAX + 64], kept_note[PATH_MAX + 64];
static volatile sig_atomic_t removing;

static void on_interrupt(int sig)
{
    if (!removing) {
        interrupted = 1;
        return;
    }
    bool gone = true;
    for (size_t i = 0; i < SQLITE_FILES; i++)
        if (remove_paths[i][0] == '\0' || (unlink(remove_paths[i]) != 0 && errno != ENOENT))
            gone = false;
    const char *note = gone ? removed_note : kept_note;
    ssize_t w = write(STDERR_FILENO, note, strlen(note));
    (void)w;
    raise(sig); /* SA_RESETHAND: the default action, which ends the process */
}

void cli_interrupt_catch(bool on)
{
    static const int sigs[] = { SIGINT, SIGTERM };
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_interrupt : SIG_DFL;
    sa.sa_flags = on ? (int)SA_RESETHAND : 0;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&sa.sa_mask, sigs[i]); /* one handler at a time */
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        /* a signal ignored when the command began (a background job's Ctrl-C, nohup) stays
         * ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    if (!on)
        removing = 0;
}

bool cli_interrupted(void)
{
    return interrupted != 0;
}

void cli_interrupt_remove(const char *path)
{
    if (path == NULL) {
        cli_interrupt_catch(false);
        return;
    }
    for (size_t i = 0; i < SQLITE_FILES; i++)
        if (snprintf(remove_paths[i], sizeof remove_paths[i], "%s%s", path, sqlite_suffixes[i]) >=
            (int)sizeof remove_paths[i])
            remove_paths[i][0] = '\0';
    snprintf(removed_note, sizeof removed_note, "capverify: interrupted: %s removed\n", path);
    snprintf(kept_note, sizeof kept_note,
             "capverify: interrupted: %s (or one of its -wal, -shm, .lock) could not be "
             "removed\n",
             path);
    removing = 1;
    cli_interrupt_catch(true);
}

void cli_remove_sqlite_file(const char *path)
{
    char p[PATH_MAX];
    for (size_t i = 0; i < SQLITE_FILES; i++)
        if (snprintf(p, sizeof p, "%s%s", path, sqlite_suffixes[i]) < (int)sizeof p)
            unlink(p);
}
