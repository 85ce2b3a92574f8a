/* dns_socks: a DNS forwarder that sends each query over TCP through the
 * proxy (--dns-via-proxy), so no DNS leaves the machine unproxied.
 *
 * One connection per query (an upstream_conn: the proxy's CONNECT to the
 * DNS server's address, over TLS when the proxy wants it), the query with
 * its 2-byte prefix (RFC 7766), one answer, close.
 * It implements struct dns_forwarder (dns_socks_send has resolver_send()'s
 * contract: on 0 the callback runs exactly once, later, from the loop).
 * Lifetime: dns_socks_shutdown() completes every query with -ECANCELED at
 * once and closes their handles; the loop finishes the closes;
 * dns_socks_destroy() frees what is left.
 */
#ifndef T2S_DNS_SOCKS_H
#define T2S_DNS_SOCKS_H

#include <sys/socket.h>

#include <uv.h>

#include "resolver/resolver.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/upstream/upstream.h"

struct dns_socks;

/* proxy and sock must outlive the forwarder. server: the DNS server the
 * proxy connects to (port included). timeout_ms: per query, connect to
 * answer. *out cleared first; 0 or -ENOMEM. */
int dns_socks_create(uv_loop_t *loop, const struct upstream_cfg *proxy,
		     const struct sock_opts *sock, const struct sockaddr_storage *server,
		     unsigned timeout_ms, struct dns_socks **out);
int dns_socks_send(void *ds, const struct ares_dns_record *query, resolver_cb cb, void *arg);
void dns_socks_shutdown(struct dns_socks *ds);
void dns_socks_destroy(struct dns_socks *ds);

#endif
