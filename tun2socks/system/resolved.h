/* resolved: systemd-resolved, when it is the machine's resolver, sends
 * every name to the TUN while the daemon runs, and forgets that when it
 * stops (docs/design.md §13, "The system resolver").
 *
 * Over the system bus (sd-bus, org.freedesktop.resolve1): the TUN's link
 * gets the daemon's DNS address, the routing domain "~." and the default
 * route, and no LLMNR, mDNS, DNSSEC or DNS over TLS (nothing the
 * interceptor answers); RevertLink takes it all back. Each call flushes
 * resolved's cache, so no answer from before (or from the fake pool,
 * after) is served from it.
 *
 * Linux only (resolved_linux.c); elsewhere every call returns -ENOTSUP.
 * Blocking, with a timeout of a few seconds per call: called before the
 * loop runs and after it stops, like autoroute.
 */
#ifndef T2S_RESOLVED_H
#define T2S_RESOLVED_H

#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/prefix.h"

/* Whether systemd-resolved is the system's resolver: /etc/resolv.conf is
 * its file (sysdns_resolved_managed) and org.freedesktop.resolve1 has an
 * owner on the system bus ($DBUS_SYSTEM_BUS_ADDRESS, as sd-bus reads
 * it). 1 yes, 0 no (why in why), -ENOTSUP elsewhere. */
int resolved_present(char *why, size_t whylen);

/* The link ifindex resolves every name through dns[0..n) (host prefixes):
 * SetLinkDNS, SetLinkDomains "~.", SetLinkDefaultRoute, LLMNR, mDNS,
 * DNSSEC and DNS over TLS off. A link resolved does not know yet (it
 * learns links from the kernel on its own) is asked again for up to 2 s.
 * 0, or -errno with resolved's words in err; what was set stays set (the
 * caller reverts). */
int resolved_link_set(uint32_t ifindex, const struct prefix *dns, size_t n, char *err,
		      size_t errlen);

/* Until resolved has a DNS scope on the link (its ScopesMask), that is,
 * until it sends queries there: it weighs a link when the link changes or
 * is set, and the TUN's address may reach it after our settings, so the
 * default-route setting is given again every 100 ms meanwhile. 0,
 * -ETIMEDOUT after timeout_ms, or -errno; err says which. */
int resolved_link_wait(uint32_t ifindex, unsigned timeout_ms, char *err, size_t errlen);

/* RevertLink: the link as resolved had it before. A link resolved does
 * not know (gone with its TUN) is no error. 0 or -errno with err. */
int resolved_link_revert(uint32_t ifindex, char *err, size_t errlen);

/* FlushCaches. 0 or -errno with err. */
int resolved_flush(char *err, size_t errlen);

#endif
