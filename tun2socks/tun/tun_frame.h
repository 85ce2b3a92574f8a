/* Pure codec for the utun packet framing: every packet is preceded by a
 * 4-byte big-endian address family. The AF numbers are passed in rather than
 * taken from <sys/socket.h> because they differ between systems (AF_INET6 is
 * 30 on macOS, 10 on Linux) and a handed-over fd speaks the host's numbers;
 * that also lets the macOS framing be unit-tested on Linux. */
#ifndef T2S_TUN_FRAME_H
#define T2S_TUN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define TUN_FRAME_AF4_LEN 4

/* Fills hdr[4] for an IP packet whose first byte is given (version nibble
 * 4 or 6). Returns 0 or -EAFNOSUPPORT for a packet that is neither IPv4 nor
 * IPv6 (hdr is zeroed then). */
int tun_frame_af4_encode(uint8_t hdr[4], uint8_t first_byte, uint32_t af_inet, uint32_t af_inet6);

/* Validates a received frame (header plus at least the packet's first
 * byte) against the packet's version. Returns 0, or -EPROTO for an unknown
 * family, a family/version mismatch, or a frame too short to tell. */
int tun_frame_af4_decode(const uint8_t *frame, size_t len, uint32_t af_inet, uint32_t af_inet6);

#endif
