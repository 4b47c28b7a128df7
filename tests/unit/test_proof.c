#include "suites.h"

Suite *proof_suite(void)
{
    return suite_create("proof");
}
