/* target: where a flow goes, as the SOCKS5 address every connector takes
 * (see target.h). */
#include "tun2socks/upstream/target.h"

#include <arpa/inet.h>
#include <string.h>

void target_from_ip(const ip_addr_t *ip, uint16_t port, struct socks5_addr *out)
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

socklen_t target_to_sockaddr(const struct socks5_addr *a, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->u.v4, 4);
		s4->sin_port = htons(a->port);
		return sizeof(*s4);
	}
	if (a->atyp == SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->u.v6, 16);
		s6->sin6_port = htons(a->port);
		return sizeof(*s6);
	}
	return 0;
}

void addr_socktarget_from_ip(const struct sockaddr_storage *sa, struct socks5_addr *out)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		socks5_addr_from_ipv4(out, (const uint8_t *)&s4->sin_addr, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		socks5_addr_from_ipv6(out, s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
	}
}
