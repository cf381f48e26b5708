/*
 * The floor stacks (see floor.h).
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "floor.h"

#define NIL UINT32_MAX

static floor_node *nodes_new(uint32_t n, void **items)
{
    floor_node *nodes = NULL;
    if (posix_memalign((void **)&nodes, 64, sizeof(*nodes) * n))
        return NULL;
    memset(nodes, 0, sizeof(*nodes) * n);
    for (uint32_t i = 0; i < n; i++) {
        nodes[i].idx = i;
        nodes[i].item = items ? items[i] : NULL;
        atomic_init(&nodes[i].next, i + 1 < n ? i + 1 : NIL);
    }
    return nodes;
}

int floor_lf_init(floor_lf *s, uint32_t n, void **items)
{
    memset(s, 0, sizeof(*s));
    s->nodes = nodes_new(n, items);
    if (!s->nodes)
        return -1;
    s->n = n;
    atomic_init(&s->head, n ? 0 : NIL); /* tag 0, top = node 0 */
    return 0;
}

void floor_lf_free(floor_lf *s)
{
    free(s->nodes);
    s->nodes = NULL;
}

floor_node *floor_lf_pop(floor_lf *s)
{
    uint64_t h = atomic_load_explicit(&s->head, memory_order_acquire), nh;
    uint32_t idx;
    do {
        idx = (uint32_t)h;
        if (idx == NIL)
            return NULL;
        uint32_t next = atomic_load_explicit(&s->nodes[idx].next, memory_order_relaxed);
        nh = (((h >> 32) + 1) << 32) | next;
    } while (!atomic_compare_exchange_weak_explicit(&s->head, &h, nh, memory_order_acquire,
                                                    memory_order_acquire));
    return &s->nodes[idx];
}

void floor_lf_push(floor_lf *s, floor_node *node)
{
    uint64_t h = atomic_load_explicit(&s->head, memory_order_relaxed), nh;
    do {
        atomic_store_explicit(&node->next, (uint32_t)h, memory_order_relaxed);
        nh = (h & ~(uint64_t)UINT32_MAX) | node->idx;
    } while (!atomic_compare_exchange_weak_explicit(&s->head, &h, nh, memory_order_release,
                                                    memory_order_relaxed));
}

floor_node *floor_rc_acquire(floor_lf *s)
{
    floor_node *node = floor_lf_pop(s);
    if (node)
        atomic_store_explicit(&node->refs, 1, memory_order_relaxed);
    return node;
}

int floor_rc_release(floor_lf *s, floor_node *node)
{
    int v = atomic_load_explicit(&node->refs, memory_order_relaxed);
    do {
        if (v <= 0)
            return -1;
    } while (!atomic_compare_exchange_weak_explicit(&node->refs, &v, v - 1, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (v == 1)
        floor_lf_push(s, node);
    return 0;
}

int floor_mx_init(floor_mx *s, uint32_t n, void **items)
{
    memset(s, 0, sizeof(*s));
    s->nodes = nodes_new(n, items);
    s->stack = malloc(sizeof(*s->stack) * (n ? n : 1));
    if (!s->nodes || !s->stack || pthread_mutex_init(&s->lock, NULL)) {
        free(s->nodes);
        free(s->stack);
        return -1;
    }
    s->n = n;
    for (uint32_t i = 0; i < n; i++)
        s->stack[i] = &s->nodes[n - 1 - i]; /* node 0 on top */
    s->top = n;
    return 0;
}

void floor_mx_free(floor_mx *s)
{
    pthread_mutex_destroy(&s->lock);
    free(s->nodes);
    free(s->stack);
    s->nodes = NULL;
    s->stack = NULL;
}

floor_node *floor_mx_pop(floor_mx *s)
{
    floor_node *node = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->top)
        node = s->stack[--s->top];
    pthread_mutex_unlock(&s->lock);
    return node;
}

void floor_mx_push(floor_mx *s, floor_node *node)
{
    pthread_mutex_lock(&s->lock);
    s->stack[s->top++] = node;
    pthread_mutex_unlock(&s->lock);
}
