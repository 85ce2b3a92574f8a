/* rtmsg: BSD routing-socket (PF_ROUTE) messages as macOS speaks them,
 * built into and parsed from plain buffers (docs/design.md §13, "macOS").
 * Pure and portable: the wire layout and the constants are Apple's ABI,
 * spelled out here from <net/route.h>, <net/if.h>, <net/if_dl.h> and
 * <sys/socket.h> of the macOS SDK (route(4): "Kernel packet forwarding
 * database"), so the codec builds and is tested byte for byte on any
 * machine; autoroute_darwin.c checks the sizes and constants against the
 * SDK with static asserts. The socket I/O is in autoroute_darwin.c and
 * uplink_darwin.c.
 *
 * Layouts (host byte order, as the kernel reads and writes them):
 *   rt_msghdr  u16 msglen, u8 version (5), u8 type, u16 index, (2 pad),
 *              i32 flags, addrs, pid, seq, errno, use, u32 inits,
 *              rt_metrics (14 x u32)                              (92)
 *   ifa_msghdr u16 msglen, u8 version, u8 type, i32 addrs, flags,
 *              u16 index, (2 pad), i32 metric                     (20)
 *   if_msghdr  u16 msglen, u8 version, u8 type, i32 addrs, flags,
 *              u16 index, (2 pad), if_data                       (112)
 * then one sockaddr per bit of addrs, in bit order (RTA_DST first), each
 * padded to a multiple of 4 bytes on Darwin (xnu's ROUNDUP32: 4, not
 * sizeof(long) as on the other BSDs, also on 64-bit), an empty one
 * (sa_len 0) taking 4. Link-local IPv6 addresses carry their scope (the
 * interface index) in bytes 2-3 inside the kernel (KAME): kept as they
 * are, so an address read from a reply can be sent back (one whose scope
 * comes in sin6_scope_id instead is read into that form).
 */
#ifndef T2S_RTMSG_H
#define T2S_RTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/prefix.h"

enum {
	RTMSG_VERSION = 5,
	RTMSG_HDR_LEN = 92,  /* sizeof(struct rt_msghdr) */
	RTMSG_IFA_LEN = 20,  /* sizeof(struct ifa_msghdr) */
	RTMSG_IF_LEN = 112,  /* sizeof(struct if_msghdr) */
	RTMSG_MAX_LEN = 512, /* enough for any message we build */
};

/* Message types (rtm_type). */
enum {
	RTMSG_ADD = 0x1,
	RTMSG_DELETE = 0x2,
	RTMSG_CHANGE = 0x3,
	RTMSG_GET = 0x4,
	RTMSG_LOSING = 0x5,
	RTMSG_REDIRECT = 0x6,
	RTMSG_MISS = 0x7,
	RTMSG_NEWADDR = 0xc,
	RTMSG_DELADDR = 0xd,
	RTMSG_IFINFO = 0xe,
	RTMSG_NEWMADDR = 0xf,
	RTMSG_DELMADDR = 0x10,
	RTMSG_IFINFO2 = 0x12,
};

/* Route flags (rtm_flags). */
enum {
	RTMSG_F_UP = 0x1,
	RTMSG_F_GATEWAY = 0x2,
	RTMSG_F_HOST = 0x4,
	RTMSG_F_REJECT = 0x8,
	RTMSG_F_DONE = 0x40,
	RTMSG_F_STATIC = 0x800,
	RTMSG_F_IFSCOPE = 0x1000000,
};

/* Which sockaddrs follow (rtm_addrs), in this order. */
enum {
	RTMSG_A_DST = 0x1,
	RTMSG_A_GATEWAY = 0x2,
	RTMSG_A_NETMASK = 0x4,
	RTMSG_A_GENMASK = 0x8,
	RTMSG_A_IFP = 0x10,
	RTMSG_A_IFA = 0x20,
	RTMSG_A_AUTHOR = 0x40,
	RTMSG_A_BRD = 0x80,
	RTMSG_AX_MAX = 8,
};

/* Darwin's address families and sockaddr sizes (they differ from Linux:
 * AF_INET6 is 30 there). */
enum {
	RTMSG_AF_INET = 2,
	RTMSG_AF_LINK = 18,
	RTMSG_AF_INET6 = 30,
	RTMSG_SIN_LEN = 16,  /* sizeof(struct sockaddr_in) */
	RTMSG_SIN6_LEN = 28, /* sizeof(struct sockaddr_in6) */
	RTMSG_SDL_LEN = 20,  /* sizeof(struct sockaddr_dl) */
};

/* One request. dst's family is prefix.h's (AF_INET, AF_INET6 of the host
 * we build on); a host prefix (/32, /128) is sent without a netmask and
 * with RTF_HOST, anything shorter with a full-length netmask. */
struct rtmsg_req {
	uint8_t type; /* RTMSG_ADD, RTMSG_DELETE, RTMSG_GET */
	int32_t seq;
	struct prefix dst;
	/* ADD: where it goes. has_gw: via this router (RTF_GATEWAY; a host
	 * prefix of dst's family; with reject, the loopback address route(8)
	 * uses for -reject). Else via interface ifindex (a link-level
	 * gateway, as `route add -interface`). */
	bool has_gw;
	struct prefix gw;
	uint16_t ifindex;
	bool reject; /* RTF_REJECT: answers "unreachable" */
	/* GET: the lookup as a socket bound to this interface would see it
	 * (RTF_IFSCOPE, IP_BOUND_IF's scoped routing); 0: unscoped. */
	uint16_t scope;
};

/* The request into buf (cap bytes). Returns its length, -ENOBUFS, or
 * -EINVAL (a family other than AF_INET/AF_INET6, a gateway of the other
 * family, ADD without gateway or interface, an unknown type). */
int rtmsg_build(const struct rtmsg_req *r, void *buf, size_t cap);

/* A message read from the routing socket. */
struct rtmsg_info {
	uint8_t type, version;
	bool known;       /* version 5 and a type of the three layouts */
	uint16_t index;   /* rtm_index / ifm_index / ifam_index */
	int32_t flags;    /* rtm_flags / ifm_flags / ifam_flags */
	int32_t addrs;    /* which sockaddrs were present */
	int32_t pid, seq; /* route messages */
	int32_t err;      /* route messages: rtm_errno (positive), 0 */
	bool has_dst;     /* dst: RTA_DST with RTA_NETMASK's length (a
			     * route without netmask: a host prefix) */
	bool mask_odd;    /* the netmask was not contiguous: dst.len max */
	struct prefix dst;
	bool has_gw; /* gw: an IP gateway (host prefix) */
	struct prefix gw;
	uint16_t gw_ifindex; /* a link-level gateway: its interface */
	char ifname[17];     /* RTA_IFP's name ("" if absent) */
};

/* Reads the message at *off of buf[0..len) (one read's worth, or a sysctl
 * dump) into out and moves *off past it. Returns 1, 0 at the end of the
 * buffer, or -EBADMSG for a malformed message (stop reading this buffer).
 * A message of another version or type has known false and only its
 * type and version set. */
int rtmsg_parse(const void *buf, size_t len, size_t *off, struct rtmsg_info *out);

/* Whether a message may move the default route or the interfaces under
 * it: a route added, changed or removed, an address or an interface
 * that changed. The uplink monitor looks again after such a message. */
bool rtmsg_is_route_event(const struct rtmsg_info *m);

#endif
