/* tun2socks: parse the command line; run the daemon, or check a config, or
 * explain which rule a connection would match, or run a command through
 * the daemon in a namespace of its own. */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <mbedtls/version.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#include "tun2socks/app/cli.h"
#include "tun2socks/app/ctl.h"
#include "config/config.h"
#include "tun2socks/app/daemon.h"
#include "tun2socks/app/generation.h"
#include "tun2socks/app/machine.h"
#include "tun2socks/app/run.h"
#include "lwip/init.h"
#include "tun2socks/route/router.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/route/group.h"
#include "tun2socks/app/providers.h"
#include "tun2socks/route/health.h"
#include "tun2socks/upstream/http_client.h"

static void print_version(void)
{
	char tls[32];

	mbedtls_version_get_string(tls);
	printf("tun2socks %s\n"
	       "  lwIP %s, c-ares %s, mbedTLS %s, libuv %s, libyaml %s\n",
	       T2S_VERSION, LWIP_VERSION_STRING, ares_version(NULL), tls, uv_version_string(),
	       yaml_get_version_string());
}

static void print_line(void *arg, bool error, const char *line)
{
	(void)arg;
	(void)error;
	fprintf(stderr, "%s\n", line);
}

/* The config as the daemon would load it, without resolving proxy hosts
 * (check and match work offline). Prints the warnings, or every error. */
static int load_all(const struct options *cfg, struct generation *g)
{
	struct generation_req req = { .cli = cfg, .no_resolve = true };
	struct generation_diag diag;
	int r = generation_load(&req, g, &diag);

	generation_report(g, &diag, r, print_line, NULL);
	return r;
}

struct fetch_wait {
	bool done;
	size_t failed;
};

static void check_fetched(void *arg, size_t failed)
{
	struct fetch_wait *w = arg;

	w->done = true;
	w->failed = failed;
}

/* check --fetch: downloads every http provider of gen into its cache,
 * validated as the daemon does (docs/design.md §19). 0, or -EIO when one
 * failed (each said why). */
static int check_fetch(struct generation *gen)
{
	struct http_client *http = NULL;
	struct providers *p = NULL;
	struct fetch_wait w = { 0 };
	uv_loop_t loop;
	int r;

	if (gen->conf == NULL)
		return 0;
	r = uv_loop_init(&loop);
	if (r < 0)
		return r;
	r = http_client_create(&loop, NULL, &http);
	if (r == 0)
		r = providers_create(&loop, http, NULL, NULL, &p);
	if (r == 0)
		r = providers_update(p, gen->conf, gen->router);
	if (r == 0)
		r = providers_fetch_now(p, check_fetched, &w);
	while (r == 0 && !w.done && uv_run(&loop, UV_RUN_ONCE))
		;
	providers_destroy(p);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (r == 0 && w.failed > 0)
		r = -EIO;
	return r;
}

static int cmd_check(const struct options *cfg)
{
	struct generation gen;
	const struct config *conf;
	int r;

	/* --fetch: load quietly (its notes are about to be out of date),
	 * download, then check what was fetched. */
	if (cfg->check_fetch) {
		/* missing geodata files are downloaded here too */
		struct generation_req req = { .cli = cfg, .no_resolve = true, .fetch_geo = true };
		struct generation_diag diag;

		r = generation_load(&req, &gen, &diag);
		if (r < 0) {
			generation_report(&gen, &diag, r, print_line, NULL);
			generation_free(&gen);
			return 1;
		}
		r = check_fetch(&gen);
		generation_free(&gen);
		if (r < 0) {
			fprintf(stderr, "%s: some providers could not be downloaded\n",
				cfg->config_path);
			return 1;
		}
		r = load_all(cfg, &gen);
	} else {
		r = load_all(cfg, &gen);
	}

	conf = gen.conf;
	if (r == 0)
		printf("%s: OK: %zu proxies, %zu proxy groups, %zu rules (%zu rule providers)\n",
		       cfg->config_path, conf->n_proxies, conf->n_groups,
		       router_gen_rule_count(gen.router), conf->n_rule_providers);
	generation_free(&gen);
	return r == 0 ? 0 : 1;
}

static int match_resolve(const char *name, struct sockaddr_storage *addrs, size_t max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	size_t n = 0;

	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return -ENOENT;
	for (struct addrinfo *a = res; a && n < max; a = a->ai_next) {
		memset(&addrs[n], 0, sizeof(addrs[n]));
		memcpy(&addrs[n++], a->ai_addr, a->ai_addrlen);
	}
	freeaddrinfo(res);
	return (int)n;
}

/* "host", "host:port", "[v6]:port", "1.2.3.4:port"; port default 443. */
static int match_split(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon;
	unsigned long p = 443;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return -EINVAL;
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -EINVAL;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon) {
		char *end;

		p = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || p == 0 || p > 65535)
			return -EINVAL;
	}
	*port = (uint16_t)p;
	return 0;
}

static void match_checked(void *arg)
{
	*(bool *)arg = true;
}

/* One round of health checks of g's groups, as the daemon runs them at
 * start, so that match picks what the daemon would (docs/design.md §18). */
static void match_check_groups(struct router_gen *g)
{
	struct group_table *t = router_gen_groups(g);
	struct http_client *http = NULL;
	struct health *h = NULL;
	struct group_info gi;
	bool any = false, done = false;
	uv_loop_t loop;

	for (size_t i = 0; i < group_table_count(t); i++)
		any |= group_table_info(t, i, &gi) == 0 && gi.interval_s > 0;
	if (!any || uv_loop_init(&loop) < 0)
		return;
	if (http_client_create(&loop, NULL, &http) == 0 && health_create(&loop, http, &h) == 0) {
		health_set_gen(h, g);
		if (health_check_now(h, match_checked, &done) == 0)
			while (!done && uv_run(&loop, UV_RUN_ONCE))
				;
	}
	health_destroy(h);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

/* The group that decided and what its members' checks said. */
static void match_print_group(struct router_gen *g, const char *name, const char *via)
{
	struct group_table *t = router_gen_groups(g);
	int i = group_table_find(t, name);
	struct group_info gi;
	struct group_member_info mi;

	if (i < 0 || group_table_info(t, (size_t)i, &gi) < 0)
		return;
	if (gi.type == CONFIG_GROUP_RELAY)
		printf("  group:    %s (relay) chains its members, the last to the target\n", name);
	else
		printf("  group:    %s (%s) picks %s\n", name, config_group_type_name(gi.type),
		       via);
	for (size_t m = 0; m < gi.n_members; m++) {
		if (group_table_member(t, (size_t)i, m, &mi) < 0)
			break;
		if (gi.type == CONFIG_GROUP_RELAY)
			printf("            %zu. %s\n", m + 1, mi.name); /* the chain's order */
		else if (gi.interval_s == 0)
			printf("            %s%s\n", mi.name, m == gi.now ? " (selected)" : "");
		else if (!mi.checked)
			printf("            %s: not checked\n", mi.name);
		else if (mi.alive)
			printf("            %s: %u ms\n", mi.name, mi.delay_ms);
		else
			printf("            %s: dead (%s)\n", mi.name, mi.error);
	}
}

static int cmd_match(const struct options *cfg)
{
	struct generation gen = { 0 };
	struct route_query q = { .udp = cfg->match_udp };
	struct route rt;
	ip_addr_t dst, src;
	char host[256];
	uint16_t port;
	const char *pname = NULL, *ppath = NULL;
	int ret = 1;

	if (match_split(cfg->match_target, host, sizeof(host), &port) < 0) {
		fprintf(stderr, "match: expected HOST[:PORT], got '%s'\n", cfg->match_target);
		return 2;
	}
	if (load_all(cfg, &gen) < 0)
		goto out;
	if (ipaddr_aton(host, &dst)) {
		q.domain = NULL;
	} else {
		q.domain = host;
		q.dst_is_fake = true; /* as a fake-ip flow: only the name counts */
		ip_addr_set_zero_ip4(&dst);
	}
	if (!ipaddr_aton(cfg->match_src ? cfg->match_src : "198.18.0.1", &src)) {
		fprintf(stderr, "match: bad --src\n");
		goto out;
	}
	if (cfg->match_process) {
		if (strchr(cfg->match_process, '/')) {
			ppath = cfg->match_process;
			pname = strrchr(ppath, '/') + 1;
		} else {
			pname = cfg->match_process;
		}
	}
	q.src = &src;
	q.src_port = 40000;
	q.dst = &dst;
	q.dst_port = port;
	match_check_groups(gen.router);
	if (router_explain(gen.router, &q, pname, ppath, match_resolve, &rt) < 0) {
		fprintf(stderr, "match: out of memory\n");
		goto out;
	}
	printf("%s %s:%u\n", cfg->match_udp ? "udp" : "tcp", host, port);
	printf("  rule:     %s\n", rt.rule);
	if (rt.group)
		match_print_group(gen.router, rt.group, rt.via);
	/* a relay's chain: each hop before the last, first first */
	for (size_t i = 0; rt.action == ROUTE_PROXY && i < rt.n_chain; i++)
		printf("  hop %zu:    %s %s\n", i + 1, rt.chain[i]->proto->name,
		       rt.chain[i]->server_str);
	if (rt.action == ROUTE_PROXY)
		printf("  upstream: %s (%s %s)\n", rt.via, rt.up->proto->name, rt.up->server_str);
	else if (rt.action == ROUTE_DIRECT && rt.target.atyp == SOCKS5_ATYP_DOMAIN &&
		 strcmp(rt.target.u.domain, host) != 0) {
		char t[300];

		socks5_addr_str(&rt.target, t, sizeof(t));
		printf("  upstream: %s (DIRECT to %s)\n", rt.via, t);
	} else if (rt.action == ROUTE_DIRECT && strcmp(rt.via, "DIRECT") != 0) {
		char t[300];

		socks5_addr_str(&rt.target, t, sizeof(t));
		printf("  upstream: %s (DIRECT to %s)\n", rt.via, t);
	} else {
		printf("  upstream: %s\n", rt.via);
	}
	router_gen_unref(rt.hold);
	ret = 0;
out:
	generation_free(&gen);
	return ret;
}

int main(int argc, char **argv)
{
	struct options *cfg = malloc(sizeof(*cfg));
	char err[512];
	int r;

	if (cfg == NULL)
		return 1;
	/* `tun2socks ctl ...` speaks to a running daemon: its own options. */
	if (argc > 1 && !strcmp(argv[1], "ctl")) {
		free(cfg);
		return ctl_main(argc - 1, argv + 1);
	}
	r = cli_parse(argc, argv, cfg, err, sizeof(err));
	if (r == -EINVAL) {
		fprintf(stderr, "tun2socks: %s\n", err);
		r = 2;
	} else if (r == CLI_HELP) {
		fputs(cli_usage(), stdout);
		r = 0;
	} else if (r == CLI_VERSION) {
		print_version();
		r = 0;
	} else if (r == CLI_CHECK) {
		r = cmd_check(cfg);
	} else if (r == CLI_MATCH) {
		r = cmd_match(cfg);
	} else if (r == CLI_CLEANUP) {
		r = machine_cleanup(cfg);
	} else if (r == CLI_STATUS) {
		r = machine_status(cfg);
	} else if (r == CLI_RUN_CMD) {
		r = run_main(cfg);
	} else {
		r = daemon_run(cfg);
	}
	free(cfg);
	return r;
}
