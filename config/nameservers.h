/* nameservers: the DNS server list syntax of --dns-server and
 * dns.nameserver: "IP", "IP:port", "[v6]:port", "udp://IP[:port]",
 * "tcp://IP[:port]", comma-separated (port 53 by default). Pure: the
 * config loader and the command line check it, the resolver turns it into
 * what c-ares takes. */
#ifndef T2S_NAMESERVERS_H
#define T2S_NAMESERVERS_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/base/must_check.h"

/* Converts servers to what ares_set_servers_csv() takes
 * ("1.1.1.1:53,[2001:db8::1]:53") into csv (capacity cap) and sets *tcp
 * when a tcp:// entry was seen. Returns 0, -EINVAL with a message in err,
 * or -ENOBUFS. */
T2S_MUST_CHECK int nameservers_parse(const char *servers, char *csv, size_t cap, bool *tcp,
				     char *err, size_t errlen);

#endif
