/* SPDX-License-Identifier: Apache-2.0 */
#include <capverify.h>

#include "build_info.h"

const char *capv_version_string(void)
{
    return CAPV_VERSION_STRING;
}
int capv_version_major(void)
{
    return CAPV_VERSION_MAJOR;
}
int capv_version_minor(void)
{
    return CAPV_VERSION_MINOR;
}
int capv_version_patch(void)
{
    return CAPV_VERSION_PATCH;
}
const char *capv_version_commit(void)
{
    return CAPV_BUILD_COMMIT;
}
