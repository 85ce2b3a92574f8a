/* router: config + rule engine -> route decisions, driven through
 * router_explain() (the synchronous path `tun2socks match` uses) and the
 * route_ops interface flows use. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router.h"
#include "resolver/dns_hosts.h"
#include "test.h"

static const char conf_text[] =
	"proxies:\n"
	"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080, udp: true }\n"
	"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1081, udp: false }\n"
	"  - { name: h1, type: http, server: 192.0.2.3, port: 3128 }\n"
	"  - { name: r1, type: redirect, to: '127.0.0.1:8443' }\n"
	"  - { name: r6, type: redirect, to: '[::1]:53' }\n"
	"  - { name: ss, type: ss, server: 192.0.2.9, port: 8388, cipher: x, password: y }\n"
	"proxy-groups:\n"
	"  - { name: G, type: select, proxies: [h1, s1] }\n"
	"rule-providers:\n"
	"  inl: { type: inline, behavior: domain, payload: ['+.inline.test'] }\n"
	"rules:\n"
	"  - DOMAIN,api.example.com,r1\n"
	"  - DOMAIN,dns.example.com,r6\n"
	"  - DOMAIN-SUFFIX,web.test,G\n"
	"  - RULE-SET,inl,REJECT\n"
	"  - DOMAIN-KEYWORD,drop,REJECT-DROP\n"
	"  - PROCESS-NAME,curl,s2\n"
	"  - DOMAIN-SUFFIX,udp.test,s2\n"
	"  - DOMAIN-SUFFIX,udp.test,s1\n"
	"  - IP-CIDR,10.0.0.0/8,DIRECT\n"
	"  - MATCH,s1\n";

static struct router_gen *build(const char *text, struct config **cfg_out, struct conf_err *err,
				int *ret)
{
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err_list errs;
	struct config *cfg = NULL;
	struct router_gen *g = NULL;
	int r = config_load_buf(text, strlen(text), "r.yaml", &cfg, &errs);

	memset(err, 0, sizeof(*err));
	if (errs.n) /* the first in the file */
		*err = errs.v[0];
	if (r == 0)
		r = router_gen_build(cfg, &o, &g, err);
	*ret = r;
	*cfg_out = cfg;
	return g;
}

static int resolves_to_10(const char *name, struct sockaddr_storage *addrs, size_t max)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&addrs[0];

	(void)max;
	if (strcmp(name, "intranet.test") != 0)
		return -ENOENT;
	memset(addrs, 0, sizeof(*addrs));
	s4->sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", &s4->sin_addr);
	return 1;
}

/* Decides a flow to name (fake-ip: no address) or to the literal addr. */
static void decide(struct router_gen *g, const char *name, const char *addr, uint16_t port,
		   bool udp, const char *proc, struct route *rt)
{
	ip_addr_t dst, src;
	struct route_query q = {
		.udp = udp, .src = &src, .src_port = 40000, .dst = &dst, .dst_port = port
	};

	ipaddr_aton("198.18.0.1", &src);
	if (name) {
		q.domain = name;
		q.dst_is_fake = true;
		ipaddr_aton("198.18.0.9", &dst);
	} else {
		ipaddr_aton(addr, &dst);
	}
	T_EQ_INT(router_explain(g, &q, proc, NULL, resolves_to_10, rt), 0);
}

static void test_decisions(void)
{
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g;
	struct route rt;
	char t[300];
	int r;

	g = build(conf_text, &cfg, &err, &r);
	T_EQ_INT(r, 0);
	if (g == NULL)
		return;
	T_EQ_INT(router_gen_rule_count(g), 10);

	decide(g, "api.example.com", NULL, 443, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DIRECT); /* a redirect is DIRECT elsewhere */
	T_EQ_STR(rt.via, "r1");
	socks5_addr_str(&rt.target, t, sizeof(t));
	T_EQ_STR(t, "127.0.0.1:8443");
	router_gen_unref(rt.hold);

	decide(g, "dns.example.com", NULL, 53, true, NULL, &rt);
	socks5_addr_str(&rt.target, t, sizeof(t));
	T_EQ_STR(t, "[::1]:53");
	router_gen_unref(rt.hold);

	/* A group goes to its first member; the name reaches the proxy. */
	decide(g, "www.web.test", NULL, 80, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_PROXY);
	T_EQ_STR(rt.via, "h1");
	T_EQ_STR(rt.up->server_str, "192.0.2.3:3128");
	T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,web.test,G");
	T_EQ_INT(rt.target.atyp, SOCKS5_ATYP_DOMAIN);
	T_EQ_STR(rt.target.u.domain, "www.web.test");
	router_gen_unref(rt.hold);

	/* UDP cannot go to the HTTP member: the group's rule is skipped
	 * and MATCH decides. */
	decide(g, "www.web.test", NULL, 443, true, NULL, &rt);
	T_EQ_STR(rt.via, "s1");
	T_EQ_STR(rt.rule, "MATCH,s1");
	router_gen_unref(rt.hold);

	decide(g, "x.inline.test", NULL, 80, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	T_EQ_STR(rt.rule, "RULE-SET,inl,REJECT");
	router_gen_unref(rt.hold);

	decide(g, "dropme.test", NULL, 80, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DROP);
	T_EQ_STR(rt.via, "REJECT-DROP");
	T_CHECK(rt.proc_path == NULL); /* no process rule reached */
	router_gen_unref(rt.hold);

	/* The process is asked only because a PROCESS rule was reached. */
	decide(g, "other.test", NULL, 80, false, "curl", &rt);
	T_EQ_STR(rt.via, "s2");
	T_EQ_STR(rt.proc, "curl");
	router_gen_unref(rt.hold);
	/* and its executable goes with it (the API's processPath), however
	 * long */
	{
		ip_addr_t dst, src;
		struct route_query q = { .src = &src,
					 .src_port = 40000,
					 .dst = &dst,
					 .dst_port = 80,
					 .domain = "other.test",
					 .dst_is_fake = true };
		char longp[300];

		ipaddr_aton("198.18.0.1", &src);
		ipaddr_aton("198.18.0.9", &dst);
		T_EQ_INT(router_explain(g, &q, "curl", "/usr/bin/curl", NULL, &rt), 0);
		T_EQ_STR(rt.proc_path, "/usr/bin/curl");
		router_gen_unref(rt.hold);
		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		T_EQ_INT(router_explain(g, &q, "curl", longp, NULL, &rt), 0);
		T_EQ_STR(rt.proc, "curl");
		T_EQ_STR(rt.proc_path, longp);
		router_gen_unref(rt.hold);
	}

	/* udp: false: the s2 rule is skipped for UDP only. */
	decide(g, "a.udp.test", NULL, 53, false, NULL, &rt);
	T_EQ_STR(rt.via, "s2");
	router_gen_unref(rt.hold);
	decide(g, "a.udp.test", NULL, 53, true, NULL, &rt);
	T_EQ_STR(rt.via, "s1");
	T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,udp.test,s1");
	router_gen_unref(rt.hold);

	/* IP rule on a name: resolved (10.1.2.3) and matched; the target
	 * stays the name. */
	decide(g, "intranet.test", NULL, 22, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	T_EQ_STR(rt.rule, "IP-CIDR,10.0.0.0/8,DIRECT");
	T_EQ_STR(rt.target.u.domain, "intranet.test");
	router_gen_unref(rt.hold);
	/* A name that does not resolve: IP rules see no address. */
	decide(g, "nowhere.test", NULL, 22, false, NULL, &rt);
	T_EQ_STR(rt.rule, "MATCH,s1");
	router_gen_unref(rt.hold);

	decide(g, NULL, "10.9.9.9", 22, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	T_EQ_INT(rt.target.atyp, SOCKS5_ATYP_IPV4);
	router_gen_unref(rt.hold);

	router_gen_unref(g);
	config_free(cfg);
}

static void test_errors(void)
{
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g;
	int r;

	/* A rule naming an unsupported proxy fails at the target. */
	g = build(
		"proxies:\n  - { name: ss, type: ss, server: h, port: 1, cipher: x, password: y }\n"
		"rules:\n  - MATCH,ss\n",
		&cfg, &err, &r);
	T_EQ_INT(r, -EINVAL);
	T_CHECK(g == NULL);
	T_EQ_INT(err.line, 4);
	T_EQ_INT(err.col, 11);
	T_CHECK(strstr(err.msg, "unsupported type") != NULL);
	config_free(cfg);

	g = build("rules:\n  - DOMAIN-SUFFIX,x.test,Nope\n", &cfg, &err, &r);
	T_EQ_INT(r, -EINVAL);
	T_EQ_INT(err.line, 2);
	T_EQ_INT(err.col, 26);
	T_CHECK(strstr(err.msg, "Nope") != NULL);
	config_free(cfg);

	g = build("rules:\n  - GEOIP,CN,DIRECT\n", &cfg, &err, &r);
	T_EQ_INT(r, -EINVAL);
	T_CHECK(strstr(err.msg, "GEOIP") != NULL);
	config_free(cfg);

	g = build(
		"rule-providers:\n  f: { type: file, behavior: domain, path: /nonexistent/x.txt }\n"
		"rules:\n  - RULE-SET,f,DIRECT\n",
		&cfg, &err, &r);
	T_EQ_INT(r, -EINVAL);
	T_CHECK(strstr(err.msg, "/nonexistent/x.txt") != NULL);
	config_free(cfg);
}

/* No config: everything to the default upstream; without one, DIRECT. */
/* dns.fake-ip-filter's rule-set: entries (mihomo's parseDomain), and the
 * rule-set warnings of a build. */
static int r_unused;

static void test_fake_filter(void)
{
	static const char text[] =
		"dns: {enable: true, fake-ip-filter: ['rule-set:lan,cls', '+.plain.test']}\n"
		"rule-providers:\n"
		"  lan: {type: inline, behavior: domain, payload: ['+.lan', 'bad..x']}\n"
		"  cls: {type: inline, behavior: classical, payload: ['DOMAIN,nas.home,X', "
		"'IP-CIDR,10.0.0.0/8']}\n"
		"  ips: {type: inline, behavior: ipcidr, payload: ['10.0.0.0/8']}\n"
		"rules:\n  - MATCH,DIRECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	char buf[700];

	T_CHECK(g != NULL);
	if (g) {
		T_CHECK(router_gen_fake_filter(g, "printer.lan"));
		T_CHECK(router_gen_fake_filter(g, "lan"));
		T_CHECK(router_gen_fake_filter(g, "NAS.home."));
		T_CHECK(!router_gen_fake_filter(g, "home"));
		/* the static pattern is the interceptor's, not the router's */
		T_CHECK(!router_gen_fake_filter(g, "a.plain.test"));
		T_CHECK(!router_gen_fake_filter(g, "example.com"));
		T_EQ_INT(router_gen_warning_count(g), 3);
		T_EQ_STR(router_gen_warning(g, 0),
			 "r.yaml:3:61: warning: bad domain 'bad..x': empty label; entry skipped");
		T_EQ_STR(router_gen_warning(g, 1),
			 "r.yaml:3:3: warning: rule-set 'lan': 1 bad entry skipped, 1 loaded");
	}
	router_gen_unref(g);
	config_free(cfg);
	T_CHECK(!router_gen_fake_filter(NULL, "x.lan"));

	/* An unknown set, an ipcidr set: refused where written. */
	g = build("dns: {fake-ip-filter: ['rule-set:nope']}\nrules: ['MATCH,DIRECT']\n", &cfg, &err,
		  &r_unused);
	T_CHECK(g == NULL);
	conf_err_format(&err, buf, sizeof(buf));
	T_EQ_STR(buf, "r.yaml:1:25: dns.fake-ip-filter: unknown rule-set 'nope'");
	config_free(cfg);
	g = build("dns: {fake-ip-filter: ['rule-set:ips']}\nrule-providers:\n"
		  "  ips: {type: inline, behavior: ipcidr, payload: ['10.0.0.0/8']}\n",
		  &cfg, &err, &r_unused);
	T_CHECK(g == NULL);
	conf_err_format(&err, buf, sizeof(buf));
	T_EQ_STR(buf, "r.yaml:1:25: dns.fake-ip-filter: rule-set 'ips' is an ipcidr set; a "
		      "filter needs domain or classical sets");
	config_free(cfg);
}

/* PASS (a rule, a group's member): the next rule decides; a proxy of
 * type direct is DIRECT; and for UDP a
 * socks5 proxy without "udp: true" (mihomo's default) is passed the same
 * way. */
static void test_pass(void)
{
	static const char text[] = "proxies:\n"
				   "  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
				   "  - { name: dir, type: direct, udp: true }\n"
				   "proxy-groups:\n"
				   "  - { name: G, type: select, proxies: [PASS, s1] }\n"
				   "rules:\n"
				   "  - DOMAIN,direct.test,dir\n"
				   "  - DOMAIN-SUFFIX,pass.test,PASS\n"
				   "  - DOMAIN-SUFFIX,group.test,G\n"
				   "  - DOMAIN-SUFFIX,test,s1\n"
				   "  - MATCH,REJECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	struct route rt;

	T_CHECK(g != NULL);
	if (g) {
		decide(g, "a.pass.test", NULL, 80, false, NULL, &rt);
		T_EQ_STR(rt.via, "s1");
		T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,test,s1");
		router_gen_unref(rt.hold);
		/* a proxy of type direct goes DIRECT under its own name
		 * (mihomo's chains show it) */
		decide(g, "direct.test", NULL, 80, true, NULL, &rt);
		T_EQ_INT(rt.action, ROUTE_DIRECT);
		T_EQ_STR(rt.via, "dir");
		router_gen_unref(rt.hold);
		/* G is on PASS (its first member): its rule is skipped, as
		 * mihomo's tunnel skips a group that unwraps to PASS */
		decide(g, "a.group.test", NULL, 80, false, NULL, &rt);
		T_EQ_STR(rt.via, "s1");
		T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,test,s1");
		router_gen_unref(rt.hold);
		/* switched to s1, G decides */
		T_EQ_INT(group_table_select(router_gen_groups(g), "G", "s1"), 0);
		decide(g, "a.group.test", NULL, 80, false, NULL, &rt);
		T_EQ_STR(rt.via, "s1");
		T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,group.test,G");
		T_EQ_STR(rt.group, "G");
		router_gen_unref(rt.hold);
		T_EQ_INT(group_table_select(router_gen_groups(g), "G", "PASS"), 0);
		/* UDP: s1 has no "udp: true": its rule is passed too. */
		decide(g, "a.pass.test", NULL, 53, true, NULL, &rt);
		T_EQ_STR(rt.via, "REJECT");
		T_EQ_STR(rt.rule, "MATCH,REJECT");
		router_gen_unref(rt.hold);
	}
	router_gen_unref(g);
	config_free(cfg);
}

/* relay (mihomo's): members in order, groups resolved to what they pick,
 * DIRECT left out; the last is the route's proxy and the others its
 * chain; one left: that proxy alone; a chain carries no UDP (the next rule
 * decides); a member we cannot speak breaks the chain: REJECT. */
static void test_relay(void)
{
	static const char text[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080, udp: true }\n"
		"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1080, udp: true }\n"
		"  - { name: h, type: http, server: 192.0.2.3, port: 3128 }\n"
		"  - { name: ss1, type: ss, server: 192.0.2.9, port: 8388, cipher: x, password: y "
		"}\n"
		"proxy-groups:\n"
		"  - { name: Sel, type: select, proxies: [s2, s1] }\n"
		"  - { name: R, type: relay, proxies: [s1, DIRECT, Sel, h] }\n"
		"  - { name: One, type: relay, proxies: [DIRECT, s1] }\n"
		"  - { name: Bad, type: relay, proxies: [s1, ss1] }\n"
		"  - { name: Outer, type: select, proxies: [R, s1] }\n"
		"rules:\n"
		"  - DOMAIN-SUFFIX,r.test,R\n"
		"  - DOMAIN-SUFFIX,one.test,One\n"
		"  - DOMAIN-SUFFIX,bad.test,Bad\n"
		"  - DOMAIN-SUFFIX,outer.test,Outer\n"
		"  - MATCH,s2\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	struct route rt;

	T_CHECK(g != NULL);
	if (g == NULL)
		goto out;
	decide(g, "a.r.test", NULL, 443, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_PROXY);
	T_EQ_STR(rt.via, "h");
	T_EQ_STR(rt.group, "R");
	T_EQ_INT(rt.n_chain, 2);
	if (rt.n_chain == 2) {
		T_EQ_STR(rt.chain[0]->server_str, "192.0.2.1:1080");
		T_EQ_STR(rt.chain[1]->server_str, "192.0.2.2:1080"); /* Sel picks s2 */
	}
	router_gen_unref(rt.hold);
	decide(g, "a.r.test", NULL, 443, true, NULL, &rt);
	T_EQ_STR(rt.via, "s2");
	T_EQ_STR(rt.rule, "MATCH,s2");
	T_EQ_INT(rt.n_chain, 0);
	router_gen_unref(rt.hold);
	decide(g, "a.one.test", NULL, 443, true, NULL, &rt);
	T_EQ_STR(rt.via, "s1");
	T_EQ_INT(rt.n_chain, 0);
	router_gen_unref(rt.hold);
	decide(g, "a.bad.test", NULL, 443, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	router_gen_unref(rt.hold);
	/* a relay picked by another group keeps its chain */
	decide(g, "a.outer.test", NULL, 443, false, NULL, &rt);
	T_EQ_STR(rt.via, "h");
	T_EQ_STR(rt.group, "Outer");
	T_EQ_INT(rt.n_chain, 2);
	router_gen_unref(rt.hold);
out:
	router_gen_unref(g);
	config_free(cfg);
}

/* dialer-proxy (mihomo's proxydialer): the proxy or group it names
 * carries the connection to the proxy: a chain, built from the first hop
 * back (a dialer's own dialer first); no UDP through it; an unknown name
 * is a warning and rejects the proxy's flows. */
static void test_dialer_proxy(void)
{
	static const char text[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080, udp: true }\n"
		"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1080, udp: true }\n"
		"  - { name: d1, type: socks5, server: 192.0.2.5, port: 1080, udp: true, "
		"dialer-proxy: s1 }\n"
		"  - { name: d2, type: http, server: 192.0.2.6, port: 3128, dialer-proxy: Sel }\n"
		"  - { name: dd, type: socks5, server: 192.0.2.7, port: 1080, dialer-proxy: d1 }\n"
		"proxy-groups:\n"
		"  - { name: Sel, type: select, proxies: [s2, s1] }\n"
		"rules:\n"
		"  - DOMAIN-SUFFIX,d1.test,d1\n"
		"  - DOMAIN-SUFFIX,d2.test,d2\n"
		"  - DOMAIN-SUFFIX,dd.test,dd\n"
		"  - MATCH,s2\n";
	static const char bad[] = "proxies:\n"
				  "  - { name: d1, type: socks5, server: 192.0.2.5, port: 1080, "
				  "dialer-proxy: nope }\n"
				  "rules:\n"
				  "  - MATCH,d1\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	struct route rt;

	T_CHECK(g != NULL);
	if (g == NULL)
		goto out;
	decide(g, "a.d1.test", NULL, 443, false, NULL, &rt);
	T_EQ_STR(rt.via, "d1");
	T_EQ_INT(rt.n_chain, 1);
	if (rt.n_chain == 1)
		T_EQ_STR(rt.chain[0]->server_str, "192.0.2.1:1080");
	router_gen_unref(rt.hold);
	decide(g, "a.d1.test", NULL, 443, true, NULL, &rt); /* UDP: the next rule */
	T_EQ_STR(rt.via, "s2");
	T_EQ_INT(rt.n_chain, 0);
	router_gen_unref(rt.hold);
	decide(g, "a.d2.test", NULL, 443, false, NULL, &rt);
	T_EQ_STR(rt.via, "d2");
	T_EQ_INT(rt.n_chain, 1);
	if (rt.n_chain == 1)
		T_EQ_STR(rt.chain[0]->server_str, "192.0.2.2:1080"); /* Sel's pick */
	router_gen_unref(rt.hold);
	decide(g, "a.dd.test", NULL, 443, false, NULL, &rt);
	T_EQ_STR(rt.via, "dd");
	T_EQ_INT(rt.n_chain, 2);
	if (rt.n_chain == 2) {
		T_EQ_STR(rt.chain[0]->server_str, "192.0.2.1:1080");
		T_EQ_STR(rt.chain[1]->server_str, "192.0.2.5:1080");
	}
	router_gen_unref(rt.hold);
out:
	router_gen_unref(g);
	config_free(cfg);
	/* unknown: a warning at load (mihomo fails it when it dials), and
	 * the proxy's flows are rejected */
	g = build(bad, &cfg, &err, &r_unused);
	T_CHECK(g != NULL);
	T_CHECK(cfg && cfg->n_warnings == 1 &&
		strstr(cfg->warnings[0].msg, "dialer-proxy: unknown proxy or proxy group") != NULL);
	if (g) {
		decide(g, "x.test", NULL, 443, false, NULL, &rt);
		T_EQ_INT(rt.action, ROUTE_REJECT);
		router_gen_unref(rt.hold);
	}
	router_gen_unref(g);
	config_free(cfg);
}

/* mihomo's type: dns outbound: DNS in the TUN is answered before the
 * rules, so what a rule sends there is no DNS to answer: rejected, under
 * its name, TCP and UDP alike, also through a group. */
static void test_dns_proxy(void)
{
	static const char text[] = "proxies:\n"
				   "  - { name: dns-out, type: dns }\n"
				   "proxy-groups:\n"
				   "  - { name: G, type: select, proxies: [dns-out, DIRECT] }\n"
				   "rules:\n"
				   "  - DST-PORT,53,dns-out\n"
				   "  - DOMAIN-SUFFIX,g.test,G\n"
				   "  - MATCH,DIRECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	struct route rt;

	T_CHECK(g != NULL);
	if (g == NULL)
		goto out;
	decide(g, "a.test", NULL, 53, true, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	T_EQ_STR(rt.via, "dns-out");
	router_gen_unref(rt.hold);
	decide(g, "a.g.test", NULL, 443, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	T_EQ_STR(rt.group, "G");
	router_gen_unref(rt.hold);
	decide(g, "a.test", NULL, 443, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	router_gen_unref(rt.hold);
out:
	router_gen_unref(g);
	config_free(cfg);
}

/* sub-rules and SUB-RULE (mihomo's): the list's first rule that holds
 * decides; PASS or a proxy without UDP there passes the whole line. */
static void test_sub_rules(void)
{
	static const char text[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080, udp: true }\n"
		"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1080 }\n"
		"sub-rules:\n"
		"  web:\n"
		"    - DST-PORT,443,s1\n"
		"    - DOMAIN-SUFFIX,pass.test,PASS\n"
		"    - SUB-RULE,(DST-PORT,8080),alt\n"
		"  alt:\n"
		"    - MATCH,s2\n"
		"rules:\n"
		"  - SUB-RULE,(DOMAIN-SUFFIX,test),web\n"
		"  - DOMAIN-SUFFIX,pass.test,s2\n"
		"  - MATCH,REJECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g = build(text, &cfg, &err, &r_unused);
	struct route rt;
	char buf[700];

	T_CHECK(g != NULL);
	if (g) {
		decide(g, "a.web.test", NULL, 443, false, NULL, &rt);
		T_EQ_STR(rt.via, "s1");
		T_EQ_STR(rt.rule, "SUB-RULE,(DOMAIN-SUFFIX,test),web");
		router_gen_unref(rt.hold);
		decide(g, "a.web.test", NULL, 80, false, NULL, &rt);
		T_EQ_STR(rt.via, "REJECT");
		router_gen_unref(rt.hold);
		decide(g, "a.pass.test", NULL, 80, false, NULL, &rt);
		T_EQ_STR(rt.via, "s2");
		T_EQ_STR(rt.rule, "DOMAIN-SUFFIX,pass.test,s2");
		router_gen_unref(rt.hold);
		/* nested: web -> alt -> s2 */
		decide(g, "a.web.test", NULL, 8080, false, NULL, &rt);
		T_EQ_STR(rt.via, "s2");
		router_gen_unref(rt.hold);
		/* UDP: s2 carries none: the line is passed, the next decides */
		decide(g, "a.web.test", NULL, 8080, true, NULL, &rt);
		T_EQ_STR(rt.via, "REJECT");
		router_gen_unref(rt.hold);
	}
	router_gen_unref(g);
	config_free(cfg);

	g = build("sub-rules: {a: ['MATCH,DIRECT']}\nrules: ['SUB-RULE,(NETWORK,TCP),nope']\n",
		  &cfg, &err, &r_unused);
	T_CHECK(g == NULL);
	conf_err_format(&err, buf, sizeof(buf));
	T_EQ_STR(buf, "r.yaml:2:33: unknown sub-rules \"nope\"");
	config_free(cfg);
	/* a list that leads back to itself */
	g = build("sub-rules: {a: ['SUB-RULE,(NETWORK,TCP),a']}\nrules: "
		  "['SUB-RULE,(NETWORK,TCP),a']\n",
		  &cfg, &err, &r_unused);
	T_CHECK(g == NULL);
	conf_err_format(&err, buf, sizeof(buf));
	T_CHECK(strstr(buf, "sub-rules nested deeper than 8") != NULL);
	config_free(cfg);
}

static void test_no_rules(void)
{
	struct upstream_cfg up = { .proto = &upstream_socks5, .server_str = "192.0.2.7:1080" };
	struct router_gen_opts o = { .default_up = &up };
	struct conf_err err;
	struct router_gen *g = NULL;
	struct route rt;

	T_EQ_INT(router_gen_build(NULL, &o, &g, &err), 0);
	decide(g, "x.test", NULL, 80, false, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_PROXY);
	T_EQ_STR(rt.up->server_str, "192.0.2.7:1080");
	T_EQ_STR(rt.rule, "MATCH (no rules)");
	router_gen_unref(rt.hold);
	router_gen_unref(g);

	o.default_up = NULL;
	T_EQ_INT(router_gen_build(NULL, &o, &g, &err), 0);
	decide(g, NULL, "203.0.113.1", 80, true, NULL, &rt);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	router_gen_unref(rt.hold);
	router_gen_unref(g);
}

/* Through the route_ops flows use: a hosts: name gets its address before
 * the rules (a no-resolve IP rule matches it, nothing is resolved), and a
 * sniffed name for the rules only keeps the address as the target. */
static void test_hosts_and_keep_dst(void)
{
	static const char text[] = "proxies:\n"
				   "  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
				   "rules:\n"
				   "  - DOMAIN,sniffed.test,s1\n"
				   "  - IP-CIDR,10.0.0.0/8,DIRECT,no-resolve\n"
				   "  - MATCH,REJECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g;
	struct router_ctx *rc = NULL;
	struct dns_hosts *h = NULL;
	struct route_ops ops;
	struct route rt;
	ip_addr_t dst, src;
	struct route_query q = { .src = &src, .src_port = 40000, .dst = &dst, .dst_port = 443 };
	char t[300];
	int r;

	g = build(text, &cfg, &err, &r);
	T_EQ_INT(r, 0);
	if (g == NULL)
		return;
	T_EQ_INT(router_ctx_create(g, NULL, NULL, &rc), 0);
	T_EQ_INT(dns_hosts_create(&h), 0);
	T_EQ_INT(dns_hosts_add(h, "hosted.test", "10.5.5.5"), 0);
	ops = router_ctx_ops(rc);
	ipaddr_aton("198.18.0.1", &src);
	ipaddr_aton("198.18.0.9", &dst);
	q.domain = "hosted.test";
	q.dst_is_fake = true;
	/* without the table: no address, the IP rule cannot match */
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	ops.release(ops.ctx, rt.hold);
	router_ctx_set_hosts(rc, h);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	ops.release(ops.ctx, rt.hold);

	/* a sniffed name, rules only: DOMAIN matches, the target is dst */
	ipaddr_aton("203.0.113.7", &dst);
	q.domain = "sniffed.test";
	q.dst_is_fake = false;
	q.keep_dst = true;
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_INT(rt.action, ROUTE_PROXY);
	socks5_addr_str(&rt.target, t, sizeof(t));
	T_EQ_STR(t, "203.0.113.7:443");
	ops.release(ops.ctx, rt.hold);
	q.keep_dst = false; /* override-destination: the name is the target */
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	socks5_addr_str(&rt.target, t, sizeof(t));
	T_EQ_STR(t, "sniffed.test:443");
	ops.release(ops.ctx, rt.hold);
	router_ctx_destroy(rc);
	dns_hosts_destroy(h);
	config_free(cfg);
}

/* Hit counts: each live decision counts its rule in the generation that
 * made it; explain (tun2socks match) and the default count nothing. */
static void test_rule_hits(void)
{
	static const char text[] = "proxies:\n"
				   "  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
				   "rules:\n"
				   "  - DOMAIN,hit.test,s1\n"
				   "  - DOMAIN-SUFFIX,other.test,DIRECT\n"
				   "  - DST-PORT,22,REJECT\n";
	struct config *cfg;
	struct conf_err err;
	struct router_gen *g;
	struct router_ctx *rc = NULL;
	struct route_ops ops;
	struct route rt;
	ip_addr_t dst, src;
	struct route_query q = { .src = &src, .src_port = 40000, .dst = &dst, .dst_port = 443 };
	int r;

	g = build(text, &cfg, &err, &r);
	T_EQ_INT(r, 0);
	if (g == NULL)
		return;
	T_EQ_INT(router_ctx_create(router_gen_ref(g), NULL, NULL, &rc), 0);
	ops = router_ctx_ops(rc);
	ipaddr_aton("198.18.0.1", &src);
	ipaddr_aton("203.0.113.7", &dst);
	q.domain = "hit.test";
	for (int i = 0; i < 2; i++) {
		T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
		T_EQ_INT(rt.action, ROUTE_PROXY);
		ops.release(ops.ctx, rt.hold);
	}
	q.domain = "a.other.test";
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	ops.release(ops.ctx, rt.hold);
	q.domain = "nothing.test"; /* no rule: the default counts nowhere */
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	ops.release(ops.ctx, rt.hold);
	/* explain does not count */
	q.domain = "hit.test";
	T_EQ_INT(router_explain(g, &q, NULL, NULL, NULL, &rt), 0);
	router_gen_unref(rt.hold);
	T_EQ_INT((int)router_gen_rule_hits(router_ctx_current(rc), 0), 2);
	T_EQ_INT((int)router_gen_rule_hits(g, 1), 1);
	T_EQ_INT((int)router_gen_rule_hits(g, 2), 0);
	T_EQ_INT((int)router_gen_rule_hits(g, 3), 0); /* out of range */
	T_EQ_INT((int)router_gen_rule_hits(NULL, 0), 0);
	/* a new generation starts from zero */
	{
		struct config *cfg2;
		struct router_gen *g2 = build(text, &cfg2, &err, &r);

		T_EQ_INT(r, 0);
		if (g2 != NULL) {
			router_ctx_swap(rc, g2);
			T_EQ_INT((int)router_gen_rule_hits(router_ctx_current(rc), 0), 0);
			T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
			ops.release(ops.ctx, rt.hold);
			T_EQ_INT((int)router_gen_rule_hits(router_ctx_current(rc), 0), 1);
			T_EQ_INT((int)router_gen_rule_hits(g, 0), 2);
		}
		config_free(cfg2);
	}
	router_ctx_destroy(rc);
	router_gen_unref(g);
	config_free(cfg);
}

/* Mode global routes by the built-in GLOBAL selector: the first proxy
 * by default, then what PUT /proxies/GLOBAL selected (a proxy, DIRECT, a
 * group picking its member), kept across a reload by name and dropped
 * back to the default when the name is gone; a config group called
 * GLOBAL takes its place. Rule set sizes for /providers/rules. */
static void test_global(void)
{
	static const char text[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
		"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1080 }\n"
		"proxy-groups:\n"
		"  - { name: G, type: select, proxies: [s2, s1] }\n"
		"rule-providers:\n"
		"  inl: { type: inline, behavior: domain, payload: [a.test, b.test] }\n"
		"rules:\n"
		"  - RULE-SET,inl,REJECT\n"
		"  - MATCH,DIRECT\n";
	static const char text2[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
		"rules:\n"
		"  - MATCH,DIRECT\n";
	static const char text3[] =
		"proxies:\n"
		"  - { name: s1, type: socks5, server: 192.0.2.1, port: 1080 }\n"
		"  - { name: s2, type: socks5, server: 192.0.2.2, port: 1080 }\n"
		"proxy-groups:\n"
		"  - { name: GLOBAL, type: select, proxies: [s2, s1] }\n"
		"rules:\n"
		"  - MATCH,DIRECT\n";
	struct config *cfg, *cfg2 = NULL, *cfg3 = NULL;
	struct conf_err err;
	struct router_gen *g, *g2, *g3;
	struct router_ctx *rc = NULL;
	struct route_ops ops;
	struct route rt;
	ip_addr_t dst, src;
	struct route_query q = { .src = &src, .src_port = 40000, .dst = &dst, .dst_port = 443 };
	bool chosen = true;
	int r;

	g = build(text, &cfg, &err, &r);
	T_EQ_INT(r, 0);
	if (g == NULL)
		return;
	T_EQ_INT((int)router_gen_set_count(g, 0), 2);
	T_EQ_INT((int)router_gen_set_count(g, 1), 0);
	T_EQ_INT(router_ctx_create(router_gen_ref(g), NULL, NULL, &rc), 0);
	ops = router_ctx_ops(rc);
	ipaddr_aton("198.18.0.1", &src);
	ipaddr_aton("203.0.113.7", &dst);
	q.domain = "a.test";
	router_ctx_set_mode(rc, ROUTER_MODE_GLOBAL);
	T_EQ_STR(router_ctx_global(rc, &chosen), "s1");
	T_CHECK(!chosen);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_STR(rt.via, "s1");
	T_EQ_STR(rt.rule, "mode global");
	ops.release(ops.ctx, rt.hold);

	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "nobody"), -ENOENT);
	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "REJECT-DROP"), -ENOENT);
	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "s2"), 0);
	T_EQ_STR(router_ctx_global(rc, &chosen), "s2");
	T_CHECK(chosen);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_STR(rt.via, "s2");
	T_EQ_INT(rt.action, ROUTE_PROXY);
	ops.release(ops.ctx, rt.hold);
	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "DIRECT"), 0);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_INT(rt.action, ROUTE_DIRECT);
	ops.release(ops.ctx, rt.hold);
	/* a group: what it picks, the group named */
	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "G"), 0);
	T_EQ_INT(router_ctx_select(rc, "G", "s1"), 0);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_STR(rt.via, "s1");
	T_EQ_STR(rt.group, "G");
	ops.release(ops.ctx, rt.hold);
	/* rule mode does not look at it */
	router_ctx_set_mode(rc, ROUTER_MODE_RULE);
	T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
	T_EQ_INT(rt.action, ROUTE_REJECT);
	ops.release(ops.ctx, rt.hold);
	router_ctx_set_mode(rc, ROUTER_MODE_GLOBAL);

	/* kept by name across a reload; a name gone falls back */
	T_EQ_INT(router_ctx_select(rc, "GLOBAL", "s2"), 0);
	g2 = build(text2, &cfg2, &err, &r);
	T_EQ_INT(r, 0);
	if (g2 != NULL) {
		router_ctx_swap(rc, g2);
		T_EQ_STR(router_ctx_global(rc, &chosen), "s1");
		T_CHECK(!chosen);
		T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
		T_EQ_STR(rt.via, "s1");
		ops.release(ops.ctx, rt.hold);
	}
	/* the config's own GLOBAL group answers instead */
	g3 = build(text3, &cfg3, &err, &r);
	T_EQ_INT(r, 0);
	if (g3 != NULL) {
		router_ctx_swap(rc, g3);
		T_CHECK(router_ctx_global(rc, NULL) == NULL);
		T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
		T_EQ_STR(rt.via, "s2");
		T_EQ_STR(rt.group, "GLOBAL");
		ops.release(ops.ctx, rt.hold);
		T_EQ_INT(router_ctx_select(rc, "GLOBAL", "s1"), 0);
		T_EQ_INT(ops.decide(ops.ctx, &q, &rt, NULL, NULL), 0);
		T_EQ_STR(rt.via, "s1");
		ops.release(ops.ctx, rt.hold);
	}
	router_ctx_destroy(rc);
	router_gen_unref(g);
	config_free(cfg);
	config_free(cfg2);
	config_free(cfg3);
}

int main(void)
{
	T_RUN(test_decisions);
	T_RUN(test_errors);
	T_RUN(test_no_rules);
	T_RUN(test_fake_filter);
	T_RUN(test_pass);
	T_RUN(test_relay);
	T_RUN(test_dns_proxy);
	T_RUN(test_dialer_proxy);
	T_RUN(test_sub_rules);
	T_RUN(test_hosts_and_keep_dst);
	T_RUN(test_rule_hits);
	T_RUN(test_global);
	return test_summary();
}
