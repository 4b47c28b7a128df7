/* SPDX-License-Identifier: Apache-2.0 */
/* capverify jwks fetch URL|FILE — fetches a key set with the library's fetcher and limits and
 * shows which keys it accepts and why it ignores the others (docs/auth.md, "CLI"). */
#include "cmd_jwks.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void jwks_usage(FILE *f)
{
    fprintf(f, "usage: capverify jwks fetch (URL | FILE) [options]\n\n"
               "Fetches a JWKS (https:// URL, http:// loopback URL with --allow-insecure-http,\n"
               "file:///path or a path) and lists the keys it would use and the keys it ignores,\n"
               "with the reason. Exit code: 0 at least one usable key, 4 malformed or no usable\n"
               "key, 5 unreachable.\n\n"
               "options:\n"
               "  --ca-file PEM           CA certificates for the endpoint's TLS\n"
               "  --allow-insecure-http   allow an http:// URL on a loopback host (tests)\n"
               "  --fetch-timeout MS      fetch timeout (default 2000)\n"
               "  --json                  print the result as JSON\n");
}

static void key_algs(char *out, size_t cap, const capv_jwk *k)
{
    out[0] = '\0';
    for (int a = CAPV_JWT_ALG_RS256; a <= CAPV_JWT_ALG_EDDSA; a++) {
        if (!capv_jwk_allows(k, (capv_jwt_alg)a))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? "," : "",
                 capv_jwt_alg_name((capv_jwt_alg)a));
    }
}

static void print_set(const char *source, const capv_jwk_set *set, bool json)
{
    char algs[64];
    if (json) {
        printf("{\"source\":");
        cli_print_json_string(stdout, source);
        printf(",\"accepted\":[");
        for (size_t i = 0; i < capv_jwk_set_count(set); i++) {
            const capv_jwk *k = capv_jwk_set_key(set, i);
            key_algs(algs, sizeof algs, k);
            printf("%s{\"kid\":", i ? "," : "");
            cli_print_json_string(stdout, capv_jwk_kid(k));
            printf(",\"kty\":\"%s\",\"curve\":\"%s\",\"bits\":%u,\"algs\":\"%s\"}", capv_jwk_kty(k),
                   capv_jwk_curve(k), capv_jwk_bits(k), algs);
        }
        printf("],\"ignored\":[");
        for (size_t i = 0; i < capv_jwk_set_ignored_count(set); i++) {
            size_t index = 0;
            const char *kid = "", *reason = "";
            if (capv_jwk_set_ignored(&index, &kid, &reason, set, i, NULL) != CAPV_OK)
                continue;
            printf("%s{\"index\":%zu,\"kid\":", i ? "," : "", index);
            cli_print_json_string(stdout, kid);
            printf(",\"reason\":");
            cli_print_json_string(stdout, reason);
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("source: %s\n", source);
    printf("accepted %zu key%s\n", capv_jwk_set_count(set),
           capv_jwk_set_count(set) == 1 ? "" : "s");
    for (size_t i = 0; i < capv_jwk_set_count(set); i++) {
        const capv_jwk *k = capv_jwk_set_key(set, i);
        key_algs(algs, sizeof algs, k);
        printf("  kid=%s kty=%s%s%s bits=%u algs=%s\n",
               capv_jwk_kid(k)[0] ? capv_jwk_kid(k) : "(none)", capv_jwk_kty(k),
               capv_jwk_curve(k)[0] ? " crv=" : "", capv_jwk_curve(k), capv_jwk_bits(k), algs);
    }
    printf("ignored %zu key%s\n", capv_jwk_set_ignored_count(set),
           capv_jwk_set_ignored_count(set) == 1 ? "" : "s");
    for (size_t i = 0; i < capv_jwk_set_ignored_count(set); i++) {
        size_t index = 0;
        const char *kid = "", *reason = "";
        if (capv_jwk_set_ignored(&index, &kid, &reason, set, i, NULL) != CAPV_OK)
            continue;
        printf("  #%zu kid=%s: %s\n", index, kid[0] ? kid : "(none)", reason);
    }
}

static int jwks_fetch(int argc, char **argv)
{
    const char *source = NULL, *ca = NULL;
    bool json = false, insecure = false;
    long timeout = -1;
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              { "allow-insecure-http", no_argument, NULL, 'i' },
                                              { "ca-file", required_argument, NULL, 'c' },
                                              { "fetch-timeout", required_argument, NULL, 't' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    int c;
    char *end;
    cli_opt_begin();
    while ((c = cli_next_opt("jwks fetch", argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': jwks_usage(stdout); return EXIT_VERDICT_OK;
        case 'j': json = true; break;
        case 'i': insecure = true; break;
        case 'c': ca = optarg; break;
        case 't':
            timeout = strtol(optarg, &end, 10);
            if (*end != '\0' || timeout < 1 || timeout > 60000)
                return cli_usage_error("jwks fetch", "--fetch-timeout must be 1..60000");
            break;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("jwks fetch", "only one URL or FILE may be given");
    source = optind < argc ? argv[optind] : NULL;
    if (source == NULL)
        return cli_usage_error("jwks fetch", "URL or FILE is required");

    capv_error err = CAPV_ERROR_INIT;
    capv_jwks *jwks = NULL;
    capv_jwk_set *set = NULL;
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = EXIT_VERDICT_OK;
    capv_status st = capv_jwks_new(&jwks, source, &err);
    if (st != CAPV_OK) {
        rc = cli_usage_error("jwks fetch", "%s", err.message);
        goto out;
    }
    capv_jwks_set_allow_insecure_http(jwks, insecure);
    if (timeout > 0 && (st = capv_jwks_set_fetch_timeout_ms(jwks, timeout, &err)) != CAPV_OK) {
        rc = cli_usage_error("jwks fetch", "%s", err.message);
        goto out;
    }
    if (ca != NULL && (st = capv_jwks_set_ca_file(jwks, ca, &err)) != CAPV_OK) {
        rc = cli_report("--ca-file", st, &err);
        goto out;
    }
    if ((st = capv_jwks_fetch(&body, &len, jwks, &err)) != CAPV_OK) {
        rc = cli_report(source, st, &err);
        goto out;
    }
    if ((st = capv_jwk_set_parse(&set, body, len, &err)) != CAPV_OK) {
        rc = cli_report(source, st, &err);
        goto out;
    }
    print_set(source, set, json);
    if (capv_jwk_set_count(set) == 0) {
        fprintf(stderr, "capverify jwks fetch: %s: no usable key\n", source);
        rc = EXIT_MALFORMED;
    }
out:
    capv_free(body);
    capv_jwk_set_free(set);
    capv_jwks_free(jwks);
    return rc;
}

int cmd_jwks(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "fetch", jwks_fetch },
    };
    return cli_run_subcommand("jwks", argc, argv, subs, sizeof subs / sizeof subs[0], jwks_usage);
}
