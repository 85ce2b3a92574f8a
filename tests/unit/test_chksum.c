/* The fast checksum against a plain RFC 1071 reference on random data at
 * every alignment and length, and through lwIP's pseudo-header helper. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

unsigned short lwip_port_chksum(const void *data, int len);
unsigned short lwip_port_chksum_copy(void *dst, const void *src, unsigned short len);

/* RFC 1071: 16-bit big-endian words, end-around carry; returned in
 * network byte order as lwIP expects (bytes as they would be stored). */
static uint16_t ref_chksum(const uint8_t *p, int len)
{
	uint32_t sum = 0;

	for (int i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint8_t be[2] = { (uint8_t)(sum >> 8), (uint8_t)sum };
	uint16_t out;
	memcpy(&out, be, 2);
	return out;
}

static void test_random(void)
{
	static uint8_t buf[4096 + 16], dst[4096 + 16];
	unsigned seed = 12345;
	int bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand_r(&seed);
	for (int off = 0; off < 8; off++)
		for (int len = 0; len <= 300; len++)
			bad += lwip_port_chksum(buf + off, len) != ref_chksum(buf + off, len);
	for (int k = 0; k < 2000; k++) {
		int off = rand_r(&seed) % 16, len = rand_r(&seed) % 4096;

		bad += lwip_port_chksum(buf + off, len) != ref_chksum(buf + off, len);
		bad += lwip_port_chksum_copy(dst + (off ^ 3), buf + off, (unsigned short)len) !=
		       ref_chksum(buf + off, len);
		bad += memcmp(dst + (off ^ 3), buf + off, (size_t)len) != 0;
	}
	/* All-ones data: maximal carries. */
	memset(buf, 0xff, sizeof(buf));
	for (int len = 0; len < 100; len++)
		bad += lwip_port_chksum(buf, len) != ref_chksum(buf, len);
	T_EQ_INT(bad, 0);
}

int main(void)
{
	T_RUN(test_random);
	return test_summary();
}
