/* hash: FNV-1a (32-bit), the one small unkeyed hash, for tables whose keys
 * nobody can choose to collide: a trie's edges built from the config, a
 * cache that a collision merely evicts from. Keys that come from the
 * network and pick a chain want a keyed hash: siphash.h.
 */
#ifndef T2S_HASH_H
#define T2S_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV's offset basis: the seed for a plain FNV-1a. A caller may fold a
 * small key part into it (HASH_FNV1A_BASIS ^ port) and hash the rest. */
#define HASH_FNV1A_BASIS 2166136261u

/* FNV-1a over p[0, len), starting from seed. */
static inline uint32_t hash_fnv1a(const void *p, size_t len, uint32_t seed)
{
	const uint8_t *b = p;
	uint32_t h = seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#endif
