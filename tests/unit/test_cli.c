/* Command-line parsing: defaults, every flag, and the one-line errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/nameservers.h"
#include "tun2socks/app/cli.h"
#include "test.h"

static int parse(struct options *c, char *err, const char *a1, const char *a2, const char *a3,
		 const char *a4, const char *a5)
{
	char *argv[8] = { "tun2socks" };
	int argc = 1;
	const char *a[] = { a1, a2, a3, a4, a5 };

	for (int i = 0; i < 5 && a[i]; i++)
		argv[argc++] = (char *)a[i];
	return cli_parse(argc, argv, c, err, 256);
}

/* argv from a NULL-terminated list (for more than five arguments). */
static int parsev(struct options *c, char *err, const char *const *args)
{
	char *argv[64] = { "tun2socks" };
	int argc = 1;

	for (; *args && argc < 63; args++)
		argv[argc++] = (char *)*args;
	return cli_parse(argc, argv, c, err, 256);
}

/* err starts with prefix (the whole line when exact). */
#define T_ERR(err, prefix) T_EQ_INT(strncmp((err), (prefix), strlen(prefix)), 0)

static void test_defaults_and_flags(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy", "socks5://u:p@10.0.0.1:1081", NULL, NULL, NULL),
		 CLI_RUN);
	T_EQ_INT(c.tun.mtu, 8500);
	T_EQ_INT(c.tun.fd, -1);
	T_EQ_INT(c.tun.prefix4, 15);
	T_EQ_INT(c.tun.addr4[1], 18);
	T_EQ_INT(c.tun.prefix6, 126);
	T_EQ_INT(c.connect_timeout_s, 10);
	T_EQ_STR(c.proxy.host, "10.0.0.1");
	T_EQ_INT(c.proxy.port, 1081);
	T_CHECK(c.proxy.has_auth);
	T_EQ_STR(c.proxy.user, "u");

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu=1500", "--tun", "t9", "--fwmark=1x"),
		 -EINVAL);
	T_CHECK(strstr(err, "--fwmark") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fwmark=0x", NULL, NULL, NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fwmark=0x100000000", NULL, NULL, NULL),
		 -EINVAL);
	/* as `ip rule` prints it */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fwmark=0x2022", NULL, NULL, NULL),
		 CLI_RUN);
	T_EQ_INT(c.sock.fwmark, 0x2022);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu=1500", "--tun", "t9", "--fwmark=77"),
		 CLI_RUN);
	T_EQ_INT(c.tun.mtu, 1500);
	T_EQ_STR(c.tun.name, "t9");
	T_CHECK(c.sock.has_fwmark);
	T_EQ_INT(c.sock.fwmark, 77);

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-fd", "5", "--tun-framing", "utun"),
		 CLI_RUN);
	T_EQ_INT(c.tun.fd, 5);
	T_EQ_INT(c.tun.framing, TUN_FRAMING_AF4);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "10.9.0.1/24", "--tun-addr6",
		       "none"),
		 CLI_RUN);
	T_EQ_INT(c.tun.addr4[0], 10);
	T_EQ_INT(c.tun.prefix4, 24);
	T_CHECK(!c.tun.has_addr6);
	T_EQ_INT(parse(&c, err, "--help", NULL, NULL, NULL, NULL), CLI_HELP);
	T_EQ_INT(parse(&c, err, "--version", NULL, NULL, NULL, NULL), CLI_VERSION);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--log-level", "debug", "--idle-timeout",
		       "0"),
		 CLI_RUN);
	T_EQ_INT(c.log_level, LOG_DEBUG);
	T_EQ_INT(c.idle_timeout_s, 0);
}

static void test_errors(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, NULL, NULL, NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "--proxy or -c FILE is required") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h:99999", NULL, NULL, NULL), -EINVAL);
	/* Columns count from 1, as in config errors: the port's first digit. */
	T_EQ_STR(err, "--proxy: malformed URL 'socks5://h:99999': column 12: port must be 1-65535");
	T_EQ_INT(parse(&c, err, "--proxy", "socks5:/h", NULL, NULL, NULL), -EINVAL);
	T_EQ_STR(err,
		 "--proxy: malformed URL 'socks5:/h': column 8: expected \"//\" after \"socks5:\"");
	T_EQ_INT(parse(&c, err, "--proxy", "ftp://h:1", NULL, NULL, NULL), -EINVAL);
	/* HTTP CONNECT proxies are upstreams too. */
	T_EQ_INT(parse(&c, err, "--proxy", "http://h:1", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.scheme, PROXY_HTTP);
	T_CHECK(c.has_proxy);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", "70000", NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "576 to 65535") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", "1000", NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "IPv6 needs at least 1280") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "198.18.0.1", NULL, NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "198.18.0.1/33", NULL, NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr6", "fe80::1/129", NULL, NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun", "x", "--tun-fd", "3"), -EINVAL);
	T_CHECK(strstr(err, "exclude") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--bogus", NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "unknown option") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "missing value") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--log-level", "loud", NULL, NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun", "0123456789abcdefg", NULL, NULL),
		 -EINVAL);
}

/* A raw '@' in the password: the message names it and shows the URL to
 * paste instead. */
static void test_proxy_at_sign(void)
{
	char *argv[] = { "tun2socks", "--proxy", "http://user@pa:ss@127.0.0.1:8080" };
	struct options c;
	char err[512];

	T_EQ_INT(cli_parse(3, argv, &c, err, sizeof(err)), -EINVAL);
	T_EQ_STR(err, "--proxy: malformed URL 'http://user@pa:ss@127.0.0.1:8080': column 12: "
		      "unencoded '@' in the user name or password: write it as %40 (only the last "
		      "'@', column 18, separates them from the host); percent-encoded: "
		      "'http://user%40pa:ss@127.0.0.1:8080'");
	argv[2] = "http://user%40pa:ss@127.0.0.1:8080";
	T_EQ_INT(cli_parse(3, argv, &c, err, sizeof(err)), CLI_RUN);
	T_EQ_STR(c.proxy.user, "user@pa");
	/* Other mistakes get no suggestion. */
	argv[2] = "socks5://u@:p@h:0";
	T_EQ_INT(cli_parse(3, argv, &c, err, sizeof(err)), -EINVAL);
	T_CHECK(strstr(err, "percent-encoded") == NULL);
}

/* The defaults a user cannot see in a command line are in --help, and
 * they are the ones the parsers apply. */
static void test_usage_defaults(void)
{
	const char *u = cli_usage();
	struct options c;
	char err[256];

	T_CHECK(strstr(u,
		       "Default port: socks5 1080, http 80,\n                         https 443") !=
		NULL);
	T_CHECK(strstr(u, "(PORT defaults to 443)") != NULL);
	T_CHECK(strstr(u, "%40") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.port, 1080);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5h://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.port, 1080);
	T_EQ_INT(parse(&c, err, "--proxy", "http://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.port, 80);
	T_EQ_INT(parse(&c, err, "--proxy", "https://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.port, 443);
}

/* The system-wide mode's flags, their defaults and errors; cleanup. */
static void test_auto_route(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", NULL, NULL, NULL), CLI_RUN);
	T_CHECK(!c.route.auto_route && !c.route.strict_route);
	T_EQ_INT(c.route.dns_hijack, -1);
	T_EQ_INT(c.route.table, 2022);
	T_EQ_INT(c.route.rule_index, 9000);
	T_CHECK(!options_dns_hijack(&c));
	options_finish(&c);
	T_CHECK(!c.sock.has_fwmark); /* no mark without auto-route */

	const char *const all[] = { "--proxy",
				    "socks5://h",
				    "--auto-route",
				    "--strict-route",
				    "--dns-hijack",
				    "off",
				    "--iproute2-table-index",
				    "100",
				    "--iproute2-rule-index=500",
				    "--route-address",
				    "10.0.0.0/8,2001:db8::1/32",
				    "--route-exclude-address",
				    "10.1.0.0/16",
				    "--include-uid",
				    "1000,2000-2999",
				    "--exclude-uid=0",
				    "--state-dir",
				    "/tmp/x",
				    NULL };
	T_EQ_INT(parsev(&c, err, all), CLI_RUN);
	T_CHECK(c.route.auto_route && c.route.strict_route);
	T_EQ_INT(c.route.dns_hijack, 0);
	T_EQ_INT(c.route.table, 100);
	T_EQ_INT(c.route.rule_index, 500);
	T_EQ_STR(c.route.address, "10.0.0.0/8,2001:db8::1/32");
	T_EQ_STR(c.route.exclude, "10.1.0.0/16");
	T_EQ_STR(c.route.include_uid, "1000,2000-2999");
	T_EQ_STR(c.route.exclude_uid, "0");
	T_EQ_STR(c.route.state_dir, "/tmp/x");
	T_CHECK(!options_dns_hijack(&c));
	options_finish(&c);
	T_CHECK(c.sock.has_fwmark && c.route.auto_mark);
	T_EQ_INT(c.sock.fwmark, OPTIONS_AUTO_FWMARK);

	/* a mark given stays */
	const char *const mark[] = {
		"--proxy", "socks5://h", "--auto-route", "--fwmark", "7", NULL
	};
	T_EQ_INT(parsev(&c, err, mark), CLI_RUN);
	T_CHECK(options_dns_hijack(&c));
	options_finish(&c);
	T_EQ_INT(c.sock.fwmark, 7);
	T_CHECK(!c.route.auto_mark);

	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--dns-hijack", "yes", NULL), -EINVAL);
	T_ERR(err, "--dns-hijack: expected on or off, got 'yes'");
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--iproute2-table-index", "254", NULL),
		 -EINVAL);
	T_ERR(err, "--iproute2-table-index: expected a table number other than 253-255");
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--iproute2-rule-index", "32756", NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--route-address", "10.0.0.1", NULL),
		 -EINVAL);
	T_ERR(err, "--route-address: expected CIDRs like 10.0.0.0/8,2001:db8::/32, got '10.0.0.1'");
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--route-exclude-address", "10.0.0.0/8,",
		       NULL),
		 0);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--route-exclude-address", "x/8", NULL),
		 -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--include-uid", "5-1", NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--state-dir", "rel", NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--auto-route", "--tun-fd", "3"), -EINVAL);
	T_ERR(err, "--auto-route needs a TUN of our own");

	/* cleanup: its own few flags, no proxy needed */
	T_EQ_INT(parse(&c, err, "cleanup", NULL, NULL, NULL, NULL), CLI_CLEANUP);
	T_EQ_INT(parse(&c, err, "cleanup", "--tun", "tun7", "--state-dir", "/tmp/y"), CLI_CLEANUP);
	T_EQ_STR(c.tun.name, "tun7");
	T_EQ_STR(c.route.state_dir, "/tmp/y");
	T_EQ_INT(parse(&c, err, "cleanup", "--proxy", "socks5://h", NULL, NULL), -EINVAL);
	T_ERR(err, "cleanup takes --tun and --state-dir only, got --proxy");
	T_CHECK(strstr(cli_usage(), "tun2socks cleanup [--tun NAME] [--state-dir DIR]") != NULL);

	/* status: the same few flags */
	T_EQ_INT(parse(&c, err, "status", NULL, NULL, NULL, NULL), CLI_STATUS);
	T_EQ_INT(parse(&c, err, "status", "--tun", "tun8", "--state-dir", "/tmp/z"), CLI_STATUS);
	T_EQ_STR(c.tun.name, "tun8");
	T_EQ_STR(c.route.state_dir, "/tmp/z");
	T_EQ_INT(parse(&c, err, "status", "--auto-route", NULL, NULL, NULL), -EINVAL);
	T_ERR(err, "status takes --tun and --state-dir only, got --auto-route");
	T_CHECK(strstr(cli_usage(), "tun2socks status [--tun NAME] [--state-dir DIR]") != NULL);

	/* auto-detect-interface: off by default; not with a fixed interface */
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", NULL, NULL, NULL), CLI_RUN);
	T_CHECK(!c.route.auto_detect);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--auto-detect-interface", NULL, NULL),
		 CLI_RUN);
	T_CHECK(c.route.auto_detect);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--auto-detect-interface",
		       "--bind-interface=eth0", NULL),
		 -EINVAL);
	T_ERR(err, "--auto-detect-interface and --bind-interface exclude each other");

	/* --allow-host-port: run only */
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--allow-host-port", "80", NULL), -EINVAL);
	T_ERR(err, "--allow-host-port only goes with run");
	{
		const char *const a[] = { "run",        "--proxy",
					  "socks5://h", "--allow-host-port",
					  "5432",       "--allow-host-port=6379",
					  "--",         "true",
					  NULL };

		T_EQ_INT(parsev(&c, err, a), CLI_RUN_CMD);
		T_EQ_INT(c.n_host_ports, 2);
		T_EQ_INT(c.host_ports[0], 5432);
		T_EQ_INT(c.host_ports[1], 6379);
	}
	/* --controller and --secret: with run too; port 0 passes (any free
	 * one); an empty secret is refused without echoing anything */
	{
		const char *const a[] = { "run",         "--proxy",  "socks5://h", "--controller",
					  "127.0.0.1:0", "--secret", "s3",         "--",
					  "true",        NULL };

		T_EQ_INT(parsev(&c, err, a), CLI_RUN_CMD);
		T_EQ_STR(c.controller, "127.0.0.1:0");
		T_EQ_STR(c.secret, "s3");
	}
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--secret", "", NULL), -EINVAL);
	T_ERR(err, "--secret: expected 1 to 127 characters");
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_STR(c.secret, "");

	/* the memory budget */
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.max_memory_mb, 0);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--max-memory", "50", NULL), CLI_RUN);
	T_EQ_INT(c.max_memory_mb, 50);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h", "--max-memory", "4", NULL), -EINVAL);
	T_ERR(err, "--max-memory: expected MiB from 8 to 1048576, got '4'");
	T_CHECK(strstr(cli_usage(), "(default 2022)") != NULL);
	T_CHECK(strstr(cli_usage(), "(default 9000)") != NULL);
}

static const uint8_t v6_default[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 1 };

static void test_dns_defaults(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", NULL, NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.dns.mode, DNS_MODE_FAKE_IP);
	T_CHECK(c.dns.servers == NULL);
	T_CHECK(!c.dns.via_proxy);
	T_CHECK(c.dns.has4);
	T_EQ_MEM(c.dns.net4, "\xc6\x12\x00\x00", 4); /* 198.18.0.0 */
	T_EQ_INT(c.dns.prefix4, 15);
	T_CHECK(c.dns.has6);
	T_EQ_MEM(c.dns.net6, v6_default, 16);
	T_EQ_INT(c.dns.prefix6, 64);
	T_CHECK(c.dns.filter[0] == NULL);
}

static void test_dns_mode(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns", "real-ip", NULL, NULL), CLI_RUN);
	T_EQ_INT(c.dns.mode, DNS_MODE_REAL_IP);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns=off", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.dns.mode, DNS_MODE_OFF);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns=off", "--dns", "fake-ip", NULL),
		 CLI_RUN);
	T_EQ_INT(c.dns.mode, DNS_MODE_FAKE_IP);

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns", "fakeip", NULL, NULL), -EINVAL);
	T_EQ_STR(err, "--dns: expected fake-ip, real-ip or off, got 'fakeip'");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns", "Fake-IP", NULL, NULL), -EINVAL);
	T_ERR(err, "--dns: expected fake-ip, real-ip or off");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns=", NULL, NULL, NULL), -EINVAL);
	T_EQ_STR(err, "--dns: expected fake-ip, real-ip or off, got ''");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns", NULL, NULL, NULL), -EINVAL);
	T_EQ_STR(err, "--dns: missing value");
}

static void test_dns_server(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server",
		       "1.1.1.1, tcp://[2001:db8::1]:5353", NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.servers, "1.1.1.1, tcp://[2001:db8::1]:5353");
	T_CHECK(!c.dns.via_proxy);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server=9.9.9.9:53",
		       "--dns-via-proxy", NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.servers, "9.9.9.9:53");
	T_CHECK(c.dns.via_proxy);
	/* Order does not matter. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-via-proxy", "--dns-server",
		       "9.9.9.9", NULL),
		 CLI_RUN);
	T_CHECK(c.dns.via_proxy);

	/* --dns-via-proxy needs a server the proxy can reach. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-via-proxy", NULL, NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err, "--dns-via-proxy needs --dns-server (the resolver the proxy reaches)");
	/* A flag, no value. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server=1.1.1.1",
		       "--dns-via-proxy=yes", NULL, NULL),
		 -EINVAL);
	T_ERR(err, "unknown option '--dns-via-proxy=yes'");

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", "dns.google", NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err,
		 "--dns-server: cannot parse 'dns.google': expected IP, IP:port or [IPv6]:port");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", "1.1.1.1:0", NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err, "--dns-server: cannot parse '1.1.1.1:0': port must be 1-65535");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", "https://1.1.1.1", NULL,
		       NULL),
		 -EINVAL);
	T_EQ_STR(err, "--dns-server: cannot parse 'https://1.1.1.1': only udp:// and tcp:// are "
		      "supported");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", "1.1.1.1,,8.8.8.8", NULL,
		       NULL),
		 -EINVAL);
	T_EQ_STR(err, "--dns-server: cannot parse '1.1.1.1,,8.8.8.8': empty entry");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", "", NULL, NULL), -EINVAL);
	T_ERR(err, "--dns-server: cannot parse ''");
}

static void test_fake_ip_range(void)
{
	static const uint8_t fd00[16] = { 0xfd, 0 };
	static const char *const bad[] = {
		"",
		",",
		"10.0.0.0",
		"10.0.0.0/33",
		"10.0.0.0/0",
		"10.0.0.0/8x",
		"10.0.0/8",
		"fd00::/129",
		"fd00::/0",
		"10.0.0.0/8,10.1.0.0/16",
		"fd00::/8,fd01::/16",
		"10.0.0.0/8,junk",
		"10.0.0.0/8;fd00::/8",
		"[fd00::]/64",
	};
	struct options c;
	char err[256], want[256];

	/* One family listed: the other keeps its default. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-range", "10.64.0.0/10", NULL,
		       NULL),
		 CLI_RUN);
	T_CHECK(c.dns.has4);
	T_EQ_MEM(c.dns.net4, "\x0a\x40\x00\x00", 4);
	T_EQ_INT(c.dns.prefix4, 10);
	T_CHECK(c.dns.has6);
	T_EQ_MEM(c.dns.net6, v6_default, 16);
	T_EQ_INT(c.dns.prefix6, 64);

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-range=fd00::/112", NULL, NULL,
		       NULL),
		 CLI_RUN);
	T_EQ_MEM(c.dns.net4, "\xc6\x12\x00\x00", 4);
	T_EQ_INT(c.dns.prefix4, 15);
	T_EQ_MEM(c.dns.net6, fd00, 16);
	T_EQ_INT(c.dns.prefix6, 112);

	/* Both, either order. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-range",
		       "fd00::/112,100.64.0.0/29", NULL, NULL),
		 CLI_RUN);
	T_EQ_MEM(c.dns.net4, "\x64\x40\x00\x00", 4);
	T_EQ_INT(c.dns.prefix4, 29);
	T_EQ_MEM(c.dns.net6, fd00, 16);
	T_EQ_INT(c.dns.prefix6, 112);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-range", bad[i], NULL,
			       NULL),
			 -EINVAL);
		snprintf(want, sizeof(want),
			 "--fake-ip-range: expected CIDR[,CIDR6] like "
			 "198.18.0.0/15,fdfe:dcba:9876:1::/64, got '%s'",
			 bad[i]);
		T_EQ_STR(err, want);
	}
}

static void test_fake_ip_min_age(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", NULL, NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.dns.fake_min_age, 60);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-min-age", "0", NULL, NULL),
		 CLI_RUN);
	T_EQ_INT(c.dns.fake_min_age, 0);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-min-age=300", NULL, NULL, NULL),
		 CLI_RUN);
	T_EQ_INT(c.dns.fake_min_age, 300);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-min-age", "-1", NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err, "--fake-ip-min-age: expected seconds from 0 to 86400, got '-1'");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-min-age", "86401", NULL, NULL),
		 -EINVAL);

	/* dns.fake-ip-min-age applies unless the flag was given. */
	static const char yaml[] = "dns:\n  enable: true\n  fake-ip-min-age: 5\n";
	struct config *conf = NULL;
	struct conf_err_list ce;

	T_EQ_INT(config_load_buf(yaml, strlen(yaml), "t.yaml", &conf, &ce), 0);
	if (conf == NULL)
		return;
	T_EQ_INT(parse(&c, err, "-c", "t.yaml", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(options_apply_config(&c, conf, err, sizeof(err)), 0);
	T_EQ_INT(c.dns.fake_min_age, 5);
	T_EQ_INT(parse(&c, err, "-c", "t.yaml", "--fake-ip-min-age", "7", NULL), CLI_RUN);
	T_EQ_INT(options_apply_config(&c, conf, err, sizeof(err)), 0);
	T_EQ_INT(c.dns.fake_min_age, 7);
	config_free(conf);
}

static void test_fake_ip_filter(void)
{
	static const char *const bad[] = { "a..b",    "*example.com", "exa mple.com", "++.a.com",
					   "a.com/x", "a.*b.com",     "a@b.com" };
	struct options c;
	char err[256], want[512];

	/* Comma-separated, spaces after commas and empty entries skipped. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter",
		       "example.com,  *.example.net,,+.corp.example,", NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "example.com");
	T_EQ_STR(c.dns.filter[1], "*.example.net");
	T_EQ_STR(c.dns.filter[2], "+.corp.example");
	T_CHECK(c.dns.filter[3] == NULL);
	/* Repeated flags add up. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", "a.example,b.example",
		       "--fake-ip-filter=.sub.example.org", NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "a.example");
	T_EQ_STR(c.dns.filter[1], "b.example");
	T_EQ_STR(c.dns.filter[2], ".sub.example.org");
	T_CHECK(c.dns.filter[3] == NULL);
	/* "*" alone is a valid pattern: any single-label name. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", "*", NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "*");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", bad[i], NULL,
			       NULL),
			 -EINVAL);
		snprintf(want, sizeof(want),
			 "--fake-ip-filter: expected patterns like example.com, *.example.com, "
			 ".example.com or +.example.com, got '%s'",
			 bad[i]);
		T_EQ_STR(err, want);
	}
	/* The bad one is named, not its neighbours. */
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter",
		       "good.example, bad..example, other.example", NULL, NULL),
		 -EINVAL);
	T_ERR(err, "--fake-ip-filter: expected patterns like");
	T_CHECK(strstr(err, "got 'bad..example'") != NULL);

	/* 256 patterns at most, 4 KiB of text at most. */
	char *list = malloc(8192);
	size_t used = 0;

	T_CHECK(list != NULL);
	if (list == NULL)
		return;
	for (int i = 0; i < 256; i++)
		used += (size_t)snprintf(list + used, 8192 - used, "%sn%d.x", i ? "," : "", i);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", list, NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "n0.x");
	T_EQ_STR(c.dns.filter[255], "n255.x");
	T_CHECK(c.dns.filter[256] == NULL);
	snprintf(list + used, 8192 - used, ",n256.x");
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", list, NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err, "--fake-ip-filter: at most 256 patterns, got 'n256.x'");
	/* The cap counts over repeated flags too. */
	list[used] = '\0';
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", list,
		       "--fake-ip-filter", "one.more"),
		 -EINVAL);
	T_EQ_STR(err, "--fake-ip-filter: at most 256 patterns, got 'one.more'");

	memset(list, 'a', 4200);
	list[4200] = '\0';
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter", list, NULL, NULL),
		 -EINVAL);
	T_EQ_STR(err, "--fake-ip-filter: list too long (4 KiB at most), got '...'");
	free(list);
}

/* Every DNS flag at once, as a user would write them. */
static void test_dns_all_flags(void)
{
	static const char *const args[] = {
		"--proxy",
		"socks5://10.0.0.1:1080",
		"--dns",
		"real-ip",
		"--dns-server",
		"tcp://1.1.1.1",
		"--dns-via-proxy",
		"--fake-ip-range",
		"172.16.0.0/12,fd00:1::/64",
		"--fake-ip-filter",
		"+.lan.example",
		"--log-level",
		"debug",
		NULL,
	};
	static const uint8_t fd00_1[16] = { 0xfd, 0, 0, 1 };
	struct options c;
	char err[256];

	T_EQ_INT(parsev(&c, err, args), CLI_RUN);
	T_EQ_INT(c.dns.mode, DNS_MODE_REAL_IP);
	T_EQ_STR(c.dns.servers, "tcp://1.1.1.1");
	T_CHECK(c.dns.via_proxy);
	T_EQ_MEM(c.dns.net4, "\xac\x10\x00\x00", 4);
	T_EQ_INT(c.dns.prefix4, 12);
	T_EQ_MEM(c.dns.net6, fd00_1, 16);
	T_EQ_INT(c.dns.prefix6, 64);
	T_EQ_STR(c.dns.filter[0], "+.lan.example");
	T_CHECK(c.dns.filter[1] == NULL);
	T_EQ_INT(c.log_level, LOG_DEBUG);
}

/* Regression: a second --fake-ip-filter was copied to filter_buf at
 * sum(strlen(pattern) + 1) over the patterns kept so far, short of the end
 * of the first value when that held spaces or empty entries, and
 * overwrote the earlier patterns' tails. */
static void test_fake_ip_filter_repeat_after_spaces(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter",
		       "example.com,  *.example.net,,+.corp.example,",
		       "--fake-ip-filter=.sub.example.org", NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "example.com");
	T_EQ_STR(c.dns.filter[1], "*.example.net");
	T_EQ_STR(c.dns.filter[2], "+.corp.example");
	T_EQ_STR(c.dns.filter[3], ".sub.example.org");
	T_CHECK(c.dns.filter[4] == NULL);
}

/* Regression: a server list too long for the c-ares form made
 * nameservers_parse() return -ENOBUFS without a message, and
 * cli_parse() failed with an empty err. */
static void test_fake_ip_filter_trims(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--fake-ip-filter",
		       " a.example , b.example ", NULL, NULL),
		 CLI_RUN);
	T_EQ_STR(c.dns.filter[0], "a.example");
	T_EQ_STR(c.dns.filter[1], "b.example");
	T_CHECK(c.dns.filter[2] == NULL);
}

static void test_dns_server_long_list(void)
{
	struct options c;
	char err[256], list[8192];
	size_t used = 0;

	/* 100 servers are fine; 500 do not fit the c-ares form (4 KiB). */
	for (int i = 0; i < 100; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s10.0.0.%d",
					 i ? "," : "", i);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", list, NULL, NULL), CLI_RUN);
	for (int i = 100; i < 500; i++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, ",10.0.%d.%d", i / 250,
					 i % 250);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--dns-server", list, NULL, NULL), -EINVAL);
	T_ERR(err, "--dns-server: ");
}

int main(void)
{
	T_RUN(test_defaults_and_flags);
	T_RUN(test_errors);
	T_RUN(test_proxy_at_sign);
	T_RUN(test_usage_defaults);
	T_RUN(test_dns_defaults);
	T_RUN(test_dns_mode);
	T_RUN(test_dns_server);
	T_RUN(test_fake_ip_range);
	T_RUN(test_fake_ip_min_age);
	T_RUN(test_fake_ip_filter);
	T_RUN(test_dns_all_flags);
	T_RUN(test_fake_ip_filter_repeat_after_spaces);
	T_RUN(test_dns_server_long_list);
	T_RUN(test_fake_ip_filter_trims);
	T_RUN(test_auto_route);
	return test_summary();
}
