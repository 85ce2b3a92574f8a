/* upstream_conn: connect, TLS, proxy handshake, then one stream (see
 * upstream_conn.h).
 *
 * Layers, bottom up: sock (the fd) -> tls_conn when up->tls -> the
 * connector while in PROXY. c->io is the top of the first two; the
 * connector is stepped over it, and the relay reads and writes it through
 * upstream_conn_io(), which only adds the bytes that came with the
 * proxy's reply in front of it.
 *
 * Memory: the connector's state (up to a few KiB for HTTP) lives only
 * until OPEN; what the relay needs from it afterwards (leftover tunnel
 * bytes, UDP ASSOCIATE's relay address) is copied out, so an idle open
 * conn holds the socket, its TLS context if any, and this struct.
 */
#include "tun2socks/upstream/upstream_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tun2socks/base/log.h"
#include "tun2socks/upstream/target.h"
#include "tun2socks/upstream/tls.h"

#define CONN_HOPS_MAX (UPSTREAM_CONN_CHAIN_MAX + 1)

/* Above an intermediate hop's tunnel: the bytes that came with its
 * reply, read before the stream below (the next hop's first bytes). */
struct conn_layer {
	struct stream below;
	uint8_t *left;
	size_t len, off;
};

/* A proxy chain's state, only for a conn with more than one hop (a
 * direct or single-proxy conn carries none of it): the hops (the last is
 * the target's proxy), the one being opened, and what each finished hop
 * left: its TLS and the layer over its tunnel (freed at close, outermost
 * first). */
struct conn_chain {
	const struct upstream_cfg *hops[CONN_HOPS_MAX];
	size_t n, hop;
	const struct upstream_proto *last_proto;
	struct tls_conn *tls[CONN_HOPS_MAX];
	struct conn_layer *layer[CONN_HOPS_MAX];
	struct socks5_addr target;
};

struct upstream_conn {
	enum upstream_conn_state state;
	enum upstream_conn_state failed_in; /* valid once FAILED */
	int err;                            /* what step() returns once FAILED */
	int fd;
	char name[24];                      /* "flow#12", for log lines */
	const struct upstream_cfg *up;      /* NULL: DIRECT */
	const struct upstream_proto *proto; /* NULL: DIRECT */
	void *hs;                           /* connector state, until OPEN */
	struct tls_conn *tls;               /* TLS to the current hop, or NULL */
	struct stream io;                   /* the socket, or TLS over it */
	struct conn_chain *chain;           /* NULL: DIRECT or one proxy */
	/* Tunnel bytes that arrived with the proxy's reply, read before io:
	 * left[left_off..left_len). Freed once read. */
	uint8_t *left;
	size_t left_len, left_off;
	struct socks5_addr *bound; /* connector's bound(), if it has one */
};

static const char *const state_name[] = {
	[UPSTREAM_CONN_CONNECTING] = "CONNECTING", [UPSTREAM_CONN_TLS] = "TLS",
	[UPSTREAM_CONN_PROXY] = "PROXY",           [UPSTREAM_CONN_OPEN] = "OPEN",
	[UPSTREAM_CONN_FAILED] = "FAILED",
};

const char *upstream_conn_state_name(enum upstream_conn_state s)
{
	return (unsigned)s < sizeof(state_name) / sizeof(state_name[0]) ? state_name[s] : "?";
}

/* The one place the state changes; detail (may be NULL) ends the line. */
static void conn_set_state(struct upstream_conn *c, enum upstream_conn_state next,
			   const char *detail)
{
	log_debug("%s upstream %s -> %s%s%s", c->name, state_name[c->state], state_name[next],
		  detail ? ": " : "", detail ? detail : "");
	c->state = next;
}

static int conn_fail(struct upstream_conn *c, int err, char *why, size_t whylen, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));

/* Writes the reason, enters FAILED and returns err (sticky). */
static int conn_fail(struct upstream_conn *c, int err, char *why, size_t whylen, const char *fmt,
		     ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (whylen > 0)
		vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	c->err = err;
	c->failed_in = c->state;
	conn_set_state(c, UPSTREAM_CONN_FAILED, whylen > 0 ? why : NULL);
	return err;
}

/* The connector state of the chain's current hop, toward the next hop's
 * server or, for the last, the target. 0 or -ENOMEM. */
static int conn_hop_init(struct upstream_conn *c)
{
	struct conn_chain *ch = c->chain;
	struct socks5_addr next;
	void *hs = realloc(c->hs, c->proto->state_size);

	if (hs == NULL)
		return -ENOMEM;
	c->hs = hs;
	if (ch->hop + 1 < ch->n)
		addr_socktarget_from_ip(&ch->hops[ch->hop + 1]->server, &next);
	c->proto->init(c->hs, c->up, ch->hop + 1 < ch->n ? &next : &ch->target);
	return 0;
}

static ssize_t layer_read(void *ctx, void *buf, size_t len)
{
	struct conn_layer *l = ctx;
	size_t n;

	if (l->off == l->len)
		return l->below.read(l->below.ctx, buf, len);
	n = l->len - l->off < len ? l->len - l->off : len;
	memcpy(buf, l->left + l->off, n);
	l->off += n;
	return (ssize_t)n;
}

static ssize_t layer_write(void *ctx, const void *buf, size_t len)
{
	struct conn_layer *l = ctx;

	return l->below.write(l->below.ctx, buf, len);
}

static ssize_t layer_writev(void *ctx, const struct iovec *iov, int cnt)
{
	struct conn_layer *l = ctx;

	return stream_writev(&l->below, iov, cnt);
}

static int layer_wants(void *ctx)
{
	struct conn_layer *l = ctx;

	return stream_wants(&l->below);
}

static size_t layer_pending(void *ctx)
{
	struct conn_layer *l = ctx;

	return (l->len - l->off) + stream_pending(&l->below);
}

static int layer_shutdown(void *ctx)
{
	struct conn_layer *l = ctx;

	return stream_shutdown(&l->below);
}

/* Hop c->hop's tunnel is open: its leftover goes into a layer over c->io,
 * and the next hop starts (TLS first when it asks). */
static int conn_next_hop(struct upstream_conn *c, char *err, size_t errlen)
{
	struct conn_chain *ch = c->chain;
	const uint8_t *extra = NULL;
	size_t n = c->proto->leftover(c->hs, &extra);
	struct conn_layer *l = calloc(1, sizeof(*l));
	char v[64];

	if (l == NULL || (n > 0 && (l->left = malloc(n)) == NULL)) {
		free(l);
		return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
	}
	if (n > 0)
		memcpy(l->left, extra, n);
	l->len = n;
	l->below = c->io;
	ch->layer[ch->hop] = l;
	ch->tls[ch->hop] = c->tls;
	c->tls = NULL;
	c->io = (struct stream){
		.read = layer_read,
		.write = layer_write,
		.ctx = l,
		.writev = layer_writev,
		.wants = layer_wants,
		.pending = layer_pending,
		.shutdown = layer_shutdown,
	};
	ch->hop++;
	c->up = ch->hops[ch->hop];
	c->proto = ch->hop + 1 < ch->n ? c->up->proto : ch->last_proto;
	if (conn_hop_init(c) < 0)
		return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
	snprintf(v, sizeof(v), "hop %zu/%zu", ch->hop + 1, ch->n);
	if (c->up->tls) {
		c->tls = tls_conn_create(c->up->tls_ctx, &c->io);
		if (c->tls == NULL)
			return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
		conn_set_state(c, UPSTREAM_CONN_TLS, v);
	} else {
		conn_set_state(c, UPSTREAM_CONN_PROXY, v);
	}
	return 0;
}

int upstream_conn_open(const struct upstream_conn_spec *s, struct upstream_conn **out, char *err,
		       size_t errlen)
{
	const struct sockaddr *sa = s->addr;
	socklen_t len = s->addr_len;
	struct upstream_conn *c;
	int r;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (sa == NULL && s->up == NULL) {
		snprintf(err, errlen, "no address to connect to");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = -1;
	snprintf(c->name, sizeof(c->name), "%s", s->name);
	if (s->up != NULL && s->n_chain > UPSTREAM_CONN_CHAIN_MAX) {
		r = -EINVAL;
		snprintf(err, errlen, "proxy chain longer than %d hops", CONN_HOPS_MAX);
		goto fail;
	}
	c->up = s->up;
	c->proto = s->up == NULL ? NULL : s->proto ? s->proto : s->up->proto;
	if (s->up != NULL && s->n_chain > 0) {
		struct conn_chain *ch = calloc(1, sizeof(*ch));

		if (ch == NULL) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		c->chain = ch;
		for (size_t i = 0; i < s->n_chain; i++)
			ch->hops[ch->n++] = s->chain[i];
		ch->hops[ch->n++] = s->up;
		if (s->target)
			ch->target = *s->target;
		ch->last_proto = c->proto;
		c->up = ch->hops[0];
		c->proto = c->up->proto;
	}
	c->state = UPSTREAM_CONN_CONNECTING;
	if (sa == NULL && c->up != NULL) {
		sa = (const struct sockaddr *)&c->up->server;
		len = c->up->server_len;
	}
	if (c->proto != NULL && c->chain != NULL) {
		r = conn_hop_init(c);
		if (r < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	} else if (c->proto != NULL) {
		c->hs = malloc(c->proto->state_size);
		if (c->hs == NULL) {
			r = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		c->proto->init(c->hs, c->up, s->target);
	}
	r = sock_open(sa->sa_family, SOCK_STREAM, s->sock);
	if (r < 0) {
		snprintf(err, errlen, "cannot open upstream socket: %s", strerror(-r));
		goto fail;
	}
	/* No SO_RCVBUF: autotuning measured as fast as any fixed size
	 * and faster than small ones (docs/design.md §15). */
	c->fd = r;
	c->io = sock_stream(&c->fd);
	r = sock_connect(c->fd, sa, len);
	if (r < 0 && r != -EINPROGRESS) {
		snprintf(err, errlen, "%s: %s",
			 c->up ? "cannot connect to the proxy" : "cannot connect", strerror(-r));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	upstream_conn_close(c, false);
	return r;
}

/* PROXY -> OPEN: keeps what the relay needs of the connector's state and
 * frees the rest. */
static int conn_opened(struct upstream_conn *c, char *err, size_t errlen)
{
	const uint8_t *extra = NULL;
	size_t n = c->proto ? c->proto->leftover(c->hs, &extra) : 0;

	if (n > 0) {
		c->left = malloc(n);
		if (c->left == NULL)
			return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
		memcpy(c->left, extra, n);
		c->left_len = n;
	}
	if (c->proto != NULL && c->proto->bound != NULL) {
		c->bound = malloc(sizeof(*c->bound));
		if (c->bound == NULL)
			return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
		c->proto->bound(c->hs, c->bound);
	}
	free(c->hs);
	c->hs = NULL;
	conn_set_state(c, UPSTREAM_CONN_OPEN, NULL);
	return STREAM_DONE;
}

int upstream_conn_step(struct upstream_conn *c, int status, char *err, size_t errlen)
{
	char v[sizeof(((struct upstream_cfg *)0)->server_str) + 32];
	int r;

	if (errlen > 0)
		err[0] = '\0';
	for (;;) {
		switch (c->state) {
		case UPSTREAM_CONN_CONNECTING:
			r = sock_poll_error(c->fd, status);
			if (r < 0)
				return conn_fail(c, r, err, errlen, "%s: %s",
						 c->up ? "cannot connect to the proxy"
						       : "cannot connect",
						 strerror(-r));
			if (c->up == NULL)
				return conn_opened(c, err, errlen);
			if (c->up->tls) {
				c->tls = tls_conn_create(c->up->tls_ctx, &c->io);
				if (c->tls == NULL)
					return conn_fail(c, -ENOMEM, err, errlen, "out of memory");
				conn_set_state(c, UPSTREAM_CONN_TLS, NULL);
			} else {
				conn_set_state(c, UPSTREAM_CONN_PROXY, NULL);
			}
			break;
		case UPSTREAM_CONN_TLS:
			r = tls_conn_handshake(c->tls);
			if (r < 0)
				return conn_fail(c, r, err, errlen, "TLS to the proxy failed: %s",
						 tls_conn_error(c->tls));
			if (r != STREAM_DONE)
				return r;
			/* The connector and the relay speak through TLS from
			 * now on; tls_conn copied the socket stream. */
			c->io = tls_conn_io(c->tls);
			snprintf(v, sizeof(v), "%s to %s", tls_conn_version(c->tls),
				 c->up->server_str);
			conn_set_state(c, UPSTREAM_CONN_PROXY, v);
			break;
		case UPSTREAM_CONN_PROXY:
			r = c->proto->step(c->hs, &c->io);
			if (r < 0 && c->chain != NULL)
				return conn_fail(c, r, err, errlen, "proxy %s (hop %zu/%zu): %s",
						 c->up->server_str, c->chain->hop + 1, c->chain->n,
						 c->proto->error(c->hs));
			if (r < 0)
				return conn_fail(c, r, err, errlen, "%s", c->proto->error(c->hs));
			if (r != STREAM_DONE)
				return r;
			if (c->chain != NULL && c->chain->hop + 1 < c->chain->n) {
				r = conn_next_hop(c, err, errlen);
				if (r < 0)
					return r;
				break;
			}
			return conn_opened(c, err, errlen);
		case UPSTREAM_CONN_OPEN:
			return STREAM_DONE;
		case UPSTREAM_CONN_FAILED:
		default:
			snprintf(err, errlen, "failed before");
			return c->err;
		}
	}
}

enum upstream_conn_state upstream_conn_state(const struct upstream_conn *c)
{
	return c->state;
}

enum upstream_conn_state upstream_conn_failed_in(const struct upstream_conn *c)
{
	return c->state == UPSTREAM_CONN_FAILED ? c->failed_in : c->state;
}

int upstream_conn_fd(const struct upstream_conn *c)
{
	return c->fd;
}

int upstream_conn_bound(const struct upstream_conn *c, struct socks5_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (c->bound == NULL)
		return -ENOENT;
	*out = *c->bound;
	return 0;
}

/* ---- the tunnel as a stream ------------------------------------------- */

static ssize_t conn_read(void *ctx, void *buf, size_t len)
{
	struct upstream_conn *c = ctx;
	size_t n;

	if (c->state != UPSTREAM_CONN_OPEN)
		return c->state == UPSTREAM_CONN_FAILED ? c->err : -ENOTCONN;
	if (c->left == NULL)
		return c->io.read(c->io.ctx, buf, len);
	/* The proxy's reply came with tunnel bytes: they come first. */
	n = c->left_len - c->left_off;
	if (n > len)
		n = len;
	memcpy(buf, c->left + c->left_off, n);
	c->left_off += n;
	if (c->left_off == c->left_len) {
		free(c->left);
		c->left = NULL;
		c->left_len = c->left_off = 0;
	}
	return (ssize_t)n;
}

static ssize_t conn_write(void *ctx, const void *buf, size_t len)
{
	struct upstream_conn *c = ctx;

	if (c->state != UPSTREAM_CONN_OPEN)
		return c->state == UPSTREAM_CONN_FAILED ? c->err : -ENOTCONN;
	return c->io.write(c->io.ctx, buf, len);
}

static ssize_t conn_writev(void *ctx, const struct iovec *iov, int cnt)
{
	struct upstream_conn *c = ctx;

	if (c->state != UPSTREAM_CONN_OPEN)
		return c->state == UPSTREAM_CONN_FAILED ? c->err : -ENOTCONN;
	return stream_writev(&c->io, iov, cnt);
}

static int conn_wants(void *ctx)
{
	struct upstream_conn *c = ctx;

	return stream_wants(&c->io);
}

static size_t conn_pending(void *ctx)
{
	struct upstream_conn *c = ctx;

	return (c->left_len - c->left_off) + stream_pending(&c->io);
}

static int conn_shutdown(void *ctx)
{
	struct upstream_conn *c = ctx;

	if (c->state != UPSTREAM_CONN_OPEN)
		return -ENOTCONN;
	return stream_shutdown(&c->io);
}

struct stream upstream_conn_io(struct upstream_conn *c)
{
	return (struct stream){
		.read = conn_read,
		.write = conn_write,
		.ctx = c,
		.writev = conn_writev,
		.wants = conn_wants,
		.pending = conn_pending,
		.shutdown = conn_shutdown,
	};
}

void upstream_conn_close(struct upstream_conn *c, bool reset)
{
	if (c == NULL)
		return;
	/* TLS first: its stream refers to c->fd. No close_notify here: a
	 * clean end already sent it with shutdown, a reset sends none. */
	tls_conn_free(c->tls);
	for (size_t i = c->chain ? c->chain->n : 0; i-- > 0;) {
		tls_conn_free(c->chain->tls[i]);
		if (c->chain->layer[i] != NULL)
			free(c->chain->layer[i]->left);
		free(c->chain->layer[i]);
	}
	free(c->chain);
	if (c->fd >= 0) {
		if (reset)
			sock_close_reset(c->fd);
		else
			close(c->fd);
	}
	free(c->hs);
	free(c->left);
	free(c->bound);
	free(c);
}
