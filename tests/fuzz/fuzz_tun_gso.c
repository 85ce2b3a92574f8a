/* libFuzzer target for the outgoing GSO coalescer (tun_gso.h).
 *
 * The input is a batch of packets, each a 2-byte big-endian length and its
 * bytes (the last one takes what is left), fed through the same pass as
 * tun_write_batch: parse, start a run, append while allowed, finish.
 * Beyond "no crash, no sanitizer report" it aborts when a contract breaks:
 *  - a run never exceeds the size cap, and its length is the headers once
 *    plus every member's payload;
 *  - the finished headers say that length (IPv4 total length with a valid
 *    header checksum, IPv6 payload length) and the offload fields add up:
 *    every member but the last carries exactly gso_size bytes, the last at
 *    most that, and the kernel's split gives back as many segments;
 *  - members are contiguous in sequence space and share the first one's
 *    header bytes wherever the rules say they must;
 *  - with a wire limit (the input's second pair of bytes) a longer first
 *    segment is cut: gso_size is the limit, members of any length join,
 *    and the software cut (tun_gso_cut) of the first gives pieces that
 *    add up to it, each within the limit, each IPv4 header summing right.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "tun2socks/tun/tun_gso.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define MAX_PKTS 128

struct pkt {
	const uint8_t *b;
	size_t len;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint16_t ip4_sum_ok(const uint8_t *h, size_t ih)
{
	uint32_t acc = 0;

	for (size_t i = 0; i + 1 < ih; i += 2)
		acc += get16(h + i);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc == 0xffff;
}

static size_t have_of(const struct pkt *p)
{
	return p->len < TUN_GSO_HDR_MAX ? p->len : TUN_GSO_HDR_MAX;
}

/* The software cut of p (parsed as seg) into pieces of at most wire. */
static void check_cut(const struct pkt *p, const struct tun_gso_seg *seg, uint32_t wire)
{
	static uint8_t piece[TUN_GSO_MAX_TOTAL];
	uint32_t off = 0, k = 0;

	while (off < seg->payload) {
		uint32_t len = seg->payload - off < wire ? seg->payload - off : wire;
		struct tun_gso_seg again;

		memcpy(piece + seg->hlen, p->b + seg->hlen + off, len);
		tun_gso_cut(p->b, seg, off, len, (uint16_t)k, piece);
		/* A piece is a segment of the same kind, where it belongs. */
		CHECK(tun_gso_parse(piece, seg->hlen, seg->hlen + (size_t)len, &again) == 0);
		CHECK(again.payload == len && again.hlen == seg->hlen);
		CHECK(get32(piece + seg->ip_hlen + 4) == seg->seq + off);
		if (seg->version == 4)
			CHECK(ip4_sum_ok(piece, seg->ip_hlen));
		off += len;
		k++;
	}
	CHECK(k == (seg->payload + wire - 1) / wire);
}

static void check_run(const struct pkt *p, size_t n, size_t cap, uint32_t wire)
{
	struct tun_gso_run run;
	struct tun_gso_seg first, sg;
	struct tun_gso_meta m;
	uint8_t hdr[TUN_GSO_HDR_MAX];
	size_t j, payload = 0;
	bool cut;

	if (tun_gso_parse(p[0].b, have_of(&p[0]), p[0].len, &first) != 0)
		return;
	CHECK(first.hlen <= TUN_GSO_HDR_MAX && first.hlen + first.payload == p[0].len);
	tun_gso_start(&run, p[0].b, &first, wire);
	cut = wire > 0 && first.payload > wire;
	if (cut)
		check_cut(&p[0], &first, wire);
	payload = first.payload;
	for (j = 1; j < n; j++) {
		if (tun_gso_parse(p[j].b, have_of(&p[j]), p[j].len, &sg) != 0 ||
		    !tun_gso_append(&run, p[j].b, &sg, cap))
			break;
		/* Joined: contiguous, no larger than the first, same ports
		 * and ACK number. */
		CHECK(sg.seq == first.seq + (uint32_t)payload);
		CHECK((cut || sg.payload <= first.payload) && sg.hlen == first.hlen);
		CHECK(memcmp(p[j].b + sg.ip_hlen, p[0].b + first.ip_hlen, 4) == 0);
		CHECK(memcmp(p[j].b + sg.ip_hlen + 8, p[0].b + first.ip_hlen + 8, 4) == 0);
		/* Every member before this one was full-sized: the first's
		 * size, or cut, a whole number of pieces. */
		if (cut)
			CHECK(payload % wire == 0);
		else
			CHECK(payload == (size_t)first.payload * j);
		payload += sg.payload;
	}
	CHECK(run.segs == j);
	CHECK(run.total == first.hlen + payload);
	CHECK(run.total <= TUN_GSO_MAX_TOTAL);
	CHECK(j == 1 || run.total <= cap);
	tun_gso_finish(&run, hdr, &m);
	CHECK(m.hdr_len == first.hlen && m.csum_start == first.ip_hlen && m.csum_offset == 16);
	CHECK(cut || m.segs == run.segs);
	if (first.version == 4) {
		CHECK(get16(hdr + 2) == run.total);
		CHECK(ip4_sum_ok(hdr, first.ip_hlen));
	} else {
		CHECK(get16(hdr + 4) + 40u == run.total);
	}
	CHECK(get32(hdr + first.ip_hlen + 4) == first.seq);
	if (m.type == TUN_GSO_NONE) {
		CHECK(run.segs == 1 && m.gso_size == 0 && !cut);
	} else {
		CHECK(m.gso_size == (cut ? wire : first.payload) && m.gso_size > 0);
		CHECK((payload + m.gso_size - 1) / m.gso_size == m.segs);
		CHECK(m.type == (first.version == 4 ? TUN_GSO_TCPV4 : TUN_GSO_TCPV6));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt p[MAX_PKTS];
	size_t n = 0, cap;
	uint32_t wire = 0;

	if (size < 2)
		return 0;
	/* The first two bytes pick the size cap, as a caller might lower it. */
	cap = get16(data);
	if (cap < 100)
		cap = TUN_GSO_MAX_TOTAL;
	data += 2;
	size -= 2;
	/* Then the wire limit: 0 (none) or 1..65535 payload bytes. */
	if (size >= 2) {
		wire = get16(data);
		data += 2;
		size -= 2;
	}
	while (size > 0 && n < MAX_PKTS) {
		size_t len;

		if (size < 2) {
			len = size;
		} else {
			len = get16(data);
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
		}
		p[n].b = data;
		p[n++].len = len;
		data += len;
		size -= len;
	}
	for (size_t i = 0; i < n; i++)
		check_run(p + i, n - i, cap, wire);
	return 0;
}
