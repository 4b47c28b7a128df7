/* SPDX-License-Identifier: Apache-2.0 */
/* capverify commit --suppliers CSV --ubos CSV [--json]: commitment roots
 * (include/capverify/commitment.h). */
#include "cmd_commit.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"

/* Larger inputs are refused (the CLI's package limit, docs/formats.md). */
#define COMMIT_MAX_INPUT ((size_t)512 << 20)

static void commit_usage(FILE *f)
{
    fprintf(f, "usage: capverify commit [--suppliers CSV] [--ubos CSV] [--json]\n\n"
               "Recomputes the commitment roots that CAP manifests publish from the\n"
               "supplier list (columns name, jurisdiction, tier) and the beneficial-owner list\n"
               "(columns name, birthdate, citizenship). At least one list is required; the\n"
               "company commitment root is printed when both are given. '-' reads standard\n"
               "input (for one of the two). Columns are found by header name, extra columns\n"
               "are ignored; the files must be strict RFC 4180 CSV in UTF-8 without BOM.\n");
}

static const char *display_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "standard input" : path;
}

typedef capv_status (*list_root_fn)(uint8_t root[32], size_t *count, const uint8_t *csv, size_t len,
                                    capv_error *err);

/* Reads one list and computes its root. Returns 0 or an exit code after reporting. */
static int list_root(uint8_t root[32], size_t *count, const char *path, list_root_fn fn)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = cli_read_file(&data, &len, path, COMMIT_MAX_INPUT, "commit");
    if (rc != 0)
        return rc;
    capv_error err = CAPV_ERROR_INIT;
    capv_status st = fn(root, count, data, len, &err);
    free(data);
    if (st != CAPV_OK)
        return cli_report(display_name(path), st, &err);
    return 0;
}

static void print_root(bool json, bool *first, const char *key, const char *hex,
                       const char *count_key, size_t count, const char *noun, const char *nouns)
{
    if (json) {
        printf("%s\"%s\":\"%s\"", *first ? "" : ",", key, hex);
        if (count_key != NULL)
            printf(",\"%s\":%zu", count_key, count);
    } else if (count_key != NULL) {
        printf("%-25s%s (%zu %s)\n", key, hex, count, count == 1 ? noun : nouns);
    } else {
        printf("%-25s%s\n", key, hex);
    }
    *first = false;
}

int cmd_commit(int argc, char **argv)
{
    static const struct option longopts[] = { { "suppliers", required_argument, NULL, 's' },
                                              { "ubos", required_argument, NULL, 'u' },
                                              { "json", no_argument, NULL, 'j' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    const char *suppliers = NULL, *ubos = NULL;
    bool json = false;
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("commit", argc, argv, "h", longopts)) != -1) {
        const char **list = c == 's' ? &suppliers : &ubos;
        switch (c) {
        case 'h': commit_usage(stdout); return EXIT_VERDICT_OK;
        case 'j': json = true; break;
        case 's':
        case 'u':
            if (optarg[0] == '\0')
                return cli_usage_error("commit", "%s needs a file name", cli_opt_name());
            if (*list != NULL)
                return cli_usage_error("commit", "%s given more than once", cli_opt_name());
            *list = optarg;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("commit", "unexpected argument '%s'", argv[optind]);
    if (suppliers == NULL && ubos == NULL)
        return cli_usage_error("commit", "give --suppliers CSV, --ubos CSV or both");
    if (suppliers != NULL && ubos != NULL && strcmp(suppliers, "-") == 0 && strcmp(ubos, "-") == 0)
        return cli_usage_error("commit", "only one list can be read from standard input");

    uint8_t sroot[32], uroot[32];
    size_t scount = 0, ucount = 0;
    int rc;
    if (suppliers != NULL &&
        (rc = list_root(sroot, &scount, suppliers, capv_commitment_suppliers_csv)) != 0)
        return rc;
    if (ubos != NULL && (rc = list_root(uroot, &ucount, ubos, capv_commitment_ubos_csv)) != 0)
        return rc;

    uint8_t company[32];
    if (suppliers != NULL && ubos != NULL) {
        capv_error err = CAPV_ERROR_INIT;
        capv_status st = capv_commitment_company(company, sroot, uroot, &err);
        if (st != CAPV_OK)
            return cli_report("company commitment", st, &err);
    }

    char hex[CAPV_DIGEST_HEX_SIZE];
    bool first = true;
    if (json)
        printf("{");
    if (suppliers != NULL) {
        capv_digest_format(hex, sroot);
        print_root(json, &first, "supplier_root", hex, "supplier_count", scount, "supplier",
                   "suppliers");
    }
    if (ubos != NULL) {
        capv_digest_format(hex, uroot);
        print_root(json, &first, "ubo_root", hex, "ubo_count", ucount, "UBO", "UBOs");
    }
    if (suppliers != NULL && ubos != NULL) {
        capv_digest_format(hex, company);
        print_root(json, &first, "company_commitment_root", hex, NULL, 0, NULL, NULL);
    }
    if (json)
        printf("}\n");
    return EXIT_VERDICT_OK;
}
