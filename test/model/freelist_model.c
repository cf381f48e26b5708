/*
 * Exhaustive interleaving check of the lock-free free list of lib/pool.c:
 * the head word protocol (pop with an ABA tag, push, the W flag with the
 * waiter mutex and condition variable, the "out" count and the O flag that
 * decide when the pool is freed), explored over every interleaving of its
 * atomic steps for two threads and two slots.
 * SPDX-License-Identifier: MIT
 *
 * Each thread runs a small program of acquire / release / close / unref
 * calls. Every shared-memory access of those calls in pool.c (a load of the
 * head, the read of slot->next, a CAS, a fetch_or/and/sub, a store of
 * slot->next, taking or releasing the mutex, waiting on and signalling the
 * condition variable) is one step; the search visits every reachable state
 * once (explicit-state, depth-first, with a hash set of visited states) and
 * checks in each:
 *  - no slot is owned by two threads (the ghost owner of a slot is set when
 *    a pop's CAS or a claim gives it to a thread);
 *  - the free list is well formed: no cycle, only unowned slots on it, and
 *    every slot is exactly one of free, owned, being pushed or unbacked;
 *  - out == owned + being pushed + pushes that kept their count for a wake-up;
 *  - no access to the pool after it was freed, and it is freed at most once;
 * and in every final state (no step enabled):
 *  - every thread finished its program: a thread asleep on the condition
 *    variable with nobody left to wake it is a lost wake-up (or a deadlock);
 *  - the pool was freed (its last reference and last frame are gone).
 *
 * Mutants: the same search on deliberately broken variants (no ABA tag, a
 * push that ignores W, a waiter that sleeps without popping again, a push
 * that drops its out count before the wake-up) must each find a violation; otherwise the checker is too weak to
 * trust. The test passes when the real protocol has no violation in every
 * scenario and every mutant is caught.
 *
 * Not modelled (see doc/reliability.md): weak memory orderings (the model is
 * sequentially consistent; TSan and the stress test cover the orderings),
 * timed waits and spurious wake-ups, more than three slots or two threads,
 * deferred (adapter) slots and sweeps (their push keeps the out count like a
 * waking push, which is modelled, and is put back after unlocking; covered
 * by the vpl suite, the stress test and the yield-injection TSan run),
 * tracking records. Trim (fl_detach_all and the idle pushes, under the lock)
 * and the unlocked allocation of a slot taken off the unbacked list are.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NT 2          /* threads */
#define MAXS 3        /* slots: 2 in the main scenarios, 3 to show the ABA */
#define NIL 3
#define MAXOPS 8

enum op { END = 0, ACQ, REL, DROP, CLOSE, REL_MID /* release the second-oldest held frame */, TRIM };

enum pc {
    P_NEXT = 0, P_DONE,
    /* acquire, fast path */
    A_CLOSED, A_LOAD, A_NEXT, A_CAS,
    /* acquire, slow path (under the lock) */
    S_LOCK, S_CLOSED, S_LOAD, S_NEXT, S_CAS, S_UNBACKED, S_CLAIM, S_REG, S_REG2, S_WAIT, S_SLEEP, S_RELOCK,
    S_EXIT, S_UNLOCK, S_DROPH, S_DROPH_O,
    /* the allocator runs unlocked: the slot is off the unbacked list meanwhile */
    S_AUNLOCK, S_ARELOCK,
    /* release: freelist_push and push_slow */
    R_LOAD, R_SETNEXT, R_CAS, R_SIG_LOCK, R_SIG, R_SIG_UNLOCK, R_PUTOUT,
    /* fp_pool_unref, fp_pool_close */
    D_REFS, D_LOCK, D_CLOSE, D_UNLOCK, D_LEAK, D_HOLDER, D_O,
    C_LOCK, C_CLOSE, C_UNLOCK,
    /* fp_pool_trim: fl_detach_all, then each detached slot is unbacked or
     * pushed back idle (fl_push_idle), under the lock */
    T_LOCK, T_LOAD, T_CAS, T_WALK, T_PLOAD, T_PSET, T_PCAS, T_BCAST, T_UNLOCK,
};

typedef struct head {  /* the head word, field by field */
    uint8_t idx, out, w, o;
    uint8_t tag;
} head;

typedef struct thr {
    uint8_t pc, op;          /* program counter inside a call, index of the call */
    uint8_t held[MAXS], nheld; /* slots held, a stack */
    uint8_t cur;             /* slot being pushed */
    head h;                  /* the head value read */
    uint8_t nx;              /* next read */
    uint8_t waiting, kept, got;
    uint8_t chain;           /* trim: the detached list still to walk */
} thr;

typedef struct state {
    head hd;
    uint8_t next[MAXS];
    uint8_t unbacked;        /* list of unbacked slots (linked by next) */
    int8_t mutex;            /* owner or -1 */
    uint8_t condset;         /* threads asleep on the condition variable */
    uint8_t waiters, holders, app_refs, closed, destroyed;
    uint8_t allocated;       /* backed slots (guarded by the lock) */
    int8_t owner[MAXS];        /* ghost: thread owning each slot, -1 */
    thr t[NT];
} state;

typedef struct config {
    const char *name;
    int tag_bits;            /* 0: no ABA tag */
    bool push_ignores_w;     /* mutant: a push never wakes a waiter */
    bool no_second_pop;      /* mutant: a waiter sleeps without popping once more */
    bool putout_early;       /* mutant: a push that wakes drops its out count in the CAS */
    int nslots;
    int min_frames;
    int app_refs;
    uint8_t prog[NT][MAXOPS];
} config;

static const config *cfg;
static char violation[256];
static bool uses_pool; /* set by a step that touches pool memory */

#define VIOLATE(...) \
    do { if (!violation[0]) snprintf(violation, sizeof(violation), __VA_ARGS__); } while (0)

static bool head_eq(head a, head b)
{
    return a.idx == b.idx && a.out == b.out && a.w == b.w && a.o == b.o && a.tag == b.tag;
}

static uint8_t tag_inc(uint8_t tag)
{
    return cfg->tag_bits ? (uint8_t)((tag + 1) & ((1u << cfg->tag_bits) - 1)) : 0;
}

static void destroy(state *s)
{
    if (s->destroyed)
        VIOLATE("the pool was freed twice");
    s->destroyed = 1;
}

static void take_slot(state *s, int t, int slot)
{
    if (s->owner[slot] != -1)
        VIOLATE("slot %d handed to thread %d while thread %d owns it", slot, t, s->owner[slot]);
    s->owner[slot] = (int8_t)t;
    thr *th = &s->t[t];
    th->held[th->nheld++] = (uint8_t)slot;
    th->got = 1;
}

/* After a call: on to the next one. */
static void done(thr *th)
{
    th->pc = P_NEXT;
    th->op++;
    /* Locals are dead between calls: forget them, so equal states compare equal. */
    memset(&th->h, 0, sizeof(th->h));
    th->nx = th->cur = th->waiting = th->got = 0;
}

/* One atomic step of thread t; false when it is blocked. */
static bool step(state *s, int t)
{
    thr *th = &s->t[t];
    uses_pool = true;
    switch (th->pc) {
    case P_DONE:
        return false;
    case P_NEXT: /* dispatch: thread-local */
        uses_pool = false;
        switch (cfg->prog[t][th->op]) {
        case END: th->pc = P_DONE; break;
        case ACQ: th->pc = A_CLOSED; th->got = 0; th->waiting = 0; break;
        case REL:
            if (!th->nheld) { /* its acquire failed (closed): nothing to release */
                th->op++;
                break;
            }
            th->cur = th->held[--th->nheld];
            th->held[th->nheld] = 0;
            th->pc = R_LOAD;
            break;
        case REL_MID:
            if (th->nheld < 2) {
                th->op++;
                break;
            }
            th->cur = th->held[1];
            memmove(&th->held[1], &th->held[2], (size_t)(th->nheld - 2));
            th->nheld--;
            th->held[th->nheld] = 0;
            th->pc = R_LOAD;
            break;
        case DROP: th->pc = D_REFS; break;
        case CLOSE: th->pc = C_LOCK; break;
        case TRIM: th->pc = T_LOCK; break;
        }
        return true;

    /* ---- acquire fast path: closed check, then freelist_pop */
    case A_CLOSED:
        th->pc = s->closed ? S_LOCK : A_LOAD;
        break;
    case A_LOAD:
        th->h = s->hd;
        th->pc = th->h.idx == NIL ? S_LOCK : A_NEXT;
        break;
    case A_NEXT:
        th->nx = s->next[th->h.idx];
        th->pc = A_CAS;
        break;
    case A_CAS:
        if (head_eq(s->hd, th->h)) {
            s->hd.idx = th->nx;
            s->hd.out++;
            s->hd.tag = tag_inc(s->hd.tag);
            take_slot(s, t, th->h.idx);
            done(th);
        } else {
            th->h = s->hd;
            th->pc = th->h.idx == NIL ? S_LOCK : A_NEXT;
        }
        break;

    /* ---- acquire_slow */
    case S_LOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = S_CLOSED;
        break;
    case S_CLOSED:
        th->pc = s->closed ? S_EXIT : S_LOAD;
        break;
    case S_LOAD:
        th->h = s->hd;
        th->pc = th->h.idx == NIL ? S_UNBACKED : S_NEXT;
        break;
    case S_NEXT:
        th->nx = s->next[th->h.idx];
        th->pc = S_CAS;
        break;
    case S_CAS:
        if (head_eq(s->hd, th->h)) {
            s->hd.idx = th->nx;
            s->hd.out++;
            s->hd.tag = tag_inc(s->hd.tag);
            take_slot(s, t, th->h.idx);
            th->pc = S_EXIT;
        } else {
            th->h = s->hd;
            th->pc = th->h.idx == NIL ? S_UNBACKED : S_NEXT;
        }
        break;
    case S_UNBACKED: /* guarded by the lock */
        if (s->unbacked != NIL) {
            th->cur = s->unbacked;
            s->unbacked = s->next[th->cur];
            th->pc = S_AUNLOCK;
        } else {
            th->pc = th->waiting ? S_WAIT : S_REG;
        }
        break;
    case S_AUNLOCK: /* unlock around the allocator */
        s->mutex = -1;
        th->pc = S_ARELOCK;
        break;
    case S_ARELOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = S_CLAIM;
        break;
    case S_CLAIM: /* allocated + 1; fl_claim: out + 1, tag + 1 */
        s->allocated++;
        s->hd.out++;
        s->hd.tag = tag_inc(s->hd.tag);
        take_slot(s, t, th->cur);
        th->pc = S_EXIT;
        break;
    case S_REG:
        th->waiting = 1;
        s->holders++;
        th->pc = S_REG2;
        break;
    case S_REG2: /* waiters is guarded by the lock; the fetch_or is one RMW */
        if (s->waiters++ == 0)
            s->hd.w = 1;
        th->pc = cfg->no_second_pop ? S_WAIT : S_LOAD;
        break;
    case S_WAIT: /* pthread_cond_wait: unlock and sleep, atomically */
        s->mutex = -1;
        s->condset |= (uint8_t)(1u << t);
        th->pc = S_SLEEP;
        break;
    case S_SLEEP:
        if (s->condset & (1u << t))
            return false;
        uses_pool = false;
        th->pc = S_RELOCK;
        break;
    case S_RELOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = S_CLOSED;
        break;
    case S_EXIT:
        if (th->waiting && --s->waiters == 0)
            s->hd.w = 0;
        th->pc = S_UNLOCK;
        break;
    case S_UNLOCK:
        s->mutex = -1;
        if (th->waiting)
            th->pc = S_DROPH;
        else
            done(th);
        break;
    case S_DROPH: /* drop_holder */
        if (s->holders-- == 1)
            th->pc = S_DROPH_O;
        else
            done(th);
        break;
    case S_DROPH_O: {
        head old = s->hd;
        s->hd.o = 1;
        if (old.out == 0)
            destroy(s);
        done(th);
        break;
    }

    /* ---- release: freelist_push */
    case R_LOAD:
        th->h = s->hd;
        th->pc = R_SETNEXT;
        break;
    case R_SETNEXT:
        s->next[th->cur] = th->h.idx;
        th->pc = R_CAS;
        break;
    case R_CAS:
        if (head_eq(s->hd, th->h)) {
            bool wake = th->h.w && !cfg->push_ignores_w;
            s->hd.idx = th->cur;
            if (!wake || cfg->putout_early)
                s->hd.out--;
            s->owner[th->cur] = -1;
            if (wake) {
                th->kept = !cfg->putout_early;
                th->pc = R_SIG_LOCK;
            } else {
                if (th->h.o && s->hd.out == 0)
                    destroy(s); /* O set: this was the pool's last frame */
                done(th);
            }
        } else {
            th->h = s->hd;
            th->pc = R_SETNEXT;
        }
        break;
    case R_SIG_LOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = R_SIG;
        break;
    case R_SIG: /* pthread_cond_signal: wakes one sleeper (the other thread, with two) */
        for (int u = 0; u < NT; u++)
            if (s->condset & (1u << u)) {
                s->condset &= (uint8_t)~(1u << u);
                break;
            }
        th->pc = R_SIG_UNLOCK;
        break;
    case R_SIG_UNLOCK:
        s->mutex = -1;
        if (th->kept) {
            th->pc = R_PUTOUT;
        } else {
            done(th);
        }
        break;
    case R_PUTOUT: { /* freelist_put_out */
        head old = s->hd;
        s->hd.out--;
        th->kept = 0;
        if (old.out == 1 && old.o)
            destroy(s);
        done(th);
        break;
    }

    /* ---- fp_pool_unref */
    case D_REFS:
        if (s->app_refs-- == 1)
            th->pc = D_LOCK;
        else
            done(th);
        break;
    case D_LOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = D_CLOSE;
        break;
    case D_CLOSE:
        s->closed = 1;
        s->condset = 0; /* broadcast */
        th->pc = D_UNLOCK;
        break;
    case D_UNLOCK:
        s->mutex = -1;
        th->pc = D_LEAK;
        break;
    case D_LEAK: /* the leak report reads every slot */
        th->pc = D_HOLDER;
        break;
    case D_HOLDER:
        if (s->holders-- == 1)
            th->pc = D_O;
        else
            done(th);
        break;
    case D_O: {
        head old = s->hd;
        s->hd.o = 1;
        if (old.out == 0)
            destroy(s);
        done(th);
        break;
    }

    /* ---- fp_pool_close */
    case C_LOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = C_CLOSE;
        break;
    case C_CLOSE:
        s->closed = 1;
        s->condset = 0;
        th->pc = C_UNLOCK;
        break;
    case C_UNLOCK:
        s->mutex = -1;
        done(th);
        break;

    /* ---- fp_pool_trim */
    case T_LOCK:
        if (s->mutex != -1)
            return false;
        s->mutex = (int8_t)t;
        th->pc = T_LOAD;
        break;
    case T_LOAD:
        th->h = s->hd;
        th->pc = T_CAS;
        break;
    case T_CAS: /* fl_detach_all: idx -> NIL, tag + 1 */
        if (head_eq(s->hd, th->h)) {
            th->chain = s->hd.idx;
            s->hd.idx = NIL;
            s->hd.tag = tag_inc(s->hd.tag);
            th->pc = T_WALK;
        } else {
            th->h = s->hd;
        }
        break;
    case T_WALK: /* one detached slot (a local list: no shared access but the slot's link) */
        if (th->chain == NIL) {
            th->pc = T_BCAST;
            break;
        }
        th->cur = th->chain;
        th->chain = s->next[th->cur];
        if (s->allocated > cfg->min_frames) {
            s->allocated--;
            s->next[th->cur] = s->unbacked;
            s->unbacked = th->cur;
        } else {
            th->pc = T_PLOAD;
        }
        break;
    case T_PLOAD:
        th->h = s->hd;
        th->pc = T_PSET;
        break;
    case T_PSET:
        s->next[th->cur] = th->h.idx;
        th->pc = T_PCAS;
        break;
    case T_PCAS: /* fl_push_idle: out unchanged */
        if (head_eq(s->hd, th->h)) {
            s->hd.idx = th->cur;
            th->cur = NIL;
            th->pc = T_WALK;
        } else {
            th->h = s->hd;
            th->pc = T_PSET;
        }
        break;
    case T_BCAST:
        if (s->waiters)
            s->condset = 0;
        th->pc = T_UNLOCK;
        break;
    case T_UNLOCK:
        s->mutex = -1;
        th->chain = 0;
        done(th);
        break;
    }
    return true;
}

static void check_state(const state *s)
{
    if (s->destroyed)
        return;
    /* A slot being pushed is still owned (its ghost owner goes with the
     * CAS); one taken off the unbacked list is owned with the claim. */
    int owned = 0, claiming = 0, kept = 0, unbacked = 0, free_n = 0, trimming = 0;
    const int NS = cfg->nslots;
    bool seen[MAXS] = { false };
    for (int i = 0; i < NS; i++)
        owned += s->owner[i] != -1;
    for (int t = 0; t < NT; t++) {
        int pc = s->t[t].pc;
        claiming += pc == S_CLAIM || pc == S_AUNLOCK || pc == S_ARELOCK;
        kept += s->t[t].kept;
        /* detached by a trim: its local chain and the slot it is pushing back */
        if (pc == T_WALK || pc == T_PLOAD || pc == T_PSET || pc == T_PCAS) {
            for (int i = s->t[t].chain, k = 0; i != NIL && k <= NS; i = s->next[i], k++)
                trimming++;
            trimming += pc != T_WALK;
        }
    }
    for (int i = s->unbacked, k = 0; i != NIL && k <= NS; i = s->next[i], k++)
        unbacked++;
    int i = s->hd.idx;
    for (int k = 0; i != NIL; i = s->next[i], k++) {
        if (k >= NS || seen[i]) {
            VIOLATE("the free list has a cycle");
            return;
        }
        seen[i] = true;
        free_n++;
        if (s->owner[i] != -1)
            VIOLATE("slot %d is on the free list while thread %d owns it", i, s->owner[i]);
    }
    if (free_n + owned + claiming + unbacked + trimming != NS)
        VIOLATE("slots lost or duplicated: %d free + %d owned + %d being claimed + %d unbacked + %d trimmed != %d",
                free_n, owned, claiming, unbacked, trimming, NS);
    if (s->allocated + unbacked + claiming != NS)
        VIOLATE("allocated %d + unbacked %d + being backed %d != %d slots", s->allocated, unbacked, claiming, NS);
    if (s->hd.out != owned + kept)
        VIOLATE("out %d != %d owned + %d kept for a wake-up", s->hd.out, owned, kept);
}

/* ------------------------------------------------------------------------- */
/* Search                                                                    */

typedef struct node {
    state s;
    uint32_t parent;
    int8_t by;
} node;

static node *nodes;
static size_t nnodes, cap_nodes;
static uint32_t *table;
static size_t table_cap;

static uint64_t hash_state(const state *s)
{
    const uint8_t *p = (const uint8_t *)s;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(*s); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void table_grow(void);

/* Returns the node index of s, adding it when new (*fresh). */
static uint32_t intern(const state *s, uint32_t parent, int by, bool *fresh)
{
    if (nnodes * 2 >= table_cap)
        table_grow();
    size_t i = hash_state(s) & (table_cap - 1);
    while (table[i]) {
        if (!memcmp(&nodes[table[i] - 1].s, s, sizeof(*s))) {
            *fresh = false;
            return table[i] - 1;
        }
        i = (i + 1) & (table_cap - 1);
    }
    if (nnodes == cap_nodes) {
        cap_nodes = cap_nodes ? cap_nodes * 2 : 1 << 16;
        nodes = realloc(nodes, cap_nodes * sizeof(*nodes));
        if (!nodes)
            abort();
    }
    nodes[nnodes].s = *s;
    nodes[nnodes].parent = parent;
    nodes[nnodes].by = (int8_t)by;
    table[i] = (uint32_t)++nnodes;
    *fresh = true;
    return (uint32_t)(nnodes - 1);
}

static void table_grow(void)
{
    size_t old_cap = table_cap;
    uint32_t *old = table;
    table_cap = table_cap ? table_cap * 2 : 1 << 17;
    table = calloc(table_cap, sizeof(*table));
    if (!table)
        abort();
    for (size_t k = 0; k < old_cap; k++) {
        if (!old[k])
            continue;
        size_t i = hash_state(&nodes[old[k] - 1].s) & (table_cap - 1);
        while (table[i])
            i = (i + 1) & (table_cap - 1);
        table[i] = old[k];
    }
    free(old);
}

static const char *pc_name(int pc)
{
    static const char *names[] = {
        "next-call", "done", "A_CLOSED", "A_LOAD", "A_NEXT", "A_CAS", "S_LOCK", "S_CLOSED", "S_LOAD",
        "S_NEXT", "S_CAS", "S_UNBACKED", "S_CLAIM", "S_REG", "S_REG2", "S_WAIT", "S_SLEEP", "S_RELOCK",
        "S_EXIT", "S_UNLOCK", "S_DROPH", "S_DROPH_O", "S_AUNLOCK", "S_ARELOCK", "R_LOAD", "R_SETNEXT", "R_CAS", "R_SIG_LOCK", "R_SIG",
        "R_SIG_UNLOCK", "R_PUTOUT", "D_REFS", "D_LOCK", "D_CLOSE", "D_UNLOCK", "D_LEAK", "D_HOLDER", "D_O",
        "C_LOCK", "C_CLOSE", "C_UNLOCK", "T_LOCK", "T_LOAD", "T_CAS", "T_WALK", "T_PLOAD", "T_PSET", "T_PCAS",
        "T_BCAST", "T_UNLOCK",
    };
    return pc >= 0 && pc < (int)(sizeof(names) / sizeof(names[0])) ? names[pc] : "?";
}

static void print_trace(uint32_t n)
{
    uint32_t path[4096];
    int len = 0;
    while (n != 0 && len < 4096) {
        path[len++] = n;
        n = nodes[n].parent;
    }
    fprintf(stderr, "  trace (%d steps, thread: step taken):\n", len);
    for (int k = len - 1; k >= 0; k--) {
        const node *nd = &nodes[path[k]];
        const node *pr = &nodes[nd->parent];
        fprintf(stderr, "    T%d: %-12s -> head{idx %d out %d W %d O %d tag %d}\n", nd->by,
                pc_name(pr->s.t[nd->by].pc), nd->s.hd.idx == NIL ? -1 : nd->s.hd.idx, nd->s.hd.out,
                nd->s.hd.w, nd->s.hd.o, nd->s.hd.tag);
    }
}

typedef struct result {
    size_t states, transitions, finals;
    bool ok;
} result;

static result explore(const config *c, bool verbose)
{
    cfg = c;
    violation[0] = '\0';
    nnodes = 0;
    free(table);
    table = NULL;
    table_cap = 0;

    state init;
    memset(&init, 0, sizeof(init));
    init.hd.idx = NIL;
    init.mutex = -1;
    init.holders = 1;
    init.app_refs = (uint8_t)c->app_refs;
    init.unbacked = NIL;
    init.allocated = (uint8_t)c->min_frames;
    for (int i = 0; i < MAXS; i++) {
        init.owner[i] = i < c->nslots ? -1 : 0; /* slots past nslots do not exist */
        init.next[i] = NIL;
    }
    /* min_frames backed and on the free list (slot 0 on top); the rest unbacked, linked 0.. */
    for (int i = c->nslots - 1; i >= c->min_frames; i--) {
        init.next[i] = init.unbacked;
        init.unbacked = (uint8_t)i;
    }
    for (int i = c->min_frames - 1; i >= 0; i--) {
        init.next[i] = init.hd.idx;
        init.hd.idx = (uint8_t)i;
    }

    result r = { 0, 0, 0, true };
    bool fresh;
    intern(&init, 0, -1, &fresh);
    uint32_t *stack = malloc(sizeof(uint32_t) * 64);
    size_t sp = 0, scap = 64;
    stack[sp++] = 0;
    while (sp) {
        uint32_t n = stack[--sp];
        state cur = nodes[n].s;
        bool any = false;
        for (int t = 0; t < NT; t++) {
            state nx = cur;
            if (!step(&nx, t))
                continue;
            any = true;
            r.transitions++;
            if (cur.destroyed && uses_pool)
                VIOLATE("thread %d touched the pool after it was freed (at %s)", t, pc_name(cur.t[t].pc));
            check_state(&nx);
            uint32_t m = intern(&nx, n, t, &fresh);
            if (violation[0]) {
                if (verbose) {
                    fprintf(stderr, "VIOLATION: %s\n", violation);
                    print_trace(m);
                }
                r.ok = false;
                goto out;
            }
            if (fresh) {
                if (sp == scap) {
                    scap *= 2;
                    stack = realloc(stack, scap * sizeof(*stack));
                    if (!stack)
                        abort();
                }
                stack[sp++] = m;
            }
        }
        if (!any) {
            r.finals++;
            for (int t = 0; t < NT; t++)
                if (cur.t[t].pc != P_DONE)
                    VIOLATE("thread %d is stuck at %s with no step possible (lost wake-up or deadlock)", t,
                            pc_name(cur.t[t].pc));
            if (!violation[0] && !cur.destroyed)
                VIOLATE("every call returned but the pool was never freed");
            if (violation[0]) {
                if (verbose) {
                    fprintf(stderr, "VIOLATION: %s\n", violation);
                    print_trace(n);
                }
                r.ok = false;
                goto out;
            }
        }
    }
out:
    r.states = nnodes;
    free(stack);
    return r;
}

int main(void)
{
    /* T0 holds up to both slots and drops its reference before its last
     * releases (frames keep the pool); T1 has to wait when T0 holds both. */
    const config scenarios[] = {
        { .name = "own references, both slots preallocated", .tag_bits = 8, .nslots = 2, .min_frames = 2, .app_refs = 2,
          .prog = { { ACQ, ACQ, REL, ACQ, DROP, REL, REL }, { ACQ, REL, ACQ, DROP, REL } } },
        { .name = "own references, lazy growth (min_frames 0)", .tag_bits = 8, .nslots = 2, .min_frames = 0, .app_refs = 2,
          .prog = { { ACQ, ACQ, REL, ACQ, DROP, REL, REL }, { ACQ, REL, ACQ, DROP, REL } } },
        { .name = "close while the other thread waits", .tag_bits = 8, .nslots = 2, .min_frames = 1, .app_refs = 2,
          .prog = { { ACQ, ACQ, CLOSE, REL, REL, DROP }, { ACQ, REL, ACQ, REL, DROP } } },
        { .name = "three rounds each", .tag_bits = 8, .nslots = 2, .min_frames = 2, .app_refs = 2,
          .prog = { { ACQ, ACQ, REL, REL, ACQ, REL, DROP }, { ACQ, REL, ACQ, REL, ACQ, DROP, REL } } },
        { .name = "three slots, out-of-order releases", .tag_bits = 8, .nslots = 3, .min_frames = 3,
          .app_refs = 2, .prog = { { ACQ, ACQ, ACQ, REL_MID, REL, REL, DROP }, { ACQ, REL, DROP } } },
        { .name = "three slots, lazy growth, both hold two", .tag_bits = 8, .nslots = 3, .min_frames = 1,
          .app_refs = 2, .prog = { { ACQ, ACQ, REL_MID, ACQ, REL, DROP, REL }, { ACQ, ACQ, REL, REL, DROP } } },
        { .name = "trim while the other thread cycles", .tag_bits = 8, .nslots = 2, .min_frames = 1,
          .app_refs = 2, .prog = { { ACQ, ACQ, REL, TRIM, REL, TRIM, DROP }, { ACQ, REL, ACQ, REL, DROP } } },
        { .name = "trim against a waiter, lazy growth", .tag_bits = 8, .nslots = 2, .min_frames = 0,
          .app_refs = 2, .prog = { { ACQ, ACQ, TRIM, REL, REL, DROP }, { ACQ, REL, TRIM, DROP } } },
    };
    const config mutants[] = {
        { .name = "no ABA tag (3 slots)", .tag_bits = 0, .nslots = 3, .min_frames = 3, .app_refs = 2,
          .prog = { { ACQ, ACQ, ACQ, REL_MID, REL, REL, DROP }, { ACQ, REL, DROP } } },
        { .name = "a push ignores W (never wakes)", .tag_bits = 8, .push_ignores_w = true, .nslots = 2,
          .min_frames = 2, .app_refs = 2, .prog = { { ACQ, ACQ, REL, ACQ, DROP, REL, REL }, { ACQ, REL, ACQ, DROP, REL } } },
        { .name = "a waiter sleeps without popping again", .tag_bits = 8, .no_second_pop = true,
          .nslots = 2, .min_frames = 2, .app_refs = 2,
          .prog = { { ACQ, ACQ, REL, ACQ, DROP, REL, REL }, { ACQ, REL, ACQ, DROP, REL } } },
        { .name = "a waking push drops its out count first", .tag_bits = 8, .putout_early = true,
          .nslots = 2, .min_frames = 2, .app_refs = 2,
          .prog = { { ACQ, ACQ, REL, ACQ, DROP, REL, REL }, { ACQ, REL, ACQ, DROP, REL } } },
    };
    int failures = 0;
    size_t total = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        result r = explore(&scenarios[i], true);
        total += r.states;
        printf("model: %-45s %8zu states %9zu transitions %6zu final: %s\n", scenarios[i].name, r.states,
               r.transitions, r.finals, r.ok ? "no violation" : "VIOLATION");
        failures += !r.ok;
    }
    for (size_t i = 0; i < sizeof(mutants) / sizeof(mutants[0]); i++) {
        result r = explore(&mutants[i], false);
        total += r.states;
        printf("mutant: %-44s %8zu states: %s%s\n", mutants[i].name, r.states,
               r.ok ? "NOT CAUGHT" : "caught: ", r.ok ? "" : violation);
        failures += r.ok;
    }
    printf("model: %zu states explored in all, %s\n", total, failures ? "FAILED" : "protocol verified");
    free(nodes);
    free(table);
    return failures ? 1 : 0;
}
