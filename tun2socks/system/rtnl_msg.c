/* rtnl_msg: RTNETLINK rule and route messages (rtnl_msg.h). Layouts, all
 * host order, naturally aligned to 4 bytes:
 *   nlmsghdr     u32 len, u16 type, u16 flags, u32 seq, u32 pid   (16)
 *   fib_rule_hdr u8 family, dst_len, src_len, tos, table, res1, res2,
 *                action; u32 flags                                 (12)
 *   rtmsg        u8 family, dst_len, src_len, tos, table, protocol,
 *                scope, type; u32 flags                            (12)
 *   rtattr       u16 len (header included), u16 type; data padded to 4
 *   nlmsgerr     i32 error, then the request's nlmsghdr (and, with
 *                NLM_F_ACK_TLVS, attributes such as the message text)
 */
#include "tun2socks/system/rtnl_msg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define NLMSG_HDR 16u
#define FAM_HDR 12u /* fib_rule_hdr and rtmsg alike */
#define ALIGN4(n) (((n) + 3u) & ~3u)

/* Attributes of rules (FRA_*) and routes (RTA_*) we read or write. */
enum {
	FRA_DST = 1,
	FRA_SRC = 2,
	FRA_IIFNAME = 3,
	FRA_GOTO = 4,
	FRA_PRIORITY = 6,
	FRA_FWMARK = 10,
	FRA_SUPPRESS_IFGROUP = 13,
	FRA_SUPPRESS_PREFIXLEN = 14,
	FRA_TABLE = 15,
	FRA_FWMASK = 16,
	FRA_OIFNAME = 17,
	FRA_PAD = 18,
	FRA_UID_RANGE = 20,
	FRA_PROTOCOL = 21,
	FRA_IP_PROTO = 22,
	FRA_SPORT_RANGE = 23,
	FRA_DPORT_RANGE = 24,
};
enum { RTA_DST = 1, RTA_OIF = 4, RTA_PRIORITY = 6, RTA_TABLE = 15, RTA_MARK = 16 };
enum { FIB_RULE_INVERT = 0x2, RTM_F_LOOKUP_TABLE = 0x1000 };
enum { NLM_F_CAPPED = 0x100, NLM_F_ACK_TLVS = 0x200, NLMSGERR_ATTR_MSG = 1 };

/* ---- building ---------------------------------------------------------- */

struct builder {
	uint8_t *buf;
	size_t cap, len;
	bool full;
};

static void put_bytes(struct builder *b, size_t at, const void *p, size_t n)
{
	memcpy(b->buf + at, p, n);
}

static void put_u16(struct builder *b, size_t at, uint16_t v)
{
	put_bytes(b, at, &v, 2);
}

static void put_u32(struct builder *b, size_t at, uint32_t v)
{
	put_bytes(b, at, &v, 4);
}

/* The headers: nlmsghdr (length filled at the end) and a zeroed family
 * header whose fields the caller sets. */
static void begin(struct builder *b, uint16_t type, uint16_t flags, uint32_t seq)
{
	if (b->cap < NLMSG_HDR + FAM_HDR) {
		b->full = true;
		return;
	}
	memset(b->buf, 0, NLMSG_HDR + FAM_HDR);
	put_u16(b, 4, type);
	put_u16(b, 6, flags);
	put_u32(b, 8, seq);
	b->len = NLMSG_HDR + FAM_HDR;
}

static void attr(struct builder *b, uint16_t type, const void *data, size_t n)
{
	size_t need = ALIGN4(4 + n);

	if (b->full || b->len + need > b->cap || 4 + n > 0xffff) {
		b->full = true;
		return;
	}
	memset(b->buf + b->len, 0, need);
	put_u16(b, b->len, (uint16_t)(4 + n));
	put_u16(b, b->len + 2, type);
	put_bytes(b, b->len + 4, data, n);
	b->len += need;
}

static void attr_u32(struct builder *b, uint16_t type, uint32_t v)
{
	attr(b, type, &v, 4);
}

static int finish(struct builder *b)
{
	if (b->full)
		return -ENOBUFS;
	put_u32(b, 0, (uint32_t)b->len);
	return (int)b->len;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool family_ok(int family)
{
	return family == AF_INET || family == AF_INET6;
}

int rtnl_rule_msg(uint16_t type, uint16_t flags, uint32_t seq, const struct rtnl_rule *r, void *buf,
		  size_t cap)
{
	struct builder b = { .buf = buf, .cap = cap };
	uint8_t *h;

	if (!family_ok(r->family))
		return -EINVAL;
	begin(&b, type, (uint16_t)(flags | RTNL_F_REQUEST | RTNL_F_ACK), seq);
	if (b.full)
		return -ENOBUFS;
	h = b.buf + NLMSG_HDR;
	h[0] = r->family;
	h[1] = r->dst.len;
	h[2] = r->src.len;
	h[4] = r->action == RTNL_ACT_TABLE && r->table < 256 ? (uint8_t)r->table : 0;
	h[7] = r->action;
	put_u32(&b, NLMSG_HDR + 8, r->invert ? FIB_RULE_INVERT : 0);

	attr_u32(&b, FRA_PRIORITY, r->priority);
	if (r->action == RTNL_ACT_TABLE)
		attr_u32(&b, FRA_TABLE, r->table);
	if (r->action == RTNL_ACT_GOTO)
		attr_u32(&b, FRA_GOTO, r->goto_prio);
	if (r->src.len)
		attr(&b, FRA_SRC, r->src.addr, addr_len(r->family));
	if (r->dst.len)
		attr(&b, FRA_DST, r->dst.addr, addr_len(r->family));
	if (r->iif[0])
		attr(&b, FRA_IIFNAME, r->iif, strnlen(r->iif, sizeof(r->iif) - 1) + 1);
	if (r->oif[0])
		attr(&b, FRA_OIFNAME, r->oif, strnlen(r->oif, sizeof(r->oif) - 1) + 1);
	if (r->has_fwmark) {
		attr_u32(&b, FRA_FWMARK, r->fwmark);
		attr_u32(&b, FRA_FWMASK, r->fwmask);
	}
	if (r->has_suppress)
		attr_u32(&b, FRA_SUPPRESS_PREFIXLEN, r->suppress_prefixlen);
	if (r->ip_proto)
		attr(&b, FRA_IP_PROTO, &r->ip_proto, 1);
	if (r->sport[0] || r->sport[1])
		attr(&b, FRA_SPORT_RANGE, r->sport, sizeof(r->sport));
	if (r->dport[0] || r->dport[1])
		attr(&b, FRA_DPORT_RANGE, r->dport, sizeof(r->dport));
	if (r->has_uid)
		attr(&b, FRA_UID_RANGE, r->uid, sizeof(r->uid));
	return finish(&b);
}

int rtnl_route_msg(uint16_t type, uint16_t flags, uint32_t seq, const struct rtnl_route *r,
		   void *buf, size_t cap)
{
	struct builder b = { .buf = buf, .cap = cap };
	uint8_t *h;

	if (!family_ok(r->family))
		return -EINVAL;
	begin(&b, type, (uint16_t)(flags | RTNL_F_REQUEST | RTNL_F_ACK), seq);
	if (b.full)
		return -ENOBUFS;
	h = b.buf + NLMSG_HDR;
	h[0] = r->family;
	h[1] = r->dst.len;
	h[4] = r->table < 256 ? (uint8_t)r->table : 0;
	h[5] = r->protocol;
	h[6] = r->scope;
	h[7] = r->type;
	attr_u32(&b, RTA_TABLE, r->table);
	if (r->dst.len)
		attr(&b, RTA_DST, r->dst.addr, addr_len(r->family));
	if (r->oif)
		attr_u32(&b, RTA_OIF, r->oif);
	if (r->metric)
		attr_u32(&b, RTA_PRIORITY, r->metric);
	return finish(&b);
}

int rtnl_dump_msg(uint16_t type, uint8_t family, uint32_t seq, void *buf, size_t cap)
{
	struct builder b = { .buf = buf, .cap = cap };

	begin(&b, type, RTNL_F_REQUEST | RTNL_F_DUMP, seq);
	if (b.full)
		return -ENOBUFS;
	b.buf[NLMSG_HDR] = family;
	return finish(&b);
}

int rtnl_route_get_msg(uint32_t seq, const struct prefix *dst, uint32_t mark, uint32_t oif,
		       void *buf, size_t cap)
{
	struct builder b = { .buf = buf, .cap = cap };

	if (!family_ok(dst->family))
		return -EINVAL;
	begin(&b, RTNL_GETROUTE, RTNL_F_REQUEST, seq);
	if (b.full)
		return -ENOBUFS;
	b.buf[NLMSG_HDR] = dst->family;
	b.buf[NLMSG_HDR + 1] = (uint8_t)(dst->family == AF_INET ? 32 : 128);
	/* RTM_F_LOOKUP_TABLE: the reply names the table that matched (else
	 * "main", whatever it was) */
	put_u32(&b, NLMSG_HDR + 8, RTM_F_LOOKUP_TABLE);
	attr(&b, RTA_DST, dst->addr, addr_len(dst->family));
	if (mark)
		attr_u32(&b, RTA_MARK, mark);
	if (oif)
		attr_u32(&b, RTA_OIF, oif);
	return finish(&b);
}

/* ---- parsing ----------------------------------------------------------- */

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Calls fn for each attribute in p[0..n); -EBADMSG when one does not fit. */
typedef void (*attr_fn)(void *ctx, uint16_t type, const uint8_t *data, size_t len);

static int each_attr(const uint8_t *p, size_t n, attr_fn fn, void *ctx)
{
	size_t off = 0;

	while (off + 4 <= n) {
		uint16_t alen = get_u16(p + off), type = get_u16(p + off + 2) & 0x3fff;

		if (alen < 4 || alen > n - off)
			return -EBADMSG;
		fn(ctx, type, p + off + 4, alen - 4u);
		off += ALIGN4(alen);
	}
	return 0;
}

static void copy_name(char *dst, size_t cap, const uint8_t *data, size_t len)
{
	size_t n = strnlen((const char *)data, len);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, data, n);
	dst[n] = '\0';
}

struct rule_ctx {
	struct rtnl_rule *r;
	bool bad;
};

static void rule_attr(void *ctx, uint16_t type, const uint8_t *d, size_t n)
{
	struct rule_ctx *c = ctx;
	struct rtnl_rule *r = c->r;
	size_t alen = addr_len(r->family);

	switch (type) {
	case FRA_PRIORITY:
		if (n >= 4)
			r->priority = get_u32(d);
		break;
	case FRA_TABLE:
		if (n >= 4)
			r->table = get_u32(d);
		break;
	case FRA_GOTO:
		if (n >= 4)
			r->goto_prio = get_u32(d);
		break;
	case FRA_SRC:
	case FRA_DST:
		if (n < alen) {
			c->bad = true;
			break;
		}
		prefix_make(type == FRA_SRC ? &r->src : &r->dst, r->family, d,
			    type == FRA_SRC ? r->src.len : r->dst.len);
		break;
	case FRA_IIFNAME:
		copy_name(r->iif, sizeof(r->iif), d, n);
		break;
	case FRA_OIFNAME:
		copy_name(r->oif, sizeof(r->oif), d, n);
		break;
	case FRA_FWMARK:
		if (n >= 4) {
			r->has_fwmark = true;
			r->fwmark = get_u32(d);
		}
		break;
	case FRA_FWMASK:
		if (n >= 4)
			r->fwmask = get_u32(d);
		break;
	case FRA_SUPPRESS_PREFIXLEN:
		if (n >= 4 && get_u32(d) != 0xffffffffu) {
			r->has_suppress = true;
			r->suppress_prefixlen = (uint8_t)get_u32(d);
		}
		break;
	case FRA_SUPPRESS_IFGROUP:
		if (n >= 4 && get_u32(d) != 0xffffffffu)
			r->unknown = true;
		break;
	case FRA_IP_PROTO:
		if (n >= 1)
			r->ip_proto = d[0];
		break;
	case FRA_SPORT_RANGE:
	case FRA_DPORT_RANGE:
		if (n >= 4) {
			uint16_t *pr = type == FRA_SPORT_RANGE ? r->sport : r->dport;

			pr[0] = get_u16(d);
			pr[1] = get_u16(d + 2);
		}
		break;
	case FRA_UID_RANGE:
		if (n >= 8) {
			r->has_uid = true;
			r->uid[0] = get_u32(d);
			r->uid[1] = get_u32(d + 4);
		}
		break;
	case FRA_PROTOCOL:
	case FRA_PAD:
		break;
	default:
		r->unknown = true;
		break;
	}
}

struct route_ctx {
	struct rtnl_route *r;
	bool bad;
};

static void route_attr(void *ctx, uint16_t type, const uint8_t *d, size_t n)
{
	struct route_ctx *c = ctx;
	struct rtnl_route *r = c->r;

	switch (type) {
	case RTA_TABLE:
		if (n >= 4)
			r->table = get_u32(d);
		break;
	case RTA_DST:
		if (n < addr_len(r->family)) {
			c->bad = true;
			break;
		}
		prefix_make(&r->dst, r->family, d, r->dst.len);
		break;
	case RTA_OIF:
		if (n >= 4)
			r->oif = get_u32(d);
		break;
	case RTA_PRIORITY:
		if (n >= 4)
			r->metric = get_u32(d);
		break;
	default:
		break;
	}
}

static int parse_rule(const uint8_t *p, size_t n, struct rtnl_rule *r)
{
	struct rule_ctx c = { .r = r };

	if (n < FAM_HDR || !family_ok(p[0]) || p[1] > (p[0] == AF_INET ? 32 : 128) ||
	    p[2] > (p[0] == AF_INET ? 32 : 128))
		return -EBADMSG;
	r->family = p[0];
	r->dst.family = r->src.family = p[0];
	r->dst.len = p[1];
	r->src.len = p[2];
	r->table = p[4];
	r->action = p[7];
	r->invert = (get_u32(p + 8) & FIB_RULE_INVERT) != 0;
	if (each_attr(p + FAM_HDR, n - FAM_HDR, rule_attr, &c) < 0 || c.bad)
		return -EBADMSG;
	/* A selector whose address never came is "all". */
	prefix_make(&r->src, r->family, r->src.addr, r->src.len);
	prefix_make(&r->dst, r->family, r->dst.addr, r->dst.len);
	return 0;
}

static int parse_route(const uint8_t *p, size_t n, struct rtnl_route *r)
{
	struct route_ctx c = { .r = r };

	if (n < FAM_HDR || !family_ok(p[0]) || p[1] > (p[0] == AF_INET ? 32 : 128))
		return -EBADMSG;
	r->family = p[0];
	r->dst.family = p[0];
	r->dst.len = p[1];
	r->table = p[4];
	r->protocol = p[5];
	r->scope = p[6];
	r->type = p[7];
	if (each_attr(p + FAM_HDR, n - FAM_HDR, route_attr, &c) < 0 || c.bad)
		return -EBADMSG;
	prefix_make(&r->dst, r->family, r->dst.addr, r->dst.len);
	return 0;
}

static void ext_ack_attr(void *ctx, uint16_t type, const uint8_t *d, size_t n)
{
	struct rtnl_reply *out = ctx;

	if (type == NLMSGERR_ATTR_MSG)
		copy_name(out->ext_msg, sizeof(out->ext_msg), d, n);
}

/* NLMSG_ERROR: the status, and the extended-ACK text when there is one. */
static int parse_error(const uint8_t *p, size_t n, uint16_t flags, struct rtnl_reply *out)
{
	size_t off = 4 + NLMSG_HDR;
	int32_t e;

	if (n < 4)
		return -EBADMSG;
	memcpy(&e, p, 4);
	out->error = e > 0 ? -e : e;
	if (!(flags & NLM_F_ACK_TLVS) || n < off)
		return 0;
	/* Without NLM_F_CAPPED the request itself is echoed first. */
	if (!(flags & NLM_F_CAPPED)) {
		uint32_t echoed = get_u32(p + 4);

		if (echoed < NLMSG_HDR || echoed > n - 4)
			return 0;
		off = 4 + ALIGN4(echoed);
	}
	if (off < n)
		(void)each_attr(p + off, n - off, ext_ack_attr, out);
	return 0;
}

int rtnl_parse_next(const void *buf, size_t len, size_t *off, struct rtnl_reply *out)
{
	const uint8_t *p = (const uint8_t *)buf + *off;
	size_t left = len > *off ? len - *off : 0;
	uint32_t mlen;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (left < NLMSG_HDR)
		return 0;
	mlen = get_u32(p);
	if (mlen < NLMSG_HDR || mlen > left)
		return -EBADMSG;
	out->type = get_u16(p + 4);
	out->flags = get_u16(p + 6);
	out->seq = get_u32(p + 8);
	switch (out->type) {
	case RTNL_NLMSG_ERROR:
		out->kind = RTNL_REPLY_ACK;
		r = parse_error(p + NLMSG_HDR, mlen - NLMSG_HDR, out->flags, out);
		break;
	case RTNL_NLMSG_DONE:
		out->kind = RTNL_REPLY_DONE;
		if (mlen >= NLMSG_HDR + 4) {
			int32_t e;

			memcpy(&e, p + NLMSG_HDR, 4);
			out->error = e > 0 ? -e : e;
		}
		break;
	case RTNL_NEWRULE:
		out->kind = RTNL_REPLY_RULE;
		r = parse_rule(p + NLMSG_HDR, mlen - NLMSG_HDR, &out->rule);
		break;
	case RTNL_NEWROUTE:
		out->kind = RTNL_REPLY_ROUTE;
		r = parse_route(p + NLMSG_HDR, mlen - NLMSG_HDR, &out->route);
		break;
	default:
		out->kind = RTNL_REPLY_OTHER;
		break;
	}
	if (r < 0)
		return r;
	*off += ALIGN4(mlen) <= left ? ALIGN4(mlen) : left;
	return 1;
}
