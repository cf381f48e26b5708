/*
 * vpl: getting a free surface, framepool against the oneVPL samples' linear
 * scan, for 8, 32 and 128 surfaces.
 *
 *   vpl [--quick] [--json FILE] [--repeats N] [--min-ms MS]
 *
 * The samples keep an array of mfxFrameSurface1 and look for one with
 * Data.Locked == 0 from the start on every frame (GetFreeSurfaceIndex): the
 * cost grows with the position of the first free surface. A pipeline keeps
 * most surfaces locked by the runtime (encoder look-ahead, reordering,
 * async depth), so the free ones are few and anywhere.
 *
 * Every iteration models one frame of such a pipeline: get a free surface,
 * hand it to the "runtime" (which now holds it), and the runtime lets go of
 * one of the surfaces it holds, picked at random — so the free surfaces
 * wander to random positions, as in a real pipeline. Columns:
 *  - scan: the samples' loop; the runtime's hold is Data.Locked = 1 / 0.
 *  - framepool, refs (oneVPL 2.x): fp_vpl_acquire; the runtime holds the
 *    surface by reference; its release is fp_vpl_release.
 *  - framepool, Locked (1.x style): fp_vpl_acquire; the runtime raises
 *    Data.Locked and the app releases at once (deferred while Locked > 0);
 *    the runtime's letting go is an atomic Data.Locked = 0, which framepool
 *    only notices at a sweep (when the free list runs dry).
 * The loop's own work (the random pick, the bookkeeping of held surfaces) is
 * in every column; the "harness" column is that alone.
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <framepool/vpl.h>

#include "bench.h"

#define W 1280
#define H 720

typedef struct rng {
    uint64_t s;
} rng;

static inline uint32_t rng_below(rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)((r->s >> 32) % n);
}

typedef struct setup {
    int n;      ///< surfaces
    int nfree;  ///< surfaces not held by the runtime
} setup;

/* ------------------------------------------------------------------------- */
/* The samples' way                                                          */

/* As in the oneVPL (and Media SDK) samples: first surface with Locked == 0. */
__attribute__((noinline)) static int get_free_surface_index(const mfxFrameSurface1 *pool, int n)
{
    for (int i = 0; i < n; i++)
        if (pool[i].Data.Locked == 0)
            return i;
    return -1;
}

typedef struct scan_state {
    mfxFrameSurface1 *surf;
    int *held; ///< indices the runtime holds
    int nheld, n;
    rng r;
    uint64_t scanned; ///< surfaces looked at (counting run only)
} scan_state;

static void scan_init(scan_state *st, const setup *su)
{
    st->n = su->n;
    st->nheld = su->n - su->nfree;
    st->surf = calloc((size_t)su->n, sizeof(*st->surf));
    st->held = calloc((size_t)su->n, sizeof(*st->held));
    int *perm = calloc((size_t)su->n, sizeof(*perm));
    if (!st->surf || !st->held || !perm)
        bench_die("out of memory");
    st->r.s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < su->n; i++)
        perm[i] = i;
    for (int i = su->n - 1; i > 0; i--) {
        int j = (int)rng_below(&st->r, (uint32_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < su->n; i++) {
        st->surf[i].Info.FourCC = MFX_FOURCC_NV12;
        st->surf[i].Info.Width = W;
        st->surf[i].Info.Height = H;
    }
    for (int i = 0; i < st->nheld; i++) {
        st->held[i] = perm[i];
        st->surf[perm[i]].Data.Locked = 1;
    }
    free(perm);
}

static void scan_free(scan_state *st)
{
    free(st->surf);
    free(st->held);
}

static void run_scan(scan_state *st, uint64_t iters)
{
    for (uint64_t i = 0; i < iters; i++) {
        int idx = get_free_surface_index(st->surf, st->n);
        if (idx < 0)
            bench_die("scan: no free surface");
        st->surf[idx].Data.Locked = 1;           /* the runtime takes it */
        uint32_t k = rng_below(&st->r, (uint32_t)st->nheld);
        int victim = st->held[k];
        st->held[k] = idx;
        st->surf[victim].Data.Locked = 0;        /* and lets an older one go */
    }
}

/* Same loop with a counter, untimed: the mean scan length. */
static double scan_mean_length(const setup *su, uint64_t iters)
{
    scan_state st;
    scan_init(&st, su);
    uint64_t looked = 0;
    for (uint64_t i = 0; i < iters; i++) {
        int idx = get_free_surface_index(st.surf, st.n);
        looked += (uint64_t)idx + 1;
        st.surf[idx].Data.Locked = 1;
        uint32_t k = rng_below(&st.r, (uint32_t)st.nheld);
        int victim = st.held[k];
        st.held[k] = idx;
        st.surf[victim].Data.Locked = 0;
    }
    scan_free(&st);
    return (double)looked / (double)iters;
}

/* The loop without getting a surface: the random pick and the bookkeeping. */
static void run_harness(scan_state *st, uint64_t iters)
{
    int next = 0;
    for (uint64_t i = 0; i < iters; i++) {
        int idx = next;
        uint32_t k = rng_below(&st->r, (uint32_t)st->nheld);
        next = st->held[k];
        st->held[k] = idx;
        __asm__ volatile("" ::: "memory");
    }
}

/* ------------------------------------------------------------------------- */
/* framepool                                                                 */

typedef struct fp_state {
    fp_pool *pool;
    mfxFrameSurface1 **held;
    int nheld;
    int locked_model;
    rng r;
} fp_state;

static void fp_init(fp_state *st, const setup *su, int locked_model)
{
    mfxFrameInfo info;
    memset(&info, 0, sizeof(info));
    info.FourCC = MFX_FOURCC_NV12;
    info.ChromaFormat = MFX_CHROMAFORMAT_YUV420;
    info.Width = W;
    info.Height = H;
    info.CropW = W;
    info.CropH = H;
    info.PicStruct = MFX_PICSTRUCT_PROGRESSIVE;
    info.FrameRateExtN = 30;
    info.FrameRateExtD = 1;
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "bench-vpl";
    cfg.min_frames = su->n;
    cfg.max_frames = su->n;
    memset(st, 0, sizeof(*st));
    st->locked_model = locked_model;
    st->nheld = su->n - su->nfree;
    st->r.s = 0x9e3779b97f4a7c15ull;
    int ret = fp_vpl_pool_create(&st->pool, &info, &cfg);
    if (ret < 0)
        bench_die("fp_vpl_pool_create: %s", fp_strerror(ret));
    mfxFrameSurface1 **all = calloc((size_t)su->n, sizeof(*all));
    st->held = calloc((size_t)su->n, sizeof(*st->held));
    if (!all || !st->held)
        bench_die("out of memory");
    for (int i = 0; i < su->n; i++)
        if (fp_vpl_acquire(st->pool, 0, &all[i]) < 0)
            bench_die("fp_vpl_acquire (setup) failed");
    /* Shuffle which surfaces the runtime holds. */
    for (int i = su->n - 1; i > 0; i--) {
        int j = (int)rng_below(&st->r, (uint32_t)i + 1);
        mfxFrameSurface1 *t = all[i];
        all[i] = all[j];
        all[j] = t;
    }
    for (int i = 0; i < su->n; i++) {
        if (i < st->nheld) {
            st->held[i] = all[i];
            if (locked_model) {
                __atomic_store_n(&all[i]->Data.Locked, 1, __ATOMIC_RELEASE);
                mfxFrameSurface1 *s = all[i];
                fp_vpl_release(&s); /* deferred: Locked > 0 */
            }
        } else {
            fp_vpl_release(&all[i]);
        }
    }
    free(all);
}

static void fp_fini(fp_state *st)
{
    for (int i = 0; i < st->nheld; i++) {
        if (st->locked_model)
            __atomic_store_n(&st->held[i]->Data.Locked, 0, __ATOMIC_RELEASE);
        else
            fp_vpl_release(&st->held[i]);
    }
    fp_pool_stats stats; /* a stats query sweeps the unlocked deferred surfaces back */
    fp_pool_get_stats(st->pool, &stats);
    if (stats.live)
        bench_die("vpl: %u surfaces still live at the end", stats.live);
    fp_pool_unref(&st->pool);
    free(st->held);
}

static void run_fp_refs(fp_state *st, uint64_t iters)
{
    fp_pool *pool = st->pool;
    for (uint64_t i = 0; i < iters; i++) {
        mfxFrameSurface1 *s;
        if (fp_vpl_acquire(pool, 0, &s) < 0)
            bench_die("fp_vpl_acquire failed");
        uint32_t k = rng_below(&st->r, (uint32_t)st->nheld);
        mfxFrameSurface1 *victim = st->held[k];
        st->held[k] = s;
        fp_vpl_release(&victim);
    }
}

static void run_fp_locked(fp_state *st, uint64_t iters)
{
    fp_pool *pool = st->pool;
    for (uint64_t i = 0; i < iters; i++) {
        mfxFrameSurface1 *s;
        if (fp_vpl_acquire(pool, 0, &s) < 0)
            bench_die("fp_vpl_acquire failed (Locked model)");
        __atomic_store_n(&s->Data.Locked, 1, __ATOMIC_RELEASE); /* the runtime locks it */
        uint32_t k = rng_below(&st->r, (uint32_t)st->nheld);
        mfxFrameSurface1 *victim = st->held[k];
        st->held[k] = s;
        fp_vpl_release(&s);                                        /* the app is done: deferred */
        __atomic_store_n(&victim->Data.Locked, 0, __ATOMIC_RELEASE); /* the runtime unlocks an older one */
    }
}

/* ------------------------------------------------------------------------- */

enum { M_HARNESS, M_SCAN, M_FP_REFS, M_FP_LOCKED, M_COUNT };
static const char *const method_key[M_COUNT] = { "harness", "scan", "fp_refs", "fp_locked" };

typedef struct cell {
    double med, min, max; ///< CPU ns per iteration
    double wall_med;      ///< wall ns per iteration
} cell;

typedef struct row {
    setup su;
    const char *pattern;
    double scan_len;
    cell c[M_COUNT];
} row;

typedef struct any_state {
    scan_state sc;
    fp_state fp;
} any_state;

static void run_method(int m, any_state *a, uint64_t iters)
{
    switch (m) {
    case M_HARNESS: run_harness(&a->sc, iters); break;
    case M_SCAN: run_scan(&a->sc, iters); break;
    case M_FP_REFS: run_fp_refs(&a->fp, iters); break;
    default: run_fp_locked(&a->fp, iters); break;
    }
}

/* Thread CPU time of one run (the machine is shared; see bench/acquire.c);
 * the wall time through `wall`. */
static double time_once(int m, any_state *a, uint64_t iters, double *wall)
{
    uint64_t t0 = bench_now_ns(), c0 = bench_thread_cpu_ns();
    run_method(m, a, iters);
    uint64_t c1 = bench_thread_cpu_ns();
    if (wall)
        *wall = (double)(bench_now_ns() - t0);
    return (double)(c1 - c0);
}

static void measure_row(row *rw, int repeats, int min_ms)
{
    any_state st[M_COUNT];
    uint64_t iters[M_COUNT];
    double *v[M_COUNT], *w[M_COUNT];
    double target = (double)min_ms * 1e6;
    for (int m = 0; m < M_COUNT; m++) {
        if (m == M_HARNESS || m == M_SCAN)
            scan_init(&st[m].sc, &rw->su);
        else
            fp_init(&st[m].fp, &rw->su, m == M_FP_LOCKED);
        uint64_t n = 256;
        for (;;) {
            double t = time_once(m, &st[m], n, NULL);
            if (t >= target / 4) {
                n = (uint64_t)((double)n * target / t * 1.1) + 1;
                break;
            }
            n *= t < target / 64 ? 8 : 2;
        }
        iters[m] = n;
        v[m] = calloc((size_t)repeats, sizeof(double));
        w[m] = calloc((size_t)repeats, sizeof(double));
        if (!v[m] || !w[m])
            bench_die("out of memory");
    }
    for (int r = 0; r < repeats; r++)
        for (int m = 0; m < M_COUNT; m++) {
            v[m][r] = time_once(m, &st[m], iters[m], &w[m][r]) / (double)iters[m];
            w[m][r] /= (double)iters[m];
        }
    for (int m = 0; m < M_COUNT; m++) {
        rw->c[m].med = bench_median(v[m], repeats, &rw->c[m].min, &rw->c[m].max);
        rw->c[m].wall_med = bench_median(w[m], repeats, NULL, NULL);
        free(v[m]);
        free(w[m]);
        if (m == M_HARNESS || m == M_SCAN)
            scan_free(&st[m].sc);
        else
            fp_fini(&st[m].fp);
    }
    rw->scan_len = scan_mean_length(&rw->su, 100000);
}

static void usage(void)
{
    fprintf(stderr, "usage: vpl [--quick] [--json FILE] [--repeats N] [--min-ms MS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int repeats = 11, min_ms = 50;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            min_ms = 10;
        else if (!strcmp(a, "--json") && v)
            json = v, i++;
        else if (!strcmp(a, "--repeats") && v && atoi(v) >= 1)
            repeats = atoi(v), i++;
        else if (!strcmp(a, "--min-ms") && v && atoi(v) >= 1)
            min_ms = atoi(v), i++;
        else
            usage();
    }
    bench_become_multithreaded();
    static const int counts[] = { 8, 32, 128 };
    row rows[6];
    int nrows = 0;
    for (int ci = 0; ci < 3; ci++) {
        int n = counts[ci];
        rows[nrows++] = (row){ .su = { n, 1 }, .pattern = "1 free" };
        rows[nrows++] = (row){ .su = { n, n / 4 }, .pattern = "1/4 free" };
    }
    bench_machine m;
    bench_machine_get(&m);
    for (int i = 0; i < nrows; i++) {
        fprintf(stderr, "vpl: %d surfaces, %d free...\n", rows[i].su.n, rows[i].su.nfree);
        measure_row(&rows[i], repeats, min_ms);
    }

    printf("framepool bench/vpl: ns per \"get a free surface\" (plus the runtime letting go of an older one)\n");
    printf("machine: ");
    bench_machine_print(&m, stdout);
    printf("method: %d repeats, each >= %d ms, interleaved; median [min-max] of the thread's CPU time per frame;\n"
           "        NV12 %dx%d system-memory surfaces; the runtime holds all but the free ones and lets go of\n"
           "        one at random per frame; mean scan length: surfaces the scan looks at per frame\n\n",
           repeats, min_ms, W, H);
    printf("  %8s %5s %9s  %20s  %20s  %20s  %20s  %10s\n", "surfaces", "free", "mean scan", "harness only",
           "samples' scan", "framepool, refs", "framepool, Locked", "scan / fp");
    printf("  %8s %5s %9s  %20s  %20s  %20s  %20s  %10s\n", "", "", "length", "", "(Data.Locked)", "(2.x model)",
           "(1.x model)", "refs (>1:");
    printf("  %8s %5s %9s  %20s  %20s  %20s  %20s  %10s\n", "", "", "", "", "", "", "", "fp faster)");
    for (int i = 0; i < nrows; i++) {
        row *r = &rows[i];
        printf("  %8d %5d %9.1f", r->su.n, r->su.nfree, r->scan_len);
        for (int mm = 0; mm < M_COUNT; mm++) {
            char buf[48];
            snprintf(buf, sizeof(buf), "%.1f [%.1f-%.1f]", r->c[mm].med, r->c[mm].min, r->c[mm].max);
            printf("  %20s", buf);
        }
        printf("  %9.2fx\n", r->c[M_SCAN].med / r->c[M_FP_REFS].med);
    }
    /* O(1) vs O(n): growth from 8 to 128 surfaces with the same 1 free. */
    double g_scan = rows[4].c[M_SCAN].med / rows[0].c[M_SCAN].med;
    double g_refs = rows[4].c[M_FP_REFS].med / rows[0].c[M_FP_REFS].med;
    double g_lock = rows[4].c[M_FP_LOCKED].med / rows[0].c[M_FP_LOCKED].med;
    printf("\n8 -> 128 surfaces, 1 free (16x the surfaces): scan %.2fx the time, framepool refs %.2fx, "
           "framepool Locked %.2fx\n",
           g_scan, g_refs, g_lock);
    printf("doc/design.md target \"acquiring a free surface is O(1)\": 2.x refs model %s (%.2fx over 16x surfaces); "
           "1.x Locked model %s (%.2fx)\n",
           g_refs < 1.5 ? "met" : "MISSED", g_refs, g_lock < 1.5 ? "met" : "MISSED", g_lock);
    printf("(O(1) judged as: less than 1.5x the time for 16x the surfaces)\n");

    if (json) {
        FILE *f = bench_fopen(json);
        fputs("{\n  \"bench\": \"vpl\",\n  \"machine\": ", f);
        bench_machine_json(&m, f);
        fprintf(f, ",\n  \"repeats\": %d,\n  \"min_ms\": %d,\n  \"unit\": \"ns per frame\",\n  \"rows\": [", repeats,
                min_ms);
        for (int i = 0; i < nrows; i++) {
            row *r = &rows[i];
            fprintf(f, "%s\n    {\"surfaces\": %d, \"free\": %d, \"mean_scan_length\": %.2f", i ? "," : "", r->su.n,
                    r->su.nfree, r->scan_len);
            for (int mm = 0; mm < M_COUNT; mm++)
                fprintf(f, ", \"%s\": {\"cpu_median_ns\": %.2f, \"cpu_min_ns\": %.2f, \"cpu_max_ns\": %.2f, "
                           "\"wall_median_ns\": %.2f}",
                        method_key[mm], r->c[mm].med, r->c[mm].min, r->c[mm].max, r->c[mm].wall_med);
            fputc('}', f);
        }
        fprintf(f, "\n  ],\n  \"growth_8_to_128_one_free\": {\"scan\": %.3f, \"fp_refs\": %.3f, \"fp_locked\": %.3f},\n"
                   "  \"o1_refs_met\": %s,\n  \"o1_locked_met\": %s\n}\n",
                g_scan, g_refs, g_lock, g_refs < 1.5 ? "true" : "false", g_lock < 1.5 ? "true" : "false");
        if (fclose(f))
            bench_die("writing %s failed", json);
    }
    return 0;
}
