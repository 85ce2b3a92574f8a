/* target: the destination of a flow as a SOCKS5 address (an IP or a name
 * with a port), the form every connector and the DIRECT path take, and
 * its conversions from lwIP and socket addresses. */
#ifndef T2S_TARGET_H
#define T2S_TARGET_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lwip/ip_addr.h"
#include "tun2socks/upstream/socks5.h"

/* The SOCKS5 address of ip:port (the target of a flow). */
void target_from_ip(const ip_addr_t *ip, uint16_t port, struct socks5_addr *out);

/* A SOCKS5 IP address as a socket address: its length, or 0 (out
 * cleared) for a name. */
socklen_t target_to_sockaddr(const struct socks5_addr *a, struct sockaddr_storage *out);

/* An AF_INET/AF_INET6 socket address (port included) as a SOCKS5 address. */
void addr_socktarget_from_ip(const struct sockaddr_storage *sa, struct socks5_addr *out);

#endif
