/*
 * Child process of suite "edges", run with FRAMEPOOL_TRACE=leaks:
 *   edge-child fork-leaks   the parent leaks "parent-frame", forks; the child
 *                           leaks "child-frame"; both exit (the exit reports)
 *   edge-child exit-export  leaks a frame; the log callback that receives the
 *                           exit report exports the registry
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <framepool/framepool.h>

static void exporting_log(void *opaque, int level, const char *msg)
{
    (void)opaque;
    (void)level;
    fprintf(stderr, "log: %s\n", msg);
    if (strstr(msg, "process exit")) {
        FILE *f = fopen("/dev/null", "w");
        if (f && fp_registry_write_json(f) == 0 && fp_registry_write_prometheus(f) == 0)
            fprintf(stderr, "exported during the exit report\n");
        if (f)
            fclose(f);
    }
}

static fp_pool *make(const char *name, fp_log_cb log)
{
    fp_pool_config cfg;
    fp_pool_config_default(&cfg);
    cfg.name = name;
    cfg.format = FP_FMT_GRAY8;
    cfg.width = 32;
    cfg.height = 32;
    cfg.max_frames = 4;
    cfg.log = log;
    fp_pool *p = NULL;
    return fp_pool_create(&p, &cfg) < 0 ? NULL : p;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    alarm(20);
    if (!strcmp(mode, "fork-leaks")) {
        fp_pool *pool = make("forked", NULL);
        fp_frame *f;
        if (!pool || fp_pool_acquire(pool, 0, &f) < 0)
            return 2;
        fp_frame_set_tag(f, "parent-frame");
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
            return 3;
        if (pid == 0) {
            fp_frame *g;
            if (fp_pool_acquire(pool, 0, &g) < 0)
                return 4;
            fp_frame_set_tag(g, "child-frame");
            return 0; /* exit report of the child */
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            return 5;
        return 0; /* exit report of the parent */
    }
    if (!strcmp(mode, "exit-export")) {
        fp_pool *pool = make("exit-export", exporting_log);
        fp_frame *f;
        if (!pool || fp_pool_acquire(pool, 0, &f) < 0)
            return 2;
        return 0;
    }
    fprintf(stderr, "usage: edge-child fork-leaks|exit-export\n");
    return 1;
}
