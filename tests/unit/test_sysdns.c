/* Unit tests for sysdns (tun2socks/system/sysdns.c): the system's DNS
 * servers for auto-route, and the resolver's list read back. */
#include "tun2socks/system/sysdns.h"
#include "test.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static int pick(const char *resolv, const char *resolved, char *csv, size_t cap, char *err)
{
	return sysdns_pick(resolv, strlen(resolv), resolved, resolved ? strlen(resolved) : 0, csv,
			   cap, err, 300);
}

static void test_parse(void)
{
	const char *text = "# generated\n"
			   "search lan\n"
			   "nameserver 10.77.0.1\n"
			   "nameserver\tfd77::1  \r\n"
			   "nameserver fe80::1%eth0\n" /* a zone: not usable by us */
			   "nameserver bogus\n"
			   "options timeout:2\n"
			   "nameserver 9.9.9.9"; /* no newline at the end */
	struct prefix p[8];
	char buf[PREFIX_STRLEN];

	T_EQ_INT(sysdns_parse_resolv(text, strlen(text), p, 8), 3);
	prefix_format(&p[0], buf, sizeof(buf));
	T_EQ_STR(buf, "10.77.0.1/32");
	prefix_format(&p[1], buf, sizeof(buf));
	T_EQ_STR(buf, "fd77::1/128");
	prefix_format(&p[2], buf, sizeof(buf));
	T_EQ_STR(buf, "9.9.9.9/32");
	T_EQ_INT(sysdns_parse_resolv(text, strlen(text), p, 1), 1);
	T_EQ_INT(sysdns_parse_resolv("", 0, p, 8), 0);
}

static void test_pick(void)
{
	char csv[256], err[300] = "";

	T_EQ_INT(pick("nameserver 10.77.0.1\nnameserver fd77::1\n", NULL, csv, sizeof(csv), err),
		 0);
	T_EQ_STR(csv, "10.77.0.1,fd77::1");
	/* systemd-resolved's stub: its upstreams instead */
	T_EQ_INT(pick("nameserver 127.0.0.53\noptions edns0 trust-ad\n",
		      "nameserver 192.168.1.1\nnameserver 2001:db8::53\n", csv, sizeof(csv), err),
		 0);
	T_EQ_STR(csv, "192.168.1.1,2001:db8::53");
	/* a stub next to a real server: each once */
	T_EQ_INT(pick("nameserver 192.168.1.1\nnameserver 127.0.0.53\n", "nameserver 192.168.1.1\n",
		      csv, sizeof(csv), err),
		 0);
	T_EQ_STR(csv, "192.168.1.1");
	T_EQ_INT(pick("nameserver 10.0.0.10\nnameserver 10.0.0.1\n", NULL, csv, sizeof(csv), err),
		 0);
	T_EQ_STR(csv, "10.0.0.10,10.0.0.1");
	/* another local resolver: its upstream is unknown */
	T_EQ_INT(pick("nameserver 127.0.0.1\n", NULL, csv, sizeof(csv), err), -ELOOP);
	T_CHECK(strstr(err, "nameserver 127.0.0.1") != NULL);
	T_EQ_INT(pick("nameserver ::1\n", "nameserver 127.0.0.1\n", csv, sizeof(csv), err), -ELOOP);
	T_EQ_INT(pick("search lan\n", NULL, csv, sizeof(csv), err), -ENOENT);
	T_CHECK(strstr(err, "no nameserver") != NULL);
	T_EQ_INT(pick("nameserver 10.77.0.1\nnameserver 10.77.0.2\n", NULL, csv, 12, err),
		 -ENOBUFS);
}

static void test_parse_csv(void)
{
	struct prefix p[4];
	char buf[PREFIX_STRLEN];

	T_EQ_INT(sysdns_parse_csv("10.77.0.1:53,[fd77::1]:5353,bogus:1", p, 4), 2);
	prefix_format(&p[0], buf, sizeof(buf));
	T_EQ_STR(buf, "10.77.0.1/32");
	prefix_format(&p[1], buf, sizeof(buf));
	T_EQ_STR(buf, "fd77::1/128");
	T_EQ_INT(sysdns_parse_csv("1.1.1.1:53,2.2.2.2:53", p, 1), 1);
	T_EQ_INT(sysdns_parse_csv("", p, 4), 0);
}

/* Which resolv.conf is systemd-resolved's: the stub file and the upstream
 * list it writes (their comment), a copy of the stub without comments. */
static void test_resolved_managed(void)
{
	const char *stub = "# This is /run/systemd/resolve/stub-resolv.conf managed by "
			   "man:systemd-resolved(8).\n# Do not edit.\n\nnameserver 127.0.0.53\n"
			   "options edns0 trust-ad\nsearch .\n";
	const char *uplink = "# This is /run/systemd/resolve/resolv.conf managed by "
			     "man:systemd-resolved(8).\nnameserver 10.77.0.1\n";
	const char *bare = "nameserver 127.0.0.53\noptions edns0\n";
	const char *lan = "nameserver 10.77.0.1\n";
	const char *mixed = "nameserver 127.0.0.53\nnameserver 10.77.0.1\n";
	const char *dnsmasq = "nameserver 127.0.0.1\n";

	T_CHECK(sysdns_resolved_managed(stub, strlen(stub)));
	T_CHECK(sysdns_resolved_managed(uplink, strlen(uplink)));
	T_CHECK(sysdns_resolved_managed(bare, strlen(bare)));
	T_CHECK(!sysdns_resolved_managed(lan, strlen(lan)));
	T_CHECK(!sysdns_resolved_managed(mixed, strlen(mixed)));
	T_CHECK(!sysdns_resolved_managed(dnsmasq, strlen(dnsmasq)));
	T_CHECK(!sysdns_resolved_managed("", 0));
	T_CHECK(!sysdns_resolved_managed(stub, 20)); /* the mark cut off */
}

int main(void)
{
	T_RUN(test_resolved_managed);
	T_RUN(test_parse);
	T_RUN(test_pick);
	T_RUN(test_parse_csv);
	return test_summary();
}
