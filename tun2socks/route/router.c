/* router: see router.h.
 *
 * A decision is one struct router_req, heap-allocated because it may
 * outlive decide(): when the first rule that could win needs the domain's
 * addresses (an IP rule without no-resolve), the name is resolved with
 * c-ares and the rules run again with the addresses (rule.h). The request
 * holds a generation reference until it completes.
 */
#include "tun2socks/route/router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "resolver/dns_hosts.h"
#include "config/config.h"
#include "tun2socks/base/log.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/proc_lookup.h"
#include "resolver/resolver.h"
#include "tun2socks/route/router_gen_impl.h"
#include "tun2socks/route/rule.h"
#include "config/rules_parse.h"
#include "config/ruleset.h"

struct router_ctx {
	struct router_gen *cur;
	struct resolver *resolver;
	struct proc_lookup *procs;
	enum router_mode mode;
	/* The built-in GLOBAL selector's member ("": the default, see
	 * router_global_target), kept by name across reloads. */
	char global[128];
	const struct dns_hosts *hosts; /* or NULL */
	/* Executable paths flows were given (route.proc_path): a few distinct
	 * programs, each kept once for the router's life. */
	char **paths;
	size_t n_paths;
	router_check_fn check; /* max-failed-times reached; or NULL */
	void *check_arg;
};

#define ROUTER_PATHS_MAX 1024

/* s interned in rc: the same pointer for the same path, or NULL when the
 * table is full or memory is short (the path is then not shown). */
static const char *router_intern_path(struct router_ctx *rc, const char *s)
{
	char **grown, *dup;

	for (size_t i = 0; i < rc->n_paths; i++)
		if (strcmp(rc->paths[i], s) == 0)
			return rc->paths[i];
	if (rc->n_paths == ROUTER_PATHS_MAX)
		return NULL;
	grown = realloc(rc->paths, (rc->n_paths + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	rc->paths = grown;
	dup = strdup(s);
	if (dup == NULL)
		return NULL;
	rc->paths[rc->n_paths++] = dup;
	return dup;
}

/* ---- decide --------------------------------------------------------------------- */

struct router_req {
	struct router_ctx *rc;
	struct router_gen *g;
	struct rule_query q;
	char domain[256];
	ip_addr_t dst;
	uint16_t dst_port;
	bool keep_dst; /* route_query.keep_dst */
	struct rule_addr resolved[RESOLVER_LOOKUP_MAX];
	struct proc_info proc;
	const char *proc_name, *proc_path; /* router_explain */
	struct route *out;
	route_done_fn done;
	void *arg;
	bool in_call; /* inside decide(): complete synchronously */
	bool finished;
	/* a relay group's hops before the leaf (router_relay), and
	 * dialer-proxy ones (router_dialers): the configs and leaf ids */
	const struct upstream_cfg *chain[ROUTE_CHAIN_MAX];
	int chain_leaf[ROUTE_CHAIN_MAX];
	uint8_t n_chain;
};

static void router_rule_addr(struct rule_addr *out, const ip_addr_t *a)
{
	memset(out, 0, sizeof(*out));
	if (IP_IS_V4(a)) {
		out->family = 4;
		memcpy(out->bytes, &ip_2_ip4(a)->addr, 4);
	} else {
		out->family = 6;
		memcpy(out->bytes, ip_2_ip6(a)->addr, 16);
	}
}

static void router_sa_to_rule(struct rule_addr *out, const struct sockaddr_storage *sa)
{
	memset(out, 0, sizeof(*out));
	if (sa->ss_family == AF_INET) {
		out->family = 4;
		memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else {
		out->family = 6;
		memcpy(out->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
}

static void router_proc(void *arg, const struct rule_query *q, struct rule_proc *out)
{
	struct router_req *req = arg;
	struct sockaddr_storage ss;
	int proto = q->network == RULE_NET_UDP ? IPPROTO_UDP : IPPROTO_TCP;

	if (req->proc_name || req->proc_path) {
		out->name = req->proc_name;
		out->path = req->proc_path;
		return;
	}
	if (req->rc == NULL || req->rc->procs == NULL)
		return;
	memset(&ss, 0, sizeof(ss));
	if (q->src.family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, q->src.bytes, 4);
		s4->sin_port = htons(q->src_port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, q->src.bytes, 16);
		s6->sin6_port = htons(q->src_port);
	}
	if (proc_lookup_find(req->rc->procs, proto, (struct sockaddr *)&ss, &req->proc) < 0)
		return;
	out->uid = req->proc.uid;
	out->has_uid = true;
	if (req->proc.pid != 0) {
		out->name = req->proc.name;
		out->path = req->proc.path[0] ? req->proc.path : NULL;
	}
}

/* The leaf group target t stands for now (docs/design.md §18); -ENOENT
 * for a group with no member we can use (mihomo's COMPATIBLE: DIRECT),
 * -EPERM for UDP through a disable-udp group. */
static int router_pick(struct router_req *req, int t)
{
	struct router_gen *g = req->g;
	struct group_pick pk = {
		.domain = req->domain[0] ? req->domain : NULL,
		.now_ms = uv_hrtime() / 1000000,
		.udp = req->q.network == RULE_NET_UDP,
	};

	if (IP_IS_V4(&req->dst)) {
		pk.addr = (const uint8_t *)&ip_2_ip4(&req->dst)->addr;
		pk.addr_len = 4;
	} else {
		pk.addr = (const uint8_t *)ip_2_ip6(&req->dst)->addr;
		pk.addr_len = 16;
	}
	return group_table_pick(g->groups, t, &pk);
}

/* The rule engine's question for a rule naming a group that may pick
 * PASS: does it now? (a peek: no round-robin cursor moves) */
static bool router_pass_now(void *arg, int target)
{
	struct router_req *req = arg;
	struct router_gen *g = req->g;
	struct group_pick pk = {
		.domain = req->domain[0] ? req->domain : NULL,
		.now_ms = uv_hrtime() / 1000000,
		.peek = true,
	};

	if (target < g->group_base)
		return false;
	if (IP_IS_V4(&req->dst)) {
		pk.addr = (const uint8_t *)&ip_2_ip4(&req->dst)->addr;
		pk.addr_len = 4;
	} else {
		pk.addr = (const uint8_t *)ip_2_ip6(&req->dst)->addr;
		pk.addr_len = 16;
	}
	return group_table_pick(g->groups, target, &pk) == ROUTER_T_PASS;
}

/* A relay group (docs/design.md §18): its members' leaves in order,
 * DIRECT ones left out as mihomo does; none: DIRECT, one: that leaf,
 * more: a chain whose last hop is *leaf and the others req->chain.
 * Returns 0 when t is no relay group, 1 when decided, 2 when the flow is
 * UDP and a chain cannot carry it. */
static int router_relay(struct router_req *req, int t, int *leaf)
{
	struct router_gen *g = req->g;
	int leaves[ROUTE_CHAIN_MAX + 2], hops[ROUTE_CHAIN_MAX + 2], n, m = 0;
	struct group_pick pk = {
		.domain = req->domain[0] ? req->domain : NULL,
		.now_ms = uv_hrtime() / 1000000,
	};

	if (IP_IS_V4(&req->dst)) {
		pk.addr = (const uint8_t *)&ip_2_ip4(&req->dst)->addr;
		pk.addr_len = 4;
	} else {
		pk.addr = (const uint8_t *)ip_2_ip6(&req->dst)->addr;
		pk.addr_len = 16;
	}
	n = group_table_chain(g->groups, t, &pk, leaves, ROUTE_CHAIN_MAX + 2);
	if (n == -ENOENT)
		return 0;
	req->n_chain = 0;
	if (n < 0) {
		log_debug("router: relay %s: %s: rejected", group_table_target_name(g->groups, t),
			  n == -ENOTSUP ? "a member of a type tun2socks does not speak"
					: "longer than 5 hops");
		*leaf = ROUTER_T_REJECT;
		return 1;
	}
	for (int i = 0; i < n; i++) {
		int l = leaves[i];
		const struct router_up *u = l >= ROUTER_T_PROXY0 && l < g->group_base
						    ? &g->ups[l - ROUTER_T_PROXY0]
						    : NULL;

		if (l == ROUTER_T_DIRECT || (u && u->direct))
			continue;
		/* REJECT, PASS (mihomo's is a REJECT) or a redirect: no
		 * tunnel can go through it */
		if (l == ROUTER_T_REJECT || l == ROUTER_T_DROP || l == ROUTER_T_PASS ||
		    (u && (u->redirect || u->dns))) {
			*leaf = l == ROUTER_T_DROP ? ROUTER_T_DROP : ROUTER_T_REJECT;
			return 1;
		}
		hops[m++] = l;
	}
	if (m == 0) {
		*leaf = ROUTER_T_DIRECT;
		return 1;
	}
	*leaf = hops[m - 1];
	if (m == 1)
		return 1;
	if (req->q.network == RULE_NET_UDP)
		return 2;
	for (int i = 0; i < m - 1; i++) {
		req->chain_leaf[req->n_chain] = hops[i];
		req->chain[req->n_chain++] = hops[i] == ROUTER_T_DEFAULT_UP
						     ? &g->default_up
						     : &g->ups[hops[i] - ROUTER_T_PROXY0].cfg;
	}
	return 1;
}

/* dialer-proxy (mihomo's proxydialer): while the first hop (the leaf
 * itself without a chain) names one, the proxy or group it names (a
 * group by its pick) carries the connection to it: prepended to the
 * chain. DIRECT ends it; REJECT and the like reject the flow. Returns 2
 * when the flow is UDP and a chain came of it, else 0. */
static int router_dialers(struct router_req *req, int *leaf)
{
	struct router_gen *g = req->g;

	for (int guard = 0; guard <= ROUTE_CHAIN_MAX; guard++) {
		int first = req->n_chain ? req->chain_leaf[0] : *leaf, d;
		const struct router_up *u, *du;

		if (first < ROUTER_T_PROXY0 || first >= g->group_base)
			break;
		u = &g->ups[first - ROUTER_T_PROXY0];
		if (u->dialer < 0)
			break;
		d = u->dialer;
		if (d >= g->group_base) {
			d = router_pick(req, d);
			d = d < 0 ? ROUTER_T_DIRECT : d;
		}
		du = d >= ROUTER_T_PROXY0 && d < g->group_base ? &g->ups[d - ROUTER_T_PROXY0]
							       : NULL;
		if (d == ROUTER_T_DIRECT || (du && du->direct))
			break;
		if ((d != ROUTER_T_DEFAULT_UP && du == NULL) || (du && (du->redirect || du->dns)) ||
		    req->n_chain == ROUTE_CHAIN_MAX || guard == ROUTE_CHAIN_MAX) {
			log_debug("router: %s: dialer-proxy %s: rejected", u->name,
				  du                         ? du->name
				  : d == ROUTER_T_DEFAULT_UP ? "proxy"
							     : "REJECT");
			*leaf = d == ROUTER_T_DROP ? ROUTER_T_DROP : ROUTER_T_REJECT;
			req->n_chain = 0;
			return 0;
		}
		memmove(req->chain + 1, req->chain, req->n_chain * sizeof(req->chain[0]));
		memmove(req->chain_leaf + 1, req->chain_leaf,
			req->n_chain * sizeof(req->chain_leaf[0]));
		req->chain[0] = du ? &du->cfg : &g->default_up;
		req->chain_leaf[0] = d;
		req->n_chain++;
	}
	return req->n_chain > 0 && req->q.network == RULE_NET_UDP ? 2 : 0;
}

/* The first relay group on the way from group t to its pick, routed as
 * router_relay does; 0 when there is none. */
static int router_nested_relay(struct router_req *req, int t, int *leaf)
{
	struct router_gen *g = req->g;
	struct group_pick pk = { .domain = req->domain[0] ? req->domain : NULL, .peek = true };
	struct group_info gi;
	size_t path[8], n;

	if (IP_IS_V4(&req->dst)) {
		pk.addr = (const uint8_t *)&ip_2_ip4(&req->dst)->addr;
		pk.addr_len = 4;
	} else {
		pk.addr = (const uint8_t *)ip_2_ip6(&req->dst)->addr;
		pk.addr_len = 16;
	}
	n = group_table_path(g->groups, t, &pk, path, sizeof(path) / sizeof(path[0]));
	for (size_t i = 1; i < n; i++)
		if (group_table_info(g->groups, path[i], &gi) == 0 && gi.type == CONFIG_GROUP_RELAY)
			return router_relay(req, g->group_base + (int)path[i], leaf);
	return 0;
}

/* Turns the engine's verdict into the route; leaf: what a group target
 * picked (router_run), group: its name or NULL. */
static void router_fill(struct router_req *req, const struct rule_result *res, int verdict,
			int leaf, const char *group)
{
	struct router_gen *g = req->g;
	struct route *out = req->out;
	int t = leaf;

	memset(out, 0, sizeof(*out));
	out->group = group;
	/* res->text is the engine's, kept alive by the reference in hold. */
	if (verdict == RULE_MATCHED) {
		out->rule = res->text;
		/* a live decision (not router_explain): count the rule */
		if (req->rc != NULL && res->rule < g->n_hits)
			g->hits[res->rule]++;
	} else
		out->rule = g->engine ? "no rule matched" : "MATCH (no rules)";
	if (req->domain[0] && !req->keep_dst)
		socks5_addr_from_domain(&out->target, req->domain, req->dst_port);
	else
		target_from_ip(&req->dst, req->dst_port, &out->target);
	switch (t) {
	case ROUTER_T_DIRECT:
		out->action = ROUTE_DIRECT;
		out->via = "DIRECT";
		break;
	case ROUTER_T_REJECT:
		out->action = ROUTE_REJECT;
		out->via = "REJECT";
		break;
	case ROUTER_T_DROP:
		out->action = ROUTE_DROP;
		out->via = "REJECT-DROP";
		break;
	case ROUTER_T_DEFAULT_UP:
		out->action = ROUTE_PROXY;
		out->up = &g->default_up;
		out->via = "proxy";
		break;
	default: {
		const struct router_up *u = &g->ups[t - ROUTER_T_PROXY0];

		out->via = u->name;
		if (u->dns) {
			/* DNS in the TUN never gets here (answered before the
			 * rules); anything else is no DNS to answer */
			out->action = ROUTE_REJECT;
		} else if (u->direct) {
			out->action = ROUTE_DIRECT;
		} else if (u->redirect) {
			out->action = ROUTE_DIRECT;
			out->target = u->to;
		} else {
			out->action = ROUTE_PROXY;
			out->up = &u->cfg;
		}
	}
	}
	if (out->action == ROUTE_PROXY && req->n_chain > 0) {
		memcpy(out->chain, req->chain, req->n_chain * sizeof(out->chain[0]));
		out->n_chain = req->n_chain;
	}
	if (req->q.proc_done && req->q.proc.name)
		snprintf(out->proc, sizeof(out->proc), "%s", req->q.proc.name);
	/* (router_explain has no router: the caller's string, which outlives
	 * its use of out) */
	if (req->q.proc_done && req->q.proc.path)
		out->proc_path =
			req->rc ? router_intern_path(req->rc, req->q.proc.path) : req->q.proc.path;
	out->hold = router_gen_ref(g);
}

/* Target t as a leaf: a group picks one (its name in *group; none we
 * can use: DIRECT, as mihomo's COMPATIBLE). 1 when the flow is UDP and
 * the leaf cannot carry it (or a disable-udp group is on the way). */
static int router_leaf(struct router_req *req, int t, int *leaf, const char **group)
{
	struct router_gen *g = req->g;
	int r;

	*group = NULL;
	*leaf = t;
	req->n_chain = 0;
	if (t >= g->group_base) {
		*group = group_table_target_name(g->groups, t);
		r = router_relay(req, t, leaf);
		if (r == 2)
			return 1;
		if (r == 0) {
			r = router_pick(req, t);
			if (r == -EPERM)
				return 1;
			/* PASS was skipped by the engine (router_pass_now):
			 * seen here only if the pick moved in between; DIRECT,
			 * as no rule. */
			*leaf = r < 0 || r == ROUTER_T_PASS ? ROUTER_T_DIRECT : r;
			/* A relay picked by a group (select [Chain, ...]): the
			 * flow takes its chain, not only its first member. */
			r = r >= 0 ? router_nested_relay(req, t, leaf) : 0;
			if (r == 2)
				return 1;
		}
	}
	if (router_dialers(req, leaf) == 2)
		return 1;
	return req->q.network == RULE_NET_UDP && !router_gen_leaf_udp(g, *leaf);
}

/* Runs the rules; 1 when the domain must be resolved first. */
static int router_run(struct router_req *req)
{
	struct rule_result res;
	const char *group;
	int v, leaf;

	if (req->g->engine == NULL) {
		memset(&res, 0, sizeof(res));
		res.target = req->g->has_default_up ? ROUTER_T_DEFAULT_UP : ROUTER_T_DIRECT;
		router_fill(req, &res, RULE_DEFAULT, res.target, NULL);
		return 0;
	}
	v = rule_match(req->g->engine, &req->q, &res);
	if (v == RULE_NEED_RESOLVE)
		return 1;
	/* UDP to a target that cannot carry it: the next rule, as in Clash.
	 * The UDP engine leaves out every rule whose target may not (a
	 * proxy that never can, a group that may pick one). */
	if (router_leaf(req, res.target, &leaf, &group) != 0 && req->g->udp_engine != NULL) {
		log_debug("router: UDP: %s goes to %s, which cannot carry UDP: next rule", res.text,
			  group ? group : req->g->ups[leaf - ROUTER_T_PROXY0].name);
		v = rule_match(req->g->udp_engine, &req->q, &res);
		if (v == RULE_NEED_RESOLVE)
			return 1;
		router_leaf(req, res.target, &leaf, &group);
	}
	router_fill(req, &res, v, leaf, group);
	return 0;
}

static void router_req_free(struct router_req *req)
{
	router_gen_unref(req->g);
	free(req);
}

static void router_on_resolved(void *arg, int status, const struct sockaddr_storage *addrs,
			       size_t n)
{
	struct router_req *req = arg;

	req->q.has_resolved = true;
	req->q.n_resolved = 0;
	if (status == 0)
		for (size_t i = 0; i < n && i < RESOLVER_LOOKUP_MAX; i++)
			router_sa_to_rule(&req->resolved[req->q.n_resolved++], &addrs[i]);
	else
		log_debug("router: %s: %s (IP rules see no address)", req->domain,
			  strerror(-status));
	req->q.resolved = req->resolved;
	router_run(req); /* with addresses it always decides */
	req->finished = true;
	if (req->in_call)
		return; /* decide() completes it */
	req->done(req->arg, 0);
	router_req_free(req);
}

static struct router_req *router_req_new(struct router_gen *g, const struct route_query *q,
					 struct route *out)
{
	struct router_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->g = router_gen_ref(g);
	req->out = out;
	ip_addr_copy(req->dst, *q->dst);
	req->dst_port = q->dst_port;
	req->keep_dst = q->keep_dst;
	if (q->domain)
		snprintf(req->domain, sizeof(req->domain), "%s", q->domain);
	req->q.network = q->udp ? RULE_NET_UDP : RULE_NET_TCP;
	req->q.domain = q->domain ? req->domain : NULL;
	if (!q->dst_is_fake)
		router_rule_addr(&req->q.dst, q->dst);
	req->q.dst_port = q->dst_port;
	router_rule_addr(&req->q.src, q->src);
	req->q.src_port = q->src_port;
	req->q.proc_fn = router_proc;
	req->q.proc_arg = req;
	req->q.pass_now = router_pass_now;
	req->q.pass_arg = req;
	return req;
}

void router_ctx_set_hosts(struct router_ctx *rc, const struct dns_hosts *hosts)
{
	rc->hosts = hosts;
}

/* A name in hosts: its addresses are the flow's (the first as the
 * destination when the client's is a fake one) before any rule runs. */
static void router_fill_hosts(const struct router_ctx *rc, struct router_req *req, bool fake)
{
	struct dns_hosts_addrs a;
	size_t n = 0;

	if (rc->hosts == NULL || !req->domain[0] || dns_hosts_find(rc->hosts, req->domain, &a) < 0)
		return;
	for (unsigned i = 0; i < a.n4 && n < RESOLVER_LOOKUP_MAX; i++, n++) {
		req->resolved[n].family = 4;
		memcpy(req->resolved[n].bytes, a.a4[i], 4);
	}
	for (unsigned i = 0; i < a.n6 && n < RESOLVER_LOOKUP_MAX; i++, n++) {
		req->resolved[n].family = 6;
		memcpy(req->resolved[n].bytes, a.a6[i], 16);
	}
	if (n == 0)
		return;
	req->q.has_resolved = true;
	req->q.resolved = req->resolved;
	req->q.n_resolved = n;
	if (fake)
		req->q.dst = req->resolved[0];
}

/* Mode global's default target: the --proxy upstream, else the config's
 * first proxy that can carry traffic, else DIRECT. */
static int router_global_default(const struct router_gen *g)
{
	if (g->has_default_up)
		return ROUTER_T_DEFAULT_UP;
	for (size_t i = 0; i < g->n_ups; i++)
		if (g->ups[i].usable)
			return ROUTER_T_PROXY0 + (int)i;
	return ROUTER_T_DIRECT;
}

/* Mode global's target (docs/design.md §20): a config group called
 * GLOBAL, as mihomo uses one; else the built-in GLOBAL selector's
 * member; else (nothing selected, or a name a reload removed) the
 * default. A group target still picks per flow. */
static int router_global_target(const struct router_ctx *rc)
{
	const struct router_gen *g = rc->cur;
	int gi = group_table_find(g->groups, ROUTER_GLOBAL);
	int t;

	if (gi >= 0)
		return g->group_base + gi;
	if (rc->global[0] && (t = router_gen_target_of(g, rc->global)) >= 0)
		return t;
	return router_global_default(g);
}

static int router_decide(void *ctx, const struct route_query *q, struct route *out,
			 route_done_fn done, void *arg)
{
	struct router_ctx *rc = ctx;
	struct router_req *req = router_req_new(rc->cur, q, out);
	int r;

	if (req == NULL)
		return -ENOMEM;
	router_fill_hosts(rc, req, q->dst_is_fake);
	if (rc->mode != ROUTER_MODE_RULE) {
		/* Clash's global and direct modes: no rule is consulted. */
		struct rule_result res = { 0 };
		const char *group = NULL;
		int leaf;

		res.target =
			rc->mode == ROUTER_MODE_DIRECT ? ROUTER_T_DIRECT : router_global_target(rc);
		req->rc = rc;
		(void)router_leaf(req, res.target, &leaf, &group);
		router_fill(req, &res, RULE_DEFAULT, leaf, group);
		out->rule = rc->mode == ROUTER_MODE_DIRECT ? "mode direct" : "mode global";
		router_req_free(req);
		return 0;
	}
	req->rc = rc;
	req->done = done;
	req->arg = arg;
	if (router_run(req) == 0) {
		router_req_free(req);
		return 0;
	}
	if (rc->resolver == NULL) {
		router_on_resolved(req, -EHOSTUNREACH, NULL, 0);
		router_req_free(req);
		return 0;
	}
	req->in_call = true;
	r = resolver_lookup(rc->resolver, req->domain, router_on_resolved, req);
	req->in_call = false;
	if (r < 0) {
		router_req_free(req);
		return r;
	}
	if (req->finished) {
		router_req_free(req);
		return 0;
	}
	return -EINPROGRESS;
}

static void router_release(void *ctx, void *hold)
{
	(void)ctx;
	router_gen_unref(hold);
}

/* A flow's upstream through a group opened (0) or failed: counted by the
 * group of the generation that routed it (group_table_dial); the check
 * hook runs when the group should be checked now. */
static void router_report(void *ctx, const struct route *r, int status)
{
	struct router_ctx *rc = ctx;
	struct group_table *t;
	struct group_pick pk = { .peek = true };
	struct group_info gi;
	size_t path[8], n;
	int top;

	if (r->group == NULL || r->hold == NULL || r->action != ROUTE_PROXY)
		return;
	t = router_gen_groups(r->hold);
	top = t ? group_table_find(t, r->group) : -ENOENT;
	if (top < 0)
		return;
	/* Every group the flow went through counts, as each one's dial ran
	 * in mihomo (a select naming a url-test: the url-test counts); the
	 * picks are found again from the route's target. */
	if (r->target.atyp == SOCKS5_ATYP_DOMAIN) {
		pk.domain = r->target.u.domain;
	} else {
		pk.addr = r->target.u.v4;
		pk.addr_len = r->target.atyp == SOCKS5_ATYP_IPV4 ? 4 : 16;
	}
	n = group_table_path(t, ((const struct router_gen *)r->hold)->group_base + top, &pk, path,
			     sizeof(path) / sizeof(path[0]));
	for (size_t i = 0; i < n; i++) {
		if (!group_table_dial(t, path[i], status, uv_hrtime() / 1000000) ||
		    group_table_info(t, path[i], &gi) < 0)
			continue;
		log_warn("group %s: connections failed (%s), checking it now", gi.name,
			 status == -ECONNREFUSED ? "refused" : "max-failed-times reached");
		if (rc->check)
			rc->check(rc->check_arg, gi.name);
	}
}

void router_ctx_set_check(struct router_ctx *rc, router_check_fn fn, void *arg)
{
	rc->check = fn;
	rc->check_arg = arg;
}

int router_ctx_create(struct router_gen *first, struct resolver *resolver,
		      struct proc_lookup *procs, struct router_ctx **out)
{
	struct router_ctx *rc = calloc(1, sizeof(*rc));

	*out = NULL;
	if (rc == NULL)
		return -ENOMEM;
	rc->cur = first;
	rc->resolver = resolver;
	rc->procs = procs;
	*out = rc;
	return 0;
}

void router_ctx_swap(struct router_ctx *rc, struct router_gen *next)
{
	/* Switched select groups and the last checks survive a reload. */
	group_table_inherit(next->groups, rc->cur->groups);
	router_gen_unref(rc->cur);
	rc->cur = next;
}

void router_ctx_set_mode(struct router_ctx *rc, enum router_mode mode)
{
	rc->mode = mode;
}

enum router_mode router_ctx_mode(const struct router_ctx *rc)
{
	return rc->mode;
}

const char *router_ctx_global(const struct router_ctx *rc, bool *selected)
{
	const struct router_gen *g = rc->cur;
	struct router_check_via via;
	int t;

	if (selected != NULL)
		*selected = false;
	if (group_table_find(g->groups, ROUTER_GLOBAL) >= 0)
		return NULL;
	t = router_global_target(rc);
	if (rc->global[0] && router_gen_target_of(g, rc->global) == t) {
		if (selected != NULL)
			*selected = true;
		return rc->global;
	}
	if (t >= g->group_base)
		return group_table_target_name(g->groups, t);
	return router_gen_check_via(g, t, &via) == 0 ? via.name : "DIRECT";
}

size_t router_ctx_rule_count(const struct router_ctx *rc)
{
	return router_gen_rule_count(rc->cur);
}

const struct router_gen *router_ctx_current(const struct router_ctx *rc)
{
	return rc->cur;
}

struct group_table *router_ctx_groups(struct router_ctx *rc)
{
	return router_gen_groups(rc->cur);
}

/* Members of the built-in GLOBAL: mihomo's list, DIRECT, REJECT, every
 * proxy and every group. */
static bool router_global_member(const struct router_gen *g, const char *name)
{
	return strcmp(name, "REJECT-DROP") != 0 && router_gen_target_of(g, name) >= 0;
}

int router_ctx_select(struct router_ctx *rc, const char *group, const char *member)
{
	int r;

	if (!strcmp(group, ROUTER_GLOBAL) && group_table_find(rc->cur->groups, group) < 0) {
		if (!router_global_member(rc->cur, member) || strlen(member) >= sizeof(rc->global))
			return -ENOENT;
		snprintf(rc->global, sizeof(rc->global), "%s", member);
		log_info("group GLOBAL: selected %s (mode global)", member);
		return 0;
	}
	r = group_table_select(router_gen_groups(rc->cur), group, member);

	if (r == 0)
		log_info("group %s: selected %s", group, member);
	return r;
}

struct route_ops router_ctx_ops(struct router_ctx *rc)
{
	return (struct route_ops){ router_decide, router_release, rc, router_report };
}

void router_ctx_destroy(struct router_ctx *rc)
{
	if (rc == NULL)
		return;
	router_gen_unref(rc->cur);
	for (size_t i = 0; i < rc->n_paths; i++)
		free(rc->paths[i]);
	free(rc->paths);
	free(rc);
}

int router_explain(struct router_gen *g, const struct route_query *q, const char *proc_name,
		   const char *proc_path, router_resolve_fn resolve, struct route *out)
{
	struct router_req *req = router_req_new(g, q, out);
	struct sockaddr_storage addrs[RESOLVER_LOOKUP_MAX];
	int n;

	if (req == NULL)
		return -ENOMEM;
	req->proc_name = proc_name;
	req->proc_path = proc_path;
	if (router_run(req) != 0) {
		n = resolve ? resolve(req->domain, addrs, RESOLVER_LOOKUP_MAX) : -ENOENT;
		req->in_call = true;
		router_on_resolved(req, n < 0 ? n : 0, addrs, n < 0 ? 0 : (size_t)n);
	}
	router_req_free(req);
	return 0;
}
