/* sock: the daemon's own outbound sockets, kept out of the TUN.
 *
 * Every socket we open toward an upstream (proxy, DNS, DIRECT) goes through
 * here so the loop-avoidance options are applied before connect(): Linux
 * SO_BINDTODEVICE (--bind-interface) and SO_MARK (--fwmark); macOS
 * IP_BOUND_IF / IPV6_BOUND_IF (--bind-interface). See research.md s. 6.
 */
#ifndef T2S_SOCK_H
#define T2S_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct sock_opts {
	char bind_iface[32];   /* "" for none */
	unsigned iface_index;  /* resolved by sock_opts_resolve() */
	bool has_fwmark;
	uint32_t fwmark;
};

/* Checks the options are usable on this platform and resolves the
 * interface index. Returns 0, -ENODEV (no such interface) or -ENOTSUP
 * (fwmark where the platform has none). */
int sock_opts_resolve(struct sock_opts *o);

/* Platform part: whether SO_MARK-style marking exists here. */
bool sock_platform_has_fwmark(void);

/* A non-blocking, close-on-exec socket of the given family and type
 * (SOCK_STREAM: TCP_NODELAY set) with the options applied. Returns the fd
 * or -errno (-EPERM when an option needs privileges we lack). */
int sock_open(int family, int type, const struct sock_opts *o);

/* Applies the loop-avoidance options (interface, mark) to a socket that
 * someone else created, such as c-ares; sock_open() does it for ours.
 * Returns 0 or -errno. */
int sock_apply(int fd, int family, const struct sock_opts *o);

/* Starts a non-blocking connect: 0 connected, -EINPROGRESS pending, or
 * -errno. */
int sock_connect(int fd, const struct sockaddr *sa, socklen_t len);

/* The pending error of a socket after a connect completes (SO_ERROR), as
 * 0 or -errno. */
int sock_error(int fd);

/* Closes with an RST instead of a FIN (SO_LINGER 0): how a reset on one
 * side of a relay is passed on to the other. */
void sock_close_reset(int fd);

#endif
