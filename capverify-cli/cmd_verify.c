/* SPDX-License-Identifier: Apache-2.0 */
/* capverify verify PACKAGE... — offline verification with a human or JSON report. */
#include "cmd_verify.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"

static void verify_usage(FILE *f)
{
    fprintf(
        f, "usage: capverify verify [options] PACKAGE...\n\n"
           "Verifies CAP packages (directories or .zip files) and prints one line per check.\n"
           "Exit code: 0 ok, 1 warn, 2 fail (the worst package), 4 not a package, 5 unreadable.\n\n"
           "options:\n"
           "  --trust PATH            trusted Ed25519 keys: a directory of *.pub / cap-key.v1\n"
           "                          *.json files, or one key or key-list file\n"
           "  --policy-store DIR      directory of known policies (IR v1 *.json, policy *.yml)\n"
           "  --policy-hash HASH      a known policy hash (repeatable)\n"
           "  --registry FILE         registry for the registry check: a JSON registry\n"
           "                          (registry_version 1.0) or a SQLite registry database,\n"
           "                          opened read-only (safe while capverifyd serves it)\n"
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
           "  --json                  print the report(s) as JSON\n"
           "  --report FILE           also write the JSON report(s) to FILE\n");
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
    capv_registry *reg; /* opened read-write for --record */
    bool json, record;
    const char *report_path, *registry_path;
    int npkg; /* packages, compacted to argv[1..npkg] */
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

static const struct {
    const char *name;
    capv_option opt;
    int enabled;
} flag_options[] = {
    { "--strict", CAPV_OPT_STRICT, 1 },
    { "--allow-untrusted", CAPV_OPT_ALLOW_UNTRUSTED, 1 },
    { "--no-require-signature", CAPV_OPT_REQUIRE_SIGNATURE, 0 },
    { "--require-timestamp", CAPV_OPT_REQUIRE_TIMESTAMP, 1 },
    { "--check-registry", CAPV_OPT_CHECK_REGISTRY, 1 },
};

static bool takes_value(const char *a)
{
    static const char *const with_value[] = { "--trust",      "--policy-store", "--policy-hash",
                                              "--registry",   "--tsa-ca",       "--report",
                                              "--mock-policy" };
    for (size_t i = 0; i < sizeof with_value / sizeof *with_value; i++)
        if (strcmp(a, with_value[i]) == 0)
            return true;
    return false;
}

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
static int apply_value_option(verify_run *vr, const char *a, const char *val, capv_status *st,
                              capv_error *err)
{
    if (strcmp(a, "--trust") == 0) {
        *st = capv_verifier_load_trust(vr->v, val, err);
    } else if (strcmp(a, "--policy-store") == 0) {
        *st = capv_verifier_load_policy_dir(vr->v, val, err);
    } else if (strcmp(a, "--policy-hash") == 0) {
        *st = capv_verifier_add_policy_hash(vr->v, val, err);
        if (*st != CAPV_OK)
            return cli_usage_error("verify", "--policy-hash '%s' is not a digest", val);
    } else if (strcmp(a, "--registry") == 0) {
        vr->registry_path = val; /* loaded later, once --record is known */
    } else if (strcmp(a, "--tsa-ca") == 0) {
        *st = capv_verifier_load_tsa_roots(vr->v, val, err);
    } else if (strcmp(a, "--report") == 0) {
        vr->report_path = val;
    } else {
        return set_mock_policy(vr, val, st, err);
    }
    return GO_ON;
}

/* Applies the option argv[*i], consuming its value: GO_ON, or an exit code (reported). */
static int apply_option(verify_run *vr, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = CAPV_OK;
    int rc = GO_ON;
    if (takes_value(a)) {
        if (*i + 1 >= argc)
            return cli_usage_error("verify", "%s needs a value", a);
        rc = apply_value_option(vr, a, argv[++*i], &st, &err);
    } else if (strcmp(a, "--json") == 0) {
        vr->json = true;
    } else if (strcmp(a, "--record") == 0) {
        vr->record = true;
    } else {
        size_t k = 0, n = sizeof flag_options / sizeof *flag_options;
        while (k < n && strcmp(a, flag_options[k].name) != 0)
            k++;
        if (k == n)
            return cli_usage_error("verify", "unknown option '%s'", a);
        st = capv_verify_options_set(vr->o, flag_options[k].opt, flag_options[k].enabled, &err);
    }
    if (rc == GO_ON && st != CAPV_OK)
        rc = cli_report(a, st, &err);
    return rc;
}

/* The options, in order, and the packages (compacted to argv[1..npkg]). */
static int parse_args(verify_run *vr, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            verify_usage(stdout);
            return EXIT_VERDICT_OK;
        }
        if (a[0] != '-' || a[1] == '\0') {
            argv[++vr->npkg] = argv[i];
            continue;
        }
        int rc = apply_option(vr, argc, argv, &i);
        if (rc != GO_ON)
            return rc;
    }
    if (vr->npkg == 0)
        return cli_usage_error("verify", "no PACKAGE given");
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

/* A package that could not be verified: {"package":…,"error":{"code":…,"message":…}}. */
static void write_error_json(FILE *mem, int i, const char *path, capv_status st,
                             const capv_error *err)
{
    fprintf(mem, "%s{\"package\":", i > 1 ? "," : "");
    cli_print_json_string(mem, path);
    fprintf(mem, ",\"error\":{\"code\":\"%s\",\"message\":", capv_status_name(st));
    cli_print_json_string(mem, err->message);
    fputs("}}", mem);
}

/* The report, alone or (for several packages) as {"package":…,"report":…}. */
static int write_report_json(FILE *mem, bool many, int i, const char *path, const capv_report *r)
{
    char *text = NULL;
    capv_error err = CAPV_ERROR_INIT;
    if (capv_report_to_json(&text, NULL, r, CAPV_REPORT_JSON_PRETTY, &err) != CAPV_OK)
        return EXIT_INTERNAL;
    if (many) {
        fprintf(mem, "%s{\"package\":", i > 1 ? "," : "");
        cli_print_json_string(mem, path);
        fprintf(mem, ",\"report\":%s}", text);
    } else {
        fputs(text, mem);
    }
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

/* Verifies the i-th package and writes its results; returns its exit code. */
static int verify_package(const verify_run *vr, output *out, int i, const char *path)
{
    if (out->progress)
        fprintf(stderr, "\r[%d/%d] %s\033[K", i, vr->npkg, path);
    capv_report *r = NULL;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = capv_verify_path(&r, vr->v, path, vr->o, &err);
    if (st != CAPV_OK) {
        if (out->progress)
            fputc('\n', stderr);
        int prc = cli_report(path, st, &err);
        if (out->mem)
            write_error_json(out->mem, i, path, st, &err);
        return prc;
    }
    int prc = verdict_exit(capv_report_verdict(r));
    if (vr->reg != NULL)
        prc = record_report(vr, path, r, prc);
    if (!vr->json)
        print_human(path, r, &out->c);
    if (out->mem && write_report_json(out->mem, out->many, i, path, r) != EXIT_VERDICT_OK)
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
    out->progress = vr->npkg > 1 && isatty(STDERR_FILENO);
    out->many = vr->npkg > 1;
    if (!vr->json && vr->report_path == NULL)
        return true;
    out->mem = open_memstream(&out->collected, &out->collected_len);
    if (out->mem && out->many)
        fputc('[', out->mem);
    return out->mem != NULL;
}

/* Ends the JSON output: to stdout for --json, to the file of --report. Returns `rc`, or
 * the write's exit code when that is worse. */
static int close_output(output *out, const verify_run *vr, int rc)
{
    if (out->progress)
        fputc('\n', stderr);
    if (out->mem == NULL)
        return rc;
    if (out->many)
        fputc(']', out->mem);
    fputc('\n', out->mem);
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

/* Verifies every package; the exit code is the worst of theirs. */
static int verify_all(const verify_run *vr, char **argv)
{
    output out = { 0 };
    int rc = EXIT_VERDICT_OK;
    if (!open_output(&out, vr)) {
        rc = EXIT_INTERNAL;
    } else {
        for (int i = 1; i <= vr->npkg; i++) {
            int prc = verify_package(vr, &out, i, argv[i]);
            if (prc > rc)
                rc = prc;
        }
        rc = close_output(&out, vr, rc);
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
    if (rc == GO_ON && vr.registry_path != NULL)
        rc = attach_registry(&vr);
    if (rc == GO_ON)
        rc = verify_all(&vr, argv);
    capv_verify_options_free(vr.o);
    capv_verifier_free(vr.v);
    capv_registry_close(vr.reg); /* after the verifier, which borrows it */
    return rc;
}
