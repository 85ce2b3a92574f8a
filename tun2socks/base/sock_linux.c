/* sock on Linux: SO_BINDTODEVICE and SO_MARK (both need CAP_NET_ADMIN or
 * CAP_NET_RAW), applied before connect so routing sees them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun2socks/base/sock.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

bool sock_platform_has_fwmark(void)
{
	return true;
}

int sock_platform_socket(int family, int type)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int sock_apply(int fd, int family, const struct sock_opts *o)
{
	/* Both options are per socket, whatever its family. */
	(void)family;
	if (o == NULL)
		return 0;
	if (o->bind_iface[0] != '\0' &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o->bind_iface,
		       (socklen_t)strnlen(o->bind_iface, sizeof(o->bind_iface))) < 0)
		return -errno;
	if (o->has_fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &o->fwmark, sizeof(o->fwmark)) < 0)
		return -errno;
	return 0;
}

/* The idle time before the first keepalive probe: Linux names it TCP_KEEPIDLE. */
int sock_platform_keepidle(int fd, unsigned idle_s)
{
	int idle = (int)idle_s;

	return setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0 ? -errno : 0;
}
