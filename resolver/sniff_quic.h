/* sniff_quic: the server name in a QUIC client's first flight
 * (docs/design.md §21).
 *
 * A client's Initial packets are encrypted with keys anyone can derive
 * from the packet's destination connection ID (RFC 9001 §5.2): we derive
 * them (HKDF-SHA256, AES-128-GCM, AES-ECB header protection, through
 * mbedTLS), decrypt, gather the CRYPTO frames by offset and read the
 * ClientHello they carry with sniff_client_hello(). A ClientHello larger
 * than one packet (post-quantum key shares) spans two or more Initials:
 * feed each datagram of the flow in order until the answer is not
 * SNIFF_NEED_MORE. QUIC versions 1 (RFC 9000) and 2 (RFC 9369).
 *
 * Pure apart from the cipher calls: no I/O, no allocation (the state,
 * about 24 KiB, is the caller's), no clock.
 */
#ifndef T2S_SNIFF_QUIC_H
#define T2S_SNIFF_QUIC_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/sniff.h"

/* CRYPTO stream bytes we gather (the ClientHello must fit). */
#define SNIFF_QUIC_CRYPTO_MAX 8192
/* The largest datagram we decrypt. */
#define SNIFF_QUIC_PKT_MAX 8192

struct sniff_quic {
	uint8_t crypto[SNIFF_QUIC_CRYPTO_MAX];
	uint8_t have[SNIFF_QUIC_CRYPTO_MAX / 8]; /* bitmap of bytes received */
	uint8_t plain[SNIFF_QUIC_PKT_MAX];       /* scratch: one packet's payload */
	uint8_t dcid[20];                        /* of the first Initial */
	uint8_t dcid_len;
	unsigned packets; /* Initials decrypted so far */
};

void sniff_quic_init(struct sniff_quic *q);

/* One UDP datagram from the client. 0 with the name in out, SNIFF_NEED_MORE
 * (the ClientHello goes on in a later Initial), -EINVAL (not a QUIC
 * Initial we can read, or one that fails authentication), -ENOENT (a
 * ClientHello without a name). */
int sniff_quic(struct sniff_quic *q, const uint8_t *dgram, size_t len, char *out, size_t cap);

#endif
