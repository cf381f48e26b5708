/*
 * leak_hunt: a small "server" with the four classic frame leaks, each found
 * by a per-request checkpoint that names file:line:function, then the same
 * handlers written with the cleanup helpers, leaving zero live frames.
 *
 *   leak_hunt [early-return|fan-out|worker-exit|wrong-path|fixed|all]
 * SPDX-License-Identifier: MIT
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <framepool/framepool.h>

static fp_pool *pool;

/* Stand-ins for the real work. */
static int validate(const fp_frame *f) { return f->pts % 2 ? -1 : 0; }
static int output_open(int i) { return i == 2 ? -1 : 0; }
/* Takes ownership of the reference it is given. */
static int send_to(int out, fp_frame *f) { (void)out; fp_frame_unref(&f); return 0; }

/* ---- the leaky handlers ------------------------------------------------ */

/* 1. An early error return that forgets the frame. */
static int handle_early_return(int64_t req)
{
    fp_frame *f;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    if (validate(f) < 0)
        return -1; /* leak */
    fp_frame_unref(&f);
    return 0;
}

/* 2. A fan-out to three outputs that fails half-way and returns without
 * dropping the references it already took for the outputs. */
static int handle_fan_out(int64_t req)
{
    fp_frame *f, *outs[3];
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    for (int i = 0; i < 3; i++) {
        if (output_open(i) < 0)
            return -1; /* leak: f and outs[0], outs[1] */
        outs[i] = fp_frame_ref(f);
    }
    for (int i = 0; i < 3; i++)
        send_to(i, outs[i]);
    fp_frame_unref(&f);
    return 0;
}

/* 3. A worker thread that exits early (shutdown) holding its reference. */
static void *worker(void *arg)
{
    fp_frame *mine = arg;
    int shutting_down = 1;
    if (shutting_down)
        return NULL; /* leak */
    fp_frame_unref(&mine);
    return NULL;
}

static int handle_worker_exit(int64_t req)
{
    fp_frame *f;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    pthread_t th;
    pthread_create(&th, NULL, worker, fp_frame_ref(f));
    pthread_join(th, NULL);
    fp_frame_unref(&f);
    return 0;
}

/* 4. A reference dropped on the success path only: the retry path keeps it. */
static int handle_wrong_path(int64_t req)
{
    fp_frame *f;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    fp_frame *pending = fp_frame_ref(f); /* for the retry queue */
    if (send_to(0, fp_frame_ref(f)) == 0) {
        fp_frame_unref(&f);
        return 0; /* leak: pending is dropped only when the send fails */
    }
    fp_frame_unref(&pending);
    fp_frame_unref(&f);
    return -1;
}

/* ---- the same handlers, fixed with the helpers -------------------------- */

static int fixed_early_return(int64_t req)
{
    FP_AUTO_FRAME fp_frame *f = NULL;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    if (validate(f) < 0)
        return -1; /* released by FP_AUTO_FRAME */
    return 0;
}

static int fixed_fan_out(int64_t req)
{
    FP_SCOPE(refs);
    fp_frame *f, *outs[3];
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    if (fp_scope_add(&refs, f) < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (output_open(i) < 0)
            return -1; /* the scope releases everything it holds */
        outs[i] = fp_frame_ref(f);
        if (fp_scope_add(&refs, outs[i]) < 0) /* on ENOMEM it is already released */
            return -1;
    }
    for (int i = 0; i < 3; i++) { /* success: ownership moves to the outputs */
        fp_scope_take(&refs, outs[i]);
        send_to(i, outs[i]);
    }
    return 0;
}

static void *fixed_worker(void *arg)
{
    FP_AUTO_FRAME fp_frame *mine = arg;
    int shutting_down = 1;
    if (shutting_down)
        return NULL; /* released on this exit too */
    return NULL;
}

static int fixed_worker_exit(int64_t req)
{
    FP_AUTO_FRAME fp_frame *f = NULL;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    pthread_t th;
    pthread_create(&th, NULL, fixed_worker, fp_frame_ref(f));
    pthread_join(th, NULL);
    return 0;
}

static int fixed_wrong_path(int64_t req)
{
    FP_AUTO_FRAME fp_frame *f = NULL;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    f->pts = req;
    FP_AUTO_FRAME fp_frame *pending = fp_frame_ref(f); /* dropped on every path */
    if (send_to(0, fp_frame_ref(f)) == 0)
        return 0;
    return -1;
}

/* ---- the "server" ------------------------------------------------------- */

static int print_leak(const fp_live_frame *l, void *ud)
{
    (void)ud;
    printf("      %s:%d in %s()  refs %d  age %.1f ms\n", l->file, l->line, l->func, l->refcount,
           (double)l->age_ns / 1e6);
    return 0;
}

static int count(const fp_live_frame *l, void *ud)
{
    (void)l;
    (*(int *)ud)++;
    return 0;
}

/* Runs requests through a handler with a checkpoint per request: whatever is
 * still live afterwards was leaked by that request. */
static void serve(const char *name, int (*handler)(int64_t))
{
    printf("%s:\n", name);
    int leaked_requests = 0;
    for (int64_t req = 1; req <= 4; req++) {
        uint64_t cp = fp_pool_checkpoint(pool);
        handler(req);
        int n = 0;
        fp_pool_foreach_live_since(pool, cp, count, &n);
        if (n && !leaked_requests++) {
            printf("   request %" PRId64 " leaked %d frame%s:\n", req, n, n == 1 ? "" : "s");
            fp_pool_foreach_live_since(pool, cp, print_leak, NULL);
        }
    }
    fp_pool_stats st;
    fp_pool_get_stats(pool, &st);
    printf("   after 4 requests: %d request%s leaked, the pool has %" PRIu32 " frames live\n\n", leaked_requests,
           leaked_requests == 1 ? "" : "s", st.live);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = "leak-hunt";
    cfg.format = FP_FMT_NV12;
    cfg.width = 1280;
    cfg.height = 720;
    cfg.max_frames = 32;
    cfg.log_level = FP_LOG_ERROR; /* the leaks are reported below, per request */
    if (fp_pool_create(&pool, &cfg) < 0)
        return 1;

    static const struct {
        const char *name;
        int (*leaky)(int64_t);
        int (*fixed)(int64_t);
    } cases[] = {
        { "early-return", handle_early_return, fixed_early_return },
        { "fan-out", handle_fan_out, fixed_fan_out },
        { "worker-exit", handle_worker_exit, fixed_worker_exit },
        { "wrong-path", handle_wrong_path, fixed_wrong_path },
    };
    int all = !strcmp(which, "all"), any = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (all || !strcmp(which, cases[i].name)) {
            char title[64];
            snprintf(title, sizeof(title), "leak \"%s\"", cases[i].name);
            serve(title, cases[i].leaky);
            any = 1;
        }
    }
    if (all || !strcmp(which, "fixed")) {
        fp_pool_unref(&pool); /* the leaky runs left frames behind: start clean */
        if (fp_pool_create(&pool, &cfg) < 0)
            return 1;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char title[64];
            snprintf(title, sizeof(title), "fixed \"%s\"", cases[i].name);
            serve(title, cases[i].fixed);
        }
        any = 1;
    }
    if (!any) {
        fprintf(stderr, "usage: %s [early-return|fan-out|worker-exit|wrong-path|fixed|all]\n", argv[0]);
        return 2;
    }
    fp_pool_unref(&pool);
    return 0;
}
