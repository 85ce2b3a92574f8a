/* sock on macOS: IP_BOUND_IF / IPV6_BOUND_IF pin a socket to the physical
 * interface so the default route through the utun is not taken. There is
 * no fwmark. */
#include "tun2socks/base/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

bool sock_platform_has_fwmark(void)
{
	return false;
}

int sock_platform_socket(int family, int type)
{
	int fd, one = 1, fl, ret;

	fd = socket(family, type, 0);
	if (fd < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		goto fail;
	/* A peer reset must not kill the daemon with SIGPIPE. */
	if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int sock_apply(int fd, int family, const struct sock_opts *o)
{
	if (o == NULL || o->iface_index == 0)
		return 0;
	if (family == AF_INET6) {
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_BOUND_IF, &o->iface_index,
			       sizeof(o->iface_index)) < 0)
			return -errno;
	} else if (setsockopt(fd, IPPROTO_IP, IP_BOUND_IF, &o->iface_index,
			      sizeof(o->iface_index)) < 0) {
		return -errno;
	}
	return 0;
}

/* The idle time before the first keepalive probe: macOS names it TCP_KEEPALIVE. */
int sock_platform_keepidle(int fd, unsigned idle_s)
{
	int idle = (int)idle_s;

	return setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof(idle)) < 0 ? -errno : 0;
}
