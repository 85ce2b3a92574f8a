/* siphash: SipHash-2-4, a keyed hash for tables whose keys come from the
 * network (DNS names, answer addresses): with a random key nobody can pick
 * keys that share one chain. */
#ifndef T2S_SIPHASH_H
#define T2S_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const uint8_t *p, size_t len);

#endif
