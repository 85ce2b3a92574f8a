/* arena: a bump allocator for objects that all die together (a loaded
 * config, a compiled rule engine): no per-object free, one walk over the
 * blocks at the end.
 *
 * A zeroed struct arena is empty and ready. Allocations are zeroed and
 * aligned for any type (alignof(max_align_t)); a request larger than a
 * block gets a block of its own. Not thread-safe.
 */
#ifndef T2S_ARENA_H
#define T2S_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head; /* the block being filled; NULL: empty */
};

/* n zeroed bytes (n may be 0: a distinct pointer still), or NULL when out
 * of memory. */
void *arena_alloc(struct arena *a, size_t n);

/* s[0, n) and a NUL, or NULL when out of memory. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* A copy of NUL-terminated s, or NULL when out of memory. */
char *arena_strdup(struct arena *a, const char *s);

/* Frees every block: whatever was allocated is gone, and a is empty (and
 * usable) again. */
void arena_free(struct arena *a);

#endif
