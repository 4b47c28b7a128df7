/* SPDX-License-Identifier: Apache-2.0 */
/* Compiled (not run) by the header.c99 / header.cxx tests (header_test.sh, which also
 * compiles every public header alone): the umbrella header must stand alone under strict
 * warnings in C99 and C++. */
#include <capverify.h>

int header_test_uses(void);
int header_test_uses(void)
{
    capv_error err = CAPV_ERROR_INIT;
    (void)err;
    return CAPV_VERSION_MAJOR + (int)CAPV_OK;
}
