/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd_version.h"

#include <string.h>

#include "cli.h"

int cmd_version(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: capverify version [--json]\n\n"
                   "Prints the version of capverify and of the libcapverify it runs with.\n");
            return EXIT_VERDICT_OK;
        } else
            return cli_usage_error("version", "unexpected argument '%s'", argv[i]);
    }
    if (json)
        printf("{\"name\":\"capverify\",\"version\":\"%s\",\"library_version\":\"%s\","
               "\"commit\":\"%s\"}\n",
               CAPV_VERSION_STRING, capv_version_string(), capv_version_commit());
    else
        printf("capverify %s (libcapverify %s, commit %s)\n", CAPV_VERSION_STRING,
               capv_version_string(), capv_version_commit());
    return EXIT_VERDICT_OK;
}
