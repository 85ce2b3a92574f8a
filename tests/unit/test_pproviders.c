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

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	T_RUN(test_providers);
	T_RUN(test_broken_provider);
	unlink(path);
	rmdir(dir);
	return test_summary();
}
