/* glibc keeps freed chunks in its arenas; malloc_trim(0) returns whole free
 * pages anywhere in the heap (madvise), not only at its top. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#include "tun2socks/base/heap.h"

/* The data path allocates and frees 64 KiB packet buffers at line rate.
 * glibc's automatic trimming (above 128 KiB free at the heap top) handed
 * those pages back and faulted them in again on every cycle; instead the
 * heap keeps up to 16 MiB and the daemon calls heap_release() after flows
 * end. */
void heap_init(void)
{
	mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
}

void heap_release(void)
{
	malloc_trim(0);
}

size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	/* chunks in use in the arenas, and those mmap()ed on their own */
	return mi.uordblks + mi.hblkhd;
}

size_t heap_rss(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	long page = sysconf(_SC_PAGESIZE);

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return page > 0 ? (size_t)resident * (size_t)page : 0;
}
