/* lwIP architecture glue: compiler and platform facts, from the C library
 * and compiler builtins only so one file serves Linux and macOS. */
#ifndef T2S_ARCH_CC_H
#define T2S_ARCH_CC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BYTE_ORDER
#define BYTE_ORDER __BYTE_ORDER__
#endif

/* Used by lwIP for initial sequence numbers and ephemeral ports. */
unsigned int lwip_port_rand(void);
#define LWIP_RAND() lwip_port_rand()

/* lwIP's own diagnostics are only compiled in with LWIP_DEBUG. */
#define LWIP_PLATFORM_DIAG(x) \
	do {                  \
		printf x;     \
	} while (0)
/* An lwIP assertion is a broken invariant in our use of lwIP: log and stop
 * rather than run on with corrupt state. */
void lwip_port_assert(const char *msg, const char *file, int line);
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert((x), __FILE__, __LINE__)

#define LWIP_ERR_T int

#endif
