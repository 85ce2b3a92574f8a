/* macOS utun through Apple's kernel-control API: a PF_SYSTEM socket
 * connected to "com.apple.net.utun_control" is the device, and closing it
 * destroys the interface with its addresses and routes. Every packet on the
 * socket carries a 4-byte address family header (tun_frame.h). Routes
 * beyond the address's own are the route module's business. */

/* The BSD parts of the system headers (sa_len, sockaddr_ctl, ifaliasreq)
 * hide under a strict POSIX feature level. */
#define _DARWIN_C_SOURCE 1

#include "tun2socks/tun/tun_impl.h"

#include "tun2socks/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/kern_control.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/sys_domain.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_utun.h>
#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>

#ifndef ND6_INFINITE_LIFETIME
#define ND6_INFINITE_LIFETIME 0xffffffffu
#endif

/* "utunN" asks for control unit N + 1; unit 0 lets the kernel pick. No
 * other name can be created on macOS. */
static int utun_unit(const char *name, uint32_t *unit)
{
	unsigned long n = 0;
	const char *p;

	*unit = 0;
	if (!name || !name[0])
		return 0;
	if (strncmp(name, "utun", 4) != 0 || !name[4])
		return -EINVAL;
	for (p = name + 4; *p; p++) {
		if (*p < '0' || *p > '9' || n > 100000)
			return -EINVAL;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	*unit = (uint32_t)n + 1;
	return 0;
}

/* One ioctl on a throwaway socket of the given family: interface ioctls
 * need some socket, and IPv6 address ones an AF_INET6 one. */
static int if_ioctl(int family, unsigned long req, void *arg)
{
	int s = socket(family, SOCK_DGRAM, 0);
	int rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, arg) < 0)
		rc = -errno;
	close(s);
	return rc;
}

static int set_mtu(const char *name, uint32_t mtu, char *err, size_t errlen)
{
	struct ifreq ifr;
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	ifr.ifr_mtu = (int)mtu;
	rc = if_ioctl(AF_INET, SIOCSIFMTU, &ifr);
	if (rc)
		tun_set_err(err, errlen, "set MTU %u on %s (SIOCSIFMTU): %s", mtu, name,
			    strerror(-rc));
	return rc;
}

static int set_up(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int rc;

	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	rc = if_ioctl(AF_INET, SIOCGIFFLAGS, &ifr);
	if (!rc) {
		ifr.ifr_flags |= IFF_UP;
		rc = if_ioctl(AF_INET, SIOCSIFFLAGS, &ifr);
	}
	if (rc)
		tun_set_err(err, errlen, "bring %s up (SIOCSIFFLAGS): %s", name, strerror(-rc));
	return rc;
}

/* utun is point-to-point: the destination is our own address, which is
 * what makes the kernel accept the address without a real peer. */
static int add_addr4(const char *name, const uint8_t addr[4], uint8_t prefix, char *err,
		     size_t errlen)
{
	struct ifaliasreq ifra;
	struct sockaddr_in sin;
	uint32_t mask = prefix ? 0xffffffffu << (32 - prefix) : 0;
	int rc;

	memset(&ifra, 0, sizeof(ifra));
	strlcpy(ifra.ifra_name, name, sizeof(ifra.ifra_name));
	memset(&sin, 0, sizeof(sin));
	sin.sin_len = sizeof(sin);
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, addr, 4);
	memcpy(&ifra.ifra_addr, &sin, sizeof(sin));
	memcpy(&ifra.ifra_broadaddr, &sin, sizeof(sin));
	sin.sin_addr.s_addr = htonl(mask);
	memcpy(&ifra.ifra_mask, &sin, sizeof(sin));
	rc = if_ioctl(AF_INET, SIOCAIFADDR, &ifra);
	if (rc)
		tun_set_err(err, errlen,
			    "add address %u.%u.%u.%u/%u to %s "
			    "(SIOCAIFADDR): %s",
			    addr[0], addr[1], addr[2], addr[3], prefix, name, strerror(-rc));
	return rc;
}

static int add_addr6(const char *name, const uint8_t addr[16], uint8_t prefix, char *err,
		     size_t errlen)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_aliasreq ifra;
	uint8_t *mask;
	unsigned i;
	int rc;

	memset(&ifra, 0, sizeof(ifra));
	strlcpy(ifra.ifra_name, name, sizeof(ifra.ifra_name));
	ifra.ifra_addr.sin6_len = sizeof(ifra.ifra_addr);
	ifra.ifra_addr.sin6_family = AF_INET6;
	memcpy(&ifra.ifra_addr.sin6_addr, addr, 16);
	ifra.ifra_prefixmask.sin6_len = sizeof(ifra.ifra_prefixmask);
	ifra.ifra_prefixmask.sin6_family = AF_INET6;
	mask = (uint8_t *)&ifra.ifra_prefixmask.sin6_addr;
	for (i = 0; i < 16; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;

		mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
	}
	ifra.ifra_lifetime.ia6t_vltime = ND6_INFINITE_LIFETIME;
	ifra.ifra_lifetime.ia6t_pltime = ND6_INFINITE_LIFETIME;
#ifdef IN6_IFF_NODAD
	/* Nothing else is on this link; skip DAD so the address is usable
	 * at once rather than tentative. */
	ifra.ifra_flags |= IN6_IFF_NODAD;
#endif
	rc = if_ioctl(AF_INET6, SIOCAIFADDR_IN6, &ifra);
	if (rc) {
		if (!inet_ntop(AF_INET6, addr, text, sizeof(text)))
			text[0] = '\0';
		tun_set_err(err, errlen, "add address %s/%u to %s (SIOCAIFADDR_IN6): %s", text,
			    prefix, name, strerror(-rc));
	}
	return rc;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Every packet on a utun socket carries the AF4 header. */
int tun_platform_default_framing(void)
{
	return TUN_FRAMING_AF4;
}

int tun_platform_create(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	const char *want = cfg->name && cfg->name[0] ? cfg->name : "utun";
	struct sockaddr_ctl sc;
	struct ctl_info info;
	socklen_t len;
	uint32_t unit;
	int rc;

	rc = utun_unit(cfg->name, &unit);
	if (rc) {
		tun_set_err(err, errlen, "TUN name \"%s\": macOS only creates utunN devices",
			    cfg->name);
		return rc;
	}
	t->fd = socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL);
	if (t->fd < 0) {
		rc = -errno;
		tun_set_err(err, errlen, "utun control socket: %s", strerror(-rc));
		return rc;
	}
	memset(&info, 0, sizeof(info));
	strlcpy(info.ctl_name, UTUN_CONTROL_NAME, sizeof(info.ctl_name));
	if (ioctl(t->fd, CTLIOCGINFO, &info) < 0) {
		rc = -errno;
		tun_set_err(err, errlen, "CTLIOCGINFO %s: %s", UTUN_CONTROL_NAME, strerror(-rc));
		return rc;
	}
	memset(&sc, 0, sizeof(sc));
	sc.sc_len = sizeof(sc);
	sc.sc_family = AF_SYSTEM;
	sc.ss_sysaddr = AF_SYS_CONTROL;
	sc.sc_id = info.ctl_id;
	sc.sc_unit = unit;
	/* Connecting creates the interface. Blocking until then, as in
	 * Apple's examples; non-blocking from here on. */
	if (connect(t->fd, (struct sockaddr *)&sc, sizeof(sc)) < 0) {
		rc = -errno;
		if (rc == -EBUSY)
			tun_set_err(err, errlen,
				    "TUN name %s busy: another process (or "
				    "descriptor) has it open",
				    want);
		else
			tun_set_err(err, errlen, "create %s: %s", want, strerror(-rc));
		return rc;
	}
	rc = set_nonblock_cloexec(t->fd);
	if (rc) {
		tun_set_err(err, errlen, "utun control socket: fcntl: %s", strerror(-rc));
		return rc;
	}
	len = sizeof(t->name);
	if (getsockopt(t->fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, t->name, &len) < 0) {
		rc = -errno;
		tun_set_err(err, errlen, "UTUN_OPT_IFNAME: %s", strerror(-rc));
		return rc;
	}
	t->name[sizeof(t->name) - 1] = '\0';

	rc = set_mtu(t->name, cfg->mtu, err, errlen);
	if (rc)
		return rc;
	if (cfg->has_addr4) {
		rc = add_addr4(t->name, cfg->addr4, cfg->prefix4, err, errlen);
		if (rc)
			return rc;
	}
	if (cfg->has_addr6) {
		rc = add_addr6(t->name, cfg->addr6, cfg->prefix6, err, errlen);
		if (rc)
			return rc;
	}
	rc = set_up(t->name, err, errlen);
	if (rc)
		return rc;
	log_debug("tun %s: created, mtu %u", t->name, cfg->mtu);
	return 0;
}

/* --tun-fd: typically a utun socket handed over by a privileged helper or
 * a NetworkExtension; used as is, never configured. Anything else that
 * keeps packets whole is taken too, nameless. */
int tun_platform_adopt(struct tun *t, const struct tun_config *cfg, char *err, size_t errlen)
{
	socklen_t len = sizeof(t->name);

	(void)err;
	(void)errlen;
	if (getsockopt(cfg->fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, t->name, &len) < 0)
		t->name[0] = '\0'; /* tun_open names it "fd<N>" */
	t->name[sizeof(t->name) - 1] = '\0';
	return 0;
}

/* utun has no offload interface: packets are never larger than the MTU,
 * always carry complete checksums, and have no header but the AF4 framing
 * tun.c handles. hdr_len stays 0, so tun.c never calls these two; they
 * would pass packets through untouched. */
ssize_t tun_platform_hdr_in(const struct tun *t, const uint8_t *hdr, uint8_t *pkt, size_t len)
{
	(void)t;
	(void)hdr;
	(void)pkt;
	return (ssize_t)len;
}

int tun_platform_hdr_out(const struct tun *t, const struct iovec *iov, int iovcnt, size_t total,
			 uint8_t hdr[TUN_HDR_MAX], uint8_t scratch[TUN_HDR_SCRATCH],
			 struct iovec *v)
{
	(void)t;
	(void)total;
	(void)hdr;
	(void)scratch;
	memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
	return iovcnt + 1;
}

/* utun has no offload header: tun_write_batch() never coalesces here. */
void tun_platform_gso_hdr(const struct tun *t, const struct tun_gso_meta *m,
			  uint8_t hdr[TUN_HDR_MAX])
{
	(void)m;
	memset(hdr, 0, t->hdr_len);
}
