/* SPDX-License-Identifier: Apache-2.0 */
/* capverify keys gen|show|kid — Ed25519 keys for signing manifests and for trust stores. */
#include "cmd_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "input.h"

static void keys_usage(FILE *f)
{
    fprintf(f,
            "usage: capverify keys gen --out PREFIX [--owner NAME] [--valid-from RFC3339]\n"
            "                          [--valid-days N]\n"
            "       capverify keys show PATH [--json]\n"
            "       capverify keys kid (0xHEX | FILE)\n\n"
            "gen   writes PREFIX.key (PEM PKCS#8 private key, mode 0600, never overwritten),\n"
            "      PREFIX.pub (0x + hex public key) and PREFIX.json (cap-key.v1) for trust stores\n"
            "show  lists the keys of a trust store directory, key file or key-list file\n"
            "kid   prints the key id: hex of the first 16 bytes of BLAKE3(public key)\n");
}

static int keys_gen(int argc, char **argv)
{
    const char *prefix = NULL, *owner = "";
    long days = 0;
    int64_t from = capv_clock_system(NULL) / 1000 * 1000; /* by default, this second */
    static const struct option longopts[] = { { "out", required_argument, NULL, 'o' },
                                              { "owner", required_argument, NULL, 'n' },
                                              { "valid-from", required_argument, NULL, 'f' },
                                              { "valid-days", required_argument, NULL, 'd' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    int c;
    char *end;
    cli_opt_begin();
    while ((c = cli_next_opt("keys gen", argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': keys_usage(stdout); return EXIT_VERDICT_OK;
        case 'o': prefix = optarg; break;
        case 'n': owner = optarg; break;
        case 'f':
            if (capv_rfc3339_parse(&from, optarg, strlen(optarg), NULL) != CAPV_OK)
                return cli_usage_error("keys gen", "--valid-from '%s' is not an RFC 3339 time",
                                       optarg);
            break;
        case 'd':
            days = strtol(optarg, &end, 10);
            if (*end != '\0' || days <= 0 || days > 36500)
                return cli_usage_error("keys gen", "--valid-days must be 1..36500");
            break;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("keys gen", "unexpected argument '%s'", argv[optind]);
    if (prefix == NULL)
        return cli_usage_error("keys gen", "--out PREFIX is required");
    /* none of the three is written over: a trust store's public key replaced by a new one
     * would trust another signer */
    static const char *const exts[] = { ".key", ".pub", ".json" };
    char path[4096];
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        struct stat sb;
        snprintf(path, sizeof path, "%s%s", prefix, exts[i]);
        if (lstat(path, &sb) == 0)
            return cli_usage_error("keys gen", "'%s' exists: keys gen writes over no file", path);
    }
    capv_error err = CAPV_ERROR_INIT;
    capv_signing_key *key = NULL;
    char *json = NULL;
    int rc = 0;
    size_t written = 0; /* of exts, in order */
    capv_status st = capv_signing_key_generate(&key, &err);
    if (st != CAPV_OK)
        return cli_report("keys gen", st, &err);
    int64_t now = capv_clock_system(NULL);
    int64_t to = days > 0 ? from + days * 86400000LL : INT64_MAX;
    snprintf(path, sizeof path, "%s.key", prefix);
    if ((st = capv_signing_key_save(key, path, &err)) != CAPV_OK) {
        rc = cli_report(path, st, &err);
        goto out;
    }
    written = 1;
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
    capv_signing_key_public(pub, key);
    char hex[2 + 64 + 2] = "0x";
    if ((st = capv_hex_encode(hex + 2, sizeof hex - 2, pub, sizeof pub, &err)) != CAPV_OK) {
        rc = cli_report("keys gen", st, &err);
        goto out;
    }
    size_t hex_len = strlen(hex);
    hex[hex_len] = '\n'; /* room for it: sized for "0x", 64 digits, "\n" and NUL */
    hex[hex_len + 1] = '\0';
    snprintf(path, sizeof path, "%s.pub", prefix);
    if ((rc = cli_write_file(path, hex, strlen(hex), "keys gen")) != 0)
        goto out;
    written = 2;
    if ((st = capv_signing_key_cap_key_json(&json, key, owner, now, from, to, &err)) != CAPV_OK) {
        rc = cli_report("keys gen", st, &err);
        goto out;
    }
    snprintf(path, sizeof path, "%s.json", prefix);
    if ((rc = cli_write_file(path, json, strlen(json), "keys gen")) != 0)
        goto out;
    written = 3;
    char kid[CAPV_KID_SIZE];
    if ((st = capv_key_id(kid, pub, &err)) != CAPV_OK) {
        rc = cli_report("keys gen", st, &err);
        goto out;
    }
    printf("kid %s\nprivate key %s.key (keep secret)\npublic key  %s.pub, %s.json\n", kid, prefix,
           prefix, prefix);
out:
    /* a failure leaves no part of the set behind (a rerun would find it) */
    for (size_t i = 0; rc != 0 && i < written; i++) {
        snprintf(path, sizeof path, "%s%s", prefix, exts[i]);
        unlink(path);
    }
    capv_free(json);
    capv_signing_key_free(key);
    return rc;
}

static void print_time(const char *label, int64_t ms)
{
    char t[CAPV_RFC3339_SIZE] = "-";
    if (ms != INT64_MIN && ms != INT64_MAX)
        capv_rfc3339_format(t, ms);
    printf("  %-10s %s\n", label, t);
}

static int keys_show(int argc, char **argv)
{
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    bool json = false;
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("keys show", argc, argv, "h", longopts)) != -1) {
        if (c == 'h') {
            keys_usage(stdout);
            return EXIT_VERDICT_OK;
        }
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        json = true;
    }
    if (argc - optind > 1)
        return cli_usage_error("keys show", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = optind < argc ? argv[optind] : NULL;
    if (path == NULL)
        return cli_usage_error("keys show", "PATH is required");
    capv_error err = CAPV_ERROR_INIT;
    capv_trust_store *ts = NULL;
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".key") == 0) {
        /* a private key: show its public half */
        capv_signing_key *key = NULL;
        capv_status st = capv_signing_key_load(&key, path, &err);
        if (st != CAPV_OK)
            return cli_report(path, st, &err);
        uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
        capv_signing_key_public(pub, key);
        capv_signing_key_free(key);
        if ((st = capv_trust_store_new(&ts, &err)) != CAPV_OK ||
            (st = capv_trust_store_add(ts, pub, "", &err)) != CAPV_OK) {
            capv_trust_store_free(ts);
            return cli_report(path, st, &err);
        }
    } else {
        capv_status st = capv_trust_store_load(&ts, path, &err);
        if (st != CAPV_OK)
            return cli_report(path, st, &err);
    }
    if (json)
        printf("[");
    for (size_t i = 0; i < capv_trust_store_count(ts); i++) {
        const capv_key *k = capv_trust_store_key(ts, i);
        char hex[65];
        if (capv_hex_encode(hex, sizeof hex, capv_key_public(k), CAPV_ED25519_PUBLIC_LEN, NULL) !=
            CAPV_OK)
            hex[0] = '\0';
        const char *declared = capv_key_declared_kid(k);
        bool lies = declared != NULL && strcmp(declared, capv_key_kid(k)) != 0;
        if (json) {
            printf("%s{\"kid\":\"%s\",\"public_key\":\"0x%s\",\"status\":\"%s\",\"owner\":",
                   i ? "," : "", capv_key_kid(k), hex, capv_key_status_name(capv_key_status_of(k)));
            cli_print_json_string(stdout, capv_key_owner(k));
            printf(",\"source\":");
            cli_print_json_string(stdout, capv_key_source(k));
            printf(",\"declared_kid_matches\":%s}", lies ? "false" : "true");
            continue;
        }
        printf("kid %s\n  public    0x%s\n  status    %s\n", capv_key_kid(k), hex,
               capv_key_status_name(capv_key_status_of(k)));
        if (*capv_key_owner(k))
            printf("  owner     %s\n", capv_key_owner(k));
        print_time("valid_from", capv_key_valid_from(k));
        print_time("valid_to", capv_key_valid_to(k));
        if (*capv_key_source(k))
            printf("  source    %s\n", capv_key_source(k));
        if (lies)
            printf("  WARNING   the file declares kid %s, which is not this key's kid\n", declared);
    }
    if (json)
        printf("]\n");
    capv_trust_store_free(ts);
    return 0;
}

static int keys_kid(int argc, char **argv)
{
    static const struct option longopts[] = { CLI_OPT_HELP, { 0 } };
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("keys kid", argc, argv, "h", longopts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        keys_usage(stdout);
        return EXIT_VERDICT_OK;
    }
    if (argc - optind != 1)
        return cli_usage_error("keys kid", "expects one 0xHEX public key or key FILE");
    const char *arg = argv[optind];
    uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
    capv_error err = CAPV_ERROR_INIT;
    if (strncmp(arg, "0x", 2) == 0) {
        if (capv_hex_decode(pub, sizeof pub, arg, strlen(arg), &err) != CAPV_OK)
            return cli_usage_error("keys kid", "'%s' is not 0x + 64 hex digits", arg);
    } else {
        capv_trust_store *ts = NULL;
        capv_status st = capv_trust_store_load(&ts, arg, &err);
        if (st != CAPV_OK)
            return cli_report(arg, st, &err);
        size_t n = capv_trust_store_count(ts);
        if (n != 1) {
            capv_trust_store_free(ts);
            if (n == 0) {
                fprintf(stderr, "capverify keys kid: '%s' holds no key\n", arg);
                return EXIT_MALFORMED;
            }
            return cli_usage_error("keys kid", "'%s' holds more than one key", arg);
        }
        memcpy(pub, capv_key_public(capv_trust_store_key(ts, 0)), sizeof pub);
        capv_trust_store_free(ts);
    }
    char kid[CAPV_KID_SIZE];
    capv_status st = capv_key_id(kid, pub, &err);
    if (st != CAPV_OK)
        return cli_report("keys kid", st, &err);
    printf("%s\n", kid);
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    static const cli_subcommand subs[] = {
        { "gen", keys_gen },
        { "show", keys_show },
        { "kid", keys_kid },
    };
    return cli_run_subcommand("keys", argc, argv, subs, sizeof subs / sizeof subs[0], keys_usage);
}
