/* upstream_http: the HTTP CONNECT handshake as a state machine over
 * stream. Encoding and parsing live in http (pure); this file
 * only sequences them. Over TLS (an https:// proxy) it is driven with
 * tls_conn_io() as its io and does not know the difference. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tun2socks/base/log.h"
#include "tun2socks/upstream/http.h"
#include "tun2socks/upstream/upstream.h"

enum http_state {
	HTTP_SEND_REQUEST,
	HTTP_READ_RESPONSE,
	HTTP_DONE,
	HTTP_FAILED,
};

struct http {
	enum http_state state;
	int err_code; /* the step() result in HTTP_FAILED */
	const struct upstream_cfg *cfg;
	struct socks5_addr target;
	/* Invariant: out[out_off..out_len) is the unsent rest of the request;
	 * in[0..in_len) the received bytes, of which in[0..in_used) are the
	 * final response header once HTTP_DONE. Room past HTTP_HEADER_MAX lets
	 * the parser see that a header is too long, and keeps tunnel bytes
	 * that came in the same read. */
	char out[HTTP_CONNECT_MAX];
	uint16_t out_len, out_off;
	uint8_t in[HTTP_HEADER_MAX + 1024];
	uint16_t in_len, in_used;
	uint16_t interim; /* header bytes of 1xx replies skipped */
	char err[192];
};

static const char *const state_name[] = {
	[HTTP_SEND_REQUEST] = "SEND_REQUEST",
	[HTTP_READ_RESPONSE] = "READ_RESPONSE",
	[HTTP_DONE] = "DONE",
	[HTTP_FAILED] = "FAILED",
};

/* The one place the state changes. */
static void http_set_state(struct http *h, enum http_state next)
{
	if (log_enabled(LOG_DEBUG)) {
		char t[SOCKS5_ADDR_STR_MAX];

		log_debug("http CONNECT %s via %s: %s -> %s",
			  socks5_addr_str(&h->target, t, sizeof(t)), h->cfg->server_str,
			  state_name[h->state], state_name[next]);
	}
	h->state = next;
}

static int http_fail(struct http *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the reason, enters HTTP_FAILED and returns err; later step()
 * calls return err again. */
static int http_fail(struct http *h, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	h->err_code = err;
	http_set_state(h, HTTP_FAILED);
	return err;
}

static void http_init(void *state, const struct upstream_cfg *cfg, const struct socks5_addr *target)
{
	struct http *h = state;
	int n;

	memset(h, 0, sizeof(*h));
	h->cfg = cfg;
	h->target = *target;
	h->state = HTTP_SEND_REQUEST;
	n = http_connect_build(h->out, sizeof(h->out), target, cfg->has_auth ? cfg->user : NULL,
			       cfg->pass);
	if (n < 0) {
		/* init() cannot fail: the first step() reports it. */
		http_fail(
			h, n, "%s",
			cfg->has_auth
				? "cannot encode CONNECT request (target name or user name not "
				  "representable)"
				: "cannot encode CONNECT request (target name not representable)");
		return;
	}
	h->out_len = (uint16_t)n;
}

/* Sends the rest of out; 0 when all sent, WANT_WRITE, or -errno. */
static int http_flush(struct http *h, const struct stream *io)
{
	while (h->out_off < h->out_len) {
		ssize_t n =
			io->write(io->ctx, h->out + h->out_off, (size_t)(h->out_len - h->out_off));

		if (n == -EAGAIN)
			return STREAM_WANT_WRITE;
		if (n < 0)
			return http_fail(h, (int)n, "send to proxy failed: %s", strerror((int)-n));
		h->out_off = (uint16_t)(h->out_off + n);
	}
	return 0;
}

/* Reads what is available; 0 when something new arrived, WANT_READ, or
 * -errno (EOF from the proxy is -ECONNRESET: it hung up mid-handshake). */
static int http_fill(struct http *h, const struct stream *io)
{
	ssize_t n;

	if (h->in_len == sizeof(h->in)) /* the parser gives up long before */
		return http_fail(h, -EMSGSIZE, "response header exceeds 16 KiB");
	n = io->read(io->ctx, h->in + h->in_len, sizeof(h->in) - h->in_len);
	if (n == -EAGAIN)
		return STREAM_WANT_READ;
	if (n == 0)
		return http_fail(h, -ECONNRESET,
				 "proxy closed the connection during the handshake");
	if (n < 0)
		return http_fail(h, (int)n, "receive from proxy failed: %s", strerror((int)-n));
	h->in_len = (uint16_t)(h->in_len + n);
	return 0;
}

/* Acts on a parsed response of `used` bytes: 0 to read on (a skipped 1xx),
 * STREAM_DONE, or a negative errno. */
static int http_handle(struct http *h, int used, const struct http_response *resp)
{
	const char *sep = resp->reason[0] ? " " : "";
	int err;

	if (resp->status >= 100 && resp->status <= 199 && resp->status != 101) {
		/* Interim replies precede the real one (RFC 9110 15.2); all
		 * of them together stay within the header limit. */
		if ((size_t)h->interim + (size_t)used > HTTP_HEADER_MAX)
			return http_fail(h, -EMSGSIZE, "response header exceeds 16 KiB");
		h->interim = (uint16_t)(h->interim + used);
		memmove(h->in, h->in + used, (size_t)(h->in_len - used));
		h->in_len = (uint16_t)(h->in_len - used);
		return 0;
	}
	err = http_status_to_errno(resp->status);
	if (err == 0) {
		h->in_used = (uint16_t)used;
		http_set_state(h, HTTP_DONE);
		return STREAM_DONE;
	}
	/* 401 is not the proxy status (RFC 9110 15.5.8), but some proxies
	 * (tinyproxy with BasicAuth) answer a failed Proxy-Authorization so. */
	if (resp->status == 407 || resp->status == 401)
		return http_fail(h, err, "proxy authentication required (HTTP %d%s%s): %s",
				 resp->status, sep, resp->reason,
				 h->cfg->has_auth ? "the proxy rejected the configured user:pass"
						  : "give user:pass in the proxy URL");
	return http_fail(h, err, "proxy refused CONNECT: HTTP %d%s%s", resp->status, sep,
			 resp->reason);
}

static int http_step(void *state, const struct stream *io)
{
	struct http *h = state;
	struct http_response resp;
	int r;

	for (;;) {
		switch (h->state) {
		case HTTP_SEND_REQUEST:
			r = http_flush(h, io);
			if (r != 0)
				return r;
			http_set_state(h, HTTP_READ_RESPONSE);
			/* The response waits for the proxy to reach the
			 * target: reading now would be EAGAIN, a system call
			 * per connection for nothing. Poll instead, unless
			 * bytes are already held above the socket (decrypted
			 * TLS: no event would announce those). */
			if (h->in_len == 0 && stream_pending(io) == 0)
				return STREAM_WANT_READ;
			break;
		case HTTP_READ_RESPONSE:
			r = http_response_parse(h->in, h->in_len, &resp);
			if (r == 0) {
				r = http_fill(h, io);
				if (r != 0)
					return r;
				break;
			}
			if (r == -EPROTO)
				return http_fail(h, r, "not an HTTP response");
			if (r == -EMSGSIZE)
				return http_fail(h, r, "response header exceeds 16 KiB");
			if (r < 0)
				return http_fail(h, -EPROTO, "malformed HTTP response from proxy");
			r = http_handle(h, r, &resp);
			if (r != 0)
				return r;
			break;
		case HTTP_DONE:
			return STREAM_DONE;
		case HTTP_FAILED:
			return h->err_code;
		}
	}
}

static size_t http_leftover(void *state, const uint8_t **data)
{
	struct http *h = state;

	if (h->state != HTTP_DONE) {
		*data = NULL;
		return 0;
	}
	*data = h->in + h->in_used;
	return (size_t)(h->in_len - h->in_used);
}

static const char *http_error(const void *state)
{
	const struct http *h = state;

	return h->err[0] ? h->err : "unknown error";
}

const struct upstream_proto upstream_http = {
	.name = "http",
	.state_size = sizeof(struct http),
	.init = http_init,
	.step = http_step,
	.leftover = http_leftover,
	.error = http_error,
};
