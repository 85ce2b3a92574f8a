/* glibc keeps freed chunks in its arenas; malloc_trim(0) returns whole free
 * pages anywhere in the heap (madvise), not only at its top. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>

#include "mem.h"

void mem_release(void)
{
	malloc_trim(0);
}
