#include "suites.h"

Suite *package_suite(void)
{
    return suite_create("package");
}
