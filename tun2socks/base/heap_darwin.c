/* macOS: ask every malloc zone to give back what it can. */
#include <malloc/malloc.h>

#include "tun2socks/base/heap.h"

/* The macOS allocator needs no tuning for the data path. */
void heap_init(void)
{
}

void heap_release(void)
{
	malloc_zone_pressure_relief(NULL, 0);
}

size_t heap_in_use(void)
{
	malloc_statistics_t st;

	malloc_zone_statistics(NULL, &st);
	return st.size_in_use;
}

size_t heap_rss(void)
{
	return 0;
}
