/* reaper: frees released objects on a later loop iteration, never inside
 * the callback that released them (lwIP, libuv or a forwarder may still
 * be on their way out of one). TCP flows, UDP sessions and DNS-over-TCP
 * clients share it: each embeds a struct reaper_node and is handed over
 * when its last reference goes.
 */
#ifndef T2S_REAPER_H
#define T2S_REAPER_H

#include <stddef.h>

#include <uv.h>
#include "tun2socks/base/must_check.h"

struct reaper_node {
	struct reaper_node *next;
};

typedef void reaper_free_fn(struct reaper_node *n);

struct reaper {
	uv_check_t check; /* runs after every poll phase */
	struct reaper_node *head;
	reaper_free_fn *free_fn;
};

/* The object holding member `m` of type `type` at node n. */
#define reaper_owner(n, type, m) ((type *)((char *)(n)-offsetof(type, m)))

/* 0 or a libuv error; on an error nothing is registered with the loop. */
T2S_MUST_CHECK int reaper_init(struct reaper *r, uv_loop_t *loop, reaper_free_fn *free_fn);
/* n's object is freed on the next loop iteration. */
void reaper_defer(struct reaper *r, struct reaper_node *n);
/* Stops the handle (the loop must run on to finish closing it). */
void reaper_close(struct reaper *r);
/* Frees everything deferred so far: at the end, after the loop stopped. */
void reaper_flush(struct reaper *r);

#endif
