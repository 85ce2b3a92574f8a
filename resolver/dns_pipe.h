/* dns_pipe: DNS over one kept stream connection (RFC 7766 §6.2.1, RFC
 * 7858 §3.4), for DNS over TLS (docs/design.md §24).
 *
 * The first query opens the connection (an upstream_conn: TLS to the
 * server with the upstream_plain connector); later ones are written on it
 * as they come, each with its 2-byte prefix and an ID unique among the
 * queries in flight, and answers are matched by ID in whatever order they
 * arrive. The connection stays open for the next queries until the server
 * closes it; then (or when it fails) the queries sent on it and not
 * answered are sent once more on a new connection, and fail the second
 * time. A query unanswered within timeout_ms fails with -ETIMEDOUT and
 * the connection is dropped (a server gone silent would hold every later
 * query too). It implements struct dns_forwarder (dns_pipe_send has
 * resolver_send()'s contract: on 0 the callback runs exactly once,
 * later, from the loop). Lifetime: dns_pipe_shutdown() completes every
 * query with -ECANCELED and closes the handles; dns_pipe_destroy() frees
 * what is left (the handles' closes need no pipe).
 */
#ifndef T2S_DNS_PIPE_H
#define T2S_DNS_PIPE_H

#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/upstream/upstream.h"

struct dns_pipe;

/* up and sock must outlive the pipe; server: the address (port
 * included). *out cleared first; 0 or -ENOMEM. */
T2S_MUST_CHECK int dns_pipe_create(uv_loop_t *loop, const struct upstream_cfg *up,
				   const struct sock_opts *sock,
				   const struct sockaddr_storage *server, unsigned timeout_ms,
				   struct dns_pipe **out);
T2S_MUST_CHECK int dns_pipe_send(void *pipe, const struct ares_dns_record *query, resolver_cb cb,
				 void *arg);
/* Connections opened so far (logs and tests). */
uint64_t dns_pipe_opened(const struct dns_pipe *p);
void dns_pipe_shutdown(struct dns_pipe *p);
void dns_pipe_destroy(struct dns_pipe *p);

#endif
