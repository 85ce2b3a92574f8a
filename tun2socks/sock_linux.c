/* sock on Linux: SO_BINDTODEVICE and SO_MARK (both need CAP_NET_ADMIN or
 * CAP_NET_RAW), applied before connect so routing sees them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sock.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

bool sock_platform_has_fwmark(void)
{
	return true;
}

int sock_open(int family, int type, const struct sock_opts *o)
{
	int fd, one = 1, ret;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	ret = sock_apply(fd, family, o);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
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
	if (o->has_fwmark &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &o->fwmark, sizeof(o->fwmark)) < 0)
		return -errno;
	return 0;
}
