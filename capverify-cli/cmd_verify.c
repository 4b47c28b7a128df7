/* capverify verify PACKAGE... — offline verification with a human or JSON report. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"

static void verify_usage(FILE *f)
{
    fprintf(f,
            "usage: capverify verify [options] PACKAGE...\n\n"
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
               uv == CAPV_VERDICT_OK ? c->ok : uv == CAPV_VERDICT_WARN ? c->warn : c->fail,
               capv_verdict_name(uv), c->off);
        print_checks(u, c, "    ");
    }
}

static int verdict_exit(capv_verdict v)
{
    return v == CAPV_VERDICT_OK ? EXIT_VERDICT_OK
                                : v == CAPV_VERDICT_WARN ? EXIT_VERDICT_WARN : EXIT_VERDICT_FAIL;
}

int cmd_verify(int argc, char **argv)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_verifier *v = NULL;
    capv_verify_options *o = NULL;
    char *collected = NULL;
    size_t collected_len = 0;
    bool json = false, record = false;
    const char *report_path = NULL, *registry_path = NULL;
    capv_registry *reg = NULL; /* opened read-write for --record */
    int npkg = 0, rc = EXIT_VERDICT_OK;
    capv_status st;

    if ((st = capv_verifier_new(&v, &err)) != CAPV_OK ||
        (st = capv_verify_options_new(&o, &err)) != CAPV_OK) {
        rc = cli_report("verify", st, &err);
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                       \
    do {                                                                   \
        if (val == NULL) {                                                 \
            rc = cli_usage_error("verify", "%s needs a value", a);         \
            goto out;                                                      \
        }                                                                  \
        i++;                                                               \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            verify_usage(stdout);
            goto out;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--trust") == 0) {
            NEED_VALUE();
            st = capv_verifier_load_trust(v, val, &err);
        } else if (strcmp(a, "--policy-store") == 0) {
            NEED_VALUE();
            st = capv_verifier_load_policy_dir(v, val, &err);
        } else if (strcmp(a, "--policy-hash") == 0) {
            NEED_VALUE();
            st = capv_verifier_add_policy_hash(v, val, &err);
            if (st != CAPV_OK) {
                rc = cli_usage_error("verify", "--policy-hash '%s' is not a digest", val);
                goto out;
            }
        } else if (strcmp(a, "--registry") == 0) {
            NEED_VALUE();
            registry_path = val; /* loaded below, once --record is known */
        } else if (strcmp(a, "--record") == 0) {
            record = true;
        } else if (strcmp(a, "--tsa-ca") == 0) {
            NEED_VALUE();
            st = capv_verifier_load_tsa_roots(v, val, &err);
        } else if (strcmp(a, "--report") == 0) {
            NEED_VALUE();
            report_path = val;
        } else if (strcmp(a, "--strict") == 0) {
            st = capv_verify_options_set(o, CAPV_OPT_STRICT, 1, &err);
        } else if (strcmp(a, "--allow-untrusted") == 0) {
            st = capv_verify_options_set(o, CAPV_OPT_ALLOW_UNTRUSTED, 1, &err);
        } else if (strcmp(a, "--no-require-signature") == 0) {
            st = capv_verify_options_set(o, CAPV_OPT_REQUIRE_SIGNATURE, 0, &err);
        } else if (strcmp(a, "--require-timestamp") == 0) {
            st = capv_verify_options_set(o, CAPV_OPT_REQUIRE_TIMESTAMP, 1, &err);
        } else if (strcmp(a, "--check-registry") == 0) {
            st = capv_verify_options_set(o, CAPV_OPT_CHECK_REGISTRY, 1, &err);
        } else if (strcmp(a, "--mock-policy") == 0) {
            NEED_VALUE();
            capv_mock_policy p;
            if (strcmp(val, "warn") == 0)
                p = CAPV_MOCK_WARN;
            else if (strcmp(val, "fail") == 0)
                p = CAPV_MOCK_FAIL;
            else if (strcmp(val, "accept") == 0)
                p = CAPV_MOCK_ACCEPT;
            else {
                rc = cli_usage_error("verify", "--mock-policy must be warn, fail or accept");
                goto out;
            }
            st = capv_verify_options_set_mock_policy(o, p, &err);
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error("verify", "unknown option '%s'", a);
            goto out;
        } else {
            argv[++npkg] = argv[i]; /* packages are compacted to argv[1..npkg] */
            continue;
        }
#undef NEED_VALUE
        if (st != CAPV_OK) {
            rc = cli_report(a, st, &err);
            goto out;
        }
    }
    if (npkg == 0) {
        rc = cli_usage_error("verify", "no PACKAGE given");
        goto out;
    }
    if (record && registry_path == NULL) {
        rc = cli_usage_error("verify", "--record needs --registry DB");
        goto out;
    }
    if (registry_path != NULL && record) {
        FILE *rf = fopen(registry_path, "rb");
        int first = ' ';
        while (rf != NULL && (first = fgetc(rf)) != EOF &&
               (first == ' ' || first == '\t' || first == '\n' || first == '\r'))
            ;
        if (rf != NULL)
            fclose(rf);
        if (first == '{') {
            rc = cli_usage_error("verify", "--record needs a SQLite registry database, not a "
                                           "JSON registry");
            goto out;
        }
        capv_registry_options ro = CAPV_REGISTRY_OPTIONS_INIT;
        if ((st = capv_registry_open(&reg, registry_path, &ro, &err)) != CAPV_OK) {
            rc = cli_report(registry_path, st, &err);
            if (st == CAPV_E_STATE)
                rc = EXIT_UNAVAILABLE;
            goto out;
        }
        capv_verifier_set_registry(v, reg);
    } else if (registry_path != NULL &&
               (st = capv_verifier_load_registry(v, registry_path, &err)) != CAPV_OK) {
        rc = cli_report(registry_path, st, &err);
        if (st == CAPV_E_STATE)
            rc = EXIT_UNAVAILABLE;
        goto out;
    }

    colors c = { "", "", "", "", "" };
    const char *nc = getenv("NO_COLOR");
    if (!json && isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0'))
        c = (colors){ "\033[32m", "\033[33m", "\033[31m", "\033[2m", "\033[0m" };
    bool progress = npkg > 1 && isatty(STDERR_FILENO);
    bool many = npkg > 1;
    FILE *mem = (json || report_path) ? open_memstream(&collected, &collected_len) : NULL;
    if ((json || report_path) && mem == NULL) {
        rc = EXIT_INTERNAL;
        goto out;
    }
    if (mem && many)
        fputc('[', mem);
    for (int i = 1; i <= npkg; i++) {
        const char *path = argv[i];
        if (progress)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i, npkg, path);
        capv_report *r = NULL;
        capv_error verr = CAPV_ERROR_INIT;
        st = capv_verify_path(&r, v, path, o, &verr);
        int prc;
        if (st != CAPV_OK) {
            if (progress)
                fputc('\n', stderr);
            prc = cli_report(path, st, &verr);
            if (mem) {
                fprintf(mem, "%s{\"package\":", i > 1 ? "," : "");
                cli_print_json_string(mem, path);
                fprintf(mem, ",\"error\":{\"code\":\"%s\",\"message\":", capv_status_name(st));
                cli_print_json_string(mem, verr.message);
                fputs("}}", mem);
            }
        } else {
            prc = verdict_exit(capv_report_verdict(r));
            if (reg != NULL) {
                int64_t seq = 0;
                capv_error rerr = CAPV_ERROR_INIT;
                capv_status rst = capv_registry_record_report(&seq, reg, r, NULL, "cli", &rerr);
                if (rst != CAPV_OK)
                    prc = cli_report("recording the verification", rst, &rerr);
                else
                    fprintf(stderr, "capverify verify: %s: recorded as verification %lld in %s\n",
                            path, (long long)seq, registry_path);
            }
            if (!json)
                print_human(path, r, &c);
            if (mem) {
                char *text = NULL;
                if (capv_report_to_json(&text, NULL, r, CAPV_REPORT_JSON_PRETTY, &verr) !=
                    CAPV_OK) {
                    prc = EXIT_INTERNAL;
                } else if (many) {
                    fprintf(mem, "%s{\"package\":", i > 1 ? "," : "");
                    cli_print_json_string(mem, path);
                    fprintf(mem, ",\"report\":%s}", text);
                } else {
                    fputs(text, mem);
                }
                capv_free(text);
            }
            capv_report_free(r);
        }
        if (prc > rc)
            rc = prc;
    }
    if (progress)
        fputc('\n', stderr);
    if (mem) {
        if (many)
            fputc(']', mem);
        fputc('\n', mem);
        fclose(mem);
        if (json)
            fputs(collected, stdout);
        if (report_path != NULL) {
            int wrc = cli_write_file(report_path, collected, collected_len, "verify");
            if (wrc != 0 && rc < wrc)
                rc = wrc;
        }
    }
out:
    free(collected);
    capv_verify_options_free(o);
    capv_verifier_free(v);
    capv_registry_close(reg); /* after the verifier, which borrows it */
    return rc;
}
