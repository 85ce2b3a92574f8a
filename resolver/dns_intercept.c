/* dns_intercept: see dns_intercept.h.
 *
 * Ownership and lifetimes:
 *  - a forwarded query is one struct dns_pending, owned by the forwarder
 *    callback from send until the callback runs (exactly once, also on
 *    shutdown with -ECANCELED); the callback hands the answer (or NULL) to
 *    the requester's reply function and frees the record: nothing else
 *    ever points at it;
 *  - a TCP client is a struct dns_tcp holding one reference for being
 *    alive plus one per forwarded query still owed an answer. Closing
 *    detaches every lwIP callback first; the memory goes from the reaper
 *    (a uv_check handle), never inside an lwIP or forwarder callback;
 *  - di->buf is scratch for one answer at a time: every answer is copied
 *    out (into the TUN or a TCP client's queue) before the callback that
 *    built it returns;
 *  - di->pending counts the struct dns_pending alive; a dns_pending from a
 *    known client also counts on its client's struct dns_client_slot,
 *    which exists exactly while its count is above 0 (so the table never
 *    holds more slots than di->max_pending).
 */
/* lwIP first: its TCP_MSS must not be shadowed by <netinet/tcp.h>'s. */
#include "lwip/pbuf.h"
#include "lwip/tcp.h"

#include "resolver/dns_intercept.h"
#include "resolver/dns_hosts.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/addrmap.h"
#include "resolver/dns_msg.h"
#include "resolver/domain_match.h"
#include "resolver/fakeip.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/reaper.h"
#include "tun2socks/base/siphash.h"
#include "lwip-port/stack.h"

enum {
	DNS_PORT = 53,
	DNS_UDP_IN_MAX = 4096,             /* larger "queries" are dropped */
	DNS_TCP_RX_MAX = 2 + 65535 + 4096, /* one frame and the next's start */
	DNS_TCP_PENDING_MAX = 32,          /* forwarded queries per TCP client */
	DNS_TCP_TX_MAX = 65536,            /* queued answers before we stop reading */
	DNS_TCP_IDLE_MS = 10000,           /* RFC 7766 6.2.3: servers close idle ones */
	DNS_TCP_POLL = 4,                  /* lwIP poll interval, 500 ms units */
	DNS_REALIP_KEEP_MS = 600000,       /* address -> name kept at least this */
	DNS_DEFAULT_TTL = 1,
	DNS_HOSTS_TTL = 10, /* answers from hosts: (mihomo's) */
	/* Forwarded queries waiting at once: at 50 ms per answer that is
	 * 20 000 queries/s in total, 5 000/s from one client, far above any
	 * LAN; a silent upstream holds each for its timeout (2 tries x 2 s),
	 * so a flood costs at most this many (~2 KiB each with c-ares'). */
	DNS_PENDING_MAX = 1024,
	DNS_PENDING_CLIENT_MAX = 256,
	DNS_CLIENT_BUCKETS = 256,
	DNS_WARN_EVERY_MS = 60000,
};

/* Forwarded queries still waiting, of one client address. */
struct dns_client_slot {
	struct dns_client_slot *next;
	ip_addr_t ip;
	unsigned pending;
};

struct dns_tcp {
	struct dns_intercept *di;
	struct list_node link;    /* on di->tcp_live until dead */
	struct reaper_node rnode; /* once released */
	uint64_t id;
	unsigned refs;    /* alive + one per forwarded query */
	unsigned pending; /* forwarded queries owed an answer */
	bool dead;
	bool client_eof;
	struct tcp_pcb *pcb; /* NULL once closed or freed by lwIP */
	uint8_t *rx;         /* unframed client bytes */
	size_t rx_len;
	uint8_t *tx; /* answers lwIP has not taken yet */
	size_t tx_len, tx_cap;
	uint64_t t_last;
	struct dns_client cl;
};

struct dns_pending {
	struct dns_intercept *di;
	struct dns_client_slot *slot; /* NULL: client unknown */
	struct dns_query q;
	size_t max_msg;
	dns_intercept_reply_fn *later;
	void *later_arg;
};

struct dns_udp_reply {
	struct dns_intercept *di;
	ip_addr_t client, server;
	uint16_t client_port, server_port;
};

struct dns_intercept {
	uv_loop_t *loop;
	struct stack *stack;
	enum dns_mode mode;
	struct fakeip *fake;         /* fake-ip mode only */
	struct domain_match *filter; /* fake-ip mode only */
	bool filter_whitelist;       /* filter lists the fake names */
	const struct dns_hosts *hosts;
	bool (*filter_fn)(void *arg, const char *name);
	void *filter_arg;
	struct addrmap *amap;
	struct dns_forwarder fwd;
	uint32_t fake_ttl;
	uint8_t *buf;              /* 2 + 65535: an answer with TCP prefix */
	struct list_node tcp_live; /* TCP clients not closed, newest first */
	struct reaper reaper;      /* frees released TCP clients */
	bool shut;
	uint64_t next_tcp_id;
	unsigned pending, max_pending, max_pending_client;
	unsigned shed_max; /* the memory budget's cap on pending; 0: none */
	struct dns_client_slot *clients[DNS_CLIENT_BUCKETS];
	uint8_t key[16]; /* of the client table's hash */
	bool loop_warned;
	uint64_t cap_warned_at;      /* uv_now() of the last cap warning */
	uint64_t pool_warned_at;     /* ... and of the last "pool busy" one */
	uint64_t min_age_ms;         /* of a fake address before reuse */
	char range4[64], range6[64]; /* the fake ranges, for messages */
	struct dns_intercept_stats stats;
};

static void dns_tcp_process(struct dns_tcp *c);

/* ---- answers ------------------------------------------------------------ */

static int dns_servfail(struct dns_intercept *di, const struct dns_query *q, uint8_t *out,
			size_t outcap)
{
	int n = dns_msg_build_error(q, ARES_RCODE_SERVFAIL, out, outcap);

	di->stats.servfail++;
	return n > 0 ? n : 0;
}

static void dns_learn_addr(void *arg, const char *qname, const uint8_t *addr, size_t alen,
			   uint32_t ttl)
{
	struct dns_intercept *di = arg;
	uint64_t keep = (uint64_t)ttl * 1000;

	if (keep < DNS_REALIP_KEEP_MS)
		keep = DNS_REALIP_KEEP_MS;
	/* Best effort: without the entry a flow goes by address. */
	(void)addrmap_put(di->amap, addr, alen, qname, uv_now(di->loop), keep);
}

/* ---- what waits for the upstream ------------------------------------------ */

static struct dns_client_slot **dns_slot_head(struct dns_intercept *di, const ip_addr_t *ip)
{
	uint64_t h;

	if (IP_IS_V4(ip))
		h = siphash24(di->key, (const uint8_t *)&ip_2_ip4(ip)->addr, 4);
	else
		h = siphash24(di->key, (const uint8_t *)ip_2_ip6(ip)->addr, 16);
	return &di->clients[h % DNS_CLIENT_BUCKETS];
}

static struct dns_client_slot *dns_slot_find(struct dns_intercept *di, const ip_addr_t *ip)
{
	struct dns_client_slot *s = *dns_slot_head(di, ip);

	while (s != NULL && !ip_addr_cmp(&s->ip, ip))
		s = s->next;
	return s;
}

/* One more forwarded query of ip: its slot, made if needed; NULL when out
 * of memory. */
static struct dns_client_slot *dns_slot_hold(struct dns_intercept *di, const ip_addr_t *ip)
{
	struct dns_client_slot **head, *s = dns_slot_find(di, ip);

	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return NULL;
		ip_addr_copy(s->ip, *ip);
		head = dns_slot_head(di, ip);
		s->next = *head;
		*head = s;
	}
	s->pending++;
	return s;
}

static void dns_slot_release(struct dns_intercept *di, struct dns_client_slot *s)
{
	struct dns_client_slot **pp;

	if (s == NULL || --s->pending > 0)
		return;
	for (pp = dns_slot_head(di, &s->ip); *pp != s; pp = &(*pp)->next)
		;
	*pp = s->next;
	free(s);
}

static void dns_pending_free(struct dns_pending *p)
{
	struct dns_intercept *di = p->di;

	dns_slot_release(di, p->slot);
	di->pending--;
	free(p);
}

/* Whether one more query may wait for the upstream; counts and warns
 * (at most once a minute) when not. */
static bool dns_may_forward(struct dns_intercept *di, const struct dns_client *cl)
{
	const struct dns_client_slot *s = cl != NULL ? dns_slot_find(di, &cl->src) : NULL;
	uint64_t now = uv_now(di->loop);
	char who[64];

	if (di->pending < di->max_pending && (s == NULL || s->pending < di->max_pending_client) &&
	    (di->shed_max == 0 || di->pending < di->shed_max))
		return true;
	di->stats.capped++;
	if (di->cap_warned_at == 0 || now - di->cap_warned_at >= DNS_WARN_EVERY_MS) {
		di->cap_warned_at = now;
		if (di->shed_max && di->pending >= di->shed_max)
			log_warn("dns: %u forwarded queries wait for the upstream and the memory "
				 "budget is short: answering SERVFAIL to more",
				 di->pending);
		else if (di->pending >= di->max_pending)
			log_warn("dns: %u forwarded queries already wait for the upstream: "
				 "answering SERVFAIL to more (is the DNS server slow or "
				 "unreachable?)",
				 di->pending);
		else
			log_warn("dns: %u queries from %s already wait for the upstream: "
				 "answering SERVFAIL to more from it (is the DNS server slow or "
				 "unreachable?)",
				 s->pending, ipaddr_ntoa_r(&cl->src, who, sizeof(who)));
	}
	return false;
}

static void dns_on_forward_reply(void *arg, int status, const struct ares_dns_record *reply)
{
	struct dns_pending *p = arg;
	struct dns_intercept *di = p->di;
	uint8_t *out = di->buf + 2;
	int n = -EIO;

	if (status == -ECANCELED) {
		/* Shutting down: no answer, the requester only lets go. */
		p->later(p->later_arg, NULL, 0);
		dns_pending_free(p);
		return;
	}
	if (status == 0) {
		n = dns_msg_rewrite_record(&p->q, reply, out, DNS_MSG_TCP_MAX, p->max_msg);
		if (n > 0 && (p->q.qtype == ARES_REC_TYPE_A || p->q.qtype == ARES_REC_TYPE_AAAA))
			dns_msg_record_addrs(reply, dns_learn_addr, di);
	}
	if (n <= 0) {
		log_debug("dns: %s type %u: %s", p->q.name, p->q.qtype,
			  status < 0 ? strerror(-status) : "unusable upstream reply");
		n = dns_servfail(di, &p->q, out, DNS_MSG_TCP_MAX);
	}
	p->later(p->later_arg, n > 0 ? out : NULL, n > 0 ? (size_t)n : 0);
	dns_pending_free(p);
}

static int dns_forward(struct dns_intercept *di, const struct dns_client *cl,
		       const struct dns_query *q, size_t max_msg, dns_intercept_reply_fn *later,
		       void *later_arg, uint8_t *out, size_t outcap)
{
	struct ares_dns_record *rec = NULL;
	struct dns_pending *p;
	int r;

	if (later == NULL || di->shut || !dns_may_forward(di, cl))
		return dns_servfail(di, q, out, outcap);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return dns_servfail(di, q, out, outcap);
	if (cl != NULL) {
		p->slot = dns_slot_hold(di, &cl->src);
		if (p->slot == NULL) {
			free(p);
			return dns_servfail(di, q, out, outcap);
		}
	}
	di->pending++;
	p->di = di;
	p->q = *q;
	p->max_msg = max_msg;
	p->later = later;
	p->later_arg = later_arg;
	r = dns_msg_upstream_query(q, &rec);
	if (r == 0)
		r = di->fwd.send(di->fwd.ctx, rec, dns_on_forward_reply, p);
	ares_dns_record_destroy(rec);
	if (r < 0) {
		log_debug("dns: cannot forward %s: %s", q->name, strerror(-r));
		if (r == -EAGAIN)
			di->stats.capped++; /* the forwarder's own cap */
		dns_pending_free(p);
		return dns_servfail(di, q, out, outcap);
	}
	di->stats.forwarded++;
	return -EINPROGRESS;
}

/* No fake address for q: r is fakeip's -EAGAIN (none unused for the
 * minimum age) or -ENOSPC (all pinned). Warned at most once a minute. */
static void dns_pool_busy(struct dns_intercept *di, const struct dns_query *q, int r)
{
	uint64_t now = uv_now(di->loop);
	const char *range = q->qtype == ARES_REC_TYPE_A ? di->range4 : di->range6;

	di->stats.pool_busy++;
	if (di->pool_warned_at != 0 && now - di->pool_warned_at < DNS_WARN_EVERY_MS)
		return;
	di->pool_warned_at = now;
	if (r == -EAGAIN)
		log_warn("dns: no fake address for %s: every address of %s was used in the last "
			 "%u s (fake-ip-min-age): answering SERVFAIL; use a larger fake-ip-range",
			 q->name, range, (unsigned)(di->min_age_ms / 1000));
	else
		log_warn("dns: no fake address for %s: every address of %s is held by a live "
			 "flow: answering SERVFAIL; use a larger fake-ip-range",
			 q->name, range);
}

/* An answer from the hosts table (both modes), or -ENOENT. Its addresses
 * are remembered as real-ip answers are, so flows to them carry the name. */
static int dns_answer_hosts(struct dns_intercept *di, const struct dns_query *q, size_t max_msg,
			    uint8_t *out, size_t outcap)
{
	uint8_t packed[DNS_HOSTS_MAX * 16];
	struct dns_hosts_addrs a;
	size_t n, alen;

	if ((q->qtype != ARES_REC_TYPE_A && q->qtype != ARES_REC_TYPE_AAAA) ||
	    dns_hosts_find(di->hosts, q->name, &a) < 0)
		return -ENOENT;
	alen = q->qtype == ARES_REC_TYPE_A ? 4 : 16;
	n = alen == 4 ? a.n4 : a.n6;
	for (size_t i = 0; i < n; i++) {
		memcpy(packed + i * alen, alen == 4 ? a.a4[i] : a.a6[i], alen);
		dns_learn_addr(di, q->name, packed + i * alen, alen, DNS_HOSTS_TTL);
	}
	return dns_msg_build_addr(q, packed, n, DNS_HOSTS_TTL, out, outcap, max_msg);
}

/* A fake-ip answer, or -EAGAIN when q must be forwarded. */
static int dns_answer_fake(struct dns_intercept *di, const struct dns_query *q, size_t max_msg,
			   uint8_t *out, size_t outcap)
{
	uint8_t a[16];
	const char *name;
	int r, n;

	switch (q->qtype) {
	case ARES_REC_TYPE_A:
	case ARES_REC_TYPE_AAAA:
		/* Real answers for filtered names (whitelist: for the others). */
		if ((domain_match_test(di->filter, q->name) ||
		     (di->filter_fn && di->filter_fn(di->filter_arg, q->name))) !=
		    di->filter_whitelist)
			return -EAGAIN;
		if (q->qtype == ARES_REC_TYPE_A)
			r = fakeip_lookup4(di->fake, q->name, a);
		else
			r = fakeip_lookup6(di->fake, q->name, a);
		if (r == -EAFNOSUPPORT)
			return dns_msg_build_nodata(q, out, outcap);
		if (r == -EINVAL)
			return -EAGAIN; /* not a host name we can map */
		if (r == -EAGAIN || r == -ENOSPC) {
			dns_pool_busy(di, q, r);
			return dns_servfail(di, q, out, outcap);
		}
		if (r < 0) {
			log_warn("dns: no fake address for %s: %s", q->name, strerror(-r));
			return dns_servfail(di, q, out, outcap);
		}
		di->stats.answered_fake++;
		return dns_msg_build_addr(q, a, 1, di->fake_ttl, out, outcap, max_msg);
	case ARES_REC_TYPE_PTR:
		n = dns_msg_ptr_name_to_addr(q->name, a);
		if (n == 4 && fakeip_contains4(di->fake, a))
			name = fakeip_domain4(di->fake, a);
		else if (n == 16 && fakeip_contains6(di->fake, a))
			name = fakeip_domain6(di->fake, a);
		else
			return -EAGAIN;
		di->stats.answered_ptr++;
		if (name == NULL)
			return dns_msg_build_error(q, ARES_RCODE_NXDOMAIN, out, outcap);
		return dns_msg_build_ptr(q, name, di->fake_ttl, out, outcap, max_msg);
	default:
		return -EAGAIN;
	}
}

/* Whether q, from cl, is a query of our own forwarder come back into the
 * TUN: then forwarding it again would loop until every query ID is taken.
 * Warns once per run; every such query is counted. */
static bool dns_is_looped(struct dns_intercept *di, const struct dns_client *cl,
			  const struct dns_query *q)
{
	struct sockaddr_storage ss;
	char server[64];

	if (cl == NULL || di->fwd.is_own == NULL)
		return false;
	memset(&ss, 0, sizeof(ss));
	if (IP_IS_V4(&cl->src)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(cl->sport);
		memcpy(&s4->sin_addr, &ip_2_ip4(&cl->src)->addr, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cl->sport);
		memcpy(&s6->sin6_addr, ip_2_ip6(&cl->src)->addr, 16);
	}
	if (!di->fwd.is_own(di->fwd.own_ctx, (const struct sockaddr *)&ss, q->id, q->name,
			    q->qtype))
		return false;
	di->stats.looped++;
	if (!di->loop_warned) {
		di->loop_warned = true;
		log_warn("DNS server %s is routed into the TUN: queries to it come back to us "
			 "(answered SERVFAIL); set --dns-server to a server outside the TUN's "
			 "routes, or use --dns-via-proxy, --fwmark or --bind-interface",
			 ipaddr_ntoa_r(&cl->dst, server, sizeof(server)));
	} else {
		log_debug("dns: our own query for %s type %u came back into the TUN", q->name,
			  q->qtype);
	}
	return true;
}

int dns_intercept_query(struct dns_intercept *di, const uint8_t *msg, size_t len, size_t max_msg,
			uint8_t *out, size_t outcap, dns_intercept_reply_fn *later, void *later_arg)
{
	return dns_intercept_query_from(di, NULL, msg, len, max_msg, out, outcap, later, later_arg);
}

int dns_intercept_query_from(struct dns_intercept *di, const struct dns_client *cl,
			     const uint8_t *msg, size_t len, size_t max_msg, uint8_t *out,
			     size_t outcap, dns_intercept_reply_fn *later, void *later_arg)
{
	struct dns_query q;
	int r, rcode;

	di->stats.queries++;
	r = dns_msg_parse_query(msg, len, &q);
	if (r < 0) {
		rcode = r == -ENOMEM ? -1 : dns_msg_error_rcode(r);
		if (rcode < 0) {
			di->stats.dropped++;
			return 0;
		}
		di->stats.malformed++;
		r = dns_msg_build_error(&q, rcode, out, outcap);
		return r > 0 ? r : 0;
	}
	if (max_msg == 0)
		max_msg = dns_msg_udp_limit(&q);
	/* Before any answer: a fake one to our own lookup (a DIRECT name)
	 * would send its flow into the TUN again. */
	if (dns_is_looped(di, cl, &q))
		return dns_servfail(di, &q, out, outcap);
	if (di->hosts != NULL && q.qclass == ARES_CLASS_IN) {
		r = dns_answer_hosts(di, &q, max_msg, out, outcap);
		if (r != -ENOENT)
			return r > 0 ? r : dns_servfail(di, &q, out, outcap);
	}
	if (di->mode == DNS_MODE_FAKE_IP && q.qclass == ARES_CLASS_IN) {
		r = dns_answer_fake(di, &q, max_msg, out, outcap);
		if (r != -EAGAIN)
			return r > 0 ? r : dns_servfail(di, &q, out, outcap);
	}
	return dns_forward(di, cl, &q, max_msg, later, later_arg, out, outcap);
}

/* ---- UDP ------------------------------------------------------------------ */

static void dns_udp_later(void *arg, const uint8_t *msg, size_t len)
{
	struct dns_udp_reply *u = arg;

	if (msg != NULL)
		stack_udp_send(u->di->stack, &u->server, u->server_port, &u->client, u->client_port,
			       msg, len);
	free(u);
}

bool dns_intercept_udp(struct dns_intercept *di, const ip_addr_t *src, uint16_t sport,
		       const ip_addr_t *dst, uint16_t dport, struct pbuf *payload)
{
	uint8_t in[DNS_UDP_IN_MAX];
	struct dns_udp_reply *u;
	struct dns_client cl;
	size_t len = payload->tot_len;
	int n;

	if (di == NULL || di->mode == DNS_MODE_OFF || dport != DNS_PORT)
		return false;
	if (len > sizeof(in)) {
		di->stats.dropped++;
		pbuf_free(payload);
		return true;
	}
	pbuf_copy_partial(payload, in, (u16_t)len, 0);
	/* The payload was copied: it is released here, as promised. */
	pbuf_free(payload);
	/* Where a forwarded answer goes; unused (freed) for the rest. */
	u = malloc(sizeof(*u));
	if (u == NULL)
		return true;
	u->di = di;
	ip_addr_copy(u->client, *src);
	ip_addr_copy(u->server, *dst);
	u->client_port = sport;
	u->server_port = dport;
	ip_addr_copy(cl.src, *src);
	ip_addr_copy(cl.dst, *dst);
	cl.sport = sport;
	cl.dport = dport;
	n = dns_intercept_query_from(di, &cl, in, len, 0, di->buf, DNS_MSG_TCP_MAX, dns_udp_later,
				     u);
	if (n == -EINPROGRESS)
		return true;
	free(u);
	if (n > 0)
		stack_udp_send(di->stack, dst, dport, src, sport, di->buf, (size_t)n);
	return true;
}

/* ---- TCP ------------------------------------------------------------------ */

static void dns_tcp_release(struct dns_tcp *c)
{
	if (--c->refs > 0)
		return;
	/* Freed by the reaper: we may be inside a callback that holds c. */
	reaper_defer(&c->di->reaper, &c->rnode);
}

static void dns_reap(struct reaper_node *n)
{
	struct dns_tcp *c = reaper_owner(n, struct dns_tcp, rnode);

	free(c->rx);
	free(c->tx);
	free(c);
}

/* Detaches every callback and closes (or aborts) the pcb, unlinks c and
 * drops the alive reference. Returns ERR_ABRT when it aborted: an lwIP
 * callback of this pcb must then return that. */
static err_t dns_tcp_close(struct dns_tcp *c, bool abort)
{
	err_t ret = ERR_OK;

	if (c->dead)
		return ERR_OK;
	c->dead = true;
	if (c->pcb != NULL) {
		tcp_arg(c->pcb, NULL);
		tcp_recv(c->pcb, NULL);
		tcp_sent(c->pcb, NULL);
		tcp_err(c->pcb, NULL);
		tcp_poll(c->pcb, NULL, 0);
		if (abort || tcp_close(c->pcb) != ERR_OK) {
			tcp_abort(c->pcb);
			ret = ERR_ABRT;
		}
		c->pcb = NULL;
	}
	list_remove(&c->link);
	log_debug("dns: tcp#%" PRIu64 " closed", c->id);
	dns_tcp_release(c);
	return ret;
}

/* Hands queued answers to lwIP, as much as its send buffer takes; the
 * rest waits for dns_tcp_on_sent. */
static err_t dns_tcp_flush(struct dns_tcp *c)
{
	size_t off = 0;

	while (off < c->tx_len) {
		size_t n = c->tx_len - off;
		size_t room = tcp_sndbuf(c->pcb);

		if (n > room)
			n = room;
		if (n > 0xFFFF)
			n = 0xFFFF;
		if (n == 0 ||
		    tcp_write(c->pcb, c->tx + off, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
			break;
		off += n;
	}
	if (off > 0) {
		memmove(c->tx, c->tx + off, c->tx_len - off);
		c->tx_len -= off;
		tcp_output(c->pcb);
	}
	if (c->client_eof && c->pending == 0 && c->tx_len == 0)
		return dns_tcp_close(c, false);
	return ERR_OK;
}

/* Queues one answer with its 2-byte prefix. */
static int dns_tcp_queue(struct dns_tcp *c, const uint8_t *msg, size_t len)
{
	uint8_t prefix[2];

	if (dns_msg_tcp_prefix(len, prefix) < 0)
		return -EMSGSIZE;
	if (c->tx_len + 2 + len > c->tx_cap) {
		size_t cap = c->tx_len + 2 + len;
		uint8_t *tx = realloc(c->tx, cap);

		if (tx == NULL)
			return -ENOMEM;
		c->tx = tx;
		c->tx_cap = cap;
	}
	memcpy(c->tx + c->tx_len, prefix, 2);
	memcpy(c->tx + c->tx_len + 2, msg, len);
	c->tx_len += 2 + len;
	return 0;
}

static void dns_tcp_later(void *arg, const uint8_t *msg, size_t len)
{
	struct dns_tcp *c = arg;

	c->pending--;
	if (!c->dead) {
		if (msg != NULL && dns_tcp_queue(c, msg, len) < 0)
			dns_tcp_close(c, true);
		else
			dns_tcp_process(c); /* frames held back by the pending cap */
		if (!c->dead)
			dns_tcp_flush(c);
	}
	dns_tcp_release(c);
}

/* Answers every complete frame in rx, up to the pending cap. May close c
 * (a zero-length frame cannot be framed further). */
static void dns_tcp_process(struct dns_tcp *c)
{
	struct dns_intercept *di = c->di;
	size_t off = 0;

	/* Backpressure: a client that sends queries without reading the
	 * answers stops being served once DNS_TCP_TX_MAX bytes of answers
	 * wait; rx then fills and lwIP refuses its segments. */
	while (!c->dead && c->pending < DNS_TCP_PENDING_MAX && c->tx_len < DNS_TCP_TX_MAX) {
		const uint8_t *msg;
		size_t mlen;
		int used = dns_msg_tcp_frame(c->rx + off, c->rx_len - off, &msg, &mlen);
		int n;

		if (used == 0)
			break;
		if (used < 0) {
			dns_tcp_close(c, true);
			return;
		}
		off += (size_t)used;
		/* The forwarded query holds a reference until answered. */
		c->refs++;
		c->pending++;
		n = dns_intercept_query_from(di, &c->cl, msg, mlen, DNS_MSG_TCP_MAX, di->buf + 2,
					     DNS_MSG_TCP_MAX, dns_tcp_later, c);
		if (n == -EINPROGRESS)
			continue;
		c->pending--;
		c->refs--; /* >= 1: the alive reference remains */
		if (n > 0 && dns_tcp_queue(c, di->buf + 2, (size_t)n) < 0) {
			dns_tcp_close(c, true);
			return;
		}
	}
	if (c->dead)
		return;
	memmove(c->rx, c->rx + off, c->rx_len - off);
	c->rx_len -= off;
}

static err_t dns_tcp_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct dns_tcp *c = arg;

	(void)err;
	if (p == NULL) {
		c->client_eof = true;
		return dns_tcp_flush(c);
	}
	if (c->rx_len + p->tot_len > DNS_TCP_RX_MAX)
		/* Backpressure: lwIP keeps p (refused data) and offers it
		 * again once answers have drained rx. */
		return ERR_MEM;
	pbuf_copy_partial(p, c->rx + c->rx_len, p->tot_len, 0);
	c->rx_len += p->tot_len;
	/* Copied: window reopened and p released here. */
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	c->t_last = uv_now(c->di->loop);
	dns_tcp_process(c);
	if (c->dead)
		return ERR_ABRT; /* process only aborts */
	return dns_tcp_flush(c);
}

static err_t dns_tcp_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct dns_tcp *c = arg;
	err_t r;

	(void)pcb;
	(void)len;
	r = dns_tcp_flush(c);
	if (r != ERR_OK || c->dead)
		return r;
	/* Room again: frames held back by the answer queue. */
	dns_tcp_process(c);
	if (c->dead)
		return ERR_ABRT; /* process only aborts */
	return dns_tcp_flush(c);
}

static void dns_tcp_on_err(void *arg, err_t err)
{
	struct dns_tcp *c = arg;

	(void)err;
	c->pcb = NULL; /* already freed by lwIP */
	dns_tcp_close(c, true);
}

static err_t dns_tcp_on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct dns_tcp *c = arg;

	(void)pcb;
	if (c->pending == 0 && uv_now(c->di->loop) - c->t_last >= DNS_TCP_IDLE_MS)
		return dns_tcp_close(c, false);
	return ERR_OK;
}

bool dns_intercept_wants_tcp(const struct dns_intercept *di, uint16_t dport)
{
	return di != NULL && di->mode != DNS_MODE_OFF && dport == DNS_PORT && !di->shut;
}

int dns_intercept_tcp_accept(struct dns_intercept *di, struct tcp_pcb *pcb)
{
	struct dns_tcp *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->rx = malloc(DNS_TCP_RX_MAX);
	if (c->rx == NULL) {
		free(c);
		return -ENOMEM;
	}
	c->di = di;
	c->id = ++di->next_tcp_id;
	c->refs = 1;
	c->pcb = pcb;
	ip_addr_copy(c->cl.src, pcb->remote_ip);
	ip_addr_copy(c->cl.dst, pcb->local_ip);
	c->cl.sport = pcb->remote_port;
	c->cl.dport = pcb->local_port;
	c->t_last = uv_now(di->loop);
	list_insert_after(&di->tcp_live, &c->link);
	di->stats.tcp_conns++;
	tcp_arg(pcb, c);
	tcp_recv(pcb, dns_tcp_on_recv);
	tcp_sent(pcb, dns_tcp_on_sent);
	tcp_err(pcb, dns_tcp_on_err);
	tcp_poll(pcb, dns_tcp_on_poll, DNS_TCP_POLL);
	tcp_nagle_disable(pcb);
	log_debug("dns: tcp#%" PRIu64 " accepted", c->id);
	return 0;
}

/* ---- names for flows --------------------------------------------------------- */

static void dns_copy_name(char *name, size_t cap, const char *src)
{
	snprintf(name, cap, "%s", src);
}

int dns_intercept_flow_name(struct dns_intercept *di, const ip_addr_t *dst, char *name, size_t cap,
			    bool *pinned)
{
	uint8_t a[16];
	size_t alen;
	const char *d;

	*pinned = false;
	if (cap > 0)
		name[0] = '\0';
	if (di == NULL || di->mode == DNS_MODE_OFF)
		return -ENOENT;
	if (IP_IS_V4(dst)) {
		alen = 4;
		memcpy(a, &ip_2_ip4(dst)->addr, 4);
	} else {
		alen = 16;
		memcpy(a, ip_2_ip6(dst)->addr, 16);
	}
	if (di->fake != NULL &&
	    (alen == 4 ? fakeip_contains4(di->fake, a) : fakeip_contains6(di->fake, a))) {
		d = alen == 4 ? fakeip_domain4(di->fake, a) : fakeip_domain6(di->fake, a);
		if (d == NULL)
			return -ESTALE;
		dns_copy_name(name, cap, d);
		if ((alen == 4 ? fakeip_pin4(di->fake, a) : fakeip_pin6(di->fake, a)) == 0)
			*pinned = true;
		return 0;
	}
	d = addrmap_get(di->amap, a, alen, uv_now(di->loop));
	if (d == NULL)
		return -ENOENT;
	dns_copy_name(name, cap, d);
	return 0;
}

void dns_intercept_flow_done(struct dns_intercept *di, const ip_addr_t *dst)
{
	uint8_t a[16];

	if (di == NULL || di->fake == NULL)
		return;
	if (IP_IS_V4(dst)) {
		memcpy(a, &ip_2_ip4(dst)->addr, 4);
		fakeip_unpin4(di->fake, a);
	} else {
		memcpy(a, ip_2_ip6(dst)->addr, 16);
		fakeip_unpin6(di->fake, a);
	}
}

/* ---- lifetime ------------------------------------------------------------------- */

/* The fake pool's clock: the loop's, in ms. */
static uint64_t dns_clock(void *loop)
{
	return uv_now(loop);
}

static void dns_fmt_range(int af, const uint8_t *net, uint8_t prefix, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];

	if (inet_ntop(af, net, t, sizeof(t)) == NULL)
		snprintf(t, sizeof(t), "?");
	snprintf(buf, cap, "%s/%u", t, prefix);
}

int dns_intercept_create(uv_loop_t *loop, struct stack *stack,
			 const struct dns_intercept_config *cfg, const struct dns_forwarder *fwd,
			 struct dns_intercept **out, char *err, size_t errlen)
{
	struct dns_intercept *di;
	uint8_t key[16];
	int r;

	*out = NULL;
	if (cfg->mode == DNS_MODE_OFF)
		return 0;
	di = calloc(1, sizeof(*di));
	if (di == NULL)
		return -ENOMEM;
	di->loop = loop;
	di->stack = stack;
	list_init(&di->tcp_live);
	di->mode = cfg->mode;
	di->hosts = cfg->hosts;
	di->fwd = *fwd;
	di->fake_ttl = cfg->fake_ttl ? cfg->fake_ttl : DNS_DEFAULT_TTL;
	di->max_pending = cfg->max_pending ? cfg->max_pending : DNS_PENDING_MAX;
	di->max_pending_client =
		cfg->max_pending_client ? cfg->max_pending_client : DNS_PENDING_CLIENT_MAX;
	di->buf = malloc(2 + DNS_MSG_TCP_MAX);
	r = di->buf ? uv_random(NULL, NULL, key, sizeof(key), 0, NULL) : -ENOMEM;
	if (r == 0)
		r = uv_random(NULL, NULL, di->key, sizeof(di->key), 0, NULL);
	if (r == 0)
		r = addrmap_create(cfg->realip_max ? cfg->realip_max : 65536, key, &di->amap);
	if (r < 0) {
		snprintf(err, errlen, "cannot set up DNS: %s", strerror(-r));
		goto fail;
	}
	if (cfg->mode == DNS_MODE_FAKE_IP) {
		struct fakeip_config fc = {
			.has4 = cfg->has4,
			.prefix4 = cfg->prefix4,
			.has6 = cfg->has6,
			.prefix6 = cfg->prefix6,
			.exclude4 = cfg->exclude4,
			.n_exclude4 = cfg->n_exclude4,
			.exclude6 = cfg->exclude6,
			.n_exclude6 = cfg->n_exclude6,
			.max_entries = cfg->max_entries,
			.now_ms = dns_clock,
			.clock_arg = loop,
		};

		/* Never younger than the answer's TTL: a client may use it
		 * that long by right. */
		if (cfg->fake_min_age > 0)
			di->min_age_ms =
				1000ull * (cfg->fake_min_age > di->fake_ttl ? cfg->fake_min_age
									    : di->fake_ttl);
		fc.min_age_ms = di->min_age_ms;
		dns_fmt_range(AF_INET, cfg->net4, cfg->prefix4, di->range4, sizeof(di->range4));
		dns_fmt_range(AF_INET6, cfg->net6, cfg->prefix6, di->range6, sizeof(di->range6));

		memcpy(fc.net4, cfg->net4, 4);
		memcpy(fc.net6, cfg->net6, 16);
		r = uv_random(NULL, NULL, fc.hash_key, sizeof(fc.hash_key), 0, NULL);
		if (r == 0)
			r = fakeip_create(&fc, &di->fake);
		if (r < 0) {
			snprintf(err, errlen, "--fake-ip-range: %s",
				 r == -EINVAL ? "no usable address in the range" : strerror(-r));
			goto fail;
		}
		di->filter_fn = cfg->filter_fn;
		di->filter_arg = cfg->filter_arg;
		r = domain_match_create(&di->filter);
		di->filter_whitelist = cfg->filter_whitelist;
		for (size_t i = 0;
		     r == 0 && !cfg->filter_whitelist && domain_match_fakeip_defaults[i]; i++)
			r = domain_match_add(di->filter, domain_match_fakeip_defaults[i]);
		for (size_t i = 0; r == 0 && cfg->filter && cfg->filter[i]; i++) {
			r = domain_match_add(di->filter, cfg->filter[i]);
			if (r == -EINVAL) {
				snprintf(err, errlen, "--fake-ip-filter: bad pattern '%s'",
					 cfg->filter[i]);
				goto fail;
			}
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot set up the fake-ip filter: %s", strerror(-r));
			goto fail;
		}
	}
	r = reaper_init(&di->reaper, loop, dns_reap);
	if (r < 0) {
		snprintf(err, errlen, "cannot set up DNS: %s", uv_strerror(r));
		goto fail;
	}
	*out = di;
	return 0;
fail:
	domain_match_destroy(di->filter);
	fakeip_destroy(di->fake);
	addrmap_destroy(di->amap);
	free(di->buf);
	free(di);
	return r;
}

enum dns_mode dns_intercept_mode(const struct dns_intercept *di)
{
	return di ? di->mode : DNS_MODE_OFF;
}

void dns_intercept_shutdown(struct dns_intercept *di)
{
	if (di == NULL || di->shut)
		return;
	di->shut = true;
	/* Newest first; dns_tcp_close() takes each off the list. */
	while (!list_empty(&di->tcp_live))
		dns_tcp_close(list_entry(di->tcp_live.next, struct dns_tcp, link), true);
	reaper_close(&di->reaper);
}

void dns_intercept_destroy(struct dns_intercept *di)
{
	if (di == NULL)
		return;
	reaper_flush(&di->reaper);
	domain_match_destroy(di->filter);
	fakeip_destroy(di->fake);
	addrmap_destroy(di->amap);
	free(di->buf);
	free(di);
}

const struct dns_intercept_stats *dns_intercept_stats(const struct dns_intercept *di)
{
	return &di->stats;
}

unsigned dns_intercept_pending(const struct dns_intercept *di)
{
	return di != NULL ? di->pending : 0;
}

int dns_intercept_fake_save(const struct dns_intercept *di, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (di == NULL || di->fake == NULL)
		return -ENOENT;
	return fakeip_save(di->fake, out, len);
}

int dns_intercept_fake_restore(struct dns_intercept *di, const char *buf, size_t len)
{
	if (di == NULL || di->fake == NULL)
		return -ENOENT;
	return fakeip_restore(di->fake, buf, len);
}

uint64_t dns_intercept_fake_changes(const struct dns_intercept *di)
{
	return di != NULL && di->fake != NULL ? fakeip_changes(di->fake) : 0;
}

void dns_intercept_set_shed(struct dns_intercept *di, unsigned max)
{
	if (di != NULL)
		di->shed_max = max;
}

void dns_intercept_set_hosts(struct dns_intercept *di, const struct dns_hosts *hosts)
{
	di->hosts = hosts;
}
