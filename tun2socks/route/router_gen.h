/* router_gen: one generation of the router, built from a loaded config:
 * the upstreams with their resolved addresses, the rule sets, the compiled
 * rule engine (and its UDP variant) and the target table. Immutable once
 * built (but for what proxy groups pick and what pipelining probes find,
 * both on the loop thread) and refcounted: the live router (router.h) routes new flows by the
 * current one, and each flow keeps the one it was routed by.
 *
 * Building does blocking work (rule-set files, getaddrinfo for proxy
 * names, CA files) and touches no shared state, so it may run on a worker
 * thread (app/generation.c does, for SIGHUP).
 */
#ifndef T2S_ROUTER_GEN_H
#define T2S_ROUTER_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf_err.h"
#include "tun2socks/base/must_check.h"
#include "tun2socks/upstream/upstream.h"

struct config;
struct geo;
struct router_gen;

struct router_gen_opts {
	/* Where flows go when no rule matches: an upstream (e.g. from
	 * --proxy) or NULL for DIRECT, as mihomo does. Copied. */
	const struct upstream_cfg *default_up;
	/* Do not resolve proxy host names (tun2socks check works offline);
	 * such a generation must not route flows. */
	bool no_resolve;
	/* proxy-server-nameserver lookups' sockets get these (the routing
	 * mark auto-route gives our sockets), or NULL */
	const struct sock_opts *sock;
	/* Geodata files that are missing are noted rather than failing their
	 * rules (route/geo.h geo_set_lenient): to learn which to download. */
	bool geo_lenient;
};

/* A generation from a loaded config (cfg may be NULL: no rules, every flow
 * to the default). Loads rule-provider files and compiles the rules.
 * *out cleared first; 0 or -errno with err filled (file:line:column of
 * the offending text). */
T2S_MUST_CHECK int router_gen_build(const struct config *cfg, const struct router_gen_opts *opts,
				    struct router_gen **out, struct conf_err *err);
struct router_gen *router_gen_ref(struct router_gen *g);
void router_gen_unref(struct router_gen *g);
size_t router_gen_rule_count(const struct router_gen *g);
/* Its geodata (route/geo.h: which files were read, which missing). */
const struct geo *router_gen_geo(const struct router_gen *g);
/* How many flows rule i (config order) decided since g was built: routed
 * by the live router (router.h) in rule mode, explain not counted. 0 for
 * an index out of range or g NULL. Loop thread. */
uint64_t router_gen_rule_hits(const struct router_gen *g, size_t i);
/* Entries rule-provider i (config order) holds in g: what the rules
 * match against now (an http one not downloaded yet: 0). 0 out of range. */
size_t router_gen_set_count(const struct router_gen *g, size_t i);

/* Whether dns.fake-ip-filter's "rule-set:" entries hold name (it then
 * gets real DNS answers, as in mihomo). The static patterns are the
 * interceptor's own (options). g may be NULL: false. */
bool router_gen_fake_filter(const struct router_gen *g, const char *name);

/* The DNS keys that name geosite lists or rule-sets (docs/design.md §23),
 * by config index: whether nameserver-policy entry's "geosite:"/
 * "rule-set:" key holds name (false for a pattern key); whether
 * fallback-filter.geosite holds name; whether an answer's address is one
 * fallback-filter.geoip sends to the fallback (not of geoip-code, not
 * private, as mihomo). g may be NULL: false. */
bool router_gen_dns_policy(const struct router_gen *g, size_t entry, const char *name);
bool router_gen_fallback_name(const struct router_gen *g, const char *name);
bool router_gen_fallback_ip(const struct router_gen *g, int family, const uint8_t *addr);

/* Warnings of the build, one line each: bad rule-set entries skipped (with
 * file:line:column and why, the first few of each set, then a count per
 * set), fields ignored. Owned by g. */
size_t router_gen_warning_count(const struct router_gen *g);
const char *router_gen_warning(const struct router_gen *g, size_t i);

/* Its proxy groups at run time (route/group.h), or NULL. Loop thread. */
struct group_table *router_gen_groups(const struct router_gen *g);

/* "pipelining: auto" (docs/design.md §15): the i-th upstream of g whose
 * SOCKS5 pipelining the probe decides (route/pipelining.h), the config's
 * proxies first, then --proxy's; NULL past the end. A proxy reached
 * through a dialer-proxy is not among them (a probe connects directly).
 * *name for logs. The probe writes `pipelining`, the one field of
 * a built generation's upstream that changes (loop thread). */
struct upstream_cfg *router_gen_auto_pipelining(struct router_gen *g, size_t i, const char **name);

/* How a health check reaches the world through leaf target `leaf` (a
 * group member as group_table_member() names it, after picking):
 * direct (DIRECT, redirect), through a curl proxy URL, or not at all
 * (REJECT; a proxy curl cannot speak: socks5 over TLS). Strings live with
 * the generation. */
enum router_via_kind { ROUTER_VIA_DIRECT, ROUTER_VIA_PROXY, ROUTER_VIA_REJECT, ROUTER_VIA_NONE };
struct router_check_via {
	enum router_via_kind kind;
	const char *name; /* the leaf's name */
	const char *proxy, *user, *pass, *ca_file;
	bool insecure;
};
int router_gen_check_via(const struct router_gen *g, int leaf, struct router_check_via *out);

/* The same for a name as a config writes it (a provider's `proxy`):
 * DIRECT (or NULL), a proxy, or a group through what it picks now.
 * 0 or -ENOENT. */
int router_gen_name_via(const struct router_gen *g, const char *name, struct router_check_via *out);

/* The server addresses of its proxies (the config's and the default
 * upstream; redirects are DIRECT), at most max into out, for auto-route to
 * keep out of the TUN. Returns how many. */
struct sockaddr_storage;
size_t router_gen_servers(const struct router_gen *g, struct sockaddr_storage *out, size_t max);

#endif
