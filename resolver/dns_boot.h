/* dns_boot: an encrypted DNS server's own host name looked up through
 * default-nameserver (docs/design.md §24), on the loop, with a handle the
 * forwarder can drop before the answer comes (destroyed first). */
#ifndef T2S_DNS_BOOT_H
#define T2S_DNS_BOOT_H

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

struct dns_boot;

/* Looks host up through r; cb runs once from the loop unless
 * dns_boot_cancel() ran first (addresses with port 0, RFC 6724 order).
 * *out is the handle until cb runs or cancel. 0, or -errno (cb never
 * runs). */
T2S_MUST_CHECK int dns_boot_start(struct resolver *r, const char *host, resolver_addr_cb cb,
				  void *arg, struct dns_boot **out);
/* cb will not run; the handle goes when the resolver answers. NULL ok. */
void dns_boot_cancel(struct dns_boot *b);

#endif
