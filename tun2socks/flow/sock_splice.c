/* sock_splice: accepted connections joined to a fixed address
 * (sock_splice.h). A pair owns two uv_tcp_t; it is freed when both have
 * closed. The splice itself is freed when its listener and every pair
 * have closed. */
#include "tun2socks/flow/sock_splice.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tun2socks/base/list.h"

struct splice_side {
	uv_tcp_t h;
	struct splice_pair *pair;
	bool eof;        /* it sent EOF */
	bool shut;       /* we shut its write side down */
	bool stalled;    /* reading paused: the other side's queue is full */
	uint64_t *bytes; /* the counter of what it sends */
};

struct splice_pair {
	struct sock_splice *s;
	struct list_node node;
	struct splice_side side[2]; /* 0: accepted, 1: to the target */
	uv_connect_t conn;
	uv_shutdown_t shut_req[2];
	int open_handles;
	bool closing;
};

struct sock_splice {
	uv_tcp_t listener;
	struct sockaddr_storage to;
	struct list_node pairs;
	struct sock_splice_stats stats;
	bool stopping, listener_closed;
};

struct splice_write {
	uv_write_t req;
	struct splice_side *to;
	char *buf;
};

static void splice_maybe_free(struct sock_splice *s)
{
	if (s->stopping && s->listener_closed && list_empty(&s->pairs))
		free(s);
}

static void pair_on_close(uv_handle_t *h)
{
	struct splice_side *side = h->data;
	struct splice_pair *p = side->pair;
	struct sock_splice *s = p->s;

	if (--p->open_handles > 0)
		return;
	list_remove(&p->node);
	free(p);
	splice_maybe_free(s);
}

static void pair_close(struct splice_pair *p)
{
	if (p->closing)
		return;
	p->closing = true;
	for (int i = 0; i < 2; i++)
		if (!uv_is_closing((uv_handle_t *)&p->side[i].h))
			uv_close((uv_handle_t *)&p->side[i].h, pair_on_close);
}

static struct splice_side *other(struct splice_side *side)
{
	struct splice_pair *p = side->pair;

	return side == &p->side[0] ? &p->side[1] : &p->side[0];
}

static void side_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	buf->base = malloc(65536);
	buf->len = buf->base ? 65536 : 0;
}

static void side_on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf);

/* Reading from a resumes once b's queue has room. */
static void side_resume(struct splice_side *a)
{
	struct splice_side *b = other(a);

	if (a->stalled && !a->eof && !a->pair->closing &&
	    b->h.write_queue_size < SOCK_SPLICE_QUEUE_MAX / 4) {
		a->stalled = false;
		if (uv_read_start((uv_stream_t *)&a->h, side_alloc, side_on_read) < 0)
			pair_close(a->pair);
	}
}

static void side_on_write(uv_write_t *req, int status)
{
	struct splice_write *w = req->data;
	struct splice_side *to = w->to;

	free(w->buf);
	free(w);
	if (status < 0) {
		pair_close(to->pair);
		return;
	}
	side_resume(other(to));
}

static void side_on_shutdown(uv_shutdown_t *req, int status)
{
	struct splice_side *side = req->data;
	struct splice_pair *p = side->pair;

	if (status < 0 || (p->side[0].eof && p->side[1].eof))
		pair_close(p);
}

static void side_on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	struct splice_side *from = h->data, *to = other(from);
	struct splice_pair *p = from->pair;
	struct splice_write *w;

	if (n == 0) {
		free(buf->base);
		return;
	}
	if (n == UV_EOF) {
		free(buf->base);
		from->eof = true;
		uv_read_stop(h);
		if (!to->shut) {
			int i = to == &p->side[0] ? 0 : 1;

			to->shut = true;
			p->shut_req[i].data = to;
			if (uv_shutdown(&p->shut_req[i], (uv_stream_t *)&to->h, side_on_shutdown) <
			    0)
				pair_close(p);
		}
		return;
	}
	if (n < 0) {
		free(buf->base);
		pair_close(p);
		return;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		free(buf->base);
		pair_close(p);
		return;
	}
	w->to = to;
	w->buf = buf->base;
	w->req.data = w;
	*from->bytes += (uint64_t)n;
	{
		uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);

		if (uv_write(&w->req, (uv_stream_t *)&to->h, &b, 1, side_on_write) < 0) {
			free(w->buf);
			free(w);
			pair_close(p);
			return;
		}
	}
	/* Backpressure: the other side takes what it takes. */
	if (to->h.write_queue_size > SOCK_SPLICE_QUEUE_MAX) {
		from->stalled = true;
		uv_read_stop(h);
	}
}

static void pair_on_connect(uv_connect_t *req, int status)
{
	struct splice_pair *p = req->data;

	if (status < 0) {
		p->s->stats.failed++;
		pair_close(p);
		return;
	}
	if (p->closing)
		return;
	for (int i = 0; i < 2; i++)
		if (uv_read_start((uv_stream_t *)&p->side[i].h, side_alloc, side_on_read) < 0) {
			pair_close(p);
			return;
		}
}

static void splice_on_conn(uv_stream_t *l, int status)
{
	struct sock_splice *s = l->data;
	struct splice_pair *p;

	if (status < 0 || s->stopping)
		return;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return; /* stays in the backlog: the next call tries again */
	p->s = s;
	for (int i = 0; i < 2; i++) {
		p->side[i].pair = p;
		if (uv_tcp_init(l->loop, &p->side[i].h) < 0) {
			/* side[0] inited: close it alone */
			if (i == 1) {
				p->open_handles = 1;
				p->closing = true;
				list_insert_before(&s->pairs, &p->node);
				uv_close((uv_handle_t *)&p->side[0].h, pair_on_close);
			} else {
				free(p);
			}
			return;
		}
		p->side[i].h.data = &p->side[i];
		p->open_handles++;
	}
	p->side[0].bytes = &s->stats.bytes_in;
	p->side[1].bytes = &s->stats.bytes_out;
	list_insert_before(&s->pairs, &p->node);
	if (uv_accept(l, (uv_stream_t *)&p->side[0].h) < 0) {
		pair_close(p);
		return;
	}
	s->stats.accepted++;
	p->conn.data = p;
	if (uv_tcp_connect(&p->conn, &p->side[1].h, (const struct sockaddr *)&s->to,
			   pair_on_connect) < 0) {
		s->stats.failed++;
		pair_close(p);
	}
}

static void splice_on_listener_close(uv_handle_t *h)
{
	struct sock_splice *s = h->data;

	s->listener_closed = true;
	splice_maybe_free(s);
}

int sock_splice_start(uv_loop_t *loop, int listen_fd, const struct sockaddr *to, socklen_t tolen,
		      struct sock_splice **out)
{
	struct sock_splice *s;
	int r;

	*out = NULL;
	if (tolen > sizeof(s->to))
		return UV_EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return UV_ENOMEM;
	memcpy(&s->to, to, tolen);
	list_init(&s->pairs);
	r = uv_tcp_init(loop, &s->listener);
	if (r < 0) {
		free(s);
		return r;
	}
	s->listener.data = s;
	r = uv_tcp_open(&s->listener, listen_fd);
	if (r < 0)
		close(listen_fd); /* not the handle's: ours to close */
	if (r == 0)
		r = uv_listen((uv_stream_t *)&s->listener, 64, splice_on_conn);
	if (r < 0) {
		s->stopping = true;
		uv_close((uv_handle_t *)&s->listener, splice_on_listener_close);
		return r;
	}
	*out = s;
	return 0;
}

const struct sock_splice_stats *sock_splice_stats(const struct sock_splice *s)
{
	return &s->stats;
}

void sock_splice_stop(struct sock_splice *s)
{
	struct list_node *n, *tmp;

	if (s == NULL || s->stopping)
		return;
	s->stopping = true;
	list_for_each_safe(n, tmp, &s->pairs)
		pair_close(list_entry(n, struct splice_pair, node));
	uv_close((uv_handle_t *)&s->listener, splice_on_listener_close);
}
