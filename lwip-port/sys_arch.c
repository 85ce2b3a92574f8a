/* lwIP's platform services for NO_SYS mode: a millisecond clock, a random
 * source and the assertion sink. */
#include "lwip/opt.h"
#include "lwip/sys.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tun2socks/base/log.h"

u32_t sys_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* xorshift64*, seeded from the kernel once. lwIP uses it for initial
 * sequence numbers and ephemeral ports of a stack that only ever talks to
 * the local kernel through the TUN, so a fast PRNG is enough. */
static uint64_t rand_state;

unsigned int lwip_port_rand(void)
{
	uint64_t x = rand_state;

	if (x == 0) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, &x, sizeof(x)) != (ssize_t)sizeof(x))
			x = (uint64_t)sys_now() * 0x9E3779B97F4A7C15ull;
		if (fd >= 0)
			close(fd);
		x |= 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rand_state = x;
	return (unsigned int)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
	log_error("lwIP assertion failed at %s:%d: %s", file, line, msg);
	abort();
}
