/* config_load: config_load() and config_load_buf() of config.h. Reads the
 * file, parses it (loader.c), loads the top-level keys, tun and dns here
 * and the other sections through config_proxies and config_rules, in the
 * order they depend on each other. A file of its own, above those modules,
 * because they build on config.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "config/config_impl.h"
#include "config/nameservers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config_pproviders.h"
#include "config/config_remote.h"
#include "config/config_proxies.h"
#include "config/config_rules.h"
#include "config/config_sniffer.h"
#include "config/loader.h"
#include "tun2socks/base/sock.h"

enum {
	CONFIG_FILE_MAX = 64 << 20, /* bytes read by config_load() */
	CONFIG_IFNAME_MAX = 15,     /* IFNAMSIZ - 1 */
	CONFIG_MTU_MIN = 576,
	CONFIG_MTU_MAX = 65535,
};

/* Keys of tun: ours, and mihomo's that we ignore (loader.h). */
static const char *const tun_ours[] = {
	"enable",
	"device",
	"mtu",
	"inet4-address",
	"inet6-address",
	"auto-route",
	"auto-detect-interface",
	"strict-route",
	"dns-hijack",
	"iproute2-table-index",
	"iproute2-rule-index",
	"route-address",
	"route-exclude-address",
	"include-uid",
	"exclude-uid",
};
static const char *const tun_mihomo[] = {
	"stack",
	"dns-hijack",
	"auto-route",
	"auto-detect-interface",
	"auto-redirect",
	"auto-redirect-input-mark",
	"auto-redirect-output-mark",
	"strict-route",
	"gso",
	"gso-max-size",
	"iproute2-table-index",
	"iproute2-rule-index",
	"route-address",
	"route-address-set",
	"route-exclude-address",
	"route-exclude-address-set",
	"inet4-route-address",
	"inet6-route-address",
	"inet4-route-exclude-address",
	"inet6-route-exclude-address",
	"include-interface",
	"exclude-interface",
	"include-uid",
	"include-uid-range",
	"exclude-uid",
	"exclude-uid-range",
	"include-android-user",
	"include-package",
	"exclude-package",
	"endpoint-independent-nat",
	"udp-timeout",
	"file-descriptor",
	"disable-icmp-forwarding",
	"loopback-address",
	"exclude-src-port",
	"exclude-src-port-range",
	"exclude-dst-port",
	"exclude-dst-port-range",
	"recvmsgx",
	"sendmsgx",
	"auto-redirect-iproute2-fallback-rule-index",
};

static const struct loader_keys tun_keys = LOADER_KEYS(tun_ours, tun_mihomo);

/* --- values with structure ------------------------------------------------- */

/* "a.b.c.d/len" or "v6/len"; host bits may be set. */
static int get_cidr(struct loader *ld, yaml_node_t *n, int family, const char *what,
		    struct config_cidr *out)
{
	const char *v, *slash;
	char addr[64], q[80];
	unsigned prefix = 0, max = family == AF_INET ? 32 : 128;
	size_t alen, i;
	int r = loader_get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	slash = strchr(v, '/');
	alen = slash ? (size_t)(slash - v) : 0;
	if (!slash || alen == 0 || alen >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3)
		goto bad;
	for (i = 1; slash[i]; i++) {
		if (slash[i] < '0' || slash[i] > '9')
			goto bad;
		prefix = prefix * 10 + (unsigned)(slash[i] - '0');
	}
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(family, addr, out->addr) != 1)
		goto bad;
	if (prefix > max)
		return loader_fail_at(ld, loader_scalar_pos_at(ld, n, alen + 1),
				      "%s: prefix length %u is longer than %u in %s", what, prefix,
				      max, loader_quote_node(q, n));
	out->text = loader_strndup(ld, v, n->data.scalar.length);
	if (!out->text)
		return loader_oom(ld);
	out->pos = loader_node_pos(ld, n);
	out->family = family;
	out->prefix = prefix;
	return 0;
bad:
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected an %s CIDR like %s, got %s",
			      what, family == AF_INET ? "IPv4" : "IPv6",
			      family == AF_INET ? "198.18.0.1/16" : "fdfe:dcba:9876::1/64",
			      loader_quote_node(q, n));
}

/* A list of CIDRs (a single string allowed, as mihomo does). */
int config_get_cidr_list(struct loader *ld, yaml_node_t *n, int family, const char *what,
			 struct config_cidr **out, size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = loader_get_list(ld, n, what, true, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = loader_alloc(ld, c * sizeof(**out));
	if (!*out)
		return loader_oom(ld);
	for (size_t i = 0; i < c; i++) {
		yaml_node_t *it = loader_list_item(ld, n, items, i);
		int fam = family;

		if (fam == 0) /* either family, by the text */
			fam = it->type == YAML_SCALAR_NODE && memchr(it->data.scalar.value, ':',
								     it->data.scalar.length)
				      ? AF_INET6
				      : AF_INET;
		r = get_cidr(ld, it, fam, what, &(*out)[i]);
		if (r < 0)
			return r;
	}
	*count = c;
	return 0;
}

/* A list of user ids (a single number allowed). */
static int get_uid_list(struct loader *ld, yaml_node_t *n, const char *what, uint32_t **out,
			size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = loader_get_list(ld, n, what, true, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = loader_alloc(ld, c * sizeof(**out));
	if (!*out)
		return loader_oom(ld);
	for (size_t i = 0; i < c; i++) {
		unsigned long long v;

		r = loader_get_uint(ld, loader_list_item(ld, n, items, i), what, 0, 0xffffffffu,
				    &v);
		if (r < 0)
			return r;
		(*out)[i] = (uint32_t)v;
	}
	*count = c;
	return 0;
}

static int check_ifname(struct loader *ld, yaml_node_t *n, const char *what, const char *s)
{
	char q[80];
	size_t len = strlen(s);

	if (len == 0 || len > CONFIG_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, "..") ||
	    strpbrk(s, "/: \t"))
		return loader_fail_at(ld, loader_node_pos(ld, n),
				      "%s: expected an interface name (1-%d bytes, no '/', ':' or "
				      "spaces), got %s",
				      what, CONFIG_IFNAME_MAX, config_quote(q, s));
	return 0;
}

/* --- tun ------------------------------------------------------------------- */

static int tun_key(struct loader *ld, struct config_tun *t, const struct loader_kv *e)
{
	const char *k = e->name;
	unsigned long long v = 0;
	int r;

	if (!strcmp(k, "enable"))
		return loader_get_bool(ld, e->val, "tun.enable", &t->enable);
	if (!strcmp(k, "device")) {
		r = loader_get_str(ld, e->val, "tun.device", &t->device);
		if (r == 0 && t->device)
			r = check_ifname(ld, e->val, "tun.device", t->device);
		return r;
	}
	if (!strcmp(k, "mtu")) {
		r = loader_get_uint(ld, e->val, "tun.mtu", CONFIG_MTU_MIN, CONFIG_MTU_MAX, &v);
		t->mtu = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "inet4-address"))
		return config_get_cidr_list(ld, e->val, AF_INET, "tun.inet4-address", &t->inet4,
					    &t->n_inet4);
	if (!strcmp(k, "inet6-address"))
		return config_get_cidr_list(ld, e->val, AF_INET6, "tun.inet6-address", &t->inet6,
					    &t->n_inet6);
	if (!strcmp(k, "auto-route")) {
		t->has_auto_route = true;
		return loader_get_bool(ld, e->val, "tun.auto-route", &t->auto_route);
	}
	if (!strcmp(k, "auto-detect-interface")) {
		t->has_auto_detect = true;
		return loader_get_bool(ld, e->val, "tun.auto-detect-interface", &t->auto_detect);
	}
	if (!strcmp(k, "strict-route")) {
		t->has_strict_route = true;
		return loader_get_bool(ld, e->val, "tun.strict-route", &t->strict_route);
	}
	if (!strcmp(k, "dns-hijack")) {
		t->has_dns_hijack = true;
		return loader_get_str_list(ld, e->val, "tun.dns-hijack", &t->dns_hijack,
					   &t->n_dns_hijack);
	}
	if (!strcmp(k, "iproute2-table-index") || !strcmp(k, "iproute2-rule-index")) {
		bool table = !strcmp(k, "iproute2-table-index");

		r = loader_get_uint(ld, e->val,
				    table ? "tun.iproute2-table-index" : "tun.iproute2-rule-index",
				    1, table ? 0xffffffffu : 32755, &v);
		*(table ? &t->table_index : &t->rule_index) = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "route-address"))
		return config_get_cidr_list(ld, e->val, 0, "tun.route-address", &t->route_address,
					    &t->n_route_address);
	if (!strcmp(k, "route-exclude-address"))
		return config_get_cidr_list(ld, e->val, 0, "tun.route-exclude-address",
					    &t->route_exclude_address, &t->n_route_exclude_address);
	if (!strcmp(k, "include-uid"))
		return get_uid_list(ld, e->val, "tun.include-uid", &t->include_uid,
				    &t->n_include_uid);
	if (!strcmp(k, "exclude-uid"))
		return get_uid_list(ld, e->val, "tun.exclude-uid", &t->exclude_uid,
				    &t->n_exclude_uid);
	return loader_other_key(ld, e, "tun", &tun_keys);
}

static int load_tun(struct loader *ld, yaml_node_t *n)
{
	struct config_tun *t = &ld->cfg->tun;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "tun", &e, &count);

	t->present = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, tun_key(ld, t, &e[i]));
	free(e);
	return r;
}

/* --- dns ------------------------------------------------------------------- */

static bool is_encrypted_dns(const char *t)
{
	static const char *const schemes[] = { "https://", "tls://", "quic://", "h3://" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncasecmp(t, schemes[i], strlen(schemes[i])))
			return true;
	return false;
}

/* mihomo's "system" server (the system's resolver): nothing to ask
 * here, the system's servers are the default when no nameserver is
 * left. */
static bool is_system_dns(const char *t)
{
	return !strcasecmp(t, "system") || !strncasecmp(t, "system://", 9);
}

/* A mihomo nameserver may end in "#PROXY" (ask through that proxy or
 * group) or "#key=value&..." (ecs, h3, skip-cert-verify...): neither is
 * done here. The entry loses it, with a warning saying so. */
static int dns_strip_fragment(struct loader *ld, struct config_str *s, const char *what)
{
	const char *hash = strchr(s->text, '#');
	char q[80];
	char *t;

	if (hash == NULL)
		return 0;
	t = loader_strndup(ld, s->text, (size_t)(hash - s->text));
	if (t == NULL)
		return loader_oom(ld);
	config_quote(q, s->text);
	s->text = t;
	return loader_warn_at(ld, s->pos,
			      strchr(hash, '=') ? "%s: %s: parameters after '#' are ignored"
						: "%s: %s: asked directly, not through the proxy "
						  "after '#'",
			      what, q);
}

/* One nameserver entry, checked by the parser the resolver uses too. */
static int check_server(struct loader *ld, const struct config_str *s, const char *what);

static int check_nameserver(struct loader *ld, const struct config_str *s)
{
	return check_server(ld, s, "dns.nameserver");
}

static int check_server(struct loader *ld, const struct config_str *s, const char *what)
{
	static const char *const reasons[] = {
		"only udp:// and tcp:// are supported",
		"port must be 1-65535",
		"expected IP, IP:port or [IPv6]:port",
	};
	char csv[256], e[256], q[80];
	const char *why;
	bool tcp;
	int r;

	if (strchr(s->text, ','))
		return loader_fail_at(ld, s->pos, "%s: one server per list entry, got %s", what,
				      config_quote(q, s->text));
	/* The parser's message quotes the entry: keep it short enough for
	 * e, and say so ourselves otherwise. */
	if (strlen(s->text) > 100)
		return loader_fail_at(ld, s->pos, "%s: %s: entry too long", what,
				      config_quote(q, s->text));
	r = nameservers_parse(s->text, csv, sizeof(csv), &tcp, e, sizeof(e));
	if (r == 0)
		return 0;
	/* "--dns-server: cannot parse '<entry>': <why>": keep the why, which
	 * is one of a few fixed texts (the entry is quoted by us). */
	why = "expected IP, IP:port, [IPv6]:port, udp://IP[:port] or tcp://IP[:port]";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		size_t el = strlen(e), rl = strlen(reasons[i]);

		if (el >= rl && !strcmp(e + el - rl, reasons[i]))
			why = reasons[i];
	}
	return loader_fail_at(ld, s->pos, "%s: %s: %s", what, config_quote(q, s->text), why);
}

/* A list of servers under another key than nameserver (fallback,
 * default-nameserver, a nameserver-policy value: a string or a list):
 * each checked, encrypted ones dropped with a warning. */
static int check_dot(struct loader *ld, const struct config_str *s);

/* (with encrypted: tls:// and https:// entries are kept, checked) */
static int dns_server_list(struct loader *ld, yaml_node_t *n, const char *what, bool encrypted,
			   struct config_str **out, size_t *count)
{
	yaml_node_item_t *items;
	size_t c, kept = 0;
	char q[80];
	int r = loader_get_list(ld, n, what, true, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = loader_alloc(ld, c * sizeof(**out));
	if (*out == NULL)
		return loader_oom(ld);
	for (size_t i = 0; r == 0 && i < c; i++) {
		yaml_node_t *it = loader_list_item(ld, n, items, i);
		struct config_str s = { .pos = loader_node_pos(ld, it) };

		r = loader_get_nonempty(ld, it, what, &s.text);
		if (r < 0)
			break;
		r = dns_strip_fragment(ld, &s, what);
		if (r < 0)
			break;
		if (is_system_dns(s.text)) {
			r = loader_warn_at(ld, s.pos,
					   "%s: %s: the system's resolver is not a server here; "
					   "entry skipped",
					   what, config_quote(q, s.text));
			continue;
		}
		if (encrypted && !strncasecmp(s.text, "tls://", 6)) {
			r = loader_recover(ld, check_dot(ld, &s));
			(*out)[kept++] = s;
			continue;
		}
		if (encrypted && !strncasecmp(s.text, "https://", 8) && s.text[8] != '\0' &&
		    s.text[8] != '/') {
			(*out)[kept++] = s;
			continue;
		}
		if (is_encrypted_dns(s.text)) {
			r = loader_warn_at(ld, s.pos, "%s: %s: %s; entry skipped", what,
					   config_quote(q, s.text),
					   encrypted ? "DNS over QUIC is not supported"
						     : "only plain servers are supported here");
			continue;
		}
		r = loader_recover(ld, check_server(ld, &s, what));
		(*out)[kept++] = s;
	}
	*count = kept;
	return r;
}

/* nameserver-policy: KEY: SERVER or KEY: [SERVERS]; keys are domain
 * patterns (comma-separated for several); geosite: and rule-set: keys
 * need data we do not load: warned about and skipped. */
static int dns_policy(struct loader *ld, struct config_dns *d, yaml_node_t *n)
{
	struct loader_kv *e = NULL;
	size_t count;
	char q[80];
	int r = loader_map_entries(ld, n, "dns.nameserver-policy", &e, &count);

	if (r == 0 && count > 0) {
		d->ns_policy = loader_alloc(ld, count * sizeof(*d->ns_policy));
		if (d->ns_policy == NULL)
			r = loader_oom(ld);
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		struct config_ns_policy *p = &d->ns_policy[d->n_ns_policy];

		bool named = strncasecmp(e[i].name, "geosite:", 8) == 0 ||
			     strncasecmp(e[i].name, "rule-set:", 9) == 0;

		if (!named && strchr(e[i].name, ':')) {
			r = loader_warn_at(
				ld, loader_node_pos(ld, e[i].key),
				"dns.nameserver-policy: %s: only domain patterns, "
				"geosite: and rule-set: keys are supported; entry skipped",
				config_quote(q, e[i].name));
			continue;
		}
		if (named && strchr(e[i].name, ':')[1] == '\0') {
			r = loader_warn_at(
				ld, loader_node_pos(ld, e[i].key),
				"dns.nameserver-policy: %s: no list named; entry skipped",
				config_quote(q, e[i].name));
			continue;
		}
		p->key.text = loader_strndup(ld, e[i].name, strlen(e[i].name));
		p->key.pos = loader_node_pos(ld, e[i].key);
		if (p->key.text == NULL) {
			r = loader_oom(ld);
			break;
		}
		r = loader_recover(ld, dns_server_list(ld, e[i].val, "dns.nameserver-policy", true,
						       &p->servers, &p->n_servers));
		if (p->n_servers > 0)
			d->n_ns_policy++;
	}
	free(e);
	return r;
}

/* fallback-filter: ipcidr, domain, geoip + geoip-code, geosite. */
static int dns_fallback_filter(struct loader *ld, struct config_dns *d, yaml_node_t *n)
{
	struct loader_kv *e = NULL;
	size_t count;
	bool geoip = false;
	int r = loader_map_entries(ld, n, "dns.fallback-filter", &e, &count);

	for (size_t i = 0; r == 0 && i < count; i++) {
		if (!strcmp(e[i].name, "ipcidr"))
			r = config_get_cidr_list(ld, e[i].val, 0, "dns.fallback-filter.ipcidr",
						 &d->fallback_ipcidr, &d->n_fallback_ipcidr);
		else if (!strcmp(e[i].name, "domain"))
			r = loader_get_str_list(ld, e[i].val, "dns.fallback-filter.domain",
						&d->fallback_domain, &d->n_fallback_domain);
		else if (!strcmp(e[i].name, "geoip"))
			r = loader_get_bool(ld, e[i].val, "dns.fallback-filter.geoip", &geoip);
		else if (!strcmp(e[i].name, "geoip-code")) {
			d->fallback_geoip_code.pos = loader_node_pos(ld, e[i].val);
			r = loader_get_nonempty(ld, e[i].val, "dns.fallback-filter.geoip-code",
						&d->fallback_geoip_code.text);
		} else if (!strcmp(e[i].name, "geosite"))
			r = loader_get_str_list(ld, e[i].val, "dns.fallback-filter.geosite",
						&d->fallback_geosite, &d->n_fallback_geosite);
		else
			r = loader_warn_ignored(ld, &e[i], "dns.fallback-filter:");
		if (r == 0 && !strcmp(e[i].name, "geoip")) {
			d->fallback_geoip = geoip;
			if (!d->fallback_geoip_code.text)
				d->fallback_geoip_code.pos = loader_node_pos(ld, e[i].val);
		}
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

/* "tls://HOST[:PORT]": a host name or IP literal ([v6] with a port),
 * the port 1-65535; no path. */
static int check_dot(struct loader *ld, const struct config_str *s)
{
	const char *h = s->text + 6, *end = h + strlen(h), *colon;
	char q[80];

	if (*h == '[') {
		const char *rb = strchr(h, ']');

		colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			goto bad;
	} else {
		colon = strchr(h, ':');
	}
	if ((colon ? colon : end) == h || strpbrk(h, "/?#@ ") != NULL)
		goto bad;
	if (colon != NULL) {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);

		if (*e != '\0' || p < 1 || p > 65535 || colon[1] == '\0')
			goto bad;
	}
	return 0;
bad:
	return loader_fail_at(ld, s->pos,
			      "dns.nameserver: %s: expected tls://HOST or tls://HOST:PORT",
			      config_quote(q, s->text));
}

/* dns.nameserver: every entry checked; tls:// ones go to the DoT list,
 * other encrypted ones are dropped with a warning. */
static int dns_nameservers(struct loader *ld, struct config_dns *d, yaml_node_t *n)
{
	size_t kept = 0, system = 0;
	char q[80];
	int r = loader_get_str_list(ld, n, "dns.nameserver", &d->nameservers, &d->n_nameservers);

	if (r == 0 && d->n_nameservers > 0) {
		d->dot = loader_alloc(ld, d->n_nameservers * sizeof(*d->dot));
		d->doh = loader_alloc(ld, d->n_nameservers * sizeof(*d->doh));
		if (d->dot == NULL || d->doh == NULL)
			return loader_oom(ld);
	}
	for (size_t j = 0; r == 0 && j < d->n_nameservers; j++) {
		r = dns_strip_fragment(ld, &d->nameservers[j], "dns.nameserver");
		if (r < 0)
			break;
		/* "system": the default the section falls back to */
		if (is_system_dns(d->nameservers[j].text)) {
			system++;
			r = loader_warn_at(ld, d->nameservers[j].pos,
					   "dns.nameserver: %s: the system's servers are asked "
					   "only when no other nameserver is given; entry skipped",
					   config_quote(q, d->nameservers[j].text));
			continue;
		}
		if (!strncasecmp(d->nameservers[j].text, "tls://", 6)) {
			r = loader_recover(ld, check_dot(ld, &d->nameservers[j]));
			d->dot[d->n_dot++] = d->nameservers[j];
			continue;
		}
		if (!strncasecmp(d->nameservers[j].text, "https://", 8)) {
			const char *h = d->nameservers[j].text + 8;

			if (*h == '\0' || *h == '/' || strpbrk(h, " \t") != NULL)
				r = loader_recover(
					ld,
					loader_fail_at(ld, d->nameservers[j].pos,
						       "dns.nameserver: %s: expected "
						       "https://HOST[:PORT]/PATH",
						       config_quote(q, d->nameservers[j].text)));
			d->doh[d->n_doh++] = d->nameservers[j];
			continue;
		}
		/* Encrypted DNS, common in Clash configs: skipped with a
		 * warning so the rest of the file works. */
		if (is_encrypted_dns(d->nameservers[j].text)) {
			r = loader_warn_at(ld, d->nameservers[j].pos,
					   "dns.nameserver: %s: DNS over QUIC is not supported; "
					   "entry skipped",
					   config_quote(q, d->nameservers[j].text));
			continue;
		}
		r = loader_recover(ld, check_nameserver(ld, &d->nameservers[j]));
		d->nameservers[kept++] = d->nameservers[j];
	}
	if (r == 0 && kept == 0 && d->n_dot == 0 && d->n_doh == 0 && d->n_nameservers > system)
		r = loader_fail_at(ld, loader_node_pos(ld, n),
				   "dns.nameserver: no usable server (udp://, tcp://, tls:// or "
				   "https:// needed)");
	d->n_nameservers = kept;
	return r;
}

static int dns_key(struct loader *ld, struct config_dns *d, const struct loader_kv *e)
{
	static const char *const modes[] = { "redir-host", "fake-ip", "normal" };
	const char *k = e->name;
	unsigned long long v = 0;
	int mode = 0, r;

	if (!strcmp(k, "enable"))
		return loader_get_bool(ld, e->val, "dns.enable", &d->enable);
	if (!strcmp(k, "enhanced-mode")) {
		r = loader_get_enum(ld, e->val, "dns.enhanced-mode", modes, 3,
				    "fake-ip, redir-host or normal", &mode);
		d->mode = (enum config_dns_mode)mode;
		return r;
	}
	if (!strcmp(k, "nameserver"))
		return dns_nameservers(ld, d, e->val);
	if (!strcmp(k, "fake-ip-range")) {
		d->has_fake_ip_range = !loader_is_null(e->val);
		return d->has_fake_ip_range ? get_cidr(ld, e->val, AF_INET, "dns.fake-ip-range",
						       &d->fake_ip_range)
					    : 0;
	}
	if (!strcmp(k, "fake-ip-range6")) {
		d->has_fake_ip_range6 = !loader_is_null(e->val);
		return d->has_fake_ip_range6 ? get_cidr(ld, e->val, AF_INET6, "dns.fake-ip-range6",
							&d->fake_ip_range6)
					     : 0;
	}
	if (!strcmp(k, "fake-ip-filter")) {
		r = loader_get_str_list(ld, e->val, "dns.fake-ip-filter", &d->fake_ip_filter,
					&d->n_fake_ip_filter);
		return r < 0 ? r : config_rules_fake_filter(ld, d);
	}
	if (!strcmp(k, "nameserver-policy"))
		return dns_policy(ld, d, e->val);
	if (!strcmp(k, "fallback"))
		return dns_server_list(ld, e->val, "dns.fallback", false, &d->fallback,
				       &d->n_fallback);
	if (!strcmp(k, "fallback-filter"))
		return dns_fallback_filter(ld, d, e->val);
	if (!strcmp(k, "default-nameserver"))
		return dns_server_list(ld, e->val, "dns.default-nameserver", false,
				       &d->default_nameserver, &d->n_default_nameserver);
	if (!strcmp(k, "proxy-server-nameserver"))
		return dns_server_list(ld, e->val, "dns.proxy-server-nameserver", false,
				       &d->proxy_server_nameserver, &d->n_proxy_server_nameserver);
	if (!strcmp(k, "ca")) {
		r = loader_get_str(ld, e->val, "dns.ca", &d->ca);
		if (r == 0 && d->ca)
			r = loader_resolve_path(ld, d->ca, &d->ca);
		return r;
	}
	if (!strcmp(k, "use-hosts"))
		return loader_get_bool(ld, e->val, "dns.use-hosts", &d->use_hosts);
	if (!strcmp(k, "use-system-hosts"))
		return loader_get_bool(ld, e->val, "dns.use-system-hosts", &d->use_system_hosts);
	if (!strcmp(k, "fake-ip-filter-mode")) {
		static const char *const fmodes[] = { "blacklist", "whitelist" };

		r = loader_get_enum(ld, e->val, "dns.fake-ip-filter-mode", fmodes, 2,
				    "blacklist or whitelist", &mode);
		d->fake_ip_filter_whitelist = mode == 1;
		return r;
	}
	if (!strcmp(k, "fake-ip-ttl")) {
		r = loader_get_uint(ld, e->val, "dns.fake-ip-ttl", 1, 86400, &v);
		d->fake_ip_ttl = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "fake-ip-min-age")) {
		r = loader_get_uint(ld, e->val, "dns.fake-ip-min-age", 0, 86400, &v);
		d->has_fake_ip_min_age = r == 0;
		d->fake_ip_min_age = (unsigned)v;
		return r;
	}
	return loader_warn_ignored(ld, e, "dns:");
}

static int load_dns(struct loader *ld, yaml_node_t *n)
{
	struct config_dns *d = &ld->cfg->dns;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "dns", &e, &count);

	d->present = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, dns_key(ld, d, &e[i]));
	free(e);
	return r;
}

/* --- hosts ----------------------------------------------------------------- */

/* One hosts: entry: NAME: IP or NAME: [IP, ...]. mihomo also takes a
 * domain as the value (an alias): warned about and skipped. */
static int host_entry(struct loader *ld, const struct loader_kv *e, struct config_host *h)
{
	yaml_node_item_t *items;
	size_t count, kept = 0;
	char q[80];
	int r = loader_get_list(ld, e->val, "hosts", true, &items, &count);

	if (r < 0)
		return r;
	h->name = loader_strndup(ld, e->name, strlen(e->name));
	h->pos = loader_node_pos(ld, e->key);
	h->addrs = loader_alloc(ld, (count + 1) * sizeof(*h->addrs));
	if (h->name == NULL || h->addrs == NULL)
		return loader_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		yaml_node_t *it = loader_list_item(ld, e->val, items, i);
		uint8_t b[16];
		const char *t;

		r = loader_get_scalar(ld, it, "hosts", &t);
		if (r < 0)
			break;
		if (inet_pton(AF_INET, t, b) == 1 || inet_pton(AF_INET6, t, b) == 1) {
			h->addrs[kept].text = loader_strndup(ld, t, strlen(t));
			h->addrs[kept++].pos = loader_node_pos(ld, it);
			if (h->addrs[kept - 1].text == NULL)
				return loader_oom(ld);
		} else if (count == 1 && e->val->type == YAML_SCALAR_NODE) {
			/* one name: an alias (docs/design.md §23) */
			h->alias = loader_strndup(ld, t, strlen(t));
			if (h->alias == NULL)
				return loader_oom(ld);
		} else {
			r = loader_warn_at(
				ld, loader_node_pos(ld, it),
				"hosts: %s: a name (an alias) is the whole value, not an "
				"entry of a list; ignored",
				config_quote(q, t));
		}
	}
	h->n_addrs = kept;
	return r;
}

static int load_hosts(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "hosts", &e, &count);

	if (r == 0 && count > 0) {
		cfg->hosts = loader_alloc(ld, count * sizeof(*cfg->hosts));
		if (cfg->hosts == NULL)
			r = loader_oom(ld);
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = loader_recover(ld, host_entry(ld, &e[i], &cfg->hosts[cfg->n_hosts]));
		if (cfg->hosts[cfg->n_hosts].n_addrs > 0 || cfg->hosts[cfg->n_hosts].alias)
			cfg->n_hosts++;
	}
	free(e);
	return r;
}

/* --- profile --------------------------------------------------------------- */

/* geox-url: where missing geodata files are downloaded from (geoip,
 * mmdb, asn, geosite: http:// or https:// URLs). */
static int load_geox_url(struct loader *ld, yaml_node_t *n)
{
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "geox-url", &e, &count);

	for (size_t i = 0; r == 0 && i < count; i++) {
		const char **dst = !strcmp(e[i].name, "geoip")     ? &ld->cfg->geox.geoip
				   : !strcmp(e[i].name, "mmdb")    ? &ld->cfg->geox.mmdb
				   : !strcmp(e[i].name, "asn")     ? &ld->cfg->geox.asn
				   : !strcmp(e[i].name, "geosite") ? &ld->cfg->geox.geosite
								   : NULL;
		const char *u = NULL;
		char what[40];

		snprintf(what, sizeof(what), "geox-url.%s", e[i].name);
		if (dst == NULL) {
			r = loader_warn_ignored(ld, &e[i], "geox-url:");
		} else {
			r = loader_get_nonempty(ld, e[i].val, what, &u);
			if (r == 0 && strncasecmp(u, "http://", 7) != 0 &&
			    strncasecmp(u, "https://", 8) != 0)
				r = loader_fail_at(ld, loader_node_pos(ld, e[i].val),
						   "%s: expected an http:// or https:// URL", what);
			if (r == 0)
				*dst = u;
		}
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

/* profile: store-fake-ip (the fake pool across restarts) and
 * store-selected (the control API keeps group selections across
 * restarts); the rest is not ours. */
static int load_profile(struct loader *ld, yaml_node_t *n)
{
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "profile", &e, &count);

	for (size_t i = 0; r == 0 && i < count; i++) {
		if (!strcmp(e[i].name, "store-fake-ip"))
			r = loader_get_bool(ld, e[i].val, "profile.store-fake-ip",
					    &ld->cfg->store_fake_ip);
		else if (!strcmp(e[i].name, "store-selected"))
			r = loader_get_bool(ld, e[i].val, "profile.store-selected",
					    &ld->cfg->store_selected);
		else
			r = loader_warn_ignored(ld, &e[i], "profile:");
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

/* --- the top level --------------------------------------------------------- */

/* The sections of the top-level mapping, loaded after its plain keys. */
struct sections {
	yaml_node_t *tun, *dns, *sniffer, *proxies, *groups, *rules, *providers, *sub_rules,
		*pproviders;
};

/* external-controller-cors: {allow-origins: [...], allow-private-network: bool} */
static int load_cors(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "external-controller-cors", &e, &count);

	for (size_t i = 0; r == 0 && i < count; i++) {
		if (!strcmp(e[i].name, "allow-origins"))
			r = loader_get_str_list(ld, e[i].val, "allow-origins", &cfg->cors_origins,
						&cfg->n_cors_origins);
		else if (!strcmp(e[i].name, "allow-private-network"))
			r = loader_get_bool(ld, e[i].val, "allow-private-network",
					    &cfg->cors_private_network);
		else
			r = loader_warn_ignored(ld, &e[i], "external-controller-cors:");
	}
	free(e);
	return r;
}

static int root_key(struct loader *ld, const struct loader_kv *e, struct sections *sec)
{
	static const char *const levels[] = { "silent", "error", "warning", "info", "debug" };
	struct config *cfg = ld->cfg;
	const char *k = e->name;
	yaml_node_t *val = e->val;
	unsigned long long v = 0;
	int lvl = 0, r = 0;
	char q[80];

	if (!strcmp(k, "log-level")) {
		r = loader_get_enum(ld, val, k, levels, 5, "silent, error, warning, info or debug",
				    &lvl);
		cfg->log_level = (enum config_log_level)lvl;
		cfg->has_log_level = true;
	} else if (!strcmp(k, "interface-name")) {
		r = loader_get_str(ld, val, k, &cfg->interface_name);
		if (r == 0 && cfg->interface_name)
			r = check_ifname(ld, val, k, cfg->interface_name);
	} else if (!strcmp(k, "routing-mark")) {
		cfg->has_routing_mark = !loader_is_null(val);
		if (cfg->has_routing_mark) {
			r = loader_get_uint(ld, val, k, 0, 0xffffffffULL, &v);
			cfg->routing_mark = (uint32_t)v;
		}
	} else if (!strcmp(k, "max-memory")) {
		/* ours: the memory budget in MiB (docs/design.md §12) */
		r = loader_get_uint(ld, val, k, 8, 1048576, &v);
		cfg->max_memory_mb = (unsigned)v;
	} else if (!strcmp(k, "max-half-open")) {
		/* ours: the half-open connection cap (docs/design.md §12) */
		r = loader_get_uint(ld, val, k, 16, 65536, &v);
		cfg->max_half_open = (unsigned)v;
	} else if (!strcmp(k, "keep-alive-idle")) {
		/* seconds, as mihomo, up to what the kernels take */
		r = loader_get_uint(ld, val, k, 0, SOCK_KEEPALIVE_MAX_S, &v);
		cfg->keepalive_idle_s = (unsigned)v;
	} else if (!strcmp(k, "keep-alive-interval")) {
		r = loader_get_uint(ld, val, k, 0, SOCK_KEEPALIVE_MAX_S, &v);
		cfg->keepalive_intvl_s = (unsigned)v;
	} else if (!strcmp(k, "disable-keep-alive")) {
		r = loader_get_bool(ld, val, k, &cfg->disable_keepalive);
	} else if (!strcmp(k, "ipv6")) {
		r = loader_get_bool(ld, val, k, &cfg->ipv6);
	} else if (!strcmp(k, "geodata-mode")) {
		r = loader_get_bool(ld, val, k, &cfg->geodata_mode);
	} else if (!strcmp(k, "geox-url")) {
		r = load_geox_url(ld, val);
	} else if (!strcmp(k, "geo-auto-update")) {
		r = loader_get_bool(ld, val, k, &cfg->geox.auto_update);
	} else if (!strcmp(k, "geo-update-interval")) {
		/* hours, as mihomo */
		r = loader_get_uint(ld, val, k, 1, 24 * 365, &v);
		cfg->geox.interval_h = (unsigned)v;
	} else if (!strcmp(k, "mode")) {
		static const char *const modes[] = { "rule", "global", "direct" };
		const char *m = NULL;

		/* mihomo takes any case ("Rule"). */
		r = loader_get_str(ld, val, k, &m);
		for (unsigned i = 0; r == 0 && m != NULL && i < 3; i++)
			if (loader_eq_nocase(m, modes[i]))
				cfg->mode = i + 1;
		if (r == 0 && m != NULL && cfg->mode == 0)
			r = loader_fail_at(ld, loader_node_pos(ld, val),
					   "mode %s: expected rule, global or direct",
					   loader_quote_node(q, val));
		cfg->mode = cfg->mode ? cfg->mode - 1 : 0;
	} else if (!strcmp(k, "external-controller")) {
		r = loader_get_str(ld, val, k, &cfg->external_controller);
	} else if (!strcmp(k, "external-controller-unix")) {
		r = loader_get_str(ld, val, k, &cfg->external_controller_unix);
		if (r == 0 && cfg->external_controller_unix)
			r = loader_resolve_path(ld, cfg->external_controller_unix,
						&cfg->external_controller_unix);
	} else if (!strcmp(k, "secret")) {
		r = loader_get_str(ld, val, k, &cfg->secret);
	} else if (!strcmp(k, "external-controller-cors")) {
		r = load_cors(ld, val);
	} else if (!strcmp(k, "external-ui")) {
		r = loader_get_str(ld, val, k, &cfg->external_ui);
		if (r == 0 && cfg->external_ui)
			r = loader_resolve_path(ld, cfg->external_ui, &cfg->external_ui);
	} else if (!strcmp(k, "profile")) {
		r = load_profile(ld, val);
	} else if (!strcmp(k, "tun")) {
		sec->tun = val;
	} else if (!strcmp(k, "dns")) {
		sec->dns = val;
	} else if (!strcmp(k, "hosts")) {
		r = load_hosts(ld, val);
	} else if (!strcmp(k, "sniffer")) {
		sec->sniffer = val;
	} else if (!strcmp(k, "proxies")) {
		sec->proxies = val;
	} else if (!strcmp(k, "proxy-groups")) {
		sec->groups = val;
	} else if (!strcmp(k, "rules")) {
		sec->rules = val;
	} else if (!strcmp(k, "rule-providers")) {
		sec->providers = val;
	} else if (!strcmp(k, "sub-rules")) {
		sec->sub_rules = val;
	} else if (!strcmp(k, "proxy-providers") && ld->depth == 0) {
		sec->pproviders = val;
	} else {
		r = loader_warn_ignored(ld, e, "");
	}
	return r;
}

/* The top-level mapping: plain keys in document order, then the sections
 * in dependency order (groups need proxies, rules need both and the rule
 * providers). An error in one section does not stop the next. */
static int load_root(struct loader *ld, yaml_node_t *root)
{
	struct sections sec = { 0 };
	struct loader_kv *e = NULL;
	size_t count;
	int r;

	if (root->type != YAML_MAPPING_NODE && !loader_is_null(root))
		return loader_fail_at(ld, loader_node_pos(ld, root),
				      "expected a mapping of keys at the top level, got %s",
				      loader_kind_name(root));
	r = loader_map_entries(ld, root, "config", &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, root_key(ld, &e[i], &sec));
	free(e);
	if (r == 0 && sec.tun)
		r = loader_recover(ld, load_tun(ld, sec.tun));
	if (r == 0 && sec.dns)
		r = loader_recover(ld, load_dns(ld, sec.dns));
	if (r == 0 && sec.sniffer)
		r = loader_recover(ld, config_sniffer_load(ld, sec.sniffer));
	if (r == 0 && sec.proxies)
		r = loader_recover(ld, config_proxies_load(ld, sec.proxies));
	ld->cfg->n_own_proxies = ld->cfg->n_proxies;
	if (r == 0 && sec.pproviders)
		r = loader_recover(ld, config_pproviders_load(ld, sec.pproviders));
	if (r == 0)
		r = loader_recover(ld, config_proxies_load_groups(ld, sec.groups));
	if (r == 0 && sec.providers)
		r = loader_recover(ld, config_rules_load_providers(ld, sec.providers));
	if (r == 0 && sec.sub_rules)
		r = loader_recover(ld, config_rules_load_sub(ld, sec.sub_rules));
	if (r == 0)
		r = loader_recover(ld, config_remote_check_proxies(ld));
	if (r == 0 && sec.rules)
		r = loader_recover(ld, config_rules_load(ld, sec.rules));
	return r;
}

static void file_err(struct conf_err_list *errs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error about the whole file (no line), outside the loader. */
static void file_err(struct conf_err_list *errs, const char *path, const char *fmt, ...)
{
	struct conf_err e;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err_set(&e, &(struct conf_pos){ path, 0, 0 }, "%s", msg);
	if (errs)
		conf_err_list_add(errs, &e);
}

static int load_buf_depth(const char *buf, size_t len, const char *name, struct config **out,
			  struct conf_err_list *errs, int depth)
{
	struct config *cfg;
	struct loader ld;
	yaml_node_t *root = NULL;
	int r;

	*out = NULL;
	if (errs)
		conf_err_list_clear(errs);
	if (!name)
		name = "<input>";
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->priv_ = calloc(1, sizeof(*cfg->priv_)))) {
		free(cfg);
		file_err(errs, name, "out of memory");
		return -ENOMEM;
	}
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->ipv6 = true;
	/* mihomo's geox-url defaults (config/config.go) */
	cfg->geox.geoip = "https://github.com/MetaCubeX/meta-rules-dat/releases/download/latest/"
			  "geoip.dat";
	cfg->geox.mmdb = "https://github.com/MetaCubeX/meta-rules-dat/releases/download/latest/"
			 "geoip.metadb";
	cfg->geox.asn = "https://github.com/MetaCubeX/meta-rules-dat/releases/download/latest/"
			"GeoLite2-ASN.mmdb";
	cfg->geox.geosite = "https://github.com/MetaCubeX/meta-rules-dat/releases/download/latest/"
			    "geosite.dat";
	cfg->geox.interval_h = 24;
	cfg->dns.mode = CONFIG_DNS_REAL_IP;
	cfg->dns.use_hosts = true;
	cfg->dns.use_system_hosts = true;
	config_sniffer_defaults(&cfg->sniffer);
	r = loader_init(&ld, cfg, name, buf, len, errs);
	ld.depth = depth;
	if (r == 0)
		r = loader_parse(&ld, &root);
	if (r == 0)
		r = root ? load_root(&ld, root) : config_proxies_load_groups(&ld, NULL);
	r = loader_done(&ld, r);
	if (r < 0) {
		/* errs keeps its own copies of the file name. */
		config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int config_load_buf(const char *buf, size_t len, const char *name, struct config **out,
		    struct conf_err_list *errs)
{
	return load_buf_depth(buf, len, name, out, errs, 0);
}

static int load_file_depth(const char *path, struct config **out, struct conf_err_list *errs,
			   int depth)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r;

	*out = NULL;
	if (errs)
		conf_err_list_clear(errs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		file_err(errs, path, "cannot open: %s", strerror(-r));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			if (cap >= CONFIG_FILE_MAX) {
				r = -EFBIG;
				file_err(errs, path, "file larger than %d MiB",
					 CONFIG_FILE_MAX >> 20);
				goto out;
			}
			nb = realloc(buf, nc);
			if (!nb) {
				r = -ENOMEM;
				file_err(errs, path, "out of memory");
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			file_err(errs, path, "cannot read: %s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = load_buf_depth(buf, len, path, out, errs, depth);
out:
	free(buf);
	close(fd);
	return r;
}

int config_load(const char *path, struct config **out, struct conf_err_list *errs)
{
	return load_file_depth(path, out, errs, 0);
}

int config_load_provider_file(const char *path, struct config **out, struct conf_err_list *errs)
{
	return load_file_depth(path, out, errs, 1);
}
