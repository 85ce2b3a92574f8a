/* Unit tests for FNV-1a (tun2socks/base/hash.h). */
#include "tun2socks/base/hash.h"
#include "test.h"

#include <string.h>

static uint32_t fnv(const char *s)
{
	return hash_fnv1a(s, strlen(s), HASH_FNV1A_BASIS);
}

static void test_vectors(void)
{
	/* FNV-1a 32-bit reference values (draft-eastlake-fnv). */
	T_EQ_INT(fnv(""), 0x811c9dc5u);
	T_EQ_INT(fnv("a"), 0xe40c292cu);
	T_EQ_INT(fnv("foobar"), 0xbf9cf968u);
}

static void test_seed(void)
{
	const unsigned char b[] = { 0x00, 0xff, 0x10 };
	uint32_t h = hash_fnv1a(b, 1, HASH_FNV1A_BASIS);

	/* Hashing in pieces, each seeded with the hash so far, is hashing
	 * the whole. */
	T_EQ_INT(hash_fnv1a(b + 1, 2, h), hash_fnv1a(b, 3, HASH_FNV1A_BASIS));
	/* The seed changes the result; no bytes give the seed back. */
	T_CHECK(hash_fnv1a(b, 3, HASH_FNV1A_BASIS ^ 53) != hash_fnv1a(b, 3, HASH_FNV1A_BASIS));
	T_EQ_INT(hash_fnv1a(b, 0, 1234), 1234);
}

int main(void)
{
	T_RUN(test_vectors);
	T_RUN(test_seed);
	return test_summary();
}
