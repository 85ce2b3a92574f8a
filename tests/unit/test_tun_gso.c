/* The outgoing GSO coalescer (tun_gso.h) against the kernel's side of the
 * bargain. Crafted segments, as lwIP sends them (complete checksums), are
 * coalesced the way tun_write_batch() does; every super-packet is then cut
 * up the way Linux does it (tcp_gso_segment: the checksum field adjusted by
 * the length difference, PSH/FIN kept on the last piece only; IPv4 IDs
 * counted up from the first, header checksums redone) and each piece's
 * checksum completed like skb_checksum_help. The pieces must be the
 * original segments, byte for byte. Then one case per coalescing rule where
 * the segments must not be joined, for IPv4 and IPv6. */
#include "test.h"
#include "tun2socks/tun/tun_gso.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define MAXSEG 64
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

struct seg {
	uint8_t b[2000];
	size_t len;
};

static struct seg segs[MAXSEG];

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

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Byte by byte, the textbook way: nothing shared with the code under test. */
static uint32_t naive_sum(uint32_t acc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return acc;
}

static uint16_t naive_fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* The full TCP checksum of the IP packet p (len bytes), field zeroed. */
static uint16_t tcp_csum(uint8_t *p, size_t len)
{
	size_t ih = p[0] >> 4 == 4 ? (size_t)(p[0] & 15) * 4 : 40;
	uint32_t l4 = (uint32_t)(len - ih), acc;

	put16(p + ih + 16, 0);
	if (p[0] >> 4 == 4)
		acc = naive_sum(0, p + 12, 8) + 6;
	else
		acc = naive_sum(0, p + 8, 32) + 6;
	acc += l4;
	acc = naive_sum(acc, p + ih, l4);
	return (uint16_t)~naive_fold(acc);
}

static uint16_t ip4_csum(uint8_t *p)
{
	put16(p + 10, 0);
	return (uint16_t)~naive_fold(naive_sum(0, p, (size_t)(p[0] & 15) * 4));
}

struct spec {
	int v;             /* 4 or 6 */
	uint32_t seq;      /* of the first */
	uint16_t id;       /* IPv4 ID of the first */
	uint16_t mss;      /* payload of every segment ... */
	uint16_t last_len; /* ... but the last (0: mss) */
	uint8_t flags;     /* of every segment */
	uint8_t last_flags;
	uint8_t optlen; /* TCP option bytes (a multiple of 4) */
};

/* A segment with complete checksums, like lwIP sends. */
static void make_seg(struct seg *s, int v, uint32_t seq, uint16_t id, uint16_t plen, uint8_t flags,
		     uint8_t optlen)
{
	size_t ih = v == 4 ? 20 : 40, th = 20u + optlen;
	uint8_t *p = s->b;

	memset(p, 0, sizeof(s->b));
	s->len = ih + th + plen;
	if (v == 4) {
		p[0] = 0x45;
		p[1] = 0x10;
		put16(p + 2, (uint16_t)s->len);
		put16(p + 4, id);
		put16(p + 6, 0x4000); /* DF */
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, (const uint8_t[]){ 198, 18, 0, 7, 198, 18, 0, 1 }, 8);
	} else {
		p[0] = 0x60;
		p[1] = 0x01; /* a flow label */
		p[3] = 0x23;
		put16(p + 4, (uint16_t)(s->len - 40));
		p[6] = 6;
		p[7] = 64;
		for (int i = 0; i < 16; i++) {
			p[8 + i] = (uint8_t)(0xfd + i);
			p[24 + i] = (uint8_t)(0x20 + i);
		}
	}
	put16(p + ih, 5201);
	put16(p + ih + 2, 40000);
	put32(p + ih + 4, seq);
	put32(p + ih + 8, 0x11223344);
	p[ih + 12] = (uint8_t)((th / 4) << 4);
	p[ih + 13] = flags;
	put16(p + ih + 14, 0x7fff);
	for (size_t i = 0; i < optlen; i++)
		p[ih + 20 + i] = i % 4 == 0 ? 1 : (uint8_t)(0x10 + i); /* NOPs and bytes */
	for (size_t i = 0; i < plen; i++)
		p[ih + th + i] = (uint8_t)((seq + i) * 7 + 3);
	if (v == 4)
		put16(p + 10, ip4_csum(p));
	put16(p + ih + 16, tcp_csum(p, s->len));
}

/* n segments after sp into segs[]. */
static void make_run(const struct spec *sp, size_t n)
{
	uint32_t seq = sp->seq;

	for (size_t i = 0; i < n; i++) {
		bool last = i + 1 == n;
		uint16_t plen = last && sp->last_len ? sp->last_len : sp->mss;

		make_seg(&segs[i], sp->v, seq, (uint16_t)(sp->id + i), plen,
			 last ? sp->last_flags : sp->flags, sp->optlen);
		seq += plen;
	}
}

/* The coalescing pass of tun_write_batch over segs[0..n): the length of
 * each run into runs[] (returns how many). */
static size_t coalesce(size_t n, size_t *runs, size_t max_total)
{
	struct tun_gso_run run;
	struct tun_gso_seg sg;
	size_t i = 0, k = 0;

	while (i < n) {
		size_t j = i + 1;

		if (tun_gso_parse(segs[i].b,
				  segs[i].len < TUN_GSO_HDR_MAX ? segs[i].len : TUN_GSO_HDR_MAX,
				  segs[i].len, &sg) != 0) {
			runs[k++] = 1;
			i++;
			continue;
		}
		tun_gso_start(&run, segs[i].b, &sg, 0);
		while (j < n) {
			struct tun_gso_seg s2;
			size_t have = segs[j].len < TUN_GSO_HDR_MAX ? segs[j].len : TUN_GSO_HDR_MAX;

			if (tun_gso_parse(segs[j].b, have, segs[j].len, &s2) != 0 ||
			    !tun_gso_append(&run, segs[j].b, &s2, max_total))
				break;
			j++;
		}
		T_EQ_INT(run.segs, j - i);
		runs[k++] = j - i;
		i = j;
	}
	return k;
}

static uint8_t super[70000];

/* The leading bytes tun_write_batch gathers of a packet. */
static size_t have_of(const struct seg *s)
{
	return s->len < TUN_GSO_HDR_MAX ? s->len : TUN_GSO_HDR_MAX;
}

/* The super-packet of segs[first..first+cnt) as tun_write_batch writes it
 * (headers from tun_gso_finish, then every payload); its length. */
static size_t build_super(size_t first, size_t cnt, struct tun_gso_meta *meta)
{
	struct tun_gso_run run;
	struct tun_gso_seg sg;
	uint8_t hdr[TUN_GSO_HDR_MAX];
	size_t off;

	T_EQ_INT(tun_gso_parse(segs[first].b, have_of(&segs[first]), segs[first].len, &sg), 0);
	tun_gso_start(&run, segs[first].b, &sg, 0);
	for (size_t i = first + 1; i < first + cnt; i++) {
		struct tun_gso_seg s2;

		T_EQ_INT(tun_gso_parse(segs[i].b, have_of(&segs[i]), segs[i].len, &s2), 0);
		T_CHECK(tun_gso_append(&run, segs[i].b, &s2, TUN_GSO_MAX_TOTAL));
	}
	tun_gso_finish(&run, hdr, meta);
	memcpy(super, hdr, meta->hdr_len);
	off = meta->hdr_len;
	for (size_t i = first; i < first + cnt; i++) {
		memcpy(super + off, segs[i].b + meta->hdr_len, segs[i].len - meta->hdr_len);
		off += segs[i].len - meta->hdr_len;
	}
	T_EQ_INT(off, run.total);
	return off;
}

/* Linux's split of a CHECKSUM_PARTIAL TCP super-packet, each piece then
 * checksummed by skb_checksum_help; piece i must equal segs[first + i]. */
static void kernel_split_check(size_t len, const struct tun_gso_meta *m, size_t first)
{
	size_t ih = m->csum_start, hl = m->hdr_len, pay = len - hl;
	size_t nseg = (pay + m->gso_size - 1) / m->gso_size;
	uint32_t old_l4 = (uint32_t)(len - ih), seq0 = get32(super + ih + 4);
	uint16_t id0 = get16(super + 4);
	uint8_t piece[2000];

	T_EQ_INT(nseg, m->segs);
	/* The checksum field holds the pseudo-header sum over the whole. */
	if (super[0] >> 4 == 4) {
		uint32_t acc = naive_sum(0, super + 12, 8) + 6 + old_l4;

		T_EQ_INT(get16(super + ih + 16), naive_fold(acc));
		T_EQ_INT(get16(super + 2), len);
		T_EQ_INT(get16(super + 10), ip4_csum(memcpy(piece, super, ih)));
	} else {
		uint32_t acc = naive_sum(0, super + 8, 32) + 6 + old_l4;

		T_EQ_INT(get16(super + ih + 16), naive_fold(acc));
		T_EQ_INT(get16(super + 4), len - 40);
	}
	for (size_t i = 0; i < nseg; i++) {
		size_t plen = i + 1 < nseg ? m->gso_size : pay - i * m->gso_size;
		size_t plen_l4 = hl - ih + plen;
		uint32_t delta = ~old_l4 + (uint32_t)plen_l4; /* oldlen + new, 32 bits */
		uint32_t acc;
		struct seg *want = &segs[first + i];

		memcpy(piece, super, hl);
		memcpy(piece + hl, super + hl + i * m->gso_size, plen);
		put32(piece + ih + 4, seq0 + (uint32_t)(i * m->gso_size));
		if (i + 1 < nseg)
			piece[ih + 13] &= (uint8_t) ~(TCP_PSH | TCP_FIN);
		/* newcheck = ~csum_fold(csum_add(check, delta)) */
		acc = get16(piece + ih + 16) + (delta >> 16) + (delta & 0xffff);
		put16(piece + ih + 16, naive_fold(acc));
		if (piece[0] >> 4 == 4) {
			put16(piece + 2, (uint16_t)(hl + plen));
			put16(piece + 4, (uint16_t)(id0 + i));
			put16(piece + 10, ip4_csum(piece));
		} else {
			put16(piece + 4, (uint16_t)(hl - 40 + plen));
		}
		/* skb_checksum_help: sum from csum_start, field included. */
		acc = naive_sum(0, piece + ih, hl - ih + plen);
		put16(piece + ih + 16, (uint16_t)~naive_fold(acc));
		T_EQ_INT(hl + plen, want->len);
		if (get16(piece + ih + 16) == 0xffff && get16(want->b + ih + 16) == 0)
			put16(piece + ih + 16, 0); /* the same one's complement zero */
		T_EQ_MEM(piece, want->b, want->len);
	}
}

/* Coalesces n segments made by sp: one run of n, split back exactly. */
static void roundtrip(const struct spec *sp, size_t n)
{
	struct tun_gso_meta m;
	size_t runs[MAXSEG], len;

	make_run(sp, n);
	T_EQ_INT(coalesce(n, runs, TUN_GSO_MAX_TOTAL), 1);
	T_EQ_INT(runs[0], n);
	len = build_super(0, n, &m);
	T_EQ_INT(m.type, sp->v == 4 ? TUN_GSO_TCPV4 : TUN_GSO_TCPV6);
	T_EQ_INT(m.gso_size, sp->mss);
	T_EQ_INT(m.hdr_len, (sp->v == 4 ? 20 : 40) + 20 + sp->optlen);
	T_EQ_INT(m.csum_start, sp->v == 4 ? 20 : 40);
	T_EQ_INT(m.csum_offset, 16);
	kernel_split_check(len, &m, 0);
}

static void test_coalesced(void)
{
	for (int v = 4; v <= 6; v += 2) {
		/* Full segments, PSH on the last (the end of a tcp_write). */
		roundtrip(&(struct spec){ .v = v,
					  .seq = 1000,
					  .id = 7,
					  .mss = 1460,
					  .flags = TCP_ACK,
					  .last_flags = TCP_ACK | TCP_PSH },
			  10);
		/* A shorter last one with FIN; sequence numbers wrapping. */
		roundtrip(&(struct spec){ .v = v,
					  .seq = 0xfffff000u,
					  .id = 0xfffe,
					  .mss = 1440,
					  .last_len = 333,
					  .flags = TCP_ACK,
					  .last_flags = TCP_ACK | TCP_PSH | TCP_FIN },
			  7);
		/* Neither PSH nor FIN; equal options (timestamps' size); ECE. */
		roundtrip(&(struct spec){ .v = v,
					  .seq = 5,
					  .mss = 1448,
					  .optlen = 12,
					  .flags = TCP_ACK | TCP_ECE,
					  .last_flags = TCP_ACK | TCP_ECE },
			  3);
		/* Two segments are enough. */
		roundtrip(&(struct spec){ .v = v,
					  .seq = 77,
					  .mss = 1000,
					  .last_len = 1,
					  .flags = TCP_ACK,
					  .last_flags = TCP_ACK },
			  2);
	}
}

/* 64 KiB at most: 50 MSS-sized segments make a run of 44 and one of 6. */
static void test_size_cap(void)
{
	struct tun_gso_meta m;
	size_t runs[MAXSEG], len;

	make_run(
		&(struct spec){
			.v = 4, .seq = 1, .mss = 1460, .flags = TCP_ACK, .last_flags = TCP_ACK },
		50);
	T_EQ_INT(coalesce(50, runs, TUN_GSO_MAX_TOTAL), 2);
	T_EQ_INT(runs[0], 44);
	T_EQ_INT(runs[1], 6);
	len = build_super(0, 44, &m);
	T_CHECK(len <= TUN_GSO_MAX_TOTAL);
	kernel_split_check(len, &m, 0);
	len = build_super(44, 6, &m);
	kernel_split_check(len, &m, 44);
	/* A smaller cap is honoured too. */
	T_EQ_INT(coalesce(50, runs, 40 + 10 * 1460), 5);
	T_EQ_INT(runs[0], 10);
	/* IPv6: 40 + 20 + 44 * 1440 */
	make_run(
		&(struct spec){
			.v = 6, .seq = 1, .mss = 1440, .flags = TCP_ACK, .last_flags = TCP_ACK },
		46);
	T_EQ_INT(coalesce(46, runs, TUN_GSO_MAX_TOTAL), 2);
	T_EQ_INT(runs[0], 45);
}

/* Segment 1 of three is changed by fix; the runs must be as want. */
static void split_case(int v, void (*fix)(uint8_t *p, size_t ih), size_t want_first)
{
	size_t runs[MAXSEG], n;
	size_t ih = v == 4 ? 20 : 40;

	make_run(&(struct spec){ .v = v,
				 .seq = 100,
				 .id = 1,
				 .mss = 1000,
				 .flags = TCP_ACK,
				 .last_flags = TCP_ACK },
		 3);
	fix(segs[1].b, ih);
	if (v == 4)
		put16(segs[1].b + 10, ip4_csum(segs[1].b));
	put16(segs[1].b + ih + 16, tcp_csum(segs[1].b, segs[1].len));
	n = coalesce(3, runs, TUN_GSO_MAX_TOTAL);
	T_CHECK(n >= 2);
	T_EQ_INT(runs[0], want_first);
}

static void fix_sport(uint8_t *p, size_t ih)
{
	put16(p + ih, 5202);
}
static void fix_dport(uint8_t *p, size_t ih)
{
	put16(p + ih + 2, 40001);
}
static void fix_seq(uint8_t *p, size_t ih)
{
	put32(p + ih + 4, get32(p + ih + 4) + 1);
}
static void fix_ack(uint8_t *p, size_t ih)
{
	put32(p + ih + 8, 0x11223345);
}
static void fix_wnd(uint8_t *p, size_t ih)
{
	put16(p + ih + 14, 0x7ffe);
}
static void fix_psh(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_PSH;
}
static void fix_fin(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_FIN;
}
static void fix_ece(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_ECE;
}
static void fix_syn(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_SYN;
}
static void fix_rst(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_RST;
}
static void fix_urg(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_URG;
}
static void fix_cwr(uint8_t *p, size_t ih)
{
	p[ih + 13] |= TCP_CWR;
}
static void fix_noack(uint8_t *p, size_t ih)
{
	p[ih + 13] &= (uint8_t)~TCP_ACK;
}
static void fix_urgptr(uint8_t *p, size_t ih)
{
	put16(p + ih + 18, 1);
}

static void fix_src(uint8_t *p, size_t ih)
{
	p[ih == 20 ? 15 : 23] ^= 1;
}

static void fix_dst(uint8_t *p, size_t ih)
{
	p[ih == 20 ? 19 : 39] ^= 1;
}

static void fix_ttl(uint8_t *p, size_t ih)
{
	p[ih == 20 ? 8 : 7] = 63;
}

static void fix_tos(uint8_t *p, size_t ih)
{
	(void)ih;
	p[1] ^= 0x04; /* TOS (IPv4), traffic class bits (IPv6) */
}

static void fix_flowlabel(uint8_t *p, size_t ih)
{
	(void)ih;
	p[3] ^= 1;
}

static void fix_df(uint8_t *p, size_t ih)
{
	(void)ih;
	p[6] = 0;
}

static void fix_id(uint8_t *p, size_t ih)
{
	(void)ih;
	put16(p + 4, 9);
}

/* Each rule on its own: segment 1 differs in one respect. */
static void test_not_coalesced(void)
{
	for (int v = 4; v <= 6; v += 2) {
		size_t runs[MAXSEG];

		split_case(v, fix_sport, 1);
		split_case(v, fix_dport, 1);
		split_case(v, fix_src, 1);
		split_case(v, fix_dst, 1);
		split_case(v, fix_seq, 1);
		split_case(v, fix_ack, 1);
		split_case(v, fix_wnd, 1);
		split_case(v, fix_ece, 1);
		split_case(v, fix_syn, 1);
		split_case(v, fix_rst, 1);
		split_case(v, fix_urg, 1);
		split_case(v, fix_cwr, 1);
		split_case(v, fix_noack, 1);
		split_case(v, fix_urgptr, 1);
		split_case(v, fix_ttl, 1);
		split_case(v, fix_tos, 1);
		/* PSH or FIN in the middle: it joins, as the last of its run. */
		split_case(v, fix_psh, 2);
		split_case(v, fix_fin, 2);
		if (v == 4) {
			split_case(v, fix_df, 1);
			split_case(v, fix_id, 1);
		} else {
			split_case(v, fix_flowlabel, 1);
		}
		/* Options: same length, different bytes; a different length. */
		make_run(&(struct spec){ .v = v,
					 .seq = 9,
					 .mss = 1000,
					 .optlen = 8,
					 .flags = TCP_ACK,
					 .last_flags = TCP_ACK },
			 2);
		segs[1].b[(v == 4 ? 20 : 40) + 21] ^= 0xff;
		T_EQ_INT(coalesce(2, runs, TUN_GSO_MAX_TOTAL), 2);
		make_seg(&segs[1], v, 9 + 1000, 1, 1000, TCP_ACK, 4);
		T_EQ_INT(coalesce(2, runs, TUN_GSO_MAX_TOTAL), 2);
		/* A short one ends the run: it joins, the next does not. */
		make_run(&(struct spec){ .v = v,
					 .seq = 9,
					 .mss = 1000,
					 .flags = TCP_ACK,
					 .last_flags = TCP_ACK },
			 3);
		make_seg(&segs[1], v, 9 + 1000, 1, 500, TCP_ACK, 0);
		make_seg(&segs[2], v, 9 + 1500, 2, 1000, TCP_ACK, 0);
		T_EQ_INT(coalesce(3, runs, TUN_GSO_MAX_TOTAL), 2);
		T_EQ_INT(runs[0], 2);
		/* Longer than the first: not joined. */
		make_seg(&segs[0], v, 9, 0, 500, TCP_ACK, 0);
		make_seg(&segs[1], v, 9 + 500, 1, 1000, TCP_ACK, 0);
		T_EQ_INT(coalesce(2, runs, TUN_GSO_MAX_TOTAL), 2);
		/* A pure ACK (no payload) is sent alone. */
		make_seg(&segs[0], v, 9, 0, 1000, TCP_ACK, 0);
		make_seg(&segs[1], v, 9 + 1000, 1, 0, TCP_ACK, 0);
		make_seg(&segs[2], v, 9 + 1000, 2, 1000, TCP_ACK, 0);
		T_EQ_INT(coalesce(3, runs, TUN_GSO_MAX_TOTAL), 3);
	}
	/* IPv4 then IPv6 with the same ports and sequence. */
	{
		size_t runs[MAXSEG];

		make_seg(&segs[0], 4, 9, 0, 1000, TCP_ACK, 0);
		make_seg(&segs[1], 6, 9 + 1000, 1, 1000, TCP_ACK, 0);
		T_EQ_INT(coalesce(2, runs, TUN_GSO_MAX_TOTAL), 2);
	}
}

static void test_parse(void)
{
	struct tun_gso_seg sg;
	struct seg *s = &segs[0];

	make_seg(s, 4, 1, 0, 100, TCP_ACK | TCP_PSH, 0);
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), 0);
	T_EQ_INT(sg.version, 4);
	T_EQ_INT(sg.payload, 100);
	T_EQ_INT(sg.hlen, 40);
	/* Lengths that disagree with the packet, too few bytes at hand. */
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len + 1, &sg), -EINVAL);
	T_EQ_INT(tun_gso_parse(s->b, 39, s->len, &sg), -EINVAL);
	T_EQ_INT(tun_gso_parse(s->b, 0, s->len, &sg), -EINVAL);
	T_EQ_INT(tun_gso_parse(NULL, 0, 0, &sg), -EINVAL);
	/* A fragment, UDP, another version. */
	put16(s->b + 6, 0x2000);
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EPROTONOSUPPORT);
	put16(s->b + 6, 0x0001);
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EPROTONOSUPPORT);
	put16(s->b + 6, 0x4000);
	s->b[9] = 17;
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EPROTONOSUPPORT);
	s->b[0] = 0x55;
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EINVAL);
	/* A TCP data offset beyond the packet. */
	make_seg(s, 6, 1, 0, 0, TCP_ACK, 0);
	s->b[40 + 12] = 0xf0;
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EINVAL);
	/* IPv6 with an extension header first. */
	make_seg(s, 6, 1, 0, 10, TCP_ACK, 0);
	s->b[6] = 0;
	T_EQ_INT(tun_gso_parse(s->b, s->len, s->len, &sg), -EPROTONOSUPPORT);
}

/* One segment is a run too: no GSO type, the pseudo sum in the field. */
static void test_single(void)
{
	struct tun_gso_run run;
	struct tun_gso_seg sg;
	struct tun_gso_meta m;
	uint8_t hdr[TUN_GSO_HDR_MAX];

	make_seg(&segs[0], 6, 1, 0, 100, TCP_ACK | TCP_FIN, 0);
	T_EQ_INT(tun_gso_parse(segs[0].b, TUN_GSO_HDR_MAX, segs[0].len, &sg), 0);
	tun_gso_start(&run, segs[0].b, &sg, 0);
	T_CHECK(run.ended); /* FIN: nothing may follow */
	make_seg(&segs[1], 6, 101, 0, 100, TCP_ACK, 0);
	T_EQ_INT(tun_gso_parse(segs[1].b, TUN_GSO_HDR_MAX, segs[1].len, &sg), 0);
	T_CHECK(!tun_gso_append(&run, segs[1].b, &sg, TUN_GSO_MAX_TOTAL));
	tun_gso_finish(&run, hdr, &m);
	T_EQ_INT(m.type, TUN_GSO_NONE);
	T_EQ_INT(m.segs, 1);
	T_EQ_INT(m.gso_size, 0);
	T_EQ_MEM(hdr, segs[0].b, 56); /* all but the checksum field */
	T_EQ_INT(hdr[40 + 13], TCP_ACK | TCP_FIN);
}

static uint8_t big[2][70000];

/* segs[from..to) as lwIP's one segment of many MSS into big[w]: the first
 * one's headers (lengths fixed up, IPv4 ID id), the last one's flags, every
 * payload. Checksums are left as they are: the cut recomputes them. */
static size_t make_big(int w, size_t from, size_t to, uint16_t id)
{
	size_t hl = segs[from].b[0] >> 4 == 4 ? 40 : 60, ih = hl - 20, len = hl;
	uint8_t *p = big[w];

	memcpy(p, segs[from].b, hl);
	for (size_t i = from; i < to; i++) {
		memcpy(p + len, segs[i].b + hl, segs[i].len - hl);
		len += segs[i].len - hl;
	}
	p[ih + 13] = segs[to - 1].b[ih + 13];
	if (p[0] >> 4 == 4) {
		put16(p + 2, (uint16_t)len);
		put16(p + 4, id);
	} else {
		put16(p + 4, (uint16_t)(len - 40));
	}
	return len;
}

/* lwIP's segments of many MSS (stack_set_tso): cut by the kernel into
 * exactly the wire-sized segments a stack with that MSS would have sent,
 * alone or several in one run, and cut the same way in software. */
static void test_cut(void)
{
	for (int v = 4; v <= 6; v += 2) {
		struct spec sp = { .v = v,
				   .seq = 0xffff0000u,
				   .id = 40,
				   .mss = 1460,
				   .last_len = 1000,
				   .flags = TCP_ACK,
				   .last_flags = TCP_ACK | TCP_PSH };
		struct tun_gso_run run;
		struct tun_gso_seg sg, s2;
		struct tun_gso_meta m;
		uint8_t hdr[TUN_GSO_HDR_MAX];
		size_t hl = v == 4 ? 40 : 60, len, len2, off;

		make_run(&sp, 44);
		/* One segment of 43 MSS and 1000 bytes. */
		len = make_big(0, 0, 44, 40);
		T_EQ_INT(tun_gso_parse(big[0], TUN_GSO_HDR_MAX, len, &sg), 0);
		tun_gso_start(&run, big[0], &sg, 1460);
		T_CHECK(run.cut && run.ended);
		tun_gso_finish(&run, hdr, &m);
		T_EQ_INT(m.type, v == 4 ? TUN_GSO_TCPV4 : TUN_GSO_TCPV6);
		T_EQ_INT(m.gso_size, 1460);
		T_EQ_INT(m.segs, 44);
		memcpy(super, hdr, hl);
		memcpy(super + hl, big[0] + hl, len - hl);
		kernel_split_check(len, &m, 0);
		/* The software cut: piece k is segs[k], checksums and all. */
		off = 0;
		for (uint16_t k = 0; k < 44; k++) {
			uint8_t piece[2000];
			uint32_t plen = (uint32_t)(segs[k].len - hl);

			memcpy(piece + hl, big[0] + hl + off, plen);
			tun_gso_cut(big[0], &sg, (uint32_t)off, plen, k, piece);
			T_EQ_MEM(piece, segs[k].b, segs[k].len);
			off += plen;
		}
		/* Two segments of 20 and of 23 MSS + 1000 in one run (lwIP's
		 * IPv4 IDs one apart); the kernel's pieces are the same. */
		len = make_big(0, 0, 20, 40);
		len2 = make_big(1, 20, 44, 41);
		T_EQ_INT(tun_gso_parse(big[0], TUN_GSO_HDR_MAX, len, &sg), 0);
		tun_gso_start(&run, big[0], &sg, 1460);
		T_CHECK(run.cut && !run.ended);
		T_EQ_INT(tun_gso_parse(big[1], TUN_GSO_HDR_MAX, len2, &s2), 0);
		T_CHECK(tun_gso_append(&run, big[1], &s2, TUN_GSO_MAX_TOTAL));
		T_CHECK(run.ended);
		tun_gso_finish(&run, hdr, &m);
		T_EQ_INT(m.segs, 44);
		T_EQ_INT(run.segs, 2);
		memcpy(super, hdr, hl);
		memcpy(super + hl, big[0] + hl, len - hl);
		memcpy(super + len, big[1] + hl, len2 - hl);
		kernel_split_check(len + len2 - hl, &m, 0);
		/* A first segment that is not a whole number of pieces ends
		 * the run. */
		len = make_big(0, 0, 44, 40);
		big[0][hl - 20 + 13] = TCP_ACK; /* no PSH: only the length ends it */
		T_EQ_INT(tun_gso_parse(big[0], TUN_GSO_HDR_MAX, len, &sg), 0);
		tun_gso_start(&run, big[0], &sg, 1460);
		T_CHECK(run.ended);
		/* Up to the wire's size, nothing changes: gso_size is the
		 * first segment's, as without a limit. */
		T_EQ_INT(tun_gso_parse(segs[0].b, TUN_GSO_HDR_MAX, segs[0].len, &sg), 0);
		tun_gso_start(&run, segs[0].b, &sg, 1460);
		T_CHECK(!run.cut && !run.ended && run.gso_size == 1460);
	}
}

int main(void)
{
	T_RUN(test_coalesced);
	T_RUN(test_size_cap);
	T_RUN(test_not_coalesced);
	T_RUN(test_parse);
	T_RUN(test_single);
	T_RUN(test_cut);
	return test_summary();
}
