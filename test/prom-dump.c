/*
 * Writes the Prometheus exposition of a few pools (awkward names included,
 * names cut inside a UTF-8 character and names that are not UTF-8, frames
 * live and released, waits and misuse counted, creation sites with awkward
 * file names, an unknown site, two functions on one file:line, a pool
 * dropped while a frame is held) to stdout, for promtool-check.sh.
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
    /* Per-site series: site labels escaped and UTF-8, unique per file:line. */
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.format = FP_FMT_GRAY8;
    cfg.width = 16;
    cfg.height = 16;
    cfg.max_frames = 2;
    fp_pool *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL, *held = NULL;
    fp_pool_create_at(&s1, &cfg, "dir\\with \"quotes\"\nand\xff bytes.c", 7, "f");
    fp_pool_create_at(&s2, &cfg, "same.c", 9, "first");
    fp_pool_create_at(&s3, &cfg, "same.c", 9, "second"); /* same label as s2: one series */
    (fp_pool_create)(&s4, &cfg);                         /* site="unknown" */
    fp_pool_create(&held, &cfg);
    fp_frame *kept = NULL;
    if (!s1 || !s2 || !s3 || !s4 || !held || fp_pool_acquire(held, 0, &kept) < 0)
        return 1;
    fp_pool_unref(&held); /* dropped, alive for its held frame */
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
    fp_pool_unref(&s1);
    fp_pool_unref(&s2);
    fp_pool_unref(&s3);
    fp_pool_unref(&s4);
    fp_frame_unref(&kept);
    return ret < 0;
}
