/* dns_upstream: where forwarded DNS queries go, built from the settings
 * and rebuilt at a reload (docs/design.md §24).
 *
 * A set holds default-nameserver's resolver, the encrypted servers of
 * dns.nameserver (tls://, https://; several are asked at once, the first
 * good answer taken), and nameserver-policy and fallback in front of
 * them; the plain nameservers are the caller's c-ares resolver. The
 * forwarder handed to the interceptor stays the same for the daemon's
 * life: a reload builds a new set and swaps it in for new queries; the
 * old one keeps answering the queries it holds, and is shut down once
 * they are done (or after a grace time, its last ones then answered
 * SERVFAIL), and freed when the last of them called back.
 */
#ifndef T2S_DNS_UPSTREAM_H
#define T2S_DNS_UPSTREAM_H

#include <uv.h>

#include "config/config.h"
#include "resolver/dns_intercept.h"
#include "tun2socks/app/options.h"
#include "tun2socks/base/must_check.h"
#include "tun2socks/base/sock.h"

struct dns_upstream;
struct resolver;
struct router_gen;

struct dns_upstream_config {
	const struct options_dns *dns; /* dot, doh, dot_ca, default_ns */
	const struct config_dns *conf; /* nameserver-policy, fallback; NULL: none */
	struct resolver *main;         /* the plain nameservers (c-ares), not owned */
	struct sock_opts sock;         /* the encrypted servers' sockets */
	unsigned timeout_ms;           /* encrypted servers, per query */
	/* the generation whose engines answer geosite:/rule-set: keys and
	 * fallback-filter geoip/geosite (a reference is taken), or NULL */
	const struct router_gen *gen;
};

/* 0, or -errno with the reason logged. */
T2S_MUST_CHECK int dns_upstream_create(uv_loop_t *loop, const struct dns_upstream_config *cfg,
				       struct dns_upstream **out);
/* A new set from cfg for queries from now on: 0; or -errno (logged) with
 * the running set kept. */
T2S_MUST_CHECK int dns_upstream_reload(struct dns_upstream *u,
				       const struct dns_upstream_config *cfg);
/* The forwarder for dns_intercept_create (valid until destroy). */
struct dns_forwarder dns_upstream_forwarder(struct dns_upstream *u);
/* Retired sets still held (tests and logs). */
unsigned dns_upstream_retired(const struct dns_upstream *u);
/* Shuts every set down (their queries end with -ECANCELED), closes the
 * timers; destroy frees once the loop ran their closes. NULL ok. */
void dns_upstream_shutdown(struct dns_upstream *u);
void dns_upstream_destroy(struct dns_upstream *u);

#endif
