/* stack_mem: lwIP's heap (MEM_CUSTOM_ALLOCATOR, lwipopts.h).
 *
 * Every segment lwIP queues is a pbuf of about one MSS and a tcp_seg, both
 * allocated when the relay writes and freed when the client ACKs: at
 * 4 Gbit/s and MTU 1500 that is 700 000 malloc/free pairs a second, of a
 * size (1.5 KiB) past glibc's per-thread cache, which took 15% of the
 * daemon's CPU in its own locking and bin sorting. This keeps freed blocks
 * on one free list per size class (four classes per power of two, so at
 * most a quarter is wasted) for the next allocation of that class.
 *
 * Bounded: at most STACK_MEM_CACHE_MAX bytes stay cached, and
 * stack_mem_decay() (the daemon calls it every 2 s) gives back what a class
 * did not need since the last call, so the cache is empty two calls after
 * traffic stops. Built without the cache (plain malloc/free) under ASan
 * and for fuzzing, so reuse cannot hide a use-after-free.
 *
 * lwIP's allocator hooks take no context, and lwIP has one instance per
 * process: the cache is process-global, used only on the loop thread.
 */
#ifndef T2S_STACK_MEM_H
#define T2S_STACK_MEM_H

#include <stdbool.h>
#include <stddef.h>

#define STACK_MEM_CACHE_MAX (8u << 20)

/* malloc/free/calloc for lwIP. */
void *stack_mem_alloc(size_t size);
void stack_mem_free(void *p);
void *stack_mem_calloc(size_t n, size_t size);

/* Frees, per class, the blocks that stayed unused since the last call.
 * Returns the bytes given back to malloc. */
size_t stack_mem_decay(void);

/* Frees every cached block (at exit, and before malloc_trim). */
void stack_mem_drain(void);

/* Bytes cached now; whether this build caches at all. */
size_t stack_mem_cached(void);
bool stack_mem_caching(void);

#endif
