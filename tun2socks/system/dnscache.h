/* dnscache: the host's own DNS cache emptied, so no answer from before the
 * daemon pointed the resolver at the TUN (or a fake address from while it
 * ran) is served from it (docs/design.md §13, "The system resolver").
 * systemd-resolved's cache is resolved.h's; this one is the cache beside
 * a plain /etc/resolv.conf:
 *
 * Linux: nscd's hosts cache, through nscd's socket (/var/run/nscd/socket,
 * the INVALIDATE request `nscd -i hosts` sends; root only, as nscd
 * checks the peer's uid).
 * macOS: mDNSResponder, by SIGHUP (Apple's documented way to flush it is
 * `killall -HUP mDNSResponder`; we send the signal ourselves).
 *
 * Blocking, with a 2 s timeout: called before the loop runs and after it
 * stops, like autoroute.
 */
#ifndef T2S_DNSCACHE_H
#define T2S_DNSCACHE_H

#include <stddef.h>

/* 1: the cache was emptied (what in what); 0: the host runs none;
 * -errno with the reason in err. */
int dnscache_flush(char *what, size_t whatlen, char *err, size_t errlen);

#endif
