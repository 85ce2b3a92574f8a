/* uplink on macOS (uplink.h): a non-blocking PF_ROUTE socket on the loop
 * hears every route, address and interface change of the machine
 * (rtmsg_is_route_event); some time after the last one, a look asks the
 * kernel for the default routes (RTM_GET, netmask 0) and, when our
 * sockets are not bound to the uplink, where each upstream DNS server is
 * routed. The kernel answers a GET inside write(), so a look does not
 * wait (rtsock.h). uplink_pick's routing dump is RTNETLINK's: here the
 * choice is the IPv4 default's interface, else IPv6's, never the TUN.
 *
 * Written to Apple's documented interfaces (route(4)) and not compiled
 * or run on a Mac yet. */
#include "tun2socks/system/uplink.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun2socks/system/rtmsg.h"
#include "tun2socks/system/rtsock.h"

enum { UPLINK_MAX_DNS = 16, UPLINK_BUF = 8192 };

struct uplink {
	uv_loop_t *loop;
	uv_poll_t ev_poll;
	uv_timer_t settle;
	int ev_fd;
	int open_handles; /* freed when the last close callback ran */
	struct rtsock *rs;
	struct uplink_cfg cfg;
	struct prefix dns[UPLINK_MAX_DNS];
	bool looped[UPLINK_MAX_DNS]; /* reported already */
	uint32_t ifindex;            /* the uplink as last reported */
	uint64_t looks;
	uint8_t buf[UPLINK_BUF];
};

/* The interface of the default route of fam, unless it is skip: 0 when
 * there is none (or the kernel cannot tell). */
static uint32_t default_oif(struct rtsock *rs, int fam, uint32_t skip)
{
	struct rtmsg_req req = { .type = RTMSG_GET };
	struct rtmsg_info m;

	prefix_any(&req.dst, fam);
	if (rtsock_get(rs, &req, &m) < 0 || !m.has_dst || m.dst.len != 0 || m.index == skip ||
	    (m.flags & RTMSG_F_REJECT))
		return 0;
	return m.index;
}

static uint32_t pick_now(struct rtsock *rs, uint32_t skip)
{
	uint32_t oif = default_oif(rs, AF_INET, skip);

	return oif ? oif : default_oif(rs, AF_INET6, skip);
}

static void uplink_emit(struct uplink *u, enum uplink_event_kind kind, uint32_t ifindex,
			const struct prefix *server)
{
	struct uplink_event ev = { .kind = kind, .ifindex = ifindex };
	char name[IF_NAMESIZE];

	if (ifindex && if_indextoname(ifindex, name))
		snprintf(ev.name, sizeof(ev.name), "%s", name);
	if (server)
		ev.server = *server;
	u->cfg.fn(u->cfg.arg, &ev);
}

static void uplink_look(struct uplink *u)
{
	uint32_t now = pick_now(u->rs, u->cfg.tun_ifindex);

	u->looks++;
	if (now != u->ifindex) {
		u->ifindex = now;
		uplink_emit(u, UPLINK_CHANGED, now, NULL);
		memset(u->looped, 0, sizeof(u->looped));
	}
	/* A socket bound to the uplink (IP_BOUND_IF) is routed within it:
	 * never into the TUN. */
	if (u->cfg.bind)
		return;
	for (size_t i = 0; i < u->cfg.n_dns; i++) {
		struct rtmsg_req req = { .type = RTMSG_GET, .dst = u->dns[i] };
		struct rtmsg_info m;
		bool loop;

		if (rtsock_get(u->rs, &req, &m) < 0) {
			u->looped[i] = false; /* no route at all: no loop */
			continue;
		}
		loop = m.index == u->cfg.tun_ifindex;
		if (loop && !u->looped[i])
			uplink_emit(u, UPLINK_DNS_LOOP, u->ifindex, &u->dns[i]);
		u->looped[i] = loop;
	}
}

static void uplink_on_settle(uv_timer_t *h)
{
	uplink_look(h->data);
}

/* Messages of the machine's routing: a look once things have settled
 * after one that may move the default route (or after lost ones:
 * ENOBUFS). */
static void uplink_on_event(uv_poll_t *h, int status, int events)
{
	struct uplink *u = h->data;
	bool any = status < 0;

	(void)events;
	for (;;) {
		ssize_t n = recv(u->ev_fd, u->buf, sizeof(u->buf), 0);
		struct rtmsg_info m;
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			any = true; /* ENOBUFS: messages were lost */
			if (errno != ENOBUFS)
				break;
			continue;
		}
		if (n == 0)
			break;
		while (rtmsg_parse(u->buf, (size_t)n, &off, &m) == 1)
			if (rtmsg_is_route_event(&m))
				any = true;
	}
	if (any && !uv_is_active((uv_handle_t *)&u->settle))
		uv_timer_start(&u->settle, uplink_on_settle, u->cfg.settle_ms, 0);
}

static void uplink_free(struct uplink *u)
{
	if (u->ev_fd >= 0)
		close(u->ev_fd);
	rtsock_close(u->rs);
	free(u);
}

static void uplink_on_close(uv_handle_t *h)
{
	struct uplink *u = h->data;

	if (--u->open_handles == 0)
		uplink_free(u);
}

int uplink_start(uv_loop_t *loop, const struct uplink_cfg *cfg, struct uplink **out)
{
	struct uplink *u;
	int r, fl;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	u->loop = loop;
	u->cfg = *cfg;
	if (u->cfg.settle_ms == 0)
		u->cfg.settle_ms = 200;
	u->cfg.n_dns = cfg->n_dns < UPLINK_MAX_DNS ? cfg->n_dns : UPLINK_MAX_DNS;
	memcpy(u->dns, cfg->dns, u->cfg.n_dns * sizeof(u->dns[0]));
	u->cfg.dns = u->dns;
	u->ifindex = cfg->ifindex;
	u->ev_fd = socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC);
	if (u->ev_fd < 0) {
		r = -errno;
		goto fail;
	}
	fl = fcntl(u->ev_fd, F_GETFL);
	if (fl < 0 || fcntl(u->ev_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(u->ev_fd, F_SETFD, FD_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	r = rtsock_open(&u->rs);
	if (r < 0)
		goto fail;
	r = uv_poll_init(loop, &u->ev_poll, u->ev_fd);
	if (r < 0)
		goto fail;
	u->ev_poll.data = u;
	u->open_handles = 1;
	r = uv_timer_init(loop, &u->settle);
	if (r < 0)
		goto fail_close;
	u->settle.data = u;
	u->open_handles = 2;
	r = uv_poll_start(&u->ev_poll, UV_READABLE, uplink_on_event);
	if (r < 0)
		goto fail_close;
	*out = u;
	return 0;

fail_close:
	uplink_stop(u);
	return r;
fail:
	uplink_free(u);
	return r;
}

uint64_t uplink_looks(const struct uplink *u)
{
	return u ? u->looks : 0;
}

void uplink_stop(struct uplink *u)
{
	if (u == NULL)
		return;
	if (u->open_handles == 0) {
		uplink_free(u);
		return;
	}
	uv_close((uv_handle_t *)&u->ev_poll, uplink_on_close);
	if (u->open_handles >= 2)
		uv_close((uv_handle_t *)&u->settle, uplink_on_close);
}

int uplink_find(uint32_t skip_ifindex, uint32_t *ifindex)
{
	struct rtsock *rs;
	int r = rtsock_open(&rs);

	*ifindex = 0;
	if (r < 0)
		return r;
	*ifindex = pick_now(rs, skip_ifindex);
	rtsock_close(rs);
	return 0;
}
