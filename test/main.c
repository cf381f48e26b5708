/*
 * Runs one suite. Check's CK_ENV, CK_FORK, CK_RUN_CASE etc. apply.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>

#include "common.h"

int main(void)
{
    SRunner *sr = srunner_create(fp_test_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
