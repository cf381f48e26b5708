/*
 * Child process for the track and sites suites. Without arguments it leaks
 * one frame and exits, so that FRAMEPOOL_TRACE=leaks has something to report
 * at exit. With "sessions" it runs 50 sessions whose init creates a pool that
 * is never released (the per-session pool leak), and exits.
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include <framepool/framepool.h>

#include "leak-child.h"

static fp_pool *make(const char *name)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = name;
    cfg.format = FP_FMT_GRAY8;
    cfg.width = 32;
    cfg.height = 32;
    cfg.max_frames = 4;
    fp_pool *p = NULL;
    if (fp_pool_create(&p, &cfg) < 0)
        exit(3);
    return p;
}

static int handle_request(fp_pool *pool)
{
    fp_frame *f;
    if (fp_pool_acquire(pool, 0, &f) < 0)
        return -1;
    fp_frame_set_tag(f, "request-42");
    return -1; /* the early error return that forgets f */
}

typedef struct session {
    int id;
    fp_pool *frames;
} session;

/* The bug: the session's teardown forgets fp_pool_unref(&s->frames). */
static int session_init(session *s, int id)
{
    fp_pool_config cfg = leak_child_session_config();
    s->id = id;
    _Static_assert(__LINE__ + 1 == LEAK_CHILD_SESSION_LINE, "update LEAK_CHILD_SESSION_LINE in leak-child.h");
    return fp_pool_create(&s->frames, &cfg);
}

static void session_end(session *s)
{
    s->frames = NULL; /* ... and drops the pointer */
}

/* `what`: NULL, "report" (fp_registry_report to stdout after the sessions)
 * or "prometheus" (the exposition), for doc/leaks.md and doc/metrics.md. */
static int sessions(const char *what)
{
    for (int i = 0; i < LEAK_CHILD_SESSIONS; i++) {
        session s;
        if (session_init(&s, i) < 0)
            return 3;
        session_end(&s);
    }
    if (what && !strcmp(what, "report"))
        return fp_registry_report(stdout) < 0 ? 4 : 0;
    if (what && !strcmp(what, "prometheus"))
        return fp_registry_write_prometheus(stdout) < 0 ? 4 : 0;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "sessions"))
        return sessions(argc > 2 ? argv[2] : NULL);
    fp_pool *leaky = make("leaky");
    fp_pool *clean = make("clean");
    fp_frame *f;
    if (fp_pool_acquire(clean, 0, &f) == 0)
        fp_frame_unref(&f);
    handle_request(leaky);
    /* A server that never tears its pools down: only the exit report can tell. */
    return 0;
}
