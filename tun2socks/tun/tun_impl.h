/* Private to the tun module: the device state shared by the portable half
 * (tun.c: tun_open's checks and cleanup, the accessors, framing on read and
 * write, close) and the one platform half CMake picks (tun_linux.c or
 * tun_darwin.c), and the hooks the portable half calls into it. Nothing
 * outside tun*.c includes this. */
#ifndef T2S_TUN_IMPL_H
#define T2S_TUN_IMPL_H

#include "tun2socks/tun/tun.h"
#include "tun2socks/tun/tun_gso.h"

#include <net/if.h>
#include "tun2socks/base/must_check.h"

/* Most bytes of a platform packet header (tun.hdr_len). Linux's
 * virtio_net_hdr is 10 or 12; TUNSETVNETHDRSZ allows more, and a
 * handed-over device sized beyond this is refused. */
#define TUN_HDR_MAX 32
/* Room tun_platform_hdr_out() may copy the packet's leading bytes into
 * (the IP and TCP headers up to the checksum: TUN_CSUM_HDR_MAX). */
#define TUN_HDR_SCRATCH 80

struct tun {
	int fd;      /* -1 until the platform hook has one */
	int framing; /* enum tun_framing */
	uint32_t mtu;
	char name[IF_NAMESIZE];
	/* Bytes of platform header on every packet, read and written by the
	 * tun_platform_hdr_* hooks; it takes the place of any framing (a
	 * platform only sets it with TUN_FRAMING_RAW). 0: none. */
	uint16_t hdr_len;
	/* Writes leave TCP/UDP checksums to the kernel. */
	bool csum_offload;
	/* Reads may be segmentation-offload super-packets of up to
	 * TUN_MTU_MAX bytes rather than MTU-sized packets. */
	bool gso;
	/* Writes may be GSO super-packets (tun_platform_gso_hdr()). */
	bool gso_out;
	/* One MTU of room for the software cut (tun_gso_cut), made when a
	 * TUN that took GSO writes refuses one with longer segments queued. */
	uint8_t *cut_buf;
	struct tun_write_stats wstats;
};

/* snprintf into err unless err is NULL or errlen 0. */
__attribute__((format(printf, 3, 4))) void tun_set_err(char *err, size_t errlen, const char *fmt,
						       ...);

/* The framing a config's -1 stands for: what the platform's own devices
 * carry. */
int tun_platform_default_framing(void);

/* Creates the device for a checked cfg (cfg->fd < 0) with t->framing and
 * t->mtu set: opens t->fd (non-blocking and close-on-exec on success),
 * fills t->name, sets MTU and addresses, brings it up, and settles
 * hdr_len, csum_offload and gso. Returns 0 or -errno with err filled; the
 * caller closes t->fd (>= 0 once opened) on failure, which destroys a
 * half-made device. */
T2S_MUST_CHECK int tun_platform_create(struct tun *t, const struct tun_config *cfg, char *err,
				       size_t errlen);

/* Identifies a handed-over cfg->fd (known to be open; t->fd is still -1):
 * fills t->name if the platform can tell the device's name (else leaves it
 * empty for the caller's "fd<N>"), settles hdr_len, csum_offload and gso,
 * and refuses a descriptor that cannot carry IP packets. Configures
 * nothing and leaves t->fd to the caller. Returns 0 or -errno with err
 * filled. */
T2S_MUST_CHECK int tun_platform_adopt(struct tun *t, const struct tun_config *cfg, char *err,
				      size_t errlen);

/* Only called while t->hdr_len > 0. hdr holds the hdr_len bytes of
 * platform header that preceded the len > 0 packet bytes read into pkt.
 * Returns the packet's length (pkt may be fixed up in place) or -EPROTO
 * for a header announcing what tun_read() cannot hand on. */
ssize_t tun_platform_hdr_in(const struct tun *t, const uint8_t *hdr, uint8_t *pkt, size_t len);

/* Only called while t->hdr_len > 0, for a packet of total > 0 bytes in
 * iov[0..iovcnt) (iovcnt <= TUN_WRITEV_MAX_IOV). Fills hdr's t->hdr_len
 * bytes and v[1..] with the packet to follow it, which may start with a
 * patched copy of its first bytes in scratch; v has room for iovcnt + 2
 * entries and the caller points v[0] at hdr. Returns the number of entries
 * used in v, v[0] included. */
int tun_platform_hdr_out(const struct tun *t, const struct iovec *iov, int iovcnt, size_t total,
			 uint8_t hdr[TUN_HDR_MAX], uint8_t scratch[TUN_HDR_SCRATCH],
			 struct iovec *v);

/* Only called while t->gso_out: fills hdr's t->hdr_len bytes with the
 * platform header announcing a super-packet described by m (m->type not
 * TUN_GSO_NONE) whose checksum field holds the pseudo-header sum. */
void tun_platform_gso_hdr(const struct tun *t, const struct tun_gso_meta *m,
			  uint8_t hdr[TUN_HDR_MAX]);

#endif
