/* router_gen: building a generation from a config (see router_gen.h). */
#include "tun2socks/route/router_gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/rules_parse.h"
#include "config/ruleset.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router_gen_impl.h"
#include "tun2socks/route/rule.h"
#include "tun2socks/upstream/target.h"

struct gen_build {
	const struct config *cfg;
	struct router_gen *g;
	struct ruleset **sets;
	size_t n_sets;
};

/* The config group called name, or -1. */
static int gen_group(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->n_groups; i++)
		if (strcmp(cfg->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int gen_target(void *arg, const char *name)
{
	const struct gen_build *b = arg;
	struct config_target t;
	int gi;

	if (b->cfg == NULL)
		return -1;
	/* Groups stay groups: they pick a member per flow (group.h). */
	gi = gen_group(b->cfg, name);
	if (gi >= 0)
		return b->g->group_base + gi;
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

static const struct ruleset *gen_set(void *arg, const char *name)
{
	const struct gen_build *b = arg;

	for (size_t i = 0; i < b->n_sets; i++)
		if (strcmp(ruleset_name(b->sets[i]), name) == 0)
			return b->sets[i];
	return NULL;
}

/* A literal address, else a name. */
static int host_addr(struct socks5_addr *out, const char *host, uint16_t port)
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

/* The curl proxy URL a health check through p uses (http_client.h).
 * curl has no SOCKS5 over TLS: such a proxy is not checked. */
static int check_via(struct router_up *u, const struct config_proxy *p)
{
	const char *scheme;
	char url[300];
	bool v6 = strchr(p->server, ':') != NULL;

	if (p->type == CONFIG_PROXY_SOCKS5 && p->tls)
		return 0;
	scheme = p->type == CONFIG_PROXY_SOCKS5 ? "socks5h" : p->tls ? "https" : "http";
	snprintf(url, sizeof(url), "%s://%s%s%s:%u", scheme, v6 ? "[" : "", p->server,
		 v6 ? "]" : "", p->port);
	u->check_proxy = strdup(url);
	if (u->check_proxy == NULL)
		return -ENOMEM;
	if (p->username && (u->check_user = strdup(p->username)) == NULL)
		return -ENOMEM;
	if (p->password && (u->check_pass = strdup(p->password)) == NULL)
		return -ENOMEM;
	if (p->ca && (u->check_ca = strdup(p->ca)) == NULL)
		return -ENOMEM;
	u->check_insecure = p->skip_cert_verify;
	return 0;
}

static int build_ups(struct router_gen *g, const struct config *cfg,
		     const struct router_gen_opts *opts, struct conf_err *err)
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
		case CONFIG_PROXY_DIRECT:
			u->usable = u->direct = true;
			continue;
		case CONFIG_PROXY_REDIRECT:
			u->usable = u->redirect = true;
			if (host_addr(&u->to, p->to_host, p->to_port) < 0)
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
				.proto = u->cfg.proto,
				.host = p->server,
				.port = p->port,
				.user = p->username,
				.pass = p->password,
				.tls = p->tls,
				.skip_cert_verify = p->skip_cert_verify,
				.sni = p->sni,
				.ca_file = p->ca,
				.resolve = !opts->no_resolve,
			};
			char why[300] = "";

			if (upstream_cfg_init(&u->cfg, &spec, why, sizeof(why)) < 0)
				return conf_err_set(err, &p->pos, "proxy '%s': %s", p->name, why);
		}
		if (check_via(u, p) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int load_sets(struct gen_build *b, struct conf_err *err)
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
		enum ruleset_format fmt =
			rp->format == CONFIG_RP_TEXT ? RULESET_TEXT : RULESET_YAML;
		int r;

		if (rp->type == CONFIG_RP_HTTP && !rp->remote.cached) {
			/* Not downloaded yet (the loader said so): empty until
			 * the fetch reloads the config. */
			r = ruleset_load_buffer(rp->name, beh, RULESET_TEXT, cfg->file, "", 0,
						&b->sets[b->n_sets], err);
		} else if (rp->type != CONFIG_RP_INLINE) {
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

/* A leaf that can carry UDP. */
static bool gen_udp_ok(void *arg, int leaf)
{
	return router_gen_leaf_udp(arg, leaf);
}

/* A group member -> target id; proxies we cannot speak are left out. */
static int gen_member(void *arg, const struct config_member *m)
{
	const struct router_gen *g = arg;

	switch (m->kind) {
	case CONFIG_TARGET_DIRECT:
		return ROUTER_T_DIRECT;
	case CONFIG_TARGET_REJECT:
		return ROUTER_T_REJECT;
	case CONFIG_TARGET_REJECT_DROP:
		return ROUTER_T_DROP;
	case CONFIG_TARGET_PROXY:
		return m->index < g->n_ups && g->ups[m->index].usable
			       ? ROUTER_T_PROXY0 + (int)m->index
			       : -1;
	case CONFIG_TARGET_GROUP:
		return g->group_base + (int)m->index;
	}
	return -1;
}

/* The UDP engine: rules whose target cannot carry UDP left out. */
static int build_udp(struct router_gen *g, const struct rule_spec *specs, size_t n,
		     const struct rule_build_opts *ro, struct gen_build *b, struct conf_err *err)
{
	struct rule_spec *keep;
	size_t k = 0;
	int r;

	keep = malloc(n * sizeof(*keep));
	if (keep == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int t = gen_target(b, specs[i].target);

		if (t >= g->group_base) {
			/* A group stays when whatever it picks carries UDP. */
			if (!group_table_always(g->groups, t, gen_udp_ok, g))
				continue;
		} else if (t >= ROUTER_T_PROXY0 && g->ups[t - ROUTER_T_PROXY0].no_udp) {
			continue;
		}
		keep[k++] = specs[i]; /* shallow: the engine copies what it keeps */
	}
	r = k == n ? 0 : rule_engine_build(keep, k, ro, &g->udp_engine, err);
	free(keep);
	return r;
}

int router_gen_build(const struct config *cfg, const struct router_gen_opts *opts,
		     struct router_gen **out, struct conf_err *err)
{
	struct gen_build b = { .cfg = cfg };
	struct rule_spec *specs = NULL;
	size_t n = cfg ? cfg->n_rules : 0, parsed = 0;
	struct router_gen *g;
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
	b.g = g;
	r = build_ups(g, cfg, opts, err);
	if (r < 0)
		goto out;
	g->group_base = ROUTER_T_PROXY0 + (int)g->n_ups;
	r = group_table_build(cfg, g->group_base, gen_member, g, &g->groups);
	if (r < 0)
		goto out;
	r = load_sets(&b, err);
	if (r < 0)
		goto out;
	if (n > 0) {
		struct rule_build_opts ro = {
			.target_fn = gen_target,
			.target_arg = &b,
			.set_fn = gen_set,
			.set_arg = &b,
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
			/* The config knows why a target is unusable; a group
			 * picks among the members we can use (group.h). */
			if (gen_group(cfg, specs[parsed].target) < 0 &&
			    config_resolve_target(cfg, specs[parsed].target, &t, msg, sizeof(msg)) <
				    0) {
				r = conf_err_set(err, &specs[parsed].target_pos, "%s", msg);
				parsed++;
				break;
			}
		}
		if (r == 0)
			r = rule_engine_build(specs, n, &ro, &g->engine, err);
		if (r == 0)
			r = build_udp(g, specs, n, &ro, &b, err);
	}
out:
	for (size_t i = 0; i < parsed; i++)
		rule_spec_free(&specs[i]);
	free(specs);
	for (size_t i = 0; i < b.n_sets; i++)
		ruleset_free(b.sets[i]);
	free(b.sets);
	if (r < 0) {
		router_gen_unref(g);
		return r;
	}
	*out = g;
	return 0;
}

struct router_gen *router_gen_ref(struct router_gen *g)
{
	g->refs++;
	return g;
}

void router_gen_unref(struct router_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	rule_engine_unref(g->engine);
	rule_engine_unref(g->udp_engine);
	for (size_t i = 0; i < g->n_ups; i++) {
		upstream_cfg_free(&g->ups[i].cfg);
		free(g->ups[i].check_proxy);
		free(g->ups[i].check_user);
		free(g->ups[i].check_pass);
		free(g->ups[i].check_ca);
	}
	free(g->ups);
	group_table_free(g->groups);
	free(g);
}

size_t router_gen_rule_count(const struct router_gen *g)
{
	return g->engine ? rule_engine_count(g->engine) : 0;
}

size_t router_gen_servers(const struct router_gen *g, struct sockaddr_storage *out, size_t max)
{
	size_t n = 0;

	if (g->has_default_up && n < max && g->default_up.server_len > 0)
		out[n++] = g->default_up.server;
	for (size_t i = 0; i < g->n_ups && n < max; i++) {
		const struct router_up *u = &g->ups[i];

		if (u->usable && !u->redirect && u->cfg.server_len > 0)
			out[n++] = u->cfg.server;
	}
	return n;
}

struct group_table *router_gen_groups(const struct router_gen *g)
{
	return g->groups;
}

int router_gen_check_via(const struct router_gen *g, int leaf, struct router_check_via *out)
{
	const struct router_up *u;

	memset(out, 0, sizeof(*out));
	switch (leaf) {
	case ROUTER_T_DIRECT:
		out->kind = ROUTER_VIA_DIRECT;
		out->name = "DIRECT";
		return 0;
	case ROUTER_T_REJECT:
	case ROUTER_T_DROP:
		out->kind = ROUTER_VIA_REJECT;
		out->name = leaf == ROUTER_T_REJECT ? "REJECT" : "REJECT-DROP";
		return 0;
	case ROUTER_T_DEFAULT_UP:
		out->kind = ROUTER_VIA_NONE;
		out->name = "proxy";
		return 0;
	default:
		break;
	}
	if (leaf < ROUTER_T_PROXY0 || leaf >= g->group_base)
		return -ENOENT;
	u = &g->ups[leaf - ROUTER_T_PROXY0];
	out->name = u->name;
	if (u->redirect || u->direct) {
		out->kind = ROUTER_VIA_DIRECT;
		return 0;
	}
	if (u->check_proxy == NULL) {
		out->kind = ROUTER_VIA_NONE;
		return 0;
	}
	out->kind = ROUTER_VIA_PROXY;
	out->proxy = u->check_proxy;
	out->user = u->check_user;
	out->pass = u->check_pass;
	out->ca_file = u->check_ca;
	out->insecure = u->check_insecure;
	return 0;
}

int router_gen_name_via(const struct router_gen *g, const char *name, struct router_check_via *out)
{
	struct group_pick pk = { .peek = true };
	int gi, leaf;

	memset(out, 0, sizeof(*out));
	if (name == NULL || strcmp(name, "DIRECT") == 0)
		return router_gen_check_via(g, ROUTER_T_DIRECT, out);
	if (strcmp(name, "REJECT") == 0)
		return router_gen_check_via(g, ROUTER_T_REJECT, out);
	for (size_t i = 0; i < g->n_ups; i++)
		if (strcmp(g->ups[i].name, name) == 0)
			return router_gen_check_via(g, ROUTER_T_PROXY0 + (int)i, out);
	gi = group_table_find(g->groups, name);
	if (gi < 0)
		return -ENOENT;
	leaf = group_table_pick(g->groups, g->group_base + gi, &pk);
	return router_gen_check_via(g, leaf < 0 ? ROUTER_T_DIRECT : leaf, out);
}
