/*
 * Writes the Prometheus exposition of a few pools (awkward names included,
 * names cut inside a UTF-8 character and names that are not UTF-8, frames
 * live and released, waits and misuse counted) to stdout, for
 * promtool-check.sh.
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include <framepool/framepool.h>

static fp_pool *make(const char *name, enum fp_format fmt)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = name;
    cfg.format = fmt;
    cfg.width = 640;
    cfg.height = 360;
    cfg.max_frames = 3;
    cfg.log_level = FP_LOG_ERROR;
    fp_pool *p = NULL;
    if (fp_pool_create(&p, &cfg) < 0)
        return NULL;
    return p;
}

int main(void)
{
    fp_pool *a = make("encoder \"main\"", FP_FMT_NV12);
    fp_pool *b = make("path\\with\\backslashes\nand newline", FP_FMT_YUV420P);
    fp_pool *c = make("encoder \"main\"", FP_FMT_BGRA); /* same name, another id */
    /* 33 x "\u00e9" (66 bytes, cut to the 63-byte name buffer inside the 32nd),
     * and bytes that are not UTF-8: promtool rejects the whole exposition
     * over one invalid label value. */
    char utf8[80] = "";
    for (int i = 0; i < 33; i++)
        strcat(utf8, "\xc3\xa9");
    fp_pool *d = make(utf8, FP_FMT_GRAY8);
    fp_pool *e = make("bad\xff\xfe" "bytes\xc3(\xed\xa0\x80\t\r", FP_FMT_GRAY8);
    if (!a || !b || !c || !d || !e)
        return 1;
    fp_frame *f[3];
    for (int i = 0; i < 3; i++)
        fp_pool_acquire(a, 0, &f[i]);
    fp_frame *x;
    fp_pool_acquire(a, 0, &x);    /* exhausted */
    fp_pool_acquire(a, 1000, &x); /* timeout + wait */
    fp_frame *dup = f[0];
    fp_frame_unref(&f[0]);
    fp_frame_unref(&dup); /* misuse */
    int ret = fp_registry_write_prometheus(stdout);
    fp_frame_unref(&f[1]);
    fp_frame_unref(&f[2]);
    fp_pool_unref(&a);
    fp_pool_unref(&b);
    fp_pool_unref(&c);
    fp_pool_unref(&d);
    fp_pool_unref(&e);
    return ret < 0;
}
