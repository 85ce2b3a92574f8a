/* dnsconf on Linux: not used (dnsconf.h): the dns-hijack rules send every
 * query to port 53 into the TUN whatever the resolver is set to. */
#include "tun2socks/system/dnsconf.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>

bool dnsconf_supported(void)
{
	return false;
}

int dnsconf_start(const char *tun, const char *const *servers, size_t n, struct dnsconf **out,
		  char *err, size_t errlen)
{
	(void)tun;
	(void)servers;
	(void)n;
	*out = NULL;
	errtext_set(err, errlen, "the system resolver is left as it is on Linux");
	return -ENOTSUP;
}

void dnsconf_stop(struct dnsconf *dc)
{
	(void)dc;
}
