/* errtext: filling the caller's error-text buffer (the err/errlen
 * out-parameter of our functions). */
#ifndef T2S_ERRTEXT_H
#define T2S_ERRTEXT_H

#include <stddef.h>

/* printf into err (always terminated); nothing when err is NULL or
 * errlen 0, so callers may pass no buffer. */
void errtext_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
