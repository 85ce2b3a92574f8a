#include "tun2socks/tun/tun_csum.h"

#include <errno.h>
#include <string.h>

#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_CSUM_OFF 16
#define UDP_CSUM_OFF 6
#define TCP_MIN_HLEN 20
#define UDP_HLEN 8

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t tun_csum_add(uint32_t acc, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += get16(p + i);
	return acc;
}

uint16_t tun_csum_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The L4 header must reach its checksum field in the bytes at hand and,
 * for the receiver's sake, fit whole in the packet. */
static int l4_check(uint8_t proto, size_t hlen, size_t have, size_t total,
		    struct tun_csum_partial *out)
{
	size_t min;

	if (proto == PROTO_TCP) {
		out->offset = TCP_CSUM_OFF;
		min = TCP_MIN_HLEN;
	} else if (proto == PROTO_UDP) {
		out->offset = UDP_CSUM_OFF;
		min = UDP_HLEN;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (total < hlen + min || have < hlen + out->offset + 2u)
		return -EINVAL;
	out->start = (uint16_t)hlen;
	out->hdr_len = (uint16_t)(hlen + min);
	return 0;
}

int tun_csum_partial(const uint8_t *pkt, size_t have, size_t total, struct tun_csum_partial *out)
{
	uint32_t acc;
	size_t hlen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (have > total || have < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		if (have < 20)
			return -EINVAL;
		hlen = (size_t)(pkt[0] & 15) * 4;
		if (hlen < 20 || hlen > have || get16(pkt + 2) != total)
			return -EINVAL;
		/* A fragment's checksum covers the whole datagram, which
		 * no single write carries. */
		if (get16(pkt + 6) & 0x3fff)
			return -EPROTONOSUPPORT;
		rc = l4_check(pkt[9], hlen, have, total, out);
		if (rc)
			return rc;
		acc = tun_csum_add(0, pkt + 12, 8) + pkt[9] + (uint32_t)(total - hlen);
		break;
	case 6:
		if (have < 40)
			return -EINVAL;
		hlen = 40;
		if ((size_t)get16(pkt + 4) + 40 != total)
			return -EINVAL;
		/* With extension headers the L4 header's place would take a
		 * walk to find; lwIP sends none. */
		rc = l4_check(pkt[6], hlen, have, total, out);
		if (rc)
			return rc;
		acc = tun_csum_add(0, pkt + 8, 32) + pkt[6] + (uint32_t)(total - hlen);
		break;
	default:
		return -EINVAL;
	}
	/* TCP options belong to the header the receiver wants in one piece
	 * (the data offset is in the bytes at hand: it precedes the
	 * checksum). */
	if (out->offset == TCP_CSUM_OFF) {
		size_t doff = (size_t)(pkt[hlen + 12] >> 4) * 4;

		if (doff > TCP_MIN_HLEN && hlen + doff <= total)
			out->hdr_len = (uint16_t)(hlen + doff);
	}
	put16(out->pseudo, tun_csum_fold(acc));
	return 0;
}

int tun_csum_fix_len(uint8_t *pkt, size_t len)
{
	size_t hlen;

	if (len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		hlen = (size_t)(pkt[0] & 15) * 4;
		if (len < 20 || hlen < 20 || hlen > len || len > 0xffff)
			return -EINVAL;
		if (get16(pkt + 2) == len)
			return 0;
		put16(pkt + 2, (uint16_t)len);
		put16(pkt + 10, 0);
		put16(pkt + 10, (uint16_t)~tun_csum_fold(tun_csum_add(0, pkt, hlen)));
		return 0;
	case 6:
		if (len < 40 || len - 40 > 0xffff)
			return -EINVAL;
		if (get16(pkt + 4) != len - 40)
			put16(pkt + 4, (uint16_t)(len - 40));
		return 0;
	default:
		return -EINVAL;
	}
}
