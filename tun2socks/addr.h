/* addr: lwIP addresses for logs and for SOCKS5 requests. */
#ifndef T2S_ADDR_H
#define T2S_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lwip/ip_addr.h"
#include "proto_socks5.h"

/* "1.2.3.4:80" or "[2001:db8::1]:80" (lower case) into buf; returns buf. */
const char *addr_ep_str(const ip_addr_t *ip, uint16_t port, char *buf, size_t cap);

/* The SOCKS5 address of ip:port (the target of a flow). */
void addr_to_socks5(const ip_addr_t *ip, uint16_t port, struct socks5_addr *out);

/* A SOCKS5 IP address as a socket address: its length, or 0 (out
 * cleared) for a name. */
socklen_t addr_socks5_to_sockaddr(const struct socks5_addr *a, struct sockaddr_storage *out);

/* An AF_INET/AF_INET6 socket address (port included) as a SOCKS5 address. */
void addr_sockaddr_to_socks5(const struct sockaddr_storage *sa, struct socks5_addr *out);

#endif
