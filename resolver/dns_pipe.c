/* dns_pipe: DNS queries pipelined on one kept connection (dns_pipe.h).
 *
 * A query (struct pipe_q) lives on p->queries from send to its callback,
 * with a timer of its own; it is freed in the timer's close callback. A
 * connection (struct pipe_conn) is CONNECTING (upstream_conn steps), OPEN
 * (queries written from c->out, answers read into c->in) or DEAD (its
 * poll handle closing: the close callback closes the upstream_conn and
 * frees it, touching nothing else). There is one connection at a time,
 * so every query in flight belongs to it; when it ends each gets one more
 * connection.
 */
#include "resolver/dns_pipe.h"

#include <ares.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dns_msg.h"
#include "tun2socks/base/addr.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/upstream/target.h"
#include "tun2socks/upstream/upstream_conn.h"

enum conn_state { C_CONNECTING, C_OPEN, C_DEAD };

struct pipe_conn {
	struct dns_pipe *p; /* valid while not DEAD */
	struct upstream_conn *up;
	uv_poll_t poll;
	enum conn_state state;
	uint64_t gen; /* p->opened when it was opened */
	uint8_t *out; /* prefixed queries not yet written */
	size_t out_len, out_off, out_cap;
	uint8_t in[2 + DNS_MSG_TCP_MAX];
	size_t in_len;
};

struct pipe_q {
	struct list_node link; /* on p->queries until done */
	struct dns_pipe *p;
	uint16_t id;
	bool done;
	uint64_t sent_on; /* the connection (gen) it was written on, 0: none */
	bool resent;      /* a connection it waited on ended once already */
	resolver_cb cb;
	void *arg;
	uint8_t *wire; /* prefix + query */
	size_t len;
	uv_timer_t timer;
};

struct dns_pipe {
	uv_loop_t *loop;
	const struct upstream_cfg *upc;
	const struct sock_opts *sock;
	struct socks5_addr target;
	unsigned timeout_ms;
	struct list_node queries;
	struct pipe_conn *conn; /* or NULL */
	uint64_t opened;
	bool shut;
	uint64_t warned_at;
};

static void pipe_warn(struct dns_pipe *p, const char *why)
{
	uint64_t now = uv_now(p->loop);

	log_debug("dns: tls %s: %s", p->upc->server_str, why);
	if (p->warned_at != 0 && now - p->warned_at < 60000)
		return;
	p->warned_at = now ? now : 1;
	log_warn("dns: upstream %s: %s (answering SERVFAIL; said at most once a minute)",
		 p->upc->server_str, why);
}

static void q_closed(uv_handle_t *h)
{
	struct pipe_q *q = h->data;

	free(q->wire);
	free(q);
}

/* Reports once, then the query goes (its timer's close frees it). */
static void q_finish(struct pipe_q *q, int status, const struct ares_dns_record *reply)
{
	if (q->done)
		return;
	q->done = true;
	list_remove(&q->link);
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, q_closed);
	q->cb(q->arg, status, reply);
}

static void conn_closed(uv_handle_t *h)
{
	struct pipe_conn *c = h->data;

	upstream_conn_close(c->up, false);
	free(c->out);
	free(c);
}

static int pipe_open(struct dns_pipe *p);
static void conn_poll(uv_poll_t *h, int status, int events);

static int conn_append(struct pipe_conn *c, const uint8_t *b, size_t n)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n > c->out_cap) {
		size_t cap = (c->out_len + n) * 2;
		uint8_t *grown = realloc(c->out, cap);

		if (grown == NULL)
			return -ENOMEM;
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, b, n);
	c->out_len += n;
	return 0;
}

/* Writes the queries that wait for an open connection. */
static void conn_queue_waiting(struct dns_pipe *p, struct pipe_conn *c)
{
	struct list_node *n;

	for (n = p->queries.next; n != &p->queries; n = n->next) {
		struct pipe_q *q = list_entry(n, struct pipe_q, link);

		if (q->sent_on == 0 && conn_append(c, q->wire, q->len) == 0)
			q->sent_on = c->gen;
	}
}

/* The connection ended (status < 0: why): its unanswered queries are
 * sent once more on a new one, or fail. Never frees a query under its
 * caller: callbacks run, the memory goes in close callbacks. */
static void conn_end(struct dns_pipe *p, int status)
{
	struct pipe_conn *c = p->conn;
	struct list_node failed, *n, *next;
	bool again = false;

	if (c == NULL)
		return;
	p->conn = NULL;
	c->state = C_DEAD;
	uv_poll_stop(&c->poll);
	uv_close((uv_handle_t *)&c->poll, conn_closed);
	list_init(&failed);
	/* Every query waits on or was written to this connection (one at a
	 * time): each gets one more. */
	for (n = p->queries.next; n != &p->queries; n = next) {
		struct pipe_q *q = list_entry(n, struct pipe_q, link);

		next = n->next;
		if (q->resent || p->shut) {
			list_remove(&q->link);
			list_insert_after(&failed, &q->link);
			continue;
		}
		q->resent = true;
		q->sent_on = 0;
		again = true;
	}
	if (again && !p->shut && pipe_open(p) < 0)
		for (n = p->queries.next; n != &p->queries; n = next) {
			struct pipe_q *q = list_entry(n, struct pipe_q, link);

			next = n->next;
			if (q->sent_on == 0) {
				list_remove(&q->link);
				list_insert_after(&failed, &q->link);
			}
		}
	/* q_finish takes each off the list it is on */
	while (!list_empty(&failed))
		q_finish(list_entry(failed.next, struct pipe_q, link),
			 status < 0 ? status : -ECONNRESET, NULL);
}

static void conn_answer(struct dns_pipe *p, const uint8_t *msg, size_t len)
{
	ares_dns_record_t *rec = NULL;
	struct list_node *n;

	if (ares_dns_parse(msg, len, 0, &rec) != ARES_SUCCESS ||
	    !(ares_dns_record_get_flags(rec) & ARES_FLAG_QR)) {
		ares_dns_record_destroy(rec);
		return;
	}
	for (n = p->queries.next; n != &p->queries; n = n->next) {
		struct pipe_q *q = list_entry(n, struct pipe_q, link);

		if (q->sent_on != 0 && q->id == ares_dns_record_get_id(rec)) {
			q_finish(q, 0, rec);
			break;
		}
	}
	/* An ID no query holds: the answer to one that timed out. */
	ares_dns_record_destroy(rec);
}

/* Writes what waits and reads every whole answer; the STREAM_WANT_* mask
 * to poll for, or < 0 when the connection ended. */
static int conn_step(struct dns_pipe *p, struct pipe_conn *c)
{
	struct stream io = upstream_conn_io(c->up);
	int wants = STREAM_WANT_READ;
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = io.write(io.ctx, c->out + c->out_off, c->out_len - c->out_off);
		if (n == -EAGAIN) {
			wants |= STREAM_WANT_WRITE;
			break;
		}
		if (n < 0)
			return (int)n;
		c->out_off += (size_t)n;
	}
	for (;;) {
		const uint8_t *msg;
		size_t mlen;
		int used = dns_msg_tcp_frame(c->in, c->in_len, &msg, &mlen);

		if (used > 0) {
			conn_answer(p, msg, mlen);
			if (p->conn != c)
				return -ECANCELED; /* a callback shut the pipe */
			memmove(c->in, c->in + used, c->in_len - (size_t)used);
			c->in_len -= (size_t)used;
			continue;
		}
		if (used < 0 || c->in_len == sizeof(c->in))
			return -EBADMSG;
		n = io.read(io.ctx, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == -EAGAIN)
			return wants | stream_wants(&io);
		if (n == 0)
			return -ECONNRESET; /* the server closed it */
		if (n < 0)
			return (int)n;
		c->in_len += (size_t)n;
	}
}

static void conn_set_poll(struct pipe_conn *c, int wants)
{
	uv_poll_start(&c->poll, sock_poll_events(wants), conn_poll);
}

static void conn_poll(uv_poll_t *h, int status, int events)
{
	struct pipe_conn *c = h->data;
	struct dns_pipe *p = c->p;
	char why[300];
	int r;

	(void)events;
	if (c->state == C_DEAD)
		return;
	if (c->state == C_CONNECTING) {
		r = upstream_conn_step(c->up, status, why, sizeof(why));
		if (r < 0) {
			pipe_warn(p, why);
			conn_end(p, r);
			return;
		}
		if (r != STREAM_DONE) {
			conn_set_poll(c, r);
			return;
		}
		c->state = C_OPEN;
		log_debug("dns: tls %s: connection %" PRIu64 " open", p->upc->server_str, c->gen);
		conn_queue_waiting(p, c);
	} else if (status < 0) {
		conn_end(p, sock_poll_error(upstream_conn_fd(c->up), status));
		return;
	}
	r = conn_step(p, c);
	if (r == -ECANCELED)
		return;
	if (r < 0) {
		log_debug("dns: tls %s: connection %" PRIu64 " ended: %s", p->upc->server_str,
			  c->gen, strerror(-r));
		conn_end(p, r);
		return;
	}
	conn_set_poll(c, r);
}

static int pipe_open(struct dns_pipe *p)
{
	struct pipe_conn *c = calloc(1, sizeof(*c));
	char name[48], why[300];
	int r;

	if (c == NULL)
		return -ENOMEM;
	c->p = p;
	c->gen = ++p->opened;
	snprintf(name, sizeof(name), "dot#%" PRIu64, c->gen);
	r = upstream_conn_open(
		&(struct upstream_conn_spec){
			.name = name, .sock = p->sock, .up = p->upc, .target = &p->target },
		&c->up, why, sizeof(why));
	if (r < 0) {
		pipe_warn(p, why);
		free(c);
		return r;
	}
	r = uv_poll_init_socket(p->loop, &c->poll, upstream_conn_fd(c->up));
	if (r < 0) {
		upstream_conn_close(c->up, false);
		free(c);
		return r;
	}
	c->poll.data = c;
	c->state = C_CONNECTING;
	p->conn = c;
	uv_poll_start(&c->poll, UV_WRITABLE, conn_poll);
	return 0;
}

static void q_timeout(uv_timer_t *t)
{
	struct pipe_q *q = t->data;
	struct dns_pipe *p = q->p;
	bool sent = q->sent_on != 0 && p->conn != NULL && q->sent_on == p->conn->gen;

	q_finish(q, -ETIMEDOUT, NULL);
	/* A server that stopped answering holds every later query too. */
	if (sent && p->conn != NULL && p->conn->state == C_OPEN)
		conn_end(p, -ETIMEDOUT);
}

static bool id_used(const struct dns_pipe *p, uint16_t id)
{
	for (const struct list_node *n = p->queries.next; n != &p->queries; n = n->next)
		if (list_entry(n, const struct pipe_q, link)->id == id)
			return true;
	return false;
}

int dns_pipe_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_pipe *p = ctx;
	ares_dns_record_t *copy = NULL;
	unsigned char *wire = NULL;
	size_t wire_len = 0;
	struct pipe_q *q;
	uint16_t id = 0;
	int r = 0;

	if (p->shut)
		return -ESHUTDOWN;
	for (int i = 0; r == 0 && i < 8 && (i == 0 || id_used(p, id)); i++)
		r = uv_random(NULL, NULL, &id, sizeof(id), 0, NULL);
	if (r < 0 || id_used(p, id))
		return -EAGAIN;
	q = calloc(1, sizeof(*q));
	copy = q ? ares_dns_record_duplicate(query) : NULL;
	if (copy == NULL || !ares_dns_record_set_id(copy, id) ||
	    ares_dns_write(copy, &wire, &wire_len) != ARES_SUCCESS || wire_len > DNS_MSG_TCP_MAX ||
	    (q->wire = malloc(wire_len + 2)) == NULL) {
		ares_free_string(wire);
		ares_dns_record_destroy(copy);
		free(q);
		return -ENOMEM;
	}
	dns_msg_tcp_prefix(wire_len, q->wire);
	memcpy(q->wire + 2, wire, wire_len);
	q->len = wire_len + 2;
	ares_free_string(wire);
	ares_dns_record_destroy(copy);
	q->p = p;
	q->id = id;
	q->cb = cb;
	q->arg = arg;
	if (p->conn == NULL) {
		r = pipe_open(p);
		if (r < 0) {
			free(q->wire);
			free(q);
			return r;
		}
	}
	uv_timer_init(p->loop, &q->timer);
	q->timer.data = q;
	uv_timer_start(&q->timer, q_timeout, p->timeout_ms, 0);
	list_insert_before(&p->queries, &q->link);
	if (p->conn->state == C_OPEN && conn_append(p->conn, q->wire, q->len) == 0) {
		q->sent_on = p->conn->gen;
		conn_set_poll(p->conn, STREAM_WANT_READ | STREAM_WANT_WRITE);
	}
	return 0;
}

int dns_pipe_create(uv_loop_t *loop, const struct upstream_cfg *up, const struct sock_opts *sock,
		    const struct sockaddr_storage *server, unsigned timeout_ms,
		    struct dns_pipe **out)
{
	struct dns_pipe *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->upc = up;
	p->sock = sock;
	p->timeout_ms = timeout_ms ? timeout_ms : 5000;
	list_init(&p->queries);
	addr_socktarget_from_ip(server, &p->target);
	*out = p;
	return 0;
}

uint64_t dns_pipe_opened(const struct dns_pipe *p)
{
	return p ? p->opened : 0;
}

void dns_pipe_shutdown(struct dns_pipe *p)
{
	if (p == NULL)
		return;
	p->shut = true;
	conn_end(p, -ECANCELED);
	while (!list_empty(&p->queries))
		q_finish(list_entry(p->queries.next, struct pipe_q, link), -ECANCELED, NULL);
}

void dns_pipe_destroy(struct dns_pipe *p)
{
	if (p == NULL)
		return;
	dns_pipe_shutdown(p);
	free(p);
}
