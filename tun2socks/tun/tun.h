/* The TUN device: where packets enter and leave the daemon.
 *
 * One header for every platform: tun.c holds the portable part (framing,
 * config checks, accessors); CMake adds exactly one of tun_linux.c
 * or tun_darwin.c. The descriptor is non-blocking and packet-oriented: one
 * tun_read() returns one IP packet, one tun_writev() sends one. The loop
 * watches tun_fd() for readability and drains with tun_read() to -EAGAIN.
 */
#ifndef T2S_TUN_H
#define T2S_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "tun2socks/base/must_check.h"

enum tun_framing {
	TUN_FRAMING_RAW = 0, /* bare IP packets (Linux IFF_NO_PI) */
	TUN_FRAMING_AF4,     /* 4-byte big-endian address family header (utun) */
};

#define TUN_MTU_MIN 576u
#define TUN_MTU_MAX 65535u
/* The kernel disables IPv6 on a link whose MTU is below this. */
#define TUN_MTU_MIN_IPV6 1280u
/* Most iovec entries tun_writev() accepts (one more is used for framing). */
#define TUN_WRITEV_MAX_IOV 64

struct tun_config {
	/* Requested name ("tun0", "utun7"; Linux also takes a "t2s%d" pattern)
	 * or NULL/"" for kernel-chosen; ignored with fd >= 0. */
	const char *name;
	/* -1 to create; >= 0: use this already-open descriptor (--tun-fd),
	 * never configure addresses, MTU or flags on it. It must carry bare
	 * or AF4-framed packets (a Linux TUN: IFF_NO_PI; packet-info headers
	 * cannot be detected and would make every packet unparseable). */
	int fd;
	/* -1: platform default (Linux RAW, macOS AF4); else enum tun_framing
	 * (the override matters for --tun-fd). */
	int framing;
	uint32_t mtu; /* TUN_MTU_MIN..TUN_MTU_MAX; >= 1280 with has_addr6 */
	bool has_addr4;
	uint8_t addr4[4];
	uint8_t prefix4; /* e.g. 198.18.0.1/15 */
	bool has_addr6;
	uint8_t addr6[16];
	uint8_t prefix6; /* e.g. fdfe:dcba:9876::1/126 */
	/* Checksum and segmentation offload (Linux IFF_VNET_HDR): the kernel
	 * hands over TCP data as GSO super-packets of up to 64 KiB with their
	 * checksums left open, and takes TCP/UDP packets whose checksum only
	 * covers the pseudo header (tun_csum_offload()). 0: on for a TUN we
	 * create, off for a handed-over fd; > 0: also on a handed-over Linux
	 * TUN that was opened with IFF_VNET_HDR; < 0: off. Falls back to no
	 * offload when the kernel refuses it; a no-op on macOS. */
	int offload;
};

struct tun;

/* Creates (or attaches to) the device, sets MTU and addresses and brings it
 * up (none of that for a handed-over fd), and makes the fd non-blocking.
 * Returns 0 or -errno with a specific human-readable reason in err (errlen
 * bytes; may be NULL/0). -EPERM/-EACCES: not root (CAP_NET_ADMIN); -EBUSY:
 * the name is in use by another process; -EINVAL: bad config. On failure a
 * handed-over fd stays open and belongs to the caller again. */
T2S_MUST_CHECK int tun_open(const struct tun_config *cfg, struct tun **out, char *err,
			    size_t errlen);
int tun_fd(const struct tun *t);
/* The interface name, or "fd<N>" for a handed-over fd of unknown name. */
const char *tun_name(const struct tun *t);
int tun_framing(const struct tun *t);
/* The configured MTU (for a handed-over fd: the one the caller stated). */
uint32_t tun_mtu(const struct tun *t);

/* The buffer size tun_read() needs for any packet: the MTU, or 65535 when
 * the kernel may hand over segmentation-offload super-packets. */
size_t tun_read_max(const struct tun *t);
/* Whether tun_writev() has the kernel complete TCP and UDP checksums: then
 * the stack need not compute them (whatever such a packet carries in its
 * checksum field is replaced by the pseudo-header sum). */
bool tun_csum_offload(const struct tun *t);

/* Reads one IP packet (framing stripped) into buf. Returns its length,
 * -EAGAIN when none is waiting, -EMSGSIZE when it was longer than cap (the
 * packet is consumed and lost: size buf to tun_read_max()), -EPROTO for a
 * frame whose AF header is wrong or whose offload header announces what we
 * did not ask for (UDP segmentation; consumed: the caller drops and
 * counts), -EPIPE when a handed-over socket's peer has gone, or another
 * -errno. With offload (or a handed-over IFF_VNET_HDR TUN) the TCP/UDP
 * checksum of a packet read may cover only the pseudo header: the local
 * kernel made it and leaves it to us, so never verify it. */
ssize_t tun_read(struct tun *t, void *buf, size_t cap);

/* Writes one IP packet given as an iovec array (e.g. a pbuf chain), adding
 * the framing (with offload also the request to complete its TCP/UDP
 * checksum). Returns 0, -EAGAIN when the queue is full (the caller drops and
 * counts), -EAFNOSUPPORT when AF4 framing meets a packet that is neither
 * IPv4 nor IPv6, -EINVAL for an empty packet or more than TUN_WRITEV_MAX_IOV
 * entries, or another -errno. */
int tun_writev(struct tun *t, const struct iovec *iov, int iovcnt);

/* What tun_write_batch() did since the device was opened. */
struct tun_write_stats {
	uint64_t packets;    /* packets handed over */
	uint64_t writes;     /* write system calls */
	uint64_t gso_writes; /* of those, GSO super-packets */
	uint64_t gso_segs;   /* packets those super-packets carried */
	uint64_t dropped;    /* packets not written (full queue, errors) */
};

/* Whether tun_write_batch() coalesces TCP segments into GSO super-packets
 * (Linux with IFF_VNET_HDR and checksum offload; docs/design.md §15). */
bool tun_gso(const struct tun *t);

/* Writes n packets in order; packet k is the iovcnt[k] entries of iov
 * after those of the packets before it (each at most TUN_WRITEV_MAX_IOV).
 * With tun_gso(), runs of consecutive segments of one TCP flow that
 * tun_gso.h allows to travel together go out as one super-packet, which
 * the kernel splits back into exactly those segments; everything else is
 * written one packet at a time as by tun_writev(). A super-packet the
 * kernel refuses turns coalescing off for good (logged) and its segments
 * are written singly. Returns how many packets could not be written
 * (dropped, like a full NIC queue would: TCP retransmits). */
size_t tun_write_batch(struct tun *t, const struct iovec *iov, const int *iovcnt, size_t n);

const struct tun_write_stats *tun_write_stats(const struct tun *t);

/* Closes the fd (a handed-over one too: tun_open took it over) and frees t.
 * A device we created disappears with the fd (Linux non-persistent TUN,
 * macOS utun), with its addresses and routes, leaving the machine's
 * networking as we found it. NULL is a no-op. */
void tun_close(struct tun *t);

#endif
