/* The outgoing GSO coalescer (tun_gso.h): pure functions over packet
 * headers, no I/O. */
#include "tun2socks/tun/tun_gso.h"
#include "tun2socks/tun/tun_csum.h"

#include <errno.h>
#include <string.h>

#define PROTO_TCP 6
#define TCP_MIN_HLEN 20
#define TCP_CSUM_OFF 16
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_CWR 0x80
/* Only the last segment of a run may carry these. */
#define TCP_LAST_ONLY (TCP_PSH | TCP_FIN)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

int tun_gso_parse(const uint8_t *pkt, size_t have, size_t total, struct tun_gso_seg *out)
{
	size_t ip_hlen, tcp_hlen;
	uint8_t proto;

	memset(out, 0, sizeof(*out));
	if (!pkt || have < 1 || have > total || total > TUN_GSO_MAX_TOTAL)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		if (have < 20)
			return -EINVAL;
		ip_hlen = (size_t)(pkt[0] & 15) * 4;
		if (ip_hlen < 20 || get16(pkt + 2) != total)
			return -EINVAL;
		/* Fragments (MF or an offset) are not TCP segments to split. */
		if (get16(pkt + 6) & 0x3fff)
			return -EPROTONOSUPPORT;
		proto = pkt[9];
		out->ip_id = get16(pkt + 4);
		break;
	case 6:
		if (have < 40)
			return -EINVAL;
		ip_hlen = 40;
		if ((size_t)get16(pkt + 4) + 40 != total)
			return -EINVAL;
		/* An extension header would have to be walked and repeated;
		 * lwIP sends none. */
		proto = pkt[6];
		break;
	default:
		return -EINVAL;
	}
	if (proto != PROTO_TCP)
		return -EPROTONOSUPPORT;
	if (have < ip_hlen + TCP_MIN_HLEN || total < ip_hlen + TCP_MIN_HLEN)
		return -EINVAL;
	tcp_hlen = (size_t)(pkt[ip_hlen + 12] >> 4) * 4;
	if (tcp_hlen < TCP_MIN_HLEN || ip_hlen + tcp_hlen > total)
		return -EINVAL;
	if (ip_hlen + tcp_hlen > have)
		return -EINVAL;
	out->version = (uint8_t)(pkt[0] >> 4);
	out->ip_hlen = (uint16_t)ip_hlen;
	out->hlen = (uint16_t)(ip_hlen + tcp_hlen);
	out->seq = get32(pkt + ip_hlen + 4);
	out->flags = pkt[ip_hlen + 13];
	out->payload = (uint32_t)(total - ip_hlen - tcp_hlen);
	if (out->payload == 0 || !(out->flags & TCP_ACK) ||
	    (out->flags & (TCP_SYN | TCP_RST | TCP_URG | TCP_CWR)))
		return -EPROTONOSUPPORT;
	return 0;
}

void tun_gso_start(struct tun_gso_run *run, const uint8_t *pkt, const struct tun_gso_seg *seg,
		   uint32_t wire_max)
{
	memset(run, 0, sizeof(*run));
	memcpy(run->hdr, pkt, seg->hlen);
	run->first = *seg;
	run->next_seq = seg->seq + seg->payload;
	run->total = (uint32_t)seg->hlen + seg->payload;
	/* A payload beyond 16 bits cannot be: total is at most 65535. A
	 * segment longer than the wire takes is cut (tun_gso.h). */
	run->cut = wire_max > 0 && seg->payload > wire_max;
	run->gso_size = (uint16_t)(run->cut ? wire_max : seg->payload);
	run->segs = 1;
	run->last_flags = seg->flags & TCP_LAST_ONLY;
	run->ended = run->last_flags != 0 || seg->payload % run->gso_size != 0;
}

/* Whether b's headers equal the run's first but for the fields that differ
 * from segment to segment: IPv4 total length, ID and header checksum, IPv6
 * payload length, TCP sequence number, PSH/FIN and checksum. */
static bool same_headers(const struct tun_gso_run *run, const uint8_t *b)
{
	const uint8_t *a = run->hdr;
	size_t ih = run->first.ip_hlen, n = run->first.hlen;

	if (run->first.version == 4) {
		if (a[0] != b[0] || a[1] != b[1] || memcmp(a + 6, b + 6, 4) ||
		    memcmp(a + 12, b + 12, ih - 12))
			return false;
	} else {
		if (memcmp(a, b, 4) || memcmp(a + 6, b + 6, ih - 6))
			return false;
	}
	/* TCP: ports; then ACK number, offset, flags but PSH/FIN, window;
	 * then urgent pointer and options. */
	if (memcmp(a + ih, b + ih, 4) || memcmp(a + ih + 8, b + ih + 8, 5) ||
	    ((a[ih + 13] ^ b[ih + 13]) & (uint8_t)~TCP_LAST_ONLY) ||
	    memcmp(a + ih + 14, b + ih + 14, 2) || memcmp(a + ih + 18, b + ih + 18, n - ih - 18))
		return false;
	return true;
}

bool tun_gso_append(struct tun_gso_run *run, const uint8_t *pkt, const struct tun_gso_seg *seg,
		    size_t max_total)
{
	if (max_total > TUN_GSO_MAX_TOTAL)
		max_total = TUN_GSO_MAX_TOTAL;
	if (run->ended || seg->version != run->first.version || seg->hlen != run->first.hlen ||
	    seg->ip_hlen != run->first.ip_hlen)
		return false;
	/* Uncut, only segments up to the first's size join, so that the
	 * kernel's split gives back exactly the segments lwIP sent; cut, any
	 * length does (the pieces are what the wire takes, wherever lwIP's
	 * segments began). */
	if (seg->seq != run->next_seq || (!run->cut && seg->payload > run->gso_size) ||
	    (size_t)run->total + seg->payload > max_total)
		return false;
	/* The kernel numbers the IPv4 segments it cuts from the first one's
	 * ID up: only then is the split exactly what lwIP sent. (Cut, the
	 * pieces' IDs run ahead of lwIP's: with nothing fragmented on the
	 * way to the client, RFC 6864 asks no more.) */
	if (seg->version == 4 && seg->ip_id != (uint16_t)(run->first.ip_id + run->segs))
		return false;
	if (!same_headers(run, pkt))
		return false;
	run->next_seq += seg->payload;
	run->total += seg->payload;
	run->segs++;
	run->last_flags = seg->flags & TCP_LAST_ONLY;
	run->ended = run->last_flags != 0 || seg->payload % run->gso_size != 0;
	return true;
}

void tun_gso_finish(const struct tun_gso_run *run, uint8_t hdr[TUN_GSO_HDR_MAX],
		    struct tun_gso_meta *meta)
{
	size_t ih = run->first.ip_hlen;
	uint32_t l4 = run->total - (uint32_t)ih;
	uint32_t acc, pieces;

	memset(meta, 0, sizeof(*meta));
	memcpy(hdr, run->hdr, run->first.hlen);
	if (run->first.version == 4) {
		put16(hdr + 2, (uint16_t)run->total);
		put16(hdr + 10, 0);
		put16(hdr + 10, (uint16_t)~tun_csum_fold(tun_csum_add(0, hdr, ih)));
		acc = tun_csum_add(0, hdr + 12, 8) + PROTO_TCP + l4;
	} else {
		put16(hdr + 4, (uint16_t)l4);
		acc = tun_csum_add(0, hdr + 8, 32) + PROTO_TCP + l4;
	}
	/* The last segment's PSH/FIN: the kernel keeps them on the last piece
	 * only. */
	hdr[ih + 13] = (uint8_t)((hdr[ih + 13] & (uint8_t)~TCP_LAST_ONLY) | run->last_flags);
	/* CHECKSUM_PARTIAL: the pseudo-header sum over the whole, not
	 * complemented; the kernel adjusts it per segment. */
	put16(hdr + ih + TCP_CSUM_OFF, tun_csum_fold(acc));
	pieces = (run->total - run->first.hlen + run->gso_size - 1) / run->gso_size;
	meta->type = pieces < 2                ? TUN_GSO_NONE
		     : run->first.version == 4 ? TUN_GSO_TCPV4
					       : TUN_GSO_TCPV6;
	meta->hdr_len = run->first.hlen;
	meta->gso_size = pieces < 2 ? 0 : run->gso_size;
	meta->csum_start = (uint16_t)ih;
	meta->csum_offset = TCP_CSUM_OFF;
	meta->segs = (uint16_t)pieces;
}

void tun_gso_cut(const uint8_t *pkt, const struct tun_gso_seg *seg, uint32_t off, uint32_t len,
		 uint16_t k, uint8_t *out)
{
	size_t ih = seg->ip_hlen, hl = seg->hlen;
	uint32_t l4 = (uint32_t)(hl - ih) + len, acc;
	bool last = off + len >= seg->payload;

	memmove(out, pkt, hl);
	if (seg->version == 4) {
		put16(out + 2, (uint16_t)(hl + len));
		put16(out + 4, (uint16_t)(seg->ip_id + k));
		put16(out + 10, 0);
		put16(out + 10, (uint16_t)~tun_csum_fold(tun_csum_add(0, out, ih)));
		acc = tun_csum_add(0, out + 12, 8);
	} else {
		put16(out + 4, (uint16_t)l4);
		acc = tun_csum_add(0, out + 8, 32);
	}
	put32(out + ih + 4, seg->seq + off);
	if (!last)
		out[ih + 13] &= (uint8_t)~TCP_LAST_ONLY;
	put16(out + ih + TCP_CSUM_OFF, 0);
	acc += PROTO_TCP + l4;
	acc = tun_csum_add(acc, out + ih, hl - ih);
	/* At most 32 768 words of payload: the 32-bit sum cannot carry out
	 * once folded first. */
	acc = tun_csum_add(tun_csum_fold(acc), out + hl, len);
	if (len & 1)
		acc += (uint32_t)out[hl + len - 1] << 8;
	put16(out + ih + TCP_CSUM_OFF, (uint16_t)~tun_csum_fold(acc));
}
