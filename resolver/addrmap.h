/* addrmap: address -> domain, learned from the DNS answers we relay.
 *
 * In real-ip mode (and for fake-ip filter names) clients connect to real
 * addresses; this map lets a flow to such an address still carry the name
 * the client asked for, so rules and the proxy see the domain. Pure: no
 * clock (callers pass now_ms), no I/O, no globals.
 *
 * Bounded: at most `cap` entries; when full, the least recently refreshed
 * entry goes. An entry also expires `keep_ms` after its last refresh
 * (answers live in client caches for their TTL, flows start later, so the
 * caller keeps entries for longer than the TTL). A newer answer for the
 * same address replaces the name: with shared CDN addresses the most
 * recent question is the best guess, as in Clash's redir-host mode.
 */
#ifndef T2S_ADDRMAP_H
#define T2S_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>
#include "tun2socks/base/must_check.h"

struct addrmap;

/* cap: entry bound (> 0); hash_key: random bytes (answers come from the
 * network). *out cleared first; 0 or -EINVAL / -ENOMEM. */
T2S_MUST_CHECK int addrmap_create(uint32_t cap, const uint8_t hash_key[16], struct addrmap **out);
void addrmap_destroy(struct addrmap *m);

/* Records addr (alen 4 or 16) -> name (1..253 bytes, stored lower-cased)
 * until now_ms + keep_ms. 0, -EINVAL, -ENOMEM. */
int addrmap_put(struct addrmap *m, const uint8_t *addr, size_t alen, const char *name,
		uint64_t now_ms, uint64_t keep_ms);

/* The name of addr, or NULL (unknown or expired). Valid until the next
 * put. */
const char *addrmap_get(const struct addrmap *m, const uint8_t *addr, size_t alen, uint64_t now_ms);

size_t addrmap_count(const struct addrmap *m);

#endif
