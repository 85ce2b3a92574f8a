/* uplink on Linux: two non-blocking NETLINK_ROUTE sockets on the loop
 * (uplink.h). One joins the link, address and route groups and only says
 * "something changed"; the other carries our requests (a dump of the
 * routes per family, then one RTM_GETROUTE per DNS server) and their
 * answers, matched by sequence number. One look at a time: events during
 * a look ask for another once it ends. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/system/uplink.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "tun2socks/system/rtnl.h"

enum { UPLINK_MAX_DNS = 16, UPLINK_MAX_CAND = 64, UPLINK_BUF = 32 * 1024 };

enum uplink_state { ST_IDLE, ST_DUMP4, ST_DUMP6, ST_CHECK };

struct uplink {
	uv_loop_t *loop;
	uv_poll_t ev_poll, req_poll;
	uv_timer_t settle;
	int ev_fd, req_fd;
	int open_handles; /* freed when the last close callback ran */
	struct uplink_cfg cfg;
	struct prefix dns[UPLINK_MAX_DNS];
	bool looped[UPLINK_MAX_DNS]; /* reported already */
	uint32_t ifindex;            /* the uplink as last reported */
	enum uplink_state state;
	uint32_t seq, seq_base;
	size_t checks_left;
	bool again; /* an event came during a look */
	struct rtnl_route cand[UPLINK_MAX_CAND];
	size_t n_cand;
	uint64_t looks;
	uint8_t *buf;
};

static int nl_socket(uint32_t groups)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int nl_send(int fd, const void *msg, int len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (len < 0)
		return len;
	if (sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
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

static void uplink_look(struct uplink *u);

/* The look is over (done or failed): the next one, if events came. */
static void uplink_idle(struct uplink *u)
{
	u->state = ST_IDLE;
	u->looks++;
	if (u->again) {
		u->again = false;
		uplink_look(u);
	}
}

static int uplink_dump(struct uplink *u, int family)
{
	u->seq_base = ++u->seq;
	return nl_send(u->req_fd, u->buf,
		       rtnl_dump_msg(RTNL_GETROUTE, (uint8_t)family, u->seq, u->buf, UPLINK_BUF));
}

static void uplink_look(struct uplink *u)
{
	if (u->state != ST_IDLE) {
		u->again = true;
		return;
	}
	u->n_cand = 0;
	if (uplink_dump(u, AF_INET) < 0) {
		uplink_idle(u);
		return;
	}
	u->state = ST_DUMP4;
}

/* The dumps are in: report a new uplink, then ask about each DNS server
 * the way our sockets now send to it. */
static void uplink_dumped(struct uplink *u)
{
	uint32_t now = uplink_pick(u->cand, u->n_cand, u->cfg.tun_ifindex);

	if (now != u->ifindex) {
		u->ifindex = now;
		uplink_emit(u, UPLINK_CHANGED, now, NULL);
		memset(u->looped, 0, sizeof(u->looped));
	}
	u->checks_left = 0;
	u->seq_base = u->seq + 1;
	for (size_t i = 0; i < u->cfg.n_dns; i++) {
		int n = rtnl_route_get_msg(++u->seq, &u->dns[i], u->cfg.mark,
					   u->cfg.bind ? u->ifindex : 0, u->buf, UPLINK_BUF);

		if (nl_send(u->req_fd, u->buf, n) == 0)
			u->checks_left++;
		else
			u->looped[i] = false;
	}
	if (u->checks_left == 0) {
		uplink_idle(u);
		return;
	}
	u->state = ST_CHECK;
}

static void uplink_reply(struct uplink *u, const struct rtnl_reply *rep)
{
	switch (u->state) {
	case ST_DUMP4:
	case ST_DUMP6:
		if (rep->seq != u->seq_base)
			return;
		if (rep->kind == RTNL_REPLY_ROUTE) {
			if (rep->route.dst.len == 0 && rep->route.table == RTNL_TABLE_MAIN &&
			    u->n_cand < UPLINK_MAX_CAND)
				u->cand[u->n_cand++] = rep->route;
			return;
		}
		if (rep->kind != RTNL_REPLY_DONE && rep->kind != RTNL_REPLY_ACK)
			return;
		if (u->state == ST_DUMP4) {
			u->state = ST_DUMP6;
			if (uplink_dump(u, AF_INET6) < 0)
				uplink_dumped(u);
			return;
		}
		uplink_dumped(u);
		return;
	case ST_CHECK: {
		size_t i = rep->seq - u->seq_base;

		if (rep->seq < u->seq_base || i >= u->cfg.n_dns)
			return;
		if (rep->kind == RTNL_REPLY_ROUTE) {
			bool loop = rep->route.oif == u->cfg.tun_ifindex;

			if (loop && !u->looped[i])
				uplink_emit(u, UPLINK_DNS_LOOP, u->ifindex, &u->dns[i]);
			u->looped[i] = loop;
		} else if (rep->kind == RTNL_REPLY_ACK) {
			u->looped[i] = false; /* no route at all: no loop */
		} else {
			return;
		}
		if (--u->checks_left == 0)
			uplink_idle(u);
		return;
	}
	case ST_IDLE:
		return;
	}
}

static void uplink_on_req(uv_poll_t *h, int status, int events)
{
	struct uplink *u = h->data;

	(void)events;
	if (status < 0)
		return;
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(u->req_fd, u->buf, UPLINK_BUF, 0, (struct sockaddr *)&from,
				     &fromlen);
		struct rtnl_reply rep;
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && u->state != ST_IDLE) {
				/* ENOBUFS: answers were lost; look again. */
				u->again = true;
				uplink_idle(u);
			}
			return;
		}
		if (from.nl_pid != 0)
			continue;
		while (rtnl_parse_next(u->buf, (size_t)n, &off, &rep) == 1)
			uplink_reply(u, &rep);
	}
}

static void uplink_on_settle(uv_timer_t *h)
{
	uplink_look(h->data);
}

/* Any link, address or route event (or lost ones: ENOBUFS): a look once
 * things have settled. What changed is not read: the look sees it all. */
static void uplink_on_event(uv_poll_t *h, int status, int events)
{
	struct uplink *u = h->data;
	bool any = status < 0;

	(void)events;
	for (;;) {
		ssize_t n = recv(u->ev_fd, u->buf, UPLINK_BUF, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		any = true;
		if (n < 0 && errno != ENOBUFS)
			break;
	}
	if (any && !uv_is_active((uv_handle_t *)&u->settle))
		uv_timer_start(&u->settle, uplink_on_settle, u->cfg.settle_ms, 0);
}

static void uplink_free(struct uplink *u)
{
	if (u->ev_fd >= 0)
		close(u->ev_fd);
	if (u->req_fd >= 0)
		close(u->req_fd);
	free(u->buf);
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
	int r;

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
	u->seq = (uint32_t)time(NULL);
	u->ev_fd = nl_socket(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			     RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE);
	u->req_fd = nl_socket(0);
	u->buf = malloc(UPLINK_BUF);
	if (u->ev_fd < 0 || u->req_fd < 0 || u->buf == NULL) {
		r = u->buf == NULL ? -ENOMEM : u->ev_fd < 0 ? u->ev_fd : u->req_fd;
		goto fail;
	}
	r = uv_poll_init(loop, &u->ev_poll, u->ev_fd);
	if (r < 0)
		goto fail;
	u->ev_poll.data = u;
	u->open_handles++;
	r = uv_poll_init(loop, &u->req_poll, u->req_fd);
	if (r < 0)
		goto fail_close;
	u->req_poll.data = u;
	u->open_handles++;
	r = uv_timer_init(loop, &u->settle);
	if (r < 0)
		goto fail_close;
	u->settle.data = u;
	u->open_handles++;
	r = uv_poll_start(&u->ev_poll, UV_READABLE, uplink_on_event);
	if (r == 0)
		r = uv_poll_start(&u->req_poll, UV_READABLE, uplink_on_req);
	if (r < 0)
		goto fail_close;
	/* A first look: what changed between the caller's look and now, and
	 * the DNS servers checked once. */
	uplink_look(u);
	*out = u;
	return 0;

fail_close:
	uplink_stop(u);
	return r;
fail:
	if (u->ev_fd < 0)
		u->ev_fd = -1;
	if (u->req_fd < 0)
		u->req_fd = -1;
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
		uv_close((uv_handle_t *)&u->req_poll, uplink_on_close);
	if (u->open_handles >= 3)
		uv_close((uv_handle_t *)&u->settle, uplink_on_close);
}

/* ---- a look at startup (blocking) ------------------------------------------ */

struct find {
	struct rtnl_route cand[UPLINK_MAX_CAND];
	size_t n;
};

static int find_route(void *arg, const struct rtnl_route *r)
{
	struct find *f = arg;

	if (r->dst.len == 0 && r->table == RTNL_TABLE_MAIN && f->n < UPLINK_MAX_CAND)
		f->cand[f->n++] = *r;
	return 0;
}

int uplink_find(uint32_t skip_ifindex, uint32_t *ifindex)
{
	struct find *f = calloc(1, sizeof(*f));
	struct rtnl *nl = NULL;
	int r;

	*ifindex = 0;
	if (f == NULL)
		return -ENOMEM;
	r = rtnl_open(&nl);
	if (r == 0)
		r = rtnl_list_routes(nl, AF_INET, find_route, f);
	if (r == 0)
		r = rtnl_list_routes(nl, AF_INET6, find_route, f);
	if (r == 0)
		*ifindex = uplink_pick(f->cand, f->n, skip_ifindex);
	rtnl_close(nl);
	free(f);
	return r;
}
