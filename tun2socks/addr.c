#include "addr.h"

#include <stdio.h>
#include <string.h>

const char *addr_ep_str(const ip_addr_t *ip, uint16_t port, char *buf, size_t cap)
{
	char a[IPADDR_STRLEN_MAX];

	ipaddr_ntoa_r(ip, a, sizeof(a));
	for (char *c = a; *c; c++) /* lwIP prints IPv6 in upper case */
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	if (IP_IS_V6(ip))
		snprintf(buf, cap, "[%s]:%u", a, port);
	else
		snprintf(buf, cap, "%s:%u", a, port);
	return buf;
}

void addr_to_socks5(const ip_addr_t *ip, uint16_t port, struct socks5_addr *out)
{
	uint8_t a[16];

	if (IP_IS_V6(ip)) {
		memcpy(a, ip_2_ip6(ip)->addr, 16);
		socks5_addr_from_ipv6(out, a, port);
	} else {
		memcpy(a, &ip_2_ip4(ip)->addr, 4);
		socks5_addr_from_ipv4(out, a, port);
	}
}
