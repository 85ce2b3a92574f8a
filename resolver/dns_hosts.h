/* dns_hosts: names answered from a table before any upstream (the
 * config's hosts: with use-hosts, and /etc/hosts with use-system-hosts),
 * as mihomo does (docs/design.md §23).
 *
 * Keys are names or domain_match patterns ("*.x", "+.x", ".x"); an exact
 * name wins over a pattern, patterns are tried in the order added. Each
 * name holds up to DNS_HOSTS_MAX addresses per family, in the order
 * added. Pure: no I/O, no clock; the loop thread owns it once built.
 */
#ifndef T2S_DNS_HOSTS_H
#define T2S_DNS_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "tun2socks/base/must_check.h"

#define DNS_HOSTS_MAX 8

struct dns_hosts;

/* One answer: n4 IPv4 and n6 IPv6 addresses; or, for a name whose alias
 * chain leaves the table, none and the name it ends at in alias. */
struct dns_hosts_addrs {
	uint8_t n4, n6;
	uint8_t a4[DNS_HOSTS_MAX][4];
	uint8_t a6[DNS_HOSTS_MAX][16];
	char alias[254]; /* "" unless the chain ended outside the table */
};

T2S_MUST_CHECK int dns_hosts_create(struct dns_hosts **out);
void dns_hosts_destroy(struct dns_hosts *h);

/* Adds addr (an IPv4 or IPv6 literal) to name. 0; -EINVAL (a malformed
 * name, pattern or address); -ENOSPC (DNS_HOSTS_MAX already); -ENOMEM. */
T2S_MUST_CHECK int dns_hosts_add(struct dns_hosts *h, const char *name, const char *addr);

/* name (or pattern) is an alias of target, a name (mihomo's hosts: value
 * that is a domain): lookups of name answer what target has in the table.
 * 0; -EINVAL (a malformed name or target); -EEXIST (name has addresses
 * or an alias already); -ENOMEM. */
T2S_MUST_CHECK int dns_hosts_add_alias(struct dns_hosts *h, const char *name, const char *target);

/* The lines of an /etc/hosts file ("ADDR NAME [ALIASES...]", '#'
 * comments): every well-formed pair added, a malformed line skipped
 * (counted in *skipped, may be NULL). 0 or -ENOMEM. Existing names keep
 * what they had first (the config's hosts: win when added first). */
T2S_MUST_CHECK int dns_hosts_parse_etc(struct dns_hosts *h, const char *text, size_t len,
				       size_t *skipped);

/* The addresses of name (any case, one trailing dot ignored): 0 with *out
 * filled (one family may be empty), or -ENOENT. An alias is followed
 * through the table (at most DNS_HOSTS_MAX hops, as mihomo follows its
 * chain): the addresses of the name it ends at, or none with out->alias
 * that name when the table does not have it (a loop ends the same way). */
int dns_hosts_find(const struct dns_hosts *h, const char *name, struct dns_hosts_addrs *out);

/* Names and patterns in the table. */
size_t dns_hosts_count(const struct dns_hosts *h);

#endif
