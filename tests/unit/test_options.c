/* options: a copy keeps its own buffers, a config fills only what the
 * command line left, a reload says what it changes; generation_load gives
 * check, match, startup and SIGHUP one path from a file to what runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "tun2socks/app/cli.h"
#include "tun2socks/app/generation.h"
#include "tun2socks/app/options.h"
#include "tun2socks/route/router_gen.h"
#include "test.h"

static int parse(struct options *o, const char *const *args)
{
	char *argv[32] = { "tun2socks" };
	char err[256];
	int argc = 1;

	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	return cli_parse(argc, argv, o, err, sizeof(err));
}

static struct config *load(const char *yaml)
{
	struct conf_err_list errs;
	struct config *c = NULL;

	if (config_load_buf(yaml, strlen(yaml), "t.yaml", &c, &errs) < 0)
		return NULL;
	return c;
}

/* tun.name, dns.servers and dns.filter[] point into the struct's own
 * buffers: a copy must point into its own, so the original can go. */
static void test_copy_rebases(void)
{
	static const char *const args[] = { "--proxy", "socks5://1.2.3.4", "--tun",
					    "tx0",     "--fake-ip-filter", "a.example,b.example",
					    NULL };
	struct options *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	T_CHECK(a && b);
	if (!a || !b)
		goto out;
	T_EQ_INT(parse(a, args), CLI_RUN);
	options_copy(b, a);
	memset(a, 0x5a, sizeof(*a));
	T_EQ_STR(b->tun.name, "tx0");
	T_CHECK(b->tun.name == b->tun_name);
	T_EQ_STR(b->dns.filter[0], "a.example");
	T_EQ_STR(b->dns.filter[1], "b.example");
	T_CHECK(b->dns.filter[2] == NULL);
	T_CHECK(b->dns.filter[0] >= b->dns.filter_buf &&
		b->dns.filter[0] < b->dns.filter_buf + sizeof(b->dns.filter_buf));
out:
	free(a);
	free(b);
}

/* What the command line set, the config does not override. */
static void test_apply_config(void)
{
	static const char *const args[] = { "--proxy", "socks5://1.2.3.4", "--mtu", "1500", NULL };
	struct options o;
	struct config *c = load("log-level: debug\nrouting-mark: 7\ntun:\n  mtu: 9000\n"
				"  device: utx\n");
	char err[256];

	T_CHECK(c != NULL);
	if (!c)
		return;
	T_EQ_INT(parse(&o, args), CLI_RUN);
	T_EQ_INT(options_apply_config(&o, c, err, sizeof(err)), 0);
	T_EQ_INT((int)o.tun.mtu, 1500);
	T_EQ_STR(o.tun.name, "utx");
	T_EQ_INT(o.log_level, LOG_DEBUG);
	T_CHECK(o.sock.has_fwmark && o.sock.fwmark == 7);
	config_free(c);
}

/* A reload applies the log level and our sockets' interface and mark;
 * TUN and DNS settings are named as needing a restart. */
static void test_reload_diff(void)
{
	static const char *const args[] = { "--proxy", "socks5://1.2.3.4", NULL };
	struct options run, next;
	struct config *c1 = load("log-level: info\n");
	struct config *c2 = load("log-level: warning\ninterface-name: lo\ntun:\n  mtu: 1400\n"
				 "dns:\n  enable: true\n  enhanced-mode: redir-host\n");
	struct config *c3 = load("log-level: info\n");
	char err[256], why[256];
	unsigned m;

	T_CHECK(c1 && c2 && c3);
	if (!c1 || !c2 || !c3)
		goto out;
	T_EQ_INT(parse(&run, args), CLI_RUN);
	T_EQ_INT(options_apply_config(&run, c1, err, sizeof(err)), 0);

	T_EQ_INT(parse(&next, args), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c3, err, sizeof(err)), 0);
	T_EQ_INT((int)options_reload_diff(&run, &next, why, sizeof(why)), 0);
	T_EQ_STR(why, "");

	T_EQ_INT(parse(&next, args), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c2, err, sizeof(err)), 0);
	m = options_reload_diff(&run, &next, why, sizeof(why));
	T_CHECK(m & OPTIONS_LOG_LEVEL);
	T_CHECK(m & OPTIONS_SOCK);
	T_CHECK(m & OPTIONS_RESTART);
	T_EQ_STR(why, "tun.mtu, dns.enable/enhanced-mode");

	/* nameservers (plain and encrypted) apply at the reload */
	{
		struct config *c4 = load("log-level: info\ndns:\n  enable: true\n  enhanced-mode: "
					 "fake-ip\n  nameserver: [192.0.2.1, "
					 "'tls://192.0.2.2', 'https://192.0.2.3/dns-query', "
					 "'https://192.0.2.4/q']\n");

		T_CHECK(c4 != NULL);
		if (c4 != NULL) {
			T_EQ_INT(parse(&next, args), CLI_RUN);
			T_EQ_INT(options_apply_config(&next, c4, err, sizeof(err)), 0);
			T_EQ_STR(next.dns.doh, "https://192.0.2.3/dns-query https://192.0.2.4/q");
			T_EQ_INT((int)options_reload_diff(&run, &next, why, sizeof(why)),
				 OPTIONS_DNS);
			T_EQ_STR(why, "");
			config_free(c4);
		}
	}
out:
	config_free(c1);
	config_free(c2);
	config_free(c3);
}

/* max-half-open: the config's where the command line is silent, and a
 * change is named as waiting for a restart (as max-memory is). */
static void test_half_open_key(void)
{
	static const char *const bare[] = { "--proxy", "socks5://1.2.3.4", NULL };
	static const char *const flag[] = { "--proxy", "socks5://1.2.3.4", "--max-half-open", "32",
					    NULL };
	struct config *c = load("max-half-open: 128\n");
	struct options run, next;
	char err[256], why[256];

	T_CHECK(c != NULL);
	if (c == NULL)
		return;
	T_EQ_INT(parse(&run, bare), CLI_RUN);
	T_EQ_INT((int)run.max_half_open, 0);
	T_EQ_INT(parse(&next, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c, err, sizeof(err)), 0);
	T_EQ_INT((int)next.max_half_open, 128);
	T_EQ_INT((int)options_reload_diff(&run, &next, why, sizeof(why)), OPTIONS_RESTART);
	T_EQ_STR(why, "max-half-open");
	T_EQ_INT(parse(&next, flag), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c, err, sizeof(err)), 0);
	T_EQ_INT((int)next.max_half_open, 32);
	config_free(c);
}

/* keep-alive-idle, keep-alive-interval, disable-keep-alive: into the
 * sockets' options (none of them by default: sock_open()'s defaults), and
 * a change is one for new sockets, with no restart. */
static void test_keepalive_keys(void)
{
	static const char *const bare[] = { "--proxy", "socks5://1.2.3.4", NULL };
	struct config *c = load("keep-alive-idle: 30\nkeep-alive-interval: 5\n");
	struct config *off = load("disable-keep-alive: true\n");
	struct options run, next;
	char err[256], why[256];

	T_CHECK(c != NULL && off != NULL);
	if (c == NULL || off == NULL)
		goto out;
	T_EQ_INT(parse(&run, bare), CLI_RUN);
	T_CHECK(!run.sock.keepalive_off);
	T_EQ_INT((int)run.sock.keepalive_idle_s, 0);
	T_EQ_INT((int)run.sock.keepalive_intvl_s, 0);
	T_EQ_INT(parse(&next, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c, err, sizeof(err)), 0);
	T_EQ_INT((int)next.sock.keepalive_idle_s, 30);
	T_EQ_INT((int)next.sock.keepalive_intvl_s, 5);
	T_CHECK(!next.sock.keepalive_off);
	T_EQ_INT((int)options_reload_diff(&run, &next, why, sizeof(why)), OPTIONS_SOCK);
	T_EQ_STR(why, "");
	T_EQ_INT(parse(&next, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, off, err, sizeof(err)), 0);
	T_CHECK(next.sock.keepalive_off);
	T_EQ_INT((int)options_reload_diff(&run, &next, why, sizeof(why)), OPTIONS_SOCK);
	T_EQ_INT((int)options_reload_diff(&next, &next, why, sizeof(why)), 0);
out:
	config_free(c);
	config_free(off);
}

/* The tun keys of the system-wide mode: applied where the command line is
 * silent; with auto-route our sockets get a mark, which a reload keeps. */
static void test_auto_route_keys(void)
{
	static const char *const bare[] = { "--proxy", "socks5://1.2.3.4", NULL };
	static const char *const flags[] = {
		"--proxy", "socks5://1.2.3.4", "--iproute2-table-index",
		"77",      "--route-address",  "10.0.0.0/8",
		NULL
	};
	struct config *c = load("tun:\n  auto-route: true\n  dns-hijack: [any:53]\n"
				"  iproute2-table-index: 100\n  iproute2-rule-index: 500\n"
				"  route-address: [0.0.0.0/1, '2001:db8::1/32']\n"
				"  route-exclude-address: [192.168.0.0/16]\n"
				"  include-uid: [1000, 1001]\n  exclude-uid: [0]\n");
	struct config *c2 = load("tun:\n  auto-route: true\n  dns-hijack: []\n");
	struct config *c3 = load("routing-mark: 9\ntun:\n  auto-route: true\n");
	struct config *c4 = load("tun:\n  auto-detect-interface: true\n");
	struct options o, next;
	char err[256], why[256];

	T_CHECK(c && c2 && c3);
	if (!c || !c2 || !c3)
		goto out;
	T_EQ_INT(parse(&o, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&o, c, err, sizeof(err)), 0);
	options_finish(&o);
	T_CHECK(o.route.auto_route && options_dns_hijack(&o));
	T_EQ_INT(o.route.table, 100);
	T_EQ_INT(o.route.rule_index, 500);
	T_EQ_STR(o.route.address, "0.0.0.0/1,2001:db8::1/32");
	T_EQ_STR(o.route.exclude, "192.168.0.0/16");
	T_EQ_STR(o.route.include_uid, "1000,1001");
	T_EQ_STR(o.route.exclude_uid, "0");
	T_CHECK(o.sock.has_fwmark && o.route.auto_mark);
	T_EQ_INT(o.sock.fwmark, OPTIONS_AUTO_FWMARK);
	/* the command line wins */
	T_EQ_INT(parse(&o, flags), CLI_RUN);
	T_EQ_INT(options_apply_config(&o, c, err, sizeof(err)), 0);
	T_EQ_INT(o.route.table, 77);
	T_EQ_STR(o.route.address, "10.0.0.0/8");
	/* dns-hijack: [] turns it off */
	T_EQ_INT(parse(&o, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&o, c2, err, sizeof(err)), 0);
	T_CHECK(o.route.auto_route && !options_dns_hijack(&o));
	/* auto-detect-interface from the file; a reload that turns it off
	 * waits for a restart */
	T_CHECK(c4 != NULL);
	if (c4) {
		T_EQ_INT(parse(&o, bare), CLI_RUN);
		T_CHECK(!o.route.auto_detect);
		T_EQ_INT(options_apply_config(&o, c4, err, sizeof(err)), 0);
		T_CHECK(o.route.auto_detect);
		T_EQ_INT(parse(&next, bare), CLI_RUN);
		T_CHECK((options_reload_diff(&o, &next, why, sizeof(why)) & OPTIONS_RESTART) != 0);
		T_CHECK(strstr(why, "tun.auto-detect-interface") != NULL);
		config_free(c4);
	}

	/* a reload: the same file, nothing changes; another mark is noted,
	 * never applied (auto-route's rules name the running one) */
	T_EQ_INT(parse(&o, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&o, c2, err, sizeof(err)), 0);
	options_finish(&o);
	T_EQ_INT(parse(&next, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c2, err, sizeof(err)), 0);
	options_finish(&next);
	T_EQ_INT((int)options_reload_diff(&o, &next, why, sizeof(why)), 0);
	T_EQ_INT(parse(&next, bare), CLI_RUN);
	T_EQ_INT(options_apply_config(&next, c3, err, sizeof(err)), 0);
	options_finish(&next);
	T_EQ_INT(next.sock.fwmark, 9);
	T_EQ_INT((int)options_reload_diff(&o, &next, why, sizeof(why)), OPTIONS_RESTART);
	T_EQ_STR(why, "tun.auto-route and its keys, routing-mark (auto-route's rules use it)");
out:
	config_free(c);
	config_free(c2);
	config_free(c3);
}

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/t2s-test-options.XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return tmp_path;
}

struct lines {
	int errors, warnings;
	char first[512];
};

static void collect(void *arg, bool error, const char *line)
{
	struct lines *l = arg;

	if (l->errors + l->warnings == 0)
		snprintf(l->first, sizeof(l->first), "%s", line);
	if (error)
		l->errors++;
	else
		l->warnings++;
}

/* One path from a file to what runs: errors of the file, of applying it
 * onto the options (which `check` used to miss), and of the rules. */
static void test_generation(void)
{
	static const char *const args[] = { "-c", "x", NULL };
	struct options cli;
	struct generation g;
	struct generation_diag d;
	struct generation_req req = { .cli = &cli, .no_resolve = true };
	struct lines l = { 0 };
	const char *p;
	int r;

	T_EQ_INT(parse(&cli, args), CLI_RUN);
	p = write_tmp("proxies:\n  - {name: a, type: socks5, server: 10.0.0.1, port: 1080, "
		      "ws-opts: {}}\nrules:\n  - MATCH,a\n");
	T_CHECK(p != NULL);
	cli.config_path = p;
	r = generation_load(&req, &g, &d);
	T_EQ_INT(r, 0);
	generation_report(&g, &d, r, collect, &l);
	T_EQ_INT(l.errors, 0);
	T_EQ_INT(l.warnings, 1);
	T_CHECK(g.router && router_gen_rule_count(g.router) == 1);
	generation_free(&g);
	unlink(p);

	/* A nameserver list longer than options hold: refused by the load
	 * itself, so check refuses it as startup does. */
	{
		char big[4096];
		size_t n = (size_t)snprintf(big, sizeof(big), "dns:\n  nameserver: [");

		for (int i = 0; i < 120; i++)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "%s10.0.0.%d",
					      i ? ", " : "", i % 250 + 1);
		snprintf(big + n, sizeof(big) - n, "]\n");
		p = write_tmp(big);
	}
	cli.config_path = p;
	memset(&l, 0, sizeof(l));
	r = generation_load(&req, &g, &d);
	T_CHECK(r < 0);
	generation_report(&g, &d, r, collect, &l);
	T_EQ_INT(l.errors, 1);
	T_CHECK(strstr(l.first, "list too long") != NULL);
	T_CHECK(g.conf == NULL && g.router == NULL);
	unlink(p);

	/* A missing file: one error without a position. */
	cli.config_path = "/nonexistent/t2s.yaml";
	memset(&l, 0, sizeof(l));
	r = generation_load(&req, &g, &d);
	T_EQ_INT(r, -ENOENT);
	generation_report(&g, &d, r, collect, &l);
	T_CHECK(strstr(l.first, "/nonexistent/t2s.yaml") &&
		strstr(l.first, "No such file or directory"));
	T_EQ_INT(l.errors, 1);
}

int main(void)
{
	T_RUN(test_copy_rebases);
	T_RUN(test_apply_config);
	T_RUN(test_reload_diff);
	T_RUN(test_half_open_key);
	T_RUN(test_keepalive_keys);
	T_RUN(test_auto_route_keys);
	T_RUN(test_generation);
	return test_summary();
}
