/* Unit tests for dns_hosts: exact names, patterns, /etc/hosts text. */
#include "resolver/dns_hosts.h"
#include "test.h"

#include <errno.h>
#include <string.h>

static void test_add_find(void)
{
	struct dns_hosts *h = NULL;
	struct dns_hosts_addrs a;

	T_EQ_INT(dns_hosts_create(&h), 0);
	if (!h)
		return;
	T_EQ_INT(dns_hosts_add(h, "Router.LAN", "192.168.1.1"), 0);
	T_EQ_INT(dns_hosts_add(h, "router.lan.", "fd00::1"), 0);
	T_EQ_INT(dns_hosts_add(h, "router.lan", "192.168.1.1"), 0); /* again: once */
	T_EQ_INT(dns_hosts_add(h, "+.corp.test", "10.0.0.7"), 0);
	T_EQ_INT(dns_hosts_add(h, "*.one.test", "10.0.0.8"), 0);
	T_EQ_INT(dns_hosts_add(h, "exact.corp.test", "10.0.0.9"), 0);
	T_EQ_INT(dns_hosts_add(h, "bad name", "10.0.0.1"), -EINVAL);
	T_EQ_INT(dns_hosts_add(h, "ok.test", "10.0.0.300"), -EINVAL);
	T_EQ_INT(dns_hosts_add(h, "a+b.test", "10.0.0.1"), -EINVAL);
	T_EQ_INT(dns_hosts_count(h), 4);

	T_EQ_INT(dns_hosts_find(h, "ROUTER.lan", &a), 0);
	T_EQ_INT(a.n4, 1);
	T_EQ_INT(a.n6, 1);
	T_EQ_MEM(a.a4[0], "\xc0\xa8\x01\x01", 4);
	T_EQ_INT(dns_hosts_find(h, "corp.test", &a), 0);
	T_EQ_MEM(a.a4[0], "\x0a\x00\x00\x07", 4);
	T_EQ_INT(dns_hosts_find(h, "x.y.corp.test", &a), 0);
	T_EQ_INT(dns_hosts_find(h, "exact.corp.test", &a), 0); /* exact wins */
	T_EQ_MEM(a.a4[0], "\x0a\x00\x00\x09", 4);
	T_EQ_INT(dns_hosts_find(h, "a.one.test", &a), 0);
	T_EQ_INT(dns_hosts_find(h, "a.b.one.test", &a), -ENOENT);
	T_EQ_INT(dns_hosts_find(h, "one.test", &a), -ENOENT);
	T_EQ_INT(dns_hosts_find(h, "*.one.test", &a), -ENOENT);
	T_EQ_INT(dns_hosts_find(h, "elsewhere.test", &a), -ENOENT);
	T_EQ_INT(a.n4 + a.n6, 0);
	for (int i = 0; i < DNS_HOSTS_MAX; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.0.%d", i);
		T_EQ_INT(dns_hosts_add(h, "many.test", ip), 0);
	}
	T_EQ_INT(dns_hosts_add(h, "many.test", "10.2.0.0"), -ENOSPC);
	dns_hosts_destroy(h);
}

static void test_etc(void)
{
	static const char etc[] = "# comment\n"
				  "127.0.0.1\tlocalhost\n"
				  "::1 localhost ip6-localhost # trailing\n"
				  "192.0.2.5 web.test www.web.test\n"
				  "garbage\n"
				  "300.1.1.1 bad.test\n"
				  "192.0.2.6 *.pattern.test cfg.test\n"
				  "\n"
				  "192.0.2.7 last.test";
	struct dns_hosts *h = NULL;
	struct dns_hosts_addrs a;
	size_t skipped = 0;

	T_EQ_INT(dns_hosts_create(&h), 0);
	if (!h)
		return;
	T_EQ_INT(dns_hosts_add(h, "cfg.test", "10.9.9.9"), 0);
	T_EQ_INT(dns_hosts_parse_etc(h, etc, strlen(etc), &skipped), 0);
	T_EQ_INT(skipped, 3); /* garbage, 300.1.1.1, the pattern */
	T_EQ_INT(dns_hosts_find(h, "localhost", &a), 0);
	T_EQ_INT(a.n4, 1);
	T_EQ_INT(a.n6, 1);
	T_EQ_INT(dns_hosts_find(h, "www.web.test", &a), 0);
	T_EQ_MEM(a.a4[0], "\xc0\x00\x02\x05", 4);
	T_EQ_INT(dns_hosts_find(h, "cfg.test", &a), 0); /* the config's wins */
	T_EQ_INT(a.n4, 1);
	T_EQ_MEM(a.a4[0], "\x0a\x09\x09\x09", 4);
	T_EQ_INT(dns_hosts_find(h, "last.test", &a), 0);
	T_EQ_INT(dns_hosts_find(h, "bad.test", &a), -ENOENT);
	T_EQ_INT(dns_hosts_find(h, "x.pattern.test", &a), -ENOENT);
	dns_hosts_destroy(h);
}

/* Aliases (mihomo's hosts: value that is a name): followed through the
 * table; a chain leaving it names where it ends; loops end. */
static void test_alias(void)
{
	struct dns_hosts *h = NULL;
	struct dns_hosts_addrs a;

	T_EQ_INT(dns_hosts_create(&h), 0);
	if (!h)
		return;
	T_EQ_INT(dns_hosts_add(h, "real.test", "10.1.1.1"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "one.test", "two.test"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "two.test", "REAL.test."), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "+.wild.test", "real.test"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "out.test", "elsewhere.example"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "loop1.test", "loop2.test"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "loop2.test", "loop1.test"), 0);
	T_EQ_INT(dns_hosts_add_alias(h, "real.test", "x.test"), -EEXIST);
	T_EQ_INT(dns_hosts_add(h, "one.test", "10.2.2.2"), -EEXIST);
	T_EQ_INT(dns_hosts_add_alias(h, "bad.test", "*.x"), -EINVAL);
	T_EQ_INT(dns_hosts_find(h, "one.test", &a), 0);
	T_EQ_INT(a.n4, 1);
	T_EQ_MEM(a.a4[0], "\x0a\x01\x01\x01", 4);
	T_EQ_STR(a.alias, "");
	T_EQ_INT(dns_hosts_find(h, "a.wild.test", &a), 0);
	T_EQ_INT(a.n4, 1);
	T_EQ_INT(dns_hosts_find(h, "out.test", &a), 0);
	T_EQ_INT(a.n4 + a.n6, 0);
	T_EQ_STR(a.alias, "elsewhere.example");
	T_EQ_INT(dns_hosts_find(h, "loop1.test", &a), 0);
	T_EQ_INT(a.n4 + a.n6, 0);
	T_CHECK(a.alias[0] != '\0');
	dns_hosts_destroy(h);
}

int main(void)
{
	T_RUN(test_add_find);
	T_RUN(test_etc);
	T_RUN(test_alias);
	return test_summary();
}
