/* dns_socks: see dns_socks.h.
 *
 * A query is one struct dns_socks_req, an explicit state machine:
 * CONNECTING (an upstream_conn: TCP to the proxy, TLS if the proxy wants
 * it, the connector) -> SENDING (prefix + query) -> RECEIVING (prefix +
 * answer) -> DONE, each change through dns_socks_set_state(), which logs
 * "dns#5 SENDING -> RECEIVING". The request's poll handle watches the
 * connection's socket (upstream_conn.h: the caller polls).
 * Invariants: the callback runs once (entering DONE guards it); the
 * request holds one reference per open libuv handle (poll, timer) and is
 * freed, its connection closed, in the last close callback, so nothing is
 * freed or closed under libuv.
 */
#include "resolver/dns_socks.h"

#include <ares.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "resolver/dns_msg.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/upstream/upstream_conn.h"

enum dns_socks_state { DS_CONNECTING, DS_SENDING, DS_RECEIVING, DS_DONE };

static const char *const ds_state_name[] = {
	[DS_CONNECTING] = "CONNECTING",
	[DS_SENDING] = "SENDING",
	[DS_RECEIVING] = "RECEIVING",
	[DS_DONE] = "DONE",
};

struct dns_socks_req {
	struct dns_socks *ds;
	struct list_node link; /* on ds->live while not DONE */
	enum dns_socks_state state;
	uint64_t n; /* "dns#n" in logs */
	resolver_cb cb;
	void *arg;
	struct upstream_conn *up;
	unsigned handles; /* open libuv handles */
	uv_poll_t poll;
	uv_timer_t timer;
	uint16_t id;  /* the message ID we sent */
	uint8_t *out; /* prefix + query */
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
	struct list_node live; /* requests not DONE, newest first */
	uint64_t next_n;
	bool shut;
	uint64_t warned_at; /* uv_now() of the last failure warning, 0: none */
};

/* A failed connection (TLS refused, proxy refused...) is said as a
 * warning at most once a minute; every one at debug level. */
static void dns_socks_warn(struct dns_socks *ds, uint64_t n, const char *why)
{
	uint64_t now = uv_now(ds->loop);

	log_debug("dns#%" PRIu64 " to %s: %s", n, ds->proxy->server_str, why);
	if (ds->warned_at != 0 && now - ds->warned_at < 60000)
		return;
	ds->warned_at = now ? now : 1;
	log_warn("dns: upstream %s: %s (answering SERVFAIL; said at most once a minute)",
		 ds->proxy->server_str, why);
}

/* The one place the state changes. */
static void dns_socks_set_state(struct dns_socks_req *q, enum dns_socks_state next)
{
	log_debug("dns#%" PRIu64 " %s -> %s", q->n, ds_state_name[q->state], ds_state_name[next]);
	q->state = next;
}

static void dns_socks_on_closed(uv_handle_t *h)
{
	struct dns_socks_req *q = h->data;

	if (--q->handles > 0)
		return;
	upstream_conn_close(q->up, false);
	free(q->out);
	free(q);
}

/* Reports status (and reply) once and starts closing the request. */
static void dns_socks_finish(struct dns_socks_req *q, int status,
			     const struct ares_dns_record *reply)
{
	if (q->state == DS_DONE)
		return;
	dns_socks_set_state(q, DS_DONE);
	list_remove(&q->link);
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

/* Sends the query and reads the answer as far as the connection allows;
 * returns the STREAM_WANT_* it waits for, or 0 once finished. */
static int dns_socks_step(struct dns_socks_req *q)
{
	struct stream io = upstream_conn_io(q->up);
	ssize_t n;

	if (q->state == DS_SENDING) {
		while (q->out_off < q->out_len) {
			n = io.write(io.ctx, q->out + q->out_off, q->out_len - q->out_off);
			if (n == -EAGAIN)
				return STREAM_WANT_WRITE | stream_wants(&io);
			if (n < 0) {
				dns_socks_finish(q, (int)n, NULL);
				return 0;
			}
			q->out_off += (size_t)n;
		}
		dns_socks_set_state(q, DS_RECEIVING);
	}
	for (;;) {
		const uint8_t *msg;
		size_t mlen;
		int used = dns_msg_tcp_frame(q->in, q->in_len, &msg, &mlen);

		if (used > 0) {
			dns_socks_answer(q, msg, mlen);
			return 0;
		}
		if (used < 0 || q->in_len == sizeof(q->in)) {
			dns_socks_finish(q, -EBADMSG, NULL);
			return 0;
		}
		/* Reads until -EAGAIN: bytes a TLS layer holds come too. */
		n = io.read(io.ctx, q->in + q->in_len, sizeof(q->in) - q->in_len);
		if (n == -EAGAIN)
			return STREAM_WANT_READ | stream_wants(&io);
		if (n <= 0) {
			dns_socks_finish(q, n == 0 ? -ECONNRESET : (int)n, NULL);
			return 0;
		}
		q->in_len += (size_t)n;
	}
}

static void dns_socks_on_poll(uv_poll_t *h, int status, int events)
{
	struct dns_socks_req *q = h->data;
	char why[300];
	int r;

	(void)events;
	if (q->state == DS_DONE)
		return;
	if (q->state == DS_CONNECTING) {
		r = upstream_conn_step(q->up, status, why, sizeof(why));
		if (r < 0) {
			dns_socks_warn(q->ds, q->n, why);
			dns_socks_finish(q, r, NULL);
			return;
		}
		if (r != STREAM_DONE) {
			dns_socks_set_poll(q, sock_poll_events(r));
			return;
		}
		dns_socks_set_state(q, DS_SENDING);
	} else if (status < 0) {
		dns_socks_finish(q, sock_poll_error(upstream_conn_fd(q->up), status), NULL);
		return;
	}
	r = dns_socks_step(q);
	if (r != 0)
		dns_socks_set_poll(q, sock_poll_events(r));
}

int dns_socks_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_socks *ds = ctx;
	ares_dns_record_t *copy = NULL;
	unsigned char *wire = NULL;
	size_t wire_len = 0;
	struct dns_socks_req *q;
	char name[32], why[300];
	uint16_t id;
	int r;

	if (ds->shut)
		return -ESHUTDOWN;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	r = uv_random(NULL, NULL, &id, sizeof(id), 0, NULL);
	copy = r == 0 ? ares_dns_record_duplicate(query) : NULL;
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
	q->ds = ds;
	q->id = id;
	q->cb = cb;
	q->arg = arg;
	q->n = ++ds->next_n;
	q->state = DS_CONNECTING; /* the first state: nothing to log yet */
	snprintf(name, sizeof(name), "dns#%" PRIu64, q->n);
	r = upstream_conn_open(
		&(struct upstream_conn_spec){
			.name = name, .sock = ds->sock, .up = ds->proxy, .target = &ds->target },
		&q->up, why, sizeof(why));
	if (r < 0) {
		dns_socks_warn(ds, q->n, why);
		goto fail;
	}
	r = uv_poll_init_socket(ds->loop, &q->poll, upstream_conn_fd(q->up));
	if (r < 0)
		goto fail;
	uv_timer_init(ds->loop, &q->timer);
	q->poll.data = q->timer.data = q;
	q->handles = 2;
	uv_timer_start(&q->timer, dns_socks_on_timeout, ds->timeout_ms, 0);
	dns_socks_set_poll(q, UV_WRITABLE);
	list_insert_after(&ds->live, &q->link);
	ares_free_string(wire);
	ares_dns_record_destroy(copy);
	return 0;
fail:
	upstream_conn_close(q->up, false); /* no handle watches it yet */
	ares_free_string(wire);
	ares_dns_record_destroy(copy);
	free(q->out);
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
	list_init(&ds->live);
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
	/* Newest first; dns_socks_finish() takes each off the list. */
	while (!list_empty(&ds->live))
		dns_socks_finish(list_entry(ds->live.next, struct dns_socks_req, link), -ECANCELED,
				 NULL);
}

void dns_socks_destroy(struct dns_socks *ds)
{
	if (ds == NULL)
		return;
	dns_socks_shutdown(ds);
	free(ds);
}
