/* name_sync: a blocking lookup through given servers (name_sync.h). */
#include "resolver/name_sync.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <netinet/in.h>

#include <uv.h>

#include "config/nameservers.h"
#include "tun2socks/base/sock.h"

enum {
	NAME_SYNC_WAIT_MS = 10000, /* c-ares' own tries end sooner */
	NAME_SYNC_FDS = 16
};

struct name_sync_res {
	int status; /* ARES_* */
	bool done;
	struct sockaddr_storage addr;
	socklen_t len;
};

/* The sockets c-ares wants watched (ARES_OPT_SOCK_STATE_CB): this thread
 * polls them itself. c-ares refuses a socket configure callback on a
 * channel with its own event thread, and the mark must be set before
 * connect (docs/design.md §23). */
struct name_sync_fds {
	struct pollfd p[NAME_SYNC_FDS];
	size_t n;
};

static void name_sync_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct name_sync_fds *f = data;
	size_t i;

	for (i = 0; i < f->n && f->p[i].fd != fd; i++)
		;
	if (!readable && !writable) {
		if (i < f->n)
			f->p[i] = f->p[--f->n];
		return;
	}
	if (i == f->n && f->n == NAME_SYNC_FDS)
		return;
	if (i == f->n)
		f->n++;
	f->p[i].fd = fd;
	f->p[i].events = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
}

/* Runs the channel until the lookup called back or the deadline. */
static void name_sync_run(ares_channel_t *chan, struct name_sync_fds *f,
			  const struct name_sync_res *res)
{
	uint64_t end = uv_hrtime() / 1000000 + NAME_SYNC_WAIT_MS;

	while (!res->done) {
		struct timeval tv, *tvp = ares_timeout(chan, NULL, &tv);
		uint64_t now = uv_hrtime() / 1000000;
		ares_fd_events_t ev[NAME_SYNC_FDS];
		size_t nev = 0;
		int ms = tvp ? (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1 : 1000;

		if (now >= end)
			return;
		if ((uint64_t)ms > end - now)
			ms = (int)(end - now);
		if (poll(f->p, f->n, ms) < 0 && errno != EINTR)
			return;
		for (size_t i = 0; i < f->n; i++) {
			if (f->p[i].revents == 0)
				continue;
			ev[nev].fd = f->p[i].fd;
			ev[nev].events = ((f->p[i].revents & (POLLIN | POLLERR | POLLHUP))
						  ? ARES_FD_EVENT_READ
						  : 0) |
					 ((f->p[i].revents & POLLOUT) ? ARES_FD_EVENT_WRITE : 0);
			nev++;
		}
		ares_process_fds(chan, nev ? ev : NULL, nev, ARES_PROCESS_FLAG_NONE);
	}
}

/* From ares_process_fds on the caller's thread. */
static void name_sync_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct name_sync_res *res = arg;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	res->status = status;
	res->done = true;
	for (n = ai ? ai->nodes : NULL; status == ARES_SUCCESS && n != NULL; n = n->ai_next) {
		if ((n->ai_family == AF_INET || n->ai_family == AF_INET6) &&
		    (size_t)n->ai_addrlen <= sizeof(res->addr)) {
			memcpy(&res->addr, n->ai_addr, (size_t)n->ai_addrlen);
			res->len = (socklen_t)n->ai_addrlen;
			break;
		}
	}
	ares_freeaddrinfo(ai);
}

/* c-ares' own thread opens the sockets: sock_apply before connect. */
static int name_sync_configure(ares_socket_t fd, int type, void *data)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	(void)type;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return sock_apply(fd, ss.ss_family, data) < 0 ? -1 : 0;
}

int name_sync_lookup(const char *servers, const char *host, uint16_t port,
		     const struct sock_opts *sock, struct sockaddr_storage *out, socklen_t *len,
		     char *err, size_t errlen)
{
	struct name_sync_fds fds = { .n = 0 };
	struct ares_options opts = { .sock_state_cb = name_sync_sock_state,
				     .sock_state_cb_data = &fds };
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct name_sync_res res = { .status = ARES_ENOTFOUND };
	ares_channel_t *chan = NULL;
	char csv[1024], portstr[8];
	bool tcp = false, lib = false;
	int r, st;

	memset(out, 0, sizeof(*out));
	*len = 0;
	r = nameservers_parse(servers, csv, sizeof(csv), &tcp, err, errlen);
	if (r < 0)
		return r;
	st = ares_library_init(ARES_LIB_INIT_ALL);
	if (st == ARES_SUCCESS) {
		lib = true;
		opts.flags = tcp ? ARES_FLAG_USEVC : 0;
		st = ares_init_options(&chan, &opts, ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS);
	}
	if (st == ARES_SUCCESS)
		st = ares_set_servers_csv(chan, csv);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		r = st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (sock != NULL)
		ares_set_socket_configure_callback(chan, name_sync_configure, (void *)sock);
	snprintf(portstr, sizeof(portstr), "%u", port);
	ares_getaddrinfo(chan, host, portstr, &hints, name_sync_done, &res);
	name_sync_run(chan, &fds, &res);
	if (!res.done) {
		snprintf(err, errlen, "cannot resolve '%s' through %s: no answer", host, servers);
		r = -ETIMEDOUT;
		goto out;
	}
	if (res.status != ARES_SUCCESS || res.len == 0) {
		snprintf(err, errlen, "cannot resolve '%s' through %s: %s", host, servers,
			 res.status != ARES_SUCCESS ? ares_strerror(res.status) : "no address");
		r = res.status == ARES_ETIMEOUT ? -ETIMEDOUT : -ENOENT;
		goto out;
	}
	*out = res.addr;
	*len = res.len;
	r = 0;
out:
	if (chan != NULL)
		ares_destroy(chan);
	if (lib)
		ares_library_cleanup();
	return r;
}
