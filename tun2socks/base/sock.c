/* Portable half of sock: option checks, opening, connect, I/O adapters
 * and close. */
#include "tun2socks/base/sock.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <uv.h>

int sock_opts_resolve(struct sock_opts *o)
{
	if (o->has_fwmark && !sock_platform_has_fwmark())
		return -ENOTSUP;
	o->iface_index = 0;
	if (o->bind_iface[0] != '\0') {
		o->iface_index = if_nametoindex(o->bind_iface);
		if (o->iface_index == 0)
			return -ENODEV;
	}
	return 0;
}

unsigned sock_keepalive_s(unsigned s)
{
	return s != 0 ? s : SOCK_KEEPALIVE_DEFAULT_S;
}

/* TCP_KEEPINTVL and TCP_KEEPCNT are named alike on Linux and macOS (10.8
 * on); the idle time is not. */
int sock_keepalive(int fd, const struct sock_opts *o)
{
	int one = 1, intvl = (int)sock_keepalive_s(o ? o->keepalive_intvl_s : 0),
	    cnt = SOCK_KEEPALIVE_PROBES;

	if (o != NULL && o->keepalive_off)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		return -errno;
	return sock_platform_keepidle(fd, sock_keepalive_s(o ? o->keepalive_idle_s : 0));
}

int sock_open(int family, int type, const struct sock_opts *o)
{
	int fd, one = 1, ret;

	fd = sock_platform_socket(family, type);
	if (fd < 0)
		return fd;
	if (type == SOCK_STREAM &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = sock_apply(fd, family, o);
	if (ret < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return ret;
}

int sock_poll_error(int fd, int status)
{
	int r = sock_error(fd);

	return r < 0 ? r : status;
}

int sock_poll_events(int wants)
{
	return ((wants & STREAM_WANT_READ) ? UV_READABLE : 0) |
	       ((wants & STREAM_WANT_WRITE) ? UV_WRITABLE : 0);
}

ssize_t sock_io_read(void *ctx, void *buf, size_t len)
{
	ssize_t n = read(*(const int *)ctx, buf, len);

	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN
										   : -errno;
	return n;
}

ssize_t sock_io_write(void *ctx, const void *buf, size_t len)
{
	ssize_t n = send(*(const int *)ctx, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN
										   : -errno;
	return n;
}

ssize_t sock_io_writev(void *ctx, const struct iovec *iov, int cnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	ssize_t n = sendmsg(*(const int *)ctx, &mh, MSG_NOSIGNAL);

	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? -EAGAIN
										   : -errno;
	return n;
}

int sock_io_shutdown(void *ctx)
{
	return shutdown(*(const int *)ctx, SHUT_WR) < 0 ? -errno : 0;
}

struct stream sock_stream(int *fd)
{
	return (struct stream){
		.read = sock_io_read,
		.write = sock_io_write,
		.ctx = fd,
		.writev = sock_io_writev,
		.shutdown = sock_io_shutdown,
	};
}

int sock_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno == EINPROGRESS || errno == EINTR)
		return -EINPROGRESS;
	return -errno;
}

int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

void sock_close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

ssize_t sock_send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
