/* poller (Linux): an epoll set of our own, watched by one libuv handle.
 * See poller.h.
 *
 * Invariants:
 * - watches[fd] is the open watch of fd, else NULL. The set is keyed by
 *   fd (epoll_data.fd), as libuv's is: an event for an fd nobody watches
 *   (its watch closed, the socket not yet closed) drops it from the set.
 * - A watch with events 0 is not in the set: the kernel reports a hang-up
 *   or an error whatever the mask, and level-triggered that would wake the
 *   loop on every turn while nobody listens.
 * - While a batch is delivered, closing a watch blanks its fd in the rest
 *   of the batch, so the socket may be closed and its number reused for a
 *   new watch at once without the new one seeing the old one's events.
 */
#include "tun2socks/base/poller.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tun2socks/base/log.h"

#define POLLER_BATCH 64

struct poller {
	uv_loop_t *loop;
	int epfd;
	uv_poll_t h;    /* readable while the set holds a ready socket */
	uv_idle_t idle; /* started while close callbacks wait */
	int handles;    /* libuv handles not yet closed */
	bool closing;
	struct poller_watch **watches; /* by fd */
	int cap;
	struct poller_watch *closed; /* close callbacks to run */
	struct epoll_event *batch;   /* the batch being delivered, else NULL */
	int batch_n, batch_pos;
};

static void poller_on_ready(uv_poll_t *h, int status, int events);
static void poller_on_idle(uv_idle_t *h);
static void poller_run_closed(struct poller *p);

static void poller_on_handle_closed(uv_handle_t *h)
{
	struct poller *p = h->data;

	if (--p->handles > 0)
		return;
	/* libuv has forgotten the epoll fd only now. */
	(void)close(p->epfd);
	free(p->watches);
	free(p);
}

static void poller_close_handles(struct poller *p)
{
	uv_close((uv_handle_t *)&p->h, poller_on_handle_closed);
	uv_close((uv_handle_t *)&p->idle, poller_on_handle_closed);
}

int poller_new(uv_loop_t *loop, struct poller **out)
{
	struct poller *p;
	int r;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		r = -errno;
		goto fail;
	}
	r = uv_poll_init(loop, &p->h, p->epfd);
	if (r < 0)
		goto fail; /* nothing registered with the loop */
	p->h.data = p;
	/* uv_idle_init cannot fail. */
	(void)uv_idle_init(loop, &p->idle);
	p->idle.data = p;
	p->handles = 2;
	r = uv_poll_start(&p->h, UV_READABLE, poller_on_ready);
	if (r < 0) {
		poller_close(p); /* frees p once libuv is done with it */
		return r;
	}
	*out = p;
	return 0;
fail:
	if (p->epfd >= 0)
		(void)close(p->epfd);
	free(p);
	return r;
}

void poller_close(struct poller *p)
{
	if (p == NULL)
		return;
	p->closing = true;
	/* Now, not from the idle handle: a caller shutting down may close
	 * every handle of the loop next (uv_walk), ours with them. */
	while (p->closed != NULL)
		poller_run_closed(p);
	poller_close_handles(p);
}

static int poller_grow(struct poller *p, int fd)
{
	struct poller_watch **n;
	int cap = p->cap > 0 ? p->cap : 64;

	while (cap <= fd)
		cap *= 2;
	if (cap == p->cap)
		return 0;
	n = realloc(p->watches, (size_t)cap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	for (int i = p->cap; i < cap; i++)
		n[i] = NULL;
	p->watches = n;
	p->cap = cap;
	return 0;
}

int poller_watch_open(struct poller *p, struct poller_watch *w, int fd, poller_cb *cb)
{
	int r;

	*w = (struct poller_watch){ .p = p, .cb = cb, .fd = fd };
	if (fd < 0 || cb == NULL || p->closing)
		return -EINVAL;
	r = poller_grow(p, fd);
	if (r < 0)
		return r;
	if (p->watches[fd] != NULL)
		return -EEXIST;
	p->watches[fd] = w;
	return 0;
}

static uint32_t poller_epoll_events(int events)
{
	uint32_t e = 0;

	if (events & UV_READABLE)
		e |= EPOLLIN;
	if (events & UV_WRITABLE)
		e |= EPOLLOUT;
	if (events & UV_DISCONNECT)
		e |= EPOLLRDHUP;
	return e;
}

/* Out of the set (see the invariants). */
static void poller_stop(struct poller_watch *w)
{
	struct epoll_event ev = { 0 };

	/* Fails only for a socket that left the set already (ENOENT) or is
	 * closed (EBADF): either way it is out. */
	if (w->events != 0)
		(void)epoll_ctl(w->p->epfd, EPOLL_CTL_DEL, w->fd, &ev);
	w->events = 0;
}

int poller_watch_set(struct poller_watch *w, int events)
{
	struct poller *p = w->p;
	struct epoll_event ev = { .events = poller_epoll_events(events), .data.fd = w->fd };
	int op = w->events != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	events &= UV_READABLE | UV_WRITABLE | UV_DISCONNECT;
	if (events == w->events)
		return 0;
	if (events == 0) {
		poller_stop(w);
		return 0;
	}
	if (epoll_ctl(p->epfd, op, w->fd, &ev) < 0) {
		/* Still in the set from a watch closed before its socket
		 * (EEXIST), or dropped from it after an error (ENOENT). */
		if (errno == EEXIST || errno == ENOENT)
			op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		else
			return -errno;
		if (epoll_ctl(p->epfd, op, w->fd, &ev) < 0)
			return -errno;
	}
	w->events = events;
	return 0;
}

void poller_watch_close(struct poller_watch *w, poller_close_cb *cb)
{
	struct poller *p = w->p;

	/* Stays in the set until its socket closes, which the caller does
	 * now: the kernel then drops it without a system call. */
	p->watches[w->fd] = NULL;
	if (p->batch != NULL) {
		for (int i = p->batch_pos + 1; i < p->batch_n; i++)
			if (p->batch[i].data.fd == w->fd)
				p->batch[i].data.fd = -1;
	}
	w->events = 0;
	w->close_cb = cb;
	w->next_closed = p->closed;
	p->closed = w;
	/* Cannot fail: the callback is not NULL. */
	if (!p->closing)
		(void)uv_idle_start(&p->idle, poller_on_idle);
}

/* The close callbacks waiting now; those closed by them wait for the
 * next turn. */
static void poller_run_closed(struct poller *p)
{
	struct poller_watch *list = p->closed;

	p->closed = NULL;
	while (list != NULL) {
		struct poller_watch *w = list;

		list = w->next_closed;
		if (w->close_cb != NULL)
			w->close_cb(w);
	}
}

static void poller_on_idle(uv_idle_t *h)
{
	struct poller *p = h->data;

	(void)uv_idle_stop(&p->idle);
	poller_run_closed(p);
	if (p->closed != NULL)
		(void)uv_idle_start(&p->idle, poller_on_idle);
}

/* One event of the batch to its watch, as uv_poll would deliver it. */
static void poller_deliver(struct poller_watch *w, uint32_t ev)
{
	int out = 0;

	if (w->events == 0)
		return; /* stopped earlier in this batch */
	if (ev & EPOLLERR) {
		/* libuv stops the handle and reports UV_EBADF; the socket's
		 * SO_ERROR has the reason. */
		poller_stop(w);
		w->cb(w, UV_EBADF, 0);
		return;
	}
	if (ev & EPOLLIN)
		out |= UV_READABLE;
	if (ev & EPOLLOUT)
		out |= UV_WRITABLE;
	if (ev & EPOLLRDHUP)
		out |= UV_DISCONNECT;
	/* A bare hang-up: whatever is asked for, so that the next read or
	 * write finds out. */
	if (ev == EPOLLHUP)
		out = w->events;
	out &= w->events;
	if (out != 0)
		w->cb(w, 0, out);
}

static void poller_on_ready(uv_poll_t *h, int status, int events)
{
	struct poller *p = h->data;
	struct epoll_event batch[POLLER_BATCH];
	int n;

	(void)events;
	if (status < 0) {
		/* libuv stopped the handle: no upstream socket would be served
		 * again. An epoll fd has no error to report; say so if it did. */
		log_error("poller: the epoll set failed: %s", uv_strerror(status));
		return;
	}
	n = epoll_wait(p->epfd, batch, POLLER_BATCH, 0);
	if (n <= 0)
		return; /* EINTR: the set is still readable */
	p->batch = batch;
	p->batch_n = n;
	for (p->batch_pos = 0; p->batch_pos < n; p->batch_pos++) {
		int fd = batch[p->batch_pos].data.fd;
		struct poller_watch *w;

		if (fd < 0)
			continue; /* its watch closed during this batch */
		w = fd < p->cap ? p->watches[fd] : NULL;
		if (w == NULL) {
			/* Closed, its socket still open: out of the set. */
			(void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &batch[p->batch_pos]);
			continue;
		}
		poller_deliver(w, batch[p->batch_pos].events);
	}
	p->batch = NULL;
}
