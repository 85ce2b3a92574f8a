/* libFuzzer target for the SOCKS5 UDP ASSOCIATE datagram header, the bytes
 * a relay gets back from the proxy for every UDP reply (RFC 1928 section 7:
 * RSV(2)=0 FRAG ATYP DST.ADDR DST.PORT, then payload; docs/design.md §12).
 *
 * The input is one whole datagram as a proxy could send it. Beyond "no
 * crash, no sanitizer report", socks5_udp_header_parse() is held to an
 * independent reading of the RFC layout written here, and aborts when it
 * disagrees:
 *  - the header length is what RSV, ATYP and the domain length byte say,
 *    and -EPROTO for an empty or truncated datagram, a non-zero RSV, an
 *    unknown ATYP, a zero-length or NUL-holding domain;
 *  - FRAG is reported as sent (the relay drops FRAG != 0) and never
 *    changes the header length;
 *  - a shorter datagram (any prefix of the header) is -EPROTO, and the
 *    payload after the header never changes the answer;
 *  - what was accepted is rebuilt byte for byte by socks5_udp_header_build()
 *    (with FRAG 0), which never writes past cap.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run over tests/fuzz/corpus/socks5_udp.
 */
#include "tun2socks/upstream/socks5.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* The RFC layout, read independently of the codec: header length, or
 * -EPROTO. */
static int ref_header_len(const uint8_t *d, size_t n)
{
	size_t need;

	if (n < 4 || d[0] != 0 || d[1] != 0)
		return -EPROTO;
	switch (d[3]) {
	case SOCKS5_ATYP_IPV4:
		need = 4 + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		need = 4 + 16 + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (n < 5 || d[4] == 0)
			return -EPROTO;
		need = 5 + (size_t)d[4] + 2;
		if (n >= need - 2 && memchr(d + 5, 0, d[4]))
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	return n < need ? -EPROTO : (int)need;
}

static void check_addr(const struct socks5_addr *a, const uint8_t *d)
{
	char text[SOCKS5_ADDR_STR_MAX];
	size_t alen;

	CHECK(a->atyp == d[3]);
	switch (a->atyp) {
	case SOCKS5_ATYP_IPV4:
		alen = 4;
		CHECK(memcmp(a->u.v4, d + 4, 4) == 0);
		break;
	case SOCKS5_ATYP_IPV6:
		alen = 16;
		CHECK(memcmp(a->u.v6, d + 4, 16) == 0);
		break;
	default:
		alen = 1 + (size_t)d[4];
		CHECK(a->domain_len == d[4] && a->domain_len >= 1);
		CHECK(strlen(a->u.domain) == a->domain_len);
		CHECK(memcmp(a->u.domain, d + 5, a->domain_len) == 0);
		break;
	}
	CHECK(a->port == (uint16_t)(d[4 + alen] << 8 | d[5 + alen]));
	socks5_addr_str(a, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SOCKS5_UDP_HEADER_MAX + 8];
	struct socks5_addr a, b;
	uint8_t frag = 0xaa;
	int want = ref_header_len(data, size);
	int r = socks5_udp_header_parse(data, size, &a, &frag);

	CHECK(r == want);
	if (r < 0) {
		/* Nothing half-filled is left for a caller to trust. */
		CHECK(frag == 0 && a.atyp == 0 && a.port == 0);
		return 0;
	}
	CHECK(r >= 8 && r <= SOCKS5_UDP_HEADER_MAX && (size_t)r <= size);
	CHECK(frag == data[2]);
	check_addr(&a, data);

	/* Every prefix of the header is a truncated datagram. */
	for (int k = 0; k < r; k++)
		CHECK(socks5_udp_header_parse(data, (size_t)k, &b, &frag) == -EPROTO);
	/* Payload bytes never change the answer. */
	CHECK(socks5_udp_header_parse(data, (size_t)r, &b, &frag) == r);
	CHECK(frag == data[2] && memcmp(&a, &b, sizeof(a)) == 0);

	/* The builder gives back the same header with FRAG 0, and respects cap. */
	memset(buf, 0xee, sizeof(buf));
	CHECK(socks5_udp_header_build(buf, (size_t)r - 1, &a) == -ENOBUFS);
	CHECK(socks5_udp_header_build(buf, (size_t)r, &a) == r);
	CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == 0);
	CHECK(memcmp(buf + 3, data + 3, (size_t)r - 3) == 0);
	for (size_t i = (size_t)r; i < sizeof(buf); i++)
		CHECK(buf[i] == 0xee);
	CHECK(socks5_udp_header_parse(buf, (size_t)r, &b, &frag) == r);
	CHECK(frag == 0 && memcmp(&a, &b, sizeof(a)) == 0);
	return 0;
}
