/* SPDX-License-Identifier: Apache-2.0 */
/* capverify policy compile|lint|eval|hash — PolicyV2 → IR v1 with lints, evaluation of IR
 * over a context, and policy hashes (docs/policies.md). */
#include "cmd_policy.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"

#define POLICY_FILE_MAX (16u * 1024u * 1024u)

static void policy_usage(FILE *f)
{
    fprintf(f,
            "usage: capverify policy compile FILE [--relaxed] [--out IR] [--registry DB] [--json]\n"
            "       capverify policy lint FILE [--relaxed] [--json]\n"
            "       capverify policy eval (--ir IR | --policy-id ID|HASH --registry DB)\n"
            "                             --context FILE [--adaptive] [--json]\n"
            "       capverify policy hash FILE [--json]\n\n"
            "compile  lints a PolicyV2 (YAML or JSON) and writes its IR v1: to --out, else to\n"
            "         standard output (exact bytes, no trailing newline); lints go to stderr;\n"
            "         with --registry also stores the IR in the registry's policy store\n"
            "lint     prints the lints (E… errors, W… warnings) of a PolicyV2\n"
            "eval     evaluates the rules of an IR over a context JSON file; the IR\n"
            "         comes from a file or from the registry's policy store (by policy id or\n"
            "         policy_hash); its ir_hash is checked first\n"
            "hash     prints the hash a manifest names a policy by: policy_hash of a PolicyV2,\n"
            "         0x… of an older policy v1 file\n\n"
            "options:\n"
            "  --relaxed     E1002 (empty legal_basis) is a warning, not an error\n"
            "  --adaptive    evaluate only rules activated by a true predicate (and rules no\n"
            "                activation names); default: every rule\n"
            "  --json        machine-readable output\n"
            "FILE, IR and --context accept '-' for standard input.\n"
            "Exit codes: 0 ok, 2 eval fail (or a stored policy conflicts), 3 lint errors or\n"
            "usage error, 4 malformed input (also an IR whose ir_hash does not match),\n"
            "5 unreadable file, unknown policy id or registry unavailable.\n");
}

static capv_policy_format format_of(const char *path)
{
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0)
        return CAPV_POLICY_FORMAT_JSON;
    if ((n >= 4 && strcmp(path + n - 4, ".yml") == 0) ||
        (n >= 5 && strcmp(path + n - 5, ".yaml") == 0))
        return CAPV_POLICY_FORMAT_YAML;
    return CAPV_POLICY_FORMAT_AUTO;
}

typedef struct opts {
    const char *file, *out, *ir, *policy_id, *registry, *context;
    bool relaxed, json, adaptive;
} opts;

/* The options of each subcommand. */
#define OPT_RELAXED                                                                                \
    {                                                                                              \
        "relaxed", no_argument, NULL, 'r'                                                          \
    }
#define OPT_JSON                                                                                   \
    {                                                                                              \
        "json", no_argument, NULL, 'j'                                                             \
    }
#define OPT_REGISTRY                                                                               \
    {                                                                                              \
        "registry", required_argument, NULL, 'R'                                                   \
    }
static const struct option compile_options[] = {
    OPT_RELAXED,  OPT_JSON, OPT_REGISTRY, { "out", required_argument, NULL, 'o' },
    CLI_OPT_HELP, { 0 }
};
static const struct option lint_options[] = { OPT_RELAXED, OPT_JSON, CLI_OPT_HELP, { 0 } };
static const struct option eval_options[] = { OPT_JSON,
                                              OPT_REGISTRY,
                                              { "ir", required_argument, NULL, 'i' },
                                              { "policy-id", required_argument, NULL, 'p' },
                                              { "context", required_argument, NULL, 'c' },
                                              { "adaptive", no_argument, NULL, 'a' },
                                              CLI_OPT_HELP,
                                              { 0 } };
static const struct option hash_options[] = { OPT_JSON, CLI_OPT_HELP, { 0 } };

/* Parses the options `longopts` of a subcommand and its one FILE, if given. 0, -1 for --help
 * (printed), or the usage error's exit code. */
static int parse_opts(opts *o, int argc, char **argv, const char *cmd,
                      const struct option *longopts)
{
    memset(o, 0, sizeof *o);
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt(cmd, argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': policy_usage(stdout); return -1;
        case 'r': o->relaxed = true; break;
        case 'j': o->json = true; break;
        case 'a': o->adaptive = true; break;
        case 'o': o->out = optarg; break;
        case 'i': o->ir = optarg; break;
        case 'p': o->policy_id = optarg; break;
        case 'R': o->registry = optarg; break;
        case 'c': o->context = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
        return cli_usage_error(cmd, "more than one FILE given");
    o->file = optind < argc ? argv[optind] : NULL;
    return 0;
}

/* A failed library call in --json mode: {"file":…,"error":{"code":…,"message":…}}. */
static void print_json_error(const char *file, capv_status st, const capv_error *err)
{
    printf("{\"file\":");
    cli_print_json_string(stdout, file);
    printf(",\"error\":{\"code\":\"%s\",\"message\":", capv_status_name(st));
    cli_print_json_string(stdout, err->message[0] ? err->message : capv_strerror(st));
    printf("}}\n");
}

static int fail_input(const opts *o, const char *file, capv_status st, const capv_error *err)
{
    if (o->json)
        print_json_error(file, st, err);
    return cli_report(file, st, err);
}

static void print_lints(FILE *f, const char *file, const capv_policy_diagnostics *d)
{
    for (size_t i = 0; i < capv_policy_diagnostics_count(d); i++) {
        const char *rid = capv_policy_diagnostic_rule_id(d, i);
        fprintf(f, "%s: %s %s%s%s%s: %s\n", file,
                capv_policy_lint_level_name(capv_policy_diagnostic_level(d, i)),
                capv_policy_diagnostic_code(d, i), rid ? " (rule " : "", rid ? rid : "",
                rid ? ")" : "", capv_policy_diagnostic_message(d, i));
    }
}

/* Reads and parses a PolicyV2 file. 0 or an exit code (reported). */
static int load_policy(capv_policy **p, const opts *o, const char *cmd)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cli_read_file(&data, &len, o->file, POLICY_FILE_MAX, cmd);
    if (rc != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_parse(p, data, len, format_of(o->file), &err);
    free(data);
    return st == CAPV_OK ? 0 : fail_input(o, o->file, st, &err);
}

/* The lint part of --json output: "lint_mode", "errors", "warnings", "lints". */
static int print_json_lints(const capv_policy_diagnostics *d, bool relaxed)
{
    char *lints = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_policy_diagnostics_to_json(&lints, NULL, d, &err) != CAPV_OK)
        return cli_report("policy", err.code, &err);
    size_t n = capv_policy_diagnostics_count(d), e = capv_policy_diagnostics_errors(d);
    printf("\"lint_mode\":\"%s\",\"errors\":%zu,\"warnings\":%zu,\"lints\":%s",
           relaxed ? "relaxed" : "strict", e, n - e, lints);
    capv_free(lints);
    return 0;
}

/* Stores a compiled IR in the registry's policy store (created when missing). *what is
 * "stored" or "already stored". 0 or an exit code (reported). */
static int store_ir(const capv_policy_ir *ir, const char *db, const char **what)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = CAPV_REGISTRY_CREATE;
    capv_status st = capv_registry_open(&reg, db, &ro, &err);
    if (st != CAPV_OK)
        return cli_report(db, st, &err);
    st = capv_registry_put_policy_ir(reg, ir, &err);
    capv_registry_close(reg);
    if (st == CAPV_OK || st == CAPV_E_EXISTS) {
        *what = st == CAPV_OK ? "stored" : "already stored";
        return 0;
    }
    return cli_report(db, st, &err);
}

/* The IR stored under `key` (policy id or hash) in the registry at `db`, read-only; its
 * ir_hash is recomputed on load and must equal the one stored beside it. A damaged or
 * altered IR is malformed input (exit 4). */
static int stored_ir(capv_policy_ir **ir, const opts *o)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_registry *reg = NULL;
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = CAPV_REGISTRY_READ_ONLY;
    capv_status st = capv_registry_open(&reg, o->registry, &ro, &err);
    if (st != CAPV_OK)
        return cli_report(o->registry, st, &err);
    int rc = 0;
    st = capv_registry_get_policy_ir(ir, reg, o->policy_id, &err);
    /* the look-up fails unavailable (not found, storage); loading the IR found, malformed */
    if (st == CAPV_E_MISMATCH || capv_status_class_of(st) == CAPV_CLASS_MALFORMED) {
        fail_input(o, o->policy_id, st, &err);
        rc = EXIT_MALFORMED;
    } else if (st != CAPV_OK) {
        rc = cli_report(o->registry, st, &err);
    }
    capv_registry_close(reg);
    return rc;
}

static int policy_compile(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(&o, argc, argv, "policy compile", compile_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    if (o.file == NULL)
        return cli_usage_error("policy compile", "no FILE given");
    bool out_stdout = o.out != NULL && strcmp(o.out, "-") == 0;
    if (out_stdout && o.json)
        return cli_usage_error("policy compile",
                               "--out - and --json both write to standard output");
    capv_policy *p = NULL;
    capv_policy_ir *ir = NULL;
    capv_policy_diagnostics *d = NULL;
    if ((rc = load_policy(&p, &o, "policy compile")) != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_compile(
        &ir, &d, p, o.relaxed ? CAPV_POLICY_LINT_RELAXED : CAPV_POLICY_LINT_STRICT, &err);
    if (st != CAPV_OK && capv_policy_diagnostics_errors(d) == 0) {
        rc = fail_input(&o, o.file, st, &err);
        goto out;
    }
    rc = st == CAPV_OK ? EXIT_VERDICT_OK : EXIT_USAGE; /* lint errors: exit 3 */
    size_t pretty_len = 0;
    const char *pretty = ir ? capv_policy_ir_json(ir, CAPV_POLICY_IR_PRETTY, &pretty_len) : NULL;
    if (ir != NULL && o.out != NULL) {
        int wrc = cli_write_file(o.out, pretty, pretty_len, "policy compile");
        if (wrc != 0) {
            rc = wrc;
            goto out;
        }
    }
    const char *stored = NULL;
    if (ir != NULL && o.registry != NULL) {
        int src = store_ir(ir, o.registry, &stored);
        if (src != 0) {
            rc = src;
            goto out;
        }
    }
    if (o.json) {
        printf("{\"file\":");
        cli_print_json_string(stdout, o.file);
        printf(",\"policy_id\":");
        cli_print_json_string(stdout, capv_policy_id(p));
        printf(",\"policy_version\":");
        cli_print_json_string(stdout, capv_policy_version(p));
        printf(",\"policy_hash\":\"%s\",", capv_policy_hash(p));
        int jrc = print_json_lints(d, o.relaxed);
        if (jrc != 0) {
            rc = jrc;
            goto out;
        }
        if (stored != NULL)
            printf(",\"stored\":\"%s\"", stored);
        if (ir != NULL)
            printf(",\"ir_hash\":\"%s\",\"ir\":%s}\n", capv_policy_ir_hash(ir),
                   capv_policy_ir_json(ir, CAPV_POLICY_IR_COMPACT, NULL));
        else
            printf(",\"ir_hash\":null,\"ir\":null}\n");
        goto out;
    }
    print_lints(stderr, o.file, d);
    if (ir == NULL) {
        fprintf(stderr, "capverify policy compile: %s: %zu lint error%s, not compiled\n", o.file,
                capv_policy_diagnostics_errors(d),
                capv_policy_diagnostics_errors(d) == 1 ? "" : "s");
    } else if (out_stdout) {
        /* the IR alone went to standard output */
    } else if (o.out != NULL || o.registry != NULL) {
        printf("%s: compiled policy %s version %s\n  policy_hash %s\n  ir_hash     %s\n", o.file,
               capv_policy_id(p), capv_policy_version(p), capv_policy_hash(p),
               capv_policy_ir_hash(ir));
        if (o.out != NULL)
            printf("  written to  %s\n", o.out);
        if (stored != NULL)
            printf("  registry    %s (%s)\n", o.registry, stored);
    } else if (fwrite(pretty, 1, pretty_len, stdout) != pretty_len) {
        rc = EXIT_UNAVAILABLE;
    }
out:
    capv_policy_diagnostics_free(d);
    capv_policy_ir_free(ir);
    capv_policy_free(p);
    return rc;
}

static int policy_lint(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(&o, argc, argv, "policy lint", lint_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    if (o.file == NULL)
        return cli_usage_error("policy lint", "no FILE given");
    capv_policy *p = NULL;
    capv_policy_diagnostics *d = NULL;
    if ((rc = load_policy(&p, &o, "policy lint")) != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_policy_lint(
        &d, p, o.relaxed ? CAPV_POLICY_LINT_RELAXED : CAPV_POLICY_LINT_STRICT, &err);
    if (st != CAPV_OK) {
        rc = cli_report("policy lint", st, &err);
        goto out;
    }
    size_t n = capv_policy_diagnostics_count(d), e = capv_policy_diagnostics_errors(d);
    rc = e > 0 ? EXIT_USAGE : EXIT_VERDICT_OK;
    if (o.json) {
        printf("{\"file\":");
        cli_print_json_string(stdout, o.file);
        printf(",\"policy_id\":");
        cli_print_json_string(stdout, capv_policy_id(p));
        printf(",\"policy_hash\":\"%s\",", capv_policy_hash(p));
        int jrc = print_json_lints(d, o.relaxed);
        if (jrc != 0)
            rc = jrc;
        else
            printf("}\n");
        goto out;
    }
    print_lints(stdout, o.file, d);
    printf("%s: %s, %zu error%s, %zu warning%s (%s)\n", o.file, e ? "lint errors" : "ok", e,
           e == 1 ? "" : "s", n - e, n - e == 1 ? "" : "s", o.relaxed ? "relaxed" : "strict");
out:
    capv_policy_diagnostics_free(d);
    capv_policy_free(p);
    return rc;
}

static int policy_eval(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(&o, argc, argv, "policy eval", eval_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    if (o.file != NULL)
        return cli_usage_error("policy eval", "unexpected argument '%s'", o.file);
    if ((o.ir == NULL) == (o.policy_id == NULL))
        return cli_usage_error("policy eval", "give exactly one of --ir and --policy-id");
    if (o.context == NULL)
        return cli_usage_error("policy eval", "--context FILE is required");
    if ((o.policy_id != NULL) != (o.registry != NULL))
        return cli_usage_error("policy eval", "--policy-id and --registry go together");
    if (o.ir != NULL && strcmp(o.ir, "-") == 0 && strcmp(o.context, "-") == 0)
        return cli_usage_error("policy eval", "only one of --ir and --context can be read from "
                                              "standard input");
    uint8_t *irdata = NULL, *ctx = NULL;
    size_t irlen = 0, ctxlen = 0;
    capv_policy_ir *ir = NULL;
    capv_policy_eval_result *res = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    if ((rc = cli_read_file(&ctx, &ctxlen, o.context, POLICY_FILE_MAX, "policy eval")) != 0)
        goto out;
    if (o.policy_id != NULL) {
        if ((rc = stored_ir(&ir, &o)) != 0)
            goto out;
    } else if ((rc = cli_read_file(&irdata, &irlen, o.ir, POLICY_FILE_MAX, "policy eval")) != 0) {
        goto out;
    } else if ((st = capv_policy_ir_load(&ir, irdata, irlen, &err)) != CAPV_OK) {
        /* a tampered IR is bad input, not a policy verdict */
        fail_input(&o, o.ir, st, &err);
        rc = capv_status_class_of(st) == CAPV_CLASS_REJECTED ? EXIT_MALFORMED
                                                             : cli_exit_for_status(st);
        goto out;
    }
    st = capv_policy_eval(&res, ir, ctx, ctxlen, o.adaptive ? CAPV_POLICY_EVAL_ADAPTIVE : 0, &err);
    if (st != CAPV_OK) {
        rc = fail_input(&o, o.context, st, &err);
        goto out;
    }
    capv_verdict v = capv_policy_eval_result_verdict(res);
    rc = v == CAPV_VERDICT_OK ? EXIT_VERDICT_OK : EXIT_VERDICT_FAIL;
    if (o.json) {
        char *text = NULL;
        if ((st = capv_policy_eval_result_to_json(&text, NULL, res, CAPV_POLICY_JSON_PRETTY,
                                                  &err)) != CAPV_OK) {
            rc = cli_report("policy eval", st, &err);
            goto out;
        }
        printf("%s\n", text);
        capv_free(text);
        goto out;
    }
    printf("policy %s (ir %s): %s%s\n", capv_policy_ir_policy_id(ir), capv_policy_ir_hash(ir),
           v == CAPV_VERDICT_OK ? "OK" : "FAIL", o.adaptive ? " (adaptive)" : "");
    for (size_t i = 0; i < capv_policy_eval_result_rule_count(res); i++)
        printf("  %-7s %-24s %s\n",
               capv_policy_rule_result_name(capv_policy_eval_result_rule_status(res, i)),
               capv_policy_eval_result_rule_id(res, i),
               capv_policy_eval_result_rule_message(res, i));
out:
    capv_policy_eval_result_free(res);
    capv_policy_ir_free(ir);
    free(irdata);
    free(ctx);
    return rc;
}

static int policy_hash(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(&o, argc, argv, "policy hash", hash_options);
    if (rc != 0)
        return rc < 0 ? EXIT_VERDICT_OK : rc;
    if (o.file == NULL)
        return cli_usage_error("policy hash", "no FILE given");
    uint8_t *data = NULL;
    size_t len = 0;
    if ((rc = cli_read_file(&data, &len, o.file, POLICY_FILE_MAX, "policy hash")) != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT, err1 = CAPV_ERROR_INIT;
    capv_policy *p = NULL;
    char v1[CAPV_DIGEST_HEX_SIZE];
    const char *hash = NULL, *kind = NULL;
    capv_status st = capv_policy_parse(&p, data, len, format_of(o.file), &err), st1 = st;
    if (st == CAPV_OK) {
        hash = capv_policy_hash(p);
        kind = "policy v2";
    } else if ((st1 = capv_policy_v1_hash(v1, data, len, format_of(o.file), &err1)) == CAPV_OK) {
        hash = v1;
        kind = "policy v1";
    }
    free(data);
    if (hash == NULL && st == CAPV_E_UNSUPPORTED_FORMAT && strcmp(err.field, "constraints") == 0) {
        /* a policy v1 file (the v2 reader says so): what is wrong with it as one */
        rc = fail_input(&o, o.file, st1, &err1);
    } else if (hash == NULL) {
        rc = fail_input(&o, o.file, st, &err);
    } else if (o.json) {
        printf("{\"file\":");
        cli_print_json_string(stdout, o.file);
        printf(",\"format\":\"%s\",\"hash\":\"%s\"}\n", kind, hash);
    } else {
        printf("%s  %s (%s)\n", hash, o.file, kind);
    }
    capv_policy_free(p);
    return rc;
}

int cmd_policy(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "compile", policy_compile },
        { "lint", policy_lint },
        { "eval", policy_eval },
        { "hash", policy_hash },
    };
    return cli_run_subcommand("policy", argc, argv, subs, sizeof subs / sizeof subs[0],
                              policy_usage);
}
