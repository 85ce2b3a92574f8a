/* router: see router.h.
 *
 * Target ids given to the rule engine: ROUTER_T_DIRECT, _REJECT, _DROP,
 * _DEFAULT_UP (the --proxy upstream), then ROUTER_T_PROXY0 + i for the
 * config's proxies[i] (groups are resolved to one of those by the config).
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

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "config/config.h"
#include "tun2socks/base/log.h"
#include "tun2socks/route/proc_lookup.h"
#include "resolver/resolver.h"
#include "tun2socks/route/rule.h"
#include "config/rules_parse.h"
#include "config/ruleset.h"

enum {
	ROUTER_T_DIRECT = 0,
	ROUTER_T_REJECT,
	ROUTER_T_DROP,
	ROUTER_T_DEFAULT_UP,
	ROUTER_T_PROXY0,
};

struct router_up {
	char name[128];
	bool usable;             /* socks5/http/redirect */
	bool no_udp;             /* http, or socks5 with udp: false */
	bool redirect;
	struct upstream_cfg cfg; /* proxies */
	struct socks5_addr to;   /* redirect target (port included) */
};

struct router {
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
};

struct router_ctx {
	struct router *cur;
	struct resolver *resolver;
	struct proc_lookup *procs;
};

/* ---- build ------------------------------------------------------------------ */

struct router_build {
	const struct config *cfg;
	struct ruleset **sets;
	size_t n_sets;
};

static int router_target(void *arg, const char *name)
{
	const struct router_build *b = arg;
	struct config_target t;

	if (b->cfg == NULL)
		return -1;
	if (config_resolve_target(b->cfg, name, &t, NULL, 0) < 0)
		return -1;
	switch (t.kind) {
	case CONFIG_TARGET_DIRECT:
		return ROUTER_T_DIRECT;
	case CONFIG_TARGET_REJECT:
		return ROUTER_T_REJECT;
	case CONFIG_TARGET_REJECT_DROP:
		return ROUTER_T_DROP;
	case CONFIG_TARGET_PROXY:
		return ROUTER_T_PROXY0 + (int)(t.proxy - b->cfg->proxies);
	default:
		return -1;
	}
}

static const struct ruleset *router_set(void *arg, const char *name)
{
	const struct router_build *b = arg;

	for (size_t i = 0; i < b->n_sets; i++)
		if (strcmp(ruleset_name(b->sets[i]), name) == 0)
			return b->sets[i];
	return NULL;
}

/* A literal address, else a name. */
static int router_addr(struct socks5_addr *out, const char *host, uint16_t port)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, host, a) == 1) {
		socks5_addr_from_ipv4(out, a, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, a) == 1) {
		socks5_addr_from_ipv6(out, a, port);
		return 0;
	}
	return socks5_addr_from_domain(out, host, port);
}

static int router_build_ups(struct router *g, const struct config *cfg,
			    const struct router_build_opts *opts, struct conf_err *err)
{
	g->n_ups = cfg ? cfg->n_proxies : 0;
	if (g->n_ups == 0)
		return 0;
	g->ups = calloc(g->n_ups, sizeof(*g->ups));
	if (g->ups == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_ups; i++) {
		const struct config_proxy *p = &cfg->proxies[i];
		struct router_up *u = &g->ups[i];

		snprintf(u->name, sizeof(u->name), "%s", p->name);
		switch (p->type) {
		case CONFIG_PROXY_REDIRECT:
			u->usable = u->redirect = true;
			if (router_addr(&u->to, p->to_host, p->to_port) < 0)
				return conf_err_set(err, &p->pos, "proxy '%s': bad redirect target",
						    p->name);
			continue;
		case CONFIG_PROXY_SOCKS5:
			u->cfg.proto = &upstream_socks5;
			/* UDP ASSOCIATE's control connection is not run over
			 * TLS, and its datagrams never could be: UDP rules
			 * naming a TLS SOCKS5 proxy fall through. */
			u->no_udp = !p->udp || p->tls;
			break;
		case CONFIG_PROXY_HTTP:
			u->cfg.proto = &upstream_http;
			u->no_udp = true;
			break;
		default:
			continue; /* unsupported: only a rule naming it fails */
		}
		u->usable = true;
		{
			/* TLS to the proxy (https://, tls: true): one shared
			 * context per upstream, built here so a bad CA file is
			 * a config error, not a flow failure. */
			struct upstream_spec spec = {
				.proto = u->cfg.proto, .host = p->server, .port = p->port,
				.user = p->username, .pass = p->password, .tls = p->tls,
				.skip_cert_verify = p->skip_cert_verify, .sni = p->sni,
				.ca_file = p->ca, .resolve = !opts->no_resolve,
			};
			char why[300] = "";

			if (upstream_cfg_init(&u->cfg, &spec, why, sizeof(why)) < 0)
				return conf_err_set(err, &p->pos, "proxy '%s': %s", p->name, why);
		}
	}
	return 0;
}

static int router_load_sets(struct router_build *b, struct conf_err *err)
{
	const struct config *cfg = b->cfg;

	if (cfg == NULL || cfg->n_rule_providers == 0)
		return 0;
	b->sets = calloc(cfg->n_rule_providers, sizeof(*b->sets));
	if (b->sets == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_rule_providers; i++) {
		const struct config_rule_provider *rp = &cfg->rule_providers[i];
		enum ruleset_behavior beh = rp->behavior == CONFIG_RP_DOMAIN   ? RULESET_DOMAIN
					    : rp->behavior == CONFIG_RP_IPCIDR ? RULESET_IPCIDR
									       : RULESET_CLASSICAL;
		enum ruleset_format fmt = rp->format == CONFIG_RP_TEXT ? RULESET_TEXT : RULESET_YAML;
		int r;

		if (rp->type == CONFIG_RP_FILE) {
			r = ruleset_load_file(rp->name, beh, fmt, rp->path, &rp->path_pos,
					      &b->sets[b->n_sets], err);
		} else {
			/* Inline payload: one entry per line of a text set. */
			size_t len = 0, off = 0;
			char *buf;

			for (size_t k = 0; k < rp->n_payload; k++)
				len += strlen(rp->payload[k].text) + 1;
			buf = malloc(len + 1);
			if (buf == NULL)
				return -ENOMEM;
			for (size_t k = 0; k < rp->n_payload; k++)
				off += (size_t)sprintf(buf + off, "%s\n", rp->payload[k].text);
			r = ruleset_load_buffer(rp->name, beh, RULESET_TEXT, cfg->file, buf, off,
						&b->sets[b->n_sets], err);
			free(buf);
		}
		/* A missing or unreadable file is a config error at the
		 * provider (err says which file and why). */
		if (r < 0)
			return r == -ENOMEM ? r : -EINVAL;
		b->n_sets++;
	}
	return 0;
}

/* The UDP engine: rules whose target cannot carry UDP left out. */
static int router_build_udp(struct router *g, const struct rule_spec *specs, size_t n,
			    const struct rule_build_opts *ro, struct router_build *b,
			    struct conf_err *err)
{
	struct rule_spec *keep;
	size_t k = 0;
	int r;

	keep = malloc(n * sizeof(*keep));
	if (keep == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int t = router_target(b, specs[i].target);

		if (t >= ROUTER_T_PROXY0 && g->ups[t - ROUTER_T_PROXY0].no_udp)
			continue;
		keep[k++] = specs[i]; /* shallow: the engine copies what it keeps */
	}
	r = k == n ? 0 : rule_engine_build(keep, k, ro, &g->udp_engine, err);
	free(keep);
	return r;
}

int router_build(const struct config *cfg, const struct router_build_opts *opts,
		 struct router **out, struct conf_err *err)
{
	struct router_build b = { .cfg = cfg };
	struct rule_spec *specs = NULL;
	size_t n = cfg ? cfg->n_rules : 0, parsed = 0;
	struct router *g;
	int r;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return -ENOMEM;
	g->refs = 1;
	if (opts->default_up != NULL) {
		g->has_default_up = true;
		g->default_up = *opts->default_up;
	}
	r = router_build_ups(g, cfg, opts, err);
	if (r < 0)
		goto out;
	r = router_load_sets(&b, err);
	if (r < 0)
		goto out;
	if (n > 0) {
		struct rule_build_opts ro = {
			.target_fn = router_target, .target_arg = &b,
			.set_fn = router_set, .set_arg = &b,
			.default_target = g->has_default_up ? ROUTER_T_DEFAULT_UP : ROUTER_T_DIRECT,
		};

		specs = calloc(n, sizeof(*specs));
		r = specs ? 0 : -ENOMEM;
		for (; r == 0 && parsed < n; parsed++) {
			const struct config_str *line = &cfg->rules[parsed];
			char msg[300];
			struct config_target t;

			r = rules_parse_line(line->text, strlen(line->text), &line->pos,
					     &specs[parsed], err);
			if (r < 0)
				break;
			/* The config knows why a target is unusable. */
			if (config_resolve_target(cfg, specs[parsed].target, &t, msg,
						  sizeof(msg)) < 0) {
				r = conf_err_set(err, &specs[parsed].target_pos, "%s", msg);
				parsed++;
				break;
			}
		}
		if (r == 0)
			r = rule_engine_build(specs, n, &ro, &g->engine, err);
		if (r == 0)
			r = router_build_udp(g, specs, n, &ro, &b, err);
	}
out:
	for (size_t i = 0; i < parsed; i++)
		rules_spec_free(&specs[i]);
	free(specs);
	for (size_t i = 0; i < b.n_sets; i++)
		ruleset_free(b.sets[i]);
	free(b.sets);
	if (r < 0) {
		router_unref(g);
		return r;
	}
	*out = g;
	return 0;
}

struct router *router_ref(struct router *g)
{
	g->refs++;
	return g;
}

void router_unref(struct router *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	rule_engine_unref(g->engine);
	rule_engine_unref(g->udp_engine);
	for (size_t i = 0; i < g->n_ups; i++)
		upstream_cfg_free(&g->ups[i].cfg);
	free(g->ups);
	free(g);
}

size_t router_rule_count(const struct router *g)
{
	return g->engine ? rule_engine_count(g->engine) : 0;
}

/* ---- decide --------------------------------------------------------------------- */

struct router_req {
	struct router_ctx *rc;
	struct router *g;
	struct rule_query q;
	char domain[256];
	ip_addr_t dst;
	uint16_t dst_port;
	struct rule_addr resolved[RESOLVER_LOOKUP_MAX];
	struct proc_info proc;
	const char *proc_name, *proc_path; /* router_explain */
	struct route *out;
	route_done_fn done;
	void *arg;
	bool in_call;  /* inside decide(): complete synchronously */
	bool finished;
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

/* Turns the engine's verdict into the route. */
static void router_fill(struct router_req *req, const struct rule_result *res, int verdict)
{
	struct router *g = req->g;
	struct route *out = req->out;
	int t = res->target;

	memset(out, 0, sizeof(*out));
	/* res->text is the engine's, kept alive by the reference in hold. */
	if (verdict == RULE_MATCHED)
		out->rule = res->text;
	else
		out->rule = g->engine ? "no rule matched" : "MATCH (no rules)";
	if (req->domain[0])
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
		if (u->redirect) {
			out->action = ROUTE_DIRECT;
			out->target = u->to;
		} else {
			out->action = ROUTE_PROXY;
			out->up = &u->cfg;
		}
	}
	}
	if (req->q.proc_done && req->q.proc.name)
		snprintf(out->proc, sizeof(out->proc), "%s", req->q.proc.name);
	out->hold = router_ref(g);
}

/* Runs the rules; 1 when the domain must be resolved first. */
static int router_run(struct router_req *req)
{
	struct rule_result res;
	int v;

	if (req->g->engine == NULL) {
		memset(&res, 0, sizeof(res));
		res.target = req->g->has_default_up ? ROUTER_T_DEFAULT_UP : ROUTER_T_DIRECT;
		router_fill(req, &res, RULE_DEFAULT);
		return 0;
	}
	v = rule_match(req->g->engine, &req->q, &res);
	if (v == RULE_NEED_RESOLVE)
		return 1;
	if (req->q.network == RULE_NET_UDP && req->g->udp_engine != NULL &&
	    res.target >= ROUTER_T_PROXY0 && req->g->ups[res.target - ROUTER_T_PROXY0].no_udp) {
		log_debug("router: UDP: %s names %s, which cannot carry UDP: next rule", res.text,
			  req->g->ups[res.target - ROUTER_T_PROXY0].name);
		v = rule_match(req->g->udp_engine, &req->q, &res);
		if (v == RULE_NEED_RESOLVE)
			return 1;
	}
	router_fill(req, &res, v);
	return 0;
}

static void router_req_free(struct router_req *req)
{
	router_unref(req->g);
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

static struct router_req *router_req_new(struct router *g, const struct route_query *q,
					 struct route *out)
{
	struct router_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->g = router_ref(g);
	req->out = out;
	ip_addr_copy(req->dst, *q->dst);
	req->dst_port = q->dst_port;
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
	return req;
}

static int router_decide(void *ctx, const struct route_query *q, struct route *out,
			 route_done_fn done, void *arg)
{
	struct router_ctx *rc = ctx;
	struct router_req *req = router_req_new(rc->cur, q, out);
	int r;

	if (req == NULL)
		return -ENOMEM;
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
	router_unref(hold);
}

int router_ctx_create(struct router *first, struct resolver *resolver,
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

void router_ctx_swap(struct router_ctx *rc, struct router *next)
{
	router_unref(rc->cur);
	rc->cur = next;
}

size_t router_ctx_rule_count(const struct router_ctx *rc)
{
	return router_rule_count(rc->cur);
}

struct route_ops router_ctx_ops(struct router_ctx *rc)
{
	return (struct route_ops){ router_decide, router_release, rc };
}

void router_ctx_destroy(struct router_ctx *rc)
{
	if (rc == NULL)
		return;
	router_unref(rc->cur);
	free(rc);
}

int router_explain(struct router *g, const struct route_query *q, const char *proc_name,
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
