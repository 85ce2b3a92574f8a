/* Linux TUN: /dev/net/tun with IFF_TUN | IFF_NO_PI, configured over
 * RTNETLINK (no `ip` subprocess). The device is not persistent, so closing
 * the fd removes it together with its addresses and routes.
 *
 * Offload (IFF_VNET_HDR): every packet carries a struct virtio_net_hdr in
 * front. With TUN_F_CSUM | TUN_F_TSO4/6 the kernel skips checksumming what
 * it hands us and sends TCP data as one super-packet of up to 64 KiB per
 * burst instead of one read per MTU-sized segment; in the other direction
 * VIRTIO_NET_HDR_F_NEEDS_CSUM lets the receiving kernel treat the checksum
 * as done (local delivery) or finish it (forwarding), so neither lwIP nor
 * the kernel sums the payload, and runs of TCP segments go out as one GSO
 * super-packet (tun_write_batch, tun_gso.h) that the kernel delivers whole
 * or splits when forwarding. The header's fields are in host byte order
 * (the legacy virtio convention, which a TUN keeps unless TUNSETVNETLE/BE
 * was used). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* SOCK_CLOEXEC, strnlen, whatever the build's flags */
#endif

#include "tun2socks/tun/tun_impl.h"

#include "tun2socks/base/log.h"
#include "tun2socks/tun/tun_csum.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* The offload header is what struct tun's hdr_len counts, and a write
 * patches a copy of the packet's headers in tun_writev's scratch. */
_Static_assert(sizeof(struct virtio_net_hdr) <= TUN_HDR_MAX, "TUN_HDR_MAX below virtio_net_hdr");
_Static_assert(TUN_CSUM_HDR_MAX <= TUN_HDR_SCRATCH, "TUN_HDR_SCRATCH below TUN_CSUM_HDR_MAX");

/* An RTNETLINK request with room for a few attributes. */
struct nl_req {
	struct nlmsghdr nh;
	union {
		struct ifinfomsg ifi;
		struct ifaddrmsg ifa;
		struct rtmsg rtm;
	};
	char attrs[128];
};

/* The kernel always answers an NLM_F_ACK request; the timeout only guards
 * against a wedged netlink socket turning startup into a hang. */
#define NL_TIMEOUT_SEC 5

static int nl_open(int *out)
{
	struct timeval tv = { .tv_sec = NL_TIMEOUT_SEC };
	int one = 1;
	int fd;

	*out = -1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	/* Best effort: extended ACKs carry the kernel's own explanation
	 * ("IPv6 is disabled on this device"); capped ACKs keep replies small.
	 * Kernels without them still ACK, just more tersely. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static int nl_attr_put(struct nl_req *req, unsigned short type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(*req))
		return -ENOBUFS;
	rta = (struct rtattr *)((char *)req + off);
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
	return 0;
}

/* Copies the NLMSGERR_ATTR_MSG text of an extended ACK, if any, into out. */
static void nl_ext_ack_msg(const struct nlmsghdr *m, char *out, size_t outlen)
{
	const struct nlmsgerr *e = NLMSG_DATA(m);
	const char *end = (const char *)m + m->nlmsg_len;
	const char *p;
	size_t off = sizeof(*e);

	out[0] = '\0';
	if (!(m->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* Uncapped ACKs echo the whole request before the TLVs. */
	if (!(m->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	}
	p = (const char *)NLMSG_DATA(m) + NLMSG_ALIGN(off);
	while (p + NLA_HDRLEN <= end) {
		const struct nlattr *a = (const struct nlattr *)p;
		size_t alen = a->nla_len;

		if (alen < NLA_HDRLEN || p + alen > end)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			size_t slen = strnlen(p + NLA_HDRLEN, alen - NLA_HDRLEN);

			if (slen >= outlen)
				slen = outlen - 1;
			memcpy(out, p + NLA_HDRLEN, slen);
			out[slen] = '\0';
			return;
		}
		p += NLA_ALIGN(alen);
	}
}

/* Sends one request and waits for its ACK. Returns 0 or the kernel's
 * -errno; on failure err says what was attempted, why, and the kernel's
 * extended-ACK text when it gave one. For RTM_GETROUTE, rtm_out (else
 * NULL) receives the answer's header. */
static int nl_request(int nlfd, struct nl_req *req, uint32_t seq, struct rtmsg *rtm_out,
		      const char *what, char *err, size_t errlen)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr nh;
		char buf[8192];
	} resp;
	char kmsg[160];
	int rc;

	req->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nh.nlmsg_seq = seq;
	if (sendto(nlfd, req, req->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	    0) {
		rc = -errno;
		tun_set_err(err, errlen, "%s: netlink send: %s", what, strerror(-rc));
		return rc;
	}
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		struct nlmsghdr *m;
		size_t off;
		ssize_t n;

		n = recvfrom(nlfd, &resp, sizeof(resp), 0, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
			tun_set_err(err, errlen, "%s: netlink receive: %s", what, strerror(-rc));
			return rc;
		}
		/* Only the kernel (port 0) may answer for itself. */
		if (fromlen < sizeof(from) || from.nl_pid != 0)
			continue;
		for (off = 0; off + NLMSG_HDRLEN <= (size_t)n; off += NLMSG_ALIGN(m->nlmsg_len)) {
			const struct nlmsgerr *e;

			m = (struct nlmsghdr *)(resp.buf + off);
			if (m->nlmsg_len < NLMSG_HDRLEN || m->nlmsg_len > (size_t)n - off)
				break;
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == RTM_NEWROUTE && rtm_out &&
			    m->nlmsg_len >= NLMSG_LENGTH(sizeof(*rtm_out)))
				memcpy(rtm_out, NLMSG_DATA(m), sizeof(*rtm_out));
			if (m->nlmsg_type != NLMSG_ERROR)
				continue;
			if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
				tun_set_err(err, errlen, "%s: truncated netlink ACK", what);
				return -EPROTO;
			}
			e = NLMSG_DATA(m);
			if (e->error == 0)
				return 0;
			rc = e->error < 0 ? e->error : -e->error;
			nl_ext_ack_msg(m, kmsg, sizeof(kmsg));
			tun_set_err(err, errlen, "%s: %s%s%s", what, strerror(-rc),
				    kmsg[0] ? ": " : "", kmsg);
			return rc;
		}
	}
}

static int link_request(int nlfd, uint32_t seq, struct nl_req *req, int ifindex, const char *what,
			char *err, size_t errlen)
{
	req->nh.nlmsg_type = RTM_NEWLINK;
	req->ifi.ifi_family = AF_UNSPEC;
	req->ifi.ifi_index = ifindex;
	return nl_request(nlfd, req, seq, NULL, what, err, errlen);
}

static int link_set_mtu(int nlfd, uint32_t seq, int ifindex, const char *name, uint32_t mtu,
			char *err, size_t errlen)
{
	struct nl_req req;
	char what[64];
	int rc;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	rc = nl_attr_put(&req, IFLA_MTU, &mtu, sizeof(mtu));
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "set MTU %u on %s", mtu, name);
	return link_request(nlfd, seq, &req, ifindex, what, err, errlen);
}

static int link_set_up(int nlfd, uint32_t seq, int ifindex, const char *name, char *err,
		       size_t errlen)
{
	struct nl_req req;
	char what[64];

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.ifi.ifi_flags = IFF_UP;
	req.ifi.ifi_change = IFF_UP;
	snprintf(what, sizeof(what), "bring %s up", name);
	return link_request(nlfd, seq, &req, ifindex, what, err, errlen);
}

static int addr_add(int nlfd, uint32_t seq, int ifindex, const char *name, int family,
		    const uint8_t *addr, uint8_t prefix, char *err, size_t errlen)
{
	size_t alen = family == AF_INET ? 4 : 16;
	char text[INET6_ADDRSTRLEN];
	char what[128];
	struct nl_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	/* REPLACE makes a restart on a persistent device idempotent instead
	 * of failing with EEXIST. */
	req.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	req.ifa.ifa_family = (unsigned char)family;
	req.ifa.ifa_prefixlen = prefix;
	req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	req.ifa.ifa_index = (unsigned)ifindex;
	/* No DAD: nothing else is on this link, and a tentative address
	 * could not be bound for the first second or so. */
	if (family == AF_INET6)
		req.ifa.ifa_flags = IFA_F_NODAD;
	rc = nl_attr_put(&req, IFA_LOCAL, addr, alen);
	if (!rc)
		rc = nl_attr_put(&req, IFA_ADDRESS, addr, alen);
	if (rc)
		return rc;
	inet_ntop(family, addr, text, sizeof(text));
	snprintf(what, sizeof(what), "add address %s/%u to %s", text, prefix, name);
	rc = nl_request(nlfd, &req, seq, NULL, what, err, errlen);
	/* EACCES here is not about privileges (those fail with EPERM) but
	 * the disable_ipv6 sysctl; keep the caller from blaming root. */
	if (rc == -EACCES && family == AF_INET6) {
		tun_set_err(err, errlen,
			    "%s: IPv6 is disabled on this interface "
			    "(net.ipv6.conf.*.disable_ipv6=1)",
			    what);
		rc = -EAFNOSUPPORT;
	}
	return rc;
}

/* IPv6 finishes even a NODAD address in a deferred work item, and only
 * then adds its local route: until that runs the address can be bound but
 * packets to it would be forwarded (and dropped). Waits until the kernel
 * routes the address locally, so the device is usable on return. */
static void addr6_wait_local(int nlfd, uint32_t *seq, const char *name, const uint8_t addr[16])
{
	const struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };
	int i;

	for (i = 0; i < 500; i++) {
		struct rtmsg rtm = { .rtm_type = RTN_UNSPEC };
		struct nl_req req;

		memset(&req, 0, sizeof(req));
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
		req.nh.nlmsg_type = RTM_GETROUTE;
		req.rtm.rtm_family = AF_INET6;
		req.rtm.rtm_dst_len = 128;
		if (nl_attr_put(&req, RTA_DST, addr, 16))
			return;
		/* Failures (no route yet: -ENETUNREACH) just mean "not
		 * yet"; the errors go nowhere. */
		if (nl_request(nlfd, &req, (*seq)++, &rtm, "", NULL, 0) == 0 &&
		    rtm.rtm_type == RTN_LOCAL)
			return;
		nanosleep(&pause, NULL);
	}
	log_warn("tun %s: IPv6 address still not local after 1 s", name);
}

/* A TUN we created with IFF_VNET_HDR: settles the header size and asks for
 * checksum and TCP segmentation offload, settling for less when the kernel
 * refuses. The header stays either way (IFF_VNET_HDR cannot be dropped from
 * an attached fd); without offload it just carries zeros. */
static void vnet_setup(struct tun *t)
{
	static const unsigned int tries[] = {
		TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		TUN_F_CSUM, /* TSO needs CSUM, not the other way round */
	};
	int sz = (int)sizeof(struct virtio_net_hdr);
	size_t i;

	/* The size is the device's; a persistent one may have been set
	 * otherwise. Before TUNSETVNETHDRSZ existed (2.6.36) it was fixed
	 * at the default, sizeof(struct virtio_net_hdr). */
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) < 0 &&
	    (ioctl(t->fd, TUNGETVNETHDRSZ, &sz) < 0 || sz < (int)sizeof(struct virtio_net_hdr) ||
	     sz > TUN_HDR_MAX))
		sz = (int)sizeof(struct virtio_net_hdr);
	t->hdr_len = (uint16_t)sz;
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0) {
			t->csum_offload = true;
			t->gso = (tries[i] & TUN_F_TSO4) != 0;
			/* What we write is not bound by these flags (they
			 * say what the kernel may hand us): a kernel that
			 * completes our checksums splits our super-packets
			 * too (virtio_net_hdr_to_skb). */
			t->gso_out = true;
			return;
		}
	}
	log_info("tun %s: TUNSETOFFLOAD refused (%s): checksums and "
		 "segmentation stay in software",
		 t->name, strerror(errno));
}

int tun_platform_default_framing(void)
{
	return TUN_FRAMING_RAW;
}

int tun_platform_create(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	const char *want = cfg->name && cfg->name[0] ? cfg->name : "tun%d";
	struct ifreq ifr;
	uint32_t seq = 1;
	int nlfd = -1;
	int ifindex;
	int rc;

	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		if (rc == -ENOENT || rc == -ENODEV || rc == -ENXIO)
			tun_set_err(err, errlen,
				    "open /dev/net/tun: %s (is the tun module "
				    "loaded? in a container, pass the device "
				    "in)",
				    strerror(-rc));
		else
			tun_set_err(err, errlen, "open /dev/net/tun: %s", strerror(-rc));
		goto out;
	}

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	/* The header goes where AF4 framing would: never both. */
	if (cfg->offload >= 0 && t->framing == TUN_FRAMING_RAW)
		ifr.ifr_flags |= IFF_VNET_HDR;
	memcpy(ifr.ifr_name, want, strlen(want));
	rc = ioctl(t->fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	if (rc == -EINVAL && (ifr.ifr_flags & IFF_VNET_HDR)) {
		/* A kernel that knows no IFF_VNET_HDR (pre-2.6.27) rejects
		 * the flag: carry on without offload. */
		ifr.ifr_flags &= (short)~IFF_VNET_HDR;
		rc = ioctl(t->fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	}
	if (rc) {
		if (rc == -EBUSY) {
			tun_set_err(err, errlen,
				    "TUN name %s busy: another process (or "
				    "descriptor) has it open",
				    want);
		} else if (rc == -EINVAL && if_nametoindex(want)) {
			/* The kernel says EINVAL for a name taken by another
			 * kind of device (or a multi-queue TUN). */
			tun_set_err(err, errlen,
				    "interface %s exists and is not a "
				    "single-queue TUN device",
				    want);
			rc = -EEXIST;
		} else {
			tun_set_err(err, errlen, "TUNSETIFF %s: %s", want, strerror(-rc));
		}
		goto out;
	}
	memcpy(t->name, ifr.ifr_name, sizeof(t->name));
	t->name[sizeof(t->name) - 1] = '\0';
	if (ifr.ifr_flags & IFF_VNET_HDR)
		vnet_setup(t);
	else if (cfg->offload >= 0 && t->framing == TUN_FRAMING_RAW)
		log_info("tun %s: no IFF_VNET_HDR: checksums and segmentation "
			 "stay in software",
			 t->name);
	if (ioctl(t->fd, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_PERSIST))
		log_warn("tun %s: attached to a persistent device; it keeps "
			 "its addresses after exit",
			 t->name);

	ifindex = (int)if_nametoindex(t->name);
	if (!ifindex) {
		rc = -errno;
		tun_set_err(err, errlen, "if_nametoindex %s: %s", t->name, strerror(-rc));
		goto out;
	}
	rc = nl_open(&nlfd);
	if (rc) {
		tun_set_err(err, errlen, "netlink socket: %s", strerror(-rc));
		goto out;
	}
	/* MTU before up: the kernel only enables IPv6 on the link if the MTU
	 * is already >= 1280 when it comes up. Addresses after up so their
	 * prefix routes are installed right away. */
	rc = link_set_mtu(nlfd, seq++, ifindex, t->name, cfg->mtu, err, errlen);
	if (rc)
		goto out;
	rc = link_set_up(nlfd, seq++, ifindex, t->name, err, errlen);
	if (rc)
		goto out;
	if (cfg->has_addr4) {
		rc = addr_add(nlfd, seq++, ifindex, t->name, AF_INET, cfg->addr4, cfg->prefix4, err,
			      errlen);
		if (rc)
			goto out;
	}
	if (cfg->has_addr6) {
		rc = addr_add(nlfd, seq++, ifindex, t->name, AF_INET6, cfg->addr6, cfg->prefix6,
			      err, errlen);
		if (rc)
			goto out;
		addr6_wait_local(nlfd, &seq, t->name, cfg->addr6);
	}
	log_debug("tun %s: created, ifindex %d, mtu %u, offload %s%s", t->name, ifindex, cfg->mtu,
		  t->gso            ? "csum+tso"
		  : t->csum_offload ? "csum"
				    : "off",
		  t->gso_out ? ", gso writes" : "");
out:
	if (nlfd >= 0)
		close(nlfd);
	return rc;
}

/* A handed-over TUN opened with IFF_VNET_HDR: its packets carry the header
 * whatever we want, so it is always parsed. Its owner may have enabled
 * segmentation offload, so reads are sized for super-packets; offload is
 * only (re)negotiated when the config asks for it. */
static int vnet_adopt(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	int sz = (int)sizeof(struct virtio_net_hdr);

	if (t->framing != TUN_FRAMING_RAW) {
		tun_set_err(err, errlen,
			    "--tun-fd %d: a TUN with IFF_VNET_HDR carries "
			    "bare IP packets, not AF4 framing",
			    cfg->fd);
		return -EINVAL;
	}
	if (ioctl(cfg->fd, TUNGETVNETHDRSZ, &sz) < 0)
		sz = (int)sizeof(struct virtio_net_hdr);
	if (sz < (int)sizeof(struct virtio_net_hdr) || sz > TUN_HDR_MAX) {
		tun_set_err(err, errlen,
			    "--tun-fd %d: IFF_VNET_HDR header of %d bytes "
			    "unsupported",
			    cfg->fd, sz);
		return -EINVAL;
	}
	t->hdr_len = (uint16_t)sz;
	t->gso = true;
	if (cfg->offload > 0) {
		unsigned int f = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;

		if (ioctl(cfg->fd, TUNSETOFFLOAD, (unsigned long)f) == 0)
			t->csum_offload = t->gso_out = true;
		else
			log_info("--tun-fd %d: TUNSETOFFLOAD refused (%s): no "
				 "offload",
				 cfg->fd, strerror(errno));
	}
	return 0;
}

/* --tun-fd: the descriptor may be a TUN someone else configured or any
 * packet-preserving descriptor (a SOCK_SEQPACKET pair, a utun socket
 * forwarded from elsewhere); only a TUN has a name to tell. */
int tun_platform_adopt(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(cfg->fd, TUNGETIFF, &ifr) == 0) {
		if (ifr.ifr_flags & IFF_TAP) {
			tun_set_err(err, errlen,
				    "--tun-fd %d is a TAP device (Ethernet "
				    "frames); need TUN",
				    cfg->fd);
			return -EINVAL;
		}
		/* Whether it has packet-info headers (no IFF_NO_PI) cannot be
		 * told: TUNGETIFF reports IFF_NOFILTER in the same bit. */
		memcpy(t->name, ifr.ifr_name, sizeof(t->name));
		t->name[sizeof(t->name) - 1] = '\0';
		if (ifr.ifr_flags & IFF_VNET_HDR) {
			int rc = vnet_adopt(t, cfg, err, errlen);

			if (rc)
				return rc;
		} else if (cfg->offload > 0) {
			log_info("--tun-fd %d: opened without IFF_VNET_HDR, no "
				 "offload possible",
				 cfg->fd);
		}
	}
	return 0;
}

/* The offload header of a packet read. The checksum state needs nothing:
 * NEEDS_CSUM only says the TCP/UDP checksum is not filled in, and the
 * stack never verifies one. A TCP super-packet is passed on as the one
 * large segment it is; anything else segmented (UDP fragmentation or
 * segmentation, which we never ask for) would have to be split first, so
 * it is refused. Returns the packet length or -EPROTO. */
ssize_t tun_platform_hdr_in(const struct tun *t, const uint8_t *hdr, uint8_t *pkt, size_t len)
{
	struct virtio_net_hdr h;
	unsigned int version = len ? pkt[0] >> 4 : 0;

	(void)t;
	memcpy(&h, hdr, sizeof(h));
	/* ECN only marks that the super-packet carries CWR, which is just
	 * as true of the single segment it becomes here. */
	switch (h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return (ssize_t)len;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (version != 4)
			return -EPROTO;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (version != 6)
			return -EPROTO;
		break;
	default: /* VIRTIO_NET_HDR_GSO_UDP, _UDP_L4, unknown */
		return -EPROTO;
	}
	/* The kernel writes the super-packet's full length into the IP
	 * header (a 64 KiB GSO limit keeps it within the field); make sure,
	 * since lwIP trims the packet to what the header says. */
	if (tun_csum_fix_len(pkt, len))
		return -EPROTO;
	return (ssize_t)len;
}

/* Copies the first want bytes of the packet (or all, if shorter) into out;
 * returns how many. */
static size_t iov_gather(const struct iovec *iov, int iovcnt, uint8_t *out, size_t want)
{
	size_t got = 0;
	int i;

	for (i = 0; i < iovcnt && got < want; i++) {
		size_t k = iov[i].iov_len;

		if (k > want - got)
			k = want - got;
		if (k) /* an empty piece may have a NULL base */
			memcpy(out + got, iov[i].iov_base, k);
		got += k;
	}
	return got;
}

/* v[0] is left for the offload header. For a TCP/UDP packet whose
 * checksum the kernel can complete, v[1] becomes a copy of its headers
 * carrying the pseudo-header sum (the caller's buffers are const, and lwIP
 * may not even have zeroed the field) and the rest of iov follows from
 * there; otherwise iov follows unchanged. Returns the number of entries in
 * v. */
static int vnet_out(const struct tun *t, const struct iovec *iov, int iovcnt, size_t total,
		    struct virtio_net_hdr *vh, uint8_t hbuf[TUN_CSUM_HDR_MAX], struct iovec *v)
{
	struct tun_csum_partial cp;
	size_t have, need, skip;
	int i, cnt = 1;

	if (t->csum_offload) {
		have = iov_gather(iov, iovcnt, hbuf, TUN_CSUM_HDR_MAX);
		if (tun_csum_partial(hbuf, have, total, &cp) == 0) {
			need = (size_t)cp.start + cp.offset + 2;
			memcpy(hbuf + need - 2, cp.pseudo, 2);
			vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			vh->csum_start = cp.start;
			vh->csum_offset = cp.offset;
			/* How much the kernel puts in the skb's linear part:
			 * the headers, so it need not pull them later. */
			vh->hdr_len = cp.hdr_len;
			v[cnt].iov_base = hbuf;
			v[cnt++].iov_len = need;
			skip = need;
			for (i = 0; i < iovcnt; i++) {
				if (skip >= iov[i].iov_len) {
					skip -= iov[i].iov_len;
					continue;
				}
				v[cnt].iov_base = (uint8_t *)iov[i].iov_base + skip;
				v[cnt++].iov_len = iov[i].iov_len - skip;
				skip = 0;
			}
			return cnt;
		}
	}
	memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
	return iovcnt + 1;
}

int tun_platform_hdr_out(const struct tun *t, const struct iovec *iov, int iovcnt, size_t total,
			 uint8_t hdr[TUN_HDR_MAX], uint8_t scratch[TUN_HDR_SCRATCH],
			 struct iovec *v)
{
	struct virtio_net_hdr vh;
	int cnt;

	memset(&vh, 0, sizeof(vh)); /* GSO_NONE, checksum complete */
	cnt = vnet_out(t, iov, iovcnt, total, &vh, scratch, v);
	/* Beyond struct virtio_net_hdr (a larger hdr_len), zeros. */
	memset(hdr, 0, t->hdr_len);
	memcpy(hdr, &vh, sizeof(vh));
	return cnt;
}

void tun_platform_gso_hdr(const struct tun *t, const struct tun_gso_meta *m,
			  uint8_t hdr[TUN_HDR_MAX])
{
	struct virtio_net_hdr vh;

	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type =
		m->type == TUN_GSO_TCPV6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh.hdr_len = m->hdr_len;
	vh.gso_size = m->gso_size;
	vh.csum_start = m->csum_start;
	vh.csum_offset = m->csum_offset;
	memset(hdr, 0, t->hdr_len);
	memcpy(hdr, &vh, sizeof(vh));
}
