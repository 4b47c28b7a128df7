/* SPDX-License-Identifier: Apache-2.0 */
/* capverify token verify TOKEN|- --jwks URL|FILE --issuer I --audience A — validates a bearer
 * token exactly as the daemon does (docs/auth.md) and prints its claims or the rejection
 * reason. */
#include "cmd_token.h"

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

/* Returned by the steps below when the command goes on; anything else is its exit code. */
#define GO_ON (-1)

/* The settings of one `capverify token verify`. */
typedef struct token_args {
    const char *tok_arg, *jwks_loc, *issuer, *algs, *ca;
    bool json, insecure, audience;
    /* -1 = the library's default */
    int64_t leeway, max_life, timeout, ttl, min_interval, stale;
    char scopes[2048]; /* the --scope values, space-separated */
} token_args;

enum {
    OPT_JWKS = 256,
    OPT_ISSUER,
    OPT_AUDIENCE,
    OPT_SCOPE,
    OPT_ALG,
    OPT_CA_FILE,
    OPT_LEEWAY,
    OPT_MAX_LIFETIME,
    OPT_FETCH_TIMEOUT,
    OPT_JWKS_TTL,
    OPT_REFRESH_MIN_INTERVAL,
    OPT_MAX_STALE,
    OPT_JSON,
    OPT_INSECURE
};

static const struct option longopts[] = {
    { "jwks", required_argument, NULL, OPT_JWKS },
    { "issuer", required_argument, NULL, OPT_ISSUER },
    { "audience", required_argument, NULL, OPT_AUDIENCE },
    { "scope", required_argument, NULL, OPT_SCOPE },
    { "alg", required_argument, NULL, OPT_ALG },
    { "ca-file", required_argument, NULL, OPT_CA_FILE },
    { "leeway", required_argument, NULL, OPT_LEEWAY },
    { "max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME },
    { "fetch-timeout", required_argument, NULL, OPT_FETCH_TIMEOUT },
    { "jwks-ttl", required_argument, NULL, OPT_JWKS_TTL },
    { "refresh-min-interval", required_argument, NULL, OPT_REFRESH_MIN_INTERVAL },
    { "max-stale", required_argument, NULL, OPT_MAX_STALE },
    { "json", no_argument, NULL, OPT_JSON },
    { "allow-insecure-http", no_argument, NULL, OPT_INSECURE },
    CLI_OPT_HELP,
    { 0 }
};

/* The options whose value is a number of seconds (or milliseconds). */
static int set_number(token_args *t, int opt, const char *val)
{
    int64_t n;
    if (!parse_seconds(val, &n))
        return cli_usage_error("token verify", "%s needs a non-negative integer", cli_opt_name());
    int64_t *slot[] = {
        &t->leeway, &t->max_life, &t->timeout, &t->ttl, &t->min_interval, &t->stale
    };
    *slot[opt - OPT_LEEWAY] = n;
    return GO_ON;
}

static int add_scope(token_args *t, const char *val)
{
    size_t used = strlen(t->scopes);
    if (used + strlen(val) + 2 > sizeof t->scopes)
        return cli_usage_error("token verify", "too many --scope values");
    snprintf(t->scopes + used, sizeof t->scopes - used, "%s%s", used ? " " : "", val);
    return GO_ON;
}

/* An option with its value; --audience goes to the validator at once. */
static int apply_value_option(token_args *t, capv_jwt_validator *v, int opt, const char *val)
{
    capv_error err = CAPV_ERROR_INIT;
    switch (opt) {
    case OPT_JWKS: t->jwks_loc = val; break;
    case OPT_ISSUER: t->issuer = val; break;
    case OPT_AUDIENCE:
        if (capv_jwt_validator_add_audience(v, val, &err) != CAPV_OK)
            return cli_usage_error("token verify", "--audience: %s", err.message);
        t->audience = true;
        break;
    case OPT_SCOPE: return add_scope(t, val);
    case OPT_ALG: t->algs = val; break;
    case OPT_CA_FILE: t->ca = val; break;
    default: return set_number(t, opt, val);
    }
    return GO_ON;
}

/* The options in order, and the one TOKEN. GO_ON, or an exit code (reported). */
static int parse_args(token_args *t, capv_jwt_validator *v, int argc, char **argv)
{
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("token verify", argc, argv, "h", longopts)) != -1) {
        int rc = GO_ON;
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        if (c == 'h') {
            token_usage(stdout);
            return EXIT_VERDICT_OK;
        }
        if (c == OPT_JSON)
            t->json = true;
        else if (c == OPT_INSECURE)
            t->insecure = true;
        else
            rc = apply_value_option(t, v, c, optarg);
        if (rc != GO_ON)
            return rc;
    }
    if (argc - optind > 1)
        return cli_usage_error("token verify", "only one TOKEN may be given");
    t->tok_arg = optind < argc ? argv[optind] : NULL;
    if (t->tok_arg == NULL || t->jwks_loc == NULL || t->issuer == NULL || !t->audience)
        return cli_usage_error("token verify",
                               "TOKEN, --jwks, --issuer and --audience are required");
    return GO_ON;
}

/* Issuer, algorithms and time limits of the validator. */
static int configure_validator(const token_args *t, capv_jwt_validator *v)
{
    capv_error err = CAPV_ERROR_INIT;
    if (capv_jwt_validator_set_issuer(v, t->issuer, &err) != CAPV_OK)
        return cli_usage_error("token verify", "--issuer: %s", err.message);
    if (t->algs != NULL && capv_jwt_validator_set_algs(v, t->algs, &err) != CAPV_OK)
        return cli_usage_error("token verify", "--alg: %s", err.message);
    if ((t->leeway >= 0 && capv_jwt_validator_set_leeway(v, t->leeway, NULL) != CAPV_OK) ||
        (t->max_life >= 0 && capv_jwt_validator_set_max_lifetime(v, t->max_life, NULL) != CAPV_OK))
        return cli_usage_error("token verify", "--leeway or --max-lifetime out of range");
    return GO_ON;
}

/* The key-set source with its fetch settings. */
static int make_jwks(const token_args *t, capv_jwks **jwks)
{
    capv_error err = CAPV_ERROR_INIT;
    capv_status st;
    if (capv_jwks_new(jwks, t->jwks_loc, &err) != CAPV_OK)
        return cli_usage_error("token verify", "--jwks: %s", err.message);
    capv_jwks_set_allow_insecure_http(*jwks, t->insecure);
    if (t->timeout >= 0 && capv_jwks_set_fetch_timeout_ms(*jwks, t->timeout, NULL) != CAPV_OK)
        return cli_usage_error("token verify", "--fetch-timeout must be 1..60000");
    if ((t->ttl >= 0 && capv_jwks_set_ttl(*jwks, t->ttl, NULL) != CAPV_OK) ||
        (t->min_interval >= 0 &&
         capv_jwks_set_refresh_min_interval(*jwks, t->min_interval, NULL) != CAPV_OK) ||
        (t->stale >= 0 && capv_jwks_set_max_stale(*jwks, t->stale, NULL) != CAPV_OK))
        return cli_usage_error("token verify",
                               "--jwks-ttl, --refresh-min-interval or --max-stale out of range");
    if (t->ca != NULL && (st = capv_jwks_set_ca_file(*jwks, t->ca, &err)) != CAPV_OK)
        return cli_report("--ca-file", st, &err);
    return GO_ON;
}

/* TOKEN '-': one token per line of standard input, each validated as it arrives. */
static int verify_stdin(capv_jwt_validator *v, const token_args *t)
{
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
        int one = verify_one(v, (const uint8_t *)line + s, e - s, t->scopes, t->json);
        if (one == EXIT_UNAVAILABLE)
            any_unavailable = true;
        else if (one != EXIT_VERDICT_OK)
            any_rejected = true;
        fflush(stdout);
    }
    free(line);
    if (!any)
        return cli_usage_error("token verify", "no token on standard input");
    return any_unavailable ? EXIT_UNAVAILABLE : any_rejected ? EXIT_VERDICT_FAIL : EXIT_VERDICT_OK;
}

static int token_verify(int argc, char **argv)
{
    token_args t = {
        .leeway = -1, .max_life = -1, .timeout = -1, .ttl = -1, .min_interval = -1, .stale = -1
    };
    capv_error err = CAPV_ERROR_INIT;
    capv_jwks *jwks = NULL;
    capv_jwt_validator *v = NULL;
    capv_status st;

    if ((st = capv_jwt_validator_new(&v, &err)) != CAPV_OK)
        return cli_report("token verify", st, &err);
    int rc = parse_args(&t, v, argc, argv);
    if (rc == GO_ON)
        rc = configure_validator(&t, v);
    if (rc == GO_ON)
        rc = make_jwks(&t, &jwks);
    if (rc == GO_ON) {
        capv_jwt_validator_set_jwks(v, jwks);
        rc = strcmp(t.tok_arg, "-") == 0
                 ? verify_stdin(v, &t)
                 : verify_one(v, (const uint8_t *)t.tok_arg, strlen(t.tok_arg), t.scopes, t.json);
    }
    capv_jwt_validator_free(v);
    capv_jwks_free(jwks);
    return rc;
}

int cmd_token(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "verify", token_verify },
    };
    return cli_run_subcommand("token", argc, argv, subs, sizeof subs / sizeof subs[0], token_usage);
}
