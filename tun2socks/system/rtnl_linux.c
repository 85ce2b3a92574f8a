/* rtnl on Linux: one NETLINK_ROUTE socket, one request at a time (rtnl.h).
 * Requests ask for an ACK and wait for the one with their sequence number;
 * dumps read until NLMSG_DONE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/system/rtnl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

/* rtnl_msg.h spells the ABI out so that it builds anywhere: the same
 * numbers as the kernel's headers. */
#define SAME(a, b) ((long)(a) == (long)(b))
_Static_assert(SAME(RTNL_NEWRULE, RTM_NEWRULE) && SAME(RTNL_DELRULE, RTM_DELRULE) &&
		       SAME(RTNL_GETRULE, RTM_GETRULE) && SAME(RTNL_NEWROUTE, RTM_NEWROUTE) &&
		       SAME(RTNL_DELROUTE, RTM_DELROUTE) && SAME(RTNL_GETROUTE, RTM_GETROUTE),
	       "message types");
_Static_assert(SAME(RTNL_NLMSG_ERROR, NLMSG_ERROR) && SAME(RTNL_NLMSG_DONE, NLMSG_DONE) &&
		       SAME(RTNL_F_REQUEST, NLM_F_REQUEST) && SAME(RTNL_F_ACK, NLM_F_ACK) &&
		       SAME(RTNL_F_CREATE, NLM_F_CREATE) && SAME(RTNL_F_EXCL, NLM_F_EXCL) &&
		       SAME(RTNL_F_DUMP, NLM_F_DUMP) && SAME(RTNL_F_MULTI, NLM_F_MULTI) &&
		       SAME(16, RTA_MARK) && SAME(4, RTA_OIF) && SAME(1, RTA_DST) &&
		       SAME(0x1000, RTM_F_LOOKUP_TABLE),
	       "netlink flags");
_Static_assert(SAME(RTNL_ACT_TABLE, FR_ACT_TO_TBL) && SAME(RTNL_ACT_GOTO, FR_ACT_GOTO) &&
		       SAME(RTNL_ACT_NOP, FR_ACT_NOP) &&
		       SAME(RTNL_ACT_UNREACHABLE, FR_ACT_UNREACHABLE) &&
		       SAME(RTNL_ACT_BLACKHOLE, FR_ACT_BLACKHOLE) &&
		       SAME(RTNL_ACT_PROHIBIT, FR_ACT_PROHIBIT),
	       "rule actions");
_Static_assert(SAME(RTNL_RT_UNICAST, RTN_UNICAST) && SAME(RTNL_RT_UNREACHABLE, RTN_UNREACHABLE) &&
		       SAME(RTNL_RT_THROW, RTN_THROW) && SAME(RTNL_RT_BLACKHOLE, RTN_BLACKHOLE) &&
		       SAME(RTNL_RT_PROHIBIT, RTN_PROHIBIT) && SAME(RTNL_RT_LOCAL, RTN_LOCAL),
	       "route types");
_Static_assert(SAME(RTNL_TABLE_MAIN, RT_TABLE_MAIN) && SAME(RTNL_SCOPE_LINK, RT_SCOPE_LINK) &&
		       SAME(RTNL_SCOPE_NOWHERE, RT_SCOPE_NOWHERE) &&
		       SAME(RTNL_SCOPE_UNIVERSE, RT_SCOPE_UNIVERSE) &&
		       SAME(RTNL_PROTO_STATIC, RTPROT_STATIC),
	       "tables, scopes, protocols");
_Static_assert(sizeof(struct fib_rule_hdr) == 12 && sizeof(struct rtmsg) == 12 &&
		       sizeof(struct nlmsghdr) == 16,
	       "header sizes");

/* The kernel answers at once; the timeout only keeps a wedged socket from
 * hanging startup or shutdown. */
#define RTNL_TIMEOUT_SEC 5
#define RTNL_BUF (64 * 1024)

struct rtnl {
	int fd;
	uint32_t seq;
	uint8_t *buf; /* RTNL_BUF bytes: requests and replies */
};

int rtnl_open(struct rtnl **out)
{
	struct timeval tv = { .tv_sec = RTNL_TIMEOUT_SEC };
	struct rtnl *nl;
	int one = 1, r;

	*out = NULL;
	nl = calloc(1, sizeof(*nl));
	if (nl == NULL)
		return -ENOMEM;
	nl->buf = malloc(RTNL_BUF);
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->buf == NULL || nl->fd < 0) {
		r = nl->buf == NULL ? -ENOMEM : -errno;
		goto fail;
	}
	/* Best effort: the kernel's own words for a refusal, short ACKs. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto fail;
	}
	nl->seq = (uint32_t)time(NULL);
	*out = nl;
	return 0;
fail:
	rtnl_close(nl);
	return r;
}

void rtnl_close(struct rtnl *nl)
{
	if (nl == NULL)
		return;
	if (nl->fd >= 0)
		close(nl->fd);
	free(nl->buf);
	free(nl);
}

static int rtnl_send(struct rtnl *nl, const void *msg, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(nl->fd, msg, len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* One recv from the kernel into nl->buf: its length or -errno. */
static ssize_t rtnl_recv(struct rtnl *nl)
{
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		ssize_t n =
			recvfrom(nl->fd, nl->buf, RTNL_BUF, 0, (struct sockaddr *)&from, &fromlen);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		/* Only the kernel (port 0) speaks for itself. */
		if (fromlen >= sizeof(from) && from.nl_pid == 0)
			return n;
	}
}

/* A reply handler of rtnl_transact: 1 when the request is answered (its
 * result in *ret), 0 to read on. */
typedef int (*rtnl_reply_fn)(void *arg, const struct rtnl_reply *rep, int *ret);

/* Sends the n-byte request in nl->buf (sequence seq) and hands every reply
 * of that sequence to fn until fn says the request is answered; replies to
 * other sequences are skipped. Returns fn's result or the first I/O or
 * parse error. */
static int rtnl_transact(struct rtnl *nl, int n, uint32_t seq, rtnl_reply_fn fn, void *arg)
{
	int r, ret = 0;

	if (n < 0)
		return n;
	r = rtnl_send(nl, nl->buf, (size_t)n);
	if (r < 0)
		return r;
	for (;;) {
		struct rtnl_reply rep;
		ssize_t got = rtnl_recv(nl);
		size_t off = 0;

		if (got < 0)
			return (int)got;
		while ((r = rtnl_parse_next(nl->buf, (size_t)got, &off, &rep)) == 1)
			if (rep.seq == seq && fn(arg, &rep, &ret))
				return ret;
		if (r < 0)
			return r;
	}
}

struct ack {
	char *err;
	size_t errlen;
};

static int ack_reply(void *arg, const struct rtnl_reply *rep, int *ret)
{
	const struct ack *a = arg;

	if (rep->kind != RTNL_REPLY_ACK)
		return 0;
	if (rep->error && a->err && a->errlen)
		snprintf(a->err, a->errlen, "%s", rep->ext_msg);
	*ret = rep->error;
	return 1;
}

/* Sends the request in nl->buf (len bytes, sequence seq) and waits for its
 * ACK; the kernel's own text of a refusal goes to err. */
static int rtnl_request(struct rtnl *nl, size_t len, uint32_t seq, char *err, size_t errlen)
{
	struct ack a = { err, errlen };

	if (err && errlen)
		err[0] = '\0';
	return rtnl_transact(nl, (int)len, seq, ack_reply, &a);
}

int rtnl_rule_change(struct rtnl *nl, bool add, const struct rtnl_rule *rule, char *err,
		     size_t errlen)
{
	uint32_t seq = ++nl->seq;
	int n = rtnl_rule_msg(add ? RTNL_NEWRULE : RTNL_DELRULE,
			      add ? RTNL_F_CREATE | RTNL_F_EXCL : 0, seq, rule, nl->buf, RTNL_BUF);

	if (n < 0)
		return n;
	return rtnl_request(nl, (size_t)n, seq, err, errlen);
}

int rtnl_route_change(struct rtnl *nl, bool add, const struct rtnl_route *route, char *err,
		      size_t errlen)
{
	struct rtnl_route r = *route;
	uint32_t seq = ++nl->seq;
	int n;

	if (!add) {
		r.scope = RTNL_SCOPE_NOWHERE;
		r.protocol = 0;
		r.oif = 0;
	}
	n = rtnl_route_msg(add ? RTNL_NEWROUTE : RTNL_DELROUTE,
			   add ? RTNL_F_CREATE | RTNL_F_EXCL : 0, seq, &r, nl->buf, RTNL_BUF);
	if (n < 0)
		return n;
	return rtnl_request(nl, (size_t)n, seq, err, errlen);
}

static int route_get_reply(void *arg, const struct rtnl_reply *rep, int *ret)
{
	struct rtnl_route *out = arg;

	if (rep->kind == RTNL_REPLY_ROUTE) {
		*out = rep->route;
		*ret = 0;
		return 1;
	}
	if (rep->kind == RTNL_REPLY_ACK) {
		*ret = rep->error ? rep->error : -EPROTO;
		return 1;
	}
	return 0;
}

int rtnl_route_get(struct rtnl *nl, const struct prefix *dst, uint32_t mark, uint32_t oif,
		   struct rtnl_route *out)
{
	uint32_t seq = ++nl->seq;
	int n = rtnl_route_get_msg(seq, dst, mark, oif, nl->buf, RTNL_BUF);

	memset(out, 0, sizeof(*out));
	return rtnl_transact(nl, n, seq, route_get_reply, out);
}

struct dump {
	rtnl_rule_fn rule_fn;
	rtnl_route_fn route_fn;
	void *arg;
	int stop; /* what a callback returned to stop the walk */
};

static int dump_reply(void *arg, const struct rtnl_reply *rep, int *ret)
{
	struct dump *d = arg;

	if (rep->kind == RTNL_REPLY_DONE || rep->kind == RTNL_REPLY_ACK) {
		*ret = d->stop ? d->stop : rep->error;
		return 1;
	}
	/* After a callback stops us, read on to DONE so the next request
	 * does not meet the rest of this dump. */
	if (d->stop)
		return 0;
	if (rep->kind == RTNL_REPLY_RULE && d->rule_fn)
		d->stop = d->rule_fn(d->arg, &rep->rule);
	else if (rep->kind == RTNL_REPLY_ROUTE && d->route_fn)
		d->stop = d->route_fn(d->arg, &rep->route);
	return 0;
}

/* A dump of one kind: fn gets each rule or route until DONE. */
static int rtnl_dump(struct rtnl *nl, uint16_t type, int family, rtnl_rule_fn rule_fn,
		     rtnl_route_fn route_fn, void *arg)
{
	uint32_t seq = ++nl->seq;
	struct dump d = { rule_fn, route_fn, arg, 0 };

	return rtnl_transact(nl, rtnl_dump_msg(type, (uint8_t)family, seq, nl->buf, RTNL_BUF), seq,
			     dump_reply, &d);
}

int rtnl_list_rules(struct rtnl *nl, int family, rtnl_rule_fn fn, void *arg)
{
	return rtnl_dump(nl, RTNL_GETRULE, family, fn, NULL, arg);
}

int rtnl_list_routes(struct rtnl *nl, int family, rtnl_route_fn fn, void *arg)
{
	return rtnl_dump(nl, RTNL_GETROUTE, family, NULL, fn, arg);
}
