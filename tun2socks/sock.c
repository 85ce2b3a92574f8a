/* Portable half of sock: option checks, connect and close. */
#include "sock.h"

#include <errno.h>
#include <net/if.h>
#include <unistd.h>

int sock_opts_resolve(struct sock_opts *o)
{
	if (o->has_fwmark && !sock_platform_has_fwmark())
		return -ENOTSUP;
	o->iface_index = 0;
	if (o->bind_iface[0] != '\0') {
		o->iface_index = if_nametoindex(o->bind_iface);
		if (o->iface_index == 0)
			return -ENODEV;
	}
	return 0;
}

int sock_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno == EINPROGRESS || errno == EINTR)
		return -EINPROGRESS;
	return -errno;
}

int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

void sock_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}
