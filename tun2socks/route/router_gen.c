/* router_gen: building a generation from a config (see router_gen.h). */
#include "tun2socks/route/router_gen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "config/rules_parse.h"
#include "config/ruleset.h"
#include "resolver/name_sync.h"
#include "tun2socks/route/geo.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router_gen_impl.h"
#include "tun2socks/route/rule.h"
#include "tun2socks/upstream/target.h"

/* A sub-rules list, parsed. */
struct gen_sub {
	const char *name;
	struct rule_spec *specs;
	size_t n; /* parsed (freed) */
};

struct gen_build {
	const struct config *cfg;
	struct router_gen *g;
	struct ruleset **sets;
	size_t n_sets;
	struct gen_sub *subs;
	size_t n_subs;
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
	/* A proxy of type direct keeps its name (logs, match), though
	 * config_resolve_target() calls it DIRECT. */
	for (size_t i = 0; i < b->cfg->n_own_proxies; i++)
		if (b->cfg->proxies[i].type == CONFIG_PROXY_DIRECT &&
		    strcmp(b->cfg->proxies[i].name, name) == 0)
			return ROUTER_T_PROXY0 + (int)i;
	if (config_resolve_target(b->cfg, name, &t, NULL, 0) < 0)
		return -1;
	switch (t.kind) {
	case CONFIG_TARGET_DIRECT:
		return ROUTER_T_DIRECT;
	case CONFIG_TARGET_REJECT:
		return ROUTER_T_REJECT;
	case CONFIG_TARGET_REJECT_DROP:
		return ROUTER_T_DROP;
	case CONFIG_TARGET_PASS:
		return ROUTER_T_PASS;
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

static int gen_sub_rules(void *arg, const char *name, const struct rule_spec **specs, size_t *n)
{
	const struct gen_build *b = arg;

	for (size_t i = 0; i < b->n_subs; i++)
		if (strcmp(b->subs[i].name, name) == 0) {
			*specs = b->subs[i].specs;
			*n = b->subs[i].n;
			return 0;
		}
	return -ENOENT;
}

/* Lines [0, n) into specs (n of them, zeroed), their targets checked
 * against the config; *parsed: how many to free. */
static int parse_lines(const struct config *cfg, const struct config_str *lines, size_t n,
		       struct rule_spec *specs, size_t *parsed, struct conf_err *err)
{
	int r = 0;

	for (*parsed = 0; r == 0 && *parsed < n; (*parsed)++) {
		const struct config_str *line = &lines[*parsed];
		struct rule_spec *s = &specs[*parsed];
		char msg[300];
		struct config_target t;

		r = rules_parse_line(line->text, strlen(line->text), &line->pos, s, err);
		if (r < 0)
			break;
		/* The config knows why a target is unusable; a SUB-RULE's
		 * names a list (rule.c says when it is unknown); a group
		 * picks among the members we can use (group.h). */
		if (s->type != RULE_SUB_RULE && gen_group(cfg, s->target) < 0 &&
		    config_resolve_target(cfg, s->target, &t, msg, sizeof(msg)) < 0) {
			r = conf_err_set(err, &s->target_pos, "%s", msg);
			(*parsed)++;
			break;
		}
	}
	return r;
}

/* Every sub-rules list, parsed, for gen_sub_rules. */
static int parse_subs(struct gen_build *b, struct conf_err *err)
{
	const struct config *cfg = b->cfg;
	int r = 0;

	if (cfg == NULL || cfg->n_sub_rules == 0)
		return 0;
	b->subs = calloc(cfg->n_sub_rules, sizeof(*b->subs));
	if (b->subs == NULL)
		return -ENOMEM;
	for (size_t i = 0; r == 0 && i < cfg->n_sub_rules; i++) {
		const struct config_sub_rules *sr = &cfg->sub_rules[i];
		struct gen_sub *gs = &b->subs[b->n_subs++];

		gs->name = sr->name;
		gs->specs = calloc(sr->n_rules ? sr->n_rules : 1, sizeof(*gs->specs));
		if (gs->specs == NULL)
			return -ENOMEM;
		r = parse_lines(cfg, sr->rules, sr->n_rules, gs->specs, &gs->n, err);
	}
	return r;
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

/* dns.proxy-server-nameserver joined with commas into buf ("" for none). */
static void proxy_ns(const struct config *cfg, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->dns.n_proxy_server_nameserver && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? "," : "",
					cfg->dns.proxy_server_nameserver[i].text);
}

static bool ip_literal(const char *host)
{
	uint8_t tmp[16];

	return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* A proxy named by host name through proxy-server-nameserver (blocking:
 * generation loads run at start and on a worker thread, docs/design.md
 * §23). An IP literal needs nothing. */
static int proxy_resolve(struct router_up *u, const struct config_proxy *p, const char *servers,
			 const struct sock_opts *sock, char *why, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int r;

	if (ip_literal(p->server))
		return 0; /* upstream_cfg_init took it */
	r = name_sync_lookup(servers, p->server, p->port, sock, &ss, &len, why, cap);
	if (r == 0) {
		u->cfg.server = ss;
		u->cfg.server_len = len;
	}
	return r;
}

static int build_ups(struct router_gen *g, const struct config *cfg,
		     const struct router_gen_opts *opts, struct conf_err *err)
{
	char psn[1024];

	g->n_ups = cfg ? cfg->n_proxies : 0;
	if (g->n_ups == 0)
		return 0;
	g->ups = calloc(g->n_ups, sizeof(*g->ups));
	if (g->ups == NULL)
		return -ENOMEM;
	proxy_ns(cfg, psn, sizeof(psn));
	for (size_t i = 0; i < g->n_ups; i++) {
		const struct config_proxy *p = &cfg->proxies[i];
		struct router_up *u = &g->ups[i];

		snprintf(u->name, sizeof(u->name), "%s", p->name);
		switch (p->type) {
		case CONFIG_PROXY_DIRECT:
			u->usable = u->direct = true;
			continue;
		case CONFIG_PROXY_DNS:
			u->usable = u->dns = true;
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
				.pipelining = p->pipelining == CONFIG_PIPELINING_ON
						      ? UPSTREAM_PIPELINING_ON
					      : p->pipelining == CONFIG_PIPELINING_OFF
						      ? UPSTREAM_PIPELINING_OFF
						      : UPSTREAM_PIPELINING_AUTO,
				.resolve = !opts->no_resolve &&
					   (psn[0] == '\0' || ip_literal(p->server)),
			};
			char why[300] = "";

			if (upstream_cfg_init(&u->cfg, &spec, why, sizeof(why)) < 0 ||
			    (!opts->no_resolve && psn[0] &&
			     proxy_resolve(u, p, psn, opts->sock, why, sizeof(why)) < 0))
				return conf_err_set(err, &p->pos, "proxy '%s': %s", p->name, why);
		}
		if (check_via(u, p) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct upstream_cfg *router_gen_auto_pipelining(struct router_gen *g, size_t i, const char **name)
{
	*name = NULL;
	for (size_t j = 0; j < g->n_ups; j++) {
		struct router_up *u = &g->ups[j];

		if (!u->cfg.pipelining_auto || u->dialer >= 0 || i-- > 0)
			continue;
		*name = u->name;
		return &u->cfg;
	}
	if (g->has_default_up && g->default_up.pipelining_auto && i == 0) {
		*name = "--proxy";
		return &g->default_up;
	}
	return NULL;
}

/* One more warning line; 0 or -ENOMEM. */
static int gen_warn(struct router_gen *g, const struct conf_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int gen_warn(struct router_gen *g, const struct conf_pos *pos, const char *fmt, ...)
{
	char msg[600], line[1024];
	char **grown;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (pos && pos->line > 0)
		snprintf(line, sizeof(line), "%s:%d:%d: warning: %s",
			 pos->file ? pos->file : "<input>", pos->line, pos->col, msg);
	else
		snprintf(line, sizeof(line), "%s: warning: %s",
			 pos && pos->file ? pos->file : "<input>", msg);
	grown = realloc(g->warnings, (g->n_warnings + 1) * sizeof(*grown));
	if (grown == NULL)
		return -ENOMEM;
	g->warnings = grown;
	g->warnings[g->n_warnings] = strdup(line);
	if (g->warnings[g->n_warnings] == NULL)
		return -ENOMEM;
	g->n_warnings++;
	return 0;
}

/* A loaded set's notes (skipped entries, ignored fields) as warnings,
 * then one line per set that skipped entries, at the provider. */
static int set_warnings(struct router_gen *g, const struct config_rule_provider *rp,
			const struct ruleset *rs)
{
	size_t n = ruleset_note_count(rs), skipped = ruleset_skipped(rs);
	int r = 0;

	for (size_t i = 0; r == 0 && i < n && ruleset_note(rs, i); i++) {
		const struct conf_err *e = ruleset_note(rs, i);
		struct conf_pos pos = { .file = e->file, .line = e->line, .col = e->col };

		/* An inline set is loaded as text, one entry a line: line N
		 * is the payload's entry N in the config. */
		if (rp->type == CONFIG_RP_INLINE && e->line >= 1 &&
		    (size_t)e->line <= rp->n_payload) {
			pos = rp->payload[e->line - 1].pos;
			if (pos.col > 0 && e->col > 1)
				pos.col += e->col - 1;
		}

		r = gen_warn(g, &pos, "%s", e->msg);
	}
	if (r == 0 && n > RULESET_WARN_MAX)
		r = gen_warn(g, &rp->pos, "rule-set '%s': %zu more notes not shown", rp->name,
			     n - RULESET_WARN_MAX);
	if (r == 0 && skipped > 0)
		r = gen_warn(g, &rp->pos, "rule-set '%s': %zu bad %s skipped, %zu loaded", rp->name,
			     skipped, skipped == 1 ? "entry" : "entries", ruleset_count(rs));
	return r;
}

static int load_sets(struct gen_build *b, struct conf_err *err)
{
	const struct config *cfg = b->cfg;

	if (cfg == NULL || cfg->n_rule_providers == 0)
		return 0;
	b->sets = calloc(cfg->n_rule_providers, sizeof(*b->sets));
	b->g->set_counts = calloc(cfg->n_rule_providers, sizeof(*b->g->set_counts));
	if (b->sets == NULL || b->g->set_counts == NULL)
		return -ENOMEM;
	b->g->n_set_counts = cfg->n_rule_providers;
	for (size_t i = 0; i < cfg->n_rule_providers; i++) {
		const struct config_rule_provider *rp = &cfg->rule_providers[i];
		enum ruleset_behavior beh = rp->behavior == CONFIG_RP_DOMAIN   ? RULESET_DOMAIN
					    : rp->behavior == CONFIG_RP_IPCIDR ? RULESET_IPCIDR
									       : RULESET_CLASSICAL;
		enum ruleset_format fmt = rp->format == CONFIG_RP_TEXT  ? RULESET_TEXT
					  : rp->format == CONFIG_RP_MRS ? RULESET_MRS
									: RULESET_YAML;
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
		b->g->set_counts[i] = ruleset_count(b->sets[b->n_sets - 1]);
		r = set_warnings(b->g, rp, b->sets[b->n_sets - 1]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "rule-set:a,b" and "geosite:x,y" (mihomo's parseDomain: the names after
 * the colon, comma-separated) as "RULE-SET,a,DIRECT,no-resolve" and
 * "GEOSITE,x,DIRECT" lines appended to *specs: a name matches when a
 * domain entry of the set or list holds it. what names the key in
 * errors. Other texts add nothing. */
static int name_specs(struct gen_build *b, const struct config_str *e, const char *what,
		      struct rule_spec **specs, size_t *n, size_t *cap, struct conf_err *err)
{
	bool site = strncasecmp(e->text, "geosite:", 8) == 0;
	const char *names;
	int r = 0;

	if (strncasecmp(e->text, "rule-set:", 9) != 0 && !site)
		return 0;
	names = e->text + (site ? 8 : 9);
	while (r == 0 && *names) {
		size_t len = strcspn(names, ",");
		char line[300];
		const struct ruleset *rs;

		snprintf(line, sizeof(line), "%.*s", (int)(len < 200 ? len : 200), names);
		rs = site ? NULL : gen_set(b, line);
		if (!site && (rs == NULL || ruleset_behavior(rs) == RULESET_IPCIDR)) {
			r = conf_err_set(err, &e->pos,
					 rs ? "%s: rule-set '%s' is an ipcidr set; a filter needs "
					      "domain or classical sets"
					    : "%s: unknown rule-set '%s'",
					 what, line);
			break;
		}
		if (*n == *cap) {
			struct rule_spec *grown;

			*cap = *cap ? *cap * 2 : 4;
			grown = realloc(*specs, *cap * sizeof(**specs));
			if (grown == NULL) {
				r = -ENOMEM;
				break;
			}
			*specs = grown;
		}
		snprintf(line, sizeof(line),
			 site ? "GEOSITE,%.*s,DIRECT" : "RULE-SET,%.*s,DIRECT,no-resolve",
			 (int)(len < 200 ? len : 200), names);
		r = rules_parse_line(line, strlen(line), &e->pos, &(*specs)[*n], err);
		if (r == 0)
			(*n)++;
		names += len;
		if (*names == ',')
			names++;
	}
	return r;
}

/* An engine of the specs (none, or err NULL after a failure: *out stays
 * NULL); the specs freed. */
static int name_engine(struct rule_spec *specs, size_t n, const struct rule_build_opts *ro,
		       struct rule_engine **out, struct conf_err *err)
{
	int r = 0;

	if (n > 0 && err != NULL)
		r = rule_engine_build(specs, n, ro, out, err);
	for (size_t i = 0; i < n; i++)
		rule_spec_free(&specs[i]);
	free(specs);
	return r;
}

/* dns.fake-ip-filter's rule-set: and geosite: entries. */
static int build_fake_filter(struct router_gen *g, struct gen_build *b,
			     const struct rule_build_opts *ro, struct conf_err *err)
{
	const struct config *cfg = b->cfg;
	struct rule_spec *specs = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (size_t i = 0; cfg && r == 0 && i < cfg->dns.n_fake_ip_filter; i++)
		r = name_specs(b, &cfg->dns.fake_ip_filter[i], "dns.fake-ip-filter", &specs, &n,
			       &cap, err);
	if (r < 0) {
		(void)name_engine(specs, n, ro, &g->fake_filter, NULL);
		return r;
	}
	return name_engine(specs, n, ro, &g->fake_filter, err);
}

/* The DNS keys that name lists (docs/design.md §23): nameserver-policy's
 * geosite:/rule-set: keys, one engine per entry (NULL for pattern keys);
 * fallback-filter.geosite; fallback-filter.geoip as one GEOIP line. */
static int build_dns_engines(struct router_gen *g, struct gen_build *b,
			     const struct rule_build_opts *ro, struct conf_err *err)
{
	const struct config_dns *d = b->cfg ? &b->cfg->dns : NULL;
	struct rule_spec *specs = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (d == NULL)
		return 0;
	if (d->n_ns_policy > 0) {
		g->dns_policy = calloc(d->n_ns_policy, sizeof(*g->dns_policy));
		if (g->dns_policy == NULL)
			return -ENOMEM;
		g->n_dns_policy = d->n_ns_policy;
	}
	for (size_t i = 0; r == 0 && i < d->n_ns_policy; i++) {
		specs = NULL;
		n = cap = 0;
		r = name_specs(b, &d->ns_policy[i].key, "dns.nameserver-policy", &specs, &n, &cap,
			       err);
		if (r < 0)
			(void)name_engine(specs, n, ro, &g->dns_policy[i], NULL);
		else
			r = name_engine(specs, n, ro, &g->dns_policy[i], err);
	}
	specs = NULL;
	n = cap = 0;
	for (size_t i = 0; r == 0 && i < d->n_fallback_geosite; i++) {
		struct config_str e = d->fallback_geosite[i];
		char text[300];

		snprintf(text, sizeof(text), "geosite:%s", e.text);
		e.text = text;
		r = name_specs(b, &e, "dns.fallback-filter.geosite", &specs, &n, &cap, err);
	}
	if (r < 0) {
		(void)name_engine(specs, n, ro, &g->fb_site, NULL);
		return r;
	}
	r = name_engine(specs, n, ro, &g->fb_site, err);
	if (r == 0 && d->fallback_geoip && d->n_fallback > 0) {
		const char *code = d->fallback_geoip_code.text ? d->fallback_geoip_code.text : "cn";
		char line[100];

		specs = calloc(1, sizeof(*specs));
		if (specs == NULL)
			return -ENOMEM;
		snprintf(line, sizeof(line), "GEOIP,%.40s,DIRECT,no-resolve", code);
		r = rules_parse_line(line, strlen(line), &d->fallback_geoip_code.pos, specs, err);
		if (r < 0)
			free(specs);
		else
			r = name_engine(specs, 1, ro, &g->fb_geoip, err);
	}
	return r;
}

bool router_gen_dns_policy(const struct router_gen *g, size_t entry, const char *name)
{
	struct rule_result res;
	struct rule_query q;

	if (g == NULL || entry >= g->n_dns_policy || g->dns_policy[entry] == NULL)
		return false;
	memset(&q, 0, sizeof(q));
	q.domain = name;
	return rule_match(g->dns_policy[entry], &q, &res) == RULE_MATCHED;
}

bool router_gen_fallback_name(const struct router_gen *g, const char *name)
{
	struct rule_result res;
	struct rule_query q;

	if (g == NULL || g->fb_site == NULL)
		return false;
	memset(&q, 0, sizeof(q));
	q.domain = name;
	return rule_match(g->fb_site, &q, &res) == RULE_MATCHED;
}

/* Go's netip.Addr.IsPrivate: RFC 1918 and fc00::/7. */
static bool addr_private(int family, const uint8_t *a)
{
	if (family == AF_INET)
		return a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		       (a[0] == 192 && a[1] == 168);
	return (a[0] & 0xfe) == 0xfc;
}

bool router_gen_fallback_ip(const struct router_gen *g, int family, const uint8_t *addr)
{
	struct rule_result res;
	struct rule_query q;

	if (g == NULL || g->fb_geoip == NULL || addr_private(family, addr))
		return false;
	memset(&q, 0, sizeof(q));
	q.dst.family = family == AF_INET ? 4 : 6; /* rule_addr's numbering */
	memcpy(q.dst.bytes, addr, family == AF_INET ? 4 : 16);
	return rule_match(g->fb_geoip, &q, &res) != RULE_MATCHED;
}

bool router_gen_fake_filter(const struct router_gen *g, const char *name)
{
	struct rule_result res;
	struct rule_query q;

	if (g == NULL || g->fake_filter == NULL)
		return false;
	memset(&q, 0, sizeof(q));
	q.domain = name;
	return rule_match(g->fake_filter, &q, &res) == RULE_MATCHED;
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
	case CONFIG_TARGET_PASS:
		/* picked, the rule naming the group is skipped (mihomo's
		 * tunnel.match unwraps groups down to PASS) */
		return ROUTER_T_PASS;
	}
	return -1;
}

static bool gen_not_pass(void *arg, int leaf)
{
	(void)arg;
	return leaf != ROUTER_T_PASS;
}

/* A group that may pick PASS (a member, or a nested group's): the rule
 * engine asks at match time (router.c router_pass_now). */
static bool gen_maybe_pass(void *arg, int target)
{
	const struct gen_build *b = arg;
	const struct router_gen *g = b->g;

	return target >= g->group_base &&
	       !group_table_always(g->groups, target, gen_not_pass, NULL);
}

/* dialer-proxy (mihomo's proxydialer): each proxy's target id for the
 * proxy or group that carries the connection to it (router.c prepends
 * it to the flow's chain; an unknown name, warned about at load, is
 * REJECT). Such a proxy carries no UDP (a chain does
 * not) and is not health-checked on its own (curl cannot go through the
 * dialer). */
static int gen_dialers(struct gen_build *b, struct conf_err *err)
{
	struct router_gen *g = b->g;

	for (size_t i = 0; i < g->n_ups; i++) {
		const struct config_proxy *p = &b->cfg->proxies[i];
		struct router_up *u = &g->ups[i];
		int t;

		u->dialer = -1;
		if (p->dialer_proxy == NULL || !u->usable || u->direct || u->redirect || u->dns)
			continue;
		t = gen_target(b, p->dialer_proxy);
		if (t < 0)
			t = ROUTER_T_REJECT; /* warned at load: its flows fail */
		if (t == ROUTER_T_PROXY0 + (int)i)
			return conf_err_set(err, &p->dialer_pos,
					    "proxy '%s': dialer-proxy names the proxy itself",
					    p->name);
		if (t == ROUTER_T_DIRECT)
			continue;
		u->dialer = t;
		u->no_udp = true;
		free(u->check_proxy);
		u->check_proxy = NULL;
	}
	return 0;
}

/* PASS: the rule is skipped, as mihomo skips it. */
static bool gen_pass(void *arg, int target)
{
	(void)arg;
	return target == ROUTER_T_PASS;
}

/* For UDP, a proxy that cannot carry it is a pass too: mihomo goes on
 * with the next rule (tunnel.match: "UDP is not supported"). */
static bool gen_pass_udp(void *arg, int target)
{
	const struct gen_build *b = arg;
	const struct router_gen *g = b->g;

	if (target == ROUTER_T_PASS)
		return true;
	/* A group passes unless whatever it may pick carries UDP. */
	if (target >= g->group_base)
		return !group_table_always(g->groups, target, gen_udp_ok, b->g);
	return target >= ROUTER_T_PROXY0 && g->ups[target - ROUTER_T_PROXY0].no_udp;
}

/* The UDP engine, when some rule names an upstream that cannot carry
 * UDP: the same rules, those passed. */
static int build_udp(struct router_gen *g, const struct rule_spec *specs, size_t n,
		     const struct rule_build_opts *ro, struct gen_build *b, struct conf_err *err)
{
	struct rule_build_opts uo = *ro;
	bool any = false;

	for (size_t i = 0; i < n && !any; i++) {
		int t = gen_target(b, specs[i].target);

		any = gen_pass_udp(b, t) && t != ROUTER_T_PASS;
	}
	/* A sub-rules list may end at one too. */
	for (size_t i = 0; i < b->n_subs && !any; i++)
		for (size_t k = 0; k < b->subs[i].n && !any; k++) {
			int t = gen_target(b, b->subs[i].specs[k].target);

			any = gen_pass_udp(b, t) && t != ROUTER_T_PASS;
		}
	if (!any)
		return 0;
	uo.pass_fn = gen_pass_udp;
	return rule_engine_build(specs, n, &uo, &g->udp_engine, err);
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
	r = gen_dialers(&b, err);
	if (r < 0)
		goto out;
	r = load_sets(&b, err);
	if (r < 0)
		goto out;
	/* Geodata files are opened by the first rule that needs them. */
	r = geo_create(cfg && cfg->dir ? cfg->dir : "", cfg && cfg->geodata_mode, &g->geo);
	if (r < 0)
		goto out;
	geo_set_lenient(g->geo, opts->geo_lenient);
	{
		struct rule_build_opts fo = {
			.target_fn = gen_target,
			.target_arg = &b,
			.set_fn = gen_set,
			.set_arg = &b,
			.default_target = ROUTER_T_DIRECT,
			.geo = g->geo,
		};

		r = build_fake_filter(g, &b, &fo, err);
		if (r == 0)
			r = build_dns_engines(g, &b, &fo, err);
		if (r < 0)
			goto out;
	}
	if (n > 0) {
		struct rule_build_opts ro = {
			.target_fn = gen_target,
			.target_arg = &b,
			.set_fn = gen_set,
			.set_arg = &b,
			.default_target = g->has_default_up ? ROUTER_T_DEFAULT_UP : ROUTER_T_DIRECT,
			.geo = g->geo,
			.pass_fn = gen_pass,
			.maybe_pass_fn = gen_maybe_pass,
			.sub_fn = gen_sub_rules,
		};

		specs = calloc(n, sizeof(*specs));
		r = specs ? parse_subs(&b, err) : -ENOMEM;
		if (r == 0)
			r = parse_lines(cfg, cfg->rules, n, specs, &parsed, err);
		if (r == 0)
			r = rule_engine_build(specs, n, &ro, &g->engine, err);
		if (r == 0)
			r = build_udp(g, specs, n, &ro, &b, err);
		if (r == 0) {
			g->hits = calloc(n, sizeof(*g->hits));
			g->n_hits = n;
			if (g->hits == NULL)
				r = -ENOMEM;
		}
	}
	/* The engines hold what they need of the .dat files. */
	geo_release_lists(g->geo);
out:
	for (size_t i = 0; i < parsed; i++)
		rule_spec_free(&specs[i]);
	free(specs);
	for (size_t i = 0; i < b.n_sets; i++)
		ruleset_free(b.sets[i]);
	free(b.sets);
	for (size_t i = 0; i < b.n_subs; i++) {
		for (size_t k = 0; k < b.subs[i].n; k++)
			rule_spec_free(&b.subs[i].specs[k]);
		free(b.subs[i].specs);
	}
	free(b.subs);
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
	free(g->hits);
	free(g->set_counts);
	rule_engine_unref(g->engine);
	rule_engine_unref(g->udp_engine);
	rule_engine_unref(g->fake_filter);
	for (size_t i = 0; i < g->n_dns_policy; i++)
		rule_engine_unref(g->dns_policy[i]);
	free(g->dns_policy);
	rule_engine_unref(g->fb_site);
	rule_engine_unref(g->fb_geoip);
	geo_free(g->geo); /* after the engines that look up in it */
	for (size_t i = 0; i < g->n_ups; i++) {
		upstream_cfg_free(&g->ups[i].cfg);
		free(g->ups[i].check_proxy);
		free(g->ups[i].check_user);
		free(g->ups[i].check_pass);
		free(g->ups[i].check_ca);
	}
	free(g->ups);
	for (size_t i = 0; i < g->n_warnings; i++)
		free(g->warnings[i]);
	free(g->warnings);
	group_table_free(g->groups);
	free(g);
}

size_t router_gen_warning_count(const struct router_gen *g)
{
	return g->n_warnings;
}

const char *router_gen_warning(const struct router_gen *g, size_t i)
{
	return i < g->n_warnings ? g->warnings[i] : NULL;
}

const struct geo *router_gen_geo(const struct router_gen *g)
{
	return g ? g->geo : NULL;
}

size_t router_gen_rule_count(const struct router_gen *g)
{
	return g->engine ? rule_engine_count(g->engine) : 0;
}

uint64_t router_gen_rule_hits(const struct router_gen *g, size_t i)
{
	return g != NULL && i < g->n_hits ? g->hits[i] : 0;
}

size_t router_gen_set_count(const struct router_gen *g, size_t i)
{
	return g != NULL && i < g->n_set_counts ? g->set_counts[i] : 0;
}

int router_gen_target_of(const struct router_gen *g, const char *name)
{
	int gi;

	if (!strcmp(name, "DIRECT"))
		return ROUTER_T_DIRECT;
	if (!strcmp(name, "REJECT"))
		return ROUTER_T_REJECT;
	if (!strcmp(name, "REJECT-DROP"))
		return ROUTER_T_DROP;
	for (size_t i = 0; i < g->n_ups; i++)
		if (!strcmp(g->ups[i].name, name))
			return ROUTER_T_PROXY0 + (int)i;
	gi = group_table_find(g->groups, name);
	return gi < 0 ? -ENOENT : g->group_base + gi;
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
	case ROUTER_T_PASS: /* mihomo's PASS is a REJECT that never connects */
		out->kind = ROUTER_VIA_REJECT;
		out->name = leaf == ROUTER_T_REJECT ? "REJECT"
			    : leaf == ROUTER_T_DROP ? "REJECT-DROP"
						    : "PASS";
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
	if (u->dns) {
		out->kind = ROUTER_VIA_REJECT;
		return 0;
	}
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
