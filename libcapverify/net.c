/* SPDX-License-Identifier: Apache-2.0 */
/* Host names the library lets plain http:// reach (net_int.h): the key set's URL and the
 * S3 endpoint, for tests on this machine. */
#include "net_int.h"

#include <stdio.h>
#include <string.h>

bool capvi_loopback_host(const char *host)
{
    if (host == NULL)
        return false;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0)
        return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
           c < 256 && d < 256;
}
