/* sysdns: the machine's DNS servers as they were before auto-route, and
 * the check that the daemon never forwards DNS to itself.
 *
 * With auto-route, every query to port 53 of the machine enters the TUN,
 * so the daemon's own upstream must be a real server reached by our
 * marked sockets: the nameservers of /etc/resolv.conf read at startup, or
 * systemd-resolved's upstreams (/run/systemd/resolve/resolv.conf) when
 * resolv.conf names its local stub. Any other local resolver forwards on
 * port 53, which the hijack sends back to us: a loop, refused at startup.
 * A server the kernel routes into the TUN is one too, with or without
 * auto-route: the daemon asks (autoroute_route_oif) once its TUN is up.
 */
#ifndef T2S_SYSDNS_H
#define T2S_SYSDNS_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/system/prefix.h"

enum { SYSDNS_MAX = 8 };

#define SYSDNS_RESOLV_CONF "/etc/resolv.conf"
#define SYSDNS_RESOLVED_CONF "/run/systemd/resolve/resolv.conf"

/* The nameserver addresses of a resolv.conf text, in order, as host
 * prefixes; at most max (glibc reads 3; we keep SYSDNS_MAX). Lines that do
 * not parse are skipped, as glibc does. Returns the count. */
size_t sysdns_parse_resolv(const char *text, size_t len, struct prefix *out, size_t max);

/* The servers to forward to, as a --dns-server list ("10.0.0.1,fd00::1")
 * in csv: resolv's nameservers, where a loopback one is replaced by
 * resolved's (systemd-resolved's upstreams; NULL if that file does not
 * exist). 0, -ENOENT (no nameserver at all), or -ELOOP with err naming the
 * local resolver whose upstream we cannot know. */
int sysdns_pick(const char *resolv, size_t rlen, const char *resolved, size_t dlen, char *csv,
		size_t cap, char *err, size_t errlen);

/* The same from the files themselves (SYSDNS_RESOLV_CONF and
 * SYSDNS_RESOLVED_CONF). */
int sysdns_pick_system(char *csv, size_t cap, char *err, size_t errlen);

/* Whether a resolv.conf text is systemd-resolved's (its stub file or its
 * list of upstreams): the "managed by man:systemd-resolved(8)" line it
 * writes, or only its stub addresses (127.0.0.53, 127.0.0.54) as
 * nameservers, as a copy without comments would have. */
bool sysdns_resolved_managed(const char *text, size_t len);

/* The addresses of a resolver's canonical list ("1.2.3.4:53,[fd00::1]:53",
 * as nameservers_parse() writes it), as host prefixes; at most max.
 * Returns the count. */
size_t sysdns_parse_csv(const char *csv, struct prefix *out, size_t max);

#endif
