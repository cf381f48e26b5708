/*
 * Compiled (not run) under -std=c99/c11 -pedantic -Werror, with and without
 * FP_NO_STATIC_SITES: the public macros must expand cleanly in a user's
 * strict build, not only the declarations.
 * SPDX-License-Identifier: MIT
 */
#include <framepool/framepool.h>

int fp_header_macros_use(fp_pool *pool);
int fp_header_macros_use(fp_pool *pool)
{
    fp_frame *f = NULL;
    int ret = fp_pool_acquire(pool, 0, &f);
    if (ret < 0)
        return ret;
#ifdef FP_SITE_HERE
    const fp_site *here = FP_SITE_HERE();
    fp_frame *g = NULL;
    ret = fp_pool_acquire_site(pool, 0, &g, here);
    if (ret == 0)
        fp_frame_unref_site(&g, FP_SITE_HERE());
#endif
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    fp_pool *made = NULL;
    if (fp_pool_create(&made, &cfg) == 0)
        fp_pool_unref(&made);
    return fp_frame_unref(&f);
}
