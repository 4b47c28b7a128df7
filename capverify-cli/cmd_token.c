/* capverify token verify TOKEN|- --jwks URL|FILE --issuer I --audience A — validates a bearer
 * token exactly as the daemon does (SPEC §6) and prints its claims or the rejection reason. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void token_usage(FILE *f)
{
    fprintf(f,
            "usage: capverify token verify (TOKEN | -) --jwks (URL | FILE) --issuer ISSUER\n"
            "                              --audience AUD [options]\n\n"
            "Validates a JWS compact JWT against a JWKS and prints its claims, or the reason it\n"
            "is rejected. Exit code: 0 valid, 2 rejected, 3 usage, 5 key set unavailable.\n\n"
            "options:\n"
            "  --jwks LOCATION         https:// URL, http:// loopback URL (with\n"
            "                          --allow-insecure-http), file:///path or a path\n"
            "  --issuer ISSUER         the exact expected iss\n"
            "  --audience AUD          an accepted aud (repeatable)\n"
            "  --scope SCOPE           a required scope (repeatable, or space-separated)\n"
            "  --alg LIST              allowed algorithms (default RS256,PS256,ES256,EdDSA)\n"
            "  --leeway SECONDS        clock skew allowance for exp/nbf/iat (default 60)\n"
            "  --max-lifetime SECONDS  reject tokens living longer (default: no limit)\n"
            "  --ca-file PEM           CA certificates for the JWKS endpoint's TLS\n"
            "  --allow-insecure-http   allow an http:// JWKS URL on a loopback host (tests)\n"
            "  --fetch-timeout MS      JWKS fetch timeout (default 2000)\n"
            "  --jwks-ttl SECONDS      key-set cache TTL without Cache-Control (default 600)\n"
            "  --refresh-min-interval SECONDS\n"
            "                          least time between two JWKS fetches (default 30)\n"
            "  --max-stale SECONDS     serve a stale key set this long (default 3600)\n"
            "  --json                  print the result as JSON\n\n"
            "With TOKEN '-', tokens are read from standard input, one per line, and one result\n"
            "line is printed per token as it arrives (one key-set cache for all of them). The\n"
            "exit code is then 5 if any was unavailable, else 2 if any was rejected, else 0.\n");
}

static bool parse_seconds(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        return false;
    *out = v;
    return true;
}

static void print_time(const char *label, int64_t s)
{
    char t[CAPV_RFC3339_SIZE];
    capv_rfc3339_format(t, s * 1000);
    printf("  %-10s %s (%lld)\n", label, t, (long long)s);
}

static void print_claims(const capv_jwt_claims *c, bool json)
{
    const char *sub = capv_jwt_claims_subject(c), *cid = capv_jwt_claims_client_id(c);
    const char *kid = capv_jwt_claims_kid(c);
    if (json) {
        printf("{\"valid\":true,\"subject\":");
        sub ? cli_print_json_string(stdout, sub) : (void)fputs("null", stdout);
        printf(",\"client_id\":");
        cid ? cli_print_json_string(stdout, cid) : (void)fputs("null", stdout);
        printf(",\"issuer\":");
        cli_print_json_string(stdout, capv_jwt_claims_issuer(c));
        printf(",\"audience\":");
        cli_print_json_string(stdout, capv_jwt_claims_audience(c));
        printf(",\"scopes\":[");
        for (size_t i = 0; i < capv_jwt_claims_scope_count(c); i++) {
            if (i)
                putchar(',');
            cli_print_json_string(stdout, capv_jwt_claims_scope(c, i));
        }
        printf("],\"expires\":%lld", (long long)capv_jwt_claims_expires(c));
        if (capv_jwt_claims_issued_at(c) != INT64_MIN)
            printf(",\"issued_at\":%lld", (long long)capv_jwt_claims_issued_at(c));
        printf(",\"alg\":\"%s\",\"kid\":", capv_jwt_alg_name(capv_jwt_claims_alg(c)));
        kid ? cli_print_json_string(stdout, kid) : (void)fputs("null", stdout);
        printf("}\n");
        return;
    }
    printf("valid\n");
    if (sub)
        printf("  %-10s %s\n", "subject", sub);
    if (cid)
        printf("  %-10s %s\n", "client_id", cid);
    printf("  %-10s %s\n", "issuer", capv_jwt_claims_issuer(c));
    printf("  %-10s %s\n", "audience", capv_jwt_claims_audience(c));
    printf("  %-10s", "scopes");
    for (size_t i = 0; i < capv_jwt_claims_scope_count(c); i++)
        printf(" %s", capv_jwt_claims_scope(c, i));
    printf("\n");
    print_time("expires", capv_jwt_claims_expires(c));
    if (capv_jwt_claims_issued_at(c) != INT64_MIN)
        print_time("issued", capv_jwt_claims_issued_at(c));
    printf("  %-10s %s\n", "alg", capv_jwt_alg_name(capv_jwt_claims_alg(c)));
    if (kid)
        printf("  %-10s %s\n", "kid", kid);
}

static void print_failure(capv_status st, const char *reason, const capv_error *err, bool json)
{
    const char *msg = err->message[0] ? err->message : capv_strerror(st);
    if (json) {
        printf("{\"valid\":false,\"class\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\","
               "\"message\":",
               capv_status_class_name(capv_status_class_of(st)), capv_status_name(st), reason);
        cli_print_json_string(stdout, msg);
        printf("}\n");
        return;
    }
    printf("%s: %s: %s\n",
           capv_status_class_of(st) == CAPV_CLASS_REJECTED ? "rejected" : "unavailable", reason,
           msg);
}

/* Validates one token and prints the claims or the failure; returns the exit code. */
static int verify_one(capv_jwt_validator *v, const uint8_t *tok, size_t tok_len, const char *scopes,
                      bool json)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_jwt_claims *claims = NULL;
    const char *reason = NULL;
    int rc;
    capv_status st = capv_jwt_validate(&claims, &reason, v, tok, tok_len, &err);
    if (st == CAPV_OK && scopes[0] != '\0') {
        st = capv_jwt_claims_require_scopes(claims, scopes, &err);
        if (st != CAPV_OK)
            reason = capv_jwt_reason_of(st);
    }
    if (st == CAPV_OK) {
        print_claims(claims, json);
        rc = EXIT_VERDICT_OK;
    } else if (capv_status_class_of(st) == CAPV_CLASS_REJECTED ||
               capv_status_class_of(st) == CAPV_CLASS_UNAVAILABLE) {
        print_failure(st, reason, &err, json);
        rc = cli_exit_for_status(st);
    } else {
        rc = cli_report("token verify", st, &err);
    }
    capv_jwt_claims_free(claims);
    return rc;
}

static int token_verify(int argc, char **argv)
{
    const char *tok_arg = NULL, *jwks_loc = NULL, *issuer = NULL, *algs = NULL, *ca = NULL;
    bool json = false, insecure = false;
    int64_t leeway = -1, max_life = -1, timeout = -1, ttl = -1, min_interval = -1, stale = -1;
    char scopes[2048] = "";
    capv_error err = CAPV_ERROR_INIT;
    capv_jwks *jwks = NULL;
    capv_jwt_validator *v = NULL;
    int rc = EXIT_VERDICT_OK;
    capv_status st;

    if ((st = capv_jwt_validator_new(&v, &err)) != CAPV_OK)
        return cli_report("token verify", st, &err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--jwks") == 0 || strcmp(a, "--issuer") == 0 ||
                     strcmp(a, "--audience") == 0 || strcmp(a, "--scope") == 0 ||
                     strcmp(a, "--alg") == 0 || strcmp(a, "--leeway") == 0 ||
                     strcmp(a, "--max-lifetime") == 0 || strcmp(a, "--ca-file") == 0 ||
                     strcmp(a, "--fetch-timeout") == 0 || strcmp(a, "--jwks-ttl") == 0 ||
                     strcmp(a, "--refresh-min-interval") == 0 || strcmp(a, "--max-stale") == 0;
        if (takes && val == NULL) {
            rc = cli_usage_error("token verify", "%s needs a value", a);
            goto out;
        }
        if (takes)
            i++;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            token_usage(stdout);
            goto out;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--allow-insecure-http") == 0) {
            insecure = true;
        } else if (strcmp(a, "--jwks") == 0) {
            jwks_loc = val;
        } else if (strcmp(a, "--issuer") == 0) {
            issuer = val;
        } else if (strcmp(a, "--audience") == 0) {
            if ((st = capv_jwt_validator_add_audience(v, val, &err)) != CAPV_OK) {
                rc = cli_usage_error("token verify", "--audience: %s", err.message);
                goto out;
            }
        } else if (strcmp(a, "--scope") == 0) {
            size_t used = strlen(scopes);
            if (used + strlen(val) + 2 > sizeof scopes) {
                rc = cli_usage_error("token verify", "too many --scope values");
                goto out;
            }
            snprintf(scopes + used, sizeof scopes - used, "%s%s", used ? " " : "", val);
        } else if (strcmp(a, "--alg") == 0) {
            algs = val;
        } else if (strcmp(a, "--ca-file") == 0) {
            ca = val;
        } else if (takes) { /* the numeric options */
            int64_t n;
            if (!parse_seconds(val, &n)) {
                rc = cli_usage_error("token verify", "%s needs a non-negative integer", a);
                goto out;
            }
            if (strcmp(a, "--leeway") == 0)
                leeway = n;
            else if (strcmp(a, "--max-lifetime") == 0)
                max_life = n;
            else if (strcmp(a, "--fetch-timeout") == 0)
                timeout = n;
            else if (strcmp(a, "--jwks-ttl") == 0)
                ttl = n;
            else if (strcmp(a, "--refresh-min-interval") == 0)
                min_interval = n;
            else
                stale = n;
        } else if (a[0] == '-' && a[1] != '\0') {
            rc = cli_usage_error("token verify", "unknown option '%s'", a);
            goto out;
        } else if (tok_arg == NULL) {
            tok_arg = a;
        } else {
            rc = cli_usage_error("token verify", "only one TOKEN may be given");
            goto out;
        }
    }
    if (tok_arg == NULL || jwks_loc == NULL || issuer == NULL) {
        rc = cli_usage_error("token verify", "TOKEN, --jwks and --issuer are required");
        goto out;
    }
    if ((st = capv_jwt_validator_set_issuer(v, issuer, &err)) != CAPV_OK) {
        rc = cli_usage_error("token verify", "--issuer: %s", err.message);
        goto out;
    }
    if (algs != NULL && (st = capv_jwt_validator_set_algs(v, algs, &err)) != CAPV_OK) {
        rc = cli_usage_error("token verify", "--alg: %s", err.message);
        goto out;
    }
    if ((leeway >= 0 && capv_jwt_validator_set_leeway(v, leeway) != CAPV_OK) ||
        (max_life >= 0 && capv_jwt_validator_set_max_lifetime(v, max_life) != CAPV_OK)) {
        rc = cli_usage_error("token verify", "--leeway or --max-lifetime out of range");
        goto out;
    }
    if ((st = capv_jwks_new(&jwks, jwks_loc, &err)) != CAPV_OK) {
        rc = cli_usage_error("token verify", "--jwks: %s", err.message);
        goto out;
    }
    capv_jwks_set_allow_insecure_http(jwks, insecure);
    if (timeout >= 0 && capv_jwks_set_fetch_timeout_ms(jwks, timeout) != CAPV_OK) {
        rc = cli_usage_error("token verify", "--fetch-timeout must be 1..60000");
        goto out;
    }
    if ((ttl >= 0 && capv_jwks_set_ttl(jwks, ttl) != CAPV_OK) ||
        (min_interval >= 0 && capv_jwks_set_refresh_min_interval(jwks, min_interval) != CAPV_OK) ||
        (stale >= 0 && capv_jwks_set_max_stale(jwks, stale) != CAPV_OK)) {
        rc = cli_usage_error("token verify",
                             "--jwks-ttl, --refresh-min-interval or --max-stale out of range");
        goto out;
    }
    if (ca != NULL && (st = capv_jwks_set_ca_file(jwks, ca, &err)) != CAPV_OK) {
        rc = cli_report("--ca-file", st, &err);
        goto out;
    }
    capv_jwt_validator_set_jwks(v, jwks);

    if (strcmp(tok_arg, "-") == 0) {
        /* one token per line, validated as it arrives */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool any_rejected = false, any_unavailable = false, any = false;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            size_t s = 0, e = (size_t)n;
            while (s < e && (line[s] == ' ' || line[s] == '\t'))
                s++;
            while (e > s && (line[e - 1] == '\n' || line[e - 1] == '\r' || line[e - 1] == ' ' ||
                             line[e - 1] == '\t'))
                e--;
            if (e == s)
                continue;
            any = true;
            int one = verify_one(v, (const uint8_t *)line + s, e - s, scopes, json);
            if (one == EXIT_UNAVAILABLE)
                any_unavailable = true;
            else if (one != EXIT_VERDICT_OK)
                any_rejected = true;
            fflush(stdout);
        }
        free(line);
        if (!any) {
            rc = cli_usage_error("token verify", "no token on standard input");
            goto out;
        }
        rc = any_unavailable ? EXIT_UNAVAILABLE
             : any_rejected  ? EXIT_VERDICT_FAIL
                             : EXIT_VERDICT_OK;
    } else {
        rc = verify_one(v, (const uint8_t *)tok_arg, strlen(tok_arg), scopes, json);
    }
out:
    capv_jwt_validator_free(v);
    capv_jwks_free(jwks);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        token_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_VERDICT_OK;
    }
    if (strcmp(argv[1], "verify") == 0)
        return token_verify(argc - 1, argv + 1);
    return cli_usage_error("token", "unknown subcommand '%s'", argv[1]);
}
