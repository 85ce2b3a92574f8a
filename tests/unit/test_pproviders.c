/* proxy-providers and the group fillers: a provider file with proxies we
 * speak and some we do not, filter / exclude-filter / override, use,
 * include-all, include-all-proxies, an http provider not cached yet, and
 * what the router makes of an empty group. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tun2socks/route/router.h"
#include "test.h"

static char dir[] = "/tmp/t2s-pproviders-XXXXXX";
static char path[300];

static const struct config_group *group(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_groups; i++)
		if (!strcmp(cfg->groups[i].name, name))
			return &cfg->groups[i];
	return NULL;
}

static bool warned(const struct config *cfg, const char *s)
{
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (strstr(cfg->warnings[i].msg, s))
			return true;
	return false;
}

static void members(const struct config_group *g, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; g && i < g->n_members && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? "," : "", g->members[i].name);
}

static void test_providers(void)
{
	static const char sub[] =
		"proxies:\n"
		"  - {name: hk1, type: socks5, server: 192.0.2.1, port: 1080}\n"
		"  - {name: hk2, type: http, server: 192.0.2.2, port: 3128}\n"
		"  - {name: us1, type: socks5, server: 192.0.2.3, port: 1080}\n"
		"  - {name: jp1, type: socks5, server: 192.0.2.4, port: 1080}\n"
		"  - {name: ss1, type: ss, server: 192.0.2.9, port: 8388, cipher: x, "
		"password: y}\n"
		"  - {name: vm1, type: vmess, server: 192.0.2.9, port: 443, uuid: x}\n";
	char text[2048], m[300];
	struct conf_err_list errs;
	struct config *cfg = NULL;
	struct router_gen *g = NULL;
	struct router_gen_opts o = { .no_resolve = true };
	struct conf_err err;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/sub.yaml", dir);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(sub, f);
	fclose(f);
	snprintf(text, sizeof(text),
		 "proxies:\n"
		 "  - {name: own1, type: socks5, server: 192.0.2.10, port: 1080}\n"
		 "  - {name: own-us, type: socks5, server: 192.0.2.11, port: 1080}\n"
		 "proxy-providers:\n"
		 "  sub:\n"
		 "    type: file\n"
		 "    path: %s\n"
		 "    filter: 'hk|(?i)US'\n"
		 "    override: {udp: false, additional-prefix: '[S] '}\n"
		 "  later: {type: http, url: 'http://lists.test/p.yaml', interval: 3600}\n"
		 "proxy-groups:\n"
		 "  - {name: G1, type: select, use: [sub]}\n"
		 "  - {name: G2, type: url-test, include-all: true, exclude-filter: '(?i)us'}\n"
		 "  - {name: G3, type: select, include-all-proxies: true}\n"
		 "  - {name: G4, type: fallback, use: [later]}\n"
		 "  - {name: G5, type: select, proxies: [DIRECT], use: [sub], filter: '\\d$`hk2'}\n"
		 "rules:\n"
		 "  - DOMAIN,four.test,G4\n"
		 "  - MATCH,G1\n",
		 path);
	setenv("T2S_CACHE_DIR", dir, 1);
	r = config_load_buf(text, strlen(text), "pp.yaml", &cfg, &errs);
	T_EQ_INT(r, 0);
	for (size_t i = 0; r < 0 && i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (cfg == NULL)
		return;
	T_EQ_INT(cfg->n_own_proxies, 2);
	T_EQ_INT(cfg->n_proxy_providers, 2);
	/* hk1, hk2, us1 pass the filter; jp1 not; ss1, vm1 cannot be spoken */
	T_EQ_INT(cfg->n_proxies, 5);
	if (cfg->n_proxies == 5) {
		T_EQ_STR(cfg->proxies[2].name, "[S] hk1");
		T_CHECK(!cfg->proxies[2].udp); /* override */
		T_EQ_STR(cfg->proxies[4].name, "[S] us1");
	}
	T_EQ_INT(cfg->proxy_providers[0].n, 3);
	T_EQ_INT(cfg->proxy_providers[0].n_skipped, 3);
	T_CHECK(warned(cfg, "proxy-providers: \"sub\": 2 proxies of types tun2socks does not "
			    "speak left out (ss, vmess)"));
	T_CHECK(warned(cfg, "proxy-providers: \"later\": not downloaded yet"));
	T_CHECK(warned(cfg, "proxy group \"G4\": no members"));
	members(group(cfg, "G1"), m, sizeof(m));
	T_EQ_STR(m, "[S] hk1,[S] hk2,[S] us1");
	members(group(cfg, "G2"), m, sizeof(m));
	T_EQ_STR(m, "own1,[S] hk1,[S] hk2");
	members(group(cfg, "G3"), m, sizeof(m));
	T_EQ_STR(m, "own1,own-us");
	members(group(cfg, "G5"), m, sizeof(m));
	T_EQ_STR(m, "DIRECT,[S] hk1,[S] hk2,[S] us1");

	r = router_gen_build(cfg, &o, &g, &err);
	T_EQ_INT(r, 0);
	if (g) {
		ip_addr_t dst, src;
		struct route rt;
		struct route_query q = { .src = &src,
					 .src_port = 40000,
					 .dst = &dst,
					 .dst_port = 443,
					 .dst_is_fake = true };

		ipaddr_aton("198.18.0.1", &src);
		ipaddr_aton("198.18.0.9", &dst);
		q.domain = "x.test";
		T_EQ_INT(router_explain(g, &q, NULL, NULL, NULL, &rt), 0);
		T_EQ_STR(rt.via, "[S] hk1");
		T_EQ_STR(rt.up->server_str, "192.0.2.1:1080");
		router_gen_unref(rt.hold);
		q.domain = "four.test"; /* an empty group: DIRECT */
		T_EQ_INT(router_explain(g, &q, NULL, NULL, NULL, &rt), 0);
		T_EQ_STR(rt.via, "DIRECT");
		T_EQ_STR(rt.group, "G4");
		router_gen_unref(rt.hold);
		router_gen_unref(g);
	}
	config_free(cfg);
	unsetenv("T2S_CACHE_DIR");
}

static void test_broken_provider(void)
{
	static const char text[] = "proxy-providers:\n"
				   "  bad: {type: file, path: /nonexistent/x.yaml}\n"
				   "proxy-groups:\n"
				   "  - {name: G, type: select, use: [bad], proxies: [DIRECT]}\n";
	struct conf_err_list errs;
	struct config *cfg = NULL;

	T_EQ_INT(config_load_buf(text, strlen(text), "b.yaml", &cfg, &errs), 0);
	if (cfg == NULL)
		return;
	T_CHECK(warned(cfg, "proxy-providers: \"bad\": /nonexistent/x.yaml"));
	T_CHECK(warned(cfg, "the provider is empty"));
	T_EQ_INT(group(cfg, "G")->n_members, 1);
	config_free(cfg);
}

/* type inline: the proxies of "payload", read like the config's own
 * (errors at their line here), filtered, unspeakable ones left out; and
 * health-check: a group that sets no url takes the first used provider's,
 * with enable its interval/timeout/lazy/expected-status where the group
 * set none (mihomo's outboundgroup parser). */
static void test_inline_and_hc(void)
{
	static const char text[] =
		"proxy-providers:\n"
		"  inl:\n"
		"    type: inline\n"
		"    filter: '^in'\n"
		"    health-check: {enable: true, url: 'http://hc.test/x', interval: 120, "
		"timeout: 900, lazy: false, expected-status: 204}\n"
		"    payload:\n"
		"      - {name: in-a, type: socks5, server: 192.0.2.1, port: 1080}\n"
		"      - {name: in-ss, type: ss, server: 192.0.2.2, port: 8388, cipher: x, "
		"password: y}\n"
		"      - {name: out-b, type: socks5, server: 192.0.2.3, port: 1080}\n"
		"  off:\n"
		"    type: inline\n"
		"    health-check: {url: 'http://off.test/'}\n"
		"    payload: [{name: o1, type: http, server: 192.0.2.4, port: 3128}]\n"
		"proxy-groups:\n"
		"  - {name: A, type: url-test, use: [inl]}\n"
		"  - {name: B, type: fallback, use: [inl], interval: 30, lazy: true}\n"
		"  - {name: C, type: url-test, use: [inl], url: 'http://own.test/'}\n"
		"  - {name: D, type: fallback, use: [off, inl]}\n"
		"  - {name: E, type: url-test, include-all: true}\n";
	static const char bad[] = "proxy-providers:\n"
				  "  inl:\n"
				  "    type: inline\n"
				  "    payload:\n"
				  "      - {name: p1, type: socks5, server: 192.0.2.1}\n"
				  "  none: {type: inline}\n";
	struct conf_err_list errs;
	struct config *cfg = NULL;
	const struct config_group *g;
	char m[300];

	T_EQ_INT(config_load_buf(text, strlen(text), "i.yaml", &cfg, &errs), 0);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "  %d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (cfg == NULL)
		return;
	members(group(cfg, "A"), m, sizeof(m));
	T_EQ_STR(m, "in-a");
	T_CHECK(warned(cfg, "1 proxy of types tun2socks does not speak left out (ss)"));
	g = group(cfg, "A");
	T_EQ_STR(g->url, "http://hc.test/x");
	T_EQ_INT(g->interval, 120);
	T_EQ_INT(g->timeout_ms, 900);
	T_CHECK(!g->lazy);
	T_EQ_INT(g->n_expected, 1);
	g = group(cfg, "B"); /* its own interval and lazy stay */
	T_EQ_STR(g->url, "http://hc.test/x");
	T_EQ_INT(g->interval, 30);
	T_CHECK(g->lazy);
	T_EQ_INT(g->timeout_ms, 900);
	g = group(cfg, "C"); /* a url of its own: nothing taken */
	T_EQ_STR(g->url, "http://own.test/");
	T_EQ_INT(g->interval, 300);
	T_EQ_INT(g->timeout_ms, 5000);
	g = group(cfg, "D"); /* off's url (first), its check not enabled */
	T_EQ_STR(g->url, "http://off.test/");
	T_EQ_INT(g->interval, 300);
	T_CHECK(g->lazy);
	members(g, m, sizeof(m));
	T_EQ_STR(m, "o1,in-a");
	g = group(cfg, "E"); /* include-all uses every provider: inl's check first */
	T_EQ_STR(g->url, "http://hc.test/x");
	T_EQ_INT(g->interval, 120);
	config_free(cfg);

	cfg = NULL;
	T_CHECK(config_load_buf(bad, strlen(bad), "i.yaml", &cfg, &errs) < 0);
	T_EQ_INT(errs.n, 2);
	if (errs.n == 2) {
		T_EQ_INT(errs.v[0].line, 5); /* the payload entry's own line */
		T_CHECK(strstr(errs.v[0].msg, "port") != NULL);
		T_EQ_INT(errs.v[1].line, 6);
		T_CHECK(strstr(errs.v[1].msg, "type inline needs \"payload\"") != NULL);
	}
	config_free(cfg);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	T_RUN(test_providers);
	T_RUN(test_broken_provider);
	T_RUN(test_inline_and_hc);
	unlink(path);
	rmdir(dir);
	return test_summary();
}
