/* proc_lookup: which local process owns a flow (per-app rules).
 *
 * A TUN flow's source address:port is the local address:port of the app's
 * socket on this machine (same network namespace), so the kernel's socket
 * tables name its owner:
 *  - Linux: NETLINK_SOCK_DIAG gives the socket's uid and inode; the pid is
 *    the process with "socket:[inode]" under /proc/PID/fd. That scan reads
 *    one symlink per open fd of every process (tens of thousands of
 *    syscalls, milliseconds, on a desktop) and is the expensive part: a
 *    found inode's pid and fd are remembered and re-checked with one
 *    readlink, and processes of the socket's uid are scanned first.
 *  - macOS: sysctl net.inet.{tcp,udp}.pcblist_n gives the socket's uid and
 *    last pid; proc_pidpath() the executable.
 * Results are cached per protocol + source address:port for cache_ms, so
 * the packets of one flow cost one lookup. A port reused by another
 * process within that time would be misattributed: keep it short.
 *
 * Blocking and synchronous (a few ms at worst); one context per thread.
 */
#ifndef T2S_PROC_LOOKUP_H
#define T2S_PROC_LOOKUP_H

#include <sys/socket.h>
#include <sys/types.h>

#define PROC_LOOKUP_CACHE_MS 3000 /* suggested cache lifetime */
#define PROC_LOOKUP_PATH_MAX 4096 /* Linux PATH_MAX; macOS proc_pidpath's maximum */

struct proc_lookup;

struct proc_info {
	pid_t pid;                       /* 0: the socket was found (uid is valid) but no
			 * process holding it could be read: another
			 * user's process without privileges, or it exited */
	uid_t uid;                       /* the socket's owner */
	char name[256];                  /* basename of path, else the kernel's short name
			 * (Linux comm, 15 bytes); "" when pid is 0 */
	char path[PROC_LOOKUP_PATH_MAX]; /* executable; "" when unreadable */
};

/* cache_ms: how long a result is reused (0: never). NULL on failure with
 * errno set (e.g. no NETLINK_SOCK_DIAG in a sandbox). */
struct proc_lookup *proc_lookup_create(unsigned cache_ms);
/* The same asking diag_fd about sockets (taken over; Linux: a
 * NETLINK_SOCK_DIAG socket made in another network namespace, whose
 * sockets it then finds), or its own when diag_fd is -1. */
struct proc_lookup *proc_lookup_create_fd(unsigned cache_ms, int diag_fd);

void proc_lookup_destroy(struct proc_lookup *pl);

/* Finds the process whose socket has local address src (sockaddr_in or
 * sockaddr_in6; a v4-mapped IPv6 address is taken as IPv4) for proto
 * IPPROTO_TCP or IPPROTO_UDP. For UDP an unconnected socket bound to the
 * wildcard address (or a dual-stack IPv6 socket for an IPv4 source)
 * matches when no socket has the exact address. out is cleared first.
 * Returns 0, -ENOENT (no such socket), -EINVAL, or -errno. */
int proc_lookup_find(struct proc_lookup *pl, int proto, const struct sockaddr *src,
		     struct proc_info *out);

#endif
