/* Private to the proc_lookup module: the query the portable half
 * (proc_lookup.c: argument checks, the result cache) hands to the one
 * platform half CMake picks (proc_lookup_linux.c or proc_lookup_darwin.c).
 * Nothing outside proc_lookup*.c includes this. */
#ifndef T2S_PROC_LOOKUP_IMPL_H
#define T2S_PROC_LOOKUP_IMPL_H

#include "tun2socks/route/proc_lookup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tun2socks/base/must_check.h"

/* One flow source, normalised: a v4-mapped IPv6 address is AF_INET. */
struct proc_key {
	uint8_t proto;    /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint16_t port;    /* host order */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
};

/* The platform's state (sockets, its own caches). */
struct proc_platform;

/* Returns 0 with *out set, or -errno. diag_fd: where the platform asks
 * about sockets, taken over (a NETLINK_SOCK_DIAG socket of another
 * network namespace, Linux), or -1 for its own. */
T2S_MUST_CHECK int proc_platform_create(struct proc_platform **out, int diag_fd);

void proc_platform_destroy(struct proc_platform *p);

/* Looks k up; out is already cleared. Returns 0, -ENOENT or -errno. */
int proc_platform_find(struct proc_platform *p, const struct proc_key *k, struct proc_info *out);

/* The last path component of path into name (cap bytes, terminated);
 * false if path has none. */
bool proc_basename(const char *path, char *name, size_t cap);

#endif
