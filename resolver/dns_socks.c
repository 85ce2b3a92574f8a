/* dns_socks: see dns_socks.h.
 *
 * A query is one struct dns_socks_req, an explicit state machine:
 * CONNECTING (TCP to the proxy) -> HANDSHAKE (the SOCKS5 connector) ->
 * SENDING (prefix + query) -> RECEIVING (prefix + answer) -> done.
 * Invariants: the callback runs once (req->done guards it); the request
 * holds one reference per open libuv handle (poll, timer) and is freed in
 * the last close callback, so nothing is freed under libuv.
 */
#include "resolver/dns_socks.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "resolver/dns_msg.h"
#include "tun2socks/base/log.h"

enum dns_socks_state { DS_CONNECTING, DS_HANDSHAKE, DS_SENDING, DS_RECEIVING };

struct dns_socks_req {
	struct dns_socks *ds;
	struct dns_socks_req *prev, *next; /* ds->live while not done */
	enum dns_socks_state state;
	resolver_cb cb;
	void *arg;
	bool done;
	int fd;
	unsigned handles;       /* open libuv handles */
	uv_poll_t poll;
	uv_timer_t timer;
	void *hs;               /* connector state */
	uint16_t id;            /* the message ID we sent */
	uint8_t *out;           /* prefix + query */
	size_t out_len, out_off;
	uint8_t in[2 + DNS_MSG_TCP_MAX];
	size_t in_len;
};

struct dns_socks {
	uv_loop_t *loop;
	const struct upstream_cfg *proxy;
	const struct sock_opts *sock;
	struct socks5_addr target;
	unsigned timeout_ms;
	struct dns_socks_req *live;
	bool shut;
};

static void dns_socks_on_closed(uv_handle_t *h)
{
	struct dns_socks_req *q = h->data;

	if (--q->handles > 0)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->hs);
	free(q->out);
	free(q);
}

/* Reports status (and reply) once and starts closing the request. */
static void dns_socks_finish(struct dns_socks_req *q, int status,
			     const struct ares_dns_record *reply)
{
	struct dns_socks *ds = q->ds;

	if (q->done)
		return;
	q->done = true;
	if (q->prev)
		q->prev->next = q->next;
	else
		ds->live = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->cb(q->arg, status, reply);
	uv_poll_stop(&q->poll);
	uv_close((uv_handle_t *)&q->poll, dns_socks_on_closed);
	uv_close((uv_handle_t *)&q->timer, dns_socks_on_closed);
}

static void dns_socks_on_timeout(uv_timer_t *t)
{
	dns_socks_finish(t->data, -ETIMEDOUT, NULL);
}

/* Parses the answer; -EBADMSG unless it is a response to our ID. */
static void dns_socks_answer(struct dns_socks_req *q, const uint8_t *msg, size_t len)
{
	ares_dns_record_t *rec = NULL;

	if (ares_dns_parse(msg, len, 0, &rec) != ARES_SUCCESS ||
	    ares_dns_record_get_id(rec) != q->id ||
	    !(ares_dns_record_get_flags(rec) & ARES_FLAG_QR)) {
		ares_dns_record_destroy(rec);
		dns_socks_finish(q, -EBADMSG, NULL);
		return;
	}
	dns_socks_finish(q, 0, rec);
	ares_dns_record_destroy(rec);
}

static void dns_socks_on_poll(uv_poll_t *h, int status, int events);

static void dns_socks_set_poll(struct dns_socks_req *q, int events)
{
	uv_poll_start(&q->poll, events, dns_socks_on_poll);
}

/* Advances the state machine as far as the socket allows. */
static void dns_socks_step(struct dns_socks_req *q)
{
	const struct upstream_proto *proto = q->ds->proxy->proto;
	struct stream io = sock_stream(&q->fd);
	ssize_t n;
	int r;

	if (q->state == DS_HANDSHAKE) {
		r = proto->step(q->hs, &io);
		if (r < 0) {
			log_debug("dns: via proxy: %s", proto->error(q->hs));
			dns_socks_finish(q, r, NULL);
			return;
		}
		if (r != STREAM_DONE) {
			dns_socks_set_poll(q, r == STREAM_WANT_READ ? UV_READABLE
								    : UV_WRITABLE);
			return;
		}
		q->state = DS_SENDING;
	}
	if (q->state == DS_SENDING) {
		while (q->out_off < q->out_len) {
			n = sock_io_write(&q->fd, q->out + q->out_off, q->out_len - q->out_off);
			if (n == -EAGAIN)
				return; /* still polling for writable */
			if (n < 0) {
				dns_socks_finish(q, (int)n, NULL);
				return;
			}
			q->out_off += (size_t)n;
		}
		q->state = DS_RECEIVING;
	}
	for (;;) {
		const uint8_t *msg;
		size_t mlen;
		int used = dns_msg_tcp_frame(q->in, q->in_len, &msg, &mlen);

		if (used > 0) {
			dns_socks_answer(q, msg, mlen);
			return;
		}
		if (used < 0 || q->in_len == sizeof(q->in)) {
			dns_socks_finish(q, -EBADMSG, NULL);
			return;
		}
		n = sock_io_read(&q->fd, q->in + q->in_len, sizeof(q->in) - q->in_len);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			dns_socks_finish(q, n == 0 ? -ECONNRESET : (int)n, NULL);
			return;
		}
		q->in_len += (size_t)n;
	}
}

static void dns_socks_on_poll(uv_poll_t *h, int status, int events)
{
	struct dns_socks_req *q = h->data;
	int r;

	(void)events;
	if (q->done)
		return;
	if (q->state == DS_CONNECTING) {
		r = sock_poll_error(q->fd, status);
		if (r < 0) {
			log_debug("dns: cannot connect to the proxy: %s", strerror(-r));
			dns_socks_finish(q, r, NULL);
			return;
		}
		q->state = DS_HANDSHAKE;
	} else if (status < 0) {
		dns_socks_finish(q, sock_poll_error(q->fd, status), NULL);
		return;
	}
	dns_socks_step(q);
	if (q->done)
		return;
	/* The handshake picked its own direction; afterwards the direction
	 * follows the state. */
	if (q->state == DS_SENDING)
		dns_socks_set_poll(q, UV_WRITABLE);
	else if (q->state == DS_RECEIVING)
		dns_socks_set_poll(q, UV_READABLE);
}

int dns_socks_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_socks *ds = ctx;
	const struct upstream_cfg *up = ds->proxy;
	ares_dns_record_t *copy = NULL;
	unsigned char *wire = NULL;
	size_t wire_len = 0;
	struct dns_socks_req *q;
	uint16_t id;
	int r;

	if (ds->shut)
		return -ESHUTDOWN;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	q->fd = -1;
	q->hs = malloc(up->proto->state_size);
	r = uv_random(NULL, NULL, &id, sizeof(id), 0, NULL);
	copy = q->hs && r == 0 ? ares_dns_record_duplicate(query) : NULL;
	if (copy == NULL || !ares_dns_record_set_id(copy, id) ||
	    ares_dns_write(copy, &wire, &wire_len) != ARES_SUCCESS || wire_len > DNS_MSG_TCP_MAX) {
		r = -ENOMEM;
		goto fail;
	}
	q->out = malloc(wire_len + 2);
	if (q->out == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	dns_msg_tcp_prefix(wire_len, q->out);
	memcpy(q->out + 2, wire, wire_len);
	q->out_len = wire_len + 2;
	q->id = id;
	q->ds = ds;
	q->cb = cb;
	q->arg = arg;
	up->proto->init(q->hs, up, &ds->target);
	r = sock_open(up->server.ss_family, SOCK_STREAM, ds->sock);
	if (r < 0)
		goto fail;
	q->fd = r;
	r = sock_connect(q->fd, (const struct sockaddr *)&up->server, up->server_len);
	if (r < 0 && r != -EINPROGRESS)
		goto fail;
	r = uv_poll_init_socket(ds->loop, &q->poll, q->fd);
	if (r < 0)
		goto fail;
	uv_timer_init(ds->loop, &q->timer);
	q->poll.data = q->timer.data = q;
	q->handles = 2;
	uv_timer_start(&q->timer, dns_socks_on_timeout, ds->timeout_ms, 0);
	dns_socks_set_poll(q, UV_WRITABLE);
	q->next = ds->live;
	if (ds->live)
		ds->live->prev = q;
	ds->live = q;
	ares_free_string(wire);
	ares_dns_record_destroy(copy);
	return 0;
fail:
	if (q->fd >= 0)
		close(q->fd);
	ares_free_string(wire);
	ares_dns_record_destroy(copy);
	free(q->out);
	free(q->hs);
	free(q);
	return r;
}

int dns_socks_create(uv_loop_t *loop, const struct upstream_cfg *proxy,
		     const struct sock_opts *sock, const struct sockaddr_storage *server,
		     unsigned timeout_ms, struct dns_socks **out)
{
	struct dns_socks *ds;

	*out = NULL;
	ds = calloc(1, sizeof(*ds));
	if (ds == NULL)
		return -ENOMEM;
	ds->loop = loop;
	ds->proxy = proxy;
	ds->sock = sock;
	ds->timeout_ms = timeout_ms ? timeout_ms : 5000;
	addr_socktarget_from_ip(server, &ds->target);
	*out = ds;
	return 0;
}

void dns_socks_shutdown(struct dns_socks *ds)
{
	if (ds == NULL)
		return;
	ds->shut = true;
	while (ds->live != NULL)
		dns_socks_finish(ds->live, -ECANCELED, NULL);
}

void dns_socks_destroy(struct dns_socks *ds)
{
	if (ds == NULL)
		return;
	dns_socks_shutdown(ds);
	free(ds);
}
