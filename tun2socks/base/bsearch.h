/* bsearch: the binary search for a boundary in a sorted array, written
 * once. bsearch(3) finds an element equal to a key; these find where the
 * key falls: the last element at or before it (the line holding a byte
 * offset, the port segment holding a port) or the first at or after it.
 *
 * Same calling convention as bsearch(3): base[0, n) of size-byte elements,
 * sorted by cmp, which compares key with an element (cmp(key, elem) < 0,
 * 0, > 0: key before, equal to, after elem); a qsort comparator serves
 * when key has the elements' type. Static inline, so that a comparator
 * known at the call site is inlined.
 */
#ifndef T2S_BSEARCH_H
#define T2S_BSEARCH_H

#include <stdbool.h>
#include <stddef.h>

typedef int bsearch_cmp_fn(const void *key, const void *elem);

/* How many leading elements of base[0, n) come before key: those <= key
 * with or_equal, those < key without. The loop both searches below share. */
static inline size_t bsearch_count_before(const void *key, const void *base, size_t n, size_t size,
					  bsearch_cmp_fn *cmp, bool or_equal)
{
	const char *b = base;
	size_t lo = 0, hi = n;

	/* Elements before lo come before key; from hi on they do not. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(key, b + mid * size);

		if (c > 0 || (or_equal && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The index of the last element <= key; 0 when there is none (or n is 0),
 * for arrays whose first element is a floor no key is below (line 1
 * starts the text, the first port segment starts at 0). */
static inline size_t bsearch_last_le(const void *key, const void *base, size_t n, size_t size,
				     bsearch_cmp_fn *cmp)
{
	size_t k = bsearch_count_before(key, base, n, size, cmp, true);

	return k ? k - 1 : 0;
}

/* The index of the first element >= key, or n when there is none. */
static inline size_t bsearch_first_ge(const void *key, const void *base, size_t n, size_t size,
				      bsearch_cmp_fn *cmp)
{
	return bsearch_count_before(key, base, n, size, cmp, false);
}

#endif
