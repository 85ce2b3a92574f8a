/* upstream: how a flow reaches its target through a proxy.
 *
 * A connector speaks one proxy protocol over an already connected stream
 * until the tunnel to the target is open. Each is an explicit state machine
 * behind this one interface, driven by socket readiness: step() does as
 * much I/O as it can and says what it waits for. I/O goes through a
 * struct stream, so a TLS layer sits under any connector (tls.h).
 * upstream_conn (upstream_conn.h) stacks socket, TLS and connector into
 * one connection; flows, UDP sessions and DNS-over-proxy queries use it.
 */
#ifndef T2S_UPSTREAM_H
#define T2S_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tun2socks/base/stream.h"
#include "tun2socks/upstream/socks5.h"

struct upstream_proto;
struct tls_cfg;

/* One configured upstream (a proxy server). */
struct upstream_cfg {
	const struct upstream_proto *proto;
	struct sockaddr_storage server;
	socklen_t server_len;
	char server_str[300]; /* "host:port" as the user wrote it, for logs */
	int has_auth;
	char user[256];
	char pass[256];
	/* SOCKS5: send greeting, auth and request in one write without
	 * waiting for each reply (the proxy's "pipelining: true"). Saves one
	 * round trip (two with auth) per connection; the server must read
	 * each message exactly (dante does, microsocks drops the rest). */
	bool pipelining;
	/* "pipelining: auto": `pipelining` starts false and the probe
	 * (route/pipelining.h) sets it once the server answered a pipelined
	 * request; the one field of a loaded upstream that changes (loop
	 * thread: connectors read it when a handshake starts). */
	bool pipelining_auto;
	/* TLS to the proxy itself (https:// proxies, socks5 with tls: true).
	 * The connector does not change: upstream_conn opens a tls_conn over
	 * the socket, drives tls_conn_handshake() and then steps the
	 * connector with tls_conn_io() as its io (see tls.h). */
	bool tls;
	bool skip_cert_verify; /* verify nothing; the caller logs a warning */
	char sni[256];         /* name to send and verify: the proxy host as
				* the user wrote it (an IP literal: no SNI,
				* the IP is checked against the certificate) */
	char ca_file[1024];    /* PEM bundle; "" for the system's */
	/* Built once from the four fields above by tls_cfg_create() when the
	 * config is loaded, shared by every connection to this upstream, and
	 * freed (tls_cfg_free) with the config. NULL when tls is false. */
	struct tls_cfg *tls_ctx;
};

/* A SOCKS5 proxy's pipelining as configured: auto (probed, the default),
 * off or on. */
enum upstream_pipelining {
	UPSTREAM_PIPELINING_AUTO = 0,
	UPSTREAM_PIPELINING_OFF,
	UPSTREAM_PIPELINING_ON,
};

/* What a configured upstream is made from (--proxy URL or config entry). */
struct upstream_spec {
	const struct upstream_proto *proto;
	const char *host; /* name or IP literal, without brackets */
	uint16_t port;
	const char *user, *pass;             /* user NULL: no credentials */
	bool tls;                            /* TLS to the proxy */
	bool skip_cert_verify;               /* the caller warns about it */
	const char *sni;                     /* NULL: host */
	const char *ca_file;                 /* NULL: the system's CAs */
	enum upstream_pipelining pipelining; /* SOCKS5 only: see upstream_cfg */
	bool resolve;                        /* look host up now (getaddrinfo, blocking) */
};

/* Fills u (cleared first) from s, building its TLS context. 0, or -EINVAL
 * (TLS set-up) / -EHOSTUNREACH (no address) with the reason in err, e.g.
 * "cannot resolve 'x': Name or service not known". upstream_cfg_free()
 * releases what it built. */
int upstream_cfg_init(struct upstream_cfg *u, const struct upstream_spec *s, char *err,
		      size_t errlen);
void upstream_cfg_free(struct upstream_cfg *u);

struct upstream_proto {
	const char *name;  /* "socks5" */
	size_t state_size; /* bytes for one handshake's state */
	/* Sets up the state for a tunnel to target. */
	void (*init)(void *state, const struct upstream_cfg *cfg, const struct socks5_addr *target);
	/* Advances: STREAM_WANT_READ / _WANT_WRITE, STREAM_DONE, or a
	 * negative errno (the reason is then in error()). */
	int (*step)(void *state, const struct stream *io);
	/* Bytes received after the handshake that belong to the tunnel (a
	 * server-first protocol's banner arriving with the reply). */
	size_t (*leftover)(void *state, const uint8_t **data);
	/* Human reason of the last failure, e.g. "reply 0x05: connection
	 * refused". */
	const char *(*error)(const void *state);
	/* Optional (NULL: the protocol has none). After STREAM_DONE, the
	 * address the proxy bound for us: UDP ASSOCIATE's relay address
	 * (BND.ADDR/PORT). 0, or -EAGAIN before STREAM_DONE (out cleared). */
	int (*bound)(const void *state, struct socks5_addr *out);
};

extern const struct upstream_proto upstream_socks5;
/* No handshake: the (TLS) stream itself is the tunnel, for services
 * reached over TLS without a proxy (DNS over TLS, docs/design.md §24). */
extern const struct upstream_proto upstream_plain;
/* The same handshake asking for UDP ASSOCIATE; after STREAM_DONE,
 * bound() gives the relay address (BND.ADDR/PORT). */
extern const struct upstream_proto upstream_socks5_udp;
/* The pipelining probe (route/pipelining.h): greeting, auth and CONNECT
 * in one write whatever cfg->pipelining says, and any well-formed reply
 * to the CONNECT ends it with STREAM_DONE, a refusal included: the proxy
 * read the pipelined request. */
extern const struct upstream_proto upstream_socks5_probe;
/* HTTP CONNECT (RFC 9110 9.3.6), Basic auth from has_auth/user/pass. Tunnel
 * bytes that arrived with the 2xx reply come from leftover(). */
extern const struct upstream_proto upstream_http;

#endif
