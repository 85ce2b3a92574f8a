#include "tun2socks/base/addr.h"

#include <arpa/inet.h>
#include <stdio.h>

const char *addr_ep_str(const ip_addr_t *ip, uint16_t port, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	/* inet_ntop on lwIP's raw bytes (network order in both families)
	 * rather than lwIP's ipaddr_ntoa_r: the base layer uses lwIP's types,
	 * never its code, and RFC 5952 text is what the other logs print. */
	if (IP_IS_V6(ip)) {
		if (!inet_ntop(AF_INET6, ip_2_ip6(ip)->addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(buf, cap, "[%s]:%u", a, port);
	} else {
		if (!inet_ntop(AF_INET, &ip_2_ip4(ip)->addr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(buf, cap, "%s:%u", a, port);
	}
	return buf;
}
