/* config_proxies: see config_proxies.h. */
#include "config/config_proxies.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_impl.h"
#include "config/name_filter.h"
#include "config/proxy_url.h"

/* Keys of proxies and groups: ours, and mihomo's that we ignore (loader.h). */
/* socks5 and http; redirect takes name, type and to. */
static const char *const proxy_net_ours[] = {
	"name",     "type", "server",           "port",      "username",
	"password", "tls",  "skip-cert-verify", "sni",       "servername",
	"ca",       "udp",  "dialer-proxy",     "pipelining"
};
static const char *const proxy_redirect_ours[] = { "name", "type", "to" };
/* Every outbound type's keys (a socks5 entry may carry a vmess key: mihomo
 * ignores it too), and ours of the other kind ("to" on a socks5 proxy). */
static const char *const proxy_mihomo[] = {
	"name",
	"type",
	"server",
	"port",
	"username",
	"password",
	"tls",
	"udp",
	"skip-cert-verify",
	"fingerprint",
	"sni",
	"servername",
	"headers",
	"ca",
	"to",
	/* BasicOption, smux */
	"tfo",
	"mptcp",
	"interface-name",
	"routing-mark",
	"ip-version",
	"dialer-proxy",
	"smux",
	"alpn",
	"alterId",
	"amnezia-wg-option",
	"auth",
	"auth-str",
	"authenticated-length",
	"ca-str",
	"certificate",
	"cipher",
	"client-fingerprint",
	"congestion-controller",
	"cwnd",
	"disable-mtu-discovery",
	"disable-sni",
	"dns",
	"down",
	"down-speed",
	"ech-opts",
	"fast-open",
	"flow",
	"global-padding",
	"grpc-opts",
	"h2-opts",
	"heartbeat-interval",
	"hop-interval",
	"host-key",
	"host-key-algorithms",
	"http-opts",
	"idle-session-check-interval",
	"idle-session-timeout",
	"initial-connection-receive-window",
	"initial-stream-receive-window",
	"ip",
	"ipv6",
	"max-connection-receive-window",
	"max-datagram-frame-size",
	"max-open-streams",
	"max-stream-receive-window",
	"max-udp-relay-packet-size",
	"min-idle-session",
	"mtu",
	"multiplexing",
	"network",
	"obfs",
	"obfs-opts",
	"obfs-param",
	"obfs-password",
	"obfs-protocol",
	"packet-addr",
	"packet-encoding",
	"peers",
	"persistent-keepalive",
	"plugin",
	"plugin-opts",
	"port-range",
	"ports",
	"private-key",
	"private-key-passphrase",
	"protocol",
	"protocol-param",
	"psk",
	"public-key",
	"pre-shared-key",
	"reserved",
	"allowed-ips",
	"reality-opts",
	"recv-window",
	"recv-window-conn",
	"reduce-rtt",
	"refresh-server-ip-interval",
	"remote-dns-resolve",
	"request-timeout",
	"ss-opts",
	"token",
	"transport",
	"udp-mtu",
	"udp-over-stream",
	"udp-over-stream-version",
	"udp-over-tcp",
	"udp-over-tcp-version",
	"udp-relay-mode",
	"up",
	"up-speed",
	"uuid",
	"version",
	"workers",
	"ws-headers",
	"ws-opts",
	"ws-path",
	"xudp",
};

static const char *const group_ours[] = {
	"filter",
	"exclude-filter",
	"name",
	"type",
	"proxies",
	"default-selected",
	"use",
	"include-all",
	"include-all-proxies",
	"include-all-providers",
	"url",
	"interval",
	"tolerance",
	"lazy",
	"timeout",
	"disable-udp",
	"strategy",
	"expected-status",
	"max-failed-times",
};
static const char *const group_mihomo[] = {
	"filter", "exclude-filter", "exclude-type", "hidden",
	"icon",   "interface-name", "routing-mark",
};

static const struct loader_keys proxy_net_keys = LOADER_KEYS(proxy_net_ours, proxy_mihomo);
static const struct loader_keys proxy_redirect_keys =
	LOADER_KEYS(proxy_redirect_ours, proxy_mihomo);

static const struct loader_keys group_keys = LOADER_KEYS(group_ours, group_mihomo);

/* --- proxies --------------------------------------------------------------- */

/* Runs proxy_url_parse() on "socks5://<text>" so host names, IP literals
 * and ports follow the same rules as --proxy URLs. text_off is where text
 * starts in the node's value, for error columns. */
static int check_authority(struct loader *ld, yaml_node_t *n, const char *what, const char *text,
			   size_t text_off, struct proxy_url *u)
{
	static const char prefix[] = "socks5://";
	char url[600], e[160], q[80];
	const char *bad = strpbrk(text, "@/?#");
	unsigned long col;
	char *end;

	if (bad)
		return loader_fail_at(
			ld, loader_scalar_pos_at(ld, n, text_off + (size_t)(bad - text)),
			"%s: invalid character '%c' in %s", what, *bad, config_quote(q, text));
	if (strlen(text) > sizeof(url) - sizeof(prefix) - 1)
		return loader_fail_at(ld, loader_node_pos(ld, n), "%s: host name too long", what);
	snprintf(url, sizeof(url), "%s%s", prefix, text);
	if (proxy_url_parse(url, u, e, sizeof(e)) == 0)
		return 0;
	/* "column N: reason", N 1-based in url. */
	col = strtoul(e + 7, &end, 10);
	if (strncmp(e, "column ", 7) || strncmp(end, ": ", 2) || col == 0)
		return loader_fail_at(ld, loader_node_pos(ld, n), "%s: %s in %s", what, e,
				      config_quote(q, text));
	col = col > sizeof(prefix) - 1 ? col - sizeof(prefix) : 0;
	return loader_fail_at(ld, loader_scalar_pos_at(ld, n, text_off + col), "%s: %s in %s", what,
			      end + 2, config_quote(q, text));
}

/* "server:" of a proxy: a host name or an IP literal without brackets. */
static int check_server(struct loader *ld, yaml_node_t *n, const char *what, const char *host)
{
	char url[320], q[80];
	struct proxy_url u;

	if (strpbrk(host, "[]"))
		return loader_fail_at(ld, loader_node_pos(ld, n),
				      "%s: write an IPv6 address without brackets, got %s", what,
				      config_quote(q, host));
	if (strlen(host) > 255)
		return loader_fail_at(ld, loader_node_pos(ld, n),
				      "%s: host name longer than 255 bytes", what);
	if (!strchr(host, ':'))
		return check_authority(ld, n, what, host, 0, &u);
	snprintf(url, sizeof(url), "socks5://[%s]", host);
	if (proxy_url_parse(url, &u, NULL, 0) == 0)
		return 0;
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: invalid IPv6 address %s", what,
			      config_quote(q, host));
}

static bool reserved_name(const char *s)
{
	return !strcmp(s, "DIRECT") || !strcmp(s, "REJECT") || !strcmp(s, "REJECT-DROP") ||
	       !strcmp(s, "PASS");
}

/* "name" of a proxy or group map: required, non-empty, not reserved. */
static int get_entry_name(struct loader *ld, yaml_node_t *item, const struct loader_kv *e,
			  size_t count, const char *what, const char **name, struct conf_pos *pos)
{
	char q[80];
	int r;

	for (size_t i = 0; i < count; i++) {
		if (strcmp(e[i].name, "name"))
			continue;
		r = loader_get_nonempty(ld, e[i].val, what, name);
		*pos = loader_node_pos(ld, e[i].val);
		if (r == 0 && reserved_name(*name))
			r = loader_fail_at(ld, *pos, "%s: the name %s is reserved", what,
					   config_quote(q, *name));
		/* A rejected name is not kept for the entry (see config_proxies_load). */
		if (r < 0)
			*name = NULL;
		return r;
	}
	return loader_fail_at(ld, loader_node_pos(ld, item), "%s: missing \"name\"", what);
}

static yaml_node_t *find_key(const struct loader_kv *e, size_t count, const char *key)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(e[i].name, key))
			return e[i].val;
	return NULL;
}

/* What a proxy's keys leave for the checks across them. */
struct proxy_keys {
	yaml_node_t *server, *to;
	const char *sni, *servername;
	struct conf_pos skip_cert_verify; /* of the key */
};

/* A boolean key only a SOCKS5 proxy uses: kept there; on an HTTP proxy a
 * true is warned about (why it does not apply) and dropped, leaving *out
 * false. */
static int socks5_bool(struct loader *ld, const struct config_proxy *p, const struct loader_kv *e,
		       const char *w, const char *what, const char *why, bool *out)
{
	bool v;
	int r = loader_get_bool(ld, e->val, w, &v);

	if (r == 0 && p->type == CONFIG_PROXY_SOCKS5)
		*out = v;
	else if (r == 0 && v)
		r = loader_warn_at(ld, loader_node_pos(ld, e->key), "%s: %s; \"%s\" ignored", what,
				   why, e->name);
	return r;
}

/* "pipelining": true, false or auto on a SOCKS5 proxy; on an HTTP one
 * (one message anyway) true is warned about, like socks5_bool's keys. */
static int pipelining_key(struct loader *ld, struct config_proxy *p, const struct loader_kv *e,
			  const char *w, const char *what)
{
	int v = 0, r = loader_get_bool_or(ld, e->val, w, "auto", &v);

	if (r == 0 && p->type == CONFIG_PROXY_SOCKS5)
		p->pipelining = v < 0 ? CONFIG_PIPELINING_AUTO
				: v   ? CONFIG_PIPELINING_ON
				      : CONFIG_PIPELINING_OFF;
	else if (r == 0 && v > 0)
		r = loader_warn_at(ld, loader_node_pos(ld, e->key),
				   "%s: HTTP CONNECT is one message; \"%s\" ignored", what,
				   e->name);
	return r;
}

/* One key of a socks5/http/redirect proxy. */
static int proxy_key(struct loader *ld, struct config_proxy *p, const struct loader_kv *e,
		     const char *what, struct proxy_keys *pk)
{
	bool net = p->type != CONFIG_PROXY_REDIRECT && p->type != CONFIG_PROXY_DIRECT &&
		   p->type != CONFIG_PROXY_DNS;
	const char *k = e->name, *ca = NULL;
	unsigned long long v = 0;
	char w[256];
	int r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "name") || !strcmp(k, "type"))
		return 0;
	if (p->type == CONFIG_PROXY_REDIRECT && !strcmp(k, "to")) {
		pk->to = e->val;
		return loader_get_nonempty(ld, e->val, w, &p->to_host);
	}
	if (!net)
		return loader_other_key(ld, e, what, &proxy_redirect_keys);
	if (!strcmp(k, "server")) {
		pk->server = e->val;
		return loader_get_nonempty(ld, e->val, w, &p->server);
	}
	if (!strcmp(k, "port")) {
		r = loader_get_uint(ld, e->val, w, 1, 65535, &v);
		p->port = (uint16_t)v;
		return r;
	}
	if (!strcmp(k, "username"))
		return loader_get_str(ld, e->val, w, &p->username);
	if (!strcmp(k, "password"))
		return loader_get_str(ld, e->val, w, &p->password);
	if (!strcmp(k, "tls"))
		return loader_get_bool(ld, e->val, w, &p->tls);
	if (!strcmp(k, "skip-cert-verify")) {
		pk->skip_cert_verify = loader_node_pos(ld, e->key);
		return loader_get_bool(ld, e->val, w, &p->skip_cert_verify);
	}
	if (!strcmp(k, "sni"))
		return loader_get_str(ld, e->val, w, &pk->sni);
	if (!strcmp(k, "servername"))
		return loader_get_str(ld, e->val, w, &pk->servername);
	if (!strcmp(k, "ca")) {
		r = loader_get_str(ld, e->val, w, &ca);
		if (r == 0 && ca && *ca)
			r = loader_resolve_path(ld, ca, &p->ca);
		return r;
	}
	if (!strcmp(k, "dialer-proxy")) {
		p->dialer_pos = loader_node_pos(ld, e->val);
		return loader_get_str(ld, e->val, w, &p->dialer_proxy);
	}
	if (!strcmp(k, "pipelining"))
		return pipelining_key(ld, p, e, w, what);
	if (!strcmp(k, "udp"))
		return socks5_bool(ld, p, e, w, what, "HTTP proxies carry no UDP", &p->udp);
	return loader_other_key(ld, e, what, &proxy_net_keys);
}

/* mihomo decodes a proxy's keys case-insensitively and reads '_' as '-'
 * (its structure decoder's key replacer), so "Skip_Cert_Verify" is
 * skip-cert-verify there: here too. Returns the known spelling k stands
 * for, or k itself when it stands for none (then reported as written). */
static const char *proxy_key_canon(const char *k, const struct loader_keys *ks, char *buf,
				   size_t cap)
{
	size_t n = strlen(k);

	if (n >= cap)
		return k;
	for (size_t i = 0; i <= n; i++)
		buf[i] = k[i] == '_' ? '-' : (char)tolower((unsigned char)k[i]);
	if (strcmp(buf, k) != 0 && (loader_in_list(buf, ks->ours, ks->n_ours) ||
				    loader_in_list(buf, ks->mihomo, ks->n_mihomo)))
		return buf;
	return k;
}

/* The keys of a socks5/http/redirect proxy after name and type: each one,
 * then -EINVAL if any was wrong. */
static int load_proxy_keys(struct loader *ld, struct config_proxy *p, const struct loader_kv *e,
			   size_t count, const char *what, struct proxy_keys *pk)
{
	const struct loader_keys *ks = p->type == CONFIG_PROXY_REDIRECT ||
						       p->type == CONFIG_PROXY_DIRECT ||
						       p->type == CONFIG_PROXY_DNS
					       ? &proxy_redirect_keys
					       : &proxy_net_keys;
	size_t before = ld->n_errors;
	char canon[64];
	int r = 0;

	for (size_t i = 0; r == 0 && i < count; i++) {
		struct loader_kv k = e[i];

		k.name = proxy_key_canon(e[i].name, ks, canon, sizeof(canon));
		r = loader_recover(ld, proxy_key(ld, p, &k, what, pk));
	}
	r = loader_errors_since(ld, before, r);
	if (r < 0)
		return r;
	if (pk->sni && pk->servername && strcmp(pk->sni, pk->servername))
		r = loader_warn_at(ld, p->pos,
				   "%s: both \"sni\" and \"servername\" given; using sni", what);
	p->sni = pk->sni && *pk->sni                 ? pk->sni
		 : pk->servername && *pk->servername ? pk->servername
						     : NULL;
	return r;
}

/* "to: host:port" of a redirect. */
static int check_redirect(struct loader *ld, struct config_proxy *p, yaml_node_t *to_node,
			  const char *what)
{
	const char *t = p->to_host;
	struct proxy_url u;
	char w[200], q[80];
	bool has_port;
	int r;

	if (!to_node)
		return loader_fail_at(ld, p->pos, "%s: redirect needs \"to: host:port\"", what);
	/* A port is required: proxy_url would default it. */
	has_port = t[0] == '[' ? strstr(t, "]:") != NULL : strchr(t, ':') != NULL;
	if (!has_port)
		return loader_fail_at(ld, loader_node_pos(ld, to_node),
				      "%s: to: expected host:port or [IPv6]:port, got %s", what,
				      config_quote(q, t));
	snprintf(w, sizeof(w), "%s: to", what);
	r = check_authority(ld, to_node, w, t, 0, &u);
	if (r < 0)
		return r;
	p->to_host = loader_strndup(ld, u.host, strlen(u.host));
	p->to_port = u.port;
	return p->to_host ? 0 : loader_oom(ld);
}

/* server, port and credentials of a socks5 or http proxy. */
static int check_net_proxy(struct loader *ld, struct config_proxy *p, yaml_node_t *server_node,
			   const char *what)
{
	char w[200];
	int r;

	if (!server_node || !p->port)
		return loader_fail_at(ld, p->pos, "%s: %s needs \"server\" and \"port\"", what,
				      p->type_name);
	snprintf(w, sizeof(w), "%s: server", what);
	r = check_server(ld, server_node, w, p->server);
	if (r < 0)
		return r;
	if (p->type == CONFIG_PROXY_SOCKS5) {
		/* RFC 1929: both present, 1-255 bytes each. */
		size_t ul = p->username ? strlen(p->username) : 0;
		size_t pl = p->password ? strlen(p->password) : 0;

		if ((ul || pl) && (!ul || !pl || ul > 255 || pl > 255))
			return loader_fail_at(ld, p->pos,
					      "%s: socks5 authentication needs a username and a "
					      "password of 1-255 bytes each",
					      what);
	}
	if (p->username && !*p->username)
		p->username = NULL;
	if (p->password && !*p->password)
		p->password = NULL;
	if (p->password && !p->username)
		return loader_fail_at(ld, p->pos, "%s: \"password\" without \"username\"", what);
	return 0;
}

/* The type of a proxy; 1 for a type we cannot speak (kept, with a
 * warning, so a rule naming it can say why it cannot be used). */
static int proxy_type(struct loader *ld, struct config_proxy *p, yaml_node_t *tn, const char *what)
{
	char q[80];
	int r = loader_get_nonempty(ld, tn, "type", &p->type_name);

	if (r < 0)
		return r;
	if (loader_eq_nocase(p->type_name, "socks5")) {
		p->type = CONFIG_PROXY_SOCKS5;
		/* mihomo's default: "udp" is false unless written (its
		 * Socks5Option), so a UDP flow skips the rule (§UDP in
		 * README's rule table). */
		p->udp = false;
	} else if (loader_eq_nocase(p->type_name, "http")) {
		p->type = CONFIG_PROXY_HTTP;
	} else if (loader_eq_nocase(p->type_name, "redirect")) {
		p->type = CONFIG_PROXY_REDIRECT;
	} else if (loader_eq_nocase(p->type_name, "direct")) {
		/* DIRECT under a name (its keys are warned about) */
		p->type = CONFIG_PROXY_DIRECT;
		p->udp = true;
	} else if (loader_eq_nocase(p->type_name, "dns")) {
		/* mihomo's outbound that answers DNS itself: DNS in the TUN
		 * is answered before the rules here; other flows sent to it
		 * are rejected (README "Every config key") */
		p->type = CONFIG_PROXY_DNS;
		p->udp = true;
	} else {
		p->type = CONFIG_PROXY_UNSUPPORTED;
		r = loader_warn_at(ld, loader_node_pos(ld, tn),
				   "%s: type %s is not supported (only socks5, http, direct, dns "
				   "and redirect); "
				   "rules using it will fail",
				   what, config_quote(q, p->type_name));
		return r < 0 ? r : 1;
	}
	return 0;
}

/* The start of a proxies[] or proxy-groups[] entry: a mapping with a
 * name and a type. what becomes `<kind> "name"` for the messages that
 * follow; *e (free it) holds the entries, *tn the type's node. 0 or
 * -EINVAL (reported). list: "proxies"; kind: "proxy". */
static int entry_head(struct loader *ld, yaml_node_t *item, size_t idx, const char *list,
		      const char *kind, struct loader_kv **e, size_t *count, const char **name,
		      struct conf_pos *pos, char *what, size_t whatlen, yaml_node_t **tn)
{
	char q[80];
	int r;

	*e = NULL;
	*count = 0;
	*tn = NULL;
	snprintf(what, whatlen, "%s[%zu]", list, idx);
	if (!loader_is_null(item) && item->type != YAML_MAPPING_NODE)
		return loader_fail_at(ld, loader_node_pos(ld, item),
				      "%s: expected a mapping, got %s", what,
				      loader_kind_name(item));
	r = loader_map_entries(ld, item, what, e, count);
	if (r < 0)
		return r;
	r = get_entry_name(ld, item, *e, *count, what, name, pos);
	if (r < 0)
		return r;
	snprintf(what, whatlen, "%s %s", kind, config_quote(q, *name));
	*tn = find_key(*e, *count, "type");
	if (!*tn)
		return loader_fail_at(ld, *pos, "%s: missing \"type\"", what);
	return 0;
}

static int load_proxy(struct loader *ld, yaml_node_t *item, size_t idx, struct config_proxy *p)
{
	struct proxy_keys pk = { 0 };
	yaml_node_t *tn;
	struct loader_kv *e = NULL;
	char what[160];
	size_t count;
	int r;

	r = entry_head(ld, item, idx, "proxies", "proxy", &e, &count, &p->name, &p->pos, what,
		       sizeof(what), &tn);
	if (r < 0)
		goto out;
	r = proxy_type(ld, p, tn, what);
	if (r != 0) {
		r = r > 0 ? 0 : r;
		goto out;
	}
	r = load_proxy_keys(ld, p, e, count, what, &pk);
	if (r < 0)
		goto out;
	if (p->type == CONFIG_PROXY_REDIRECT) {
		r = check_redirect(ld, p, pk.to, what);
		goto out;
	}
	if (p->type == CONFIG_PROXY_DIRECT || p->type == CONFIG_PROXY_DNS)
		goto out; /* its keys (interface-name, ...) were warned about */
	r = check_net_proxy(ld, p, pk.server, what);
	/* Here rather than when the router builds, so that it comes in file
	 * order with the other warnings. */
	if (r == 0 && p->tls && p->skip_cert_verify)
		r = loader_warn_at(ld, pk.skip_cert_verify,
				   "%s: skip-cert-verify is on: the TLS connection to %s is NOT "
				   "authenticated, anyone on the path can read and change it",
				   what, p->server);
out:
	free(e);
	return r;
}

int config_proxies_load(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items;
	size_t count;
	int r = loader_get_list(ld, n, "proxies", false, &items, &count);

	if (r < 0)
		ld->names_partial = true;
	if (r < 0 || count == 0)
		return r;
	cfg->proxies = loader_alloc(ld, count * sizeof(*cfg->proxies));
	if (!cfg->proxies)
		return loader_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		struct config_proxy *p = &cfg->proxies[cfg->n_proxies];

		r = load_proxy(ld, loader_node(ld, items[i]), i, p);
		/* A broken proxy keeps its name, so that rules and groups
		 * naming it are not reported as well; without one, its slot
		 * is reused. */
		if (r == 0 || p->name) {
			cfg->n_proxies++;
		} else {
			memset(p, 0, sizeof(*p));
			ld->names_partial = true;
		}
		r = loader_recover(ld, r);
	}
	return r;
}

/* --- proxy groups ---------------------------------------------------------- */

/* A group's keys: members are names here (resolve_groups() fills kind and
 * index); default-selected is kept for resolve_groups() too. */
struct group_keys {
	const char **selected;
	struct conf_pos *selected_pos;
	bool uses_providers;
};

static int group_members(struct loader *ld, struct config_group *g, yaml_node_t *n,
			 const char *what)
{
	struct config_str *m;
	size_t count;
	int r = loader_get_str_list(ld, n, what, &m, &count);

	if (r < 0 || count == 0)
		return r;
	g->members = loader_alloc(ld, count * sizeof(*g->members));
	if (!g->members)
		return loader_oom(ld);
	for (size_t j = 0; j < count; j++)
		g->members[j] = (struct config_member){ .name = m[j].text, .pos = m[j].pos };
	g->n_members = count;
	return 0;
}

static int group_expected(struct loader *ld, struct config_group *g, yaml_node_t *n,
			  const char *what)
{
	g->expected_set = true;
	return loader_get_statuses(ld, n, what, g->expected_lo, g->expected_hi, &g->n_expected);
}

static int group_key(struct loader *ld, struct config_group *g, const struct loader_kv *e,
		     const char *what, struct group_keys *gk)
{
	const char *k = e->name;
	char w[200];
	bool b;
	int r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "name") || !strcmp(k, "type"))
		return 0;
	if (!strcmp(k, "proxies"))
		return group_members(ld, g, e->val, w);
	if (!strcmp(k, "default-selected")) {
		*gk->selected_pos = loader_node_pos(ld, e->val);
		return loader_get_str(ld, e->val, w, gk->selected);
	}
	if (!strcmp(k, "url")) {
		g->url_set = true;
		return loader_get_nonempty(ld, e->val, w, &g->url);
	}
	if (!strcmp(k, "interval") || !strcmp(k, "timeout") || !strcmp(k, "tolerance")) {
		unsigned long long v;

		r = loader_get_uint(ld, e->val, w, 0, 86400000, &v);
		if (r < 0)
			return r;
		if (k[0] == 'i') {
			g->interval = v ? (unsigned)v : g->interval;
			g->interval_set = v != 0;
		} else if (k[1] == 'i') {
			g->timeout_ms = v ? (unsigned)v : g->timeout_ms;
			g->timeout_set = v != 0;
		} else {
			g->tolerance_ms = (unsigned)v;
		}
		return 0;
	}
	if (!strcmp(k, "max-failed-times")) {
		unsigned long long v = 0;

		r = loader_get_uint(ld, e->val, w, 0, 1000000, &v);
		g->max_failed_times = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "lazy")) {
		g->lazy_set = true;
		return loader_get_bool(ld, e->val, w, &g->lazy);
	}
	if (!strcmp(k, "disable-udp"))
		return loader_get_bool(ld, e->val, w, &g->disable_udp);
	if (!strcmp(k, "strategy")) {
		static const char *const st[] = { "consistent-hashing", "round-robin",
						  "sticky-sessions" };
		int v = 0;

		r = loader_get_enum(ld, e->val, w, st, 3,
				    "consistent-hashing, round-robin or sticky-sessions", &v);
		g->strategy = (enum config_lb_strategy)v;
		if (r == 0 && g->strategy == CONFIG_LB_STICKY_SESSIONS)
			r = loader_warn_at(ld, loader_node_pos(ld, e->val),
					   "%s: sticky-sessions is routed as consistent-hashing",
					   w);
		return r;
	}
	if (!strcmp(k, "use")) {
		gk->uses_providers = true;
		return loader_get_str_list(ld, e->val, w, &g->use, &g->n_use);
	}
	if (!strcmp(k, "include-all") || !strcmp(k, "include-all-proxies") ||
	    !strcmp(k, "include-all-providers")) {
		r = loader_get_bool(ld, e->val, w, &b);
		if (r < 0) /* b is unset: the error is recorded, nothing applied */
			return r;
		if (!strcmp(k, "include-all"))
			g->include_all = b;
		else if (!strcmp(k, "include-all-proxies"))
			g->include_all_proxies = b;
		else
			g->include_all_providers = b;
		gk->uses_providers |= b;
		return r;
	}
	if (!strcmp(k, "expected-status"))
		return group_expected(ld, g, e->val, w);
	if (!strcmp(k, "filter") || !strcmp(k, "exclude-filter")) {
		g->filter_pos = loader_node_pos(ld, e->val);
		return loader_get_str(ld, e->val, w, k[0] == 'f' ? &g->filter : &g->exclude_filter);
	}
	return loader_other_key(ld, e, what, &group_keys);
}

static int load_group(struct loader *ld, yaml_node_t *item, size_t idx, struct config_group *g,
		      const char **selected, struct conf_pos *selected_pos)
{
	static const char *const types[] = { "select", "url-test", "fallback", "load-balance",
					     "relay" };
	struct group_keys gk = { selected, selected_pos, false };
	yaml_node_t *tn;
	struct loader_kv *e = NULL;
	char what[160], w[200];
	size_t count, before = ld->n_errors;
	int type = 0, r;

	r = entry_head(ld, item, idx, "proxy-groups", "proxy group", &e, &count, &g->name, &g->pos,
		       what, sizeof(what), &tn);
	if (r < 0)
		goto out;
	snprintf(w, sizeof(w), "%s: type", what);
	r = loader_get_enum(ld, tn, w, types, 5,
			    "select, url-test, fallback, load-balance or relay", &type);
	if (r < 0)
		goto out;
	g->type = (enum config_group_type)type;
	g->url = CONFIG_GROUP_TEST_URL;
	g->interval = 300;
	g->timeout_ms = 5000;
	g->lazy = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, group_key(ld, g, &e[i], what, &gk));
	r = loader_errors_since(ld, before, r);
	if (r == 0 && g->n_members == 0 && !gk.uses_providers)
		r = loader_fail_at(ld, g->pos,
				   "%s: no members (expected a \"proxies\" list, \"use\" or "
				   "\"include-all\")",
				   what);
out:
	free(e);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	const struct config_name *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->pos->line != y->pos->line)
		return x->pos->line < y->pos->line ? -1 : 1;
	return x->pos->col < y->pos->col ? -1 : x->pos->col > y->pos->col;
}

/* Proxies and groups share one namespace; names are unique in it. */
static int index_names(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct config_private *priv = cfg->priv_;
	/* Providers' proxies are not names: groups take them by "use". */
	size_t n = cfg->n_own_proxies + cfg->n_groups, k = 0;
	char q[80];
	int r = 0;

	if (n == 0)
		return 0;
	priv->names = loader_alloc(ld, n * sizeof(*priv->names));
	if (!priv->names)
		return loader_oom(ld);
	for (size_t i = 0; i < cfg->n_own_proxies; i++)
		priv->names[k++] = (struct config_name){ cfg->proxies[i].name, CONFIG_TARGET_PROXY,
							 i, &cfg->proxies[i].pos };
	for (size_t i = 0; i < cfg->n_groups; i++)
		priv->names[k++] = (struct config_name){ cfg->groups[i].name, CONFIG_TARGET_GROUP,
							 i, &cfg->groups[i].pos };
	qsort(priv->names, n, sizeof(*priv->names), name_cmp);
	priv->n_names = n;
	for (size_t i = 1; r == 0 && i < n; i++) {
		if (strcmp(priv->names[i - 1].name, priv->names[i].name))
			continue;
		r = loader_recover(ld,
				   loader_fail_at(ld, *priv->names[i].pos,
						  "duplicate name %s (first defined at line %d)",
						  config_quote(q, priv->names[i].name),
						  priv->names[i - 1].pos->line));
	}
	return r;
}

/* Appends proxy i of the config unless the group has it or a filter
 * says no. */
static int add_member(struct loader *ld, struct config_group *g, size_t i,
		      const struct name_filter *inc, const struct name_filter *exc, size_t *cap)
{
	const struct config_proxy *p = &ld->cfg->proxies[i];

	if ((inc && !name_filter_match(inc, p->name)) || (exc && name_filter_match(exc, p->name)))
		return 0;
	for (size_t j = 0; j < g->n_members; j++)
		if (g->members[j].kind == CONFIG_TARGET_PROXY && g->members[j].index == i)
			return 0;
	if (g->n_members == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct config_member *m = loader_alloc(ld, nc * sizeof(*m));

		if (m == NULL)
			return loader_oom(ld);
		if (g->n_members)
			memcpy(m, g->members, g->n_members * sizeof(*m));
		g->members = m;
		*cap = nc;
	}
	g->members[g->n_members++] = (struct config_member){
		.name = p->name, .pos = g->pos, .kind = CONFIG_TARGET_PROXY, .index = i
	};
	return 0;
}

static const struct config_proxy_provider *pprovider_find(const struct config *cfg,
							  const char *name)
{
	for (size_t i = 0; i < cfg->n_proxy_providers; i++)
		if (!strcmp(cfg->proxy_providers[i].name, name))
			return &cfg->proxy_providers[i];
	return NULL;
}

/* A group without a url of its own takes the first used provider's
 * health-check url, and with enable the settings it did not set
 * (mihomo's outboundgroup parser). */
static void group_take_hc(struct config_group *g, const struct config_provider_hc *hc)
{
	g->url = hc->url;
	if (!hc->enable)
		return;
	if (!g->interval_set)
		g->interval = hc->interval ? hc->interval : 300;
	if (!g->timeout_set && hc->timeout_ms)
		g->timeout_ms = hc->timeout_ms;
	if (!g->lazy_set)
		g->lazy = hc->lazy;
	if (!g->expected_set) {
		memcpy(g->expected_lo, hc->expected_lo, sizeof(g->expected_lo));
		memcpy(g->expected_hi, hc->expected_hi, sizeof(g->expected_hi));
		g->n_expected = hc->n_expected;
	}
}

/* use, include-all*, filter, exclude-filter (config.h). */
static int fill_members(struct loader *ld, struct config_group *g)
{
	const struct config *cfg = ld->cfg;
	struct name_filter *inc = NULL, *exc = NULL;
	size_t cap = g->n_members;
	char err[300], q[80];
	bool hc_taken = false;
	int r = 0;

	if (!g->include_all && !g->include_all_proxies && !g->include_all_providers &&
	    g->n_use == 0)
		return 0;
	if (g->filter && name_filter_compile(g->filter, &inc, err, sizeof(err)) < 0)
		return loader_fail_at(ld, g->filter_pos, "proxy group %s: filter: %s",
				      config_quote(q, g->name), err);
	if (g->exclude_filter &&
	    name_filter_compile(g->exclude_filter, &exc, err, sizeof(err)) < 0) {
		name_filter_free(inc);
		return loader_fail_at(ld, g->filter_pos, "proxy group %s: exclude-filter: %s",
				      config_quote(q, g->name), err);
	}
	if (g->include_all || g->include_all_proxies)
		for (size_t i = 0; r == 0 && i < cfg->n_own_proxies; i++)
			if (cfg->proxies[i].type != CONFIG_PROXY_UNSUPPORTED)
				r = add_member(ld, g, i, inc, exc, &cap);
	if (g->include_all || g->include_all_providers) {
		/* mihomo: "use" becomes every provider */
		for (size_t k = 0; r == 0 && k < cfg->n_proxy_providers; k++) {
			const struct config_proxy_provider *pp = &cfg->proxy_providers[k];

			for (size_t i = 0; r == 0 && i < pp->n; i++)
				r = add_member(ld, g, pp->first + i, inc, exc, &cap);
			if (r == 0 && !hc_taken && pp->hc.url && !g->url_set) {
				group_take_hc(g, &pp->hc);
				hc_taken = true;
			}
		}
	}
	for (size_t u = 0; r == 0 && u < g->n_use; u++) {
		const struct config_proxy_provider *pp = pprovider_find(cfg, g->use[u].text);

		if (pp == NULL) {
			r = loader_fail_at(
				ld, g->use[u].pos, "proxy group %s: unknown proxy provider %s",
				config_quote(q, g->name), config_quote(err, g->use[u].text));
			break;
		}
		for (size_t i = 0; r == 0 && i < pp->n; i++)
			r = add_member(ld, g, pp->first + i, inc, exc, &cap);
		if (r == 0 && !hc_taken && pp->hc.url && !g->url_set) {
			group_take_hc(g, &pp->hc);
			hc_taken = true;
		}
	}
	name_filter_free(inc);
	name_filter_free(exc);
	return r;
}

/* Group i's members -> kinds and indexes, and the selected member. */
static int resolve_members(struct loader *ld, size_t i, const char *selected,
			   const struct conf_pos *selected_pos)
{
	struct config_group *g = &ld->cfg->groups[i];
	char q[80], q2[80], q3[80];
	size_t j;
	int r = 0;

	for (j = 0; r == 0 && j < g->n_members; j++) {
		struct config_member *m = &g->members[j];
		const struct config_name *ne;

		if (!strcmp(m->name, "DIRECT")) {
			m->kind = CONFIG_TARGET_DIRECT;
		} else if (!strcmp(m->name, "REJECT")) {
			m->kind = CONFIG_TARGET_REJECT;
		} else if (!strcmp(m->name, "REJECT-DROP")) {
			m->kind = CONFIG_TARGET_REJECT_DROP;
		} else if (!strcmp(m->name, "PASS")) {
			m->kind = CONFIG_TARGET_PASS;
		} else if ((ne = config_find_name(ld->cfg->priv_, m->name))) {
			m->kind = ne->kind;
			m->index = ne->index;
		} else if (!ld->names_partial) {
			r = loader_recover(
				ld, loader_fail_at(
					    ld, m->pos,
					    "proxy group %s: unknown member %s (expected a proxy, "
					    "a proxy group, DIRECT, REJECT or REJECT-DROP)",
					    config_quote(q, g->name), config_quote(q2, m->name)));
		}
	}
	if (r == 0)
		r = fill_members(ld, g);
	g->selected = 0;
	/* A group kept for its name after an error may have no members. */
	if (r < 0 || !selected || g->n_members == 0)
		return r;
	for (j = 0; j < g->n_members; j++)
		if (!strcmp(g->members[j].name, selected))
			break;
	if (j < g->n_members) {
		g->selected = j;
		return 0;
	}
	return loader_warn_at(ld, *selected_pos,
			      "proxy group %s: default-selected %s is not a member; using %s",
			      config_quote(q, g->name), config_quote(q2, selected),
			      config_quote(q3, g->members[0].name));
}

/* A group that reaches itself: the first cycle found is an error. Iterative
 * DFS (white 0, on stack 1, done 2). */
static int check_cycles(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t ng = cfg->n_groups, depth = 0;
	unsigned char *state = calloc(ng ? ng : 1, 1);
	struct frame {
		size_t g, next;
	} *stack = malloc((ng ? ng : 1) * sizeof(*stack));
	char q[80], path[400];
	int r = 0;

	if (!state || !stack) {
		r = loader_oom(ld);
		goto out;
	}
	for (size_t root = 0; root < ng; root++) {
		if (state[root])
			continue;
		state[root] = 1;
		stack[0] = (struct frame){ root, 0 };
		depth = 1;
		while (depth) {
			struct frame *f = &stack[depth - 1];
			const struct config_group *g = &cfg->groups[f->g];
			const struct config_member *m;
			size_t o = 0, k;

			if (f->next == g->n_members) {
				state[f->g] = 2;
				depth--;
				continue;
			}
			m = &g->members[f->next++];
			if (m->kind != CONFIG_TARGET_GROUP || state[m->index] == 2)
				continue;
			if (state[m->index] == 0) {
				state[m->index] = 1;
				stack[depth++] = (struct frame){ m->index, 0 };
				continue;
			}
			/* Back edge: the cycle is the stack from m's group up. */
			for (k = 0; stack[k].g != m->index; k++)
				;
			for (; k < depth && o < sizeof(path) - 100; k++)
				o += (size_t)snprintf(
					path + o, sizeof(path) - o, "%s -> ",
					config_quote(q, cfg->groups[stack[k].g].name));
			if (k < depth)
				o += (size_t)snprintf(path + o, sizeof(path) - o, "... -> ");
			snprintf(path + o, sizeof(path) - o, "%s", config_quote(q, m->name));
			r = loader_fail_at(ld, m->pos, "proxy group cycle: %s", path);
			goto out;
		}
	}
out:
	free(state);
	free(stack);
	return r;
}

/* Group types we do not implement: where their traffic goes instead. */
static int warn_strategies(struct loader *ld)
{
	char q[80];
	int r = 0;

	for (size_t i = 0; r == 0 && i < ld->cfg->n_groups; i++) {
		const struct config_group *g = &ld->cfg->groups[i];

		if (g->n_members == 0) {
			/* Only fillers, nothing passed: mihomo's COMPATIBLE. */
			if (g->n_use || g->include_all || g->include_all_proxies ||
			    g->include_all_providers)
				r = loader_warn_at(ld, g->pos,
						   "proxy group %s: no members (its providers and "
						   "filters left none); it routes DIRECT",
						   config_quote(q, g->name));
			continue;
		}
		bool usable = false, all_usable = true;

		for (size_t j = 0; j < g->n_members; j++) {
			bool ok = g->members[j].kind != CONFIG_TARGET_PROXY ||
				  ld->cfg->proxies[g->members[j].index].type !=
					  CONFIG_PROXY_UNSUPPORTED;

			usable |= ok;
			all_usable &= ok;
		}
		if (!usable)
			r = loader_warn_at(ld, g->pos,
					   "proxy group %s: no member tun2socks can use (all of "
					   "types it does not speak); it routes DIRECT",
					   config_quote(q, g->name));
		else if (g->type == CONFIG_GROUP_RELAY && !all_usable)
			r = loader_warn_at(
				ld, g->pos,
				"proxy group %s (relay): a member of a type tun2socks "
				"does not speak breaks the chain; its flows are rejected",
				config_quote(q, g->name));
	}
	return r;
}

/* Group members -> kinds and indexes; no cycles; the selected member. */
static int resolve_groups(struct loader *ld, const char **selected,
			  const struct conf_pos *selected_pos)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ld->cfg->n_groups; i++)
		r = loader_recover(ld, resolve_members(ld, i, selected[i], &selected_pos[i]));
	if (r == 0)
		r = check_cycles(ld);
	if (r == 0)
		r = warn_strategies(ld);
	return r;
}

/* dialer-proxy names a proxy or group of the config; mihomo looks it up
 * when it dials, so an unknown one fails only that proxy's connections:
 * a warning here, and the router rejects them (docs/design.md §18). */
static int check_dialers(struct loader *ld)
{
	const struct config *cfg = ld->cfg;
	struct config_target t;
	char q[80], q2[80];
	int r = 0;

	for (size_t i = 0; r == 0 && i < cfg->n_proxies; i++) {
		const struct config_proxy *p = &cfg->proxies[i];

		if (p->dialer_proxy == NULL || ld->names_partial ||
		    config_resolve_target(cfg, p->dialer_proxy, &t, NULL, 0) != -ENOENT)
			continue;
		r = loader_warn_at(ld, p->dialer_pos,
				   "proxy %s: dialer-proxy: unknown proxy or proxy group %s; its "
				   "connections are rejected (mihomo's fail when it dials)",
				   config_quote(q, p->name), config_quote(q2, p->dialer_proxy));
	}
	return r;
}

int config_proxies_load_groups(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items = NULL;
	const char **selected = NULL;
	struct conf_pos *selected_pos = NULL;
	size_t count = 0;
	int r = 0;

	/* Names are indexed even when the list is broken: rules need them. */
	if (n)
		r = loader_get_list(ld, n, "proxy-groups", false, &items, &count);
	if (r < 0)
		ld->names_partial = true;
	r = loader_recover(ld, r);
	if (r == 0 && count) {
		cfg->groups = loader_alloc(ld, count * sizeof(*cfg->groups));
		selected = calloc(count, sizeof(*selected));
		selected_pos = calloc(count, sizeof(*selected_pos));
		if (!cfg->groups || !selected || !selected_pos)
			r = loader_oom(ld);
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		size_t k = cfg->n_groups;
		struct config_group *g = &cfg->groups[k];

		r = load_group(ld, loader_node(ld, items[i]), i, g, &selected[k], &selected_pos[k]);
		/* As for proxies: a broken group keeps its name if it has one. */
		if (r == 0 || g->name) {
			cfg->n_groups++;
		} else {
			memset(g, 0, sizeof(*g));
			selected[k] = NULL;
			ld->names_partial = true;
		}
		r = loader_recover(ld, r);
	}
	if (r == 0)
		r = index_names(ld);
	if (r == 0)
		r = resolve_groups(ld, selected, selected_pos);
	if (r == 0)
		r = check_dialers(ld);
	free(selected);
	free(selected_pos);
	return r;
}
