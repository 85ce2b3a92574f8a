/* resolver: c-ares on the daemon's libuv loop, for forwarding DNS queries.
 *
 * One c-ares channel per resolver, driven without threads: c-ares reports
 * which sockets it wants watched (ARES_OPT_SOCK_STATE_CB) and gets one
 * uv_poll_t per socket; one uv_timer_t follows ares_timeout() after every
 * operation. Every c-ares socket gets the sock_opts (--bind-interface,
 * --fwmark) before connect, so DNS never loops back into the TUN.
 *
 * Lifetime: resolver_shutdown() cancels what is pending and closes the
 * handles (the loop keeps running and finishes the closes);
 * resolver_destroy() shuts down if needed and frees once the last handle
 * close callback has run, so it may be called right after shutdown without
 * running the loop in between. Neither may be called from inside a
 * resolver_cb (c-ares forbids destroying a channel from its callbacks).
 */
#ifndef T2S_RESOLVER_H
#define T2S_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tun2socks/base/sock.h"
#include "tun2socks/base/must_check.h"

struct resolver;
struct ares_dns_record; /* <ares.h>: ares_dns_record_t */

struct resolver_config {
	/* Comma-separated upstreams: "IP", "IP:port", "[IPv6]:port",
	 * "udp://IP[:port]", "tcp://IP[:port]" (port 53 by default). c-ares
	 * has one transport setting per channel: a single tcp:// entry makes
	 * the whole channel use TCP. NULL = the system configuration
	 * (resolv.conf) as c-ares reads it; "" is an error. */
	const char *servers;
	struct sock_opts sock; /* applied to every c-ares socket */
	unsigned timeout_ms;   /* per try; 0 = 2000 */
	unsigned tries;        /* 0 = 2 */
	bool use_tcp;          /* ARES_FLAG_USEVC */
	/* resolver_send() + resolver_lookup() outstanding at most; 0 and
	 * anything above = 4096 (1/16 of c-ares' query IDs). */
	unsigned max_pending;
};

/* Creates a resolver on loop. Returns 0 or -errno (-EINVAL for a server
 * string that does not parse, with a message in err, e.g.
 * "--dns-server: cannot parse 'x'"); *out is NULL on failure. err may be
 * NULL. */
T2S_MUST_CHECK int resolver_create(uv_loop_t *loop, const struct resolver_config *cfg,
				   struct resolver **out, char *err, size_t errlen);

/* Cancels pending queries (their callbacks run with -ECANCELED before this
 * returns) and closes the handles. Later resolver_send() calls fail with
 * -ESHUTDOWN. Idempotent. */
void resolver_shutdown(struct resolver *r);
/* Socket options for c-ares sockets opened from now on (a reload changed
 * interface-name or routing-mark). */
void resolver_set_sock(struct resolver *r, const struct sock_opts *sock);

/* Other upstream servers (resolver_config.servers syntax, not NULL) for
 * queries from now on; queries waiting keep going (c-ares moves those of
 * a removed server to the new ones). 0, -EINVAL (unparsable, said in
 * err), -EOPNOTSUPP (udp:// <-> tcp://: the channel's transport stays),
 * -ESHUTDOWN, -ENOMEM. */
T2S_MUST_CHECK int resolver_set_servers(struct resolver *r, const char *servers, char *err,
					size_t errlen);

/* A hosts table resolver_lookup() answers from first (hosts:, docs/design.md
 * §23); NULL: none. It must outlive the resolver's lookups. */
struct dns_hosts;
void resolver_set_hosts(struct resolver *r, const struct dns_hosts *hosts);

/* Shuts down if needed; the memory goes when the handle closes finish. */
void resolver_destroy(struct resolver *r);

/* status is 0 with the upstream reply (any rcode: NXDOMAIN is a reply, not
 * an error; the record is valid only during the call, c-ares owns it), or
 * with reply NULL: -ETIMEDOUT, -ECONNREFUSED, -ECANCELED (shutdown),
 * -ECONNRESET (connection closed), -EBADMSG (unparseable reply), -EIO
 * (every server answered SERVFAIL/REFUSED/NOTIMP), -EHOSTUNREACH (no
 * server configured), -ENOMEM, -EINVAL (c-ares refused the query). */
typedef void (*resolver_cb)(void *arg, int status, const struct ares_dns_record *reply);

/* Sends query upstream (c-ares picks its own message ID: restore the
 * client's on the reply; the caller keeps ownership of query). On 0, cb
 * runs exactly once, later, from the loop (c-ares' query cache is off, so
 * never from within this call). On -errno cb never runs: -ESHUTDOWN after
 * resolver_shutdown(), -EAGAIN when max_pending queries are outstanding,
 * or a failure c-ares reported at once. */
T2S_MUST_CHECK int resolver_send(struct resolver *r, const struct ares_dns_record *query,
				 resolver_cb cb, void *arg);

/* Addresses of a host name (A and AAAA, /etc/hosts first, RFC 6724
 * order), for DIRECT connections and IP rules. status 0 with 1..
 * RESOLVER_LOOKUP_MAX addresses (port 0), or -ENOENT (no such name or no
 * address), -ETIMEDOUT, -ECANCELED (shutdown)... cb runs exactly once; it
 * MAY run before resolver_lookup() returns (a numeric name, /etc/hosts).
 * Returns 0, or -ESHUTDOWN / -EAGAIN (max_pending reached) / -ENOMEM (cb
 * never runs). */
enum { RESOLVER_LOOKUP_MAX = 8 };
struct sockaddr_storage;
typedef void (*resolver_addr_cb)(void *arg, int status, const struct sockaddr_storage *addrs,
				 size_t n);
T2S_MUST_CHECK int resolver_lookup(struct resolver *r, const char *name, resolver_addr_cb cb,
				   void *arg);

/* Whether a DNS query seen entering the TUN is one of ours come back (the
 * upstream server is routed into the TUN: a forwarding loop): its ID, name
 * (any case) and type match a resolver_send() still waiting for its
 * answer, or src (the query's source address and port; may be NULL) is
 * the local address of one of c-ares' sockets, which also covers
 * resolver_lookup()'s queries. */
bool resolver_is_own_query(const struct resolver *r, const struct sockaddr *src, uint16_t id,
			   const char *name, uint16_t qtype);

/* resolver_send() + resolver_lookup() calls whose callback has not run. */
unsigned resolver_pending(const struct resolver *r);

/* The first server of a servers string (syntax above) as an address with
 * its port: 0 or -EINVAL. For forwarders that talk to one server. */
T2S_MUST_CHECK int resolver_first_server(const char *servers, struct sockaddr_storage *out);

#endif
