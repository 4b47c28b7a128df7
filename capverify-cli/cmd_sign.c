/* SPDX-License-Identifier: Apache-2.0 */
/* capverify sign MANIFEST --key KEY — appends an Ed25519 signature (docs/formats.md). */
#include "cmd_sign.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"

#define MANIFEST_MAX (16u * 1024u * 1024u)

static void sign_usage(FILE *f)
{
    fprintf(f, "usage: capverify sign MANIFEST --key KEY [--signer NAME] [--out FILE]\n\n"
               "Appends an Ed25519 signature over the manifest's compat canonical bytes\n"
               "(signatures replaced by []) and writes the manifest, pretty-printed, to FILE\n"
               "(default: standard output; FILE may be MANIFEST itself). KEY is a PEM PKCS#8\n"
               "Ed25519 private key as 'capverify keys gen' writes it.\n");
}

int cmd_sign(int argc, char **argv)
{
    static const struct option longopts[] = { { "key", required_argument, NULL, 'k' },
                                              { "signer", required_argument, NULL, 's' },
                                              { "out", required_argument, NULL, 'o' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    const char *manifest = NULL, *key_path = NULL, *signer = NULL, *out_path = "-";
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("sign", argc, argv, "h", longopts)) != -1) {
        switch (c) {
        case 'h': sign_usage(stdout); return 0;
        case 'k': key_path = optarg; break;
        case 's': signer = optarg; break;
        case 'o': out_path = optarg; break;
        default: return EXIT_USAGE;
        }
    }
    if (argc - optind > 1)
        return cli_usage_error("sign", "unexpected argument '%s'", argv[optind + 1]);
    manifest = optind < argc ? argv[optind] : NULL;
    if (manifest == NULL || key_path == NULL)
        return cli_usage_error("sign", "MANIFEST and --key KEY are required");
    capv_error err = CAPV_ERROR_INIT;
    capv_signing_key *key = NULL;
    uint8_t *data = NULL, *signed_doc = NULL;
    size_t len = 0, out_len = 0;
    int rc;
    capv_status st = capv_signing_key_load(&key, key_path, &err);
    if (st != CAPV_OK)
        return cli_report(key_path, st, &err);
    if ((rc = cli_read_file(&data, &len, manifest, MANIFEST_MAX, "sign")) != 0)
        goto out;
    char kid[CAPV_KID_SIZE] = "";
    if (signer == NULL) {
        uint8_t pub[CAPV_ED25519_PUBLIC_LEN];
        capv_signing_key_public(pub, key);
        if ((st = capv_key_id(kid, pub, &err)) != CAPV_OK) {
            rc = cli_report(key_path, st, &err);
            goto out;
        }
        signer = kid;
    }
    st = capv_manifest_sign(&signed_doc, &out_len, data, len, key, signer, &err);
    if (st != CAPV_OK) {
        rc = cli_report(manifest, st, &err);
        goto out;
    }
    rc = cli_write_file(out_path, signed_doc, out_len, "sign");
out:
    capv_free(signed_doc);
    free(data);
    capv_signing_key_free(key);
    return rc;
}
