/* macOS utun through Apple's kernel-control API: a PF_SYSTEM socket
 * connected to "com.apple.net.utun_control" is the device, and closing it
 * destroys the interface with its addresses and routes. Every packet on the
 * socket carries a 4-byte address family header (tun_frame.h). Routes
 * beyond the address's own are the route module's business. */

/* The BSD parts of the system headers (sa_len, sockaddr_ctl, ifaliasreq)
 * hide under a strict POSIX feature level. */
#define _DARWIN_C_SOURCE 1

#include "tun.h"

#include "log.h"
#include "tun_frame.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

struct tun {
	int fd;
	int framing;
	uint32_t mtu;
	char name[IFNAMSIZ];
};

__attribute__((format(printf, 3, 4))) static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int check_config(const struct tun_config *cfg, char *err, size_t errlen)
{
	if (cfg->framing < -1 || cfg->framing > TUN_FRAMING_AF4) {
		set_err(err, errlen, "unknown TUN framing %d", cfg->framing);
		return -EINVAL;
	}
	if (cfg->mtu < TUN_MTU_MIN || cfg->mtu > TUN_MTU_MAX) {
		set_err(err, errlen, "MTU %u out of range %u..%u", cfg->mtu,
			TUN_MTU_MIN, TUN_MTU_MAX);
		return -EINVAL;
	}
	if (cfg->fd >= 0)
		return 0;
	if (cfg->has_addr4 && cfg->prefix4 > 32) {
		set_err(err, errlen, "IPv4 prefix length %u > 32", cfg->prefix4);
		return -EINVAL;
	}
	if (cfg->has_addr6 && cfg->prefix6 > 128) {
		set_err(err, errlen, "IPv6 prefix length %u > 128", cfg->prefix6);
		return -EINVAL;
	}
	if (cfg->has_addr6 && cfg->mtu < TUN_MTU_MIN_IPV6) {
		set_err(err, errlen, "MTU %u too small for IPv6 (needs >= %u)",
			cfg->mtu, TUN_MTU_MIN_IPV6);
		return -EINVAL;
	}
	return 0;
}

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
		set_err(err, errlen, "set MTU %u on %s (SIOCSIFMTU): %s", mtu,
			name, strerror(-rc));
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
		set_err(err, errlen, "bring %s up (SIOCSIFFLAGS): %s", name,
			strerror(-rc));
	return rc;
}

/* utun is point-to-point: the destination is our own address, which is
 * what makes the kernel accept the address without a real peer. */
static int add_addr4(const char *name, const uint8_t addr[4], uint8_t prefix,
		     char *err, size_t errlen)
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
		set_err(err, errlen,
			"add address %u.%u.%u.%u/%u to %s (SIOCAIFADDR): %s",
			addr[0], addr[1], addr[2], addr[3], prefix, name,
			strerror(-rc));
	return rc;
}

static int add_addr6(const char *name, const uint8_t addr[16], uint8_t prefix,
		     char *err, size_t errlen)
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
		set_err(err, errlen,
			"add address %s/%u to %s (SIOCAIFADDR_IN6): %s", text,
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

static int tun_create(struct tun *t, const struct tun_config *cfg, char *err,
		      size_t errlen)
{
	const char *want = cfg->name && cfg->name[0] ? cfg->name : "utun";
	struct sockaddr_ctl sc;
	struct ctl_info info;
	socklen_t len;
	uint32_t unit;
	int rc;

	rc = utun_unit(cfg->name, &unit);
	if (rc) {
		set_err(err, errlen,
			"TUN name \"%s\": macOS only creates utunN devices",
			cfg->name);
		return rc;
	}
	t->fd = socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL);
	if (t->fd < 0) {
		rc = -errno;
		set_err(err, errlen, "utun control socket: %s", strerror(-rc));
		return rc;
	}
	memset(&info, 0, sizeof(info));
	strlcpy(info.ctl_name, UTUN_CONTROL_NAME, sizeof(info.ctl_name));
	if (ioctl(t->fd, CTLIOCGINFO, &info) < 0) {
		rc = -errno;
		set_err(err, errlen, "CTLIOCGINFO %s: %s", UTUN_CONTROL_NAME,
			strerror(-rc));
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
			set_err(err, errlen,
				"TUN name %s busy: another process (or "
				"descriptor) has it open",
				want);
		else
			set_err(err, errlen, "create %s: %s", want,
				strerror(-rc));
		return rc;
	}
	rc = set_nonblock_cloexec(t->fd);
	if (rc) {
		set_err(err, errlen, "utun control socket: fcntl: %s",
			strerror(-rc));
		return rc;
	}
	len = sizeof(t->name);
	if (getsockopt(t->fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, t->name,
		       &len) < 0) {
		rc = -errno;
		set_err(err, errlen, "UTUN_OPT_IFNAME: %s", strerror(-rc));
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
 * a NetworkExtension; used as is, never configured. */
static int tun_adopt(struct tun *t, const struct tun_config *cfg, char *err,
		     size_t errlen)
{
	socklen_t len = sizeof(t->name);
	int fl;

	fl = fcntl(cfg->fd, F_GETFL);
	if (fl < 0) {
		int rc = -errno;

		set_err(err, errlen, "--tun-fd %d: %s", cfg->fd, strerror(-rc));
		return rc;
	}
	if (getsockopt(cfg->fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, t->name,
		       &len) < 0)
		snprintf(t->name, sizeof(t->name), "fd%d", cfg->fd);
	t->name[sizeof(t->name) - 1] = '\0';
	if (!(fl & O_NONBLOCK) && fcntl(cfg->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int rc = -errno;

		set_err(err, errlen, "--tun-fd %d: set O_NONBLOCK: %s", cfg->fd,
			strerror(-rc));
		return rc;
	}
	t->fd = cfg->fd;
	return 0;
}

int tun_open(const struct tun_config *cfg, struct tun **out, char *err,
	     size_t errlen)
{
	struct tun *t = NULL;
	int rc;

	*out = NULL;
	set_err(err, errlen, "%s", "");
	if (!cfg) {
		set_err(err, errlen, "no TUN config");
		return -EINVAL;
	}
	rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->fd = -1;
	t->framing = cfg->framing < 0 ? TUN_FRAMING_AF4 : cfg->framing;
	t->mtu = cfg->mtu;
	rc = cfg->fd >= 0 ? tun_adopt(t, cfg, err, errlen)
			  : tun_create(t, cfg, err, errlen);
	if (rc)
		goto out;
	*out = t;
	t = NULL;
out:
	if (t) {
		/* Closing our utun socket destroys the half-made interface; a
		 * handed-over fd goes back to the caller untouched. */
		if (t->fd >= 0 && cfg->fd < 0)
			close(t->fd);
		free(t);
	}
	return rc;
}

int tun_fd(const struct tun *t)
{
	return t->fd;
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

int tun_framing(const struct tun *t)
{
	return t->framing;
}

uint32_t tun_mtu(const struct tun *t)
{
	return t->mtu;
}

/* utun has no offload interface: packets are never larger than the MTU
 * and always carry complete checksums. */
size_t tun_read_max(const struct tun *t)
{
	return t->mtu;
}

bool tun_csum_offload(const struct tun *t)
{
	(void)t;
	return false;
}

ssize_t tun_read(struct tun *t, void *buf, size_t cap)
{
	uint8_t hdr[TUN_FRAME_AF4_LEN];
	uint8_t spare;
	struct iovec iov[3];
	size_t hlen = 0;
	int cnt = 0;
	ssize_t n;

	if (!buf || cap == 0)
		return -EINVAL;
	if (t->framing == TUN_FRAMING_AF4) {
		iov[cnt].iov_base = hdr;
		iov[cnt++].iov_len = sizeof(hdr);
		hlen = sizeof(hdr);
	}
	iov[cnt].iov_base = buf;
	iov[cnt++].iov_len = cap;
	/* One byte past cap: filling it means the datagram did not fit (and
	 * was truncated). */
	iov[cnt].iov_base = &spare;
	iov[cnt++].iov_len = 1;
	do {
		n = readv(t->fd, iov, cnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n > hlen + cap)
		return -EMSGSIZE;
	if (hlen) {
		uint8_t probe[TUN_FRAME_AF4_LEN + 1];

		if ((size_t)n <= hlen)
			return -EPROTO;
		memcpy(probe, hdr, hlen);
		probe[hlen] = *(const uint8_t *)buf;
		if (tun_frame_af4_decode(probe, sizeof(probe), AF_INET, AF_INET6))
			return -EPROTO;
	}
	return n - (ssize_t)hlen;
}

int tun_writev(struct tun *t, const struct iovec *iov, int iovcnt)
{
	struct iovec v[TUN_WRITEV_MAX_IOV + 1];
	const struct iovec *out = iov;
	uint8_t hdr[TUN_FRAME_AF4_LEN];
	size_t total = 0;
	int outcnt = iovcnt;
	ssize_t n;
	int i;

	if (!iov || iovcnt <= 0 || iovcnt > TUN_WRITEV_MAX_IOV)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return -EINVAL;
	if (t->framing == TUN_FRAMING_AF4) {
		uint8_t first = 0;
		int rc;

		for (i = 0; i < iovcnt; i++) {
			if (iov[i].iov_len) {
				first = *(const uint8_t *)iov[i].iov_base;
				break;
			}
		}
		rc = tun_frame_af4_encode(hdr, first, AF_INET, AF_INET6);
		if (rc)
			return rc;
		v[0].iov_base = hdr;
		v[0].iov_len = sizeof(hdr);
		memcpy(&v[1], iov, (size_t)iovcnt * sizeof(*iov));
		out = v;
		outcnt = iovcnt + 1;
		total += sizeof(hdr);
	}
	do {
		n = writev(t->fd, out, outcnt);
	} while (n < 0 && errno == EINTR);
	/* A full utun input queue shows up as ENOBUFS: same as EAGAIN to the
	 * caller, who drops the packet. */
	if (n < 0)
		return (errno == EWOULDBLOCK || errno == ENOBUFS) ? -EAGAIN
								  : -errno;
	if ((size_t)n != total)
		return -EIO;
	return 0;
}

void tun_close(struct tun *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}
