/* Unit tests for the boundary searches (tun2socks/base/bsearch.h), against
 * a linear scan. */
#include "tun2socks/base/bsearch.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* The searches as their comments define them, one element at a time. */
static size_t naive_last_le(const int *a, size_t n, int key)
{
	size_t r = 0;

	for (size_t i = 0; i < n; i++)
		if (a[i] <= key)
			r = i;
	return r;
}

static size_t naive_first_ge(const int *a, size_t n, int key)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] >= key)
			return i;
	return n;
}

static void test_small(void)
{
	const int a[] = { 0, 10, 10, 20, 30 };
	int k;

	k = -1; /* below every element */
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 0);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 0);
	k = 0;
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 0);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 0);
	k = 10; /* equal elements: the last of them, the first of them */
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 2);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 1);
	k = 15;
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 2);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 3);
	k = 30;
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 4);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 4);
	k = 99; /* above every element */
	T_EQ_INT(bsearch_last_le(&k, a, 5, sizeof(*a), int_cmp), 4);
	T_EQ_INT(bsearch_first_ge(&k, a, 5, sizeof(*a), int_cmp), 5);
	/* Empty. */
	T_EQ_INT(bsearch_last_le(&k, a, 0, sizeof(*a), int_cmp), 0);
	T_EQ_INT(bsearch_first_ge(&k, a, 0, sizeof(*a), int_cmp), 0);
}

/* A key of another type than the elements'. */
struct span {
	unsigned start;
	const char *name;
};

static int start_cmp(const void *key, const void *elem)
{
	unsigned k = *(const unsigned *)key, s = ((const struct span *)elem)->start;

	return k < s ? -1 : k > s;
}

static void test_struct(void)
{
	const struct span v[] = { { 0, "a" }, { 5, "b" }, { 9, "c" } };
	unsigned k = 7;

	T_EQ_STR(v[bsearch_last_le(&k, v, 3, sizeof(*v), start_cmp)].name, "b");
	T_EQ_STR(v[bsearch_first_ge(&k, v, 3, sizeof(*v), start_cmp)].name, "c");
}

static void test_random(void)
{
	int a[64];
	int ok = 1;

	srand(1);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % 65);

		for (size_t i = 0; i < n; i++)
			a[i] = rand() % 40;
		qsort(a, n, sizeof(*a), int_cmp);
		for (int key = -2; key < 42; key++) {
			if (bsearch_last_le(&key, a, n, sizeof(*a), int_cmp) !=
			    naive_last_le(a, n, key))
				ok = 0;
			if (bsearch_first_ge(&key, a, n, sizeof(*a), int_cmp) !=
			    naive_first_ge(a, n, key))
				ok = 0;
		}
	}
	T_CHECK(ok);
}

int main(void)
{
	T_RUN(test_small);
	T_RUN(test_struct);
	T_RUN(test_random);
	return test_summary();
}
