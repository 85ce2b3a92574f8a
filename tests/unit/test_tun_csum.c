/* The offload checksum helpers against a naive RFC 1071 reference: a
 * packet whose checksum field holds tun_csum_partial()'s pseudo sum, once
 * completed the way the Linux kernel completes CHECKSUM_PARTIAL (sum from
 * csum_start to the end, complement into the field), must carry exactly the
 * checksum the reference computes over pseudo header and segment. */
#include "test.h"
#include "tun2socks/tun/tun_csum.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define P_TCP 6
#define P_UDP 17
#define P_ICMP 1

static uint8_t pkt[70000];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Byte by byte, the textbook way: nothing shared with the code under test. */
static uint32_t naive_sum(uint32_t acc, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return acc;
}

static uint16_t naive_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The reference checksum of the L4 segment at pkt + hlen (field zeroed). */
static uint16_t naive_l4_csum(const uint8_t *ip, size_t hlen, size_t total, size_t field)
{
	uint8_t seg[70000];
	uint32_t acc;
	size_t l4 = total - hlen;

	memcpy(seg, ip + hlen, l4);
	seg[field] = seg[field + 1] = 0;
	if (ip[0] >> 4 == 4) {
		acc = naive_sum(0, ip + 12, 8);
		acc += ip[9];
	} else {
		acc = naive_sum(0, ip + 8, 32);
		acc += ip[6];
	}
	acc += (uint32_t)(l4 >> 16) + (uint32_t)(l4 & 0xffff);
	acc = naive_sum(acc, seg, l4);
	return (uint16_t)~naive_fold(acc);
}

/* What the receiving kernel does with NEEDS_CSUM (skb_checksum_help). */
static void complete(uint8_t *p, size_t total, const struct tun_csum_partial *cp)
{
	uint16_t c = (uint16_t)~naive_fold(naive_sum(0, p + cp->start, total - cp->start));

	put16(p + cp->start + cp->offset, c ? c : 0xffff);
}

/* Any checksum that verifies is as good: 0x0000 and 0xffff are the same
 * one's complement number (UDP reserves 0 for "none"). */
static int same_csum(uint16_t a, uint16_t b)
{
	return a == b || (a == 0xffff && b == 0) || (a == 0 && b == 0xffff);
}

static void fill_random(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rand();
}

/* An IPv4 packet of total bytes: header of ihl words, proto, the rest
 * random (L4 header included, with a sane TCP data offset). */
static void build4(uint8_t *p, size_t total, unsigned ihl, uint8_t proto)
{
	size_t hlen = ihl * 4u;

	fill_random(p, total);
	p[0] = (uint8_t)(0x40 | ihl);
	put16(p + 2, (uint16_t)total);
	put16(p + 6, 0x4000); /* DF, no fragment */
	p[9] = proto;
	if (proto == P_TCP)
		p[hlen + 12] = (uint8_t)((5 + rand() % 11) << 4);
	if (proto == P_UDP)
		put16(p + hlen + 4, (uint16_t)(total - hlen));
}

static void build6(uint8_t *p, size_t total, uint8_t nexth)
{
	fill_random(p, total);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)(total - 40));
	p[6] = nexth;
	if (nexth == P_TCP)
		p[40 + 12] = 0x50;
	if (nexth == P_UDP)
		put16(p + 40 + 4, (uint16_t)(total - 40));
}

/* Runs the partial-checksum round trip on pkt; returns 1 if it holds. */
static int roundtrip(size_t total, size_t want_start, uint16_t want_off)
{
	struct tun_csum_partial cp;
	size_t have = total < TUN_CSUM_HDR_MAX ? total : TUN_CSUM_HDR_MAX;
	uint16_t want;
	int ok = 1;

	if (tun_csum_partial(pkt, have, total, &cp) != 0)
		return 0;
	if (cp.start != want_start || cp.offset != want_off)
		return 0;
	if ((size_t)cp.start + cp.offset + 2 > have || cp.hdr_len > total ||
	    cp.hdr_len < cp.start + cp.offset + 2)
		return 0;
	want = naive_l4_csum(pkt, cp.start, total, cp.offset);
	memcpy(pkt + cp.start + cp.offset, cp.pseudo, 2);
	complete(pkt, total, &cp);
	if (!same_csum(get16(pkt + cp.start + cp.offset), want))
		ok = 0;
	/* And the completed packet verifies: sum over pseudo header and
	 * segment, field included, is all ones. */
	{
		uint32_t acc;
		size_t l4 = total - cp.start;

		if (pkt[0] >> 4 == 4)
			acc = naive_sum(0, pkt + 12, 8) + pkt[9];
		else
			acc = naive_sum(0, pkt + 8, 32) + pkt[6];
		acc += (uint32_t)(l4 >> 16) + (uint32_t)(l4 & 0xffff);
		acc = naive_sum(acc, pkt + cp.start, l4);
		if (naive_fold(acc) != 0xffff)
			ok = 0;
	}
	return ok;
}

static void test_ipv4_tcp_udp(void)
{
	static const size_t sizes[] = { 40, 41, 60, 61, 1500, 8501, 65535 };
	int bad = 0, runs = 0;
	size_t i;
	unsigned ihl;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (ihl = 5; ihl <= 15; ihl += 5) {
			if (sizes[i] < ihl * 4u + 20)
				continue;
			build4(pkt, sizes[i], ihl, P_TCP);
			bad += !roundtrip(sizes[i], ihl * 4u, 16);
			build4(pkt, sizes[i], ihl, P_UDP);
			bad += !roundtrip(sizes[i], ihl * 4u, 6);
			runs += 2;
		}
	}
	T_EQ_INT(bad, 0);
	T_EQ_INT(runs, 30);
}

static void test_ipv6_tcp_udp(void)
{
	static const size_t sizes[] = { 60, 61, 1281, 8500, 65575 };
	int bad = 0;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		build6(pkt, sizes[i], P_TCP);
		bad += !roundtrip(sizes[i], 40, 16);
		build6(pkt, sizes[i], P_UDP);
		bad += !roundtrip(sizes[i], 40, 6);
	}
	T_EQ_INT(bad, 0);
}

/* Random packets, random lengths: the sums must agree every time. */
static void test_random(void)
{
	int bad = 0, i;

	srand(1234);
	for (i = 0; i < 2000; i++) {
		size_t total = 60 + (size_t)(rand() % 9000);
		unsigned ihl = 5 + (unsigned)(rand() % 11);
		uint8_t proto = rand() & 1 ? P_TCP : P_UDP;

		if (rand() & 1) {
			build4(pkt, total, ihl, proto);
			bad += !roundtrip(total, ihl * 4u, proto == P_TCP ? 16 : 6);
		} else {
			build6(pkt, total, proto);
			bad += !roundtrip(total, 40, proto == P_TCP ? 16 : 6);
		}
	}
	T_EQ_INT(bad, 0);
}

/* The pseudo sum is a fixed value, not a function of whatever the field
 * held before. */
static void test_field_ignored(void)
{
	struct tun_csum_partial a, b;

	build4(pkt, 200, 5, P_TCP);
	put16(pkt + 36, 0);
	T_EQ_INT(tun_csum_partial(pkt, 80, 200, &a), 0);
	put16(pkt + 36, 0xbeef);
	T_EQ_INT(tun_csum_partial(pkt, 80, 200, &b), 0);
	T_EQ_MEM(a.pseudo, b.pseudo, 2);
	T_EQ_INT(a.hdr_len, 20 + (pkt[32] >> 4) * 4);
}

static void test_not_deferrable(void)
{
	struct tun_csum_partial cp;

	build4(pkt, 100, 5, P_ICMP);
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EPROTONOSUPPORT);
	build4(pkt, 100, 5, P_TCP);
	put16(pkt + 6, 0x2000); /* MF */
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EPROTONOSUPPORT);
	put16(pkt + 6, 0x0010); /* a later fragment */
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EPROTONOSUPPORT);
	build6(pkt, 100, 0); /* hop-by-hop options first */
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EPROTONOSUPPORT);
	build6(pkt, 100, 58); /* ICMPv6 */
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EPROTONOSUPPORT);
}

static void test_malformed(void)
{
	struct tun_csum_partial cp;

	build4(pkt, 100, 5, P_TCP);
	T_EQ_INT(tun_csum_partial(pkt, 80, 101, &cp), -EINVAL); /* length */
	T_EQ_INT(tun_csum_partial(pkt, 37, 100, &cp), -EINVAL); /* short have */
	T_EQ_INT(tun_csum_partial(pkt, 38, 100, &cp), 0);       /* just enough */
	T_EQ_INT(tun_csum_partial(pkt, 0, 100, &cp), -EINVAL);
	T_EQ_INT(tun_csum_partial(pkt, 101, 100, &cp), -EINVAL);
	build4(pkt, 39, 5, P_TCP); /* shorter than a TCP header */
	T_EQ_INT(tun_csum_partial(pkt, 39, 39, &cp), -EINVAL);
	build4(pkt, 27, 5, P_UDP);
	T_EQ_INT(tun_csum_partial(pkt, 27, 27, &cp), -EINVAL);
	build4(pkt, 28, 5, P_UDP); /* empty datagram */
	T_EQ_INT(tun_csum_partial(pkt, 28, 28, &cp), 0);
	build4(pkt, 100, 5, P_TCP);
	pkt[0] = 0x44; /* IHL below 5 */
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EINVAL);
	pkt[0] = 0x55;
	T_EQ_INT(tun_csum_partial(pkt, 80, 100, &cp), -EINVAL);
	build6(pkt, 100, P_UDP);
	T_EQ_INT(tun_csum_partial(pkt, 80, 99, &cp), -EINVAL);
	T_EQ_INT(tun_csum_partial(pkt, 39, 100, &cp), -EINVAL);
}

static void test_fix_len(void)
{
	uint32_t acc;

	/* IPv4: a wrong total length is corrected with a valid header sum. */
	build4(pkt, 30000, 5, P_TCP);
	put16(pkt + 10, 0);
	put16(pkt + 10, (uint16_t)~naive_fold(naive_sum(0, pkt, 20)));
	T_EQ_INT(tun_csum_fix_len(pkt, 30000), 0);
	T_EQ_INT(get16(pkt + 2), 30000);
	put16(pkt + 2, 0);
	T_EQ_INT(tun_csum_fix_len(pkt, 30000), 0);
	T_EQ_INT(get16(pkt + 2), 30000);
	acc = naive_sum(0, pkt, 20);
	T_EQ_INT(naive_fold(acc), 0xffff);
	T_EQ_INT(tun_csum_fix_len(pkt, 65536), -EINVAL);
	T_EQ_INT(tun_csum_fix_len(pkt, 19), -EINVAL);

	/* IPv6. */
	build6(pkt, 65535, P_TCP);
	put16(pkt + 4, 0);
	T_EQ_INT(tun_csum_fix_len(pkt, 65535), 0);
	T_EQ_INT(get16(pkt + 4), 65535 - 40);
	T_EQ_INT(tun_csum_fix_len(pkt, 65575), 0);
	T_EQ_INT(get16(pkt + 4), 65535);
	T_EQ_INT(tun_csum_fix_len(pkt, 65576), -EINVAL);
	T_EQ_INT(tun_csum_fix_len(pkt, 39), -EINVAL);

	pkt[0] = 0x50;
	T_EQ_INT(tun_csum_fix_len(pkt, 100), -EINVAL);
	T_EQ_INT(tun_csum_fix_len(pkt, 0), -EINVAL);
}

int main(void)
{
	T_RUN(test_ipv4_tcp_udp);
	T_RUN(test_ipv6_tcp_udp);
	T_RUN(test_random);
	T_RUN(test_field_ignored);
	T_RUN(test_not_deferrable);
	T_RUN(test_malformed);
	T_RUN(test_fix_len);
	return test_summary();
}
