#include "suites.h"

Suite *keys_suite(void)
{
    return suite_create("keys");
}
