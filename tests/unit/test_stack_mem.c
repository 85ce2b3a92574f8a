/* Unit tests for lwIP's heap in front of malloc (lwip-port/stack_mem.c):
 * every size gets usable bytes of its size, blocks of a class are reused,
 * the cache is bounded, decays to empty two ticks after use stops, and
 * drains; under ASan (no cache) every free goes to malloc. */
#include "lwip-port/stack_mem.h"
#include "test.h"

#include <stdint.h>
#include <string.h>

/* Every size from 0 to past the largest class: writable to the last byte
 * (ASan checks the bounds in that build), 16-aligned, and freed whole. */
static void test_sizes(void)
{
	static const size_t big[] = { 1460,        1500,        8440,   9000,       65535,
				      65536 + 200, 131072 - 16, 131072, 131072 + 1, 300000 };

	for (size_t n = 0; n <= 4200; n++) {
		unsigned char *p = stack_mem_alloc(n);

		T_CHECK(p != NULL);
		if (p == NULL)
			return;
		T_CHECK(((uintptr_t)p & 15) == 0);
		memset(p, 0xa5, n);
		stack_mem_free(p);
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		unsigned char *p = stack_mem_alloc(big[i]);

		T_CHECK(p != NULL);
		if (p == NULL)
			return;
		memset(p, 0x5a, big[i]);
		T_CHECK(p[0] == 0x5a && p[big[i] - 1] == 0x5a);
		stack_mem_free(p);
	}
	stack_mem_drain();
	T_EQ_INT(stack_mem_cached(), 0);
	stack_mem_free(NULL);
}

/* A freed block comes back for the next request of its class (a bigger
 * request in the same class too), not for another class. */
static void test_reuse(void)
{
	void *a = stack_mem_alloc(1460), *b, *c;

	T_CHECK(a != NULL);
	stack_mem_free(a);
	if (stack_mem_caching()) {
		T_CHECK(stack_mem_cached() >= 1460);
		b = stack_mem_alloc(1470); /* 1460+16 and 1470+16: class 1536 */
		T_CHECK(b == a);
		T_EQ_INT(stack_mem_cached(), 0);
		stack_mem_free(b);
		c = stack_mem_alloc(100); /* another class: fresh from malloc */
		T_CHECK(c != a);
		stack_mem_free(c);
	} else {
		T_EQ_INT(stack_mem_cached(), 0);
	}
	stack_mem_drain();
	T_EQ_INT(stack_mem_cached(), 0);
}

/* calloc zeroes a reused block and refuses an overflowing product. */
static void test_calloc(void)
{
	unsigned char *p = stack_mem_alloc(256), *q;

	T_CHECK(p != NULL);
	if (p == NULL)
		return;
	memset(p, 0xff, 256);
	stack_mem_free(p);
	q = stack_mem_calloc(16, 16);
	T_CHECK(q != NULL);
	if (q == NULL)
		return;
	for (int i = 0; i < 256; i++)
		if (q[i] != 0) {
			T_CHECK(q[i] == 0);
			break;
		}
	stack_mem_free(q);
	T_CHECK(stack_mem_calloc(SIZE_MAX / 2, 4) == NULL);
	stack_mem_drain();
}

/* Never more than STACK_MEM_CACHE_MAX cached, whatever is freed. */
static void test_bound(void)
{
	enum { N = 8000 };
	static void *p[N];

	for (int i = 0; i < N; i++) {
		p[i] = stack_mem_alloc(2000);
		T_CHECK(p[i] != NULL);
	}
	for (int i = 0; i < N; i++)
		stack_mem_free(p[i]);
	T_CHECK(stack_mem_cached() <= STACK_MEM_CACHE_MAX);
	if (stack_mem_caching())
		T_CHECK(stack_mem_cached() > STACK_MEM_CACHE_MAX - 4096);
	stack_mem_drain();
	T_EQ_INT(stack_mem_cached(), 0);
}

/* Decay: blocks used between two ticks stay; those left untouched for a
 * whole tick go. A burst's blocks are all gone two ticks after it ends. */
static void test_decay(void)
{
	enum { N = 64 };
	void *p[N];
	size_t one;

	for (int i = 0; i < N; i++)
		p[i] = stack_mem_alloc(1400);
	for (int i = 0; i < N; i++)
		stack_mem_free(p[i]);
	one = stack_mem_cached() / N;
	if (!stack_mem_caching()) {
		T_EQ_INT(stack_mem_decay(), 0);
		return;
	}
	/* The first tick sees the burst itself: the list was empty when it
	 * began, so nothing was idle the whole time. */
	T_EQ_INT(stack_mem_decay(), 0);
	T_EQ_INT(stack_mem_cached(), N * one);
	/* Steady use of 10 at a time between ticks: 54 idle, and they go. */
	for (int i = 0; i < 10; i++)
		p[i] = stack_mem_alloc(1400);
	for (int i = 0; i < 10; i++)
		stack_mem_free(p[i]);
	T_EQ_INT(stack_mem_decay(), (N - 10) * one);
	T_EQ_INT(stack_mem_cached(), 10 * one);
	/* Traffic stops: the rest go at the next tick. */
	T_EQ_INT(stack_mem_decay(), 10 * one);
	T_EQ_INT(stack_mem_cached(), 0);
	T_EQ_INT(stack_mem_decay(), 0);
}

int main(void)
{
	T_RUN(test_sizes);
	T_RUN(test_reuse);
	T_RUN(test_calloc);
	T_RUN(test_bound);
	T_RUN(test_decay);
	return test_summary();
}
