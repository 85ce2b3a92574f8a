/* heap: hand freed heap memory back to the OS. After a burst of flows
 * closes, the allocator keeps their pages; the daemon asks for them to be
 * released so RSS returns to its idle level. */
#ifndef T2S_HEAP_H
#define T2S_HEAP_H

#include <stddef.h>

/* Called once at startup: tunes the allocator for the data path. */
void heap_init(void);
void heap_release(void);

/* Bytes the allocator has handed out and not had back (what the daemon's
 * flows, buffers, lwIP and c-ares hold). Cheap enough for a timer. */
size_t heap_in_use(void);

/* The process's resident set in bytes, 0 where unknown. Reads a file on
 * Linux: for startup, not the loop. */
size_t heap_rss(void);

#endif
