/* flow_udp: UDP sessions, over SOCKS5 UDP ASSOCIATE or DIRECT.
 *
 * A PROXY session associates through its control connection, an
 * upstream_conn (TCP to the proxy, TLS when the proxy wants it, the SOCKS5
 * machine asking for UDP ASSOCIATE) driven by the session's poll handle;
 * then datagrams flow over a UDP socket connected to the relay address,
 * and the control connection only tells when the association ends. While
 * associating, up to max_pending datagrams wait; beyond that they are
 * dropped and counted, as a full queue drops on any UDP path.
 *
 * A proxy that refuses UDP ASSOCIATE is not asked again for a minute (one
 * warning), so a chatty client cannot make us hammer it; TCP is unaffected.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lwip/pbuf.h"

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "resolver/dns_intercept.h"
#include "resolver/resolver.h"
#include "resolver/sniff_quic.h"
#include "resolver/sniffer.h"
#include "tun2socks/flow/flow_udp.h"
#include "tun2socks/base/hash.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/upstream/socks5.h"
#include "tun2socks/upstream/upstream_conn.h"
#include "tun2socks/base/reaper.h"
#include "lwip-port/stack.h"

/* ROUTING: the router decides (maybe resolving); PROXY sessions then
 * CONNECTING (the control connection, up to the proxy's UDP ASSOCIATE
 * reply) -> READY; DIRECT ones go READY at once with a plain socket
 * (RESOLVING first, queueing, while the first datagram's name resolves);
 * REJECT/DROP ones go BLOCKED and discard until idle, so a chatty client
 * is decided (and logged) once, not per datagram. Every change goes
 * through session_set_state(), which logs "udp#3 CONNECTING -> READY". Order
 * matters: the states before READY are still setting up. */
enum session_state {
	SESSION_SNIFFING, /* QUIC: the first flight's Initials (§21) */
	SESSION_ROUTING,
	SESSION_RESOLVING,
	SESSION_CONNECTING,
	SESSION_READY,
	SESSION_BLOCKED,
	SESSION_DEAD
};

static const char *const session_state_name[] = {
	[SESSION_SNIFFING] = "SNIFFING",   [SESSION_ROUTING] = "ROUTING",
	[SESSION_RESOLVING] = "RESOLVING", [SESSION_CONNECTING] = "CONNECTING",
	[SESSION_READY] = "READY",         [SESSION_BLOCKED] = "BLOCKED",
	[SESSION_DEAD] = "DEAD",
};

#define BUCKETS 1024
/* How long a proxy that refused UDP ASSOCIATE is left alone. */
#define REFUSED_BACKOFF_MS 60000
/* Largest UDP payload, plus room for a SOCKS5 header around it. */
#define DGRAM_MAX 65535

/* Destinations named through DNS interception (fake or remembered
 * addresses) this session sent to, most recent first. Replies come back
 * from whatever address the proxy resolved the name to; one from a port we
 * sent a name to is written back as coming from the address the client
 * used, since a connected UDP socket (QUIC, most games) drops anything
 * else. */
#define SESSION_NAMED_MAX 8

struct session_named {
	ip_addr_t addr; /* what the client sent to */
	uint16_t port;
	bool pinned; /* owes dns_intercept_flow_done() */
	char *name;
	/* DIRECT: the name's address, once resolved (port included). */
	bool resolving, resolved;
	struct sockaddr_storage ra;
};

struct pending {
	struct socks5_addr dst;
	ip_addr_t ip; /* what the client sent to (for REJECT's ICMP) */
	uint16_t port;
	struct pbuf *p;
};

struct udp_session {
	struct flow_udp_ctx *u;
	struct udp_session *hnext; /* hash chain */
	struct list_node lru;      /* on u->lru while not DEAD */
	struct reaper_node rnode;  /* once released */
	uint64_t id;
	unsigned refs;
	enum session_state state;
	ip_addr_t client;
	uint16_t cport;
	/* PROXY: the control connection; its socket is watched by ctl_poll
	 * (the caller polls, upstream_conn.h) and closed in that handle's
	 * close callback. */
	struct upstream_conn *ctl;
	int udp_fd;
	uv_poll_t ctl_poll, udp_poll;
	bool ctl_open, udp_open;
	int ctl_events;
	struct pending *pend;
	unsigned n_pend;
	bool dns_only; /* every datagram so far went to port 53 */
	struct session_named named[SESSION_NAMED_MAX];
	unsigned n_named;
	bool routed; /* route valid, route.hold owed back */
	struct route route;
	/* SNIFFING: the QUIC reader, and the first datagram's destination;
	 * then the name it found for the rules (keep_dst: for them only). */
	struct sniff_quic *quic;
	ip_addr_t sniff_dst;
	uint16_t sniff_port;
	bool sniff_fake;
	char *sniffed;
	bool keep_dst;
	uint64_t t_start, t_last;
	uint64_t up_b, down_b, up_n, down_n;
};

struct flow_udp_ctx {
	uv_loop_t *loop;
	struct stack *stack;
	struct route_ops route;
	struct resolver *resolver; /* DIRECT datagrams to names */
	struct sock_opts sock;
	struct flow_udp_config cfg;
	struct udp_session *buckets[BUCKETS];
	struct list_node lru; /* live sessions, least recently used first */
	unsigned count;
	uint64_t next_id;
	uint64_t refused_until; /* loop ms; 0 = proxy not known to refuse */
	bool warned_refused;
	bool refuse_new; /* the memory budget is spent */
	uv_timer_t sweep;
	struct reaper reaper;          /* frees released sessions */
	uint8_t *buf;                  /* one datagram, header included */
	struct dns_intercept *dns;     /* names of fake/remembered addresses */
	const struct sniffer *sniffer; /* or NULL */
	struct flow_udp_stats stats;
};

static void session_on_ctl(uv_poll_t *h, int status, int events);
static void session_on_udp(uv_poll_t *h, int status, int events);

void flow_udp_config_defaults(struct flow_udp_config *cfg)
{
	cfg->idle_ms = 60000;
	cfg->dns_idle_ms = 10000;
	cfg->max_sessions = 1024;
	cfg->max_pending = 32;
	cfg->connect_timeout_ms = 10000;
}

/* ---- table --------------------------------------------------------------- */

/* FNV-1a, the port folded into the seed, over the address bytes that mean
 * something: an IPv4 ip_addr_t leaves the rest of its union unset. */
static unsigned session_hash(const ip_addr_t *a, uint16_t port)
{
	const void *b =
		IP_IS_V6(a) ? (const void *)ip_2_ip6(a)->addr : (const void *)&ip_2_ip4(a)->addr;

	return hash_fnv1a(b, IP_IS_V6(a) ? 16 : 4, HASH_FNV1A_BASIS ^ port) % BUCKETS;
}

static struct udp_session *session_find(struct flow_udp_ctx *u, const ip_addr_t *a, uint16_t port)
{
	for (struct udp_session *s = u->buckets[session_hash(a, port)]; s; s = s->hnext)
		if (s->cport == port && ip_addr_eq(&s->client, a))
			return s;
	return NULL;
}

/* The least recently used live session, or NULL. */
static struct udp_session *session_oldest(struct flow_udp_ctx *u)
{
	return list_empty(&u->lru) ? NULL : list_entry(u->lru.next, struct udp_session, lru);
}

/* A use of a live session: it goes to the end of u->lru, the newest. */
static void session_touch(struct udp_session *s)
{
	s->t_last = uv_now(s->u->loop);
	list_remove(&s->lru);
	list_insert_before(&s->u->lru, &s->lru);
}

/* The one place the state changes. */
static void session_set_state(struct udp_session *s, enum session_state next)
{
	log_debug("udp#%" PRIu64 " %s -> %s", s->id, session_state_name[s->state],
		  session_state_name[next]);
	s->state = next;
}

/* ---- lifetime ----------------------------------------------------------- */

static void session_release(struct udp_session *s)
{
	if (--s->refs > 0)
		return;
	/* Freed on a later loop iteration: a callback may still hold s. */
	reaper_defer(&s->u->reaper, &s->rnode);
}

static void session_on_closed(uv_handle_t *h)
{
	struct udp_session *s = h->data;

	/* Closed only now that libuv forgot the handle watching it. */
	if (h == (uv_handle_t *)&s->ctl_poll) {
		upstream_conn_close(s->ctl, false);
		s->ctl = NULL;
	} else {
		close(s->udp_fd);
	}
	session_release(s);
}

static void session_reap(struct reaper_node *n)
{
	struct udp_session *s = reaper_owner(n, struct udp_session, rnode);

	for (unsigned i = 0; i < s->n_pend; i++)
		pbuf_free(s->pend[i].p);
	free(s->pend);
	free(s->quic);
	free(s->sniffed);
	free(s);
}

static void session_end(struct udp_session *s, const char *why, const char *detail)
{
	struct flow_udp_ctx *u = s->u;
	struct udp_session **pp;
	char c[64];

	char names[300] = "";
	size_t nl = 0;

	if (s->state == SESSION_DEAD)
		return;
	for (unsigned i = 0; i < s->n_named && nl < sizeof(names); i++)
		nl += (size_t)snprintf(names + nl, sizeof(names) - nl, "%s%s", i ? "," : " to ",
				       s->named[i].name);
	log_info("udp#%" PRIu64 " closed %s%s via %s%s%s [%s] up %" PRIu64 " B (%" PRIu64
		 " datagrams) down %" PRIu64 " B (%" PRIu64 " datagrams) %.2f s: %s%s%s",
		 s->id, addr_ep_str(&s->client, s->cport, c, sizeof(c)), names,
		 s->routed ? s->route.via : "(undecided)", s->routed && s->route.up ? " " : "",
		 s->routed && s->route.up ? s->route.up->server_str : "",
		 s->routed ? s->route.rule : "", s->up_b, s->up_n, s->down_b, s->down_n,
		 (double)(uv_now(u->loop) - s->t_start) / 1000.0, why, detail ? ": " : "",
		 detail ? detail : "");
	session_set_state(s, SESSION_DEAD);
	if (s->routed) {
		u->route.release(u->route.ctx, s->route.hold);
		s->routed = false;
	}
	while (s->n_named > 0) {
		struct session_named *nm = &s->named[--s->n_named];

		if (nm->pinned)
			dns_intercept_flow_done(u->dns, &nm->addr);
		free(nm->name);
	}
	for (pp = &u->buckets[session_hash(&s->client, s->cport)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	list_remove(&s->lru);
	u->count--;
	if (s->ctl_open) {
		uv_poll_stop(&s->ctl_poll);
		uv_close((uv_handle_t *)&s->ctl_poll, session_on_closed);
		s->ctl_open = false;
	} else {
		upstream_conn_close(s->ctl, false);
		s->ctl = NULL;
	}
	if (s->udp_open) {
		uv_poll_stop(&s->udp_poll);
		uv_close((uv_handle_t *)&s->udp_poll, session_on_closed);
		s->udp_open = false;
	} else if (s->udp_fd >= 0) {
		close(s->udp_fd);
	}
	session_release(s);
}

/* ---- sending -------------------------------------------------------------- */

/* Sends hdr (hlen bytes, may be 0) then p's data as one datagram, to `to`
 * (NULL: the connected peer), and counts it. */
static void session_sendmsg(struct udp_session *s, const void *hdr, size_t hlen, void *to,
			    socklen_t tolen, const struct pbuf *p)
{
	struct iovec iov[16];
	struct msghdr mh = { .msg_iov = iov, .msg_name = to, .msg_namelen = tolen };
	int cnt = 0;

	if (hlen > 0) {
		iov[cnt].iov_base = (void *)hdr;
		iov[cnt++].iov_len = hlen;
	}
	for (const struct pbuf *q = p; q && cnt < 16; q = q->next) {
		iov[cnt].iov_base = q->payload;
		iov[cnt].iov_len = q->len;
		cnt++;
	}
	mh.msg_iovlen = (size_t)cnt;
	if (sendmsg(s->udp_fd, &mh, MSG_NOSIGNAL) < 0) {
		/* A full socket buffer drops the datagram, as a full NIC
		 * queue would. */
		s->u->stats.dropped_other++;
		return;
	}
	s->up_b += p->tot_len;
	s->up_n++;
	s->u->stats.dgrams_up++;
	s->u->stats.bytes_up += p->tot_len;
}

/* PROXY: through the association, behind a SOCKS5 UDP header. */
static void session_send(struct udp_session *s, const struct socks5_addr *dst, struct pbuf *p)
{
	uint8_t hdr[SOCKS5_UDP_HEADER_MAX];
	int n = socks5_udp_header_build(hdr, sizeof(hdr), dst);

	if (n < 0) {
		s->u->stats.dropped_other++;
		return;
	}
	session_sendmsg(s, hdr, (size_t)n, NULL, 0, p);
}

/* A datagram of a BLOCKED session: REJECT answers ICMP port unreachable
 * (as a closed port would), REJECT-DROP and a refusing proxy say nothing. */
static void session_reject(struct udp_session *s, const ip_addr_t *dst, uint16_t dport,
			   struct pbuf *p)
{
	s->u->stats.dropped_rejected++;
	if (s->routed && s->route.action == ROUTE_REJECT)
		stack_udp_unreachable(s->u->stack, &s->client, s->cport, dst, dport, p);
}

static struct session_named *session_named_find(struct udp_session *s, const char *name,
						uint16_t port)
{
	for (unsigned i = 0; i < s->n_named; i++)
		if (s->named[i].port == port && strcmp(s->named[i].name, name) == 0)
			return &s->named[i];
	return NULL;
}

static void session_on_direct_lookup(void *arg, int status, const struct sockaddr_storage *addrs,
				     size_t n);
static void session_flush_pending(struct udp_session *s);

/* A dual-stack socket takes both families: IPv4 goes as ::ffff:a.b.c.d. */
static void session_sa_from_target(struct sockaddr_in6 *sa, const struct socks5_addr *t)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin6_family = AF_INET6;
	sa->sin6_port = htons(t->port);
	if (t->atyp == SOCKS5_ATYP_IPV4) {
		sa->sin6_addr.s6_addr[10] = sa->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&sa->sin6_addr.s6_addr[12], t->u.v4, 4);
	} else {
		memcpy(&sa->sin6_addr, t->u.v6, 16);
	}
}

/* DIRECT: straight to the target from our own socket. A name is resolved
 * once per session entry; datagrams to it are dropped until then (UDP
 * applications retransmit). */
static void session_send_direct(struct udp_session *s, const struct socks5_addr *t, struct pbuf *p)
{
	struct flow_udp_ctx *u = s->u;
	struct sockaddr_in6 sa;

	if (t->atyp == SOCKS5_ATYP_DOMAIN) {
		struct session_named *nm = session_named_find(s, t->u.domain, t->port);

		if (nm == NULL || !nm->resolved) {
			if (nm != NULL && !nm->resolving && u->resolver != NULL) {
				nm->resolving = true;
				s->refs++; /* held by the lookup */
				if (resolver_lookup(u->resolver, nm->name, session_on_direct_lookup,
						    s) < 0) {
					nm->resolving = false;
					session_release(s);
				}
			}
			u->stats.dropped_other++;
			return;
		}
		memcpy(&sa, &nm->ra, sizeof(sa));
	} else {
		session_sa_from_target(&sa, t);
	}
	session_sendmsg(s, NULL, 0, &sa, sizeof(sa), p);
}

static void session_on_direct_lookup(void *arg, int status, const struct sockaddr_storage *addrs,
				     size_t n)
{
	struct udp_session *s = arg;

	/* Every entry waiting for an address gets the first one of its
	 * family preference (IPv4 first: it works from any client). */
	for (unsigned i = 0; i < s->n_named && s->state != SESSION_DEAD; i++) {
		struct session_named *nm = &s->named[i];
		struct socks5_addr t;
		const struct sockaddr_storage *pick = NULL;

		if (!nm->resolving)
			continue;
		nm->resolving = false;
		if (status < 0 || n == 0)
			continue;
		for (size_t k = 0; k < n && pick == NULL; k++)
			if (addrs[k].ss_family == AF_INET)
				pick = &addrs[k];
		if (pick == NULL)
			pick = &addrs[0];
		addr_socktarget_from_ip(pick, &t);
		t.port = nm->port;
		session_sa_from_target((struct sockaddr_in6 *)&nm->ra, &t);
		nm->resolved = true;
	}
	if (s->state == SESSION_RESOLVING) {
		session_set_state(s, SESSION_READY);
		session_flush_pending(s); /* a name that did not resolve: dropped */
	}
	session_release(s);
}

static void session_dispatch(struct udp_session *s, const struct socks5_addr *t, struct pbuf *p)
{
	if (s->route.action == ROUTE_DIRECT)
		session_send_direct(s, t, p);
	else
		session_send(s, t, p);
}

static void session_flush_pending(struct udp_session *s)
{
	for (unsigned i = 0; i < s->n_pend; i++) {
		if (s->state == SESSION_READY)
			session_dispatch(s, &s->pend[i].dst, s->pend[i].p);
		else
			session_reject(s, &s->pend[i].ip, s->pend[i].port, s->pend[i].p);
		pbuf_free(s->pend[i].p);
	}
	s->n_pend = 0;
	free(s->pend);
	s->pend = NULL;
}

/* ---- association ------------------------------------------------------- */

static int session_set_ctl_poll(struct udp_session *s, int events)
{
	if (events == s->ctl_events)
		return 0;
	s->ctl_events = events;
	return uv_poll_start(&s->ctl_poll, events, session_on_ctl);
}

/* Where datagrams go: BND.ADDR:BND.PORT, or the proxy's own address when
 * the server answered with an unspecified BND.ADDR (RFC 1928 leaves that
 * to mean "the address you reached me at"). */
static int session_relay_addr(struct udp_session *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const struct upstream_cfg *up = s->route.up;
	struct socks5_addr b;
	static const uint8_t zero[16];

	if (upstream_conn_bound(s->ctl, &b) < 0)
		return -EPROTO;
	memset(ss, 0, sizeof(*ss));
	if ((b.atyp == SOCKS5_ATYP_IPV4 && memcmp(b.u.v4, zero, 4) == 0) ||
	    (b.atyp == SOCKS5_ATYP_IPV6 && memcmp(b.u.v6, zero, 16) == 0)) {
		memcpy(ss, &up->server, up->server_len);
		*len = up->server_len;
		if (ss->ss_family == AF_INET)
			((struct sockaddr_in *)ss)->sin_port = htons(b.port);
		else
			((struct sockaddr_in6 *)ss)->sin6_port = htons(b.port);
		return 0;
	}
	if (b.atyp == SOCKS5_ATYP_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b.u.v4, 4);
		sin->sin_port = htons(b.port);
		*len = sizeof(*sin);
		return 0;
	}
	if (b.atyp == SOCKS5_ATYP_IPV6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b.u.v6, 16);
		sin6->sin6_port = htons(b.port);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EAFNOSUPPORT; /* a relay given by name: not supported */
}

static void session_ready(struct udp_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int r = session_relay_addr(s, &ss, &len);

	if (r < 0) {
		session_end(s, "unusable relay address from proxy", strerror(-r));
		return;
	}
	r = sock_open(ss.ss_family, SOCK_DGRAM, &s->u->sock);
	if (r < 0) {
		session_end(s, "cannot open UDP socket", strerror(-r));
		return;
	}
	s->udp_fd = r;
	/* Connected: the kernel then only hands us the relay's datagrams. */
	r = sock_connect(s->udp_fd, (struct sockaddr *)&ss, len);
	if (r < 0 || uv_poll_init_socket(s->u->loop, &s->udp_poll, s->udp_fd) < 0) {
		session_end(s, "cannot reach the UDP relay", strerror(r < 0 ? -r : EIO));
		return;
	}
	s->udp_poll.data = s;
	s->udp_open = true;
	s->refs++;
	uv_poll_start(&s->udp_poll, UV_READABLE, session_on_udp);
	session_set_state(s, SESSION_READY);
	/* The control connection only signals the association's end now. */
	session_set_ctl_poll(s, UV_READABLE);
	session_flush_pending(s);
}

static void session_refused(struct udp_session *s, const char *why)
{
	struct flow_udp_ctx *u = s->u;

	u->refused_until = uv_now(u->loop) + REFUSED_BACKOFF_MS;
	if (!u->warned_refused) {
		log_warn("proxy %s does not relay UDP (%s); UDP flows are dropped, TCP is "
			 "unaffected",
			 s->route.up->server_str, why);
		u->warned_refused = true;
	}
	u->stats.dropped_refused += s->n_pend;
	session_end(s, why, NULL);
}

static void session_on_ctl(uv_poll_t *h, int status, int events)
{
	struct udp_session *s = h->data;
	struct stream io;
	char why[300];
	int r;

	(void)events;
	if (s->state == SESSION_DEAD)
		return;
	if (s->state == SESSION_CONNECTING) {
		r = upstream_conn_step(s->ctl, status, why, sizeof(why));
		if (r == STREAM_DONE) {
			session_ready(s);
		} else if (r < 0 && upstream_conn_failed_in(s->ctl) != UPSTREAM_CONN_PROXY) {
			session_end(s, why, NULL); /* connect or TLS */
		} else if (r == -EOPNOTSUPP || r == -EACCES) {
			session_refused(s, why);
		} else if (r < 0) {
			session_end(s, "UDP ASSOCIATE failed", why);
		} else {
			session_set_ctl_poll(s, sock_poll_events(r));
		}
		return;
	}
	/* READY: the association lives as long as this connection. Anything
	 * the server sends on it is meaningless; EOF or an error ends it. */
	io = upstream_conn_io(s->ctl);
	for (;;) {
		uint8_t junk[256];
		ssize_t n = io.read(io.ctx, junk, sizeof(junk));

		if (n > 0)
			continue;
		if (n == -EAGAIN) {
			/* Over TLS a read may wait for writability. */
			session_set_ctl_poll(s, UV_READABLE | sock_poll_events(stream_wants(&io)));
			return;
		}
		session_end(s, "proxy closed the association", n < 0 ? strerror((int)-n) : NULL);
		return;
	}
}

/* ---- receiving ---------------------------------------------------------- */

/* The named destination a reply answers: the most recent one with the
 * reply's port (and, for a reply from a name, that name). NULL when the
 * session sent no name to that port: then the reply's own address is
 * the right source (full cone). */
static struct session_named *session_named_reply(struct udp_session *s,
						 const struct socks5_addr *from)
{
	for (unsigned i = 0; i < s->n_named; i++) {
		struct session_named *nm = &s->named[i];

		if (nm->port != from->port)
			continue;
		if (from->atyp == SOCKS5_ATYP_DOMAIN && strcasecmp(nm->name, from->u.domain) != 0)
			continue;
		return nm;
	}
	return NULL;
}

static void session_deliver(struct udp_session *s, const uint8_t *buf, size_t len)
{
	struct flow_udp_ctx *u = s->u;
	struct socks5_addr from;
	struct session_named *nm;
	uint8_t frag;
	ip_addr_t src;
	int h = socks5_udp_header_parse(buf, len, &from, &frag);

	if (h < 0) {
		u->stats.dropped_other++;
		return;
	}
	if (frag != 0) {
		/* Reassembly is optional in RFC 1928 and no proxy we know
		 * fragments; drop and count. */
		u->stats.dropped_frag++;
		return;
	}
	if ((nm = session_named_reply(s, &from)) != NULL) {
		ip_addr_copy(src, nm->addr);
		from.port = nm->port;
	} else if (from.atyp == SOCKS5_ATYP_IPV4 && !IP_IS_V6(&s->client)) {
		IP_ADDR4(&src, from.u.v4[0], from.u.v4[1], from.u.v4[2], from.u.v4[3]);
	} else if (from.atyp == SOCKS5_ATYP_IPV6 && IP_IS_V6(&s->client)) {
		ip_addr_set_zero_ip6(&src);
		memcpy(ip_2_ip6(&src)->addr, from.u.v6, 16);
	} else {
		/* A reply from a name, or from the other family than the
		 * client's socket: nothing the client could receive. */
		u->stats.dropped_other++;
		return;
	}
	if (stack_udp_send(u->stack, &src, from.port, &s->client, s->cport, buf + h,
			   len - (size_t)h) < 0) {
		u->stats.dropped_other++;
		return;
	}
	s->down_b += len - (size_t)h;
	s->down_n++;
	u->stats.dgrams_down++;
	u->stats.bytes_down += len - (size_t)h;
	session_touch(s);
}

/* A datagram to a DIRECT session's socket from `from`. */
static void session_deliver_direct(struct udp_session *s, const struct sockaddr_in6 *from,
				   const uint8_t *buf, size_t len)
{
	struct flow_udp_ctx *u = s->u;
	uint16_t port = ntohs(from->sin6_port);
	const uint8_t *a = from->sin6_addr.s6_addr;
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool v4 = memcmp(a, v4mapped, 12) == 0;
	ip_addr_t src;
	unsigned i;

	/* An answer from a name's address comes back from the address the
	 * client used (the fake one). */
	for (i = 0; i < s->n_named; i++) {
		const struct sockaddr_in6 *ra = (const struct sockaddr_in6 *)&s->named[i].ra;

		if (s->named[i].resolved && ra->sin6_port == from->sin6_port &&
		    memcmp(&ra->sin6_addr, &from->sin6_addr, 16) == 0)
			break;
	}
	if (i < s->n_named) {
		ip_addr_copy(src, s->named[i].addr);
		port = s->named[i].port;
	} else if (v4 && !IP_IS_V6(&s->client)) {
		IP_ADDR4(&src, a[12], a[13], a[14], a[15]);
	} else if (!v4 && IP_IS_V6(&s->client)) {
		ip_addr_set_zero_ip6(&src);
		memcpy(ip_2_ip6(&src)->addr, a, 16);
	} else {
		u->stats.dropped_other++;
		return;
	}
	if (stack_udp_send(u->stack, &src, port, &s->client, s->cport, buf, len) < 0) {
		u->stats.dropped_other++;
		return;
	}
	s->down_b += len;
	s->down_n++;
	u->stats.dgrams_down++;
	u->stats.bytes_down += len;
	session_touch(s);
}

static void session_on_udp(uv_poll_t *h, int status, int events)
{
	struct udp_session *s = h->data;

	(void)events;
	if (s->state != SESSION_READY)
		return;
	if (status < 0) {
		/* libuv stopped the handle on POLLERR. An ICMP error for one
		 * datagram (the proxy relays "port unreachable" from a
		 * remote) is that datagram's loss, not the association's
		 * end: count it and keep polling. */
		int r = sock_poll_error(s->udp_fd, 0);

		if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH ||
		    r == -EHOSTDOWN || r == -EMSGSIZE || r == 0) {
			s->u->stats.dropped_other++;
			uv_poll_start(&s->udp_poll, UV_READABLE, session_on_udp);
			return;
		}
		session_end(s, "UDP relay socket error", strerror(r < 0 ? -r : -status));
		return;
	}
	/* Bounded so one busy session cannot starve the loop. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in6 from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(s->udp_fd, s->u->buf, DGRAM_MAX + SOCKS5_UDP_HEADER_MAX, 0,
				     (struct sockaddr *)&from, &flen);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				s->u->stats.dropped_other++; /* e.g. ICMP refused */
			return;
		}
		if (s->route.action == ROUTE_DIRECT)
			session_deliver_direct(s, &from, s->u->buf, (size_t)n);
		else
			session_deliver(s, s->u->buf, (size_t)n);
		if (s->state != SESSION_READY)
			return;
	}
}

/* ---- input from the TUN ------------------------------------------------- */

static struct udp_session *session_create(struct flow_udp_ctx *u, const ip_addr_t *src,
					  uint16_t sport)
{
	struct udp_session *s, *oldest = session_oldest(u);
	unsigned b;

	/* Bound the table: the least recently used session goes first. */
	if (u->count >= u->cfg.max_sessions && oldest != NULL) {
		u->stats.evicted++;
		session_end(oldest, "evicted (session table full)", NULL);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->u = u;
	s->id = ++u->next_id;
	s->refs = 1;
	s->udp_fd = -1;
	s->dns_only = true;
	ip_addr_copy(s->client, *src);
	s->cport = sport;
	s->t_start = s->t_last = uv_now(u->loop);
	b = session_hash(src, sport);
	s->hnext = u->buckets[b];
	u->buckets[b] = s;
	list_insert_before(&u->lru, &s->lru);
	u->count++;
	u->stats.sessions++;
	s->state = SESSION_ROUTING; /* the first state: nothing to log yet */
	return s;
}

/* PROXY: the control connection for UDP ASSOCIATE. */
static int session_start_proxy(struct udp_session *s)
{
	struct flow_udp_ctx *u = s->u;
	const struct upstream_cfg *up = s->route.up;
	struct upstream_conn_spec spec;
	struct socks5_addr any;
	char name[32], why[300];
	int r;

	if (up->proto != &upstream_socks5) {
		session_end(s, "the upstream cannot carry UDP", s->route.via);
		return -EOPNOTSUPP;
	}
	if (u->refused_until && uv_now(u->loop) < u->refused_until) {
		/* Warned once already: discard quietly until idle. */
		u->stats.dropped_refused += s->n_pend;
		session_set_state(s, SESSION_BLOCKED);
		session_flush_pending(s);
		return -EOPNOTSUPP;
	}
	session_set_state(s, SESSION_CONNECTING);
	/* We do not know our relay-side source yet: 0.0.0.0:0 (or ::). */
	if (up->server.ss_family == AF_INET6)
		socks5_addr_from_ipv6(&any, (const uint8_t[16]){ 0 }, 0);
	else
		socks5_addr_from_ipv4(&any, (const uint8_t[4]){ 0 }, 0);
	snprintf(name, sizeof(name), "udp#%" PRIu64, s->id);
	spec = (struct upstream_conn_spec){
		.name = name,
		.sock = &u->sock,
		.up = up,
		.proto = &upstream_socks5_udp,
		.target = &any,
	};
	r = upstream_conn_open(&spec, &s->ctl, why, sizeof(why));
	if (r < 0) {
		session_end(s, why, NULL);
		return r;
	}
	/* The control connection idles for the session's life: its
	 * proxy gone without a word would hold the session until its
	 * timeout. */
	r = sock_keepalive(upstream_conn_fd(s->ctl), &u->sock);
	if (r < 0) {
		session_end(s, "cannot set keepalive on the proxy connection", strerror(-r));
		return r;
	}
	r = uv_poll_init_socket(u->loop, &s->ctl_poll, upstream_conn_fd(s->ctl));
	if (r < 0) {
		session_end(s, "cannot open a connection to the proxy", uv_strerror(r));
		return r;
	}
	s->ctl_poll.data = s;
	s->ctl_open = true;
	s->refs++;
	session_set_ctl_poll(s, UV_WRITABLE);
	return 0;
}

/* DIRECT: one dual-stack socket, unconnected (answers from anyone: full
 * cone). */
static int session_start_direct(struct udp_session *s)
{
	struct flow_udp_ctx *u = s->u;
	int r = sock_open(AF_INET6, SOCK_DGRAM, &u->sock);

	if (r < 0) {
		session_end(s, "cannot open UDP socket", strerror(-r));
		return r;
	}
	s->udp_fd = r;
	r = uv_poll_init_socket(u->loop, &s->udp_poll, s->udp_fd);
	if (r < 0) {
		session_end(s, "cannot open UDP socket", strerror(-r));
		return r;
	}
	s->udp_poll.data = s;
	s->udp_open = true;
	s->refs++;
	uv_poll_start(&s->udp_poll, UV_READABLE, session_on_udp);
	if (s->n_pend > 0 && s->pend[0].dst.atyp == SOCKS5_ATYP_DOMAIN && u->resolver != NULL) {
		struct session_named *nm =
			session_named_find(s, s->pend[0].dst.u.domain, s->pend[0].dst.port);

		if (nm != NULL && !nm->resolved) {
			/* The queue waits for the first name's address. */
			nm->resolving = true;
			session_set_state(s, SESSION_RESOLVING);
			s->refs++; /* held by the lookup */
			r = resolver_lookup(u->resolver, nm->name, session_on_direct_lookup, s);
			if (r < 0) {
				nm->resolving = false;
				session_release(s);
				session_set_state(s, SESSION_READY);
				session_flush_pending(s);
			}
			return 0;
		}
	}
	session_set_state(s, SESSION_READY);
	session_flush_pending(s);
	return 0;
}

static void session_on_routed(void *arg, int status)
{
	struct udp_session *s = arg;
	struct flow_udp_ctx *u = s->u;

	if (status == 0)
		s->routed = true;
	if (s->state == SESSION_DEAD) {
		if (s->routed) {
			u->route.release(u->route.ctx, s->route.hold);
			s->routed = false;
		}
		session_release(s);
		return;
	}
	if (status < 0) {
		session_end(s, "no route", strerror(-status));
	} else if (s->route.action == ROUTE_PROXY) {
		session_start_proxy(s);
	} else if (s->route.action == ROUTE_DIRECT) {
		session_start_direct(s);
	} else {
		/* REJECT / REJECT-DROP: this source's datagrams are refused
		 * (ICMP port unreachable) or dropped until it goes idle. */
		session_set_state(s, SESSION_BLOCKED);
		session_flush_pending(s);
		log_debug("udp#%" PRIu64 " %s by rule %s", s->id, s->route.via, s->route.rule);
	}
	session_release(s);
}

/* Asks the router about the session's first datagram; the route then
 * holds for the whole session (see flow_udp.h). */
static void session_route(struct udp_session *s, const ip_addr_t *dst, uint16_t dport, bool fake)
{
	struct flow_udp_ctx *u = s->u;
	struct route_query q = {
		.udp = true,
		.src = &s->client,
		.src_port = s->cport,
		.dst = dst,
		.dst_port = dport,
		.dst_is_fake = fake,
		.domain = s->n_named > 0 && s->named[0].port == dport &&
					  ip_addr_eq(&s->named[0].addr, dst)
				  ? s->named[0].name
				  : NULL,
	};
	int r;

	if (s->sniffed != NULL) {
		q.domain = s->sniffed;
		q.keep_dst = s->keep_dst;
		q.dst_is_fake = !s->keep_dst;
	}

	s->refs++; /* held by the decision */
	r = u->route.decide(u->route.ctx, &q, &s->route, session_on_routed, s);
	if (r != -EINPROGRESS)
		session_on_routed(s, r);
}

/* The SOCKS5 destination of a datagram to dst:dport: by name when DNS
 * interception knows one (the entry then moves to the front of
 * s->named), else the address. -ESTALE for a fake address nobody maps
 * (the datagram is dropped: sending it to the fake address is useless). */
static int session_target(struct udp_session *s, const ip_addr_t *dst, uint16_t dport,
			  struct socks5_addr *t)
{
	struct session_named cur = { .port = dport };
	char name[256];
	unsigned i;
	int r;

	for (i = 0; i < s->n_named; i++)
		if (s->named[i].port == dport && ip_addr_eq(&s->named[i].addr, dst))
			break;
	if (i < s->n_named) {
		cur = s->named[i];
	} else {
		r = dns_intercept_flow_name(s->u->dns, dst, name, sizeof(name), &cur.pinned);
		if (r == -ENOENT) {
			target_from_ip(dst, dport, t);
			return 0;
		}
		if (r < 0)
			return r;
		ip_addr_copy(cur.addr, *dst);
		cur.name = strdup(name);
		if (cur.name == NULL) {
			if (cur.pinned)
				dns_intercept_flow_done(s->u->dns, dst);
			return -ENOMEM;
		}
		if (s->n_named == SESSION_NAMED_MAX) {
			/* Forget the least recent (its pin goes with it). */
			struct session_named *old = &s->named[SESSION_NAMED_MAX - 1];

			if (old->pinned)
				dns_intercept_flow_done(s->u->dns, &old->addr);
			free(old->name);
			s->n_named--;
		}
		i = s->n_named++;
	}
	memmove(&s->named[1], &s->named[0], i * sizeof(s->named[0]));
	s->named[0] = cur;
	return socks5_addr_from_domain(t, cur.name, dport);
}

/* ---- sniff (QUIC) --------------------------------------------------------- */

/* Whether the session's first datagram (to dst:dport, target t) opens
 * SNIFFING: the sniffer wants QUIC on that port for it. */
static bool session_sniff_start(struct udp_session *s, const ip_addr_t *dst, uint16_t dport,
				const struct socks5_addr *t, bool fake)
{
	const char *name = t->atyp == SOCKS5_ATYP_DOMAIN ? t->u.domain : NULL;

	const ip_addr_t *src = &s->client;
	bool v4 = IP_IS_V4(dst);

	if (!(sniffer_wants(s->u->sniffer, true, dport, name, fake) & SNIFFER_QUIC))
		return false;
	if (sniffer_skips(s->u->sniffer,
			  v4 ? (const uint8_t *)&ip_2_ip4(src)->addr
			     : (const uint8_t *)ip_2_ip6(src)->addr,
			  v4 ? (const uint8_t *)&ip_2_ip4(dst)->addr
			     : (const uint8_t *)ip_2_ip6(dst)->addr,
			  v4 ? 4 : 16))
		return false;
	s->quic = malloc(sizeof(*s->quic));
	if (s->quic == NULL)
		return false;
	sniff_quic_init(s->quic);
	ip_addr_copy(s->sniff_dst, *dst);
	s->sniff_port = dport;
	s->sniff_fake = fake;
	session_set_state(s, SESSION_SNIFFING);
	return true;
}

/* Ends SNIFFING with name (NULL: none) and routes. With
 * override-destination the name becomes the target of every datagram to
 * the sniffed address and port, queued ones included. */
static void session_sniff_done(struct udp_session *s, const char *name)
{
	const struct sniffer *sn = s->u->sniffer;

	free(s->quic);
	s->quic = NULL;
	if (name != NULL && !sniffer_accepts(sn, name)) {
		log_debug("udp#%" PRIu64 " sniffed %s: in skip-domain", s->id, name);
		name = NULL;
	}
	if (name != NULL)
		s->sniffed = strdup(name);
	if (s->sniffed != NULL) {
		s->keep_dst = !sniffer_overrides(sn, SNIFFER_QUIC);
		log_debug("udp#%" PRIu64 " sniffed %s (QUIC)%s", s->id, name,
			  s->keep_dst ? ", for the rules only" : "");
	}
	if (s->sniffed != NULL && !s->keep_dst &&
	    (s->n_named == 0 || s->named[0].port != s->sniff_port ||
	     !ip_addr_eq(&s->named[0].addr, &s->sniff_dst))) {
		/* The name as the target: a named entry (first, as
		 * session_target keeps the latest there), and the queue. */
		struct session_named nm = { .port = s->sniff_port };

		nm.name = strdup(s->sniffed);
		ip_addr_copy(nm.addr, s->sniff_dst);
		if (nm.name != NULL && s->n_named < SESSION_NAMED_MAX) {
			memmove(&s->named[1], &s->named[0], s->n_named * sizeof(s->named[0]));
			s->named[0] = nm;
			s->n_named++;
		} else {
			free(nm.name);
		}
	} else if (s->sniffed != NULL && !s->keep_dst) {
		char *d = strdup(s->sniffed); /* replaces a real-ip name */

		if (d != NULL) {
			free(s->named[0].name);
			s->named[0].name = d;
		}
	}
	if (s->sniffed != NULL && !s->keep_dst && s->n_named > 0 &&
	    strcmp(s->named[0].name, s->sniffed) == 0)
		for (unsigned i = 0; i < s->n_pend; i++)
			if (s->pend[i].port == s->sniff_port &&
			    ip_addr_eq(&s->pend[i].ip, &s->sniff_dst))
				socks5_addr_from_domain(&s->pend[i].dst, s->named[0].name,
							s->sniff_port);
	session_set_state(s, SESSION_ROUTING);
	session_route(s, &s->sniff_dst, s->sniff_port, s->sniff_fake);
}

/* A datagram (queued already) while SNIFFING. */
static void session_sniff_feed(struct udp_session *s, const ip_addr_t *dst, uint16_t dport,
			       struct pbuf *p)
{
	uint8_t *buf = s->u->buf;
	char name[SNIFF_NAME_MAX];
	u16_t n;
	int r;

	if (dport != s->sniff_port || !ip_addr_eq(dst, &s->sniff_dst))
		return;
	if (p->tot_len > SNIFF_QUIC_PKT_MAX) {
		session_sniff_done(s, NULL);
		return;
	}
	n = pbuf_copy_partial(p, buf, p->tot_len, 0);
	r = sniff_quic(s->quic, buf, n, name, sizeof(name));
	if (r == SNIFF_NEED_MORE && s->n_pend < s->u->cfg.max_pending)
		return;
	session_sniff_done(s, r == 0 ? name : NULL);
}

void flow_udp_set_sniffer(struct flow_udp_ctx *u, const struct sniffer *sn)
{
	u->sniffer = sn;
}

void flow_udp_set_dns(struct flow_udp_ctx *u, struct dns_intercept *dns)
{
	u->dns = dns;
}

void flow_udp_set_resolver(struct flow_udp_ctx *u, struct resolver *r)
{
	u->resolver = r;
}

unsigned flow_udp_shed_idle(struct flow_udp_ctx *u, uint64_t idle_ms)
{
	uint64_t now = uv_now(u->loop);
	unsigned n = 0;
	struct udp_session *s;

	/* u->lru runs from the least recently used: stop at the first busy one */
	while ((s = session_oldest(u)) != NULL && now - s->t_last >= idle_ms) {
		u->stats.shed++;
		session_end(s, "ended (memory budget)", NULL);
		n++;
	}
	return n;
}

void flow_udp_set_refuse_new(struct flow_udp_ctx *u, bool on)
{
	u->refuse_new = on;
}

void flow_udp_set_sock(struct flow_udp_ctx *u, const struct sock_opts *sock)
{
	u->sock = *sock;
}

void flow_udp_input(struct flow_udp_ctx *u, const ip_addr_t *src, uint16_t sport,
		    const ip_addr_t *dst, uint16_t dport, struct pbuf *payload)
{
	struct udp_session *s = session_find(u, src, sport);
	struct socks5_addr t;
	bool created = false, queue_first = false;

	if (s == NULL) {
		if (u->refuse_new) {
			u->stats.dropped_memory++;
			pbuf_free(payload);
			return;
		}
		s = session_create(u, src, sport);
		created = true;
		if (s == NULL) {
			u->stats.dropped_other++;
			pbuf_free(payload);
			return;
		}
	}
	session_touch(s);
	if (dport != 53)
		s->dns_only = false;
	if (session_target(s, dst, dport, &t) < 0) {
		u->stats.dropped_other++;
		pbuf_free(payload);
		if (created)
			session_end(s, "fake address with no name", NULL);
		return;
	}
	if (created) {
		/* The datagram waits in the queue while the route is
		 * decided (usually at once). */
		queue_first = true;
	} else if (s->state == SESSION_READY) {
		session_dispatch(s, &t, payload);
		pbuf_free(payload);
		return;
	} else if (s->state == SESSION_BLOCKED) {
		session_reject(s, dst, dport, payload);
		pbuf_free(payload);
		return;
	}
	if (s->n_pend >= u->cfg.max_pending) {
		u->stats.dropped_pending++;
		pbuf_free(payload);
		return;
	}
	if (s->pend == NULL) {
		s->pend = calloc(u->cfg.max_pending, sizeof(*s->pend));
		if (s->pend == NULL) {
			u->stats.dropped_other++;
			pbuf_free(payload);
			return;
		}
	}
	/* The pbuf waits in the queue, owned by the session. */
	s->pend[s->n_pend].dst = t;
	ip_addr_copy(s->pend[s->n_pend].ip, *dst);
	s->pend[s->n_pend].port = dport;
	s->pend[s->n_pend].p = payload;
	s->n_pend++;
	if (queue_first) {
		bool fake = t.atyp == SOCKS5_ATYP_DOMAIN && s->named[0].pinned;

		if (session_sniff_start(s, dst, dport, &t, fake))
			session_sniff_feed(s, dst, dport, payload);
		else
			session_route(s, dst, dport, fake);
	} else if (s->state == SESSION_SNIFFING) {
		session_sniff_feed(s, dst, dport, payload);
	}
}

/* ---- timers -------------------------------------------------------------- */

static void session_on_sweep(uv_timer_t *h)
{
	struct flow_udp_ctx *u = h->data;
	uint64_t now = uv_now(u->loop);
	struct list_node *n, *tmp;

	/* Oldest first; session_end() takes s off the list. */
	list_for_each_safe(n, tmp, &u->lru) {
		struct udp_session *s = list_entry(n, struct udp_session, lru);

		if (s->state == SESSION_SNIFFING) {
			/* A first flight comes at once; a lost part is resent
			 * after the client's timeout: route without a name. */
			if (now - s->t_start >= 1000)
				session_sniff_done(s, NULL);
			continue;
		}
		if (s->state < SESSION_READY) {
			if (now - s->t_start >= u->cfg.connect_timeout_ms)
				session_end(s,
					    s->state == SESSION_ROUTING
						    ? "timed out resolving for the rules"
						    : "timed out associating with the proxy",
					    NULL);
			continue;
		}
		/* DNS-only sessions get the shorter of the two timeouts. */
		uint64_t idle = u->cfg.idle_ms;

		if (s->dns_only && u->cfg.dns_idle_ms < idle)
			idle = u->cfg.dns_idle_ms;
		if (now - s->t_last >= idle)
			session_end(s, "idle", NULL);
	}
}

/* ---- context ----------------------------------------------------------- */

int flow_udp_ctx_create(uv_loop_t *loop, struct stack *stack, const struct route_ops *route,
			const struct sock_opts *sock, const struct flow_udp_config *cfg,
			struct flow_udp_ctx **out)
{
	struct flow_udp_ctx *u;
	int r;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	u->buf = malloc(DGRAM_MAX + SOCKS5_UDP_HEADER_MAX);
	if (u->buf == NULL) {
		free(u);
		return -ENOMEM;
	}
	u->loop = loop;
	u->stack = stack;
	u->route = *route;
	u->sock = *sock;
	u->cfg = *cfg;
	list_init(&u->lru);
	if (u->cfg.max_sessions == 0)
		u->cfg.max_sessions = 1;
	r = reaper_init(&u->reaper, loop, session_reap);
	if (r < 0) {
		free(u->buf);
		free(u);
		return r;
	}
	uv_timer_init(loop, &u->sweep);
	u->sweep.data = u;
	uv_timer_start(&u->sweep, session_on_sweep, 1000, 1000);
	*out = u;
	return 0;
}

void flow_udp_ctx_shutdown(struct flow_udp_ctx *u)
{
	struct udp_session *s;

	while ((s = session_oldest(u)) != NULL)
		session_end(s, "shutting down", NULL);
	uv_close((uv_handle_t *)&u->sweep, NULL);
	reaper_close(&u->reaper);
}

void flow_udp_ctx_destroy(struct flow_udp_ctx *u)
{
	if (u == NULL)
		return;
	reaper_flush(&u->reaper);
	free(u->buf);
	free(u);
}

const struct flow_udp_stats *flow_udp_stats(const struct flow_udp_ctx *u)
{
	return &u->stats;
}

unsigned flow_udp_sessions(const struct flow_udp_ctx *u)
{
	return u->count;
}

/* ---- the control API's view (flow_info.h) ------------------------------ */

void flow_udp_foreach(struct flow_udp_ctx *u, flow_info_fn fn, void *arg)
{
	for (struct list_node *n = u->lru.next; n != &u->lru; n = n->next) {
		const struct udp_session *s = list_entry(n, struct udp_session, lru);
		struct flow_info fi = {
			.id = s->id,
			.udp = true,
			.src = &s->client,
			.src_port = s->cport,
			.dst = s->n_named > 0 ? &s->named[0].addr : NULL,
			.dst_port = s->n_named > 0 ? s->named[0].port : 0,
			.domain = s->n_named > 0 ? s->named[0].name : NULL,
			.route = s->routed ? &s->route : NULL,
			.up = s->up_b,
			.down = s->down_b,
			.start_ms = s->t_start,
		};

		fn(arg, &fi);
	}
}

int flow_udp_close(struct flow_udp_ctx *u, uint64_t id)
{
	struct list_node *n, *tmp;
	int r = -ENOENT;

	list_for_each_safe(n, tmp, &u->lru) {
		struct udp_session *s = list_entry(n, struct udp_session, lru);

		if (id != 0 && s->id != id)
			continue;
		session_end(s, "closed through the control API", NULL);
		r = 0;
		if (id != 0)
			break;
	}
	return id == 0 ? 0 : r;
}
