/* Command-line parsing: defaults, every flag, and the one-line errors. */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "test.h"

static int parse(struct daemon_config *c, char *err, const char *a1, const char *a2,
		 const char *a3, const char *a4, const char *a5)
{
	char *argv[8] = { "tun2socks" };
	int argc = 1;
	const char *a[] = { a1, a2, a3, a4, a5 };

	for (int i = 0; i < 5 && a[i]; i++)
		argv[argc++] = (char *)a[i];
	return cli_parse(argc, argv, c, err, 256);
}

static void test_defaults_and_flags(void)
{
	struct daemon_config c;
	char err[256];

	T_EQ_INT(parse(&c, err, "--proxy", "socks5://u:p@10.0.0.1:1081", NULL, NULL, NULL), CLI_RUN);
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

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu=1500", "--tun", "t9", "--fwmark=0x1"), -EINVAL);
	T_CHECK(strstr(err, "--fwmark") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu=1500", "--tun", "t9", "--fwmark=77"), CLI_RUN);
	T_EQ_INT(c.tun.mtu, 1500);
	T_EQ_STR(c.tun.name, "t9");
	T_CHECK(c.sock.has_fwmark);
	T_EQ_INT(c.sock.fwmark, 77);

	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-fd", "5", "--tun-framing", "utun"), CLI_RUN);
	T_EQ_INT(c.tun.fd, 5);
	T_EQ_INT(c.tun.framing, TUN_FRAMING_AF4);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "10.9.0.1/24", "--tun-addr6", "none"), CLI_RUN);
	T_EQ_INT(c.tun.addr4[0], 10);
	T_EQ_INT(c.tun.prefix4, 24);
	T_CHECK(!c.tun.has_addr6);
	T_EQ_INT(parse(&c, err, "--help", NULL, NULL, NULL, NULL), CLI_HELP);
	T_EQ_INT(parse(&c, err, "--version", NULL, NULL, NULL, NULL), CLI_VERSION);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--log-level", "debug", "--idle-timeout", "0"), CLI_RUN);
	T_EQ_INT(c.log_level, LOG_DEBUG);
	T_EQ_INT(c.idle_timeout_s, 0);
}

static void test_errors(void)
{
	struct daemon_config c;
	char err[256];

	T_EQ_INT(parse(&c, err, NULL, NULL, NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "--proxy or -c FILE is required") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy", "socks5://h:99999", NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "malformed URL") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy", "ftp://h:1", NULL, NULL, NULL), -EINVAL);
	/* HTTP CONNECT proxies are upstreams too. */
	T_EQ_INT(parse(&c, err, "--proxy", "http://h:1", NULL, NULL, NULL), CLI_RUN);
	T_EQ_INT(c.proxy.scheme, PROXY_HTTP);
	T_CHECK(c.has_proxy);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", "70000", NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "576 to 65535") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", "1000", NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "IPv6 needs at least 1280") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "198.18.0.1", NULL, NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr", "198.18.0.1/33", NULL, NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun-addr6", "fe80::1/129", NULL, NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun", "x", "--tun-fd", "3"), -EINVAL);
	T_CHECK(strstr(err, "exclude") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--bogus", NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "unknown option") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--mtu", NULL, NULL, NULL), -EINVAL);
	T_CHECK(strstr(err, "missing value") != NULL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--log-level", "loud", NULL, NULL), -EINVAL);
	T_EQ_INT(parse(&c, err, "--proxy=socks5://h:1", "--tun", "0123456789abcdefg", NULL, NULL), -EINVAL);
}

int main(void)
{
	T_RUN(test_defaults_and_flags);
	T_RUN(test_errors);
	return test_summary();
}
