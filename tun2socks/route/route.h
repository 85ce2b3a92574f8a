/* route: what happens to one flow, as the router (rules + upstreams)
 * decides it. Flows only see this interface; router.c implements it over
 * the config and the rule engine, and the plain `--proxy URL` daemon uses
 * the same router with one upstream and no rules.
 */
#ifndef T2S_ROUTE_H
#define T2S_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"
#include "tun2socks/upstream/socks5.h"
#include "tun2socks/upstream/upstream.h"

enum route_action {
	ROUTE_PROXY = 0, /* through route.up to route.target */
	ROUTE_DIRECT,    /* connect to route.target ourselves */
	ROUTE_REJECT,    /* TCP: reset; UDP: ICMP port unreachable */
	ROUTE_DROP,      /* silently: TCP abandoned without RST, UDP dropped */
};

/* One flow, as the router sees it. */
struct route_query {
	bool udp;
	const ip_addr_t *src;
	uint16_t src_port;
	const ip_addr_t *dst; /* what the client connected to */
	uint16_t dst_port;
	const char *domain; /* the name dst stands for, or NULL */
	bool dst_is_fake;   /* dst means nothing without domain */
	/* domain is for the rules only, the target stays dst: a sniffed name
	 * without override-destination (docs/design.md §21) */
	bool keep_dst;
};

enum { ROUTE_CHAIN_MAX = 4 }; /* UPSTREAM_CONN_CHAIN_MAX */

struct route {
	enum route_action action;
	const struct upstream_cfg *up; /* ROUTE_PROXY; lives while `hold` does */
	/* A relay group's hops before up, first first (docs/design.md §18);
	 * they live while `hold` does. */
	const struct upstream_cfg *chain[ROUTE_CHAIN_MAX];
	uint8_t n_chain;
	struct socks5_addr target; /* where to (a redirect rewrote it) */
	/* For logs; both live while `hold` does (engine- or router-owned). */
	const char *rule;  /* the deciding rule as written */
	const char *via;   /* "proxyA", "DIRECT", "REJECT"... */
	const char *group; /* the rule's target when a proxy group picked via */
	char proc[32];     /* owning process if a rule looked, or "" */
	/* its executable, when a rule looked and the lookup read it (Linux:
	 * /proc/PID/exe), or NULL; interned by the router (one copy per
	 * executable, kept while the router lives), so a flow pays a pointer */
	const char *proc_path;
	void *hold; /* router generation reference */
};

/* Decides q into *out. Returns 0 when decided, -EINPROGRESS when done(arg,
 * status) will run later (exactly once: the router had to resolve the
 * domain to test IP rules; *out is filled before done runs), or -errno. On
 * 0 or a later done(.., 0), the caller owns out->hold and gives it back
 * with route_release() when the flow ends. */
typedef void (*route_done_fn)(void *arg, int status);

struct route_ops {
	int (*decide)(void *ctx, const struct route_query *q, struct route *out, route_done_fn done,
		      void *arg);
	void (*release)(void *ctx, void *hold);
	void *ctx;
	/* Optional (NULL: not told): how opening r's ROUTE_PROXY upstream
	 * ended, 0 or -errno; health checks of r->group count failures
	 * (max-failed-times, docs/design.md §18). */
	void (*report)(void *ctx, const struct route *r, int status);
};

#endif
