/* SPDX-License-Identifier: Apache-2.0 */
/* capverify hash --alg sha3-256|sha256|blake3 FILE... ("-" = standard input). */
#include "cmd_hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void hash_usage(FILE *f)
{
    fprintf(f, "usage: capverify hash [--alg sha3-256|sha256|blake3] [--json] FILE...\n\n"
               "Prints the digest of each FILE as 0x-prefixed lower-case hex.\n"
               "'-' reads standard input. The default algorithm is sha3-256, the one CAP\n"
               "uses for manifest and proof hashes.\n");
}

/* Streams a file through the hash context. Returns 0 or an exit code, reporting on stderr. */
static int hash_file(uint8_t digest[CAPV_DIGEST_LEN], capv_hash_ctx *ctx, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "capverify hash: %s: %s\n", path, strerror(errno));
        return EXIT_UNAVAILABLE;
    }
    static uint8_t chunk[1 << 16];
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = CAPV_OK;
    size_t n;
    while (st == CAPV_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = capv_hash_ctx_update(ctx, chunk, n, &err);
    int rc = 0;
    if (ferror(f)) {
        fprintf(stderr, "capverify hash: %s: read error\n", path);
        rc = EXIT_UNAVAILABLE;
    } else if (st != CAPV_OK) {
        rc = cli_report(path, st, &err);
    }
    if (f != stdin)
        fclose(f);
    capv_status fst = capv_hash_ctx_final(digest, ctx, &err); /* also resets the context */
    if (rc == 0 && fst != CAPV_OK)
        rc = cli_report(path, fst, &err);
    return rc;
}

int cmd_hash(int argc, char **argv)
{
    static const struct option longopts[] = { { "alg", required_argument, NULL, 'a' },
                                              { "json", no_argument, NULL, 'j' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    capv_hash_alg alg = CAPV_HASH_SHA3_256;
    bool json = false;
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("hash", argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': hash_usage(stdout); return EXIT_VERDICT_OK;
        case 'j': json = true; break;
        case 'a':
            if (capv_hash_alg_from_name(&alg, optarg, NULL) != CAPV_OK)
                return cli_usage_error("hash", "unknown algorithm '%s'", optarg);
            break;
        default: return EXIT_USAGE;
        }
    }
    argv += optind; /* the files */
    int nfiles = argc - optind;
    if (nfiles == 0)
        return cli_usage_error("hash", "no FILE given");
    for (int i = 0, uses = 0; i < nfiles; i++)
        if (strcmp(argv[i], "-") == 0 && ++uses > 1)
            return cli_usage_error("hash", "'-' (standard input) may be given once");

    capv_error err = CAPV_ERROR_INIT;
    capv_hash_ctx *ctx = NULL;
    capv_status st = capv_hash_ctx_new(&ctx, alg, &err);
    if (st != CAPV_OK)
        return cli_report("hash", st, &err);

    int rc = EXIT_VERDICT_OK;
    if (json)
        printf("[");
    bool first_out = true;
    for (int i = 0; i < nfiles; i++) {
        uint8_t digest[CAPV_DIGEST_LEN];
        int frc = hash_file(digest, ctx, argv[i]);
        if (frc != 0) {
            if (rc == EXIT_VERDICT_OK)
                rc = frc;
            continue;
        }
        char hex[CAPV_DIGEST_HEX_SIZE];
        capv_digest_format(hex, digest);
        if (json) {
            printf("%s{\"file\":", first_out ? "" : ",");
            cli_print_json_string(stdout, argv[i]);
            printf(",\"alg\":\"%s\",\"digest\":\"%s\"}", capv_hash_alg_name(alg), hex);
        } else {
            printf("%s  %s\n", hex, argv[i]);
        }
        first_out = false;
    }
    if (json)
        printf("]\n");
    capv_hash_ctx_free(ctx);
    return rc;
}
