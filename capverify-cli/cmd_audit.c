/* SPDX-License-Identifier: Apache-2.0 */
/* capverify audit verify|tip|export — the producer's audit logs (docs/formats.md, "Audit logs"):
 * their hash chains verified offline, their tip, the events of a time range. */
#include "cmd_audit.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"

static void audit_usage(FILE *f)
{
    fprintf(f, "usage: capverify audit verify [--json] FILE\n"
               "       capverify audit tip [--json] FILE\n"
               "       capverify audit export FILE [--from TIME] [--to TIME] [--policy-id ID]\n"
               "                              [--out FILE]\n\n"
               "Audit logs are the hash chains a CAP producer keeps: v1 agent.audit.jsonl and v2\n"
               "audit_chain.jsonl (the format is read from the lines). FILE '-' reads standard\n"
               "input.\n\n"
               "  verify  verifies the chain from the genesis to its tip: exit 0 intact, 2 broken\n"
               "          (the first broken line and why: bad_json, bad_event, too_large,\n"
               "          seq_gap, prev_mismatch, digest_mismatch)\n"
               "  tip     prints the tip a manifest's audit.tail_digest names (exit 2 when the\n"
               "          chain is broken); --json adds the event count and line_tip, the BLAKE3\n"
               "          of the last line that the producer's desktop variant names instead\n"
               "  export  writes the events whose ts lies between --from and --to (RFC 3339,\n"
               "          both included, compared in milliseconds; either may be left out) as\n"
               "          JSON Lines, their lines unchanged, in log order; --policy-id keeps the\n"
               "          events of that policy_id (v2 logs: v1 events carry none); the chain\n"
               "          must be intact (exit 2 otherwise)\n");
}

typedef struct audit_opts {
    const char *file, *out, *policy_id;
    const char *from, *to;
    bool json;
} audit_opts;

/* The options of verify and tip, and those of export. */
static const struct option json_options[] = { { "json", no_argument, NULL, 'j' },
                                              CLI_OPT_HELP,
                                              { 0 } };
static const struct option export_options[] = { { "from", required_argument, NULL, 'f' },
                                                { "to", required_argument, NULL, 't' },
                                                { "policy-id", required_argument, NULL, 'p' },
                                                { "out", required_argument, NULL, 'o' },
                                                CLI_OPT_HELP,
                                                { 0 } };

/* The options `longopts` of the subcommand and the one FILE. 0, -1 for --help (printed), or
 * the usage error's exit code. */
static int parse_opts(audit_opts *o, int argc, char **argv, const char *cmd,
                      const struct option *longopts)
{
    memset(o, 0, sizeof *o);
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt(cmd, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': audit_usage(stdout); return -1;
        case 'j': o->json = true; break;
        case 'f': o->from = optarg; break;
        case 't': o->to = optarg; break;
        case 'p': o->policy_id = optarg; break;
        case 'o': o->out = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
        return cli_usage_error(cmd, "one FILE only ('%s' and '%s')", argv[optind],
                               argv[optind + 1]);
    if (optind == argc)
        return cli_usage_error(cmd, "no FILE given");
    o->file = argv[optind];
    return 0;
}

/* Reads and verifies FILE: 0 with `*log` intact, EXIT_VERDICT_FAIL when the chain is broken
 * (`*line`, `*problem` and `err` say where and why), or another exit code (reported). */
static int read_log(capv_audit_log **log, size_t *line, capv_audit_problem *problem,
                    capv_status *st, capv_error *err, const char *file, const char *cmd)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cli_read_file(&data, &len, file, CAPV_CLI_MAX_TOTAL_BYTES, cmd);
    if (rc != 0)
        return rc;
    *st = capv_audit_verify(log, line, problem, data, len, err);
    free(data);
    if (*st == CAPV_OK)
        return 0;
    if (*line > 0)
        return EXIT_VERDICT_FAIL;
    return cli_report(file, *st, err);
}

static int audit_verify(int argc, char **argv)
{
    audit_opts o;
    int rc = parse_opts(&o, argc, argv, "audit verify", json_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    capv_audit_log *log = NULL;
    size_t line = 0;
    capv_audit_problem problem = CAPV_AUDIT_INTACT;
    capv_status st = CAPV_OK;
    capv_error err = CAPV_ERROR_INIT;
    rc = read_log(&log, &line, &problem, &st, &err, o.file, "audit verify");
    if (rc != 0 && rc != EXIT_VERDICT_FAIL)
        return rc;
    if (o.json) {
        printf("{\"file\":");
        cli_print_json_string(stdout, o.file);
        if (log != NULL) {
            printf(",\"result\":\"ok\",\"format\":\"%s\",\"events\":%zu,\"tip\":\"%s\","
                   "\"line_tip\":\"%s\"}\n",
                   capv_audit_format_name(capv_audit_log_format(log)), capv_audit_log_events(log),
                   capv_audit_log_tip(log), capv_audit_log_line_tip(log));
        } else {
            printf(",\"result\":\"broken\",\"line\":%zu,\"problem\":\"%s\",\"status\":\"%s\","
                   "\"message\":",
                   line, capv_audit_problem_name(problem), capv_status_name(st));
            cli_print_json_string(stdout, err.message);
            printf("}\n");
        }
    } else if (log != NULL) {
        printf("%s: ok (%s, %zu event(s))\n  tip       %s\n  line_tip  %s\n", o.file,
               capv_audit_format_name(capv_audit_log_format(log)), capv_audit_log_events(log),
               capv_audit_log_tip(log), capv_audit_log_line_tip(log));
    } else {
        printf("%s: BROKEN at line %zu (%s)\n  %s\n", o.file, line,
               capv_audit_problem_name(problem), err.message);
    }
    capv_audit_log_free(log);
    return rc;
}

/* A broken chain for tip and export: on stderr, exit 2. */
static int broken(const char *cmd, const char *file, size_t line, capv_audit_problem problem,
                  const capv_error *err)
{
    fprintf(stderr, "capverify %s: %s: broken at line %zu (%s): %s\n", cmd, file, line,
            capv_audit_problem_name(problem), err->message);
    return EXIT_VERDICT_FAIL;
}

static int audit_tip(int argc, char **argv)
{
    audit_opts o;
    int rc = parse_opts(&o, argc, argv, "audit tip", json_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    capv_audit_log *log = NULL;
    size_t line = 0;
    capv_audit_problem problem = CAPV_AUDIT_INTACT;
    capv_status st = CAPV_OK;
    capv_error err = CAPV_ERROR_INIT;
    rc = read_log(&log, &line, &problem, &st, &err, o.file, "audit tip");
    if (rc == EXIT_VERDICT_FAIL)
        return broken("audit tip", o.file, line, problem, &err);
    if (rc != 0)
        return rc;
    if (o.json)
        printf("{\"format\":\"%s\",\"events\":%zu,\"tip\":\"%s\",\"line_tip\":\"%s\"}\n",
               capv_audit_format_name(capv_audit_log_format(log)), capv_audit_log_events(log),
               capv_audit_log_tip(log), capv_audit_log_line_tip(log));
    else
        printf("%s\n", capv_audit_log_tip(log));
    capv_audit_log_free(log);
    return EXIT_VERDICT_OK;
}

/* --from / --to: the time in ms, or `open` when not given. 0 or the usage error's code. */
static int parse_bound(int64_t *ms, const char *text, const char *name, int64_t open)
{
    *ms = open;
    if (text == NULL)
        return 0;
    if (capv_rfc3339_parse(ms, text, strlen(text), NULL) != CAPV_OK)
        return cli_usage_error("audit export", "%s '%s' is not an RFC 3339 time", name, text);
    return 0;
}

static int audit_export(int argc, char **argv)
{
    audit_opts o;
    int rc = parse_opts(&o, argc, argv, "audit export", export_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    int64_t from, to;
    if ((rc = parse_bound(&from, o.from, "--from", INT64_MIN)) != 0 ||
        (rc = parse_bound(&to, o.to, "--to", INT64_MAX)) != 0)
        return rc;
    if (from > to)
        return cli_usage_error("audit export", "--from is after --to");
    capv_audit_log *log = NULL;
    size_t line = 0;
    capv_audit_problem problem = CAPV_AUDIT_INTACT;
    capv_status st = CAPV_OK;
    capv_error err = CAPV_ERROR_INIT;
    rc = read_log(&log, &line, &problem, &st, &err, o.file, "audit export");
    if (rc == EXIT_VERDICT_FAIL)
        return broken("audit export", o.file, line, problem, &err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    size_t len = 0;
    st = capv_audit_log_export(&text, &len, log, from, to, o.policy_id, &err);
    if (st == CAPV_E_UNSUPPORTED)
        rc = cli_usage_error("audit export", "--policy-id: %s", err.message);
    else if (st != CAPV_OK)
        rc = cli_report("audit export", st, &err);
    else if (o.out != NULL)
        rc = cli_write_file(o.out, text, len, "audit export");
    else
        fwrite(text, 1, len, stdout);
    capv_free(text);
    capv_audit_log_free(log);
    return rc;
}

int cmd_audit(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "verify", audit_verify },
        { "tip", audit_tip },
        { "export", audit_export },
    };
    return cli_run_subcommand("audit", argc, argv, subs, sizeof subs / sizeof subs[0], audit_usage);
}
