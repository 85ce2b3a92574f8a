/* flow_udp: UDP sessions, relayed through SOCKS5 UDP ASSOCIATE (RFC 1928
 * s. 7) or sent DIRECT, as the router decides.
 *
 * One session per client source address:port. The router decides it from
 * the session's first datagram (its destination and name), and that route
 * holds for the whole session: a socket that talks to several remotes
 * (full cone) gets one route. A PROXY session is one association, kept
 * alive by its TCP control connection and torn down with it; a DIRECT one
 * is one unconnected socket of ours; a REJECT/REJECT-DROP one discards
 * until it goes idle. Replies from any remote come back to the client as
 * coming from that remote (full cone), or from the fake address the
 * client used when they answer a name.
 *
 * Lifetime: like TCP flows, a session holds one reference for being alive
 * and one per open libuv handle, and is freed by the context's reaper on a
 * later loop iteration, never inside a callback.
 */
#ifndef T2S_FLOW_UDP_H
#define T2S_FLOW_UDP_H

#include <stdint.h>
#include <uv.h>

#include "lwip/ip_addr.h"
#include "tun2socks/flow/flow_info.h"
#include "tun2socks/route/route.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/upstream/upstream.h"
#include "tun2socks/base/must_check.h"

struct pbuf;
struct stack;
struct flow_udp_ctx;

struct flow_udp_config {
	uint64_t idle_ms;      /* default 60 s */
	uint64_t dns_idle_ms;  /* sessions that only talked to port 53: 10 s */
	unsigned max_sessions; /* oldest idle session evicted beyond this */
	unsigned max_pending;  /* datagrams queued while associating */
	uint64_t connect_timeout_ms;
};

struct flow_udp_stats {
	uint64_t sessions;
	uint64_t dgrams_up, dgrams_down;
	uint64_t bytes_up, bytes_down;
	uint64_t dropped_frag;     /* replies with FRAG != 0 */
	uint64_t dropped_pending;  /* queue full while associating */
	uint64_t dropped_refused;  /* proxy does not do UDP */
	uint64_t dropped_rejected; /* REJECT / REJECT-DROP rules */
	uint64_t dropped_other;    /* malformed reply, unroutable, send error */
	uint64_t evicted;
	uint64_t shed;           /* idle sessions ended by the memory budget */
	uint64_t dropped_memory; /* new sessions refused by the memory budget */
};

void flow_udp_config_defaults(struct flow_udp_config *cfg);

T2S_MUST_CHECK int flow_udp_ctx_create(uv_loop_t *loop, struct stack *stack,
				       const struct route_ops *route, const struct sock_opts *sock,
				       const struct flow_udp_config *cfg,
				       struct flow_udp_ctx **out);
/* Ends every session and closes the context's handles; the loop must run
 * on until they are closed, then flow_udp_ctx_destroy(). */
void flow_udp_ctx_shutdown(struct flow_udp_ctx *u);
void flow_udp_ctx_destroy(struct flow_udp_ctx *u);

/* A datagram from the client src:sport to dst:dport; payload (the UDP
 * payload only) passes to the callee. */
void flow_udp_input(struct flow_udp_ctx *u, const ip_addr_t *src, uint16_t sport,
		    const ip_addr_t *dst, uint16_t dport, struct pbuf *payload);

/* Datagrams to fake (or remembered real-ip) addresses go by name; NULL
 * (the default) sends everything by address. */
struct dns_intercept;
void flow_udp_set_dns(struct flow_udp_ctx *u, struct dns_intercept *dns);
/* For DIRECT datagrams to names. */
struct resolver;
void flow_udp_set_resolver(struct flow_udp_ctx *u, struct resolver *r);
/* QUIC sniffing for new sessions (docs/design.md §21); NULL: none. */
struct sniffer;
void flow_udp_set_sniffer(struct flow_udp_ctx *u, const struct sniffer *sn);
/* Socket options for sockets opened from now on (a reload changed
 * interface-name or routing-mark); open ones keep theirs. */
void flow_udp_set_sock(struct flow_udp_ctx *u, const struct sock_opts *sock);

/* The memory budget (docs/design.md §12): ends the sessions idle for at
 * least idle_ms, least recently used first; returns how many. */
unsigned flow_udp_shed_idle(struct flow_udp_ctx *u, uint64_t idle_ms);
/* While on, a datagram that would start a new session is dropped
 * (counted in dropped_memory); live sessions go on. */
void flow_udp_set_refuse_new(struct flow_udp_ctx *u, bool on);

const struct flow_udp_stats *flow_udp_stats(const struct flow_udp_ctx *u);
unsigned flow_udp_sessions(const struct flow_udp_ctx *u);

/* Calls fn for every live session (fn must not end sessions). */
void flow_udp_foreach(struct flow_udp_ctx *u, flow_info_fn fn, void *arg);
/* Ends udp#id, or every session with id 0. 0 or -ENOENT. */
int flow_udp_close(struct flow_udp_ctx *u, uint64_t id);

#endif
