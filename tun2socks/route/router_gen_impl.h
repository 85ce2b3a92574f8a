/* router_gen's insides, for the decision path (router.c) only. */
#ifndef T2S_ROUTER_GEN_IMPL_H
#define T2S_ROUTER_GEN_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/socks5.h"
#include "tun2socks/upstream/upstream.h"

/* Target ids given to the rule engine: ROUTER_T_DIRECT, _REJECT, _DROP,
 * _DEFAULT_UP (the --proxy upstream), then ROUTER_T_PROXY0 + i for the
 * config's proxies[i], then group_base + j for the config's groups[j]
 * (picked at flow time, route/group.h). */
enum {
	ROUTER_T_DIRECT = 0,
	ROUTER_T_REJECT,
	ROUTER_T_DROP,
	ROUTER_T_DEFAULT_UP,
	ROUTER_T_PASS, /* never a verdict: the engine skips such rules */
	ROUTER_T_PROXY0,
};

struct router_up {
	char name[128];
	bool usable; /* socks5/http/redirect */
	bool no_udp; /* http, or socks5 with udp: false */
	bool redirect;
	bool direct;             /* type: direct */
	bool dns;                /* type: dns: its flows are rejected */
	int dialer;              /* dialer-proxy's target id, or -1 */
	struct upstream_cfg cfg; /* proxies */
	struct socks5_addr to;   /* redirect target (port included) */
	/* A health check through it (router_gen.h router_check_via). */
	char *check_proxy; /* curl proxy URL, NULL: cannot be checked */
	char *check_user, *check_pass, *check_ca;
	bool check_insecure;
};

struct router_gen {
	unsigned refs;
	struct rule_engine *engine; /* NULL: no rules */
	/* For UDP flows when some rule names an upstream that cannot carry
	 * UDP (HTTP, socks5 with udp: false): the same rules without those,
	 * so UDP falls through to the next matching rule, as in Clash. NULL
	 * when no rule needs it (engine serves both). */
	struct rule_engine *udp_engine;
	struct router_up *ups;
	size_t n_ups;
	bool has_default_up;
	struct upstream_cfg default_up;
	/* dns.fake-ip-filter's "rule-set:" entries as RULE-SET lines (names
	 * that match get real answers); NULL when there are none. */
	struct rule_engine *fake_filter;
	/* nameserver-policy's geosite:/rule-set: keys (one engine per entry,
	 * NULL for a pattern key), fallback-filter.geosite and .geoip
	 * (docs/design.md §23); NULL when not configured */
	struct rule_engine **dns_policy;
	size_t n_dns_policy;
	struct rule_engine *fb_site, *fb_geoip;
	struct geo *geo; /* the engines' geodata (route/geo.h) */
	/* What loading the rule sets skipped or ignored, one line each
	 * ("file:line:column: warning: ..."), for the caller to show. */
	char **warnings;
	size_t n_warnings;
	/* Proxy groups: what they pick changes at run time (on the loop
	 * thread only); everything else here is immutable. */
	struct group_table *groups;
	int group_base;
	/* Flows each rule (engine index = config order) decided, counted
	 * by the live router on the loop thread (docs/design.md §20). */
	uint64_t *hits;
	size_t n_hits;
	/* Entries of each rule-provider (config order), for the API. */
	size_t *set_counts;
	size_t n_set_counts;
};

/* The target id name stands for as a whole (a group stays a group, as
 * rules name it): DIRECT, REJECT, REJECT-DROP, a proxy, a group; -ENOENT
 * for another name. Mode global's selection (router.c). */
int router_gen_target_of(const struct router_gen *g, const char *name);

/* Whether leaf target id t can carry UDP. */
static inline bool router_gen_leaf_udp(const struct router_gen *g, int t)
{
	if (t >= ROUTER_T_PROXY0 && t < g->group_base)
		return g->ups[t - ROUTER_T_PROXY0].usable && !g->ups[t - ROUTER_T_PROXY0].no_udp;
	return t != ROUTER_T_DEFAULT_UP || g->has_default_up;
}

#endif
