/* sock: the daemon's own outbound sockets, kept out of the TUN.
 *
 * Every socket we open toward an upstream (proxy, DNS, DIRECT) goes through
 * here so the loop-avoidance options are applied before connect(): Linux
 * SO_BINDTODEVICE (--bind-interface) and SO_MARK (--fwmark); macOS
 * IP_BOUND_IF / IPV6_BOUND_IF (--bind-interface). TCP keepalive (mihomo's
 * keep-alive-idle / -interval) finds an upstream gone without a word
 * (docs/design.md §12).
 * Also the socket as the bottom layer of a connection (sock_stream) and
 * the glue between libuv's poll events and stream readiness.
 */
#ifndef T2S_SOCK_H
#define T2S_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "tun2socks/base/must_check.h"

#include "tun2socks/base/stream.h"

struct sock_opts {
	char bind_iface[32];  /* "" for none */
	unsigned iface_index; /* resolved by sock_opts_resolve() */
	bool has_fwmark;
	uint32_t fwmark;
	/* TCP keepalive, as sock_keepalive() sets it: on unless
	 * keepalive_off; seconds before the first probe and between probes,
	 * 0 meaning SOCK_KEEPALIVE_DEFAULT_S (as mihomo's 0);
	 * SOCK_KEEPALIVE_PROBES unanswered probes end it. */
	bool keepalive_off;
	unsigned keepalive_idle_s, keepalive_intvl_s;
};

#define SOCK_KEEPALIVE_DEFAULT_S 15u /* mihomo's, and Go's dialer's */
#define SOCK_KEEPALIVE_PROBES 9u
#define SOCK_KEEPALIVE_MAX_S 32767u /* the kernels' limit for both */

/* A keepalive time of sock_opts as sock_keepalive() uses it: 0 stands
 * for SOCK_KEEPALIVE_DEFAULT_S. */
unsigned sock_keepalive_s(unsigned s);

/* Checks the options are usable on this platform and resolves the
 * interface index. Returns 0, -ENODEV (no such interface) or -ENOTSUP
 * (fwmark where the platform has none). */
T2S_MUST_CHECK int sock_opts_resolve(struct sock_opts *o);

/* Platform parts: whether SO_MARK-style marking exists here, a
 * non-blocking, close-on-exec socket (0 or -errno), and the keepalive
 * idle time, whose option has a different name on each (0 or -errno). */
bool sock_platform_has_fwmark(void);
int sock_platform_socket(int family, int type);
int sock_platform_keepidle(int fd, unsigned idle_s);

/* A non-blocking, close-on-exec socket of the given family and type
 * (SOCK_STREAM: TCP_NODELAY set) with the options applied. Returns the fd
 * or -errno (-EPERM when an option needs privileges we lack). */
T2S_MUST_CHECK int sock_open(int family, int type, const struct sock_opts *o);

/* Turns on TCP keepalive with o's times (NULL: the defaults); nothing
 * when o->keepalive_off. Four system calls, so a flow asks only once it
 * has lived a second (flow_tcp.c); long-lived sockets at their open.
 * Returns 0 or -errno (-EINVAL: a time over SOCK_KEEPALIVE_MAX_S). */
T2S_MUST_CHECK int sock_keepalive(int fd, const struct sock_opts *o);

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

/* The real error behind a libuv poll callback: libuv reports any POLLERR
 * as UV_EBADF, while SO_ERROR holds the reason (ECONNREFUSED, ICMP
 * unreachable...). Returns that -errno, else status (0 or negative). */
int sock_poll_error(int fd, int status);

/* The libuv poll events (UV_READABLE, UV_WRITABLE) for a mask of
 * STREAM_WANT_READ / STREAM_WANT_WRITE (a stream_step or stream_wants()). */
int sock_poll_events(int wants);

/* stream adapters over a non-blocking fd; ctx points to the int fd.
 * Return bytes moved, 0 for EOF (read), -EAGAIN, or -errno. Writes never
 * raise SIGPIPE (-EPIPE instead). shutdown is shutdown(SHUT_WR). */
ssize_t sock_io_read(void *ctx, void *buf, size_t len);
ssize_t sock_io_write(void *ctx, const void *buf, size_t len);
ssize_t sock_io_writev(void *ctx, const struct iovec *iov, int cnt);
int sock_io_shutdown(void *ctx);

/* The stream over *fd with all of the above; fd must outlive it. */
struct stream sock_stream(int *fd);

/* Sends len bytes of buf as one message on a unix socket, with descriptor
 * fd attached (SCM_RIGHTS) when fd >= 0; EINTR is retried. Returns the
 * bytes sent or -errno. */
ssize_t sock_send_fd(int sock, const void *buf, size_t len, int fd);

/* Closes with an RST instead of a FIN (SO_LINGER 0): how a reset on one
 * side of a relay is passed on to the other. */
void sock_close_reset(int fd);

#endif
