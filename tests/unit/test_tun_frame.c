/* The utun AF header codec, with macOS numbers (AF_INET 2, AF_INET6 30) and
 * Linux ones (2, 10) to show nothing is taken from the build host. */
#include "test.h"
#include "tun2socks/tun/tun_frame.h"

#include <errno.h>
#include <stdint.h>

#define MAC_INET 2u
#define MAC_INET6 30u
#define LNX_INET 2u
#define LNX_INET6 10u

static void test_encode_ipv4(void)
{
	static const uint8_t want[4] = { 0, 0, 0, 2 };
	uint8_t hdr[4] = { 0xff, 0xff, 0xff, 0xff };

	T_EQ_INT(tun_frame_af4_encode(hdr, 0x45, MAC_INET, MAC_INET6), 0);
	T_EQ_MEM(hdr, want, 4);
	/* Only the version nibble matters, not the IHL. */
	T_EQ_INT(tun_frame_af4_encode(hdr, 0x4f, MAC_INET, MAC_INET6), 0);
	T_EQ_MEM(hdr, want, 4);
}

static void test_encode_ipv6(void)
{
	static const uint8_t mac[4] = { 0, 0, 0, 30 };
	static const uint8_t lnx[4] = { 0, 0, 0, 10 };
	uint8_t hdr[4];

	T_EQ_INT(tun_frame_af4_encode(hdr, 0x60, MAC_INET, MAC_INET6), 0);
	T_EQ_MEM(hdr, mac, 4);
	T_EQ_INT(tun_frame_af4_encode(hdr, 0x6e, LNX_INET, LNX_INET6), 0);
	T_EQ_MEM(hdr, lnx, 4);
}

static void test_encode_big_endian(void)
{
	static const uint8_t want[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t hdr[4];

	T_EQ_INT(tun_frame_af4_encode(hdr, 0x60, 1, 0x12345678u), 0);
	T_EQ_MEM(hdr, want, 4);
}

static void test_encode_not_ip(void)
{
	static const uint8_t zero[4] = { 0, 0, 0, 0 };
	uint8_t hdr[4] = { 1, 2, 3, 4 };
	unsigned b;

	for (b = 0; b < 256; b++) {
		unsigned v = b >> 4;
		int rc = tun_frame_af4_encode(hdr, (uint8_t)b, MAC_INET, MAC_INET6);

		if (v == 4 || v == 6) {
			T_EQ_INT(rc, 0);
		} else {
			T_EQ_INT(rc, -EAFNOSUPPORT);
			T_EQ_MEM(hdr, zero, 4);
		}
	}
}

static void test_decode_ok(void)
{
	static const uint8_t v4[] = { 0, 0, 0, 2, 0x45, 0x00, 0x00, 0x14 };
	static const uint8_t v6[] = { 0, 0, 0, 30, 0x60, 0, 0, 0 };
	static const uint8_t v6l[] = { 0, 0, 0, 10, 0x60 };

	T_EQ_INT(tun_frame_af4_decode(v4, sizeof(v4), MAC_INET, MAC_INET6), 0);
	T_EQ_INT(tun_frame_af4_decode(v6, sizeof(v6), MAC_INET, MAC_INET6), 0);
	T_EQ_INT(tun_frame_af4_decode(v6l, sizeof(v6l), LNX_INET, LNX_INET6), 0);
}

static void test_decode_mismatch(void)
{
	static const uint8_t af4_v6[] = { 0, 0, 0, 2, 0x60 };
	static const uint8_t af6_v4[] = { 0, 0, 0, 30, 0x45 };
	/* Linux's AF_INET6 on a macOS reader is an unknown family. */
	static const uint8_t lnx6[] = { 0, 0, 0, 10, 0x60 };
	/* Host byte order on a little-endian machine: the classic bug. */
	static const uint8_t le4[] = { 2, 0, 0, 0, 0x45 };

	T_EQ_INT(tun_frame_af4_decode(af4_v6, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(af6_v4, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(lnx6, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(le4, 5, MAC_INET, MAC_INET6), -EPROTO);
}

static void test_decode_garbage(void)
{
	static const uint8_t zero[] = { 0, 0, 0, 0, 0x45 };
	static const uint8_t ones[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t v5[] = { 0, 0, 0, 2, 0x55 };
	static const uint8_t v0[] = { 0, 0, 0, 30, 0x00 };

	T_EQ_INT(tun_frame_af4_decode(zero, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(ones, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(v5, 5, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(v0, 5, MAC_INET, MAC_INET6), -EPROTO);
}

static void test_decode_short(void)
{
	static const uint8_t v4[] = { 0, 0, 0, 2, 0x45 };
	size_t len;

	for (len = 0; len < sizeof(v4); len++)
		T_EQ_INT(tun_frame_af4_decode(v4, len, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(NULL, 0, MAC_INET, MAC_INET6), -EPROTO);
	T_EQ_INT(tun_frame_af4_decode(v4, sizeof(v4), MAC_INET, MAC_INET6), 0);
}

static void test_roundtrip(void)
{
	uint8_t frame[5];
	unsigned b;

	for (b = 0; b < 256; b++) {
		if (tun_frame_af4_encode(frame, (uint8_t)b, MAC_INET, MAC_INET6))
			continue;
		frame[4] = (uint8_t)b;
		T_EQ_INT(tun_frame_af4_decode(frame, 5, MAC_INET, MAC_INET6), 0);
	}
}

int main(void)
{
	T_RUN(test_encode_ipv4);
	T_RUN(test_encode_ipv6);
	T_RUN(test_encode_big_endian);
	T_RUN(test_encode_not_ip);
	T_RUN(test_decode_ok);
	T_RUN(test_decode_mismatch);
	T_RUN(test_decode_garbage);
	T_RUN(test_decode_short);
	T_RUN(test_roundtrip);
	return test_summary();
}
