/*
 * The floor: the least a pool of preallocated buffers can do per
 * acquire+release, for comparison only. A bare tagged lock-free stack and a
 * bare mutex-protected stack of nodes that each point at a buffer: no
 * refcounts, no tracking, no stats, no waiting, no lifetime.
 *
 * Both live in their own translation unit (floor.c), so a pop or a push is an
 * out-of-line call, as it would be in a library; framepool's calls go through
 * the PLT of libframepool.so on top of that.
 * SPDX-License-Identifier: MIT
 */
#ifndef FP_BENCH_FLOOR_H
#define FP_BENCH_FLOOR_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

/** A stack entry; one per cache line, like framepool's slots (which take three). */
typedef struct floor_node {
    alignas(64) _Atomic uint32_t next; ///< index of the next free node (lock-free stack)
    uint32_t idx;                      ///< own index
    void *item;                        ///< the buffer this node stands for
    _Atomic int refs;                  ///< floor_rc_* only: references held
} floor_node;

/**
 * Treiber stack with an ABA tag: the head word is {top index: 32, tag: 32}.
 * Every pop increments the tag, so a pop that read {top, next} before another
 * thread's pop/push/pop of the same node fails its CAS (the tag would have to
 * wrap 2^32 times in between). Nodes are never freed, so reading a popped
 * node's `next` is a stale read, never a use after free.
 */
typedef struct floor_lf {
    alignas(64) _Atomic uint64_t head;
    alignas(64) floor_node *nodes;
    uint32_t n;
} floor_lf;

/** A stack of node pointers under a pthread mutex. */
typedef struct floor_mx {
    alignas(64) pthread_mutex_t lock;
    floor_node **stack;
    uint32_t top;
    floor_node *nodes;
    uint32_t n;
} floor_mx;

/** Both return 0, or -1 when out of memory. `items` may be NULL. */
int floor_lf_init(floor_lf *s, uint32_t n, void **items);
int floor_mx_init(floor_mx *s, uint32_t n, void **items);
void floor_lf_free(floor_lf *s);
void floor_mx_free(floor_mx *s);

/** Pop returns NULL when empty; push takes a node that pop returned. */
floor_node *floor_lf_pop(floor_lf *s);
void floor_lf_push(floor_lf *s, floor_node *node);
/**
 * The floor of a *reference-counted* pool: floor_lf_pop plus setting the
 * count to 1, and a release that drops the count with a CAS (so that two
 * threads releasing the same last reference cannot both push the node; a
 * release at count 0 returns -1) before floor_lf_push. Three atomic
 * read-modify-writes per cycle, as in any refcounted pool that survives a
 * concurrent double release; still no tracking, stats, waiting or lifetime.
 */
floor_node *floor_rc_acquire(floor_lf *s);
int floor_rc_release(floor_lf *s, floor_node *node);
floor_node *floor_mx_pop(floor_mx *s);
void floor_mx_push(floor_mx *s, floor_node *node);

#endif /* FP_BENCH_FLOOR_H */
