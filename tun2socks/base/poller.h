/* poller: readiness of many sockets through one libuv handle.
 *
 * A uv_poll_t per socket costs system calls that have nothing to do with
 * the traffic: libuv probes each new handle (an epoll_ctl ADD and DEL and
 * an ioctl), re-registers it on every change of interest (DEL + ADD) and
 * removes it again twice on close. For a short connection that is nine
 * epoll_ctl, a quarter of the daemon's system calls (docs/design.md §15).
 * On Linux a poller keeps its own epoll set, itself watched by one libuv
 * handle: a socket costs one epoll_ctl per change of interest and none at
 * close (the kernel drops a closed socket from the set). Elsewhere each
 * watch is a uv_poll_t, as before.
 *
 * The semantics are uv_poll's: level-triggered; events UV_READABLE,
 * UV_WRITABLE, UV_DISCONNECT; a socket error comes as status UV_EBADF with
 * no events (sock_poll_error() tells the reason) and stops the watch
 * (events 0) until the next poller_watch_set().
 *
 * Lifetimes: poller_watch_close() stops w at once, even in the middle of a
 * batch of events (nothing more is delivered to it), so the caller may
 * close the socket as soon as it returns; w's memory stays the poller's
 * until the close callback, which always runs later on the loop, never
 * under the caller.
 */
#ifndef T2S_POLLER_H
#define T2S_POLLER_H

#include <uv.h>

#include "tun2socks/base/must_check.h"

struct poller;
struct poller_watch;

typedef void poller_cb(struct poller_watch *w, int status, int events);
typedef void poller_close_cb(struct poller_watch *w);

/* Embedded by its owner. Every field but data is the poller's; opening
 * clears them all, data too: set it after poller_watch_open(). */
struct poller_watch {
	void *data; /* the owner's */
	struct poller *p;
	poller_cb *cb;
	poller_close_cb *close_cb;
	struct poller_watch *next_closed;
	int fd;
	int events;  /* asked for now; Linux: in the epoll set iff not 0 */
	uv_poll_t h; /* elsewhere: the libuv handle that watches fd */
};

/* 0 or -errno (a libuv error is one). */
T2S_MUST_CHECK int poller_new(uv_loop_t *loop, struct poller **out);
/* At shutdown, every watch closed: close callbacks still pending run
 * here, before it returns (the one exception to the rule above), or at
 * the latest while the loop closes its handles. The memory goes once the
 * loop has closed them: run it on. */
void poller_close(struct poller *p);

/* Watches fd (non-blocking; made so) with no events yet. 0 or -errno; on
 * an error w is not open and needs no close. */
T2S_MUST_CHECK int poller_watch_open(struct poller *p, struct poller_watch *w, int fd,
				     poller_cb *cb);
/* Events to deliver from now on (0: none). 0 or -errno (the kernel's
 * set is full: the watch keeps its previous events). */
T2S_MUST_CHECK int poller_watch_set(struct poller_watch *w, int events);
/* See the lifetimes above. cb may be NULL. */
void poller_watch_close(struct poller_watch *w, poller_close_cb *cb);

#endif
