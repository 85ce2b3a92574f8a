#include "tun2socks/tun/tun_frame.h"

#include <errno.h>
#include <string.h>

int tun_frame_af4_encode(uint8_t hdr[4], uint8_t first_byte, uint32_t af_inet, uint32_t af_inet6)
{
	uint32_t af;

	memset(hdr, 0, TUN_FRAME_AF4_LEN);
	switch (first_byte >> 4) {
	case 4:
		af = af_inet;
		break;
	case 6:
		af = af_inet6;
		break;
	default:
		return -EAFNOSUPPORT;
	}
	hdr[0] = (uint8_t)(af >> 24);
	hdr[1] = (uint8_t)(af >> 16);
	hdr[2] = (uint8_t)(af >> 8);
	hdr[3] = (uint8_t)af;
	return 0;
}

int tun_frame_af4_decode(const uint8_t *frame, size_t len, uint32_t af_inet, uint32_t af_inet6)
{
	uint32_t af;
	unsigned version;

	/* The version nibble is the only thing that says what the packet is;
	 * without it the header cannot be checked. */
	if (!frame || len < TUN_FRAME_AF4_LEN + 1)
		return -EPROTO;
	af = (uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 | (uint32_t)frame[2] << 8 |
	     frame[3];
	version = frame[TUN_FRAME_AF4_LEN] >> 4;
	if (af == af_inet && version == 4)
		return 0;
	if (af == af_inet6 && version == 6)
		return 0;
	return -EPROTO;
}
