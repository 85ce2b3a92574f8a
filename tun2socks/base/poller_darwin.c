/* poller (macOS and the rest): one uv_poll_t per watch. See poller.h.
 *
 * libuv's kqueue backend has the same churn as its epoll one (a change
 * of interest deletes and re-adds both filters); a kqueue of our own
 * would save it as poller_linux.c's epoll set does, but nothing measures
 * it here, so this keeps libuv's way. Only libuv calls: the unit tests
 * build it on Linux too (tests/unit/test_poller_uv.c).
 */
#include "tun2socks/base/poller.h"

#include <errno.h>
#include <stdlib.h>

struct poller {
	uv_loop_t *loop;
};

int poller_new(uv_loop_t *loop, struct poller **out)
{
	struct poller *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	*out = p;
	return 0;
}

/* Each watch's handle is its own: nothing of p is left to the loop. */
void poller_close(struct poller *p)
{
	free(p);
}

static void poller_on_event(uv_poll_t *h, int status, int events)
{
	struct poller_watch *w = h->data;

	if (status < 0)
		w->events = 0; /* libuv stopped the handle */
	w->cb(w, status, events);
}

int poller_watch_open(struct poller *p, struct poller_watch *w, int fd, poller_cb *cb)
{
	int r;

	*w = (struct poller_watch){ .p = p, .cb = cb, .fd = fd };
	if (fd < 0 || cb == NULL)
		return -EINVAL;
	r = uv_poll_init_socket(p->loop, &w->h, fd);
	if (r < 0)
		return r; /* nothing registered with the loop */
	w->h.data = w;
	return 0;
}

int poller_watch_set(struct poller_watch *w, int events)
{
	int r;

	events &= UV_READABLE | UV_WRITABLE | UV_DISCONNECT;
	if (events == w->events)
		return 0;
	if (events == 0)
		r = uv_poll_stop(&w->h);
	else
		r = uv_poll_start(&w->h, events, poller_on_event);
	if (r < 0)
		return r;
	w->events = events;
	return 0;
}

static void poller_on_closed(uv_handle_t *h)
{
	struct poller_watch *w = h->data;

	if (w->close_cb != NULL)
		w->close_cb(w);
}

void poller_watch_close(struct poller_watch *w, poller_close_cb *cb)
{
	/* uv_close stops the handle first: libuv forgets the socket now and
	 * the memory when the callback runs. */
	w->close_cb = cb;
	w->events = 0;
	uv_close((uv_handle_t *)&w->h, poller_on_closed);
}
