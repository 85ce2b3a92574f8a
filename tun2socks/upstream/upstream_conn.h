/* upstream_conn: one connection toward an upstream, from connect() to an
 * open tunnel, layered like curl's connection filters: the socket, TLS
 * to the proxy when it asks for it, and the proxy connector stepped over
 * whichever is on top. Afterwards it is one struct stream, so the relay
 * on top never knows whether TLS, a proxy or neither is underneath.
 *
 * States, each change through one setter that logs "flow#12 upstream
 * CONNECTING -> TLS" (the caller's name) at debug level:
 *
 *   CONNECTING -> TLS -> PROXY -> OPEN     a TLS proxy (https://, tls: true)
 *   CONNECTING ------>  PROXY -> OPEN      a plain proxy
 *   CONNECTING -----------------> OPEN     DIRECT (no proxy)
 *   any of the first three -> FAILED       sticky
 *
 * A proxy chain (a relay group, docs/design.md §18): the socket connects
 * to the first hop; each hop's TLS and connector run over the stream of
 * the hops before it and open a tunnel to the next hop's server, and the
 * last one to the target. TLS and PROXY repeat once per hop ("hop 2/3"
 * in the log line of the change).
 *
 * Who polls: the caller. A conn owns its socket but never touches the
 * event loop (so it is tested with poll(2) alone). The caller watches
 * upstream_conn_fd() with a uv_poll handle of its own, whose lifetime
 * stays in the caller's reference count like its other handles: after
 * upstream_conn_open() it waits for writability, then calls
 * upstream_conn_step() on every event and polls for what each step
 * returns, until STREAM_DONE. Then upstream_conn_io() is the tunnel.
 * Deadlines are the caller's too (upstream_conn_state() names the phase
 * that timed out).
 *
 * Closing: the caller stops and closes its poll handle first and calls
 * upstream_conn_close() from the close callback, so the fd number is never
 * reused while libuv still watches it.
 *
 * Errors: every function that fails returns a negative errno and writes
 * the reason to the caller's why/whylen buffer, whole and ready to log
 * ("cannot connect to the proxy: Connection refused", "TLS to the proxy
 * failed: ...", the connector's own "proxy refused CONNECT, reply 0x05:
 * connection refused"), the convention of upstream_cfg_init().
 */
#ifndef T2S_UPSTREAM_CONN_H
#define T2S_UPSTREAM_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "tun2socks/base/sock.h"
#include "tun2socks/base/stream.h"
#include "tun2socks/upstream/socks5.h"
#include "tun2socks/upstream/upstream.h"

struct upstream_conn;

/* Hops a chain may put before the last proxy. */
#define UPSTREAM_CONN_CHAIN_MAX 4

enum upstream_conn_state {
	UPSTREAM_CONN_CONNECTING, /* TCP connect in flight */
	UPSTREAM_CONN_TLS,        /* TLS handshake with the proxy */
	UPSTREAM_CONN_PROXY,      /* the connector's handshake */
	UPSTREAM_CONN_OPEN,       /* tunnel open: upstream_conn_io() */
	UPSTREAM_CONN_FAILED,
};

struct upstream_conn_spec {
	const char *name;             /* "flow#12": starts its log lines */
	const struct sock_opts *sock; /* loop avoidance for the socket */
	/* The proxy, or NULL for DIRECT. Must outlive the conn. */
	const struct upstream_cfg *up;
	/* Hops before up (a proxy chain), first hop first; n_chain 0: none.
	 * Each must outlive the conn. */
	const struct upstream_cfg *const *chain;
	size_t n_chain; /* at most UPSTREAM_CONN_CHAIN_MAX */
	/* The connector to step; NULL: up->proto. (UDP sessions pass
	 * upstream_socks5_udp.) */
	const struct upstream_proto *proto;
	/* What the proxy connects to (copied by the connector). */
	const struct socks5_addr *target;
	/* Where the socket connects: DIRECT's address; NULL with a proxy
	 * for up->server. */
	const struct sockaddr *addr;
	socklen_t addr_len;
};

/* Opens a non-blocking socket and starts connecting it; the caller then
 * polls upstream_conn_fd() for writability. 0 with *out set, or -errno
 * with *out NULL and the reason in err (-EINVAL: neither up nor addr). */
int upstream_conn_open(const struct upstream_conn_spec *s, struct upstream_conn **out, char *err,
		       size_t errlen);

/* Advances on a readiness event; status is the event's own error (libuv's
 * poll status: 0, or negative when the socket reported an error). Returns
 * STREAM_WANT_READ / _WRITE (poll for that, see sock_poll_events()),
 * STREAM_DONE once OPEN (and on every later call), or a negative errno
 * with the reason in err (the conn is then FAILED and returns that errno
 * again). */
int upstream_conn_step(struct upstream_conn *c, int status, char *err, size_t errlen);

enum upstream_conn_state upstream_conn_state(const struct upstream_conn *c);
/* The state a FAILED conn failed in (its own state otherwise). */
enum upstream_conn_state upstream_conn_failed_in(const struct upstream_conn *c);
const char *upstream_conn_state_name(enum upstream_conn_state s);

/* The socket, for the caller's poll handle. */
int upstream_conn_fd(const struct upstream_conn *c);

/* The tunnel once OPEN, valid until upstream_conn_close(). All of struct
 * stream's operations are there: writev, wants (a TLS read may need the
 * socket writable, and a write readable), pending (decrypted TLS bytes and
 * bytes that came with the proxy's reply: read them without waiting for
 * readability) and shutdown (close_notify over TLS, then FIN). Before
 * OPEN, read and write fail with -ENOTCONN. */
struct stream upstream_conn_io(struct upstream_conn *c);

/* After STREAM_DONE with a connector that has bound() (UDP ASSOCIATE):
 * the relay address the proxy gave. 0, or -ENOENT (out cleared). */
int upstream_conn_bound(const struct upstream_conn *c, struct socks5_addr *out);

/* Closes the socket (with an RST when reset: SO_LINGER 0) and frees the
 * conn. NULL is ignored. The caller's poll handle must be closed already
 * (see above). */
void upstream_conn_close(struct upstream_conn *c, bool reset);

#endif
