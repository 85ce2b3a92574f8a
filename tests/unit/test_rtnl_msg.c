/* Unit tests for the RTNETLINK codec (tun2socks/system/rtnl_msg.c):
 * requests byte for byte, dumps and errors a Linux 6.x kernel sent
 * (tests/unit/data/rtnl/, captured in a scratch namespace holding
 * auto-route's rules), and build -> parse round trips. */
#include "tun2socks/system/route_text.h"
#include "tun2socks/system/rtnl_msg.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static size_t read_data(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/rtnl/%s", T2S_TEST_DATA_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return 0;
	}
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static struct prefix pfx(const char *s)
{
	struct prefix p;

	if (prefix_parse(s, false, &p) != 0)
		abort();
	return p;
}

/* The request for "rule -4 pref 9002 iif lo ipproto udp dport 53 lookup
 * 2022", laid out by hand from the ABI. */
static void test_rule_bytes(void)
{
	static const uint8_t want[] = {
		/* nlmsghdr: len 68, RTM_NEWRULE, REQUEST|ACK|EXCL|CREATE, seq 7, pid 0 */
		68,
		0,
		0,
		0,
		32,
		0,
		0x05,
		0x06,
		7,
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		/* fib_rule_hdr: AF_INET, dst 0, src 0, tos 0, table 0 (2022 > 255),
		 * res, res, action TO_TBL, flags 0 */
		2,
		0,
		0,
		0,
		0,
		0,
		0,
		1,
		0,
		0,
		0,
		0,
		/* FRA_PRIORITY 9002 */
		8,
		0,
		6,
		0,
		0x2a,
		0x23,
		0,
		0,
		/* FRA_TABLE 2022 */
		8,
		0,
		15,
		0,
		0xe6,
		0x07,
		0,
		0,
		/* FRA_IIFNAME "lo\0" */
		7,
		0,
		3,
		0,
		'l',
		'o',
		0,
		0,
		/* FRA_IP_PROTO 17 */
		5,
		0,
		22,
		0,
		17,
		0,
		0,
		0,
		/* FRA_DPORT_RANGE 53-53 */
		8,
		0,
		24,
		0,
		53,
		0,
		53,
		0,
	};
	struct rtnl_rule r = { .family = AF_INET,
			       .action = RTNL_ACT_TABLE,
			       .priority = 9002,
			       .table = 2022,
			       .ip_proto = 17,
			       .dport = { 53, 53 } };
	uint8_t buf[256];
	int n;

	strcpy(r.iif, "lo");
	n = rtnl_rule_msg(RTNL_NEWRULE, RTNL_F_CREATE | RTNL_F_EXCL, 7, &r, buf, sizeof(buf));
	T_EQ_INT(n, (int)sizeof(want));
	if (n == (int)sizeof(want))
		T_EQ_MEM(buf, want, sizeof(want));
	T_EQ_INT(rtnl_rule_msg(RTNL_NEWRULE, 0, 7, &r, buf, 60), -ENOBUFS);
	T_EQ_INT(rtnl_rule_msg(RTNL_NEWRULE, 0, 7, &r, buf, 10), -ENOBUFS);
	r.family = 99;
	T_EQ_INT(rtnl_rule_msg(RTNL_NEWRULE, 0, 7, &r, buf, sizeof(buf)), -EINVAL);
}

static void test_route_bytes(void)
{
	static const uint8_t want[] = {
		/* nlmsghdr: len 52, RTM_NEWROUTE, REQUEST|ACK|EXCL|CREATE, seq 3 */
		52, 0, 0, 0, 24, 0, 0x05, 0x06, 3, 0, 0, 0, 0, 0, 0, 0,
		/* rtmsg: AF_INET, dst_len 1, src 0, tos 0, table 0, static, link, unicast */
		2, 1, 0, 0, 0, 4, 253, 1, 0, 0, 0, 0, 8, 0, 15, 0, 0xe6, 0x07, 0,
		0,                        /* RTA_TABLE 2022 */
		8, 0, 1, 0, 128, 0, 0, 0, /* RTA_DST 128.0.0.0 */
		8, 0, 4, 0, 5, 0, 0, 0,   /* RTA_OIF 5 */
	};
	struct rtnl_route r = { .family = AF_INET,
				.type = RTNL_RT_UNICAST,
				.scope = RTNL_SCOPE_LINK,
				.protocol = RTNL_PROTO_STATIC,
				.table = 2022,
				.dst = pfx("128.0.0.0/1"),
				.oif = 5 };
	uint8_t buf[128];
	int n = rtnl_route_msg(RTNL_NEWROUTE, RTNL_F_CREATE | RTNL_F_EXCL, 3, &r, buf, sizeof(buf));

	T_EQ_INT(n, (int)sizeof(want));
	if (n == (int)sizeof(want))
		T_EQ_MEM(buf, want, sizeof(want));
	/* where would our packet to 192.0.2.1 go, with mark 0x2022 */
	static const uint8_t get[] = {
		44, 0,  0,  0, 26,   0,    1, 0, 5, 0,    0, 0,
		0,  0,  0,  0,                                  /* RTM_GETROUTE, REQUEST */
		2,  32, 0,  0, 0,    0,    0, 0, 0, 0x10, 0, 0, /* AF_INET, /32, LOOKUP_TABLE */
		8,  0,  1,  0, 192,  0,    2, 1,                /* RTA_DST */
		8,  0,  16, 0, 0x22, 0x20, 0, 0,                /* RTA_MARK */
	};
	struct prefix host = pfx("192.0.2.1/32");
	n = rtnl_route_get_msg(5, &host, 0x2022, 0, buf, sizeof(buf));
	T_EQ_INT(n, (int)sizeof(get));
	if (n == (int)sizeof(get))
		T_EQ_MEM(buf, get, sizeof(get));
	/* a dump request: header and a family header only */
	n = rtnl_dump_msg(RTNL_GETRULE, AF_INET6, 9, buf, sizeof(buf));
	T_EQ_INT(n, 28);
	T_EQ_INT(buf[4], RTNL_GETRULE);
	T_EQ_INT(buf[6], 0x01);
	T_EQ_INT(buf[7], 0x03);
	T_EQ_INT(buf[16], AF_INET6);
}

/* Every message of a captured dump, as text lines (rules and routes). */
static int dump_lines(const char *file, char lines[][ROUTE_TEXT_MAX], int max, int *done)
{
	static uint8_t buf[8192];
	size_t len = read_data(file, buf, sizeof(buf)), off = 0;
	struct rtnl_reply rep;
	int n = 0, r;

	*done = 0;
	while ((r = rtnl_parse_next(buf, len, &off, &rep)) == 1) {
		struct route_obj o = { 0 };

		if (rep.kind == RTNL_REPLY_DONE) {
			(*done)++;
			continue;
		}
		if (n == max)
			break;
		if (rep.kind == RTNL_REPLY_RULE) {
			o.kind = ROUTE_OBJ_RULE;
			o.rule = rep.rule;
		} else if (rep.kind == RTNL_REPLY_ROUTE) {
			o.kind = ROUTE_OBJ_ROUTE;
			o.route = rep.route;
			if (rep.route.oif)
				snprintf(o.dev, sizeof(o.dev), "if%u", rep.route.oif);
		} else {
			continue;
		}
		route_text_format(&o, lines[n++], ROUTE_TEXT_MAX);
	}
	T_EQ_INT(r, 0);
	T_EQ_INT(off, len);
	return n;
}

static bool has_line(char lines[][ROUTE_TEXT_MAX], int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (strcmp(lines[i], want) == 0)
			return true;
	fprintf(stderr, "missing line: %s\n", want);
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  have: %s\n", lines[i]);
	return false;
}

static void test_kernel_dumps(void)
{
	static char l[64][ROUTE_TEXT_MAX];
	int n, done;

	n = dump_lines("rules4.bin", l, 64, &done);
	T_EQ_INT(done, 1);
	T_EQ_INT(n, 12);
	T_CHECK(has_line(l, n, "rule -4 pref 0 lookup 255"));
	T_CHECK(has_line(l, n, "rule -4 pref 9000 fwmark 0x2022/0xffffffff goto 9010"));
	T_CHECK(has_line(l, n, "rule -4 pref 9001 iif lo uidrange 1000-1999 goto 9010"));
	T_CHECK(has_line(l, n, "rule -4 pref 9001 not to 10.0.0.0/8 sport 1000-2000 lookup 2022"));
	T_CHECK(has_line(l, n, "rule -4 pref 9002 ipproto udp dport 53 lookup 2022"));
	T_CHECK(has_line(l, n, "rule -4 pref 9002 ipproto tcp dport 53 lookup 2022"));
	T_CHECK(has_line(l, n, "rule -4 pref 9003 lookup main suppress_prefixlength 0"));
	T_CHECK(has_line(l, n, "rule -4 pref 9004 from 198.18.0.0/15 iif lo lookup 2022"));
	T_CHECK(has_line(l, n, "rule -4 pref 9005 from 0.0.0.0/32 iif lo lookup 2022"));
	T_CHECK(has_line(l, n, "rule -4 pref 9010 nop"));
	T_CHECK(has_line(l, n, "rule -4 pref 32766 lookup main"));
	T_CHECK(has_line(l, n, "rule -4 pref 32767 lookup 253"));

	n = dump_lines("rules6.bin", l, 64, &done);
	T_EQ_INT(done, 1);
	T_CHECK(has_line(l, n, "rule -6 pref 9004 from fdfe:dcba:9876::/126 iif lo lookup 2022"));
	T_CHECK(has_line(l, n, "rule -6 pref 9005 from ::/1 iif lo goto 9010"));
	T_CHECK(has_line(l, n, "rule -6 pref 9005 from 8000::/1 iif lo goto 9010"));
	T_CHECK(has_line(l, n, "rule -6 pref 9006 iif lo lookup 2022"));

	n = dump_lines("routes4.bin", l, 64, &done);
	T_EQ_INT(done, 1);
	T_CHECK(has_line(l, n, "route -4 table 2022 unreachable 203.0.113.0/24"));
	T_CHECK(has_line(l, n, "route -4 table main 0.0.0.0/0 dev if2"));
	T_CHECK(has_line(l, n, "route -4 table 255 127.0.0.0/8 dev if1"));
	n = dump_lines("routes6.bin", l, 64, &done);
	T_EQ_INT(done, 1);
	/* the kernel puts unreachable IPv6 routes on lo, with a metric */
	T_CHECK(has_line(l, n, "route -6 table 2022 unreachable ::/0 dev if1 metric 1024"));
	T_CHECK(has_line(l, n, "route -6 table main fd77::/64 dev if2 metric 256"));
}

static void test_errors(void)
{
	uint8_t buf[256];
	struct rtnl_reply rep;
	size_t len, off;

	/* EINVAL with the kernel's text, capped and uncapped */
	len = read_data("err_msg_capped.bin", buf, sizeof(buf));
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), 1);
	T_EQ_INT(rep.kind, RTNL_REPLY_ACK);
	T_EQ_INT(rep.error, -EINVAL);
	T_EQ_INT(rep.seq, 9);
	T_EQ_STR(rep.ext_msg, "Backward goto not supported");
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), 0);
	len = read_data("err_msg_uncapped.bin", buf, sizeof(buf));
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), 1);
	T_EQ_INT(rep.error, -EINVAL);
	T_EQ_STR(rep.ext_msg, "Backward goto not supported");
	/* ENODEV without a text */
	len = read_data("err_capped.bin", buf, sizeof(buf));
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), 1);
	T_EQ_INT(rep.error, -ENODEV);
	T_EQ_STR(rep.ext_msg, "");
	len = read_data("err_uncapped.bin", buf, sizeof(buf));
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), 1);
	T_EQ_INT(rep.error, -ENODEV);
	/* truncated: a length beyond the buffer, an attribute beyond its message */
	len = read_data("rules4.bin", buf, sizeof(buf));
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, 51, &off, &rep), -EBADMSG); /* the first is 52 */
	T_EQ_INT(off, 0);
	buf[0] = 34; /* the first rule cut inside its first attribute */
	off = 0;
	T_EQ_INT(rtnl_parse_next(buf, len, &off, &rep), -EBADMSG);
	T_EQ_INT(rtnl_parse_next(buf, 10, &off, &rep), 0);
}

static void roundtrip_rule(const struct rtnl_rule *r)
{
	uint8_t buf[512];
	struct rtnl_reply rep;
	size_t off = 0;
	int n = rtnl_rule_msg(RTNL_NEWRULE, 0, 1, r, buf, sizeof(buf));

	T_CHECK(n > 0);
	/* what the kernel sends back is a NEWRULE too */
	T_EQ_INT(rtnl_parse_next(buf, (size_t)n, &off, &rep), 1);
	T_EQ_INT(rep.kind, RTNL_REPLY_RULE);
	T_EQ_INT(off, (size_t)n);
	T_EQ_MEM(&rep.rule, r, sizeof(*r));
}

static void test_roundtrip(void)
{
	struct rtnl_rule r;
	struct rtnl_route rt, back;
	struct rtnl_reply rep;
	uint8_t buf[512];
	size_t off = 0;
	int n;

	memset(&r, 0, sizeof(r));
	r.family = AF_INET6;
	r.action = RTNL_ACT_GOTO;
	r.priority = 9005;
	r.goto_prio = 9010;
	r.src = pfx("8000::/1");
	r.dst = pfx("::/0");
	strcpy(r.iif, "lo");
	roundtrip_rule(&r);

	memset(&r, 0, sizeof(r));
	r.family = AF_INET;
	r.action = RTNL_ACT_TABLE;
	r.invert = true;
	r.priority = 1;
	r.table = 100;
	r.src = pfx("0.0.0.0/32");
	r.dst = pfx("10.0.0.0/8");
	strcpy(r.oif, "eth0");
	r.has_fwmark = true;
	r.fwmark = 0x2022;
	r.fwmask = 0xff;
	r.ip_proto = 6;
	r.sport[0] = 1;
	r.sport[1] = 2;
	r.dport[0] = r.dport[1] = 53;
	r.has_uid = true;
	r.uid[0] = 1000;
	r.uid[1] = 2000;
	r.has_suppress = true;
	r.suppress_prefixlen = 0;
	roundtrip_rule(&r);

	memset(&rt, 0, sizeof(rt));
	rt.family = AF_INET6;
	rt.type = RTNL_RT_UNREACHABLE;
	rt.protocol = RTNL_PROTO_STATIC;
	rt.table = 70000;
	rt.dst = pfx("2001:db8::/32");
	rt.metric = 5;
	n = rtnl_route_msg(RTNL_NEWROUTE, 0, 1, &rt, buf, sizeof(buf));
	T_EQ_INT(rtnl_parse_next(buf, (size_t)n, &off, &rep), 1);
	back = rep.route;
	T_EQ_MEM(&back, &rt, sizeof(rt));
}

int main(void)
{
	T_RUN(test_rule_bytes);
	T_RUN(test_route_bytes);
	T_RUN(test_kernel_dumps);
	T_RUN(test_errors);
	T_RUN(test_roundtrip);
	return test_summary();
}
