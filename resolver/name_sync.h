/* name_sync: one host name looked up through given DNS servers, blocking
 * (c-ares polled on the calling thread), for work off the event loop: proxy
 * servers' names through dns.proxy-server-nameserver when a generation is
 * loaded (docs/design.md §23). Never call it on the loop thread. */
#ifndef T2S_NAME_SYNC_H
#define T2S_NAME_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tun2socks/base/must_check.h"

struct sock_opts;

/* servers: nameservers_parse() syntax ("IP[:port]", "udp://", "tcp://",
 * comma-separated). The first address (RFC 6724 order) with port into
 * *out and *len. sock: applied to the lookup's sockets (the routing mark
 * and interface our other sockets get, so a server routed into the TUN
 * by auto-route is still reached directly), or NULL. 0, or -EINVAL
 * (servers), -ENOENT (no address), -ETIMEDOUT, -EIO, -ENOMEM, with the
 * reason in err. */
T2S_MUST_CHECK int name_sync_lookup(const char *servers, const char *host, uint16_t port,
				    const struct sock_opts *sock, struct sockaddr_storage *out,
				    socklen_t *len, char *err, size_t errlen);

#endif
