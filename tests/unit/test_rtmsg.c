/* Unit tests for the macOS routing-socket codec (tun2socks/system/rtmsg.c):
 * requests byte for byte against messages laid out by hand from Apple's
 * <net/route.h> (little-endian, as on every Mac the daemon runs on), and
 * replies and monitor messages as the kernel writes them (trimmed
 * netmasks, empty sockaddrs, link-level addresses), malformed ones too. */
#include "tun2socks/system/rtmsg.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct prefix pfx(const char *s)
{
	struct prefix p;

	if (prefix_parse(s, false, &p) != 0)
		abort();
	return p;
}

/* An rt_msghdr by hand: every field at its offset, little-endian. */
static size_t hdr(uint8_t *b, unsigned len, unsigned type, unsigned index, uint32_t flags,
		  uint32_t addrs, uint32_t seq)
{
	memset(b, 0, 92);
	b[0] = (uint8_t)len;
	b[1] = (uint8_t)(len >> 8);
	b[2] = 5;
	b[3] = (uint8_t)type;
	b[4] = (uint8_t)index;
	b[5] = (uint8_t)(index >> 8);
	for (int i = 0; i < 4; i++) {
		b[8 + i] = (uint8_t)(flags >> (8 * i));
		b[12 + i] = (uint8_t)(addrs >> (8 * i));
		b[20 + i] = (uint8_t)(seq >> (8 * i));
	}
	return 92;
}

static size_t put(uint8_t *b, size_t off, const uint8_t *sa, size_t n)
{
	memcpy(b + off, sa, n);
	return off + n;
}

/* sockaddr_in 0.0.0.0, and the netmask 128.0.0.0: full length. */
static const uint8_t sin_zero4[16] = { 16, 2 };
static const uint8_t sin_mask1[16] = { 16, 2, 0, 0, 0x80 };
static const uint8_t sin6_zero[28] = { 28, 30 };
static const uint8_t sin6_mask1[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0x80 };
static const uint8_t sin6_8000[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0x80 };
/* sockaddr_dl of interface 7 (sdl_len 20, AF_LINK 18, index 7), and an
 * empty one (index 0) as a GET asks for the interface with. */
static const uint8_t sdl7[20] = { 20, 18, 7, 0 };
static const uint8_t sdl0[20] = { 20, 18 };

static void check_build(const struct rtmsg_req *r, const uint8_t *want, size_t n)
{
	uint8_t got[RTMSG_MAX_LEN];
	int len = rtmsg_build(r, got, sizeof(got));

	T_EQ_INT(len, (int)n);
	if (len == (int)n)
		T_EQ_MEM(got, want, n);
}

/* route add -inet 0.0.0.0/1 -interface utun (index 7). */
static void test_add_split4(void)
{
	uint8_t w[256];
	size_t o = hdr(w, 144, 1, 0, 0x801, 0x7, 11);
	struct rtmsg_req r = {
		.type = RTMSG_ADD, .seq = 11, .dst = pfx("0.0.0.0/1"), .ifindex = 7
	};

	o = put(w, o, sin_zero4, 16);
	o = put(w, o, sdl7, 20);
	o = put(w, o, sin_mask1, 16);
	T_EQ_INT(o, 144);
	check_build(&r, w, o);
}

/* route add -inet 128.0.0.0/1 -interface utun: the address. */
static void test_add_split4_high(void)
{
	uint8_t w[256], dst[16] = { 16, 2, 0, 0, 128 };
	size_t o = hdr(w, 144, 1, 0, 0x801, 0x7, 12);
	struct rtmsg_req r = {
		.type = RTMSG_ADD, .seq = 12, .dst = pfx("128.0.0.0/1"), .ifindex = 7
	};

	o = put(w, o, dst, 16);
	o = put(w, o, sdl7, 20);
	o = put(w, o, sin_mask1, 16);
	check_build(&r, w, o);
}

/* route add -inet6 ::/1 -interface utun: sockaddr_in6 are 28 bytes, a
 * multiple of 4: no padding. */
static void test_add_split6(void)
{
	uint8_t w[256];
	size_t o = hdr(w, 168, 1, 0, 0x801, 0x7, 13);
	struct rtmsg_req r = { .type = RTMSG_ADD, .seq = 13, .dst = pfx("::/1"), .ifindex = 7 };

	o = put(w, o, sin6_zero, 28);
	o = put(w, o, sdl7, 20);
	o = put(w, o, sin6_mask1, 28);
	T_EQ_INT(o, 168);
	check_build(&r, w, o);
}

/* route add -host 203.0.113.5 192.168.1.1: a host route through the
 * original gateway, without netmask, RTF_HOST | RTF_GATEWAY. */
static void test_add_host_gw(void)
{
	uint8_t w[256], dst[16] = { 16, 2, 0, 0, 203, 0, 113, 5 },
			gw[16] = { 16, 2, 0, 0, 192, 168, 1, 1 };
	size_t o = hdr(w, 124, 1, 0, 0x807, 0x3, 14);
	struct rtmsg_req r = { .type = RTMSG_ADD,
			       .seq = 14,
			       .dst = pfx("203.0.113.5/32"),
			       .has_gw = true,
			       .gw = pfx("192.168.1.1") };

	o = put(w, o, dst, 16);
	o = put(w, o, gw, 16);
	check_build(&r, w, o);
}

/* route add -inet6 -host 2001:db8::5 fe80:4::1 (a link-local router with
 * its scope embedded, as a GET reply gave it). */
static void test_add_host6_gw(void)
{
	uint8_t w[256], dst[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, [23] = 5 },
			gw[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 0, 4, [23] = 1 };
	size_t o = hdr(w, 148, 1, 0, 0x807, 0x3, 15);
	struct rtmsg_req r = { .type = RTMSG_ADD,
			       .seq = 15,
			       .dst = pfx("2001:db8::5/128"),
			       .has_gw = true,
			       .gw = pfx("fe80:4::1") };

	o = put(w, o, dst, 28);
	o = put(w, o, gw, 28);
	check_build(&r, w, o);
}

/* route add -inet6 8000::/1 ::1 -reject: strict-route without IPv6 on
 * the TUN. */
static void test_add_reject6(void)
{
	uint8_t w[256], lo[28] = { 28, 30, [23] = 1 };
	size_t o = hdr(w, 176, 1, 0, 0x80b, 0x7, 16);
	struct rtmsg_req r = { .type = RTMSG_ADD,
			       .seq = 16,
			       .dst = pfx("8000::/1"),
			       .has_gw = true,
			       .gw = pfx("::1"),
			       .reject = true };

	o = put(w, o, sin6_8000, 28);
	o = put(w, o, lo, 28);
	o = put(w, o, sin6_mask1, 28);
	check_build(&r, w, o);
}

/* route delete -inet6 8000::/1 and route delete -host 203.0.113.5. */
static void test_delete(void)
{
	uint8_t w[256], dst[16] = { 16, 2, 0, 0, 203, 0, 113, 5 };
	size_t o = hdr(w, 148, 2, 0, 0x801, 0x5, 17);
	struct rtmsg_req r = { .type = RTMSG_DELETE, .seq = 17, .dst = pfx("8000::/1") };

	o = put(w, o, sin6_8000, 28);
	o = put(w, o, sin6_mask1, 28);
	check_build(&r, w, o);

	o = hdr(w, 108, 2, 0, 0x805, 0x1, 18);
	o = put(w, o, dst, 16);
	r = (struct rtmsg_req){ .type = RTMSG_DELETE, .seq = 18, .dst = pfx("203.0.113.5/32") };
	check_build(&r, w, o);
}

/* route -n get default (exact: netmask 0), and the lookup a socket bound
 * to interface 4 makes for 2001:db8::1 (RTF_IFSCOPE, rtm_index 4). */
static void test_get(void)
{
	uint8_t w[256], dst6[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, [23] = 1 },
			mask0[16] = { 16, 2 };
	size_t o = hdr(w, 144, 4, 0, 0x1, 0x15, 19);
	struct rtmsg_req r = { .type = RTMSG_GET, .seq = 19, .dst = pfx("0.0.0.0/0") };

	o = put(w, o, sin_zero4, 16);
	o = put(w, o, mask0, 16);
	o = put(w, o, sdl0, 20);
	check_build(&r, w, o);

	o = hdr(w, 140, 4, 4, 0x1000005, 0x11, 20);
	o = put(w, o, dst6, 28);
	o = put(w, o, sdl0, 20);
	r = (struct rtmsg_req){
		.type = RTMSG_GET, .seq = 20, .dst = pfx("2001:db8::1"), .scope = 4
	};
	check_build(&r, w, o);
}

static void test_build_errors(void)
{
	uint8_t b[RTMSG_MAX_LEN];
	struct rtmsg_req r = { .type = RTMSG_ADD, .dst = pfx("0.0.0.0/1") };

	T_EQ_INT(rtmsg_build(&r, b, sizeof(b)), -EINVAL); /* neither gateway nor interface */
	r.has_gw = true;
	r.gw = pfx("::1");
	T_EQ_INT(rtmsg_build(&r, b, sizeof(b)), -EINVAL); /* gateway of the other family */
	r = (struct rtmsg_req){ .type = RTMSG_ADD, .dst = pfx("0.0.0.0/1"), .ifindex = 7 };
	T_EQ_INT(rtmsg_build(&r, b, 100), -ENOBUFS);
	T_EQ_INT(rtmsg_build(&r, b, 143), -ENOBUFS);
	T_EQ_INT(rtmsg_build(&r, b, 144), 144);
	r.type = RTMSG_CHANGE;
	T_EQ_INT(rtmsg_build(&r, b, sizeof(b)), -EINVAL);
	r.type = RTMSG_GET;
	r.dst.family = 0;
	T_EQ_INT(rtmsg_build(&r, b, sizeof(b)), -EINVAL);
}

/* The kernel's answer to `route -n get default`: dst 0.0.0.0, gateway
 * 192.168.1.1, an empty netmask (sa_len 0: 4 bytes), en0's link address
 * (sdl_len 20, name "en0", 6-byte MAC), the interface address. */
static size_t reply_default4(uint8_t *w)
{
	static const uint8_t gw[16] = { 16, 2, 0, 0, 192, 168, 1, 1 },
			     ifp[20] = { 20,  18,  4,    0,    6,    3, 6, 0, 'e',
					 'n', '0', 0xa4, 0x83, 0xe7, 1, 2, 3 },
			     ifa[16] = { 16, 2, 0, 0, 192, 168, 1, 23 }, empty[4] = { 0 };
	size_t o = hdr(w, 164, 4, 4, 0x843, 0x37, 7);

	w[16] = 0x39; /* rtm_pid 1337 */
	w[17] = 0x05;
	o = put(w, o, sin_zero4, 16);
	o = put(w, o, gw, 16);
	o = put(w, o, empty, 4);
	o = put(w, o, ifp, 20);
	o = put(w, o, ifa, 16);
	return o;
}

static void test_parse_get_reply(void)
{
	uint8_t w[256];
	size_t n = reply_default4(w), off = 0;
	struct rtmsg_info m;
	char s[PREFIX_STRLEN];

	T_EQ_INT(n, 164);
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), 1);
	T_EQ_INT(off, 164);
	T_CHECK(m.known);
	T_EQ_INT(m.type, RTMSG_GET);
	T_EQ_INT(m.index, 4);
	T_EQ_INT(m.flags, 0x843);
	T_EQ_INT(m.pid, 1337);
	T_EQ_INT(m.seq, 7);
	T_EQ_INT(m.err, 0);
	T_CHECK(m.has_dst);
	prefix_format(&m.dst, s, sizeof(s));
	T_EQ_STR(s, "0.0.0.0/0");
	T_CHECK(m.has_gw);
	prefix_format(&m.gw, s, sizeof(s));
	T_EQ_STR(s, "192.168.1.1/32");
	T_EQ_STR(m.ifname, "en0");
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), 0);
}

/* An IPv6 default through a link-local router (scope 4 embedded), the
 * netmask trimmed to nothing; then a /1 route of the monitor whose
 * netmask the kernel trimmed to 5 bytes with no family, gateway a link
 * address: two messages in one buffer, as a sysctl dump gives them. */
static void test_parse_v6_and_trimmed(void)
{
	static const uint8_t gw[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 0, 4, [23] = 1 },
			     mask5[8] = { 5, 0, 0, 0, 0x80 }, dst[16] = { 16, 2, 0, 0, 128 },
			     empty[4] = { 0 };
	uint8_t w[512];
	size_t o = hdr(w, 152, 4, 4, 0x803, 0x7, 8), o2, off = 0;
	struct rtmsg_info m;
	char s[PREFIX_STRLEN];

	o = put(w, o, sin6_zero, 28);
	o = put(w, o, gw, 28);
	o = put(w, o, empty, 4);
	T_EQ_INT(o, 152);
	o2 = hdr(w + o, 136, 1, 9, 0x801, 0x7, 0) + o;
	o2 = put(w, o2, dst, 16);
	o2 = put(w, o2, sdl7, 20);
	o2 = put(w, o2, mask5, 8);
	T_EQ_INT(o2 - o, 136);

	T_EQ_INT(rtmsg_parse(w, o2, &off, &m), 1);
	prefix_format(&m.dst, s, sizeof(s));
	T_EQ_STR(s, "::/0");
	prefix_format(&m.gw, s, sizeof(s));
	T_EQ_STR(s, "fe80:4::1/128");
	T_EQ_STR(m.ifname, "");
	T_CHECK(rtmsg_is_route_event(&m) == false); /* a GET answer */

	T_EQ_INT(rtmsg_parse(w, o2, &off, &m), 1);
	T_EQ_INT(m.type, RTMSG_ADD);
	prefix_format(&m.dst, s, sizeof(s));
	T_EQ_STR(s, "128.0.0.0/1");
	T_CHECK(!m.has_gw);
	T_EQ_INT(m.gw_ifindex, 7);
	T_CHECK(rtmsg_is_route_event(&m));
	T_EQ_INT(rtmsg_parse(w, o2, &off, &m), 0);
}

/* A link-local gateway whose scope comes in sin6_scope_id (4) rather than
 * embedded: read into the embedded form. */
static void test_parse_scope_id(void)
{
	static const uint8_t gw[28] = { 28, 30, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, [23] = 1, [24] = 4 };
	uint8_t w[256];
	size_t o = hdr(w, 148, 4, 4, 0x803, 0x3, 9), off = 0;
	struct rtmsg_info m;
	char s[PREFIX_STRLEN];

	o = put(w, o, sin6_zero, 28);
	o = put(w, o, gw, 28);
	T_EQ_INT(rtmsg_parse(w, o, &off, &m), 1);
	prefix_format(&m.gw, s, sizeof(s));
	T_EQ_STR(s, "fe80:4::1/128");
	prefix_format(&m.dst, s, sizeof(s));
	T_EQ_STR(s, "::/128"); /* no netmask: a host route */
}

/* Interface messages: RTM_IFINFO (if_msghdr, 112 bytes) and RTM_NEWADDR
 * (ifa_msghdr, 20, then its addresses); a message of another version. */
static void test_parse_monitor(void)
{
	uint8_t w[512] = { 0 };
	size_t off = 0;
	struct rtmsg_info m;

	w[0] = 112;
	w[2] = 5;
	w[3] = RTMSG_IFINFO;
	w[8] = 0x43; /* IFF_UP | IFF_RUNNING... */
	w[12] = 5;   /* ifm_index */
	w[112] = 36; /* RTM_NEWADDR: 20 + one sockaddr_in (RTA_IFA) */
	w[114] = 5;
	w[115] = RTMSG_NEWADDR;
	w[116] = 0x20;
	w[124] = 6;
	w[132] = 16;
	w[133] = 2;
	w[148] = 8; /* version 4: not ours */
	w[150] = 4;
	w[151] = RTMSG_ADD;

	T_EQ_INT(rtmsg_parse(w, 156, &off, &m), 1);
	T_CHECK(m.known);
	T_EQ_INT(m.type, RTMSG_IFINFO);
	T_EQ_INT(m.index, 5);
	T_EQ_INT(m.flags, 0x43);
	T_CHECK(rtmsg_is_route_event(&m));
	T_EQ_INT(rtmsg_parse(w, 156, &off, &m), 1);
	T_EQ_INT(m.type, RTMSG_NEWADDR);
	T_EQ_INT(m.index, 6);
	T_EQ_INT(m.addrs, 0x20);
	T_CHECK(rtmsg_is_route_event(&m));
	T_EQ_INT(rtmsg_parse(w, 156, &off, &m), 1);
	T_CHECK(!m.known);
	T_EQ_INT(m.version, 4);
	T_CHECK(!rtmsg_is_route_event(&m));
	T_EQ_INT(off, 156);
	T_EQ_INT(rtmsg_parse(w, 156, &off, &m), 0);
}

/* What our requests parse back to (the kernel echoes a request to every
 * routing socket, ours included). */
static void test_round_trip(void)
{
	uint8_t b[RTMSG_MAX_LEN];
	struct rtmsg_req r = { .type = RTMSG_ADD,
			       .seq = 3,
			       .dst = pfx("10.0.0.0/8"),
			       .has_gw = true,
			       .gw = pfx("192.168.1.1") };
	struct rtmsg_info m;
	size_t off = 0;
	int n = rtmsg_build(&r, b, sizeof(b));

	T_CHECK(n > 0);
	T_EQ_INT(rtmsg_parse(b, (size_t)n, &off, &m), 1);
	T_CHECK(prefix_equal(&m.dst, &r.dst));
	T_CHECK(prefix_equal(&m.gw, &r.gw));
	T_EQ_INT(m.seq, 3);
	T_EQ_INT(m.flags, RTMSG_F_UP | RTMSG_F_GATEWAY | RTMSG_F_STATIC);
}

static void test_parse_malformed(void)
{
	uint8_t w[256];
	size_t n = reply_default4(w), off;
	struct rtmsg_info m;

	off = 0; /* cut short: msglen beyond the buffer */
	T_EQ_INT(rtmsg_parse(w, n - 1, &off, &m), -EBADMSG);
	off = 0;
	T_EQ_INT(rtmsg_parse(w, 3, &off, &m), -EBADMSG);
	w[0] = 2; /* msglen below its own header */
	w[1] = 0;
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), -EBADMSG);
	n = reply_default4(w);
	w[0] = 80; /* a route message shorter than rt_msghdr */
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), -EBADMSG);
	n = reply_default4(w);
	w[92 + 16] = 200; /* the gateway's sa_len past the end */
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), -EBADMSG);
	n = reply_default4(w);
	w[92 + 36 + 5] = 20; /* the interface name longer than its sockaddr */
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), -EBADMSG);
	n = reply_default4(w);
	w[12] |= 0x80; /* RTA_BRD announced, not there */
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), -EBADMSG);
	n = reply_default4(w);
	w[92 + 32 + 4 + 20 + 8 + 0] = 0xff; /* IFA address: ignored */
	w[92 + 16 + 4] = 0xff;              /* a gateway address: read */
	off = 0;
	T_EQ_INT(rtmsg_parse(w, n, &off, &m), 1);
	T_EQ_INT(m.gw.addr[0], 0xff);
}

/* A netmask that is not contiguous keeps the whole address. */
static void test_parse_odd_mask(void)
{
	static const uint8_t dst[16] = { 16, 2, 0, 0, 10, 1, 2, 3 },
			     mask[8] = { 8, 2, 0, 0, 0xff, 0, 0xff, 0 };
	uint8_t w[256];
	size_t o = hdr(w, 116, 1, 1, 0x801, 0x5, 0), off = 0;
	struct rtmsg_info m;
	char s[PREFIX_STRLEN];

	o = put(w, o, dst, 16);
	o = put(w, o, mask, 8);
	T_EQ_INT(rtmsg_parse(w, o, &off, &m), 1);
	T_CHECK(m.mask_odd);
	prefix_format(&m.dst, s, sizeof(s));
	T_EQ_STR(s, "10.1.2.3/32");
}

int main(void)
{
	T_RUN(test_add_split4);
	T_RUN(test_add_split4_high);
	T_RUN(test_add_split6);
	T_RUN(test_add_host_gw);
	T_RUN(test_add_host6_gw);
	T_RUN(test_add_reject6);
	T_RUN(test_delete);
	T_RUN(test_get);
	T_RUN(test_build_errors);
	T_RUN(test_parse_get_reply);
	T_RUN(test_parse_v6_and_trimmed);
	T_RUN(test_parse_scope_id);
	T_RUN(test_parse_monitor);
	T_RUN(test_round_trip);
	T_RUN(test_parse_malformed);
	T_RUN(test_parse_odd_mask);
	return test_summary();
}
