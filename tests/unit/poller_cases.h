/* The poller's unit tests, run against each implementation: test_poller.c
 * (this platform's, epoll on Linux) and test_poller_uv.c (the uv_poll one
 * that macOS builds). Socket pairs and loopback TCP on a private loop.
 */
#ifndef T2S_POLLER_CASES_H
#define T2S_POLLER_CASES_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "tun2socks/base/poller.h"
#include "tun2socks/base/sock.h"
#include "test.h"

struct pw {
	struct poller_watch w;
	int fd;
	int calls, last_status, last_events, closed;
	/* On a call: close this watch (and its socket), and open one on a new
	 * socket pair in its place (then, with its number). */
	struct pw *close_on_call;
	struct pw *reopen_as;
	int reopen_peer;
};

static uv_loop_t loop;
static struct poller *P;

static void pw_on_event(struct poller_watch *w, int status, int events);

static void pw_on_closed(struct poller_watch *w)
{
	((struct pw *)w->data)->closed++;
}

static void pair(int sv[2])
{
	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static int pw_open(struct pw *x, int fd)
{
	int r;

	memset(x, 0, sizeof(*x));
	x->fd = fd;
	r = poller_watch_open(P, &x->w, fd, pw_on_event);
	x->w.data = x;
	return r;
}

static void pw_on_event(struct poller_watch *w, int status, int events)
{
	struct pw *x = w->data;

	x->calls++;
	x->last_status = status;
	x->last_events = events;
	if (x->close_on_call != NULL) {
		struct pw *o = x->close_on_call;
		int sv[2];

		x->close_on_call = NULL;
		poller_watch_close(&o->w, pw_on_closed);
		T_EQ_INT(o->closed, 0); /* never under the caller */
		close(o->fd);
		if (x->reopen_as != NULL) {
			/* The lowest free number: the one just closed. */
			pair(sv);
			T_EQ_INT(pw_open(x->reopen_as, sv[0]), 0);
			T_EQ_INT(poller_watch_set(&x->reopen_as->w, UV_READABLE), 0);
			x->reopen_peer = sv[1];
		}
	}
}

static void setup(void)
{
	T_EQ_INT(uv_loop_init(&loop), 0);
	T_EQ_INT(poller_new(&loop, &P), 0);
}

static void teardown(void)
{
	poller_close(P);
	P = NULL;
	T_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	T_EQ_INT(uv_loop_close(&loop), 0); /* no handle left behind */
}

static void turns(int n)
{
	for (int i = 0; i < n; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
}

/* Level-triggered reads; events 0 delivers nothing; asking again does. */
static void test_readable(void)
{
	struct pw a;
	int sv[2];

	setup();
	pair(sv);
	T_EQ_INT(pw_open(&a, sv[0]), 0);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE), 0);
	turns(3);
	T_EQ_INT(a.calls, 0);
	T_EQ_INT(write(sv[1], "x", 1), 1);
	turns(1);
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(a.last_status, 0);
	T_EQ_INT(a.last_events, UV_READABLE);
	turns(1); /* not read: comes again */
	T_EQ_INT(a.calls, 2);
	T_EQ_INT(poller_watch_set(&a.w, 0), 0);
	turns(3);
	T_EQ_INT(a.calls, 2);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE | UV_WRITABLE), 0);
	turns(1);
	T_EQ_INT(a.calls, 3);
	T_EQ_INT(a.last_events, UV_READABLE | UV_WRITABLE);
	/* From both to one: only that one. */
	T_EQ_INT(poller_watch_set(&a.w, UV_WRITABLE), 0);
	turns(1);
	T_EQ_INT(a.last_events, UV_WRITABLE);
	poller_watch_close(&a.w, pw_on_closed);
	close(sv[0]);
	close(sv[1]);
	turns(2);
	T_EQ_INT(a.closed, 1);
	T_EQ_INT(a.calls, 4);
	teardown();
}

/* The peer's FIN: readable (the EOF) and a disconnect. */
static void test_disconnect(void)
{
	struct pw a;
	int sv[2];

	setup();
	pair(sv);
	T_EQ_INT(pw_open(&a, sv[0]), 0);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE | UV_DISCONNECT), 0);
	T_EQ_INT(shutdown(sv[1], SHUT_WR), 0);
	turns(1);
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(a.last_events, UV_READABLE | UV_DISCONNECT);
	/* Nothing asked for: the hang-up wakes nobody. */
	T_EQ_INT(poller_watch_set(&a.w, 0), 0);
	close(sv[1]);
	turns(3);
	T_EQ_INT(a.calls, 1);
	poller_watch_close(&a.w, NULL);
	close(sv[0]);
	teardown();
}

/* A refused connect: UV_EBADF once, the reason in SO_ERROR, the watch
 * stopped though the socket stays in error. */
static void test_error(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct pw a;
	int l, fd;

	setup();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	T_EQ_INT(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_EQ_INT(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	close(l); /* nobody listens on that port now */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	T_CHECK(fd >= 0);
	T_EQ_INT(pw_open(&a, fd), 0);
	T_EQ_INT(poller_watch_set(&a.w, UV_WRITABLE), 0);
	T_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0);
	for (int i = 0; i < 1000 && a.calls == 0; i++) {
		turns(1);
		usleep(1000);
	}
	T_EQ_INT(a.calls, 1);
	T_EQ_INT(a.last_status, UV_EBADF);
	T_EQ_INT(a.last_events, 0);
	T_EQ_INT(sock_poll_error(fd, a.last_status), -ECONNREFUSED);
	T_EQ_INT(a.w.events, 0);
	turns(3);
	T_EQ_INT(a.calls, 1);
	/* Stopped, not closed: it can be asked again. */
	T_EQ_INT(poller_watch_set(&a.w, UV_WRITABLE), 0);
	turns(1);
	T_EQ_INT(a.calls, 2);
	poller_watch_close(&a.w, NULL);
	close(fd);
	teardown();
}

/* Two sockets ready in one batch: the first one's callback closes the
 * other watch, closes its socket and watches a new socket that takes the
 * same number. Neither the closed watch nor the new one sees the closed
 * socket's event. */
static void test_close_in_batch(void)
{
	struct pw a, b, c;
	int s1[2], s2[2];

	setup();
	pair(s1);
	pair(s2);
	T_EQ_INT(pw_open(&a, s1[0]), 0);
	T_EQ_INT(pw_open(&b, s2[0]), 0);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE), 0);
	T_EQ_INT(poller_watch_set(&b.w, UV_READABLE), 0);
	a.close_on_call = &b;
	a.reopen_as = &c;
	b.close_on_call = &a;
	b.reopen_as = &c;
	T_EQ_INT(write(s1[1], "x", 1), 1);
	T_EQ_INT(write(s2[1], "x", 1), 1);
	turns(1);
	/* Whichever came first closed the other. */
	T_EQ_INT(a.calls + b.calls, 1);
	{
		struct pw *first = a.calls ? &a : &b, *second = a.calls ? &b : &a;

		T_EQ_INT(second->calls, 0);
		T_EQ_INT(c.fd, second->fd); /* the number was reused */
		T_EQ_INT(c.calls, 0);
		turns(3);
		T_EQ_INT(second->closed, 1);
		T_EQ_INT(second->calls, 0);
		T_EQ_INT(c.calls, 0); /* its socket has nothing to read */
		T_EQ_INT(write(first->reopen_peer, "y", 1), 1);
		turns(1);
		T_EQ_INT(c.calls, 1);
		poller_watch_close(&first->w, NULL);
		poller_watch_close(&c.w, NULL);
		close(first->fd);
		close(c.fd);
		close(first->reopen_peer);
	}
	close(s1[1]);
	close(s2[1]);
	teardown();
}

/* The close callback may watch a new socket with the same memory (the
 * next address of a DIRECT name does), and poller_close runs the
 * callbacks still waiting. */
static struct pw reuse;
static int reuse_sv[2] = { -1, -1 };

static void on_closed_reopen(struct poller_watch *w)
{
	struct pw *x = w->data;

	T_CHECK(x == &reuse);
	pair(reuse_sv);
	T_EQ_INT(pw_open(&reuse, reuse_sv[0]), 0);
	T_EQ_INT(poller_watch_set(&reuse.w, UV_WRITABLE), 0);
}

static void test_reuse_and_close(void)
{
	int sv[2];
	struct pw late;
	int lsv[2];

	setup();
	pair(sv);
	T_EQ_INT(pw_open(&reuse, sv[0]), 0);
	T_EQ_INT(poller_watch_set(&reuse.w, UV_READABLE), 0);
	poller_watch_close(&reuse.w, on_closed_reopen);
	close(sv[0]);
	close(sv[1]);
	turns(2);
	T_CHECK(reuse_sv[0] >= 0);
	T_CHECK(reuse.calls >= 1); /* the new socket is writable */
	T_EQ_INT(reuse.last_events, UV_WRITABLE);
	poller_watch_close(&reuse.w, NULL);
	close(reuse_sv[0]);
	close(reuse_sv[1]);

	/* Closed just before the poller: its callback still runs. */
	pair(lsv);
	T_EQ_INT(pw_open(&late, lsv[0]), 0);
	T_EQ_INT(poller_watch_set(&late.w, UV_READABLE), 0);
	poller_watch_close(&late.w, pw_on_closed);
	close(lsv[0]);
	close(lsv[1]);
	teardown();
	T_EQ_INT(late.closed, 1);
}

static void test_bad_open(void)
{
	struct pw a;
	int sv[2];

	setup();
	T_EQ_INT(pw_open(&a, -1), -EINVAL);
	pair(sv);
	T_EQ_INT(pw_open(&a, sv[0]), 0);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE), 0);
	poller_watch_close(&a.w, NULL);
	close(sv[0]);
	close(sv[1]);
	teardown();
}

static int poller_cases_run(void)
{
	T_RUN(test_readable);
	T_RUN(test_disconnect);
	T_RUN(test_error);
	T_RUN(test_close_in_batch);
	T_RUN(test_reuse_and_close);
	T_RUN(test_bad_open);
	return test_summary();
}

#endif
