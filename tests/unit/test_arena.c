/* Unit tests for the bump allocator (tun2socks/base/arena.c). */
#include "tun2socks/base/arena.h"
#include "test.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

static int aligned(const void *p)
{
	return (uintptr_t)p % alignof(max_align_t) == 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void test_alloc(void)
{
	struct arena a = { 0 };
	unsigned char *p, *q, *z1, *z2;

	p = arena_alloc(&a, 3);
	q = arena_alloc(&a, 100);
	T_CHECK(p && q);
	T_CHECK(aligned(p) && aligned(q));
	T_CHECK(all_zero(p, 3) && all_zero(q, 100));
	/* Neither overlaps the other. */
	memset(p, 0xaa, 3);
	memset(q, 0x55, 100);
	T_CHECK(p[2] == 0xaa && q[0] == 0x55 && q[99] == 0x55);
	T_CHECK(q >= p + 3 || p >= q + 100);

	/* Size 0: distinct pointers. */
	z1 = arena_alloc(&a, 0);
	z2 = arena_alloc(&a, 0);
	T_CHECK(z1 && z2 && z1 != z2);
	arena_free(&a);
	T_CHECK(a.head == NULL);
}

static void test_blocks(void)
{
	struct arena a = { 0 };
	unsigned char *big, *small[1000];
	int ok = 1;

	/* Many small ones fill several blocks; every one stays intact. */
	for (size_t i = 0; i < 1000; i++) {
		small[i] = arena_alloc(&a, 100);
		if (!small[i] || !aligned(small[i]) || !all_zero(small[i], 100))
			ok = 0;
		else
			memset(small[i], (int)(i & 0xff), 100);
	}
	T_CHECK(ok);
	/* Larger than a block: a block of its own. */
	big = arena_alloc(&a, 100000);
	T_CHECK(big && aligned(big) && all_zero(big, 100000));
	if (big)
		memset(big, 0xff, 100000);
	for (size_t i = 0; i < 1000; i++)
		if (small[i][0] != (unsigned char)(i & 0xff) || small[i][99] != small[i][0])
			ok = 0;
	T_CHECK(ok);
	/* After arena_free the arena is empty and works again. */
	arena_free(&a);
	T_CHECK(a.head == NULL);
	T_CHECK(arena_alloc(&a, 8) != NULL);
	arena_free(&a);
	arena_free(&a); /* an empty arena frees to nothing */
	T_CHECK(a.head == NULL);
}

static void test_strings(void)
{
	struct arena a = { 0 };
	char *s = arena_strdup(&a, "hello");
	char *t = arena_strndup(&a, "hello, world", 5);
	char *e = arena_strndup(&a, "", 0);

	T_EQ_STR(s, "hello");
	T_EQ_STR(t, "hello");
	T_EQ_STR(e, "");
	T_CHECK(s != t);
	/* Not NUL-terminated input: only n bytes are read. */
	{
		const char raw[3] = { 'a', 'b', 'c' };
		char *r = arena_strndup(&a, raw, sizeof(raw));

		T_EQ_STR(r, "abc");
	}
	arena_free(&a);
}

static void test_too_large(void)
{
	struct arena a = { 0 };

	T_CHECK(arena_alloc(&a, SIZE_MAX) == NULL);
	T_CHECK(arena_alloc(&a, SIZE_MAX - 8) == NULL);
	T_CHECK(arena_strndup(&a, "x", SIZE_MAX) == NULL);
	arena_free(&a);
}

int main(void)
{
	T_RUN(test_alloc);
	T_RUN(test_blocks);
	T_RUN(test_strings);
	T_RUN(test_too_large);
	return test_summary();
}
