/* resolver: c-ares driven by the libuv loop (research.md s. 3).
 *
 * Invariants:
 *  - every socket c-ares wants watched has exactly one struct resolver_poll
 *    on r->polls; when c-ares says "no interest" (it is about to close the
 *    fd) the poll leaves the list and is uv_close()d at once, so libuv
 *    never watches a closed or reused fd; its memory goes in the close
 *    callback;
 *  - r->open_handles counts the timer and the polls not yet through their
 *    close callback; r is freed only when it is 0 and destroy was asked;
 *  - the timer is re-armed from ares_timeout() after every call into
 *    c-ares that may have changed its deadlines;
 *  - r->pending counts every resolver_send() and resolver_lookup() whose
 *    c-ares callback has not run yet, and never exceeds r->max_pending:
 *    c-ares looks for a free 16-bit ID by trying random ones
 *    (generate_unique_qid), which spins once most of the 65536 are taken,
 *    and every outstanding query holds memory until it times out;
 *  - every resolver_send() c-ares accepted is on r->own[qid % buckets]
 *    until its callback runs, so a query of ours that comes back into the
 *    TUN can be recognised (resolver_is_own_query, docs/design.md §7).
 */
#include "resolver/resolver.h"
#include "resolver/dns_hosts.h"
#include "config/nameservers.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum {
	RESOLVER_TIMEOUT_MS = 2000,
	RESOLVER_TRIES = 2,
	RESOLVER_CSV_MAX = 4096,
	/* 1/16 of c-ares' ID space: a random ID is free 15 times in 16, and
	 * a getaddrinfo (two queries) still fits. */
	RESOLVER_PENDING_MAX = 4096,
	RESOLVER_OWN_BUCKETS = 256,
};

struct resolver_poll {
	uv_poll_t h;
	struct resolver *r;
	ares_socket_t fd;
	struct resolver_poll *next;
	/* The socket's own address (c-ares connects before it asks for a
	 * watch); local_len 0 when unknown. */
	struct sockaddr_storage local;
	socklen_t local_len;
};

struct resolver_req;

struct resolver {
	uv_loop_t *loop;
	ares_channel_t *chan; /* NULL after shutdown */
	uv_timer_t timer;
	struct resolver_poll *polls;
	struct sock_opts sock;
	unsigned open_handles;
	unsigned pending, max_pending;
	struct resolver_req *own[RESOLVER_OWN_BUCKETS];
	bool shut;
	bool destroyed;
	const struct dns_hosts *hosts; /* answered first, or NULL */
	bool tcp;                      /* ARES_FLAG_USEVC */
};

/* One resolver_send() in flight: c-ares gets this as its callback arg. */
struct resolver_req {
	struct resolver *r;
	resolver_cb cb; /* NULL: the caller was told of a failure already */
	void *arg;
	struct resolver_req *own_next; /* on r->own while tracked */
	bool in_send;                  /* inside ares_send_dnsrec(): do not call cb */
	bool fired;
	bool tracked;
	int sync_status;
	unsigned short qid;
	uint16_t qtype;
	char name[]; /* the question's name as sent */
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

static int status_to_errno(int st)
{
	switch (st) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
		return -ECONNREFUSED;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return -ECANCELED;
	case ARES_ENOMEM:
		return -ENOMEM;
	case ARES_EOF:
		return -ECONNRESET;
	case ARES_EBADRESP:
		return -EBADMSG;
	case ARES_EBADQUERY:
	case ARES_EBADNAME:
	case ARES_EBADFAMILY:
	case ARES_EFORMERR:
	case ARES_EBADSTR:
		return -EINVAL;
	case ARES_ENOSERVER:
		return -EHOSTUNREACH;
	default:
		/* SERVFAIL / REFUSED / NOTIMP from every server, and the rest. */
		return -EIO;
	}
}

static void resolver_maybe_free(struct resolver *r)
{
	if (!r->destroyed || r->open_handles > 0)
		return;
	ares_library_cleanup();
	free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct resolver *r;

	if (h->type == UV_POLL) {
		struct resolver_poll *p = h->data;

		r = p->r;
		free(p);
	} else {
		r = h->data;
	}
	r->open_handles--;
	resolver_maybe_free(r);
}

static void on_timer(uv_timer_t *t);

static void rearm_timer(struct resolver *r)
{
	struct timeval tv, *tvp;
	uint64_t ms;

	if (r->chan == NULL)
		return;
	tvp = ares_timeout(r->chan, NULL, &tv);
	if (tvp == NULL) {
		uv_timer_stop(&r->timer);
		return;
	}
	/* Round up: firing a millisecond early would find nothing expired
	 * and spin once more. */
	ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
	uv_timer_start(&r->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct resolver *r = t->data;

	ares_process_fds(r->chan, NULL, 0, ARES_PROCESS_FLAG_NONE);
	rearm_timer(r);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct resolver_poll *p = h->data;
	struct resolver *r = p->r;
	ares_fd_events_t ev = { .fd = p->fd, .events = ARES_FD_EVENT_NONE };

	/* On a poll error let c-ares read and write: it finds the socket
	 * error itself and fails over. p may be closed (not freed) by the
	 * sock-state callback during processing: not touched afterwards. */
	if (status < 0 || (events & (UV_READABLE | UV_DISCONNECT)))
		ev.events |= ARES_FD_EVENT_READ;
	if (status < 0 || (events & UV_WRITABLE))
		ev.events |= ARES_FD_EVENT_WRITE;
	ares_process_fds(r->chan, &ev, 1, ARES_PROCESS_FLAG_NONE);
	rearm_timer(r);
}

static void close_poll(struct resolver *r, struct resolver_poll *p)
{
	struct resolver_poll **pp;

	for (pp = &r->polls; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&p->h, on_handle_closed);
}

/* c-ares' ARES_OPT_SOCK_STATE_CB: called before it closes an fd (0, 0)
 * and whenever its read/write interest changes. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	struct resolver_poll *p;
	int events = 0;

	for (p = r->polls; p != NULL; p = p->next)
		if (p->fd == fd)
			break;
	if (!readable && !writable) {
		if (p != NULL)
			close_poll(r, p);
		return;
	}
	if (p == NULL) {
		/* On failure the socket goes unwatched and its queries end by
		 * timeout: c-ares has no way to be told here. */
		p = calloc(1, sizeof(*p));
		if (p == NULL)
			return;
		if (uv_poll_init_socket(r->loop, &p->h, fd) < 0) {
			free(p);
			return;
		}
		p->h.data = p;
		p->r = r;
		p->fd = fd;
		p->local_len = sizeof(p->local);
		if (getsockname(fd, (struct sockaddr *)&p->local, &p->local_len) < 0)
			p->local_len = 0; /* only the ID check then */
		p->next = r->polls;
		r->polls = p;
		r->open_handles++;
	}
	if (readable)
		events |= UV_READABLE;
	if (writable)
		events |= UV_WRITABLE;
	if (uv_poll_start(&p->h, events, on_poll) < 0)
		/* Unwatched, like a poll we could not allocate: its queries
		 * end by timeout. */
		close_poll(r, p);
}

/* ares_set_socket_configure_callback: runs after socket(), before
 * connect(), so the options steer routing of the very first packet. */
static int on_sock_configure(ares_socket_t fd, int type, void *data)
{
	struct resolver *r = data;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	(void)type;
	memset(&ss, 0, sizeof(ss));
	/* An unbound socket still reports its family. */
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return sock_apply(fd, ss.ss_family, &r->sock) < 0 ? -1 : 0;
}

int resolver_create(uv_loop_t *loop, const struct resolver_config *cfg, struct resolver **out,
		    char *err, size_t errlen)
{
	struct ares_options opts;
	struct resolver *r = NULL;
	char *csv = NULL;
	bool tcp = false;
	int optmask, st, ret;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	if (cfg->servers != NULL) {
		csv = malloc(RESOLVER_CSV_MAX);
		if (csv == NULL)
			return -ENOMEM;
		ret = nameservers_parse(cfg->servers, csv, RESOLVER_CSV_MAX, &tcp, err, errlen);
		if (ret == -ENOBUFS)
			set_err(err, errlen, "--dns-server: %s%s", "too many servers", "");
		if (ret < 0)
			goto err_csv;
	}

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		ret = -ENOMEM;
		goto err_csv;
	}
	r->loop = loop;
	r->sock = cfg->sock;
	r->max_pending = cfg->max_pending ? cfg->max_pending : RESOLVER_PENDING_MAX;
	if (r->max_pending > RESOLVER_PENDING_MAX)
		r->max_pending = RESOLVER_PENDING_MAX;

	st = ares_library_init(ARES_LIB_INIT_ALL);
	if (st != ARES_SUCCESS) {
		ret = status_to_errno(st);
		set_err(err, errlen, "c-ares: %s%s", ares_strerror(st), "");
		goto err_free;
	}

	memset(&opts, 0, sizeof(opts));
	optmask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
		  ARES_OPT_QUERY_CACHE;
	r->tcp = cfg->use_tcp || tcp;
	opts.flags = r->tcp ? ARES_FLAG_USEVC : 0;
	opts.timeout = (int)(cfg->timeout_ms ? cfg->timeout_ms : RESOLVER_TIMEOUT_MS);
	opts.tries = (int)(cfg->tries ? cfg->tries : RESOLVER_TRIES);
	opts.sock_state_cb = on_sock_state;
	opts.sock_state_cb_data = r;
	/* No cache: a hit would call back from inside ares_send_dnsrec(),
	 * and the interceptor decides itself what to keep. */
	opts.qcache_max_ttl = 0;
	st = ares_init_options(&r->chan, &opts, optmask);
	if (st != ARES_SUCCESS) {
		ret = st == ARES_ENOMEM ? -ENOMEM : -EIO;
		set_err(err, errlen, "c-ares: %s%s", ares_strerror(st), "");
		goto err_lib;
	}
	if (csv != NULL) {
		st = ares_set_servers_csv(r->chan, csv);
		if (st != ARES_SUCCESS) {
			ret = st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
			set_err(err, errlen, "--dns-server: cannot parse '%s': %s", cfg->servers,
				ares_strerror(st));
			goto err_chan;
		}
	}
	ares_set_socket_configure_callback(r->chan, on_sock_configure, r);

	/* Last: from here on r can only go through the close callbacks. On
	 * failure nothing is registered with the loop. */
	ret = uv_timer_init(loop, &r->timer);
	if (ret < 0) {
		set_err(err, errlen, "cannot start the resolver's timer: %s%s", uv_strerror(ret),
			"");
		goto err_chan;
	}
	r->timer.data = r;
	r->open_handles = 1;
	free(csv);
	*out = r;
	return 0;

err_chan:
	ares_destroy(r->chan);
err_lib:
	ares_library_cleanup();
err_free:
	free(r);
err_csv:
	free(csv);
	return ret;
}

static void own_unlink(struct resolver_req *req)
{
	struct resolver_req **pp = &req->r->own[req->qid % RESOLVER_OWN_BUCKETS];

	if (!req->tracked)
		return;
	while (*pp != req)
		pp = &(*pp)->own_next;
	*pp = req->own_next;
	req->tracked = false;
}

static void req_free(struct resolver_req *req)
{
	own_unlink(req);
	req->r->pending--;
	free(req);
}

static void on_reply(void *arg, ares_status_t status, size_t timeouts,
		     const ares_dns_record_t *reply)
{
	struct resolver_req *req = arg;
	int ret = status_to_errno((int)status);

	(void)timeouts;
	if (req->in_send) {
		/* resolver_send() reports this one itself. */
		req->fired = true;
		req->sync_status = ret < 0 ? ret : -EIO;
		return;
	}
	/* Answered: a copy of it coming back into the TUN from now on is no
	 * longer "ours" by ID (its socket still is). */
	own_unlink(req);
	if (req->cb != NULL)
		req->cb(req->arg, ret, ret == 0 ? reply : NULL);
	req_free(req);
}

int resolver_send(struct resolver *r, const struct ares_dns_record *query, resolver_cb cb,
		  void *arg)
{
	struct resolver_req *req;
	const char *name = NULL;
	ares_dns_rec_type_t qtype = 0;
	ares_status_t st;
	unsigned short qid = 0;
	size_t nlen;
	int ret;

	if (r->shut)
		return -ESHUTDOWN;
	if (r->pending >= r->max_pending)
		return -EAGAIN;
	if (ares_dns_record_query_get(query, 0, &name, &qtype, NULL) != ARES_SUCCESS)
		name = NULL; /* c-ares refuses it below */
	nlen = name != NULL ? strlen(name) : 0;
	req = calloc(1, sizeof(*req) + nlen + 1);
	if (req == NULL)
		return -ENOMEM;
	req->r = r;
	req->cb = cb;
	req->arg = arg;
	req->qtype = (uint16_t)qtype;
	memcpy(req->name, name != NULL ? name : "", nlen + 1);
	req->in_send = true;
	r->pending++;
	st = ares_send_dnsrec(r->chan, query, on_reply, req, &qid);
	req->in_send = false;
	if (req->fired) {
		ret = req->sync_status;
		req_free(req);
		goto out;
	}
	ret = status_to_errno((int)st);
	if (ret < 0) {
		/* Still queued in c-ares despite the error: it will call
		 * on_reply later, which then only frees req. */
		req->cb = NULL;
		goto out;
	}
	req->qid = qid;
	req->tracked = true;
	req->own_next = r->own[qid % RESOLVER_OWN_BUCKETS];
	r->own[qid % RESOLVER_OWN_BUCKETS] = req;
out:
	rearm_timer(r);
	return ret;
}

void resolver_set_sock(struct resolver *r, const struct sock_opts *sock)
{
	r->sock = *sock;
}

int resolver_set_servers(struct resolver *r, const char *servers, char *err, size_t errlen)
{
	char *csv = malloc(RESOLVER_CSV_MAX);
	bool tcp = false;
	int ret, st;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (csv == NULL)
		return -ENOMEM;
	ret = r->chan == NULL
		      ? -ESHUTDOWN
		      : nameservers_parse(servers, csv, RESOLVER_CSV_MAX, &tcp, err, errlen);
	if (ret == 0 && tcp != r->tcp) {
		set_err(err, errlen, "%s: udp/tcp transport change%s", servers, "");
		ret = -EOPNOTSUPP;
	}
	/* c-ares moves queries waiting on a server that goes to the others. */
	st = ret == 0 ? ares_set_servers_csv(r->chan, csv) : ARES_SUCCESS;
	if (st != ARES_SUCCESS) {
		set_err(err, errlen, "cannot set '%s': %s", servers, ares_strerror(st));
		ret = st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
	}
	free(csv);
	return ret;
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (b->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

bool resolver_is_own_query(const struct resolver *r, const struct sockaddr *src, uint16_t id,
			   const char *name, uint16_t qtype)
{
	const struct resolver_req *req;
	const struct resolver_poll *p;

	if (r == NULL || r->shut)
		return false;
	/* c-ares keeps an ID unique among its outstanding queries, and the
	 * name and type must match too: a client's query that happens to
	 * carry the same random ID is not mistaken for ours. c-ares may
	 * randomise the name's case (DNS 0x20). */
	for (req = r->own[id % RESOLVER_OWN_BUCKETS]; req != NULL; req = req->own_next)
		if (req->qid == id && req->qtype == qtype && strcasecmp(req->name, name) == 0)
			return true;
	/* Sent from one of c-ares' sockets: also resolver_lookup()'s queries,
	 * whose IDs c-ares keeps to itself. */
	for (p = src != NULL ? r->polls : NULL; p != NULL; p = p->next)
		if (p->local_len > 0 && same_endpoint(&p->local, src))
			return true;
	return false;
}

unsigned resolver_pending(const struct resolver *r)
{
	return r != NULL ? r->pending : 0;
}

void resolver_shutdown(struct resolver *r)
{
	if (r->shut)
		return;
	r->shut = true;
	/* ares_destroy() ends every pending query (ARES_EDESTRUCTION, given
	 * to callers as -ECANCELED) and reports each fd it closes through
	 * on_sock_state(), which closes the polls; the loop below is for any
	 * c-ares did not report. */
	ares_destroy(r->chan);
	r->chan = NULL;
	while (r->polls != NULL)
		close_poll(r, r->polls);
	uv_close((uv_handle_t *)&r->timer, on_handle_closed);
}

void resolver_destroy(struct resolver *r)
{
	if (r == NULL)
		return;
	resolver_shutdown(r);
	r->destroyed = true;
	resolver_maybe_free(r);
}

int resolver_first_server(const char *servers, struct sockaddr_storage *out)
{
	char csv[RESOLVER_CSV_MAX], host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	unsigned long port;
	bool tcp;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (nameservers_parse(servers, csv, sizeof(csv), &tcp, NULL, 0) < 0)
		return -EINVAL;
	csv[strcspn(csv, ",")] = '\0';
	/* nameservers_parse() wrote "IPv4:port" or "[IPv6]:port". */
	colon = strrchr(csv, ':');
	if (colon == NULL)
		return -EINVAL;
	port = strtoul(colon + 1, NULL, 10);
	n = (size_t)(colon - csv);
	if (csv[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		if (n < 3 || n - 2 >= sizeof(host))
			return -EINVAL;
		memcpy(host, csv + 1, n - 2);
		host[n - 2] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, csv, n);
		host[n] = '\0';
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -EINVAL;
	}
}

/* One resolver_lookup() in flight. */
struct resolver_lookup_req {
	struct resolver *r;
	resolver_addr_cb cb;
	void *arg;
};

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolver_lookup_req *req = arg;
	struct sockaddr_storage addrs[RESOLVER_LOOKUP_MAX];
	size_t n = 0;
	int ret = status_to_errno(status);

	(void)timeouts;
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		ret = -ENOENT;
	for (struct ares_addrinfo_node *a = res ? res->nodes : NULL;
	     a != NULL && n < RESOLVER_LOOKUP_MAX; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    (size_t)a->ai_addrlen > sizeof(addrs[0]))
			continue;
		memset(&addrs[n], 0, sizeof(addrs[n]));
		memcpy(&addrs[n], a->ai_addr, (size_t)a->ai_addrlen);
		n++;
	}
	if (ret == 0 && n == 0)
		ret = -ENOENT;
	ares_freeaddrinfo(res);
	req->r->pending--;
	req->cb(req->arg, ret, ret == 0 ? addrs : NULL, ret == 0 ? n : 0);
	free(req);
}

void resolver_set_hosts(struct resolver *r, const struct dns_hosts *hosts)
{
	r->hosts = hosts;
}

/* A name in the hosts table: its addresses, IPv6 first as RFC 6724 would
 * for a machine with both (IPv4 first when the table has only those). */
/* An alias whose chain leaves the table: false with the name it ends at in
 * a->alias, looked up instead (mihomo's resolver does the same). */
static bool lookup_hosts(struct resolver *r, const char *name, resolver_addr_cb cb, void *arg,
			 struct dns_hosts_addrs *a)
{
	struct sockaddr_storage ss[RESOLVER_LOOKUP_MAX];
	size_t n = 0;

	a->alias[0] = '\0';
	if (r->hosts == NULL || dns_hosts_find(r->hosts, name, a) < 0 || a->alias[0])
		return false;
	for (unsigned i = 0; i < a->n6 && n < RESOLVER_LOOKUP_MAX; i++, n++) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss[n];

		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->a6[i], 16);
	}
	for (unsigned i = 0; i < a->n4 && n < RESOLVER_LOOKUP_MAX; i++, n++) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss[n];

		memset(s4, 0, sizeof(*s4));
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->a4[i], 4);
	}
	cb(arg, n > 0 ? 0 : -ENOENT, n > 0 ? ss : NULL, n);
	return true;
}

int resolver_lookup(struct resolver *r, const char *name, resolver_addr_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct resolver_lookup_req *req;
	struct dns_hosts_addrs a;

	if (r->shut)
		return -ESHUTDOWN;
	if (lookup_hosts(r, name, cb, arg, &a))
		return 0;
	if (a.alias[0])
		name = a.alias;
	if (r->pending >= r->max_pending)
		return -EAGAIN;
	req = calloc(1, sizeof(*req));
	if (req == NULL)
		return -ENOMEM;
	req->r = r;
	req->cb = cb;
	req->arg = arg;
	r->pending++;
	ares_getaddrinfo(r->chan, name, NULL, &hints, on_addrinfo, req);
	rearm_timer(r);
	return 0;
}
