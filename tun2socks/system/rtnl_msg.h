/* rtnl_msg: RTNETLINK messages for policy-routing rules and routes, built
 * into and parsed from plain buffers. Pure and portable: the wire layout
 * and constants are the Linux ABI (linux/netlink.h, rtnetlink.h,
 * fib_rules.h), spelled out here so the codec builds and is tested on any
 * machine; rtnl_linux.c checks them against the kernel's headers. The
 * socket I/O is rtnl.h. Every integer on the wire is in host order,
 * port ranges included.
 */
#ifndef T2S_RTNL_MSG_H
#define T2S_RTNL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/prefix.h"

/* Message types and flags. */
enum {
	RTNL_NLMSG_ERROR = 2,
	RTNL_NLMSG_DONE = 3,
	RTNL_NEWROUTE = 24,
	RTNL_DELROUTE = 25,
	RTNL_GETROUTE = 26,
	RTNL_NEWRULE = 32,
	RTNL_DELRULE = 33,
	RTNL_GETRULE = 34,
};
enum {
	RTNL_F_REQUEST = 0x1,
	RTNL_F_MULTI = 0x2,
	RTNL_F_ACK = 0x4,
	RTNL_F_EXCL = 0x200,
	RTNL_F_CREATE = 0x400,
	RTNL_F_DUMP = 0x300,
};

/* What a rule does (fib_rule_hdr.action). */
enum rtnl_rule_action {
	RTNL_ACT_TABLE = 1, /* look up a table */
	RTNL_ACT_GOTO = 2,  /* continue at a later priority */
	RTNL_ACT_NOP = 3,   /* nothing: a target for gotos */
	RTNL_ACT_BLACKHOLE = 6,
	RTNL_ACT_UNREACHABLE = 7,
	RTNL_ACT_PROHIBIT = 8,
};

/* Route types (rtmsg.rtm_type). */
enum rtnl_route_type {
	RTNL_RT_UNICAST = 1,
	RTNL_RT_LOCAL = 2,
	RTNL_RT_BLACKHOLE = 6,
	RTNL_RT_UNREACHABLE = 7,
	RTNL_RT_PROHIBIT = 8,
	RTNL_RT_THROW = 9,
};

enum {
	RTNL_TABLE_MAIN = 254,
	RTNL_SCOPE_UNIVERSE = 0,
	RTNL_SCOPE_LINK = 253,
	RTNL_SCOPE_NOWHERE = 255, /* in a delete: any scope */
	RTNL_PROTO_STATIC = 4,
	RTNL_IPPROTO_TCP = 6,
	RTNL_IPPROTO_UDP = 17,
};

/* One routing rule as `ip rule` knows it. Selectors left zero match
 * anything; src/dst with len 0 are "from all"/"to all". */
struct rtnl_rule {
	uint8_t family; /* AF_INET, AF_INET6 */
	uint8_t action; /* enum rtnl_rule_action */
	bool invert;    /* "not": the selectors must not match */
	uint32_t priority;
	uint32_t table;     /* RTNL_ACT_TABLE */
	uint32_t goto_prio; /* RTNL_ACT_GOTO */
	struct prefix src, dst;
	bool has_fwmark;
	uint32_t fwmark, fwmask;
	char iif[16], oif[16];       /* "" for any */
	uint8_t ip_proto;            /* 0 for any */
	uint16_t sport[2], dport[2]; /* inclusive ranges; {0, 0}: any */
	bool has_uid;
	uint32_t uid[2];   /* inclusive */
	bool has_suppress; /* suppress_prefixlength */
	uint8_t suppress_prefixlen;
	bool unknown; /* parsed: it had attributes we do not model */
};

/* One route. */
struct rtnl_route {
	uint8_t family;
	uint8_t type; /* enum rtnl_route_type */
	uint8_t scope;
	uint8_t protocol;
	uint32_t table;
	struct prefix dst;
	uint32_t oif;    /* interface index; 0: none */
	uint32_t metric; /* 0: none */
};

/* Builders: one request into buf (cap bytes). type is RTNL_NEWRULE or
 * RTNL_DELRULE (rules), RTNL_NEWROUTE or RTNL_DELROUTE (routes); flags are
 * added to RTNL_F_REQUEST | RTNL_F_ACK. Return the length or -ENOBUFS
 * (-EINVAL for a family other than AF_INET/AF_INET6). */
int rtnl_rule_msg(uint16_t type, uint16_t flags, uint32_t seq, const struct rtnl_rule *r, void *buf,
		  size_t cap);
int rtnl_route_msg(uint16_t type, uint16_t flags, uint32_t seq, const struct rtnl_route *r,
		   void *buf, size_t cap);
/* Where the kernel would send a packet of ours to dst (a host prefix):
 * RTNL_GETROUTE for one address, as a local socket with fwmark mark (0:
 * none) bound to interface oif (0: none). The answer is an RTNL_NEWROUTE
 * whose oif is the interface, or an error. */
int rtnl_route_get_msg(uint32_t seq, const struct prefix *dst, uint32_t mark, uint32_t oif,
		       void *buf, size_t cap);
/* A dump request: RTNL_GETRULE or RTNL_GETROUTE of one family. */
int rtnl_dump_msg(uint16_t type, uint8_t family, uint32_t seq, void *buf, size_t cap);

enum rtnl_reply_kind {
	RTNL_REPLY_OTHER, /* a message we do not read */
	RTNL_REPLY_ACK,   /* NLMSG_ERROR: error 0 (an ACK) or -errno */
	RTNL_REPLY_DONE,  /* end of a dump (error: its status) */
	RTNL_REPLY_RULE,
	RTNL_REPLY_ROUTE,
};

struct rtnl_reply {
	enum rtnl_reply_kind kind;
	uint16_t type, flags;
	uint32_t seq;
	int error;         /* ACK, DONE: 0 or -errno */
	char ext_msg[128]; /* ACK: the kernel's extended-ACK text, or "" */
	struct rtnl_rule rule;
	struct rtnl_route route;
};

/* Reads the message at *off of buf[0..len) (one recv's worth) into out and
 * moves *off past it. Returns 1, 0 at the end of the buffer, or -EBADMSG
 * for a malformed message (stop reading this buffer). Attributes it does
 * not know are skipped (a rule with some gets rule.unknown). */
int rtnl_parse_next(const void *buf, size_t len, size_t *off, struct rtnl_reply *out);

#endif
