/* SPDX-License-Identifier: Apache-2.0 */
/* capverify verify PACKAGE... — offline verification with a human or JSON report. */
#include "cmd_verify.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "config_verify.h"
#include "input.h"

static void verify_usage(FILE *f)
{
    fprintf(
        f, "usage: capverify verify [options] PACKAGE...\n\n"
           "Verifies CAP packages and prints one line per check. A PACKAGE is a .zip file, a\n"
           "package directory (it holds manifest.json or _meta.json), '-' (a zip or a JSON\n"
           "package read from standard input), another file that is not a regular one (a\n"
           "pipe such as <(...), a FIFO, a device: read like standard input), or a\n"
           "directory of packages: its .zip and .capz files and package directories, in name\n"
           "order (--recursive: also those of its other subdirectories). Every package is\n"
           "read under the same limits (512 MiB in total, docs/formats.md), or the daemon's\n"
           "with --daemon-config.\n"
           "Exit code: 0 ok, 1 warn, 2 fail (the worst package), 4 not a package, 5 unreadable.\n\n"
           "options:\n"
           "  --trust PATH            trusted Ed25519 keys: a directory of *.pub / cap-key.v1\n"
           "                          *.json files, or one key or key-list file\n"
           "  --policy-store DIR      directory of known policies (IR v1 *.json, policy *.yml)\n"
           "  --policy-hash HASH      a known policy hash (repeatable)\n"
           "  --registry FILE         registry for the registry check, whose stored policies\n"
           "                          are known too: a JSON registry (registry_version 1.0)\n"
           "                          or a SQLite registry database, opened read-only (safe\n"
           "                          while capverifyd serves it)\n"
           "  --record                record each verification in the --registry database; this\n"
           "                          opens it read-write, which only one process may do: not\n"
           "                          while capverifyd holds it\n"
           "  --tsa-ca PEM            trusted RFC 3161 TSA roots\n"
           "  --strict                unknown policies and unverifiable backends fail\n"
           "  --allow-untrusted       a valid signature by an untrusted key warns, not fails\n"
           "  --no-require-signature  an unsigned manifest warns, not fails\n"
           "  --require-timestamp     a missing timestamp token warns\n"
           "  --check-registry        a missing registry entry warns\n"
           "  --mock-policy P         warn (default) | fail | accept for mock proof backends\n"
           "  --daemon-config DIR     verify exactly as capverifyd with this configuration\n"
           "                          directory does: its trust.* and verify.* keys, its\n"
           "                          package limits and its registry (opened read-only),\n"
           "                          with the CAPV_* environment variables the daemon reads;\n"
           "                          the options above that set trust or verification\n"
           "                          (and --record) are refused beside it; --registry FILE\n"
           "                          reads a copy of the registry instead of the daemon's\n"
           "  --audit-log FILE        an audit log kept beside the package(s): the audit check\n"
           "                          verifies its hash chain and compares its tip with each\n"
           "                          manifest's (as it does for a log a package carries)\n"
           "  --recursive             descend into the subdirectories of a directory of\n"
           "                          packages\n"
           "  --summary               one line per package (its verdict), then the totals\n"
           "  -q, --quiet             print nothing: the exit code is the answer (errors\n"
           "                          still go to standard error)\n"
           "  --json                  JSON Lines: one object per package, {\"schema\":\n"
           "                          \"capverify.verify.v1\",\"package\":…,\"result\":…,\n"
           "                          \"report\"|\"error\":…} (docs/formats.md)\n"
           "  --report FILE           also write those JSON Lines to FILE\n");
}

typedef struct colors {
    const char *ok, *warn, *fail, *skip, *off;
} colors;

static const char *status_color(const colors *c, capv_check_status s)
{
    switch (s) {
    case CAPV_CHECK_PASS: return c->ok;
    case CAPV_CHECK_WARN: return c->warn;
    case CAPV_CHECK_FAIL: return c->fail;
    case CAPV_CHECK_SKIP: return c->skip;
    }
    return c->off;
}

static void print_checks(const capv_report *r, const colors *c, const char *indent)
{
    for (size_t i = 0; i < capv_report_check_count(r); i++) {
        const capv_check *k = capv_report_check(r, i);
        capv_check_status s = capv_check_status_of(k);
        printf("%s%s%-4s%s  %-19s %s\n", indent, status_color(c, s), capv_check_status_name(s),
               c->off, capv_check_id(k), capv_check_message(k));
    }
}

static void print_human(const char *path, const capv_report *r, const colors *c)
{
    capv_verdict v = capv_report_verdict(r);
    const char *vc = v == CAPV_VERDICT_OK ? c->ok : v == CAPV_VERDICT_WARN ? c->warn : c->fail;
    char verdict[8];
    snprintf(verdict, sizeof verdict, "%s", capv_verdict_name(v));
    for (char *p = verdict; *p; p++)
        *p = (char)(*p - 'a' + 'A');
    printf("%s: %s%s%s (%s)\n", path, vc, verdict, c->off, capv_report_format(r));
    if (capv_report_manifest_hash(r) != NULL)
        printf("  manifest %s\n  proof    %s\n", capv_report_manifest_hash(r),
               capv_report_proof_hash(r));
    print_checks(r, c, "  ");
    for (size_t i = 0; i < capv_report_unit_count(r); i++) {
        const capv_report *u = capv_report_unit(r, i);
        capv_verdict uv = capv_report_verdict(u);
        printf("  unit %s: %s%s%s\n", capv_report_unit_id(u),
               uv == CAPV_VERDICT_OK     ? c->ok
               : uv == CAPV_VERDICT_WARN ? c->warn
                                         : c->fail,
               capv_verdict_name(uv), c->off);
        print_checks(u, c, "    ");
    }
}

static int verdict_exit(capv_verdict v)
{
    return v == CAPV_VERDICT_OK     ? EXIT_VERDICT_OK
           : v == CAPV_VERDICT_WARN ? EXIT_VERDICT_WARN
                                    : EXIT_VERDICT_FAIL;
}

/* What one run of `capverify verify` works with. */
typedef struct verify_run {
    capv_verifier *v;
    capv_verify_options *o;
    capv_package_limits *limits; /* the CLI's, or the daemon's (the options hold a copy) */
    capv_registry *reg;          /* opened read-write for --record, read-only for the daemon's */
    bool json, record, recursive, summary, quiet;
    const char *report_path, *registry_path;
    const char *daemon_config;  /* --daemon-config DIR, or NULL */
    const char *audit_log_path; /* --audit-log FILE, or NULL */
    uint8_t *audit_log;         /* its bytes, which the options borrow */
    char **operands;            /* the package arguments, `nargs` of them */
    int nargs;
    char **pkgs; /* the packages they name (directories expanded) */
    int npkg, cap;
    int counts[4]; /* ok, warn, fail, error (for --summary) */
} verify_run;

/* What the packages' results go to. */
typedef struct output {
    colors c;
    bool progress, many;
    FILE *mem; /* collects the JSON report(s) for --json and --report, or NULL */
    char *collected;
    size_t collected_len;
} output;

/* Returned by the steps below when the command goes on; anything else is its exit code. */
#define GO_ON (-1)

enum {
    OPT_AUDIT_LOG = 256,
    OPT_TRUST,
    OPT_POLICY_STORE,
    OPT_POLICY_HASH,
    OPT_REGISTRY,
    OPT_TSA_CA,
    OPT_REPORT,
    OPT_MOCK_POLICY,
    OPT_DAEMON_CONFIG,
    OPT_JSON,
    OPT_RECURSIVE,
    OPT_SUMMARY,
    OPT_RECORD,
    OPT_STRICT,
    OPT_ALLOW_UNTRUSTED,
    OPT_NO_REQUIRE_SIGNATURE,
    OPT_REQUIRE_TIMESTAMP,
    OPT_CHECK_REGISTRY
};

static const struct option longopts[] = {
    { "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
    { "trust", required_argument, NULL, OPT_TRUST },
    { "policy-store", required_argument, NULL, OPT_POLICY_STORE },
    { "policy-hash", required_argument, NULL, OPT_POLICY_HASH },
    { "registry", required_argument, NULL, OPT_REGISTRY },
    { "tsa-ca", required_argument, NULL, OPT_TSA_CA },
    { "report", required_argument, NULL, OPT_REPORT },
    { "mock-policy", required_argument, NULL, OPT_MOCK_POLICY },
    { "daemon-config", required_argument, NULL, OPT_DAEMON_CONFIG },
    { "json", no_argument, NULL, OPT_JSON },
    { "recursive", no_argument, NULL, OPT_RECURSIVE },
    { "summary", no_argument, NULL, OPT_SUMMARY },
    { "quiet", no_argument, NULL, 'q' },
    { "record", no_argument, NULL, OPT_RECORD },
    { "strict", no_argument, NULL, OPT_STRICT },
    { "allow-untrusted", no_argument, NULL, OPT_ALLOW_UNTRUSTED },
    { "no-require-signature", no_argument, NULL, OPT_NO_REQUIRE_SIGNATURE },
    { "require-timestamp", no_argument, NULL, OPT_REQUIRE_TIMESTAMP },
    { "check-registry", no_argument, NULL, OPT_CHECK_REGISTRY },
    CLI_OPT_HELP,
    { 0 }
};

/* The verification options the flags from --strict on set. */
static const struct {
    capv_option opt;
    int enabled;
} flag_options[] = {
    [OPT_STRICT - OPT_STRICT] = { CAPV_OPT_STRICT, 1 },
    [OPT_ALLOW_UNTRUSTED - OPT_STRICT] = { CAPV_OPT_ALLOW_UNTRUSTED, 1 },
    [OPT_NO_REQUIRE_SIGNATURE - OPT_STRICT] = { CAPV_OPT_REQUIRE_SIGNATURE, 0 },
    [OPT_REQUIRE_TIMESTAMP - OPT_STRICT] = { CAPV_OPT_REQUIRE_TIMESTAMP, 1 },
    [OPT_CHECK_REGISTRY - OPT_STRICT] = { CAPV_OPT_CHECK_REGISTRY, 1 },
};

/* --mock-policy VALUE: GO_ON or the usage error's exit code. */
static int set_mock_policy(verify_run *vr, const char *val, capv_status *st, capv_error *err)
{
    capv_mock_policy p;
    if (strcmp(val, "warn") == 0)
        p = CAPV_MOCK_WARN;
    else if (strcmp(val, "fail") == 0)
        p = CAPV_MOCK_FAIL;
    else if (strcmp(val, "accept") == 0)
        p = CAPV_MOCK_ACCEPT;
    else
        return cli_usage_error("verify", "--mock-policy must be warn, fail or accept");
    *st = capv_verify_options_set_mock_policy(vr->o, p, err);
    return GO_ON;
}

/* An option with its value: GO_ON when it was applied (or *st says why not). */
static int apply_value_option(verify_run *vr, int opt, const char *val, capv_status *st,
                              capv_error *err)
{
    switch (opt) {
    case OPT_TRUST: *st = capv_verifier_load_trust(vr->v, val, err); break;
    case OPT_POLICY_STORE: *st = capv_verifier_load_policy_dir(vr->v, val, err); break;
    case OPT_POLICY_HASH:
        *st = capv_verifier_add_policy_hash(vr->v, val, err);
        if (*st != CAPV_OK)
            return cli_usage_error("verify", "--policy-hash '%s' is not a digest", val);
        break;
    case OPT_REGISTRY: vr->registry_path = val; break; /* loaded later, once --record is known */
    case OPT_TSA_CA: *st = capv_verifier_load_tsa_roots(vr->v, val, err); break;
    /* read once the options are final (--daemon-config) */
    case OPT_AUDIT_LOG: vr->audit_log_path = val; break;
    case OPT_REPORT: vr->report_path = val; break;
    default: return set_mock_policy(vr, val, st, err);
    }
    return GO_ON;
}

/* Options that set what --daemon-config sets, with the key that sets it there. Beside
 * --daemon-config they are refused: a mix would give a verdict production never gives. */
static const char *daemon_key_of(int opt)
{
    switch (opt) {
    case OPT_TRUST: return "trust.dir";
    case OPT_POLICY_STORE:
    case OPT_POLICY_HASH: return "trust.policy_dir";
    case OPT_TSA_CA: return "trust.tsa_ca_file";
    case OPT_STRICT: return "verify.strict";
    case OPT_ALLOW_UNTRUSTED: return "verify.allow_untrusted";
    case OPT_NO_REQUIRE_SIGNATURE: return "verify.require_signature";
    case OPT_REQUIRE_TIMESTAMP: return "verify.require_timestamp";
    case OPT_CHECK_REGISTRY: return "verify.check_registry";
    case OPT_MOCK_POLICY: return "verify.mock_policy";
    case OPT_RECORD: return "registry.record_verifications";
    default: return NULL;
    }
}

/* Applies the option `opt` (with its value optarg): GO_ON, or an exit code (reported). */
static int apply_option(verify_run *vr, int opt)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = CAPV_OK;
    int rc = GO_ON;
    const char *key = vr->daemon_config ? daemon_key_of(opt) : NULL;
    if (key != NULL)
        return cli_usage_error("verify",
                               "%s cannot be combined with --daemon-config: %s of the "
                               "configuration applies",
                               cli_opt_name(), key);
    switch (opt) {
    case OPT_DAEMON_CONFIG: break; /* found by find_daemon_config */
    case OPT_JSON: vr->json = true; break;
    case OPT_RECURSIVE: vr->recursive = true; break;
    case OPT_SUMMARY: vr->summary = true; break;
    case 'q': vr->quiet = true; break;
    case OPT_RECORD: vr->record = true; break;
    default:
        if (opt >= OPT_STRICT) {
            st = capv_verify_options_set(vr->o, flag_options[opt - OPT_STRICT].opt,
                                         flag_options[opt - OPT_STRICT].enabled, &err);
        } else {
            rc = apply_value_option(vr, opt, optarg, &st, &err);
        }
    }
    if (rc == GO_ON && st != CAPV_OK)
        rc = cli_report(cli_opt_name(), st, &err);
    return rc;
}

/* --daemon-config DIR, found before any option is applied (they are checked against it).
 * GO_ON or the usage error's exit code. */
static int find_daemon_config(verify_run *vr, int argc, char **argv)
{
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("verify", argc, argv, "hq", longopts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        if (c != OPT_DAEMON_CONFIG)
            continue;
        if (vr->daemon_config != NULL)
            return cli_usage_error("verify", "--daemon-config may be given once");
        vr->daemon_config = optarg;
    }
    return GO_ON;
}

/* The options, in order, and the packages (vr->operands). */
static int parse_args(verify_run *vr, int argc, char **argv)
{
    int rc = find_daemon_config(vr, argc, argv);
    if (rc != GO_ON)
        return rc;
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("verify", argc, argv, "hq", longopts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        if (c == 'h') {
            verify_usage(stdout);
            return EXIT_VERDICT_OK;
        }
        if ((rc = apply_option(vr, c)) != GO_ON)
            return rc;
    }
    vr->operands = argv + optind;
    vr->nargs = argc - optind;
    if (vr->nargs == 0)
        return cli_usage_error("verify", "no PACKAGE given");
    if (vr->json + vr->summary + vr->quiet > 1)
        return cli_usage_error("verify", "--json, --summary and --quiet exclude each other");
    if (vr->record && vr->registry_path == NULL)
        return cli_usage_error("verify", "--record needs --registry DB");
    return GO_ON;
}

/* Whether `path` holds a JSON registry (its first non-blank byte is '{'). */
static bool is_json_file(const char *path)
{
    FILE *rf = fopen(path, "rb");
    int first = ' ';
    while (rf != NULL && (first = fgetc(rf)) != EOF &&
           (first == ' ' || first == '\t' || first == '\n' || first == '\r'))
        ;
    if (rf != NULL)
        fclose(rf);
    return first == '{';
}

/* --registry: a SQLite registry opened read-write for --record, else the registry (JSON or
 * SQLite) loaded read-only into the verifier. GO_ON or an exit code (reported). */
static int attach_registry(verify_run *vr)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    if (vr->record) {
        if (is_json_file(vr->registry_path))
            return cli_usage_error("verify", "--record needs a SQLite registry database, not "
                                             "a JSON registry");
        capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
        st = capv_registry_open(&vr->reg, vr->registry_path, &ro, &err);
        if (st == CAPV_OK)
            capv_verifier_set_registry(vr->v, vr->reg);
    } else {
        st = capv_verifier_load_registry(vr->v, vr->registry_path, &err);
    }
    if (st == CAPV_OK)
        return GO_ON;
    int rc = cli_report(vr->registry_path, st, &err);
    return st == CAPV_E_STATE ? EXIT_UNAVAILABLE : rc;
}

/* The registry the daemon's configuration names, read-only (safe while the daemon writes it):
 * the daemon's verifier always has its registry, whose entries the `registry` check reads.
 * GO_ON or an exit code (reported). */
static int open_daemon_registry(verify_run *vr, const capvd_config *c)
{
    capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
    ro.flags = CAPV_REGISTRY_READ_ONLY;
    const char *where = capvd_config_registry_location(c, &ro.password_file);
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_open(&vr->reg, where, &ro, &err);
    if (st == CAPV_OK) {
        capv_verifier_set_registry(vr->v, vr->reg);
        return GO_ON;
    }
    int rc =
        cli_report(capv_registry_location_is_postgres(where) ? "registry.url" : where, st, &err);
    fprintf(stderr, "capverify verify: the daemon checks every package against its registry; "
                    "give --registry FILE to read a copy of it instead\n");
    return st == CAPV_E_STATE ? EXIT_UNAVAILABLE : rc;
}

/* --daemon-config DIR: the verifier, options, package limits and registry that capverifyd
 * makes of DIR and of the CAPV_* environment (its files, then the variables, as the daemon
 * loads them; config_verify.c builds them for both). GO_ON or an exit code (reported). */
static int use_daemon_config(verify_run *vr)
{
    const char *dir = vr->daemon_config;
    struct stat sb;
    bool found = stat(dir, &sb) == 0;
    if (!found || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "capverify verify: --daemon-config %s: %s\n", dir,
                found ? "not a directory" : strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    capvd_config cfg;
    capvd_config_defaults(&cfg);
    char errbuf[4096];
    if (!capvd_config_load(&cfg, dir, true, NULL, 0, errbuf, sizeof errbuf)) {
        fprintf(stderr, "capverify verify: --daemon-config %s: %s\n", dir, errbuf);
        capvd_config_free(&cfg);
        return EXIT_MALFORMED;
    }
    capv_verifier_free(vr->v);
    capv_verify_options_free(vr->o);
    vr->v = NULL;
    vr->o = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capvd_config_verifier(&vr->v, &cfg, &err);
    if (st == CAPV_OK)
        st = capvd_config_verify_options(&vr->o, &vr->limits, &cfg, &err);
    int rc = GO_ON;
    if (st != CAPV_OK)
        rc = cli_report(err.field[0] ? err.field : dir, st, &err);
    else if (vr->registry_path == NULL)
        rc = open_daemon_registry(vr, &cfg);
    capvd_config_free(&cfg);
    return rc;
}

/* Without --daemon-config: the limits capv_verify_path gives a file by default (the CLI's,
 * docs/formats.md, "CAP packages"), set in the options, so that what is verified from memory
 * (standard input, a pipe) gets them too and the same bytes get the same verdict. GO_ON or an
 * exit code (reported). */
static int use_cli_limits(verify_run *vr)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_package_limits_new(&vr->limits, &err);
    if (st == CAPV_OK)
        st = capv_package_limits_set(vr->limits, CAPV_LIMIT_TOTAL_BYTES, CAPV_CLI_MAX_TOTAL_BYTES,
                                     &err);
    if (st == CAPV_OK)
        st = capv_package_limits_set(vr->limits, CAPV_LIMIT_ENTRY_BYTES, CAPV_CLI_MAX_TOTAL_BYTES,
                                     &err);
    if (st == CAPV_OK)
        st = capv_package_limits_set(vr->limits, CAPV_LIMIT_VERIFY_BYTES, CAPV_CLI_MAX_VERIFY_BYTES,
                                     &err);
    if (st == CAPV_OK)
        st = capv_verify_options_set_limits(vr->o, vr->limits, &err);
    return st == CAPV_OK ? GO_ON : cli_report("verify", st, &err);
}

/* --audit-log FILE: its bytes, borrowed by the options. GO_ON or an exit code (reported). */
static int read_audit_log(verify_run *vr)
{
    size_t len = 0;
    int rc =
        cli_read_file(&vr->audit_log, &len, vr->audit_log_path, CAPV_CLI_MAX_TOTAL_BYTES, "verify");
    if (rc != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_verify_options_set_audit_log(vr->o, vr->audit_log, len, &err);
    return st == CAPV_OK ? GO_ON : cli_report(vr->audit_log_path, st, &err);
}

/* One JSON Lines object per package (docs/formats.md, "capverify verify --json"): the
 * report, or why there is none. */
static void write_error_json(FILE *mem, const char *path, capv_status st, const capv_error *err)
{
    fputs("{\"schema\":\"capverify.verify.v1\",\"package\":", mem);
    cli_print_json_string(mem, path);
    fprintf(mem, ",\"result\":\"error\",\"error\":{\"status\":\"%s\",\"class\":\"%s\",\"message\":",
            capv_status_name(st), capv_status_class_name(capv_status_class_of(st)));
    cli_print_json_string(mem, err->message);
    fputs("}}\n", mem);
}

static int write_report_json(FILE *mem, const char *path, const capv_report *r)
{
    char *text = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_report_to_json(&text, NULL, r, 0, &err) != CAPV_OK)
        return EXIT_INTERNAL;
    fputs("{\"schema\":\"capverify.verify.v1\",\"package\":", mem);
    cli_print_json_string(mem, path);
    fprintf(mem, ",\"result\":\"%s\",\"report\":%s}\n", capv_verdict_name(capv_report_verdict(r)),
            text);
    capv_free(text);
    return EXIT_VERDICT_OK;
}

/* --record: the verification into the registry. Returns `rc`, or the failure's exit code. */
static int record_report(const verify_run *vr, const char *path, const capv_report *r, int rc)
{
    int64_t seq = 0;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_registry_record_report(&seq, vr->reg, r, NULL, "cli", &err);
    if (st != CAPV_OK)
        return cli_report("recording the verification", st, &err);
    fprintf(stderr, "capverify verify: %s: recorded as verification %lld in %s\n", path,
            (long long)seq, vr->registry_path);
    return rc;
}

/* Whether `path` is read whole and verified from memory: '-' (standard input), or a file that
 * is neither a regular file nor a directory (a pipe such as <(...), a FIFO, a device), which
 * the library would refuse to load as unsafe. */
static bool read_whole(const char *path)
{
    struct stat sb;
    return strcmp(path, "-") == 0 ||
           (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode));
}

/* Whether `data` is a zip: it starts with a local file header (PK\3\4) or, for an empty zip,
 * with the end of central directory record (PK\5\6), as the daemon tells a zip upload from a
 * JSON package. */
static bool is_zip(const uint8_t *data, size_t len)
{
    return len >= 4 && data[0] == 'P' && data[1] == 'K' &&
           ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6));
}

/* Verifies the bytes of `path` (read_whole): a zip (is_zip) or the JSON package form.
 * `*read_rc` is the exit code when they could not be read (reported). */
static capv_status verify_bytes(capv_report **r, const verify_run *vr, const char *path,
                                capv_error *err, int *read_rc)
{
    uint8_t *data = NULL;
    size_t len = 0;
    const char *what = strcmp(path, "-") == 0 ? "standard input" : path;
    *read_rc = cli_read_file(&data, &len, path, CAPV_CLI_MAX_TOTAL_BYTES, "verify");
    if (*read_rc != 0) {
        /* for the JSON line: what cli_read_file said on stderr */
        capv_status st = *read_rc == EXIT_MALFORMED  ? CAPV_E_LIMIT
                         : *read_rc == EXIT_INTERNAL ? CAPV_E_NOMEM
                                                     : CAPV_E_IO;
        err->code = st;
        if (st == CAPV_E_LIMIT)
            snprintf(err->message, sizeof err->message, "%s is larger than %llu bytes", what,
                     (unsigned long long)CAPV_CLI_MAX_TOTAL_BYTES);
        else if (st == CAPV_E_NOMEM)
            snprintf(err->message, sizeof err->message, "out of memory reading %s", what);
        else
            snprintf(err->message, sizeof err->message, "%s could not be read", what);
        return st;
    }
    capv_status st = is_zip(data, len) ? capv_verify_zip_memory(r, vr->v, data, len, vr->o, err)
                                       : capv_verify_package_json(r, vr->v, data, len, vr->o, err);
    free(data);
    return st;
}

/* Erases the progress line, before anything else is written to the terminal (the results
 * on stdout would otherwise continue it). */
static void progress_clear(const output *out)
{
    if (out->progress)
        fputs("\r\033[K", stderr);
}

/* Verifies the i-th package and writes its results; returns its exit code. */
static int verify_package(verify_run *vr, output *out, int i, const char *path)
{
    if (out->progress)
        fprintf(stderr, "\r[%d/%d] %s\033[K", i, vr->npkg, path);
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    int read_rc = 0;
    capv_status st = read_whole(path) ? verify_bytes(&r, vr, path, &err, &read_rc)
                                      : capv_verify_path(&r, vr->v, path, vr->o, &err);
    progress_clear(out);
    if (st != CAPV_OK) {
        int prc = read_rc != 0 ? read_rc : cli_report(path, st, &err);
        if (out->mem)
            write_error_json(out->mem, path, st, &err);
        vr->counts[3]++;
        if (vr->summary)
            printf("%s: error (%s)\n", path, capv_status_name(st));
        return prc;
    }
    capv_verdict v = capv_report_verdict(r);
    int prc = verdict_exit(v);
    vr->counts[v == CAPV_VERDICT_OK ? 0 : v == CAPV_VERDICT_WARN ? 1 : 2]++;
    if (vr->record)
        prc = record_report(vr, path, r, prc);
    if (vr->summary)
        printf("%s: %s (%s)\n", path, capv_verdict_name(v), capv_report_format(r));
    else if (!vr->json && !vr->quiet)
        print_human(path, r, &out->c);
    if (out->mem && write_report_json(out->mem, path, r) != EXIT_VERDICT_OK)
        prc = EXIT_INTERNAL;
    capv_report_free(r);
    return prc;
}

/* Colours for a terminal, progress for several packages, a buffer for JSON output. */
static bool open_output(output *out, const verify_run *vr)
{
    const char *nc = getenv("NO_COLOR");
    out->c = (colors){ "", "", "", "", "" };
    if (!vr->json && isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0'))
        out->c = (colors){ "\033[32m", "\033[33m", "\033[31m", "\033[2m", "\033[0m" };
    out->progress = vr->npkg > 1 && !vr->quiet && isatty(STDERR_FILENO);
    out->many = vr->npkg > 1;
    if (!vr->json && vr->report_path == NULL)
        return true;
    out->mem = open_memstream(&out->collected, &out->collected_len);
    return out->mem != NULL;
}

/* Ends the JSON output: to stdout for --json, to the file of --report. Returns `rc`, or
 * the write's exit code when that is worse. */
static int close_output(output *out, const verify_run *vr, int rc)
{
    if (out->mem == NULL)
        return rc;
    fclose(out->mem);
    out->mem = NULL;
    if (vr->json)
        fputs(out->collected, stdout);
    if (vr->report_path != NULL) {
        int wrc = cli_write_file(vr->report_path, out->collected, out->collected_len, "verify");
        if (wrc != 0 && rc < wrc)
            rc = wrc;
    }
    return rc;
}

static bool add_package(verify_run *vr, const char *path)
{
    if (vr->npkg == vr->cap) {
        int cap = vr->cap ? 2 * vr->cap : 16;
        char **grown = realloc(vr->pkgs, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return false;
        vr->pkgs = grown;
        vr->cap = cap;
    }
    return (vr->pkgs[vr->npkg++] = strdup(path)) != NULL;
}

/* Whether `dir/name` exists (a path too long for PATH_MAX names nothing: a shortened one
 * would name another file). */
static bool holds(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    int n = snprintf(p, sizeof p, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof p && stat(p, &sb) == 0;
}

/* Whether `dir` is a package directory (it holds manifest.json or _meta.json). */
static bool is_package_dir(const char *dir)
{
    return holds(dir, "manifest.json") || holds(dir, "_meta.json");
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* The names in `dir` (hidden ones skipped), sorted; NULL on failure (reported). */
static char **dir_names(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "capverify verify: %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **grown = realloc(names, cap * sizeof *grown);
            ok = grown != NULL;
            if (ok)
                names = grown;
        }
        if (ok && (names[n] = strdup(e->d_name)) != NULL)
            n++;
        else
            ok = false;
    }
    closedir(d);
    if (!ok) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        fprintf(stderr, "capverify verify: %s: out of memory\n", dir);
        return NULL;
    }
    if (n > 0)
        qsort(names, n, sizeof *names, by_name);
    *count = n;
    return names != NULL ? names : calloc(1, sizeof *names);
}

/* The packages of a directory of packages, in name order: .zip / .capz files and package
 * directories; with --recursive, those of its other subdirectories too (not following
 * symbolic links to directories). GO_ON or an exit code (reported). */
static int expand_dir(verify_run *vr, const char *dir, int depth)
{
    size_t n = 0;
    char **names = dir_names(dir, &n);
    if (names == NULL)
        return EXIT_UNAVAILABLE;
    int rc = GO_ON;
    for (size_t i = 0; rc == GO_ON && i < n; i++) {
        char path[4096];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
            lstat(path, &sb) != 0)
            continue;
        bool archive =
            S_ISREG(sb.st_mode) && (has_suffix(names[i], ".zip") || has_suffix(names[i], ".capz"));
        if (archive || (S_ISDIR(sb.st_mode) && is_package_dir(path))) {
            if (!add_package(vr, path))
                rc = EXIT_INTERNAL;
        } else if (S_ISDIR(sb.st_mode) && vr->recursive && depth < 32) {
            rc = expand_dir(vr, path, depth + 1);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* The packages the arguments name. GO_ON or an exit code (reported). */
static int expand_args(verify_run *vr)
{
    /* --audit-log - reads standard input first */
    int stdin_uses = vr->audit_log_path != NULL && strcmp(vr->audit_log_path, "-") == 0;
    for (int i = 0; i < vr->nargs; i++) {
        struct stat sb;
        const char *a = vr->operands[i];
        if (strcmp(a, "-") == 0 && ++stdin_uses > 1)
            return cli_usage_error("verify", "'-' (standard input) may be given once, as a "
                                             "package or as --audit-log");
        if (strcmp(a, "-") != 0 && stat(a, &sb) == 0 && S_ISDIR(sb.st_mode) && !is_package_dir(a)) {
            int before = vr->npkg, rc = expand_dir(vr, a, 0);
            if (rc != GO_ON)
                return rc;
            if (vr->npkg == before)
                fprintf(stderr, "capverify verify: %s: no packages in this directory%s\n", a,
                        vr->recursive ? "" : " (--recursive descends into its subdirectories)");
            continue;
        }
        if (!add_package(vr, a))
            return EXIT_INTERNAL;
    }
    return vr->npkg > 0 ? GO_ON : EXIT_MALFORMED;
}

/* Verifies every package; the exit code is the worst of theirs. */
static int verify_all(verify_run *vr)
{
    output out = { 0 };
    int rc = expand_args(vr);
    if (rc != GO_ON) {
        /* reported */
    } else if (!open_output(&out, vr)) {
        rc = EXIT_INTERNAL;
    } else {
        rc = EXIT_VERDICT_OK;
        for (int i = 0; i < vr->npkg; i++) {
            int prc = verify_package(vr, &out, i + 1, vr->pkgs[i]);
            if (prc > rc)
                rc = prc;
        }
        rc = close_output(&out, vr, rc);
        if (vr->summary)
            printf("%d package(s): %d ok, %d warn, %d fail, %d error\n", vr->npkg, vr->counts[0],
                   vr->counts[1], vr->counts[2], vr->counts[3]);
    }
    free(out.collected);
    return rc;
}

int cmd_verify(int argc, char **argv)
{
    verify_run vr = { 0 };
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    int rc;
    if ((st = capv_verifier_new(&vr.v, &err)) != CAPV_OK ||
        (st = capv_verify_options_new(&vr.o, &err)) != CAPV_OK)
        rc = cli_report("verify", st, &err);
    else
        rc = parse_args(&vr, argc, argv);
    if (rc == GO_ON)
        rc = vr.daemon_config != NULL ? use_daemon_config(&vr) : use_cli_limits(&vr);
    if (rc == GO_ON && vr.registry_path != NULL)
        rc = attach_registry(&vr);
    if (rc == GO_ON && vr.audit_log_path != NULL)
        rc = read_audit_log(&vr);
    if (rc == GO_ON)
        rc = verify_all(&vr);
    capv_verify_options_free(vr.o);
    free(vr.audit_log);
    capv_package_limits_free(vr.limits);
    capv_verifier_free(vr.v);
    capv_registry_close(vr.reg); /* after the verifier, which borrows it */
    for (int i = 0; i < vr.npkg; i++)
        free(vr.pkgs[i]);
    free(vr.pkgs);
    return rc;
}
