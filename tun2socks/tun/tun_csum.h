/* Pure helpers for TUN checksum and segmentation offload (Linux
 * IFF_VNET_HDR): which packets may leave their TCP/UDP checksum to the
 * receiving kernel, the pseudo-header sum that such a packet carries in its
 * checksum field, and the length fix-up of a GSO super-packet read from the
 * kernel. No system headers beyond the C library: unit-tested anywhere. */
#ifndef T2S_TUN_CSUM_H
#define T2S_TUN_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Leading bytes of a packet tun_csum_partial() may need to see: the
 * longest IPv4 header (60) plus a TCP header up to its checksum (18). */
#define TUN_CSUM_HDR_MAX 80u

/* Where a deferred L4 checksum goes, in the Linux CHECKSUM_PARTIAL sense:
 * the receiver sums everything from start to the end of the packet (the
 * checksum field holding pseudo) and stores the complement at
 * start + offset. */
struct tun_csum_partial {
	uint16_t start;    /* IP header length: where the L4 header begins */
	uint16_t offset;   /* checksum field within it: TCP 16, UDP 6 */
	uint16_t hdr_len;  /* IP plus whole L4 header (TCP options too) */
	uint8_t pseudo[2]; /* folded pseudo-header sum, network order, not
			     * complemented */
};

/* Looks at the first have bytes of an IP packet total bytes long. For an
 * unfragmented TCP or UDP packet (IPv4, or IPv6 without extension headers)
 * whose length fields agree with total, fills out and returns 0; the caller
 * then writes out->pseudo over the two bytes at start + offset, which have
 * to be within have (start + offset + 2 <= have holds on success).
 * -EPROTONOSUPPORT: a packet whose checksum cannot be deferred (ICMP,
 * fragments, extension headers): send it as it is. -EINVAL: malformed or
 * fewer than the needed bytes in hand. */
int tun_csum_partial(const uint8_t *pkt, size_t have, size_t total, struct tun_csum_partial *out);

/* A GSO super-packet read from the kernel is one IP packet of len bytes:
 * makes its IPv4 total length (recomputing the header checksum) or IPv6
 * payload length say so, should the kernel have left it otherwise. Returns
 * 0 (also when nothing needed fixing) or -EINVAL for a packet that is not
 * IPv4/IPv6, is too short for its header, or is too long for the field. */
int tun_csum_fix_len(uint8_t *pkt, size_t len);

/* The Internet checksum's pieces: acc plus the big-endian 16-bit words of
 * p[0, len) (len even; an odd last byte is not counted), and the sum folded
 * to 16 bits (not complemented). */
uint32_t tun_csum_add(uint32_t acc, const uint8_t *p, size_t len);
uint16_t tun_csum_fold(uint32_t acc);

#endif
