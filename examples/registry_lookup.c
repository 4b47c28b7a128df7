/* SPDX-License-Identifier: Apache-2.0 */
/* Example: look up a registered proof in a registry (a SQLite file, or a PostgreSQL
 * postgresql:// URL) by its id, print it as JSON and check its signature.
 *   cc registry_lookup.c $(pkg-config --cflags --libs libcapverify) -o registry_lookup
 *   ./registry_lookup REGISTRY ENTRY_ID
 * Exit status: 0 found (signature valid or entry unsigned), 2 bad signature, 3 usage,
 * 4 error, 5 not found. */
#include <stdio.h>

#include <capverify.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s REGISTRY ENTRY_ID\n", argv[0]);
        return 3;
    }
    capv_error err = CAPV_ERROR_INIT;
    if (capv_global_init(&err) != CAPV_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 4;
    }
    int rc = 4;
    capv_registry *reg = NULL;
    capv_registry_entry *entry = NULL;
    char *json = NULL;
    /* Read-only: never writes, migrates or takes the writer lock, so it is safe beside a
     * running daemon. */
    capv_registry_options opts = CAPV_REGISTRY_OPTIONS_INIT;
    opts.flags = CAPV_REGISTRY_READ_ONLY;
    if (capv_registry_open(&reg, argv[1], &opts, &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        goto out;
    }
    capv_status st = capv_registry_get(&entry, reg, argv[2], &err);
    if (st == CAPV_E_NOT_FOUND) {
        fprintf(stderr, "%s: no entry %s\n", argv[1], argv[2]);
        rc = 5;
        goto out;
    }
    if (st != CAPV_OK || capv_registry_entry_to_json(&json, NULL, entry, &err) != CAPV_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        goto out;
    }
    printf("%s\n", json);
    /* The signature proves the entry was not edited since it was signed; whether its key is
     * one you trust is your decision (compare entry->kid with your trust store). */
    st = capv_registry_entry_verify(entry, &err);
    if (st == CAPV_OK) {
        printf("signature: valid (kid %s)\n", entry->kid ? entry->kid : "-");
        rc = 0;
    } else if (st == CAPV_E_MISSING) {
        printf("signature: none (unsigned entry)\n");
        rc = 0;
    } else {
        printf("signature: INVALID (%s)\n", err.message);
        rc = 2;
    }
out:
    capv_free(json);
    capv_registry_entry_free(entry);
    capv_registry_close(reg);
    capv_global_shutdown();
    return rc;
}
