/* dnsconf: the machine's resolver pointed at the daemon while it runs,
 * and put back when it stops (docs/design.md §13, "macOS").
 *
 * macOS: a DNS entity of a network service of our own in configd's
 * dynamic store, State:/Network/Service/tun2socks-<tun>/DNS, with
 * ServerAddresses (an address inside the TUN), SupplementalMatchDomains
 * [""] (every name) and SearchOrder 1 (before the other resolvers), as
 * VPN clients publish theirs. It is added as a temporary value
 * (SCDynamicStoreAddTemporaryValue): configd drops it when our session
 * ends, however the daemon ends, SIGKILL included, so it needs no state
 * file. mDNSResponder follows the change by itself; there is no public
 * call to flush its cache (`killall -HUP mDNSResponder` is the documented
 * way, and we do not run commands).
 *
 * Linux: -ENOTSUP: there systemd-resolved (resolved.h) or /etc/resolv.conf
 * (resolvconf.h) is pointed at the TUN, and every query to port 53 of any
 * server enters it through the dns-hijack rules (route_plan.h) anyway.
 */
#ifndef T2S_DNSCONF_H
#define T2S_DNSCONF_H

#include <stdbool.h>
#include <stddef.h>

struct dnsconf;

/* Whether this platform points the system resolver at all. */
bool dnsconf_supported(void);

/* Points the system resolver at servers[0..n) (numeric addresses) for
 * the TUN named tun. 0, -ENOTSUP (not on this platform), or -errno with
 * the reason in err (-EEXIST: the key is there already). */
int dnsconf_start(const char *tun, const char *const *servers, size_t n, struct dnsconf **out,
		  char *err, size_t errlen);

/* The resolver as it was. NULL is a no-op. */
void dnsconf_stop(struct dnsconf *dc);

#endif
