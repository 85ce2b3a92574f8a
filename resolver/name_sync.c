/* name_sync: a blocking lookup through given servers (name_sync.h). */
#include "resolver/name_sync.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "config/nameservers.h"

enum { NAME_SYNC_WAIT_MS = 10000 }; /* c-ares' own tries end sooner */

struct name_sync_res {
	int status; /* ARES_* */
	bool done;
	struct sockaddr_storage addr;
	socklen_t len;
};

/* On c-ares' event thread; the caller reads res after the queue is empty. */
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

int name_sync_lookup(const char *servers, const char *host, uint16_t port,
		     struct sockaddr_storage *out, socklen_t *len, char *err, size_t errlen)
{
	struct ares_options opts = { .evsys = ARES_EVSYS_DEFAULT };
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
	if (!ares_threadsafety()) {
		snprintf(err, errlen, "c-ares is built without thread safety");
		return -ENOTSUP;
	}
	st = ares_library_init(ARES_LIB_INIT_ALL);
	if (st == ARES_SUCCESS) {
		lib = true;
		opts.flags = tcp ? ARES_FLAG_USEVC : 0;
		st = ares_init_options(&chan, &opts, ARES_OPT_EVENT_THREAD | ARES_OPT_FLAGS);
	}
	if (st == ARES_SUCCESS)
		st = ares_set_servers_csv(chan, csv);
	if (st != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(st));
		r = st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	ares_getaddrinfo(chan, host, portstr, &hints, name_sync_done, &res);
	st = ares_queue_wait_empty(chan, NAME_SYNC_WAIT_MS);
	if (st != ARES_SUCCESS || !res.done) {
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
