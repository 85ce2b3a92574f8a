/* options: defaults, a config file applied onto the command line, and what
 * a reload changes (see options.h). */
#include "tun2socks/app/options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "resolver/domain_match.h"

static int options_err(char *err, size_t errlen, const char *opt, const char *what, const char *got)
{
	snprintf(err, errlen, "%s: %s, got '%s'", opt, what, got);
	return -EINVAL;
}

void options_defaults(struct options *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tun.fd = -1;
	cfg->tun.framing = -1;
	cfg->tun.mtu = 8500;
	cfg->tun.has_addr4 = true;
	memcpy(cfg->tun.addr4, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	cfg->tun.prefix4 = 15;
	cfg->tun.has_addr6 = true;
	memcpy(cfg->tun.addr6,
	       (uint8_t[]){ 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 16);
	cfg->tun.prefix6 = 126;
	cfg->connect_timeout_s = 10;
	/* RFC 5382 REQ-5: an established TCP mapping lives >= 2 h 4 min. */
	cfg->idle_timeout_s = 7440;
	cfg->udp_timeout_s = 60;
	cfg->log_level = LOG_INFO;
	cfg->check_proxy = true;
	cfg->ready_fd = -1;
	cfg->proc_diag_fd = -1;
	for (unsigned i = 0; i < 8; i++)
		cfg->host_port_fds[i] = -1;
	cfg->dns.mode = DNS_MODE_FAKE_IP;
	cfg->dns.has4 = true;
	memcpy(cfg->dns.net4, (uint8_t[]){ 198, 18, 0, 0 }, 4);
	cfg->dns.prefix4 = 15;
	cfg->dns.has6 = true;
	memcpy(cfg->dns.net6,
	       (uint8_t[]){ 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, 16);
	cfg->dns.prefix6 = 64;
	cfg->dns.fake_min_age = 60;
	cfg->route.dns_hijack = -1;
	cfg->route.table = 2022;
	cfg->route.rule_index = 9000;
}

void options_finish(struct options *cfg)
{
	if (cfg->route.auto_route && !cfg->sock.has_fwmark && sock_platform_has_fwmark()) {
		cfg->sock.has_fwmark = true;
		cfg->sock.fwmark = OPTIONS_AUTO_FWMARK;
		cfg->route.auto_mark = true;
	}
	/* Where there are no marks (macOS), our own sockets are bound to
	 * the uplink instead (IP_BOUND_IF): found and followed, unless
	 * --bind-interface names it. */
	if (cfg->route.auto_route && !sock_platform_has_fwmark() && !cfg->sock.bind_iface[0])
		cfg->route.auto_detect = true;
}

bool options_dns_hijack(const struct options *cfg)
{
	return cfg->route.dns_hijack < 0 ? cfg->route.auto_route : cfg->route.dns_hijack > 0;
}

/* CIDRs of a tun key as one comma-separated list into buf. */
static int options_join_cidrs(const struct config_cidr *c, size_t n, char *buf, size_t cap,
			      const char *file, const char *key, char *err, size_t errlen)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", c[i].text);

		if (k < 0 || (size_t)k >= cap - off) {
			snprintf(err, errlen, "%s: tun.%s: list too long (%zu bytes at most)", file,
				 key, cap - 1);
			return -EINVAL;
		}
		off += (size_t)k;
	}
	return 0;
}

static int options_join_uids(const uint32_t *u, size_t n, char *buf, size_t cap, const char *file,
			     const char *key, char *err, size_t errlen)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf + off, cap - off, "%s%u", i ? "," : "", u[i]);

		if (k < 0 || (size_t)k >= cap - off) {
			snprintf(err, errlen, "%s: tun.%s: too many users", file, key);
			return -EINVAL;
		}
		off += (size_t)k;
	}
	return 0;
}

/* The tun keys of the system-wide mode, where the command line is silent. */
static int options_apply_route(struct options *cfg, const struct config *conf, char *err,
			       size_t errlen)
{
	const struct config_tun *t = &conf->tun;
	struct options_route *o = &cfg->route;
	int r = 0;

	if (t->has_auto_route && !options_given(cfg, OPT_AUTO_ROUTE))
		o->auto_route = t->auto_route;
	if (t->has_strict_route && !options_given(cfg, OPT_STRICT_ROUTE))
		o->strict_route = t->strict_route;
	if (t->has_auto_detect && !options_given(cfg, OPT_AUTO_DETECT_IFACE))
		o->auto_detect = t->auto_detect;
	/* mihomo lists what to hijack ("any:53"); we answer port 53 to any
	 * address anyway, so any entry turns the rules on, none off. */
	if (t->has_dns_hijack && !options_given(cfg, OPT_DNS_HIJACK))
		o->dns_hijack = t->n_dns_hijack > 0;
	if (t->table_index && !options_given(cfg, OPT_TABLE_INDEX))
		o->table = t->table_index;
	if (t->rule_index && !options_given(cfg, OPT_RULE_INDEX))
		o->rule_index = t->rule_index;
	if (t->n_route_address && !options_given(cfg, OPT_ROUTE_ADDRESS))
		r = options_join_cidrs(t->route_address, t->n_route_address, o->address,
				       sizeof(o->address), conf->file, "route-address", err,
				       errlen);
	if (r == 0 && t->n_route_exclude_address && !options_given(cfg, OPT_ROUTE_EXCLUDE))
		r = options_join_cidrs(t->route_exclude_address, t->n_route_exclude_address,
				       o->exclude, sizeof(o->exclude), conf->file,
				       "route-exclude-address", err, errlen);
	if (r == 0 && t->n_include_uid && !options_given(cfg, OPT_INCLUDE_UID))
		r = options_join_uids(t->include_uid, t->n_include_uid, o->include_uid,
				      sizeof(o->include_uid), conf->file, "include-uid", err,
				      errlen);
	if (r == 0 && t->n_exclude_uid && !options_given(cfg, OPT_EXCLUDE_UID))
		r = options_join_uids(t->exclude_uid, t->n_exclude_uid, o->exclude_uid,
				      sizeof(o->exclude_uid), conf->file, "exclude-uid", err,
				      errlen);
	return r;
}

/* Splits the comma-separated patterns into dns->filter, checking each. */
int options_add_fake_filter(const char *val, struct options_dns *dns, char *err, size_t errlen)
{
	struct domain_match *m = NULL;
	size_t used = dns->filter_used, n = 0;
	char *save = NULL, *tok;
	int r;

	while (dns->filter[n])
		n++;
	if (used + strlen(val) + 1 > sizeof(dns->filter_buf))
		return options_err(err, errlen, "--fake-ip-filter", "list too long (4 KiB at most)",
				   "...");
	r = domain_match_create(&m);
	if (r < 0)
		return r;
	memcpy(dns->filter_buf + used, val, strlen(val) + 1);
	/* Later values go after this one whole (tokens point into it). */
	dns->filter_used = used + strlen(val) + 1;
	for (tok = strtok_r(dns->filter_buf + used, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t tl;

		while (*tok == ' ')
			tok++;
		tl = strlen(tok);
		while (tl > 0 && tok[tl - 1] == ' ')
			tok[--tl] = '\0';
		if (*tok == '\0')
			continue;
		if (n + 1 >= sizeof(dns->filter) / sizeof(dns->filter[0])) {
			r = options_err(err, errlen, "--fake-ip-filter", "at most 256 patterns",
					tok);
			break;
		}
		if (domain_match_add(m, tok) < 0) {
			r = options_err(err, errlen, "--fake-ip-filter",
					"expected patterns like example.com, *.example.com, "
					".example.com or +.example.com",
					tok);
			break;
		}
		dns->filter[n++] = tok;
		dns->filter[n] = NULL;
	}
	domain_match_destroy(m);
	return r;
}

bool options_given(const struct options *cfg, enum options_flag opt)
{
	return (cfg->given >> opt) & 1;
}

int options_apply_config(struct options *cfg, const struct config *conf, char *err, size_t errlen)
{
	const struct config_dns *dns = &conf->dns;
	int r;

	if (conf->tun.device && !options_given(cfg, OPT_TUN) && cfg->tun.fd < 0) {
		snprintf(cfg->tun_name, sizeof(cfg->tun_name), "%s", conf->tun.device);
		cfg->tun.name = cfg->tun_name;
	}
	if (conf->tun.mtu && !options_given(cfg, OPT_MTU))
		cfg->tun.mtu = conf->tun.mtu;
	if (conf->tun.n_inet4 > 0 && !options_given(cfg, OPT_TUN_ADDR)) {
		memcpy(cfg->tun.addr4, conf->tun.inet4[0].addr, 4);
		cfg->tun.prefix4 = (uint8_t)conf->tun.inet4[0].prefix;
		cfg->tun.has_addr4 = true;
	}
	if (conf->tun.n_inet6 > 0 && !options_given(cfg, OPT_TUN_ADDR6)) {
		memcpy(cfg->tun.addr6, conf->tun.inet6[0].addr, 16);
		cfg->tun.prefix6 = (uint8_t)conf->tun.inet6[0].prefix;
		cfg->tun.has_addr6 = true;
	}
	if (conf->interface_name && !options_given(cfg, OPT_BIND_IFACE))
		snprintf(cfg->sock.bind_iface, sizeof(cfg->sock.bind_iface), "%s",
			 conf->interface_name);
	if (conf->max_memory_mb && !options_given(cfg, OPT_MAX_MEMORY))
		cfg->max_memory_mb = conf->max_memory_mb;
	if (conf->max_half_open && !options_given(cfg, OPT_MAX_HALF_OPEN))
		cfg->max_half_open = conf->max_half_open;
	if (conf->has_routing_mark && !options_given(cfg, OPT_FWMARK) && conf->routing_mark) {
		cfg->sock.has_fwmark = true;
		cfg->sock.fwmark = conf->routing_mark;
	}
	/* config only, as in mihomo: no flag */
	cfg->sock.keepalive_off = conf->disable_keepalive;
	cfg->sock.keepalive_idle_s = conf->keepalive_idle_s;
	cfg->sock.keepalive_intvl_s = conf->keepalive_intvl_s;
	r = options_apply_route(cfg, conf, err, errlen);
	if (r < 0)
		return r;
	if (conf->has_log_level && !options_given(cfg, OPT_LOG_LEVEL)) {
		static const enum log_level map[] = {
			[CONFIG_LOG_SILENT] = LOG_ERROR, [CONFIG_LOG_ERROR] = LOG_ERROR,
			[CONFIG_LOG_WARNING] = LOG_WARN, [CONFIG_LOG_INFO] = LOG_INFO,
			[CONFIG_LOG_DEBUG] = LOG_DEBUG,
		};
		cfg->log_level = map[conf->log_level];
	}
	if (conf->store_fake_ip)
		cfg->dns.store_fake = true;
	if (!dns->present)
		return 0;
	if (!options_given(cfg, OPT_DNS))
		cfg->dns.mode = !dns->enable                      ? DNS_MODE_OFF
				: dns->mode == CONFIG_DNS_FAKE_IP ? DNS_MODE_FAKE_IP
								  : DNS_MODE_REAL_IP;
	if (dns->n_nameservers > 0 && !options_given(cfg, OPT_DNS_SERVER)) {
		size_t off = 0;

		for (size_t i = 0; i < dns->n_nameservers; i++) {
			int n = snprintf(cfg->dns.servers_buf + off,
					 sizeof(cfg->dns.servers_buf) - off, "%s%s", i ? "," : "",
					 dns->nameservers[i].text);

			if (n < 0 || (size_t)n >= sizeof(cfg->dns.servers_buf) - off) {
				snprintf(err, errlen,
					 "%s: dns.nameserver: list too long (1 KiB at most)",
					 conf->file);
				return -EINVAL;
			}
			off += (size_t)n;
		}
		cfg->dns.servers = cfg->dns.servers_buf;
	}
	/* DNS over TLS servers; with no plain server, c-ares (DIRECT names,
	 * IP rules) asks default-nameserver, else the system's. */
	if (!options_given(cfg, OPT_DNS_SERVER)) {
		size_t off = 0;

		cfg->dns.dot[0] = '\0';
		for (size_t i = 0; i < dns->n_dot; i++) {
			int n = snprintf(cfg->dns.dot + off, sizeof(cfg->dns.dot) - off, "%s%s",
					 i ? "," : "", dns->dot[i].text + 6);

			if (n < 0 || (size_t)n >= sizeof(cfg->dns.dot) - off) {
				snprintf(err, errlen, "%s: dns.nameserver: too many tls:// servers",
					 conf->file);
				return -EINVAL;
			}
			off += (size_t)n;
		}
		snprintf(cfg->dns.dot_ca, sizeof(cfg->dns.dot_ca), "%s", dns->ca ? dns->ca : "");
		cfg->dns.doh[0] = '\0';
		off = 0;
		for (size_t i = 0; i < dns->n_doh; i++) {
			int n = snprintf(cfg->dns.doh + off, sizeof(cfg->dns.doh) - off, "%s%s",
					 i ? " " : "", dns->doh[i].text);

			if (n < 0 || (size_t)n >= sizeof(cfg->dns.doh) - off) {
				snprintf(err, errlen,
					 "%s: dns.nameserver: too many https:// servers",
					 conf->file);
				return -EINVAL;
			}
			off += (size_t)n;
		}
		/* the encrypted servers' own names go to default-nameserver (§24) */
		cfg->dns.default_ns[0] = '\0';
		off = 0;
		for (size_t i = 0; i < dns->n_default_nameserver; i++) {
			int n = snprintf(cfg->dns.default_ns + off,
					 sizeof(cfg->dns.default_ns) - off, "%s%s", i ? "," : "",
					 dns->default_nameserver[i].text);

			if (n < 0 || (size_t)n >= sizeof(cfg->dns.default_ns) - off) {
				snprintf(err, errlen, "%s: dns.default-nameserver: list too long",
					 conf->file);
				return -EINVAL;
			}
			off += (size_t)n;
		}
		if (dns->n_nameservers == 0 && dns->n_default_nameserver > 0) { /* encrypted only */
			off = 0;
			for (size_t i = 0; i < dns->n_default_nameserver; i++) {
				int n = snprintf(cfg->dns.servers_buf + off,
						 sizeof(cfg->dns.servers_buf) - off, "%s%s",
						 i ? "," : "", dns->default_nameserver[i].text);

				if (n < 0 || (size_t)n >= sizeof(cfg->dns.servers_buf) - off) {
					snprintf(err, errlen,
						 "%s: dns.default-nameserver: list too long",
						 conf->file);
					return -EINVAL;
				}
				off += (size_t)n;
			}
			cfg->dns.servers = cfg->dns.servers_buf;
		}
	}
	if (!options_given(cfg, OPT_FAKE_IP_RANGE)) {
		if (dns->has_fake_ip_range) {
			/* mihomo writes the range with its first address
			 * ("198.18.0.1/16"): the host bits do not matter. */
			memcpy(cfg->dns.net4, dns->fake_ip_range.addr, 4);
			cfg->dns.prefix4 = (uint8_t)dns->fake_ip_range.prefix;
			cfg->dns.has4 = true;
		}
		if (dns->has_fake_ip_range6) {
			memcpy(cfg->dns.net6, dns->fake_ip_range6.addr, 16);
			cfg->dns.prefix6 = (uint8_t)dns->fake_ip_range6.prefix;
			cfg->dns.has6 = true;
		}
	}
	cfg->dns.filter_whitelist = dns->fake_ip_filter_whitelist;
	if (dns->has_fake_ip_min_age && !options_given(cfg, OPT_FAKE_IP_MIN_AGE))
		cfg->dns.fake_min_age = dns->fake_ip_min_age;
	for (size_t i = 0; i < dns->n_fake_ip_filter; i++) {
		const char *t = dns->fake_ip_filter[i].text;

		/* Rule sets and geosite lists are the router generation's
		 * (router_gen_fake_filter), asked by the interceptor. */
		if (!strncasecmp(t, "rule-set:", 9) || !strncasecmp(t, "geosite:", 8))
			continue;
		r = options_add_fake_filter(t, &cfg->dns, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* p points into the buffer [base, base + n): the same offset in dst's. */
static const char *rebase(const char *p, const char *base, size_t n, const char *dst_base)
{
	if (p >= base && p < base + n)
		return dst_base + (p - base);
	return p;
}

void options_copy(struct options *dst, const struct options *src)
{
	*dst = *src;
	dst->tun.name = rebase(src->tun.name, src->tun_name, sizeof(src->tun_name), dst->tun_name);
	dst->dns.servers = rebase(src->dns.servers, src->dns.servers_buf,
				  sizeof(src->dns.servers_buf), dst->dns.servers_buf);
	for (size_t i = 0; src->dns.filter[i]; i++)
		dst->dns.filter[i] = rebase(src->dns.filter[i], src->dns.filter_buf,
					    sizeof(src->dns.filter_buf), dst->dns.filter_buf);
}

/* Appends name to why ("a, b"). */
static void options_note(char *why, size_t whylen, const char *name)
{
	size_t n = strlen(why);

	if (n < whylen)
		snprintf(why + n, whylen - n, "%s%s", n ? ", " : "", name);
}

unsigned options_reload_diff(const struct options *running, const struct options *next, char *why,
			     size_t whylen)
{
	const struct options_dns *a = &running->dns, *b = &next->dns;
	unsigned mask = 0;

	if (whylen)
		why[0] = '\0';
	if (running->log_level != next->log_level)
		mask |= OPTIONS_LOG_LEVEL;
	/* Under auto-route the mark stays (its rules name it): noted below. */
	if (strcmp(running->sock.bind_iface, next->sock.bind_iface) != 0 ||
	    (!running->route.auto_route &&
	     (running->sock.has_fwmark != next->sock.has_fwmark ||
	      (next->sock.has_fwmark && running->sock.fwmark != next->sock.fwmark))) ||
	    running->sock.keepalive_off != next->sock.keepalive_off ||
	    running->sock.keepalive_idle_s != next->sock.keepalive_idle_s ||
	    running->sock.keepalive_intvl_s != next->sock.keepalive_intvl_s)
		mask |= OPTIONS_SOCK;
	if (strcmp(running->tun_name, next->tun_name) != 0)
		options_note(why, whylen, "tun.device");
	if (running->tun.mtu != next->tun.mtu)
		options_note(why, whylen, "tun.mtu");
	if (running->tun.has_addr4 != next->tun.has_addr4 ||
	    memcmp(running->tun.addr4, next->tun.addr4, 4) ||
	    running->tun.prefix4 != next->tun.prefix4)
		options_note(why, whylen, "tun.inet4-address");
	if (running->tun.has_addr6 != next->tun.has_addr6 ||
	    memcmp(running->tun.addr6, next->tun.addr6, 16) ||
	    running->tun.prefix6 != next->tun.prefix6)
		options_note(why, whylen, "tun.inet6-address");
	if (a->mode != b->mode)
		options_note(why, whylen, "dns.enable/enhanced-mode");
	/* Nameservers apply at a reload (docs/design.md §24), except the
	 * one DNS via the proxy talks to. */
	if ((a->servers == NULL) != (b->servers == NULL) ||
	    (a->servers && strcmp(a->servers, b->servers) != 0) || strcmp(a->dot, b->dot) != 0 ||
	    strcmp(a->dot_ca, b->dot_ca) != 0 || strcmp(a->doh, b->doh) != 0 ||
	    strcmp(a->default_ns, b->default_ns) != 0) {
		if (a->via_proxy)
			options_note(why, whylen, "dns.nameserver (DNS via the proxy)");
		else
			mask |= OPTIONS_DNS;
	}
	if (a->has4 != b->has4 || memcmp(a->net4, b->net4, 4) || a->prefix4 != b->prefix4 ||
	    a->has6 != b->has6 || memcmp(a->net6, b->net6, 16) || a->prefix6 != b->prefix6)
		options_note(why, whylen, "dns.fake-ip-range");
	if (running->max_memory_mb != next->max_memory_mb)
		options_note(why, whylen, "max-memory");
	if (running->max_half_open != next->max_half_open)
		options_note(why, whylen, "max-half-open");
	if (a->fake_min_age != b->fake_min_age)
		options_note(why, whylen, "dns.fake-ip-min-age");
	if (a->filter_whitelist != b->filter_whitelist)
		options_note(why, whylen, "dns.fake-ip-filter-mode");
	if (a->store_fake != b->store_fake)
		options_note(why, whylen, "profile.store-fake-ip");
	if (a->filter_used != b->filter_used ||
	    memcmp(a->filter_buf, b->filter_buf, a->filter_used) != 0)
		options_note(why, whylen, "dns.fake-ip-filter");
	{
		const struct options_route *ra = &running->route, *rb = &next->route;

		if (ra->auto_detect != rb->auto_detect)
			options_note(why, whylen, "tun.auto-detect-interface");
		if (ra->auto_route != rb->auto_route || ra->strict_route != rb->strict_route ||
		    options_dns_hijack(running) != options_dns_hijack(next) ||
		    ra->table != rb->table || ra->rule_index != rb->rule_index ||
		    strcmp(ra->address, rb->address) || strcmp(ra->exclude, rb->exclude) ||
		    strcmp(ra->include_uid, rb->include_uid) ||
		    strcmp(ra->exclude_uid, rb->exclude_uid))
			options_note(why, whylen, "tun.auto-route and its keys");
		/* auto-route's rules name the running mark: it stays. */
		if (ra->auto_route && (running->sock.has_fwmark != next->sock.has_fwmark ||
				       running->sock.fwmark != next->sock.fwmark))
			options_note(why, whylen, "routing-mark (auto-route's rules use it)");
	}
	if (whylen && why[0])
		mask |= OPTIONS_RESTART;
	return mask;
}
