/* Unit tests for the YAML config loader (config.h: config_load.c and the
 * modules it drives, config.c). */
#include "config/config.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define EXAMPLE T2S_TEST_DATA_DIR "/clash_example.yaml"

/* The first error in the file, or all zero. */
static void first_err(const struct conf_err_list *errs, struct conf_err *err)
{
	memset(err, 0, sizeof(*err));
	if (errs->n)
		*err = errs->v[0];
}

static int load_buf(const char *buf, size_t len, struct config **cfg, struct conf_err *err)
{
	struct conf_err_list errs;
	int r = config_load_buf(buf, len, "t.yaml", cfg, &errs);

	first_err(&errs, err);
	return r;
}

static int load(const char *yaml, struct config **cfg, struct conf_err *err)
{
	return load_buf(yaml, strlen(yaml), cfg, err);
}

static int load_path(const char *path, struct config **cfg, struct conf_err *err)
{
	struct conf_err_list errs;
	int r = config_load(path, cfg, &errs);

	first_err(&errs, err);
	return r;
}

/* Loads yaml expecting an error at line:col whose message contains msg. */
static void expect_err_(const char *yaml, int line, int col, const char *msg, int src_line)
{
	struct config *cfg = (struct config *)1;
	struct conf_err err;
	int r = load(yaml, &cfg, &err);
	bool ok = r == -EINVAL && cfg == NULL && err.line == line && err.col == col &&
		  strstr(err.msg, msg) != NULL && strcmp(err.file, "t.yaml") == 0;

	if (ok) {
		test_passed_++;
		return;
	}
	test_failed_++;
	fprintf(stderr, "%s:%d: expected t.yaml:%d:%d: ...%s...\n  got r=%d %s:%d:%d: %s\n",
		__FILE__, src_line, line, col, msg, r, err.file, err.line, err.col, err.msg);
	if (r == 0)
		config_free(cfg);
}
#define expect_err(y, l, c, m) expect_err_((y), (l), (c), (m), __LINE__)

/* Line and byte column (1-based) of the first occurrence of needle. */
static struct conf_pos find_pos(const char *text, const char *needle)
{
	const char *p = strstr(text, needle), *s;
	struct conf_pos pos = { NULL, 1, 1 };

	if (!p)
		return (struct conf_pos){ NULL, -1, -1 };
	for (s = text; s < p; s++) {
		if (*s == '\n') {
			pos.line++;
			pos.col = 1;
		} else {
			pos.col++;
		}
	}
	return pos;
}

/* The warning whose message contains part, or NULL. */
static const struct config_warning *find_warning(const struct config *cfg, const char *part)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (strstr(cfg->warnings[i].msg, part))
			return &cfg->warnings[i];
	return NULL;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static const struct config_proxy *proxy(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_proxies; i++)
		if (!strcmp(cfg->proxies[i].name, name))
			return &cfg->proxies[i];
	return NULL;
}

static void check_pos(const struct conf_pos *got, const char *text, const char *needle)
{
	struct conf_pos want = find_pos(text, needle);

	T_EQ_INT(got->line, want.line);
	T_EQ_INT(got->col, want.col);
	T_EQ_STR(got->file, EXAMPLE);
}

static void test_example(void)
{
	char *text = read_file(EXAMPLE);
	const struct config_proxy *p;
	const struct config_group *g;
	const struct config_warning *w;
	struct config_target t;
	struct config *cfg = NULL;
	struct conf_err err;
	uint8_t a4[4];
	char msg[200];
	int r;

	T_CHECK(text != NULL);
	if (!text)
		return;
	r = load_path(EXAMPLE, &cfg, &err);
	if (r)
		fprintf(stderr, "  %s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
	T_EQ_INT(r, 0);
	if (r) {
		free(text);
		return;
	}
	T_EQ_STR(cfg->file, EXAMPLE);

	/* top level */
	T_EQ_INT(cfg->log_level, CONFIG_LOG_INFO);
	T_CHECK(cfg->has_log_level);
	T_EQ_STR(cfg->interface_name, "eth0");
	T_CHECK(cfg->has_routing_mark);
	T_EQ_INT(cfg->routing_mark, 0x2333);
	T_CHECK(cfg->ipv6);

	/* tun */
	T_CHECK(cfg->tun.present && cfg->tun.enable);
	T_EQ_STR(cfg->tun.device, "t2s0");
	T_EQ_INT(cfg->tun.mtu, 8500);
	T_EQ_INT(cfg->tun.n_inet4, 1);
	T_EQ_INT(cfg->tun.n_inet6, 1);
	if (cfg->tun.n_inet4 == 1 && cfg->tun.n_inet6 == 1) {
		T_EQ_STR(cfg->tun.inet4[0].text, "198.18.0.1/30");
		T_EQ_INT(cfg->tun.inet4[0].family, AF_INET);
		T_EQ_INT(cfg->tun.inet4[0].prefix, 30);
		inet_pton(AF_INET, "198.18.0.1", a4);
		T_EQ_MEM(cfg->tun.inet4[0].addr, a4, 4);
		check_pos(&cfg->tun.inet4[0].pos, text, "198.18.0.1/30");
		T_EQ_STR(cfg->tun.inet6[0].text, "fdfe:dcba:9876::1/126");
		T_EQ_INT(cfg->tun.inet6[0].family, AF_INET6);
		T_EQ_INT(cfg->tun.inet6[0].prefix, 126);
	}

	/* dns */
	T_CHECK(cfg->dns.present && cfg->dns.enable);
	T_EQ_INT(cfg->dns.mode, CONFIG_DNS_FAKE_IP);
	T_CHECK(cfg->dns.has_fake_ip_range && !cfg->dns.has_fake_ip_range6);
	T_EQ_STR(cfg->dns.fake_ip_range.text, "198.18.0.1/16");
	T_EQ_INT(cfg->dns.fake_ip_range.prefix, 16);
	T_EQ_INT(cfg->dns.n_fake_ip_filter, 3);
	if (cfg->dns.n_fake_ip_filter == 3) {
		T_EQ_STR(cfg->dns.fake_ip_filter[0].text, "*.lan");
		check_pos(&cfg->dns.fake_ip_filter[0].pos, text, "*.lan");
		T_EQ_STR(cfg->dns.fake_ip_filter[2].text, "time.*.com");
	}
	T_EQ_INT(cfg->dns.n_nameservers, 4);
	if (cfg->dns.n_nameservers == 4) {
		T_EQ_STR(cfg->dns.nameservers[0].text, "1.1.1.1");
		T_EQ_STR(cfg->dns.nameservers[1].text, "udp://9.9.9.9:53");
		T_EQ_STR(cfg->dns.nameservers[2].text, "tcp://8.8.8.8");
		T_EQ_STR(cfg->dns.nameservers[3].text, "[2606:4700:4700::1111]:53");
		check_pos(&cfg->dns.nameservers[3].pos, text, "[2606:");
	}
	T_EQ_INT(cfg->dns.fake_ip_ttl, 0);

	/* proxies */
	T_EQ_INT(cfg->n_proxies, 4);
	p = proxy(cfg, "hk-socks");
	T_CHECK(p != NULL);
	if (p) {
		T_EQ_INT(p->type, CONFIG_PROXY_SOCKS5);
		T_EQ_STR(p->server, "hk.example.com");
		T_EQ_INT(p->port, 1080);
		T_EQ_STR(p->username, "alice");
		T_EQ_STR(p->password, "s3cret");
		T_CHECK(p->udp && !p->tls && p->sni == NULL && p->ca == NULL);
		check_pos(&p->pos, text, "hk-socks\"");
	}
	p = proxy(cfg, "jp-https");
	T_CHECK(p != NULL);
	if (p) {
		T_EQ_INT(p->type, CONFIG_PROXY_HTTP);
		T_EQ_STR(p->server, "203.0.113.7");
		T_EQ_INT(p->port, 443);
		T_EQ_STR(p->username, "bob");
		T_EQ_STR(p->password, "hunter2");
		T_CHECK(p->tls && !p->skip_cert_verify && !p->udp);
		T_EQ_STR(p->sni, "proxy.example.net");
		T_EQ_STR(p->ca, T2S_TEST_DATA_DIR "/certs/ca.pem");
		T_EQ_STR(config_proxy_type_name(p), "http");
	}
	p = proxy(cfg, "us-ss");
	T_CHECK(p != NULL);
	if (p) {
		T_EQ_INT(p->type, CONFIG_PROXY_UNSUPPORTED);
		T_EQ_STR(p->type_name, "ss");
		T_EQ_STR(config_proxy_type_name(p), "ss");
	}
	p = proxy(cfg, "local-dns");
	T_CHECK(p != NULL);
	if (p) {
		T_EQ_INT(p->type, CONFIG_PROXY_REDIRECT);
		T_EQ_STR(p->to_host, "::1");
		T_EQ_INT(p->to_port, 5353);
	}

	/* groups */
	T_EQ_INT(cfg->n_groups, 3);
	if (cfg->n_groups == 3) {
		g = &cfg->groups[0];
		T_EQ_STR(g->name, "Proxy");
		T_EQ_INT(g->type, CONFIG_GROUP_SELECT);
		T_EQ_INT(g->n_members, 4);
		T_EQ_INT(g->selected, 0);
		T_EQ_INT(g->members[0].kind, CONFIG_TARGET_GROUP);
		T_EQ_INT(g->members[0].index, 1);
		T_EQ_INT(g->members[1].kind, CONFIG_TARGET_PROXY);
		T_EQ_STR(cfg->proxies[g->members[1].index].name, "hk-socks");
		T_EQ_INT(g->members[3].kind, CONFIG_TARGET_DIRECT);
		check_pos(&g->members[3].pos, text, "DIRECT\n  - name: Auto");
		g = &cfg->groups[1];
		T_EQ_INT(g->type, CONFIG_GROUP_URL_TEST);
		T_EQ_STR(g->members[0].name, "jp-https");
	}

	/* rule providers: paths against the config's directory */
	T_EQ_INT(cfg->n_rule_providers, 2);
	if (cfg->n_rule_providers == 2) {
		T_EQ_STR(cfg->rule_providers[0].name, "ads");
		T_EQ_INT(cfg->rule_providers[0].type, CONFIG_RP_FILE);
		T_EQ_INT(cfg->rule_providers[0].behavior, CONFIG_RP_DOMAIN);
		T_EQ_INT(cfg->rule_providers[0].format, CONFIG_RP_YAML);
		T_EQ_STR(cfg->rule_providers[0].path, T2S_TEST_DATA_DIR "/./rules/ads.yaml");
		check_pos(&cfg->rule_providers[0].pos, text, "ads:");
		check_pos(&cfg->rule_providers[0].path_pos, text, "./rules/ads.yaml");
		T_EQ_STR(cfg->rule_providers[1].name, "private");
		T_EQ_INT(cfg->rule_providers[1].behavior, CONFIG_RP_IPCIDR);
		T_EQ_INT(cfg->rule_providers[1].format, CONFIG_RP_TEXT);
		T_EQ_STR(cfg->rule_providers[1].path, "/etc/tun2socks/private.txt");
	}

	/* rules: text as written, position of the first byte */
	T_EQ_INT(cfg->n_rules, 8);
	if (cfg->n_rules == 8) {
		T_EQ_STR(cfg->rules[0].text, "RULE-SET,ads,REJECT");
		check_pos(&cfg->rules[0].pos, text, "RULE-SET,ads");
		T_EQ_STR(cfg->rules[4].text, "PROCESS-NAME,curl,Proxy");
		check_pos(&cfg->rules[4].pos, text, "PROCESS-NAME"); /* inside the quotes */
		T_EQ_STR(cfg->rules[7].text, "MATCH,Proxy");
	}

	/* warnings: ignored keys, unsupported type, health checks */
	w = find_warning(cfg, "\"mixed-port\" is not used");
	T_CHECK(w != NULL);
	if (w)
		check_pos(&w->pos, text, "mixed-port");
	T_CHECK(find_warning(cfg, "\"allow-lan\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "\"external-controller\" is not used") == NULL);
	T_CHECK(cfg->external_controller != NULL);
	T_CHECK(find_warning(cfg, "tun: \"stack\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "tun: \"dns-hijack\" is not used") == NULL);
	T_CHECK(cfg->tun.has_auto_route && cfg->tun.auto_route);
	T_CHECK(cfg->tun.has_dns_hijack);
	T_EQ_INT(cfg->tun.n_dns_hijack, 1);
	T_CHECK(find_warning(cfg, "\"mode\"") == NULL); /* mode: rule is what we do */
	w = find_warning(cfg, "type \"ss\" is not supported");
	T_CHECK(w != NULL);
	if (w)
		check_pos(&w->pos, text, "ss\n    server: us");
	/* url-test is health-checked now: its keys are read, no warning */
	T_CHECK(find_warning(cfg, "health checks") == NULL);
	T_CHECK(find_warning(cfg, "proxy group \"Auto\": \"interval\" is not used") == NULL);
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const struct config_group *g = &cfg->groups[i];

		if (strcmp(g->name, "Auto") != 0)
			continue;
		T_EQ_INT(g->interval, 300);
		T_EQ_INT(g->timeout_ms, 5000);
		T_EQ_INT(g->tolerance_ms, 0);
		T_CHECK(g->lazy);
		T_EQ_STR(g->url, "https://www.gstatic.com/generate_204");
	}
	T_CHECK(find_warning(cfg, "rule-providers: \"private\": \"interval\" is not used") == NULL);
	T_CHECK(find_warning(cfg, "cipher") == NULL); /* unsupported proxies' keys: silent */
	for (size_t i = 0; i < cfg->n_warnings; i++) {
		char line[700];

		config_warning_format(&cfg->warnings[i], line, sizeof(line));
		T_CHECK(strncmp(line, EXAMPLE ":", strlen(EXAMPLE) + 1) == 0);
		T_CHECK(strstr(line, ": warning: ") != NULL);
	}

	/* targets */
	T_EQ_INT(config_resolve_target(cfg, "Proxy", &t, msg, sizeof(msg)), 0);
	T_EQ_INT(t.kind, CONFIG_TARGET_PROXY);
	T_CHECK(t.proxy && !strcmp(t.proxy->name, "jp-https")); /* Proxy -> Auto -> jp-https */
	T_EQ_INT(config_resolve_target(cfg, "hk-socks", &t, msg, sizeof(msg)), 0);
	T_CHECK(t.proxy && !strcmp(t.proxy->name, "hk-socks"));
	T_EQ_INT(config_resolve_target(cfg, "local-dns", &t, msg, sizeof(msg)), 0);
	T_CHECK(t.proxy && t.proxy->type == CONFIG_PROXY_REDIRECT);
	T_EQ_INT(config_resolve_target(cfg, "DIRECT", &t, msg, sizeof(msg)), 0);
	T_EQ_INT(t.kind, CONFIG_TARGET_DIRECT);
	T_EQ_INT(config_resolve_target(cfg, "REJECT-DROP", &t, msg, sizeof(msg)), 0);
	T_EQ_INT(t.kind, CONFIG_TARGET_REJECT_DROP);
	T_EQ_INT(config_resolve_target(cfg, "us-ss", &t, msg, sizeof(msg)), -ENOTSUP);
	T_EQ_STR(msg, "proxy \"us-ss\" has unsupported type \"ss\"");
	T_EQ_INT(config_resolve_target(cfg, "Streaming", &t, msg, sizeof(msg)), -ENOTSUP);
	T_EQ_STR(msg, "proxy \"us-ss\" has unsupported type \"ss\" (selected through proxy group "
		      "\"Streaming\")");
	T_EQ_INT(config_resolve_target(cfg, "nope", &t, msg, sizeof(msg)), -ENOENT);
	T_EQ_STR(msg, "unknown proxy or proxy group \"nope\"");
	T_EQ_INT(config_resolve_target(cfg, "proxy", &t, NULL, 0), -ENOENT); /* exact case */

	config_free(cfg);
	free(text);
}

static void test_defaults(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	struct config_target t;

	T_EQ_INT(load("", &cfg, &err), 0);
	T_CHECK(cfg != NULL);
	if (!cfg)
		return;
	T_EQ_INT(cfg->log_level, CONFIG_LOG_INFO);
	T_CHECK(!cfg->has_log_level && cfg->ipv6 && !cfg->has_routing_mark);
	T_CHECK(cfg->interface_name == NULL);
	T_CHECK(!cfg->tun.present && !cfg->dns.present);
	T_EQ_INT(cfg->dns.mode, CONFIG_DNS_REAL_IP);
	T_EQ_INT(cfg->n_proxies + cfg->n_groups + cfg->n_rules + cfg->n_rule_providers, 0);
	T_EQ_INT(cfg->n_warnings, 0);
	T_EQ_INT(config_resolve_target(cfg, "REJECT", &t, NULL, 0), 0);
	T_EQ_INT(config_resolve_target(cfg, "x", &t, NULL, 0), -ENOENT);
	config_free(cfg);

	/* Comments only, and null sections. */
	T_EQ_INT(load("# nothing\n", &cfg, &err), 0);
	config_free(cfg);
	T_EQ_INT(load("tun:\ndns:\nproxies:\nrules: ~\nrule-providers:\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(cfg->tun.present && !cfg->tun.enable);
		T_CHECK(cfg->dns.present);
		config_free(cfg);
	}

	/* Other values of the simple keys. */
	T_EQ_INT(load("log-level: silent\nipv6: false\nrouting-mark: 255\n"
		      "dns: {enhanced-mode: normal, fake-ip-range6: 'fdfe::1/64', fake-ip-ttl: 5,\n"
		      "      fake-ip-min-age: 0}\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_EQ_INT(cfg->log_level, CONFIG_LOG_SILENT);
		T_CHECK(!cfg->ipv6);
		T_EQ_INT(cfg->routing_mark, 255);
		T_EQ_INT(cfg->dns.mode, CONFIG_DNS_NORMAL);
		T_CHECK(cfg->dns.has_fake_ip_range6);
		T_EQ_INT(cfg->dns.fake_ip_range6.prefix, 64);
		T_EQ_INT(cfg->dns.fake_ip_range6.pos.col, 47); /* inside the quotes */
		T_EQ_INT(cfg->dns.fake_ip_ttl, 5);
		T_CHECK(cfg->dns.has_fake_ip_min_age);
		T_EQ_INT(cfg->dns.fake_ip_min_age, 0);
		config_free(cfg);
	}
}

/* geox-url, geo-auto-update, geo-update-interval: mihomo's defaults, set
 * values, and a URL that is not http(s) refused at its position. */
static void test_geox(void)
{
	struct config *cfg = NULL;
	struct conf_err err;

	T_EQ_INT(load("mode: rule\n", &cfg, &err), 0);
	if (cfg) {
		T_EQ_STR(cfg->geox.mmdb, "https://github.com/MetaCubeX/meta-rules-dat/releases/"
					 "download/latest/geoip.metadb");
		T_EQ_STR(cfg->geox.asn, "https://github.com/MetaCubeX/meta-rules-dat/releases/"
					"download/latest/GeoLite2-ASN.mmdb");
		T_CHECK(strstr(cfg->geox.geoip, "/geoip.dat") != NULL);
		T_CHECK(strstr(cfg->geox.geosite, "/geosite.dat") != NULL);
		T_CHECK(!cfg->geox.auto_update);
		T_EQ_INT(cfg->geox.interval_h, 24);
		config_free(cfg);
	}
	cfg = NULL;
	T_EQ_INT(load("geox-url:\n"
		      "  mmdb: http://h/c.mmdb\n"
		      "  geosite: https://h/s.dat\n"
		      "  other: x\n"
		      "geo-auto-update: true\n"
		      "geo-update-interval: 6\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_EQ_STR(cfg->geox.mmdb, "http://h/c.mmdb");
		T_EQ_STR(cfg->geox.geosite, "https://h/s.dat");
		T_CHECK(strstr(cfg->geox.asn, "GeoLite2-ASN.mmdb") != NULL);
		T_CHECK(cfg->geox.auto_update);
		T_EQ_INT(cfg->geox.interval_h, 6);
		T_CHECK(find_warning(cfg, "\"other\"") != NULL);
		config_free(cfg);
	}
	cfg = NULL;
	T_CHECK(load("geox-url: {asn: ftp://h/a}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "geox-url.asn: expected an http:// or https:// URL") != NULL);
	T_EQ_INT(err.line, 1);
	config_free(cfg);
	cfg = NULL;
	T_CHECK(load("geo-update-interval: 0\n", &cfg, &err) < 0);
	config_free(cfg);
}

/* Unknown keys anywhere are warnings, never errors, even of odd types. */
static void test_warnings(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	const struct config_warning *w;
	const char *y =
		"port: 7890\n"
		"sniffer: {enable: true, sniff: {TLS: {ports: [443]}}}\n"
		"geosite-matcher: [1, 2]\n"
		"profile:\n"
		"  store-selected: true\n"
		"mode: global\n"
		"proxies:\n"
		"  - {name: a, type: socks5, server: h, port: 1, tfo: true, udp: false}\n"
		"  - {name: b, type: http, server: h, port: 2, udp: true, servername: sn}\n"
		"  - {name: c, type: vmess, server: h, port: 3, uuid: x}\n"
		"proxy-groups:\n"
		"  - {name: g, type: load-balance, proxies: [a, b], strategy: round-robin}\n"
		"  - {name: r, type: relay, proxies: [b, a]}\n"
		"  - {name: s, type: select, proxies: [a, b], default-selected: b}\n"
		"  - {name: s2, type: select, proxies: [a], default-selected: zz, use: [p1]}\n"
		"rule-providers:\n"
		"  x: {type: inline, behavior: classical, payload: ['DOMAIN,a.com', "
		"\"IP-CIDR,1.0.0.0/8\"]}\n"
		"proxy-providers:\n"
		"  p1: {type: file, path: /nonexistent/p1.yaml}\n";
	struct config_target t;

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.msg);
		return;
	}
	w = find_warning(cfg, "\"port\" is not used by tun2socks; ignored");
	T_CHECK(w && w->pos.line == 1 && w->pos.col == 1);
	/* sniffer: is ours now */
	T_CHECK(find_warning(cfg, "\"sniffer\"") == NULL);
	T_CHECK(cfg->sniffer.enable && cfg->sniffer.proto[CONFIG_SNIFF_TLS].on);
	T_CHECK(find_warning(cfg, "\"geosite-matcher\"") != NULL);
	T_CHECK(find_warning(cfg, "\"profile\"") == NULL); /* store-selected is ours */
	T_CHECK(cfg->store_selected);
	T_CHECK(find_warning(cfg, "\"mode\"") == NULL); /* global is a mode we have */
	T_EQ_INT(cfg->mode, 1);
	w = find_warning(cfg, "proxy \"a\": \"tfo\" is not used");
	T_CHECK(w && w->pos.line == 8);
	T_CHECK(find_warning(cfg, "proxy \"b\": HTTP proxies carry no UDP") != NULL);
	T_CHECK(find_warning(cfg, "skip-cert-verify is on") == NULL); /* only with tls: true */
	T_CHECK(find_warning(cfg, "type \"vmess\" is not supported") != NULL);
	T_CHECK(find_warning(cfg, "uuid") == NULL);
	/* load-balance is health-checked and its strategy read */
	T_CHECK(find_warning(cfg, "proxy group \"g\" (load-balance): health checks") == NULL);
	T_CHECK(find_warning(cfg, "proxy group \"g\": \"strategy\" is not used") == NULL);
	/* relay: a chain of b then a now, nothing to warn about */
	T_CHECK(find_warning(cfg, "(relay)") == NULL);
	T_CHECK(find_warning(cfg, "default-selected \"zz\" is not a member; using \"a\"") != NULL);
	/* s2 uses an empty provider: its own member stays */
	T_CHECK(find_warning(cfg, "proxy-providers: \"p1\":") != NULL);
	if (cfg->n_proxies == 3) {
		T_CHECK(!cfg->proxies[0].udp);
		T_CHECK(!cfg->proxies[1].udp);
		T_EQ_STR(cfg->proxies[1].sni, "sn");
	}
	T_EQ_INT(config_resolve_target(cfg, "s", &t, NULL, 0), 0);
	T_CHECK(t.proxy && !strcmp(t.proxy->name, "b"));
	T_EQ_INT(config_resolve_target(cfg, "s2", &t, NULL, 0), 0);
	T_CHECK(t.proxy && !strcmp(t.proxy->name, "a"));
	T_EQ_INT(cfg->n_rule_providers, 1);
	if (cfg->n_rule_providers == 1) {
		const struct config_rule_provider *rp = &cfg->rule_providers[0];

		T_EQ_INT(rp->type, CONFIG_RP_INLINE);
		T_EQ_INT(rp->behavior, CONFIG_RP_CLASSICAL);
		T_EQ_INT(rp->n_payload, 2);
		if (rp->n_payload == 2) {
			T_EQ_STR(rp->payload[1].text, "IP-CIDR,1.0.0.0/8");
			T_EQ_INT(rp->payload[1].pos.line, 17);
			T_EQ_INT(rp->payload[1].pos.col, 69);
		}
	}
	config_free(cfg);
}

/* Warnings come out in file order, whichever section found them. */
static void test_warning_order(void)
{
	static const char y[] =
		"tun:\n"
		"  stack: system\n"
		"mixed-port: 7890\n"
		"proxies:\n"
		"  - {name: a, type: socks5, server: h, port: 1, tfo: true}\n"
		"  - {name: b, type: http, server: h, port: 2, tls: true, skip-cert-verify: true}\n"
		"proxy-groups:\n"
		"  - {name: g, type: load-balance, strategy: sticky-sessions, proxies: [a], icon: "
		"x}\n"
		"allow-lan: true\n";
	static const int lines[] = { 2, 3, 5, 6, 8, 8, 9 };
	struct config *cfg = NULL;
	struct conf_err err;

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	T_EQ_INT(cfg->n_warnings, 7);
	for (size_t i = 0; i < cfg->n_warnings && i < 7; i++)
		T_EQ_INT(cfg->warnings[i].pos.line, lines[i]);
	if (cfg->n_warnings == 7) {
		/* At the key, with the other warnings (the router used to log
		 * it apart, when building). */
		T_EQ_STR(cfg->warnings[3].msg,
			 "proxy \"b\": skip-cert-verify is on: the TLS connection to h is NOT "
			 "authenticated, anyone on the path can read and change it");
		T_EQ_INT(cfg->warnings[3].pos.col, 58);
		/* Same line: by column (the group's strategy, then its "icon"). */
		T_CHECK(strstr(cfg->warnings[4].msg, "sticky-sessions is routed") != NULL);
		T_CHECK(strstr(cfg->warnings[5].msg, "\"icon\" is not used") != NULL);
		T_CHECK(cfg->warnings[4].pos.col < cfg->warnings[5].pos.col);
	}
	config_free(cfg);
}

/* "pipelining" (ours): true, false or auto on a SOCKS5 proxy, auto when
 * absent; on an HTTP one true is warned about and dropped; another value
 * is an error at its value. */
static void test_pipelining(void)
{
	struct config *cfg = NULL;
	struct conf_err err = { 0 };
	const struct config_warning *w;
	static const char y[] =
		"proxies:\n"
		"  - {name: a, type: socks5, server: 192.0.2.1, port: 1080, pipelining: true}\n"
		"  - {name: b, type: http, server: 192.0.2.1, port: 8080, pipelining: true}\n"
		"  - {name: c, type: socks5, server: 192.0.2.1, port: 1080}\n"
		"  - {name: d, type: socks5, server: 192.0.2.1, port: 1080, pipelining: off}\n"
		"  - {name: e, type: socks5, server: 192.0.2.1, port: 1080, pipelining: auto}\n"
		"  - {name: f, type: http, server: 192.0.2.1, port: 8080, pipelining: auto}\n";

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	T_EQ_INT(cfg->n_proxies, 6);
	if (cfg->n_proxies == 6) {
		T_EQ_INT(cfg->proxies[0].pipelining, CONFIG_PIPELINING_ON);
		T_EQ_INT(cfg->proxies[1].pipelining, CONFIG_PIPELINING_AUTO);
		T_EQ_INT(cfg->proxies[2].pipelining, CONFIG_PIPELINING_AUTO);
		T_EQ_INT(cfg->proxies[3].pipelining, CONFIG_PIPELINING_OFF);
		T_EQ_INT(cfg->proxies[4].pipelining, CONFIG_PIPELINING_AUTO);
	}
	w = find_warning(cfg, "proxy \"b\": HTTP CONNECT is one message; \"pipelining\" ignored");
	T_CHECK(w && w->pos.line == 3);
	T_CHECK(find_warning(cfg, "proxy \"a\"") == NULL);
	T_CHECK(find_warning(cfg, "proxy \"f\"") == NULL);
	config_free(cfg);
	expect_err("proxies:\n  - {name: a, type: socks5, server: 192.0.2.1, pipelining: 2}\n", 2,
		   60, "proxy \"a\": pipelining: expected true, false or auto, got \"2\"");
}

static void test_yaml_errors(void)
{
	/* libyaml's own errors at its mark, 1-based. */
	expect_err("a: [1, 2\nb: c\n", 2, 2, "YAML syntax error: did not find expected ',' or ']'");
	expect_err("a: b\n c: d\n", 2, 3, "YAML syntax error: mapping values are not allowed");
	expect_err("log-level: \xff\n", 1, 12, "YAML: invalid leading UTF-8 octet (byte 0xff)");
	expect_err("a: b\nc: \x01\n", 2, 4, "YAML: control characters are not allowed");
	expect_err("a: *nope\n", 1, 4, "found undefined alias");
	/* Column counts bytes: two 2-byte characters before the error. */
	expect_err("\xc3\xa4\xc3\xa4: [\n", 2, 1, "YAML syntax error");
	expect_err("rules:\n  - \xc3\xa4\xc3\xa4\n  - \"x\n", 4, 1, "YAML syntax error");
	/* A tab in the indentation is named, at the tab, whatever libyaml
	 * made of it. */
	expect_err("tun:\n\tdevice: t0\n", 2, 1,
		   "YAML syntax error: tab used for indentation (YAML allows only spaces)");
	expect_err("proxies:\n  - name: a\n  \ttype: socks5\n", 3, 3,
		   "YAML syntax error: tab used for indentation (YAML allows only spaces)");
	expect_err("tun:\n  device: t0\n\tmtu: 1500\n", 3, 1, "tab used for indentation");
	expect_err("\xef\xbb\xbftun:\n \t device: t0\n", 2, 2, "tab used for indentation");
	/* A tab elsewhere is not blamed. */
	expect_err("a: [1,\t2\nb: c\n", 2, 2,
		   "YAML syntax error: did not find expected ',' or ']'");
}

static void test_type_errors(void)
{
	expect_err("- a\n- b\n", 1, 1, "expected a mapping of keys at the top level, got a list");
	expect_err("tun: [1]\n", 1, 6, "tun: expected a mapping, got a list");
	expect_err("tun:\n  mtu: {a: 1}\n", 2, 8, "tun.mtu: expected a value, got a mapping");
	expect_err("tun:\n  mtu: 70000\n", 2, 8,
		   "tun.mtu: expected an integer from 576 to 65535, got \"70000\"");
	expect_err("tun:\n  mtu: 1500x\n", 2, 8, "got \"1500x\"");
	expect_err("tun: {enable: maybe}\n", 1, 15,
		   "tun.enable: expected true or false, got \"maybe\"");
	expect_err("tun: {device: 'a/b'}\n", 1, 16, "tun.device: expected an interface name");
	expect_err("interface-name: abcdefghijklmnop\n", 1, 17,
		   "interface-name: expected an interface name");
	expect_err("log-level: verbose\n", 1, 12,
		   "log-level: expected silent, error, warning, info or debug, got \"verbose\"");
	expect_err("routing-mark: -1\n", 1, 15,
		   "routing-mark: expected an integer from 0 to 4294967295");
	expect_err("routing-mark: 4294967296\n", 1, 15, "routing-mark");
	expect_err("ipv6: [true]\n", 1, 7, "ipv6: expected a value, got a list");
	expect_err("ipv6: true\nlog-level: info\nipv6: false\n", 3, 1,
		   "config: duplicate key \"ipv6\" (first at line 1)");
	expect_err("dns:\n  enable: true\n  enable: false\n", 3, 3,
		   "dns: duplicate key \"enable\"");
	expect_err("proxies: {a: 1}\n", 1, 10, "proxies: expected a list, got a mapping");
	expect_err("proxies:\n  - 3\n", 2, 5, "proxies[0]: expected a mapping, got a scalar");
	expect_err("rules: [[a]]\n", 1, 9, "rules: expected a rule line");
	expect_err(
		"rules:\n  - MATCH,DIRECT\n  -\n", 3, 4,
		"rules: expected a rule line like DOMAIN-SUFFIX,example.com,DIRECT, got nothing");
	expect_err("rules: \"x\"\n", 1, 9, "rules: expected a list, got a scalar");
	expect_err("rules: [\"a\\0b\"]\n", 1, 10, "rules: NUL character not allowed");
	expect_err("{[a]: 1}\n", 1, 2, "config: expected a key name, got a list");
}

static void test_cidr_dns_errors(void)
{
	expect_err(
		"dns:\n  fake-ip-range: 198.18.0.1\n", 2, 18,
		"dns.fake-ip-range: expected an IPv4 CIDR like 198.18.0.1/16, got \"198.18.0.1\"");
	expect_err("dns:\n  fake-ip-range: '300.1.1.1/8'\n", 2, 19, "expected an IPv4 CIDR");
	expect_err("dns:\n  fake-ip-range: 198.18.0.1/33\n", 2, 29,
		   "dns.fake-ip-range: prefix length 33 is longer than 32 in \"198.18.0.1/33\"");
	expect_err("dns:\n  fake-ip-range: fd00::/8\n", 2, 18, "expected an IPv4 CIDR");
	expect_err("dns:\n  fake-ip-range6: 10.0.0.0/8\n", 2, 19,
		   "dns.fake-ip-range6: expected an IPv6 CIDR");
	expect_err("tun:\n  inet4-address: [10.0.0.1/30, 'fd00::1/64']\n", 2, 33,
		   "tun.inet4-address: expected an IPv4 CIDR");
	expect_err("tun:\n  inet6-address: fd00::1/129\n", 2, 26,
		   "prefix length 129 is longer than 128");
	expect_err("dns:\n  enhanced-mode: mapping\n", 2, 18,
		   "dns.enhanced-mode: expected fake-ip, redir-host or normal, got \"mapping\"");
	/* Encrypted DNS is skipped with a warning; with nothing left, an error. */
	{
		struct config *cfg = NULL;
		struct conf_err err;
		const struct config_warning *w;

		T_EQ_INT(load("dns:\n  nameserver:\n    - 1.1.1.1\n    - "
			      "quic://dns.adguard.com\n",
			      &cfg, &err),
			 0);
		T_CHECK(cfg != NULL && cfg->dns.n_nameservers == 1);
		w = cfg ? find_warning(cfg, "DNS over QUIC is not supported") : NULL;
		T_CHECK(w != NULL && w->pos.line == 4 && w->pos.col == 7);
		T_EQ_STR(cfg->dns.nameservers[0].text, "1.1.1.1");
		config_free(cfg);
	}
	expect_err("dns:\n  nameserver: ['quic://1.1.1.1']\n", 2, 15,
		   "dns.nameserver: no usable server");
	/* mihomo's "#PROXY" and "#params" suffixes: dropped, warned; its
	 * "system" server: skipped, the system's servers being the default */
	{
		struct config *cfg = NULL;
		struct conf_err err;
		const struct config_warning *w;

		T_EQ_INT(load("dns:\n  nameserver:\n    - 'https://1.1.1.1/dns-query#Proxy A'\n"
			      "    - 'tls://8.8.8.8#ecs=1.1.1.1/24&h3=true'\n    - system\n"
			      "  nameserver-policy: {'+.lan': [system, '10.0.0.1#DIRECT']}\n",
			      &cfg, &err),
			 0);
		if (cfg) {
			T_EQ_INT(cfg->dns.n_doh, 1);
			T_EQ_INT(cfg->dns.n_dot, 1);
			T_EQ_INT(cfg->dns.n_nameservers, 0);
			T_EQ_STR(cfg->dns.doh[0].text, "https://1.1.1.1/dns-query");
			T_EQ_STR(cfg->dns.dot[0].text, "tls://8.8.8.8");
			w = find_warning(cfg, "asked directly, not through the proxy after '#'");
			T_CHECK(w != NULL && w->pos.line == 3);
			T_CHECK(find_warning(cfg, "parameters after '#' are ignored") != NULL);
			T_CHECK(find_warning(cfg, "\"system\": the system's servers") != NULL);
			T_CHECK(find_warning(cfg, "the system's resolver is not a server here") !=
				NULL);
		}
		config_free(cfg);
		cfg = NULL;
		T_EQ_INT(load("dns:\n  nameserver: [system]\n", &cfg, &err), 0);
		T_CHECK(cfg != NULL && cfg->dns.n_nameservers == 0);
		config_free(cfg);
	}
	expect_err("dns:\n  nameserver: ['https:///x']\n", 2, 17, "expected https://HOST");
	/* DNS over TLS: kept apart from the plain servers */
	{
		struct config *cfg = NULL;
		struct conf_err err;

		T_EQ_INT(load("dns:\n  nameserver: [tls://dns.example, 'tls://[2001:db8::1]:8853',"
			      " tls://192.0.2.1:853]\n  ca: ca.pem\n",
			      &cfg, &err),
			 0);
		T_CHECK(cfg != NULL && cfg->dns.n_nameservers == 0 && cfg->dns.n_dot == 3);
		config_free(cfg);
		T_EQ_INT(load("dns:\n  nameserver: ['https://dns.example/dns-query#h3=true']\n"
			      "  ca: ca.pem\n",
			      &cfg, &err),
			 0);
		T_CHECK(cfg != NULL && cfg->dns.n_doh == 1 && cfg->dns.n_nameservers == 0);
		T_CHECK(cfg != NULL && cfg->dns.ca != NULL && strstr(cfg->dns.ca, "ca.pem"));
		config_free(cfg);
	}
	expect_err("dns:\n  nameserver: ['tls://x:0']\n", 2, 17, "expected tls://HOST or");
	expect_err("dns:\n  nameserver: ['tls://x/path']\n", 2, 17, "expected tls://HOST or");
	expect_err("dns:\n  nameserver: [ftp://1.1.1.1]\n", 2, 16,
		   "only udp:// and tcp:// are supported");
	expect_err("dns:\n  nameserver: [8.8.8.8:0]\n", 2, 16,
		   "dns.nameserver: \"8.8.8.8:0\": port must be 1-65535");
	expect_err("dns:\n  nameserver: [dns.google]\n", 2, 16,
		   "expected IP, IP:port or [IPv6]:port");
	expect_err("dns:\n  nameserver: ['1.1.1.1,8.8.8.8']\n", 2, 17, "one server per list entry");
	expect_err("dns:\n  nameserver: ['']\n", 2, 17,
		   "dns.nameserver: expected a non-empty value");
	/* The entry is quoted by us, escaped, whatever it contains. */
	expect_err("dns:\n  nameserver: [\"a': b\\nc\"]\n", 2, 17,
		   "dns.nameserver: \"a': b\\x0ac\": expected IP, IP:port or [IPv6]:port");
	expect_err("dns:\n  nameserver: [1111111111111111111111111111111111111111111111111111"
		   "11111111111111111111111111111111111111111111111111]\n",
		   2, 16, "entry too long");
	expect_err("dns:\n  fake-ip-ttl: 0\n", 2, 16,
		   "dns.fake-ip-ttl: expected an integer from 1 to 86400");
	expect_err("dns:\n  fake-ip-min-age: 86401\n", 2, 20,
		   "dns.fake-ip-min-age: expected an integer from 0 to 86400");
}

static void test_proxy_errors(void)
{
	expect_err("proxies:\n  - {type: socks5}\n", 2, 5, "proxies[0]: missing \"name\"");
	expect_err("proxies:\n  - {name: a}\n", 2, 12, "proxy \"a\": missing \"type\"");
	expect_err("proxies:\n  - {name: '', type: http}\n", 2, 13,
		   "proxies[0]: expected a non-empty value");
	expect_err("proxies:\n  - {name: DIRECT, type: http}\n", 2, 12,
		   "the name \"DIRECT\" is reserved");
	expect_err("proxies:\n  - {name: a, type: http}\n", 2, 12,
		   "proxy \"a\": http needs \"server\" and \"port\"");
	expect_err("proxies:\n  - {name: a, type: socks5, server: h, port: 0}\n", 2, 46,
		   "proxy \"a\": port: expected an integer from 1 to 65535, got \"0\"");
	expect_err("proxies:\n  - {name: a, type: socks5, server: bad!host, port: 1}\n", 2, 40,
		   "proxy \"a\": server: invalid character '!' in host in \"bad!host\"");
	expect_err("proxies:\n  - {name: a, type: socks5, server: 'x@y', port: 1}\n", 2, 39,
		   "proxy \"a\": server: invalid character '@'");
	expect_err("proxies:\n  - {name: a, type: socks5, server: 1.2.3, port: 1}\n", 2, 37,
		   "server: invalid IPv4 address");
	expect_err("proxies:\n  - {name: a, type: socks5, server: '[::1]', port: 1}\n", 2, 38,
		   "write an IPv6 address without brackets");
	expect_err("proxies:\n  - {name: a, type: socks5, server: '1::2::3', port: 1}\n", 2, 38,
		   "server: invalid IPv6 address \"1::2::3\"");
	expect_err("proxies:\n  - {name: a, type: socks5, server: h, port: 1, username: u}\n", 2,
		   12, "socks5 authentication needs a username and a password");
	expect_err("proxies:\n  - {name: a, type: http, server: h, port: 1, password: p}\n", 2, 12,
		   "\"password\" without \"username\"");
	expect_err("proxies:\n  - {name: a, type: http, server: h, port: 1, tls: 1}\n", 2, 52,
		   "proxy \"a\": tls: expected true or false, got \"1\"");
	expect_err("proxies:\n  - {name: a, type: redirect}\n", 2, 12,
		   "redirect needs \"to: host:port\"");
	expect_err("proxies:\n  - {name: a, type: redirect, to: example.com}\n", 2, 35,
		   "to: expected host:port or [IPv6]:port, got \"example.com\"");
	expect_err("proxies:\n  - {name: a, type: redirect, to: '[::1]'}\n", 2, 36,
		   "expected host:port");
	expect_err("proxies:\n  - {name: a, type: redirect, to: '::1:53'}\n", 2, 36,
		   "proxy \"a\": to: IPv6 address must be in brackets");
	expect_err("proxies:\n  - {name: a, type: redirect, to: 'h:99999'}\n", 2, 38,
		   "port must be 1-65535");
	expect_err("proxies:\n  - {name: a, type: redirect, to: 'h!:1'}\n", 2, 37,
		   "invalid character '!'");
	/* Duplicates: at the second, across proxies and groups. */
	expect_err("proxies:\n  - {name: a, type: ss}\n  - {name: b, type: ss}\n  - {name: a, "
		   "type: ss}\n",
		   4, 12, "duplicate name \"a\" (first defined at line 2)");
	expect_err("proxy-groups:\n  - {name: a, type: select, proxies: [DIRECT]}\n"
		   "proxies:\n  - {name: a, type: ss}\n",
		   4, 12, "duplicate name \"a\" (first defined at line 2)");
}

static void test_group_errors(void)
{
	expect_err("proxy-groups:\n  - {name: g, type: select, proxies: [DIRECT, nope]}\n", 2, 47,
		   "proxy group \"g\": unknown member \"nope\" (expected a proxy, a proxy group, "
		   "DIRECT, REJECT or REJECT-DROP)");
	expect_err("proxy-groups:\n  - {name: g, type: best}\n", 2, 21,
		   "proxy group \"g\": type: expected select, url-test, fallback, load-balance or "
		   "relay, got \"best\"");
	expect_err("proxy-groups:\n  - {name: g, type: select}\n", 2, 12,
		   "proxy group \"g\": no members (expected a \"proxies\" list, \"use\" or "
		   "\"include-all\")");
	expect_err("proxy-groups:\n  - {name: g, type: select, use: [p]}\n", 2, 35,
		   "proxy group \"g\": unknown proxy provider \"p\"");
	expect_err("proxy-groups:\n  - {name: g, type: select, include-all: true, filter: '(x'}\n",
		   2, 57,
		   "proxy group \"g\": filter: regex \"(x\" at offset 2: missing closing "
		   "parenthesis");
	/* A key with no value (a flow mapping's bare "include-all"): an error
	 * at it, and nothing of it applied (fuzz_config found the unset bool
	 * read: corpus/config/group_include_all_null). */
	expect_err("proxy-groups:\n  - {name: g, type: select, proxies: [DIRECT], include-all}\n",
		   2, 59, "proxy group \"g\": include-all: expected true or false, got \"\"");
	/* Cycles: at the member that closes one. */
	expect_err("proxy-groups:\n  - {name: g, type: select, proxies: [g]}\n", 2, 39,
		   "proxy group cycle: \"g\" -> \"g\"");
	expect_err("proxy-groups:\n"
		   "  - {name: a, type: select, proxies: [DIRECT, b]}\n"
		   "  - {name: b, type: fallback, proxies: [c]}\n"
		   "  - {name: c, type: select, proxies: [REJECT, a]}\n",
		   4, 47, "proxy group cycle: \"a\" -> \"b\" -> \"c\" -> \"a\"");
	/* A cycle off the selected path is still one. */
	expect_err("proxy-groups:\n"
		   "  - {name: x, type: select, proxies: [DIRECT]}\n"
		   "  - {name: a, type: select, proxies: [x, b]}\n"
		   "  - {name: b, type: select, proxies: [DIRECT, a]}\n",
		   4, 47, "proxy group cycle: \"a\" -> \"b\" -> \"a\"");
}

static void test_group_resolution(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	struct config_target t;
	char msg[200];
	const char *y =
		"proxies:\n"
		"  - {name: p1, type: socks5, server: 10.0.0.1, port: 1080}\n"
		"  - {name: p2, type: trojan, server: h, port: 443}\n"
		"proxy-groups:\n"
		"  - {name: top, type: select, proxies: [mid, p1]}\n"
		"  - {name: mid, type: fallback, proxies: [leaf, top]}\n" /* not selected: no cycle? */
		"  - {name: leaf, type: select, proxies: [REJECT-DROP]}\n";

	/* mid -> top is an edge, top -> mid another: a cycle even though
	 * traffic would never take it. */
	expect_err(y, 6, 49, "proxy group cycle: \"top\" -> \"mid\" -> \"top\"");

	y = "proxies:\n"
	    "  - {name: p1, type: socks5, server: 10.0.0.1, port: 1080}\n"
	    "  - {name: p2, type: trojan, server: h, port: 443}\n"
	    "proxy-groups:\n"
	    "  - {name: top, type: select, proxies: [mid, p1]}\n"
	    "  - {name: mid, type: select, proxies: [leaf, p2]}\n"
	    "  - {name: leaf, type: select, proxies: [REJECT-DROP]}\n"
	    "  - {name: bad, type: select, proxies: [p2, p1]}\n"
	    "  - {name: ok, type: select, proxies: [p2, p1], default-selected: p1}\n";
	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	T_EQ_INT(config_resolve_target(cfg, "top", &t, msg, sizeof(msg)), 0);
	T_EQ_INT(t.kind, CONFIG_TARGET_REJECT_DROP);
	T_CHECK(t.proxy == NULL);
	T_EQ_INT(config_resolve_target(cfg, "bad", &t, msg, sizeof(msg)), -ENOTSUP);
	T_EQ_STR(msg, "proxy \"p2\" has unsupported type \"trojan\" (selected through proxy group "
		      "\"bad\")");
	T_EQ_INT(config_resolve_target(cfg, "ok", &t, msg, sizeof(msg)), 0);
	T_CHECK(t.proxy && !strcmp(t.proxy->name, "p1"));
	T_EQ_STR(msg, "");
	config_free(cfg);
}

static void test_rule_provider_errors(void)
{
	expect_err(
		"proxy-groups:\n  - {name: g, type: url-test, proxies: [DIRECT], expected-status: "
		"'200-'}\n",
		2, 68, "expected HTTP statuses like 204, 200/302 or 200-299");
	expect_err("rule-providers:\n  x:\n    type: http\n    behavior: domain\n", 2, 3,
		   "rule-providers: \"x\": type http needs \"url\"");
	expect_err("rule-providers:\n  x: {type: http, behavior: domain, url: 'http://e/x', proxy: "
		   "nope}\n",
		   2, 63, "rule-providers: \"x\": proxy: unknown proxy or proxy group \"nope\"");
	/* not a URL (a placeholder): mihomo loads it, the download fails */
	{
		static const char y[] =
			"rule-providers:\n  x: {type: http, behavior: domain, url: 'ftp://e/x'}\n";
		struct config *cfg = NULL;
		struct conf_err err;
		const struct config_warning *w;

		T_EQ_INT(load(y, &cfg, &err), 0);
		w = cfg ? find_warning(cfg, "url: not an http:// or https:// URL") : NULL;
		T_CHECK(w && w->pos.line == 2 && w->pos.col == 43);
		config_free(cfg);
	}
	{
		static const char y[] =
			"proxy-providers:\n  x: {type: http, url: '', path: x.yaml}\n";
		struct config *cfg = NULL;
		struct conf_err err;

		T_EQ_INT(load(y, &cfg, &err), 0);
		T_CHECK(cfg && find_warning(cfg, "url: not an http:// or https:// URL") != NULL);
		config_free(cfg);
	}
	expect_err("rule-providers:\n  x: {type: file, behavior: classical, format: mrs, path: "
		   "x.mrs}\n",
		   2, 48,
		   "rule-providers: \"x\": format mrs holds domain or ipcidr sets from a file, not "
		   "classical ones");
	expect_err("rule-providers:\n  x: {type: file, behavior: domain}\n", 2, 3,
		   "rule-providers: \"x\": type file needs \"path\"");
	expect_err("rule-providers:\n  x: {type: file, path: a}\n", 2, 3,
		   "rule-providers: \"x\": missing \"behavior\"");
	expect_err("rule-providers:\n  x: {behavior: ipcidr, path: a}\n", 2, 3, "missing \"type\"");
	expect_err("rule-providers:\n  x: {type: file, behavior: geoip, path: a}\n", 2, 29,
		   "behavior: expected domain, ipcidr or classical, got \"geoip\"");
	expect_err("rule-providers:\n  x: {type: inline, behavior: domain}\n", 2, 3,
		   "type inline needs \"payload\"");
	expect_err("rule-providers:\n  x:\n", 2, 5,
		   "rule-providers: \"x\": expected a mapping, got nothing");
	expect_err("rule-providers:\n  x: {type: file, behavior: domain, path: a}\n  x: {}\n", 3, 3,
		   "rule-providers: duplicate key \"x\"");
}

/* type: http: the download's keys, the default path under the cache
 * directory, and a note (not an error) while nothing is cached. */
static void test_rule_provider_http(void)
{
	static const char y[] =
		"proxies:\n  - {name: p, type: socks5, server: h, port: 1}\n"
		"rule-providers:\n"
		"  ads: {type: http, behavior: domain, url: 'https://lists.test/ads.yaml',\n"
		"        interval: 86400, proxy: p, size-limit: 1000}\n"
		"  mine: {type: http, behavior: domain, format: text, url: 'http://l.test/m',\n"
		"         path: " T2S_TEST_DATA_DIR "/clash_example.yaml}\n";
	struct config *cfg = NULL;
	struct conf_err err;

	setenv("T2S_CACHE_DIR", "/nonexistent/t2s-cache", 1);
	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	T_EQ_INT(cfg->n_rule_providers, 2);
	if (cfg->n_rule_providers == 2) {
		const struct config_rule_provider *a = &cfg->rule_providers[0];
		const struct config_rule_provider *m = &cfg->rule_providers[1];

		T_EQ_INT(a->type, CONFIG_RP_HTTP);
		T_EQ_STR(a->remote.url, "https://lists.test/ads.yaml");
		T_EQ_INT(a->remote.interval, 86400);
		T_EQ_STR(a->remote.proxy, "p");
		T_EQ_INT(a->remote.size_limit, 1000);
		T_CHECK(!a->remote.cached);
		T_CHECK(strncmp(a->path, "/nonexistent/t2s-cache/rules/ads-", 33) == 0);
		T_CHECK(m->remote.cached);
		T_EQ_STR(m->path, T2S_TEST_DATA_DIR "/clash_example.yaml");
	}
	T_CHECK(find_warning(cfg, "rule-providers: \"ads\": not downloaded yet") != NULL);
	T_CHECK(find_warning(cfg, "\"mine\": not downloaded") == NULL);
	config_free(cfg);
	unsetenv("T2S_CACHE_DIR");
}

/* Anchors, aliases and "<<" merges, as Clash configs use them. */
/* Inside proxies, proxy-groups, rule-providers and tun a key neither we nor
 * mihomo know is a typo that changes what runs: an error at the key, with
 * the closest known key. mihomo's keys stay warnings. */
static void test_unknown_keys(void)
{
	static const char ok_yaml[] =
		"tun:\n  stack: gvisor\n  disable-icmp-forwarding: true\n"
		"proxies:\n"
		"  - {name: a, type: socks5, server: h, port: 1, ws-opts: {path: /}, dialer-proxy: "
		"b, to: x}\n"
		"  - {name: b, type: redirect, to: 'h:1', server: h, udp: true}\n"
		"  - {name: c, type: vmess, server: h, port: 3, zzzzzz: x}\n"
		"proxy-groups:\n  - {name: g, type: url-test, proxies: [a], tolerance: 50, lazy: "
		"true}\n"
		"rule-providers:\n  x: {type: inline, behavior: domain, payload: [a.com], "
		"size-limit: 0}\n";
	struct config *cfg = NULL;
	struct conf_err err;

	expect_err("proxies:\n  - name: a\n    type: socks5\n    server: h\n    port: 1\n"
		   "    username: u\n    passwrd: p\n",
		   7, 5, "proxy \"a\": unknown key \"passwrd\" (did you mean \"password\"?)");
	expect_err("proxies:\n  - {name: a, type: http, sever: h, port: 1}\n", 2, 27,
		   "proxy \"a\": unknown key \"sever\" (did you mean \"server\"?)");
	/* '_' and case as mihomo reads them; a key that stays unknown is
	 * named as written. */
	expect_err("proxies:\n  - {name: a, type: socks5, server: h, port: 1, Pass_Wrd: p}\n", 2,
		   49, "proxy \"a\": unknown key \"Pass_Wrd\"");
	/* Suggestions come from mihomo's keys too. */
	expect_err(
		"proxies:\n  - {name: a, type: http, server: h, port: 1, client-fingerprnt: x}\n",
		2, 47,
		"proxy \"a\": unknown key \"client-fingerprnt\" (did you mean "
		"\"client-fingerprint\"?)");
	expect_err("proxies:\n  - {name: a, type: redirect, ot: 'h:1'}\n", 2, 31,
		   "proxy \"a\": unknown key \"ot\" (did you mean \"to\"?)");
	expect_err("proxies:\n  - {name: a, type: socks5, server: h, port: 1, qwertyuiop: 1}\n", 2,
		   49, "proxy \"a\": unknown key \"qwertyuiop\"");
	expect_err("proxy-groups:\n  - {name: g, type: select, proxys: [DIRECT]}\n", 2, 29,
		   "proxy group \"g\": unknown key \"proxys\" (did you mean \"proxies\"?)");
	expect_err(
		"proxy-groups:\n  - {name: g, type: url-test, proxies: [DIRECT], intervall: 300}\n",
		2, 50, "proxy group \"g\": unknown key \"intervall\" (did you mean \"interval\"?)");
	expect_err("rule-providers:\n  x: {type: file, behaviour: domain, path: a.txt}\n", 2, 19,
		   "rule-providers: \"x\": unknown key \"behaviour\" (did you mean \"behavior\"?)");
	expect_err("tun:\n  devcie: t0\n", 2, 3,
		   "tun: unknown key \"devcie\" (did you mean \"device\"?)");
	expect_err("tun:\n  auto-rout: true\n", 2, 3,
		   "tun: unknown key \"auto-rout\" (did you mean \"auto-route\"?)");

	/* mihomo's decoder reads "Skip_Cert_Verify" as skip-cert-verify and
	 * "PassWord" as password: so do we. */
	T_EQ_INT(load("proxies:\n  - {name: a, type: socks5, server: h, port: 1, tls: true,"
		      " Skip_Cert_Verify: true, PassWord: p, UserName: u}\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_CHECK(cfg->n_proxies == 1 && cfg->proxies[0].skip_cert_verify);
		T_CHECK(cfg->proxies[0].password && !strcmp(cfg->proxies[0].password, "p"));
		T_CHECK(cfg->proxies[0].username && !strcmp(cfg->proxies[0].username, "u"));
		T_CHECK(find_warning(cfg, "skip-cert-verify is on") != NULL);
		config_free(cfg);
		cfg = NULL;
	}

	/* mihomo's keys: one warning each; unsupported types: not looked at. */
	T_EQ_INT(load(ok_yaml, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.msg);
		return;
	}
	T_CHECK(find_warning(cfg, "tun: \"stack\" is not used by tun2socks; ignored") != NULL);
	T_CHECK(find_warning(cfg, "tun: \"disable-icmp-forwarding\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "proxy \"a\": \"ws-opts\" is not used") != NULL);
	/* dialer-proxy is read now (a chain): no warning */
	T_CHECK(find_warning(cfg, "proxy \"a\": \"dialer-proxy\" is not used") == NULL);
	T_CHECK(find_warning(cfg, "proxy \"a\": \"to\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "proxy \"b\": \"server\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "proxy \"b\": \"udp\" is not used") != NULL);
	T_CHECK(find_warning(cfg, "zzzzzz") == NULL);
	/* health-check keys are read now */
	T_CHECK(find_warning(cfg, "proxy group \"g\": \"tolerance\" is not used") == NULL);
	T_CHECK(find_warning(cfg, "proxy group \"g\": \"lazy\" is not used") == NULL);
	T_CHECK(find_warning(cfg, "rule-providers: \"x\": \"size-limit\" is not used") == NULL);
	config_free(cfg);
}

/* The load goes on after an error: every error of the file, in order. */
static void test_all_errors(void)
{
	static const char y[] =
		"tun:\n"
		"  devcie: t0\n" /* 2 */
		"proxies:\n"
		"  - {name: a, type: socks5, server: h, port: 1, passwrd: p}\n" /* 4 */
		"  - {name: b, type: http, sever: h, port: 1}\n"                /* 5 */
		"  - {name: c, type: socks5, server: h, port: 99999, tls: 2}\n" /* 6, twice */
		"proxy-groups:\n"
		"  - {name: g, type: select, proxies: [a, nope]}\n"        /* 8 */
		"  - {name: h, type: select, proxies: [b], proxys: [c]}\n" /* 9 */
		"rule-providers:\n"
		"  s: {type: file, behaviour: domain, path: s.txt}\n" /* 11 */
		"rules:\n"
		"  - DOMAIN-SUFIX,example.com,a\n" /* 13 */
		"  - DOMAIN,x.com,missing\n"       /* 14 */
		"  - RULE-SET,t,DIRECT\n"          /* 15 */
		"  - RULE-SET,s,h\n"
		"  - DOMAIN,y.com,c\n"
		"  - MATCH,g\n"
		"log-level: loud\n"; /* 19 */
	static const struct {
		int line, col;
		const char *msg;
	} want[] = {
		{ 2, 3, "tun: unknown key \"devcie\" (did you mean \"device\"?)" },
		{ 4, 49, "proxy \"a\": unknown key \"passwrd\" (did you mean \"password\"?)" },
		{ 5, 27, "proxy \"b\": unknown key \"sever\" (did you mean \"server\"?)" },
		{ 6, 46, "proxy \"c\": port: expected an integer from 1 to 65535, got \"99999\"" },
		{ 6, 58, "proxy \"c\": tls: expected true or false, got \"2\"" },
		{ 8, 42, "proxy group \"g\": unknown member \"nope\"" },
		{ 9, 43, "proxy group \"h\": unknown key \"proxys\" (did you mean \"proxies\"?)" },
		{ 11, 19,
		  "rule-providers: \"s\": unknown key \"behaviour\" (did you mean \"behavior\"?)" },
		{ 13, 5, "unknown rule type 'DOMAIN-SUFIX' (did you mean \"DOMAIN-SUFFIX\"?)" },
		{ 14, 18, "unknown proxy or proxy group \"missing\"" },
		{ 15, 14, "unknown rule-set \"t\"" },
		{ 19, 12,
		  "log-level: expected silent, error, warning, info or debug, got \"loud\"" },
	};
	const size_t n = sizeof(want) / sizeof(want[0]);
	struct config *cfg = (struct config *)1;
	struct conf_err_list errs;

	T_EQ_INT(config_load_buf(y, strlen(y), "t.yaml", &cfg, &errs), -EINVAL);
	T_CHECK(cfg == NULL);
	T_EQ_INT(errs.n, n);
	T_EQ_INT(errs.total, n);
	for (size_t i = 0; i < errs.n && i < n; i++) {
		const struct conf_err *e = &errs.v[i];
		bool ok = e->line == want[i].line && e->col == want[i].col &&
			  strstr(e->msg, want[i].msg) != NULL;

		if (!ok)
			fprintf(stderr, "  [%zu] want %d:%d %s\n        got %d:%d %s\n", i,
				want[i].line, want[i].col, want[i].msg, e->line, e->col, e->msg);
		T_CHECK(ok);
	}
	T_EQ_INT(conf_err_list_lines(&errs), n);
}

static int load_errs(const char *y, struct config **cfg, struct conf_err_list *errs)
{
	return config_load_buf(y, strlen(y), "t.yaml", cfg, errs);
}

/* Errors the loader cannot place for sure are not reported twice: a name
 * that may belong to an entry that failed, a group that failed, a cycle. */
static void test_no_cascades(void)
{
	struct conf_err_list errs;
	struct config *cfg = NULL;

	/* The nameless proxy may have been "x": rules naming x say nothing. */
	T_EQ_INT(load_errs("proxies:\n  - {type: socks5, server: h, port: 1}\n"
			   "proxy-groups:\n  - {name: g, type: select, proxies: [x]}\n"
			   "rules:\n  - MATCH,x\n",
			   &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 1);
	T_CHECK(strstr(errs.v[0].msg, "proxies[0]: missing \"name\"") != NULL);
	/* A broken group keeps its name; a rule through it says nothing. */
	T_EQ_INT(load_errs("proxy-groups:\n  - {name: g, type: select}\n"
			   "  - {name: h, type: select, proxies: [g]}\n"
			   "rules:\n  - MATCH,h\n",
			   &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 1);
	T_CHECK(strstr(errs.v[0].msg, "proxy group \"g\": no members") != NULL);
	/* A cycle: reported once, at the group, not again at the rule. */
	T_EQ_INT(load_errs("proxy-groups:\n  - {name: g, type: select, proxies: [h]}\n"
			   "  - {name: h, type: select, proxies: [g]}\n"
			   "rules:\n  - MATCH,h\n",
			   &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 1);
	T_CHECK(strstr(errs.v[0].msg, "proxy group cycle") != NULL);
	/* A broken rule-providers section: RULE-SET names are not checked. */
	T_EQ_INT(load_errs("rule-providers: [a]\nrules:\n  - RULE-SET,a,DIRECT\n", &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 1);
	T_CHECK(strstr(errs.v[0].msg, "rule-providers: expected a mapping") != NULL);
	/* Duplicate keys: each one, and the rest of the file still read. */
	T_EQ_INT(load_errs("ipv6: true\nipv6: false\nipv6: true\nlog-level: x\n", &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 3);
	T_EQ_INT(errs.v[0].line, 2);
	T_EQ_INT(errs.v[1].line, 3);
	T_EQ_INT(errs.v[2].line, 4);
	T_CHECK(cfg == NULL);
	/* A rejected name is not kept: no duplicate reported on top. */
	T_EQ_INT(load_errs("proxies:\n  - {name: '', type: ss}\n  - {name: '', type: ss}\n"
			   "  - {name: DIRECT, type: ss}\n  - {name: DIRECT, type: ss}\n",
			   &cfg, &errs),
		 -EINVAL);
	T_EQ_INT(errs.total, 4);
	T_CHECK(strstr(errs.v[3].msg, "the name \"DIRECT\" is reserved") != NULL);
	/* errs may be NULL: the load still fails. */
	T_EQ_INT(load_errs("log-level: x\n", &cfg, NULL), -EINVAL);
	T_EQ_INT(config_load(T2S_TEST_DATA_DIR "/does-not-exist.yaml", &cfg, NULL), -ENOENT);
}

/* At most CONF_ERR_LIST_MAX are kept, the earliest in the file, however
 * they were found (tun, at the end here, is loaded before the rules). */
static void test_error_limit(void)
{
	char y[4096], line[700];
	struct conf_err_list errs;
	struct config *cfg = NULL;
	size_t n = (size_t)snprintf(y, sizeof(y), "rules:\n");

	for (int i = 0; i < 24; i++)
		n += (size_t)snprintf(y + n, sizeof(y) - n, "  - DOMIAN,a%d.com,DIRECT\n", i);
	n += (size_t)snprintf(y + n, sizeof(y) - n, "tun:\n  mtu: 1\n");
	T_EQ_INT(config_load_buf(y, n, "t.yaml", &cfg, &errs), -EINVAL);
	T_EQ_INT(errs.total, 25);
	T_EQ_INT(errs.n, CONF_ERR_LIST_MAX);
	T_EQ_INT(errs.v[0].line, 2);
	T_EQ_INT(errs.v[CONF_ERR_LIST_MAX - 1].line, CONF_ERR_LIST_MAX + 1);
	T_EQ_INT(conf_err_list_lines(&errs), CONF_ERR_LIST_MAX + 1);
	conf_err_list_line(&errs, 0, line, sizeof(line));
	T_EQ_STR(line, "t.yaml:2:5: unknown rule type 'DOMIAN' (did you mean \"DOMAIN\"?)");
	conf_err_list_line(&errs, CONF_ERR_LIST_MAX, line, sizeof(line));
	T_EQ_STR(line, "and 5 more errors");
}

static void test_aliases(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	const char *y = "base: &base {type: select, proxies: [a, DIRECT]}\n"
			"sock: &sock {type: socks5, port: 1080, udp: false}\n"
			"proxies:\n"
			"  - {name: a, server: a.example, <<: *sock}\n"
			"  - {<<: [*sock], name: b, server: b.example, port: 2}\n"
			"proxy-groups:\n"
			"  - {name: g1, <<: *base}\n"
			"  - {name: g2, <<: *base, type: fallback}\n"
			"rules: &r [\"MATCH,g1\"]\n";

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg) {
		fprintf(stderr, "  %d:%d: %s\n", err.line, err.col, err.msg);
		return;
	}
	T_EQ_INT(cfg->n_proxies, 2);
	T_EQ_INT(cfg->n_groups, 2);
	if (cfg->n_proxies == 2 && cfg->n_groups == 2) {
		T_EQ_INT(cfg->proxies[0].type, CONFIG_PROXY_SOCKS5);
		T_EQ_INT(cfg->proxies[0].port, 1080);
		T_CHECK(!cfg->proxies[0].udp);
		T_EQ_INT(cfg->proxies[1].port, 2); /* own key wins over the merge */
		T_EQ_INT(cfg->groups[0].type, CONFIG_GROUP_SELECT);
		T_EQ_INT(cfg->groups[1].type, CONFIG_GROUP_FALLBACK);
		T_EQ_INT(cfg->groups[1].n_members, 2);
	}
	T_EQ_INT(cfg->n_rules, 1);
	config_free(cfg);

	/* Self-referencing structures are refused, not followed forever. */
	expect_err("tun: &a {<<: *a}\n", 1, 6, "\"<<\" merges nested too deep");
	expect_err("proxies: &p [*p]\n", 1, 10, "proxies[0]: expected a mapping, got a list");
	expect_err("rules: &p [*p]\n", 1, 8, "rules: expected a rule line");
	expect_err("&a [*a]\n", 1, 1, "expected a mapping of keys at the top level");
	expect_err("tun: {<<: 3}\n", 1, 11, "\"<<\" expects a mapping or a list of mappings");
}

/* Aliases repeat big lists cheaply: the budget refuses the blow-up. */
static void test_alias_budget(void)
{
	size_t cap = 1 << 20, n = 0;
	char *y = malloc(cap);
	struct config *cfg = NULL;
	struct conf_err err;
	int r;

	if (!y)
		return;
	n += (size_t)snprintf(y + n, cap - n, "m: &m [");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(y + n, cap - n, "%sDIRECT", i ? "," : "");
	n += (size_t)snprintf(y + n, cap - n, "]\nproxy-groups:\n");
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(y + n, cap - n,
				      "  - {name: g%d, type: select, proxies: *m}\n", i);
	r = load_buf(y, n, &cfg, &err);
	T_EQ_INT(r, -EINVAL);
	T_CHECK(strstr(err.msg, "too large once YAML aliases are expanded") != NULL);
	config_free(cfg);
	free(y);
}

/* Byte columns with multi-byte characters, a BOM, CRLF and NEL. */
static void test_positions(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	char line[700];

	expect_err("proxies:\n  - {name: \"\xc3\xa4\xc3\xa4\", type: socks5, server: \"x!\", port: "
		   "1}\n",
		   2, 44, "invalid character '!'");
	/* A BOM is not a column; and it must not end the top mapping early
	 * (libyaml does, when told the encoding). */
	expect_err("\xef\xbb\xbflog-level: x\n", 1, 12, "log-level: expected");
	expect_err("\xef\xbb\xbfipv6: true\nlog-level: x\n", 2, 12, "log-level: expected");
	expect_err("\xef\xbb\xbf\xff", 1, 1, "invalid leading UTF-8 octet");
	expect_err("ipv6: true\r\nlog-level: x\r\n", 2, 12, "log-level: expected");
	expect_err("ipv6: true\rlog-level: x\r", 2, 12, "log-level: expected");
	expect_err("ipv6: true\xc2\x85log-level: x\n", 2, 12, "log-level: expected");
	/* Escapes make the in-value offset unknowable: the value's start. */
	expect_err("proxies:\n  - {name: a, type: socks5, server: \"\\x62ad!\", port: 1}\n", 2, 38,
		   "invalid character '!'");

	T_EQ_INT(load("rules:\n  - 'DOMAIN,x,DIRECT'\n  - >-\n    MATCH,DIRECT\n", &cfg, &err), 0);
	if (cfg && cfg->n_rules == 2) {
		T_EQ_INT(cfg->rules[0].pos.line, 2);
		T_EQ_INT(cfg->rules[0].pos.col, 6);
		T_EQ_STR(cfg->rules[1].text, "MATCH,DIRECT");
		T_EQ_INT(cfg->rules[1].pos.line, 3); /* a block scalar: its indicator */
	}
	config_free(cfg);

	/* Anchors and tags before a scalar are skipped; an alias points at
	 * the anchored text. */
	T_EQ_INT(load("rules:\n  - &x 'DOMAIN,x,DIRECT'\n  - !!str MATCH,DIRECT\n  - *x\n", &cfg,
		      &err),
		 0);
	if (cfg && cfg->n_rules == 3) {
		T_EQ_INT(cfg->rules[0].pos.line, 2);
		T_EQ_INT(cfg->rules[0].pos.col, 9);
		T_EQ_INT(cfg->rules[1].pos.col, 11);
		T_EQ_INT(cfg->rules[2].pos.line, 2);
		T_EQ_INT(cfg->rules[2].pos.col, 9);
	}
	config_free(cfg);

	T_EQ_INT(load("log-level: loud\n", &cfg, &err), -EINVAL);
	conf_err_format(&err, line, sizeof(line));
	T_EQ_STR(line, "t.yaml:1:12: log-level: expected silent, error, warning, info or debug, "
		       "got \"loud\"");
}

/* Only the first document counts, but the rest must parse. */
static void test_documents(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	const struct config_warning *w;

	T_EQ_INT(load("ipv6: false\n---\nipv6: true\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(!cfg->ipv6);
		w = find_warning(cfg, "only the first YAML document is read");
		T_CHECK(w && w->pos.line == 3 && w->pos.col == 1);
		config_free(cfg);
	}
	T_EQ_INT(load("ipv6: false\n...\n", &cfg, &err), 0);
	if (cfg) {
		T_EQ_INT(cfg->n_warnings, 0);
		config_free(cfg);
	}
	/* An indented first key: the mapping ends at line 2, which must
	 * then fail rather than vanish. */
	expect_err("  ipv6: false\nlog-level: debug\n", 2, 1, "YAML syntax error");
}

static void test_load_file(void)
{
	struct config *cfg = (struct config *)1;
	struct conf_err err;

	T_EQ_INT(load_path(T2S_TEST_DATA_DIR "/does-not-exist.yaml", &cfg, &err), -ENOENT);
	T_CHECK(cfg == NULL);
	T_CHECK(strstr(err.msg, "cannot open") != NULL);
	T_CHECK(strstr(err.file, "does-not-exist.yaml") != NULL);
	T_EQ_INT(load_path(T2S_TEST_DATA_DIR, &cfg, &err), -EISDIR);
	T_CHECK(cfg == NULL);
	config_free(NULL);
}

/* The system-wide mode's tun keys (mihomo's RawTun names). */
static void test_tun_auto_route(void)
{
	struct config *cfg = NULL;
	struct conf_err err;

	T_EQ_INT(load("tun:\n  auto-route: true\n  strict-route: yes\n  dns-hijack: []\n"
		      "  iproute2-table-index: 100\n  iproute2-rule-index: 500\n"
		      "  route-address: [0.0.0.0/1, '2001:db8::/32']\n"
		      "  route-exclude-address: 192.168.0.1/24\n"
		      "  include-uid: [1000, 1001]\n  exclude-uid: 0\n",
		      &cfg, &err),
		 0);
	if (cfg == NULL)
		return;
	T_CHECK(cfg->tun.has_auto_route && cfg->tun.auto_route);
	T_CHECK(cfg->tun.has_strict_route && cfg->tun.strict_route);
	T_CHECK(cfg->tun.has_dns_hijack);
	T_EQ_INT(cfg->tun.n_dns_hijack, 0);
	T_EQ_INT(cfg->tun.table_index, 100);
	T_EQ_INT(cfg->tun.rule_index, 500);
	T_EQ_INT(cfg->tun.n_route_address, 2);
	T_EQ_INT(cfg->tun.route_address[1].family, AF_INET6);
	T_EQ_STR(cfg->tun.route_address[1].text, "2001:db8::/32");
	T_EQ_INT(cfg->tun.n_route_exclude_address, 1);
	T_EQ_STR(cfg->tun.route_exclude_address[0].text, "192.168.0.1/24");
	T_EQ_INT(cfg->tun.n_include_uid, 2);
	T_EQ_INT(cfg->tun.include_uid[1], 1001);
	T_EQ_INT(cfg->tun.n_exclude_uid, 1);
	T_EQ_INT(cfg->tun.exclude_uid[0], 0);
	T_EQ_INT(cfg->n_warnings, 0);
	T_CHECK(!cfg->tun.has_auto_detect);
	config_free(cfg);
	cfg = NULL;
	T_EQ_INT(load("max-memory: 64\n", &cfg, &err), 0);
	if (cfg) {
		T_EQ_INT(cfg->max_memory_mb, 64);
		T_EQ_INT(cfg->n_warnings, 0);
		config_free(cfg);
		cfg = NULL;
	}
	expect_err("max-memory: 2\n", 1, 13, "max-memory");
	T_EQ_INT(load("max-half-open: 256\n", &cfg, &err), 0);
	if (cfg) {
		T_EQ_INT(cfg->max_half_open, 256);
		T_EQ_INT(cfg->n_warnings, 0);
		config_free(cfg);
		cfg = NULL;
	}
	expect_err("max-half-open: 70000\n", 1, 16, "max-half-open");
	/* mihomo's keepalive keys: seconds (0 = the default), and off */
	T_EQ_INT(load("keep-alive-idle: 30\nkeep-alive-interval: 5\ndisable-keep-alive: true\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_EQ_INT(cfg->keepalive_idle_s, 30);
		T_EQ_INT(cfg->keepalive_intvl_s, 5);
		T_CHECK(cfg->disable_keepalive);
		T_EQ_INT(cfg->n_warnings, 0);
		config_free(cfg);
		cfg = NULL;
	}
	T_EQ_INT(load("ipv6: true\n", &cfg, &err), 0);
	if (cfg) {
		T_EQ_INT(cfg->keepalive_idle_s, 0);
		T_EQ_INT(cfg->keepalive_intvl_s, 0);
		T_CHECK(!cfg->disable_keepalive);
		config_free(cfg);
		cfg = NULL;
	}
	expect_err("keep-alive-idle: 40000\n", 1, 18, "keep-alive-idle");
	expect_err("keep-alive-interval: -1\n", 1, 22, "keep-alive-interval");
	expect_err("disable-keep-alive: sometimes\n", 1, 21, "disable-keep-alive");
	T_EQ_INT(load("tun:\n  auto-detect-interface: true\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(cfg->tun.has_auto_detect && cfg->tun.auto_detect);
		T_EQ_INT(cfg->n_warnings, 0);
		config_free(cfg);
	}

	expect_err("tun:\n  auto-route: maybe\n", 2, 15, "tun.auto-route: expected true or false");
	expect_err("tun:\n  iproute2-rule-index: 32756\n", 2, 24, "tun.iproute2-rule-index");
	expect_err("tun:\n  iproute2-table-index: 0\n", 2, 25, "tun.iproute2-table-index");
	expect_err("tun:\n  route-address: [10.0.0.0/33]\n", 2, 28,
		   "tun.route-address: prefix length 33");
	expect_err("tun:\n  route-exclude-address: [fd00::/8, nope]\n", 2, 37,
		   "tun.route-exclude-address: expected an IPv4 CIDR");
	expect_err("tun:\n  include-uid: [x]\n", 2, 17, "tun.include-uid");
	expect_err("tun:\n  strict-rout: true\n", 2, 3,
		   "tun: unknown key \"strict-rout\" (did you mean \"strict-route\"?)");
}

/* sniffer: mihomo's keys, defaults and per-protocol override. */
static void test_sniffer(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	const struct config_sniffer *sn;
	const char *y = "sniffer:\n"
			"  enable: true\n"
			"  sniff:\n"
			"    HTTP: {ports: [80, 8080-8880], override-destination: false}\n"
			"    tls: {}\n"
			"    QUIC:\n"
			"  override-destination: true\n"
			"  force-domain: [+.force.test]\n"
			"  skip-domain: [Mijia Cloud, +.skip.test]\n"
			"  skip-src-address: [10.0.0.0/8]\n";

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	sn = &cfg->sniffer;
	T_CHECK(sn->present && sn->enable && sn->parse_pure_ip && sn->force_dns_mapping);
	T_CHECK(sn->proto[CONFIG_SNIFF_HTTP].on &&
		!sn->proto[CONFIG_SNIFF_HTTP].override_destination);
	T_EQ_INT(sn->proto[CONFIG_SNIFF_HTTP].n_ports, 2);
	T_EQ_INT(sn->proto[CONFIG_SNIFF_HTTP].ports[1].lo, 8080);
	T_EQ_INT(sn->proto[CONFIG_SNIFF_HTTP].ports[1].hi, 8880);
	/* no ports: the protocol's own; the section's override */
	T_EQ_INT(sn->proto[CONFIG_SNIFF_TLS].n_ports, 1);
	T_EQ_INT(sn->proto[CONFIG_SNIFF_TLS].ports[0].lo, 443);
	T_CHECK(sn->proto[CONFIG_SNIFF_TLS].override_destination);
	T_CHECK(sn->proto[CONFIG_SNIFF_QUIC].on);
	T_EQ_INT(sn->n_force_domain, 1);
	T_EQ_INT(sn->n_skip_domain, 2);
	T_EQ_INT(sn->n_skip_src, 1);
	T_EQ_INT(sn->skip_src[0].prefix, 8);
	config_free(cfg);

	T_CHECK(load("sniffer:\n  sniff:\n    SSH: {}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "unknown protocol") != NULL && err.line == 3 && err.col == 5);
	T_CHECK(load("sniffer:\n  sniff:\n    TLS: {ports: [0-5]}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "expected a port or a range") != NULL);
	T_CHECK(load("sniffer:\n  sniff:\n    TLS: {port: [443]}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "unknown key") != NULL);
	/* absent: off, mihomo's defaults */
	T_EQ_INT(load("dns: {enable: true}\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(!cfg->sniffer.present && !cfg->sniffer.enable &&
			cfg->sniffer.override_destination);
		config_free(cfg);
	}
}

/* dns keys beyond the basics: fake-ip-filter-mode, hosts... */
static void test_dns_keys(void)
{
	struct config *cfg = NULL;
	struct conf_err err;

	T_EQ_INT(load("dns: {enable: true, fake-ip-filter-mode: whitelist}\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(cfg->dns.fake_ip_filter_whitelist);
		config_free(cfg);
	}
	T_CHECK(load("dns: {fake-ip-filter-mode: greylist}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "blacklist or whitelist") != NULL);

	T_EQ_INT(load("hosts:\n"
		      "  router.lan: 192.168.1.1\n"
		      "  '+.corp.test': [10.0.0.1, 'fd00::1']\n"
		      "  alias.test: other.test\n"
		      "  mixed.test: [10.0.0.2, other.test]\n"
		      "dns: {use-hosts: false, use-system-hosts: false}\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_EQ_INT(cfg->n_hosts, 4);
		T_EQ_STR(cfg->hosts[1].name, "+.corp.test");
		T_EQ_INT(cfg->hosts[1].n_addrs, 2);
		T_EQ_STR(cfg->hosts[1].addrs[1].text, "fd00::1");
		T_EQ_STR(cfg->hosts[2].alias, "other.test"); /* an alias */
		T_EQ_INT(cfg->hosts[2].n_addrs, 0);
		T_EQ_INT(cfg->hosts[3].n_addrs, 1);
		T_CHECK(!cfg->dns.use_hosts && !cfg->dns.use_system_hosts);
		T_CHECK(find_warning(cfg, "not an entry of a list") != NULL);
		config_free(cfg);
	}
	T_EQ_INT(load("dns: {enable: true}\n", &cfg, &err), 0);
	if (cfg) {
		T_CHECK(cfg->dns.use_hosts && cfg->dns.use_system_hosts);
		config_free(cfg);
	}
	T_EQ_INT(load("dns:\n"
		      "  nameserver-policy:\n"
		      "    'a.test,+.b.test': [10.0.0.1, 'tcp://10.0.0.2:5353']\n"
		      "    'geosite:cn': 10.0.0.3\n"
		      "    'geoip:cn': 10.0.0.4\n"
		      "    'c.test': 'https://doh.example/dns-query'\n"
		      "  fallback: [10.0.0.9]\n"
		      "  fallback-filter: {geoip: true, ipcidr: [240.0.0.0/4], domain: [+.x],\n"
		      "                    geoip-code: JP, geosite: [gfw, x]}\n"
		      "  default-nameserver: [10.0.0.8]\n"
		      "  proxy-server-nameserver: [10.0.0.7, 'tcp://10.0.0.6:53']\n",
		      &cfg, &err),
		 0);
	if (cfg) {
		T_EQ_INT(cfg->dns.n_ns_policy, 3); /* https:// values are kept */
		T_EQ_STR(cfg->dns.ns_policy[0].key.text, "a.test,+.b.test");
		T_EQ_INT(cfg->dns.ns_policy[0].n_servers, 2);
		T_EQ_STR(cfg->dns.ns_policy[1].key.text, "geosite:cn"); /* for the generation */
		T_EQ_STR(cfg->dns.ns_policy[2].servers[0].text, "https://doh.example/dns-query");
		T_CHECK(cfg->dns.fallback_geoip);
		T_EQ_STR(cfg->dns.fallback_geoip_code.text, "JP");
		T_EQ_INT(cfg->dns.n_fallback_geosite, 2);
		T_EQ_INT(cfg->dns.n_fallback, 1);
		T_EQ_INT(cfg->dns.n_fallback_ipcidr, 1);
		T_EQ_INT(cfg->dns.n_fallback_domain, 1);
		T_EQ_INT(cfg->dns.n_default_nameserver, 1);
		T_EQ_INT(cfg->dns.n_proxy_server_nameserver, 2);
		T_EQ_STR(cfg->dns.proxy_server_nameserver[1].text, "tcp://10.0.0.6:53");
		T_CHECK(find_warning(cfg, "geoip:cn") != NULL); /* not a policy key */
		config_free(cfg);
	}
	T_CHECK(load("dns: {nameserver-policy: {a.test: 'udp://x y'}}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "dns.nameserver-policy") != NULL);
	T_CHECK(load("dns: {proxy-server-nameserver: ['udp://x y']}\n", &cfg, &err) < 0);
	T_CHECK(strstr(err.msg, "dns.proxy-server-nameserver") != NULL);
}

/* dns.fake-ip-filter as mihomo reads it: IDN patterns to punycode, a
 * pattern no DNS name can match dropped with a warning, rule-set: and
 * geosite: entries kept for the router; sub-rules loaded by name. */
static void test_fake_filter_and_sub_rules(void)
{
	struct config *cfg = NULL;
	struct conf_err err;
	const char *y = "dns:\n"
			"  fake-ip-filter:\n"
			"    - '+.b\xc3\xbc"
			"cher.de'\n"
			"    - '+.?.example'\n"
			"    - 'rule-set:lan,cn'\n"
			"    - 'geosite:private'\n"
			"    - '*.lan'\n"
			"sub-rules:\n"
			"  web: ['DST-PORT,443,DIRECT', 'MATCH,REJECT']\n"
			"rules:\n"
			"  - SUB-RULE,(NETWORK,TCP),web\n";

	T_EQ_INT(load(y, &cfg, &err), 0);
	if (!cfg)
		return;
	T_EQ_INT(cfg->dns.n_fake_ip_filter, 4);
	T_EQ_STR(cfg->dns.fake_ip_filter[0].text, "+.xn--bcher-kva.de");
	T_EQ_STR(cfg->dns.fake_ip_filter[1].text, "rule-set:lan,cn");
	T_EQ_STR(cfg->dns.fake_ip_filter[2].text, "geosite:private");
	T_EQ_STR(cfg->dns.fake_ip_filter[3].text, "*.lan");
	T_CHECK(find_warning(cfg, "\"+.?.example\" can match no name") != NULL);
	T_EQ_INT(cfg->n_sub_rules, 1);
	T_EQ_STR(cfg->sub_rules[0].name, "web");
	T_EQ_INT(cfg->sub_rules[0].n_rules, 2);
	config_free(cfg);

	expect_err("sub-rules: {web: ['DST-PORT,443,nope']}\n", 1, 33,
		   "unknown proxy or proxy group \"nope\"");
	expect_err("rules: ['SUB-RULE,(NETWORK,TCP),web']\n", 1, 33, "unknown sub-rules \"web\"");
}

int main(void)
{
	T_RUN(test_example);
	T_RUN(test_defaults);
	T_RUN(test_warnings);
	T_RUN(test_geox);
	T_RUN(test_sniffer);
	T_RUN(test_dns_keys);
	T_RUN(test_warning_order);
	T_RUN(test_pipelining);
	T_RUN(test_yaml_errors);
	T_RUN(test_type_errors);
	T_RUN(test_cidr_dns_errors);
	T_RUN(test_proxy_errors);
	T_RUN(test_group_errors);
	T_RUN(test_group_resolution);
	T_RUN(test_rule_provider_errors);
	T_RUN(test_rule_provider_http);
	T_RUN(test_unknown_keys);
	T_RUN(test_all_errors);
	T_RUN(test_no_cascades);
	T_RUN(test_error_limit);
	T_RUN(test_aliases);
	T_RUN(test_alias_budget);
	T_RUN(test_positions);
	T_RUN(test_documents);
	T_RUN(test_load_file);
	T_RUN(test_tun_auto_route);
	T_RUN(test_fake_filter_and_sub_rules);
	return test_summary();
}
