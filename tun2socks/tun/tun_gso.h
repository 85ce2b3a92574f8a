/* Pure codec for segmentation offload on the way out (docs/design.md §15):
 * which consecutive TCP segments lwIP sent may travel to the kernel as one
 * GSO super-packet, and that super-packet's headers and offload fields. The
 * kernel splits it back (tcp_gso_segment) into exactly the segments it was
 * made of, so the rules are the ones that make that split exact, much like
 * GRO's on the way in:
 *
 *   - TCP over IPv4 (no fragment) or IPv6 (no extension header), ACK set,
 *     no SYN, RST, URG or CWR, and payload;
 *   - the same addresses, ports, ACK number, window, options and IP
 *     fields (TOS, TTL, DF; traffic class, flow label, hop limit), the
 *     same header lengths; an IPv4 ID one more than the segment before;
 *   - contiguous sequence numbers;
 *   - every segment as long as the first (gso_size), except a shorter
 *     last one, which ends the run;
 *   - unless the first is longer than the wire takes (wire_max: the MTU
 *     less its headers): lwIP sends segments of many MSS when the TUN
 *     takes GSO writes (stack_set_tso), as a stack hands a NIC with TSO
 *     64 KiB segments. Then gso_size is wire_max, segments of any length
 *     join, and one whose length is not a multiple of it ends the run;
 *     the kernel cuts wire-sized pieces wherever lwIP's segments began;
 *   - the same flags, except PSH or FIN, which only the last may carry
 *     (the kernel clears them on every segment but the last);
 *   - at most max_total bytes of IP packet in all.
 *
 * The super-packet is the first segment's headers with the lengths of the
 * whole (IPv4 header checksum redone), the last segment's PSH/FIN, and the
 * pseudo-header sum over the whole in the TCP checksum field (Linux
 * CHECKSUM_PARTIAL), followed by every segment's payload in order. No
 * system headers beyond the C library: unit-tested and fuzzed anywhere.
 */
#ifndef T2S_TUN_GSO_H
#define T2S_TUN_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Leading bytes of a segment tun_gso_parse() may need: the longest IPv4
 * header (60) or the IPv6 header (40), plus the longest TCP header (60). */
#define TUN_GSO_HDR_MAX 120u
/* The most a super-packet may hold (IPv4 total length, and the kernel's
 * 64 KiB GSO limit). */
#define TUN_GSO_MAX_TOTAL 65535u

enum tun_gso_type {
	TUN_GSO_NONE = 0,
	TUN_GSO_TCPV4,
	TUN_GSO_TCPV6,
};

/* One segment as tun_gso_parse() read it. */
struct tun_gso_seg {
	uint8_t version;  /* 4 or 6 */
	uint8_t flags;    /* TCP flags byte */
	uint16_t ip_hlen; /* where the TCP header starts */
	uint16_t hlen;    /* IP plus TCP header, options included */
	uint16_t ip_id;   /* IPv4 identification */
	uint32_t seq;     /* TCP sequence number */
	uint32_t payload; /* TCP payload bytes */
};

/* A run of segments being coalesced. The first segment's headers are
 * kept; the later ones are only compared with them. */
struct tun_gso_run {
	uint8_t hdr[TUN_GSO_HDR_MAX];
	struct tun_gso_seg first;
	uint32_t next_seq;  /* where the next segment must start */
	uint32_t total;     /* IP bytes of the super-packet so far */
	uint16_t gso_size;  /* the first segment's payload, or wire_max */
	uint16_t segs;      /* lwIP's segments in the run */
	bool cut;           /* the first was longer than wire_max */
	uint8_t last_flags; /* PSH/FIN of the last segment */
	bool ended;         /* a short, PSH or FIN segment ended it */
};

/* What the offload header of the super-packet says (Linux virtio_net_hdr
 * fields, without their encoding). */
struct tun_gso_meta {
	enum tun_gso_type type;
	uint16_t hdr_len;     /* IP plus TCP header */
	uint16_t gso_size;    /* payload per segment */
	uint16_t csum_start;  /* the TCP header's offset */
	uint16_t csum_offset; /* the checksum field within it: 16 */
	uint16_t segs;        /* the pieces the kernel cuts */
};

/* Looks at the first have bytes of an IP packet total bytes long. Returns 0
 * and fills out for a segment that may be coalesced (see above; its whole
 * header must be within have), -EPROTONOSUPPORT for a packet that is not a
 * TCP data segment of that kind (send it alone), -EINVAL for one malformed
 * or with too few bytes in hand. */
int tun_gso_parse(const uint8_t *pkt, size_t have, size_t total, struct tun_gso_seg *out);

/* Starts a run with a segment tun_gso_parse() accepted; pkt holds at least
 * its seg->hlen header bytes. wire_max: the most payload one packet of
 * these headers may carry on the wire (the MTU less seg->hlen), 0 for no
 * limit. */
void tun_gso_start(struct tun_gso_run *run, const uint8_t *pkt, const struct tun_gso_seg *seg,
		   uint32_t wire_max);

/* Appends the next segment (accepted by tun_gso_parse(), pkt holding its
 * headers) if the rules allow: returns true and counts it into run, or
 * false and leaves run as it was (that segment starts the next run). Never
 * lets run->total exceed max_total (at most TUN_GSO_MAX_TOTAL). */
bool tun_gso_append(struct tun_gso_run *run, const uint8_t *pkt, const struct tun_gso_seg *seg,
		    size_t max_total);

/* The super-packet's headers (run->first.hlen bytes into hdr) and offload
 * fields, for a run of any length: with one segment, meta->type is
 * TUN_GSO_NONE and hdr is that segment with the pseudo-header sum in its
 * checksum field. */
void tun_gso_finish(const struct tun_gso_run *run, uint8_t hdr[TUN_GSO_HDR_MAX],
		    struct tun_gso_meta *meta);

/* The software cut, for a TUN that refuses GSO writes: piece k, the bytes
 * [off, off + len) of the payload of seg (tun_gso_parse() of pkt, the
 * original headers), as the kernel would have cut it: IPv4 total length,
 * ID + k and header checksum, IPv6 payload length, sequence number, PSH
 * and FIN on the last piece only, and a complete TCP checksum. out holds
 * seg->hlen + len bytes, the payload at out + seg->hlen put there by the
 * caller; the headers are written in front of it (pkt may be out). */
void tun_gso_cut(const uint8_t *pkt, const struct tun_gso_seg *seg, uint32_t off, uint32_t len,
		 uint16_t k, uint8_t *out);

#endif
