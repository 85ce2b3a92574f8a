/* resolved: no systemd-resolved on macOS (resolved.h). */
#include "tun2socks/system/resolved.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>

int resolved_present(char *why, size_t whylen)
{
	errtext_set(why, whylen, "no systemd-resolved on this platform");
	return -ENOTSUP;
}

int resolved_link_set(uint32_t ifindex, const struct prefix *dns, size_t n, char *err,
		      size_t errlen)
{
	(void)ifindex;
	(void)dns;
	(void)n;
	errtext_set(err, errlen, "no systemd-resolved on this platform");
	return -ENOTSUP;
}

int resolved_link_wait(uint32_t ifindex, unsigned timeout_ms, char *err, size_t errlen)
{
	(void)ifindex;
	(void)timeout_ms;
	errtext_set(err, errlen, "no systemd-resolved on this platform");
	return -ENOTSUP;
}

int resolved_link_revert(uint32_t ifindex, char *err, size_t errlen)
{
	(void)ifindex;
	errtext_set(err, errlen, "no systemd-resolved on this platform");
	return -ENOTSUP;
}

int resolved_flush(char *err, size_t errlen)
{
	errtext_set(err, errlen, "no systemd-resolved on this platform");
	return -ENOTSUP;
}
