/* For the unit tests that need root and a network namespace of their own
 * (unshare(CLONE_NEWNET) first thing): bringing lo up in it, and the exit
 * status when they cannot run. Header-only. */
#ifndef T2S_ROOT_HELPER_H
#define T2S_ROOT_HELPER_H

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Device routes need their device up; lo is down in a new namespace.
 * 0 or -1. */
static inline int root_helper_lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

/* Not root, or no namespace: a failure, because CI runs as root and a
 * silent skip would hide a broken runner; T2S_ALLOW_SKIP=1 makes it 77
 * (CTest's "skipped") for developer machines. */
static inline int root_helper_not_runnable(const char *test, const char *why)
{
	const char *allow = getenv("T2S_ALLOW_SKIP");

	if (allow && strcmp(allow, "1") == 0) {
		printf("SKIP %s: %s\n", test, why);
		return 77;
	}
	fprintf(stderr, "FAIL %s: %s (needs root; set T2S_ALLOW_SKIP=1 to skip)\n", test, why);
	return 1;
}

#endif
