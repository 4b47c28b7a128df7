/* SPDX-License-Identifier: Apache-2.0 */
/* Example: print the SHA3-256 of a file with libcapverify (the hash CAP uses for manifests).
 * Build against an installed library:
 *   cc hash_file.c $(pkg-config --cflags --libs libcapverify) -o hash_file */
#include <stdio.h>

#include <capverify.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 3;
    }
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 6;
    }
    int rc = 0;
    capv_hash_ctx *ctx = NULL;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        rc = 5;
        goto out;
    }
    if (capv_hash_ctx_new(&ctx, CAPV_HASH_SHA3_256, &err) != CAPV_OK) {
        fprintf(stderr, "hash: %s\n", err.message);
        rc = 6;
        goto out;
    }
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (capv_hash_ctx_update(ctx, buf, n, &err) != CAPV_OK) {
            fprintf(stderr, "hash: %s\n", err.message);
            rc = 6;
            goto out;
        }
    }
    uint8_t digest[CAPV_DIGEST_LEN];
    char hex[CAPV_DIGEST_HEX_SIZE];
    if (capv_hash_ctx_final(digest, ctx, &err) != CAPV_OK) {
        fprintf(stderr, "hash: %s\n", err.message);
        rc = 6;
        goto out;
    }
    capv_digest_format(hex, digest);
    printf("%s  %s (libcapverify %s)\n", hex, argv[1], capv_version_string());
out:
    capv_hash_ctx_free(ctx);
    if (f != NULL)
        fclose(f);
    capv_global_shutdown();
    return rc;
}
