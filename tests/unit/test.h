/* Minimal unit-test harness shared by every tests/unit program.
 *
 * Each check counts as one assertion; the program prints one closing line
 * "N passed, N failed" (the plain form CI runners read) and exits non-zero
 * if anything failed. No global state beyond the two counters, which live
 * in the test program itself (this header is included by exactly one .c).
 */
#ifndef T2S_TEST_H
#define T2S_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed_;
static int test_failed_;

#define T_CHECK(cond)                                                                            \
	do {                                                                                     \
		if (cond) {                                                                      \
			test_passed_++;                                                          \
		} else {                                                                         \
			test_failed_++;                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

#define T_EQ_INT(a, b)                                                                      \
	do {                                                                                \
		long long ta_ = (long long)(a), tb_ = (long long)(b);                       \
		if (ta_ == tb_) {                                                           \
			test_passed_++;                                                     \
		} else {                                                                    \
			test_failed_++;                                                     \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, ta_, tb_);                                \
		}                                                                           \
	} while (0)

#define T_EQ_STR(a, b)                                                                          \
	do {                                                                                    \
		const char *ta_ = (a), *tb_ = (b);                                              \
		if (ta_ && tb_ && strcmp(ta_, tb_) == 0) {                                      \
			test_passed_++;                                                         \
		} else {                                                                        \
			test_failed_++;                                                         \
			fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, #a, #b, ta_ ? ta_ : "(null)", tb_ ? tb_ : "(null)");  \
		}                                                                               \
	} while (0)

#define T_EQ_MEM(a, b, n)                                                                         \
	do {                                                                                      \
		if (memcmp((a), (b), (n)) == 0) {                                                 \
			test_passed_++;                                                           \
		} else {                                                                          \
			test_failed_++;                                                           \
			fprintf(stderr, "%s:%d: memcmp(%s, %s, %s) failed\n", __FILE__, __LINE__, \
				#a, #b, #n);                                                      \
		}                                                                                 \
	} while (0)

/* Run one test function, naming it on failure. */
#define T_RUN(fn)                                          \
	do {                                               \
		int before_ = test_failed_;                \
		fn();                                      \
		if (test_failed_ != before_)               \
			fprintf(stderr, "FAIL %s\n", #fn); \
	} while (0)

/* Print the closing line and give main()'s exit status. */
static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", test_passed_, test_failed_);
	return test_failed_ ? 1 : 0;
}

#endif
