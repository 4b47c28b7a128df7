/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd_version.h"

#include "cli.h"

int cmd_version(int argc, char **argv)
{
    static const struct option longopts[] = { { "json", no_argument, NULL, 'j' },
                                              CLI_OPT_HELP,
                                              { 0 } };
    bool json = false;
    int c;
    cli_opt_begin();
    while ((c = cli_next_opt("version", argc, argv, "h", longopts)) != -1) {
        if (c == CLI_OPT_ERROR)
            return EXIT_USAGE;
        if (c == 'h') {
            printf("usage: capverify version [--json]\n\n"
                   "Prints the version of capverify and of the libcapverify it runs with.\n");
            return EXIT_VERDICT_OK;
        }
        json = true;
    }
    if (optind < argc)
        return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
    if (json)
        printf("{\"name\":\"capverify\",\"version\":\"%s\",\"library_version\":\"%s\","
               "\"commit\":\"%s\"}\n",
               CAPV_VERSION_STRING, capv_version_string(), capv_version_commit());
    else
        printf("capverify %s (libcapverify %s, commit %s)\n", CAPV_VERSION_STRING,
               capv_version_string(), capv_version_commit());
    return EXIT_VERDICT_OK;
}
