/* upstream_socks5: the SOCKS5 CONNECT and UDP ASSOCIATE handshakes
 * (RFC 1928, RFC 1929 username/password) as a state machine over stream:
 * SEND_GREETING -> READ_METHOD [-> SEND_AUTH -> READ_AUTH] -> SEND_REQUEST
 * -> READ_REPLY -> DONE, or FAILED from any state (sticky). Pipelined
 * (the proxy's "pipelining: true"): greeting, auth and request leave in one
 * write from SEND_GREETING, and the machine goes READ_METHOD [-> READ_AUTH]
 * -> READ_REPLY, one round trip instead of two or three (docs/design.md
 * §15). The pipelining probe (upstream_socks5_probe) is the pipelined
 * CONNECT taking any reply as done. Every change goes through
 * hs_set_state(), which logs it. Encoding
 * and parsing live in socks5 (pure); this file only sequences them. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tun2socks/base/log.h"
#include "tun2socks/upstream/socks5.h"
#include "tun2socks/upstream/upstream.h"

enum socks5_hs_state {
	S5_SEND_GREETING,
	S5_READ_METHOD,
	S5_SEND_AUTH,
	S5_READ_AUTH,
	S5_SEND_REQUEST,
	S5_READ_REPLY,
	S5_DONE,
	S5_FAILED,
};

static const char *const state_name[] = {
	[S5_SEND_GREETING] = "SEND_GREETING",
	[S5_READ_METHOD] = "READ_METHOD",
	[S5_SEND_AUTH] = "SEND_AUTH",
	[S5_READ_AUTH] = "READ_AUTH",
	[S5_SEND_REQUEST] = "SEND_REQUEST",
	[S5_READ_REPLY] = "READ_REPLY",
	[S5_DONE] = "DONE",
	[S5_FAILED] = "FAILED",
};

struct socks5_hs {
	enum socks5_hs_state state;
	int err_code;             /* what step() returns once FAILED */
	uint8_t cmd;              /* CONNECT or UDP ASSOCIATE */
	struct socks5_addr bound; /* BND.ADDR/PORT of the reply */
	const struct upstream_cfg *cfg;
	struct socks5_addr target;
	/* Invariant: out[out_off..out_len) is the unsent rest of the current
	 * message; in[0..in_len) the received, not yet parsed bytes. */
	uint8_t out[3 + SOCKS5_AUTH_MAX + SOCKS5_REQUEST_MAX];
	uint16_t out_len, out_off;
	/* Greeting, auth and request were sent together: the one method
	 * offered (NONE or USERPASS) is the only acceptable choice, and the
	 * replies are read in turn with nothing more to send. */
	bool pipelined;
	/* upstream_socks5_probe: any well-formed reply ends it (DONE), a
	 * refusal included. */
	bool probe;
	uint8_t in[SOCKS5_REQUEST_MAX + 64];
	uint16_t in_len, in_used;
	char err[96];
};

/* The one place the state changes. */
static void hs_set_state(struct socks5_hs *s, enum socks5_hs_state next)
{
	if (log_enabled(LOG_DEBUG)) {
		char t[SOCKS5_ADDR_STR_MAX];

		log_debug("socks5 %s %s via %s: %s -> %s%s%s",
			  s->cmd == SOCKS5_CMD_CONNECT ? "CONNECT" : "UDP ASSOCIATE",
			  socks5_addr_str(&s->target, t, sizeof(t)), s->cfg->server_str,
			  state_name[s->state], state_name[next], next == S5_FAILED ? ": " : "",
			  next == S5_FAILED ? s->err : "");
	}
	s->state = next;
}

/* Records the reason, enters FAILED and returns err; later step() calls
 * return err again. */
static int hs_fail(struct socks5_hs *s, int err, const char *fmt, const char *detail)
{
	snprintf(s->err, sizeof(s->err), fmt, detail);
	s->err_code = err;
	hs_set_state(s, S5_FAILED);
	return err;
}

static int hs_load(struct socks5_hs *s, int len, enum socks5_hs_state next)
{
	if (len < 0)
		return hs_fail(s, len, "%s",
			       "cannot encode request (name or credentials too long)");
	s->out_len = (uint16_t)len;
	s->out_off = 0;
	hs_set_state(s, next);
	return 0;
}

/* Greeting (one method), auth when configured, and the request, back to
 * back in out. */
static void hs_init_pipelined(struct socks5_hs *s)
{
	const struct upstream_cfg *cfg = s->cfg;
	size_t n;
	int r;

	s->pipelined = true;
	r = socks5_greeting_one_build(s->out, sizeof(s->out),
				      cfg->has_auth ? SOCKS5_METHOD_USERPASS : SOCKS5_METHOD_NONE);
	if (r < 0)
		goto fail;
	n = (size_t)r;
	if (cfg->has_auth) {
		r = socks5_auth_build(s->out + n, sizeof(s->out) - n, cfg->user, cfg->pass);
		if (r < 0)
			goto fail;
		n += (size_t)r;
	}
	r = socks5_request_build(s->out + n, sizeof(s->out) - n, s->cmd, &s->target);
	if (r < 0)
		goto fail;
	s->out_len = (uint16_t)(n + (size_t)r);
	return;
fail:
	/* init() cannot fail: the first step() reports it. */
	hs_fail(s, r, "%s", "cannot encode request (name or credentials too long)");
}

static void hs_init_cmd(struct socks5_hs *s, const struct upstream_cfg *cfg,
			const struct socks5_addr *target, uint8_t cmd, bool probe)
{
	int n;

	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	s->cfg = cfg;
	s->target = *target;
	s->probe = probe;
	s->state = S5_SEND_GREETING;
	if (cfg->pipelining || probe) {
		hs_init_pipelined(s);
		return;
	}
	n = socks5_greeting_build(s->out, sizeof(s->out), cfg->has_auth);
	if (n < 0) {
		/* init() cannot fail: the first step() reports it. */
		hs_fail(s, n, "%s", "cannot encode greeting");
		return;
	}
	s->out_len = (uint16_t)n;
}

static void hs_init(void *state, const struct upstream_cfg *cfg, const struct socks5_addr *target)
{
	hs_init_cmd(state, cfg, target, SOCKS5_CMD_CONNECT, false);
}

/* The pipelining probe (upstream.h upstream_socks5_probe). */
static void hs_init_probe(void *state, const struct upstream_cfg *cfg,
			  const struct socks5_addr *target)
{
	hs_init_cmd(state, cfg, target, SOCKS5_CMD_CONNECT, true);
}

/* UDP ASSOCIATE (RFC 1928 section 7). target is where the client will send
 * from; 0.0.0.0:0 when unknown, as it is for us. */
static void hs_init_udp(void *state, const struct upstream_cfg *cfg,
			const struct socks5_addr *target)
{
	hs_init_cmd(state, cfg, target, SOCKS5_CMD_UDP_ASSOCIATE, false);
}

static int hs_bound(const void *state, struct socks5_addr *out)
{
	const struct socks5_hs *s = state;

	memset(out, 0, sizeof(*out));
	if (s->state != S5_DONE)
		return -EAGAIN;
	*out = s->bound;
	return 0;
}

/* Sends the rest of out; 0 when all sent, WANT_WRITE, or -errno. */
static int hs_flush(struct socks5_hs *s, const struct stream *io)
{
	while (s->out_off < s->out_len) {
		ssize_t n =
			io->write(io->ctx, s->out + s->out_off, (size_t)(s->out_len - s->out_off));

		if (n == -EAGAIN)
			return STREAM_WANT_WRITE;
		if (n < 0)
			return hs_fail(s, (int)n, "send to proxy failed: %s", strerror((int)-n));
		s->out_off = (uint16_t)(s->out_off + n);
	}
	return 0;
}

/* Reads what is available; 0 when something new arrived, WANT_READ, or
 * -errno (EOF from the proxy is -ECONNRESET: it hung up mid-handshake). */
static int hs_fill(struct socks5_hs *s, const struct stream *io)
{
	ssize_t n;

	if (s->in_len == sizeof(s->in))
		return hs_fail(s, -EPROTO, "%s", "oversized reply from proxy");
	n = io->read(io->ctx, s->in + s->in_len, sizeof(s->in) - s->in_len);
	if (n == -EAGAIN)
		return STREAM_WANT_READ;
	if (n == 0)
		return hs_fail(s, -ECONNRESET, "%s",
			       "proxy closed the connection during the handshake");
	if (n < 0)
		return hs_fail(s, (int)n, "receive from proxy failed: %s", strerror((int)-n));
	s->in_len = (uint16_t)(s->in_len + n);
	return 0;
}

/* Drops the first `used` bytes of in (a parsed message). */
static void hs_consume(struct socks5_hs *s, int used)
{
	memmove(s->in, s->in + used, (size_t)(s->in_len - used));
	s->in_len = (uint16_t)(s->in_len - used);
}

/* Parses the message the current READ state waits for: bytes consumed,
 * 0 for "need more", or a negative errno. */
static int hs_parse(struct socks5_hs *s, uint8_t *method, struct socks5_reply *reply)
{
	switch (s->state) {
	case S5_READ_METHOD:
		return socks5_method_parse(s->in, s->in_len, s->cfg->has_auth, method);
	case S5_READ_AUTH:
		return socks5_auth_reply_parse(s->in, s->in_len);
	default:
		return socks5_reply_parse(s->in, s->in_len, reply);
	}
}

static int hs_load_request(struct socks5_hs *s)
{
	return hs_load(s, socks5_request_build(s->out, sizeof(s->out), s->cmd, &s->target),
		       S5_SEND_REQUEST);
}

/* Acts on a complete message of `used` bytes (or a parse error) in the
 * current READ state: 0 to go on, STREAM_DONE, or a negative errno. */
static int hs_handle(struct socks5_hs *s, int used, uint8_t method,
		     const struct socks5_reply *reply)
{
	char what[64];

	switch (s->state) {
	case S5_READ_METHOD:
		if (used == -ENOTSUP)
			return hs_fail(
				s, -EACCES, "%s",
				s->cfg->has_auth
					? "proxy accepts neither no-auth nor username/password"
					: "proxy requires authentication (give user:pass in the "
					  "proxy URL)");
		if (used < 0)
			return hs_fail(s, used, "%s", "malformed method selection from proxy");
		hs_consume(s, used);
		if (s->pipelined) {
			/* What we sent after the greeting presumed this
			 * choice; a server picking no-auth when we offered
			 * only username/password would read our auth as a
			 * request. */
			if ((method == SOCKS5_METHOD_USERPASS) != s->cfg->has_auth)
				return hs_fail(s, -EPROTO, "%s",
					       "proxy chose a method not offered (pipelining)");
			hs_set_state(s, s->cfg->has_auth ? S5_READ_AUTH : S5_READ_REPLY);
			return 0;
		}
		if (method == SOCKS5_METHOD_USERPASS)
			return hs_load(s,
				       socks5_auth_build(s->out, sizeof(s->out), s->cfg->user,
							 s->cfg->pass),
				       S5_SEND_AUTH);
		return hs_load_request(s);
	case S5_READ_AUTH:
		if (used == -EACCES)
			return hs_fail(s, used, "%s", "proxy rejected the username/password");
		if (used < 0)
			return hs_fail(s, used, "%s", "malformed authentication reply from proxy");
		hs_consume(s, used);
		if (s->pipelined) { /* the request went with the greeting */
			hs_set_state(s, S5_READ_REPLY);
			return 0;
		}
		return hs_load_request(s);
	default: /* S5_READ_REPLY */
		if (used < 0)
			return hs_fail(s, used, "%s", "malformed reply from proxy");
		if (reply->rep != SOCKS5_REP_SUCCEEDED && !s->probe) {
			snprintf(what, sizeof(what), "0x%02x: %s", reply->rep,
				 socks5_rep_str(reply->rep));
			return hs_fail(s, socks5_rep_to_errno(reply->rep),
				       s->cmd == SOCKS5_CMD_CONNECT
					       ? "proxy refused CONNECT, reply %s"
					       : "proxy refused UDP ASSOCIATE, reply %s",
				       what);
		}
		s->bound = reply->bnd;
		s->in_used = (uint16_t)used;
		hs_set_state(s, S5_DONE);
		return STREAM_DONE;
	}
}

static int hs_step(void *state, const struct stream *io)
{
	struct socks5_hs *s = state;
	struct socks5_reply reply;
	uint8_t method = 0;
	int r;

	for (;;) {
		switch (s->state) {
		case S5_SEND_GREETING:
		case S5_SEND_AUTH:
		case S5_SEND_REQUEST:
			r = hs_flush(s, io);
			if (r != 0)
				return r;
			if (s->state == S5_SEND_REQUEST) {
				hs_set_state(s, S5_READ_REPLY);
				/* The reply waits for the proxy to reach the
				 * target: reading now would be EAGAIN, a system
				 * call per connection for nothing. Poll instead,
				 * unless bytes are already held above the socket
				 * (no event would announce those). */
				if (s->in_len == 0 && stream_pending(io) == 0)
					return STREAM_WANT_READ;
				break;
			}
			/* The method and auth replies are immediate: read on. */
			hs_set_state(s,
				     s->state == S5_SEND_GREETING ? S5_READ_METHOD : S5_READ_AUTH);
			break;
		case S5_READ_METHOD:
		case S5_READ_AUTH:
		case S5_READ_REPLY:
			r = hs_parse(s, &method, &reply);
			if (r == 0) {
				r = hs_fill(s, io); /* need more */
				if (r != 0)
					return r;
				break;
			}
			r = hs_handle(s, r, method, &reply);
			if (r != 0)
				return r;
			break;
		case S5_DONE:
			return STREAM_DONE;
		case S5_FAILED:
			return s->err_code;
		}
	}
}

static size_t hs_leftover(void *state, const uint8_t **data)
{
	struct socks5_hs *s = state;

	*data = s->in + s->in_used;
	return (size_t)(s->in_len - s->in_used);
}

static const char *hs_error(const void *state)
{
	const struct socks5_hs *s = state;

	return s->err[0] ? s->err : "unknown error";
}

const struct upstream_proto upstream_socks5 = {
	.name = "socks5",
	.state_size = sizeof(struct socks5_hs),
	.init = hs_init,
	.step = hs_step,
	.leftover = hs_leftover,
	.error = hs_error,
};

const struct upstream_proto upstream_socks5_udp = {
	.name = "socks5",
	.state_size = sizeof(struct socks5_hs),
	.init = hs_init_udp,
	.step = hs_step,
	.leftover = hs_leftover,
	.error = hs_error,
	.bound = hs_bound,
};

const struct upstream_proto upstream_socks5_probe = {
	.name = "socks5",
	.state_size = sizeof(struct socks5_hs),
	.init = hs_init_probe,
	.step = hs_step,
	.leftover = hs_leftover,
	.error = hs_error,
};
