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
