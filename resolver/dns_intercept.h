/* dns_intercept: answers every DNS query that enters the TUN.
 *
 * Queries to port 53 on ANY destination, over UDP (dns_intercept_udp) and
 * TCP (dns_intercept_tcp_accept), are answered here, never relayed as
 * ordinary flows:
 *  - fake-ip: A/AAAA from the fake pool (short TTL), PTR of a fake address
 *    from the pool; names on the filter list and every other type go to
 *    the forwarder and come back rewritten (dns_msg_rewrite_record strips
 *    HTTPS/SVCB address hints);
 *  - real-ip: everything is forwarded; the addresses of A/AAAA answers are
 *    remembered (address -> name) so flows to them still carry the name.
 * A forwarder failure (timeout, refused...) answers SERVFAIL; malformed
 * queries get FORMERR/NOTIMP/REFUSED or are dropped (dns_msg.h).
 *
 * Bounds (docs/design.md §7): forwarded queries still waiting for the
 * upstream are capped per client address and in total, the excess answered
 * SERVFAIL at once; a query of our own forwarder that comes back into the
 * TUN (the upstream server is routed into it) is answered SERVFAIL, with
 * one warning naming the server, instead of being forwarded again.
 *
 * Flows ask dns_intercept_flow_name() which name their destination stands
 * for; a fake address stays pinned to its name until the flow calls
 * dns_intercept_flow_done().
 *
 * Lifetime: TCP connections and forwarded queries are refcounted records
 * freed from a uv_check handle, never inside an lwIP or forwarder callback.
 * dns_intercept_shutdown() aborts TCP clients and refuses new forwards;
 * queries already forwarded end when the forwarder shuts down (their
 * callbacks run with -ECANCELED), which must happen before
 * dns_intercept_destroy(); the loop then runs until the handles closed.
 */
#ifndef T2S_DNS_INTERCEPT_H
#define T2S_DNS_INTERCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "lwip/ip_addr.h"
#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

struct pbuf;
struct sockaddr;
struct tcp_pcb;
struct stack;
struct dns_intercept;
struct dns_hosts;

enum dns_mode { DNS_MODE_OFF = 0, DNS_MODE_FAKE_IP, DNS_MODE_REAL_IP };

/* Where forwarded queries go: resolver_send() semantics (cb exactly once,
 * later, from the loop, on a 0 return). */
struct dns_forwarder {
	int (*send)(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg);
	void *ctx;
	/* Optional: whether a query entering the TUN from src (address and
	 * port) with this ID, name and type is one we sent upstream ourselves
	 * (resolver_is_own_query semantics). NULL: never. */
	bool (*is_own)(void *own_ctx, const struct sockaddr *src, uint16_t id, const char *name,
		       uint16_t qtype);
	void *own_ctx;
};

/* Where a query came from and went to, as it entered the TUN. */
struct dns_client {
	ip_addr_t src, dst;
	uint16_t sport, dport;
};

struct dns_intercept_config {
	enum dns_mode mode;
	/* fake-ip pools: network + prefix; has4/has6 false = no pool for that
	 * family (AAAA/A then answers NODATA). */
	bool has4, has6;
	uint8_t net4[4], prefix4;
	uint8_t net6[16], prefix6;
	const uint8_t (*exclude4)[4]; /* the TUN's own addresses */
	size_t n_exclude4;
	const uint8_t (*exclude6)[16];
	size_t n_exclude6;
	uint32_t max_entries; /* per family; 0 = fakeip default */
	uint32_t fake_ttl;    /* TTL of fake answers; 0 = 1 s */
	/* A fake address goes to another name only once unused this long
	 * (seconds, by the loop's clock; raised to fake_ttl); when none is,
	 * the query gets SERVFAIL. 0 = off: the least recently used address
	 * is reassigned at once, as mihomo does. */
	uint32_t fake_min_age;
	/* Extra fake-ip filter patterns (domain_match.h syntax), added to
	 * domain_match_fakeip_defaults; NULL-terminated, may be NULL. */
	const char *const *filter;
	/* fake-ip-filter-mode whitelist: only names on the filter (without
	 * the defaults) get fake answers, every other one a real answer. */
	bool filter_whitelist;
	/* hosts: A/AAAA for its names are answered from it before anything
	 * else (docs/design.md §23); NULL: none. Must outlive di. */
	const struct dns_hosts *hosts;
	/* More of the filter, asked after the patterns: true sends name to
	 * real DNS (the config's "rule-set:" entries). May be NULL. */
	bool (*filter_fn)(void *arg, const char *name);
	void *filter_arg;
	/* real-ip address -> name entries kept at most (0 = 65536). */
	uint32_t realip_max;
	/* Forwarded queries waiting for the upstream at most, in total
	 * (0 = 1024) and per client address (0 = 256). */
	uint32_t max_pending, max_pending_client;
};

/* The loop that runs the timers/reaper, the stack that carries UDP answers
 * back, the forwarder. Returns 0 or -errno with a message in err
 * (e.g. a bad filter pattern). */
T2S_MUST_CHECK int dns_intercept_create(uv_loop_t *loop, struct stack *stack,
					const struct dns_intercept_config *cfg,
					const struct dns_forwarder *fwd, struct dns_intercept **out,
					char *err, size_t errlen);
void dns_intercept_shutdown(struct dns_intercept *di);

/* The fake pool's text for store-fake-ip (fakeip_save/fakeip_restore/
 * fakeip_changes; docs/design.md §22). -ENOENT without a fake pool. */
T2S_MUST_CHECK int dns_intercept_fake_save(const struct dns_intercept *di, char **out, size_t *len);
T2S_MUST_CHECK int dns_intercept_fake_restore(struct dns_intercept *di, const char *buf,
					      size_t len);
uint64_t dns_intercept_fake_changes(const struct dns_intercept *di);
void dns_intercept_destroy(struct dns_intercept *di);

enum dns_mode dns_intercept_mode(const struct dns_intercept *di);

/* A UDP datagram from the TUN. Returns true when it was a DNS query and is
 * consumed (payload then passes to the callee), false to let the caller
 * relay it (payload untouched). */
bool dns_intercept_udp(struct dns_intercept *di, const ip_addr_t *src, uint16_t sport,
		       const ip_addr_t *dst, uint16_t dport, struct pbuf *payload);

/* Whether a TCP connection to dport is ours (DNS interception on, port 53). */
bool dns_intercept_wants_tcp(const struct dns_intercept *di, uint16_t dport);
/* Takes ownership of an accepted pcb (like flow_tcp_accept). 0 or -errno
 * (the stack then resets the pcb). */
T2S_MUST_CHECK int dns_intercept_tcp_accept(struct dns_intercept *di, struct tcp_pcb *pcb);

/* The name a flow destination stands for, copied into name (cap >= 256):
 *   0        name found; for a fake address the mapping is pinned until
 *            dns_intercept_flow_done(di, dst);
 *   -ENOENT  no name: connect to the address itself;
 *   -ESTALE  a fake address nobody maps any more (a client kept an answer
 *            past the pool's reuse): the flow must be refused, never sent
 *            to the fake address.
 * *pinned says whether dns_intercept_flow_done() is owed. */
int dns_intercept_flow_name(struct dns_intercept *di, const ip_addr_t *dst, char *name, size_t cap,
			    bool *pinned);
void dns_intercept_flow_done(struct dns_intercept *di, const ip_addr_t *dst);

/* Answers one query synchronously when it can be (fake answers, errors):
 * the answer goes to out and its length is returned (> 0); 0 when the
 * query was dropped; -EINPROGRESS when it was forwarded (udp_reply then
 * receives the answer later). The core of dns_intercept_udp, exposed for
 * the tests and the fuzzer. */
typedef void dns_intercept_reply_fn(void *arg, const uint8_t *msg, size_t len);
int dns_intercept_query(struct dns_intercept *di, const uint8_t *msg, size_t len, size_t max_msg,
			uint8_t *out, size_t outcap, dns_intercept_reply_fn *later,
			void *later_arg);
/* The same for a query from a known client (cl may be NULL): caps per
 * client and the loop check apply. */
int dns_intercept_query_from(struct dns_intercept *di, const struct dns_client *cl,
			     const uint8_t *msg, size_t len, size_t max_msg, uint8_t *out,
			     size_t outcap, dns_intercept_reply_fn *later, void *later_arg);

struct dns_intercept_stats {
	uint64_t queries, answered_fake, answered_ptr, forwarded, servfail, malformed, dropped,
		tcp_conns;
	uint64_t looped;    /* our own queries come back: SERVFAIL */
	uint64_t capped;    /* over a pending cap: SERVFAIL */
	uint64_t pool_busy; /* no fake address free (minimum age, pins): SERVFAIL */
};
const struct dns_intercept_stats *dns_intercept_stats(const struct dns_intercept *di);
/* Forwarded queries waiting for the upstream now. */
unsigned dns_intercept_pending(const struct dns_intercept *di);
/* The memory budget (docs/design.md §12): at most max queries wait for
 * the upstream from now on, the excess answered SERVFAIL (0: only the
 * configured caps). di may be NULL. */
void dns_intercept_set_shed(struct dns_intercept *di, unsigned max);

/* Another hosts table (a reload, docs/design.md §24), or NULL: used by
 * queries from now on; it must outlive di or the next call. */
void dns_intercept_set_hosts(struct dns_intercept *di, const struct dns_hosts *hosts);

#endif
