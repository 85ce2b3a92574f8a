/* rtsock on macOS: requests on a PF_ROUTE socket (rtsock.h). The codec's
 * layout (rtmsg.h) is checked here against the SDK's own headers. */
#include "tun2socks/system/rtsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>
#include <net/if_dl.h>
#include <net/route.h>
#include <netinet/in.h>

_Static_assert(sizeof(struct rt_msghdr) == RTMSG_HDR_LEN, "rt_msghdr");
_Static_assert(sizeof(struct ifa_msghdr) == RTMSG_IFA_LEN, "ifa_msghdr");
_Static_assert(sizeof(struct if_msghdr) == RTMSG_IF_LEN, "if_msghdr");
_Static_assert(offsetof(struct rt_msghdr, rtm_flags) == 8 &&
		       offsetof(struct rt_msghdr, rtm_addrs) == 12 &&
		       offsetof(struct rt_msghdr, rtm_pid) == 16 &&
		       offsetof(struct rt_msghdr, rtm_seq) == 20 &&
		       offsetof(struct rt_msghdr, rtm_errno) == 24,
	       "rt_msghdr offsets");
_Static_assert(offsetof(struct if_msghdr, ifm_index) == 12 &&
		       offsetof(struct ifa_msghdr, ifam_index) == 12,
	       "interface message offsets");
_Static_assert(RTM_VERSION == RTMSG_VERSION && RTM_ADD == RTMSG_ADD && RTM_DELETE == RTMSG_DELETE &&
		       RTM_CHANGE == RTMSG_CHANGE && RTM_GET == RTMSG_GET &&
		       RTM_NEWADDR == RTMSG_NEWADDR && RTM_DELADDR == RTMSG_DELADDR &&
		       RTM_IFINFO == RTMSG_IFINFO,
	       "message types");
_Static_assert(RTF_UP == RTMSG_F_UP && RTF_GATEWAY == RTMSG_F_GATEWAY && RTF_HOST == RTMSG_F_HOST &&
		       RTF_REJECT == RTMSG_F_REJECT && RTF_STATIC == RTMSG_F_STATIC &&
		       RTF_IFSCOPE == RTMSG_F_IFSCOPE,
	       "route flags");
_Static_assert(RTA_DST == RTMSG_A_DST && RTA_GATEWAY == RTMSG_A_GATEWAY &&
		       RTA_NETMASK == RTMSG_A_NETMASK && RTA_IFP == RTMSG_A_IFP &&
		       RTA_IFA == RTMSG_A_IFA && RTAX_MAX == RTMSG_AX_MAX,
	       "address bits");
_Static_assert(AF_INET == RTMSG_AF_INET && AF_INET6 == RTMSG_AF_INET6 && AF_LINK == RTMSG_AF_LINK,
	       "address families");
_Static_assert(sizeof(struct sockaddr_in) == RTMSG_SIN_LEN &&
		       sizeof(struct sockaddr_in6) == RTMSG_SIN6_LEN &&
		       sizeof(struct sockaddr_dl) == RTMSG_SDL_LEN,
	       "sockaddr sizes");

struct rtsock {
	int fd;
	int32_t seq;
	pid_t pid;
	uint8_t buf[2048];
};

int rtsock_open(struct rtsock **out)
{
	struct timeval tv = { .tv_sec = 2 };
	struct rtsock *rs;
	int r;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL)
		return -ENOMEM;
	rs->fd = socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC);
	if (rs->fd < 0) {
		r = -errno;
		free(rs);
		return r;
	}
	if (fcntl(rs->fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    setsockopt(rs->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(rs->fd);
		free(rs);
		return r;
	}
	rs->pid = getpid();
	rs->seq = (int32_t)(time(NULL) & 0x3fffffff);
	*out = rs;
	return 0;
}

void rtsock_close(struct rtsock *rs)
{
	if (rs == NULL)
		return;
	close(rs->fd);
	free(rs);
}

/* Every routing socket gets every change of the machine: what queued up
 * since our last request is dropped, so that the buffer has room for the
 * answer. */
static void drain(struct rtsock *rs)
{
	while (recv(rs->fd, rs->buf, sizeof(rs->buf), MSG_DONTWAIT) > 0)
		;
}

static int send_req(struct rtsock *rs, struct rtmsg_req *req)
{
	uint8_t msg[RTMSG_MAX_LEN];
	ssize_t n;
	int len;

	req->seq = ++rs->seq;
	len = rtmsg_build(req, msg, sizeof(msg));
	if (len < 0)
		return len;
	do {
		n = write(rs->fd, msg, (size_t)len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

int rtsock_change(struct rtsock *rs, struct rtmsg_req *req)
{
	return send_req(rs, req);
}

int rtsock_get(struct rtsock *rs, struct rtmsg_req *req, struct rtmsg_info *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	drain(rs);
	r = send_req(rs, req);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(rs->fd, rs->buf, sizeof(rs->buf));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			memset(out, 0, sizeof(*out));
			return r;
		}
		while (rtmsg_parse(rs->buf, (size_t)n, &off, out) == 1) {
			if (!out->known || out->type != RTMSG_GET || out->pid != rs->pid ||
			    out->seq != req->seq)
				continue;
			return out->err ? -out->err : 0;
		}
	}
}
