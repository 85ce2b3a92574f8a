/* macOS: ask every malloc zone to give back what it can. */
#include <malloc/malloc.h>

#include "mem.h"

void mem_release(void)
{
	malloc_zone_pressure_relief(NULL, 0);
}
