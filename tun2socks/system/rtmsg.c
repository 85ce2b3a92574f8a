/* rtmsg: macOS routing-socket messages (rtmsg.h). Offsets of the headers:
 *   rt_msghdr   0 msglen, 2 version, 3 type, 4 index, 8 flags, 12 addrs,
 *               16 pid, 20 seq, 24 errno, 28 use, 32 inits, 36 metrics
 *   ifa/if_msghdr 0 msglen, 2 version, 3 type, 4 addrs, 8 flags, 12 index
 *   sockaddr_in  0 len, 1 family, 2 port, 4 addr[4], 8 zero[8]
 *   sockaddr_in6 0 len, 1 family, 2 port, 4 flowinfo, 8 addr[16], 24 scope
 *   sockaddr_dl  0 len, 1 family, 2 index (u16), 4 type, 5 nlen, 6 alen,
 *                7 slen, 8 data[12] (the name, then the link address)
 */
#include "tun2socks/system/rtmsg.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* Darwin's ROUNDUP32 (xnu bsd/net/rtsock.c): a multiple of 4, at least 4. */
#define SA_ROUNDUP(n) ((n) > 0 ? (1u + (((n)-1u) | 3u)) : 4u)

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, int32_t v)
{
	memcpy(p, &v, 4);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static int32_t get32(const uint8_t *p)
{
	int32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Appends one sockaddr of len bytes (already laid out in sa) padded to
 * ROUNDUP32. Returns the new offset or -ENOBUFS. */
static int append_sa(uint8_t *buf, size_t cap, size_t off, const uint8_t *sa, size_t len)
{
	size_t padded = SA_ROUNDUP(len);

	if (off + padded > cap)
		return -ENOBUFS;
	memset(buf + off, 0, padded);
	memcpy(buf + off, sa, len);
	return (int)(off + padded);
}

/* An address (host prefix p's address) as a sockaddr_in / sockaddr_in6. */
static size_t make_sin(uint8_t *sa, int family, const uint8_t *addr)
{
	memset(sa, 0, RTMSG_SIN6_LEN);
	if (family == AF_INET) {
		sa[0] = RTMSG_SIN_LEN;
		sa[1] = RTMSG_AF_INET;
		memcpy(sa + 4, addr, 4);
		return RTMSG_SIN_LEN;
	}
	sa[0] = RTMSG_SIN6_LEN;
	sa[1] = RTMSG_AF_INET6;
	memcpy(sa + 8, addr, 16);
	return RTMSG_SIN6_LEN;
}

/* A netmask of len bits as a full-length sockaddr of family. */
static size_t make_mask(uint8_t *sa, int family, unsigned len)
{
	uint8_t m[16] = { 0 };

	for (unsigned i = 0; i < len; i++)
		m[i / 8] |= (uint8_t)(0x80u >> (i % 8));
	return make_sin(sa, family, m);
}

static size_t make_sdl(uint8_t *sa, uint16_t ifindex)
{
	memset(sa, 0, RTMSG_SDL_LEN);
	sa[0] = RTMSG_SDL_LEN;
	sa[1] = RTMSG_AF_LINK;
	put16(sa + 2, ifindex);
	return RTMSG_SDL_LEN;
}

int rtmsg_build(const struct rtmsg_req *r, void *out, size_t cap)
{
	uint8_t *buf = out, sa[RTMSG_SIN6_LEN];
	int fam = r->dst.family, off = RTMSG_HDR_LEN;
	bool host = r->dst.len == prefix_max_len(fam);
	int32_t flags = RTMSG_F_UP, addrs = RTMSG_A_DST;
	uint16_t index = 0;

	if (fam != AF_INET && fam != AF_INET6)
		return -EINVAL;
	if (r->type != RTMSG_ADD && r->type != RTMSG_DELETE && r->type != RTMSG_GET)
		return -EINVAL;
	if (r->type == RTMSG_ADD) {
		if (r->has_gw && r->gw.family != fam)
			return -EINVAL;
		if (!r->has_gw && (r->ifindex == 0 || r->reject))
			return -EINVAL;
	}
	if (cap < RTMSG_HDR_LEN)
		return -ENOBUFS;
	memset(buf, 0, RTMSG_HDR_LEN);
	/* The sockaddrs in bit order: DST, GATEWAY, NETMASK, IFP. */
	off = append_sa(buf, cap, (size_t)off, sa, make_sin(sa, fam, r->dst.addr));
	if (off < 0)
		return off;
	if (r->type == RTMSG_ADD) {
		addrs |= RTMSG_A_GATEWAY;
		flags |= RTMSG_F_STATIC;
		if (r->has_gw) {
			flags |= RTMSG_F_GATEWAY;
			off = append_sa(buf, cap, (size_t)off, sa, make_sin(sa, fam, r->gw.addr));
		} else {
			off = append_sa(buf, cap, (size_t)off, sa, make_sdl(sa, r->ifindex));
		}
		if (off < 0)
			return off;
		if (r->reject)
			flags |= RTMSG_F_REJECT;
	} else if (r->type == RTMSG_DELETE) {
		flags |= RTMSG_F_STATIC;
	}
	if (host) {
		flags |= RTMSG_F_HOST;
	} else {
		addrs |= RTMSG_A_NETMASK;
		off = append_sa(buf, cap, (size_t)off, sa, make_mask(sa, fam, r->dst.len));
		if (off < 0)
			return off;
	}
	if (r->type == RTMSG_GET) {
		/* An empty link-level address asks for the interface's name
		 * in the reply, as route(8) does. */
		addrs |= RTMSG_A_IFP;
		off = append_sa(buf, cap, (size_t)off, sa, make_sdl(sa, 0));
		if (off < 0)
			return off;
		if (r->scope) {
			flags |= RTMSG_F_IFSCOPE;
			index = r->scope;
		}
	}
	put16(buf + 0, (uint16_t)off);
	buf[2] = RTMSG_VERSION;
	buf[3] = r->type;
	put16(buf + 4, index);
	put32(buf + 8, flags);
	put32(buf + 12, addrs);
	put32(buf + 20, r->seq);
	return off;
}

/* ---- parsing ----------------------------------------------------------------- */

/* The address bytes of a sockaddr of Darwin family dfam (up to its
 * sa_len; the rest zero) into addr. The host family, or 0 if not IP. */
static int sa_addr(const uint8_t *sa, size_t salen, int dfam, uint8_t addr[16])
{
	size_t at, n;

	memset(addr, 0, 16);
	if (dfam == RTMSG_AF_INET) {
		at = 4;
		n = 4;
	} else if (dfam == RTMSG_AF_INET6) {
		at = 8;
		n = 16;
	} else {
		return 0;
	}
	if (salen > at)
		memcpy(addr, sa + at, salen - at < n ? salen - at : n);
	/* A link-local address with its scope in sin6_scope_id rather than
	 * embedded: embedded, the one form we keep and send (route(8) does
	 * the same before it writes). */
	if (dfam == RTMSG_AF_INET6 && salen >= RTMSG_SIN6_LEN && addr[0] == 0xfe &&
	    (addr[1] & 0xc0) == 0x80 && addr[2] == 0 && addr[3] == 0) {
		uint32_t scope;

		memcpy(&scope, sa + 24, 4);
		if (scope <= 0xffff) {
			addr[2] = (uint8_t)(scope >> 8);
			addr[3] = (uint8_t)scope;
		}
	}
	return dfam == RTMSG_AF_INET ? AF_INET : AF_INET6;
}

/* The prefix length of a netmask; -1 when it is not contiguous. */
static int mask_len(const uint8_t *m, unsigned max)
{
	unsigned n = 0;

	while (n < max && (m[n / 8] & (0x80u >> (n % 8))))
		n++;
	for (unsigned i = n; i < max; i++)
		if (m[i / 8] & (0x80u >> (i % 8)))
			return -1;
	return (int)n;
}

/* The sockaddrs of a message (addrs bits) from p[0..len). */
static int parse_addrs(const uint8_t *p, size_t len, int32_t addrs, struct rtmsg_info *out)
{
	const uint8_t *sa[RTMSG_AX_MAX] = { NULL };
	size_t salen[RTMSG_AX_MAX] = { 0 }, off = 0;
	uint8_t a[16];
	int fam;

	for (int i = 0; i < RTMSG_AX_MAX; i++) {
		size_t l;

		if (!(addrs & (1 << i)))
			continue;
		if (off >= len)
			return -EBADMSG;
		l = p[off];
		if (l > len - off)
			return -EBADMSG;
		sa[i] = p + off;
		salen[i] = l;
		off += SA_ROUNDUP(l);
		if (off > len) /* the last one's padding may be cut */
			off = len;
	}
	out->addrs = addrs;
	/* An empty sockaddr (sa_len 0) has no family: a zero address. */
	if (sa[0] && salen[0] >= 2 && (fam = sa_addr(sa[0], salen[0], sa[0][1], a)) != 0) {
		unsigned max = prefix_max_len(fam);
		int ml = (int)max;

		if (sa[2]) {
			uint8_t m[16];

			/* The kernel trims netmasks: sa_len up to the last
			 * non-zero byte, the family not always set. */
			(void)sa_addr(sa[2], salen[2],
				      fam == AF_INET ? RTMSG_AF_INET : RTMSG_AF_INET6, m);
			ml = mask_len(m, max);
			if (ml < 0) {
				out->mask_odd = true;
				ml = (int)max;
			}
		}
		prefix_make(&out->dst, fam, a, (unsigned)ml);
		out->has_dst = true;
	}
	if (sa[1] && salen[1] >= 2) {
		if (sa[1][1] == RTMSG_AF_LINK && salen[1] >= 4) {
			out->gw_ifindex = get16(sa[1] + 2);
		} else if ((fam = sa_addr(sa[1], salen[1], sa[1][1], a)) != 0) {
			prefix_make(&out->gw, fam, a, prefix_max_len(fam));
			out->has_gw = true;
		}
	}
	if (sa[4] && salen[4] >= 8 && sa[4][1] == RTMSG_AF_LINK) {
		size_t nlen = sa[4][5];

		if (8 + nlen > salen[4] || nlen >= sizeof(out->ifname))
			return -EBADMSG;
		memcpy(out->ifname, sa[4] + 8, nlen);
		out->ifname[nlen] = '\0';
	}
	return 0;
}

int rtmsg_parse(const void *buf, size_t len, size_t *off, struct rtmsg_info *out)
{
	const uint8_t *p;
	size_t mlen, hdr;
	int r;

	memset(out, 0, sizeof(*out));
	if (*off >= len)
		return 0;
	p = (const uint8_t *)buf + *off;
	if (len - *off < 4)
		return -EBADMSG;
	mlen = get16(p);
	if (mlen < 4 || mlen > len - *off)
		return -EBADMSG;
	out->version = p[2];
	out->type = p[3];
	*off += mlen;
	if (out->version != RTMSG_VERSION)
		return 1;
	switch (out->type) {
	case RTMSG_ADD:
	case RTMSG_DELETE:
	case RTMSG_CHANGE:
	case RTMSG_GET:
	case RTMSG_LOSING:
	case RTMSG_REDIRECT:
	case RTMSG_MISS:
		hdr = RTMSG_HDR_LEN;
		if (mlen < hdr)
			return -EBADMSG;
		out->index = get16(p + 4);
		out->flags = get32(p + 8);
		out->pid = get32(p + 16);
		out->seq = get32(p + 20);
		out->err = get32(p + 24);
		r = parse_addrs(p + hdr, mlen - hdr, get32(p + 12), out);
		break;
	case RTMSG_NEWADDR:
	case RTMSG_DELADDR:
	case RTMSG_IFINFO:
		hdr = out->type == RTMSG_IFINFO ? RTMSG_IF_LEN : RTMSG_IFA_LEN;
		if (mlen < hdr)
			return -EBADMSG;
		out->flags = get32(p + 8);
		out->index = get16(p + 12);
		/* the addresses of an interface message are not ours to read */
		out->addrs = get32(p + 4);
		r = 0;
		break;
	default:
		return 1;
	}
	if (r < 0)
		return r;
	out->known = true;
	return 1;
}

bool rtmsg_is_route_event(const struct rtmsg_info *m)
{
	if (!m->known)
		return false;
	switch (m->type) {
	case RTMSG_ADD:
	case RTMSG_DELETE:
	case RTMSG_CHANGE:
	case RTMSG_NEWADDR:
	case RTMSG_DELADDR:
	case RTMSG_IFINFO:
		return true;
	default:
		return false;
	}
}
