/* priv: the portable half, see priv.h. */
#include "tun2socks/app/priv.h"

#include <errno.h>
#include <stdio.h>

int priv_check(const struct priv_facts *f, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (f->tun_fd >= 0 && f->tun_fd_open)
		return 0;
	if (f->tun_fd >= 0) {
		if (errlen)
			snprintf(err, errlen, "--tun-fd %d: not an open file descriptor",
				 f->tun_fd);
		return -EBADF;
	}
	if (f->tun_admin != 0)
		return 0;
	if (errlen)
		snprintf(err, errlen,
			 "cannot create the TUN device: %s, or pass an already-open TUN "
			 "descriptor with --tun-fd N",
			 f->hint);
	return -EPERM;
}
