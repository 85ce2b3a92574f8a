/* flow_tcp: one client TCP connection, terminated by lwIP, carried to its
 * upstream: a proxy, or the target itself (DIRECT). This file is the
 * flow's life, in the order it happens:
 *
 *   accept   flow_tcp_accept(): the stack hands over a pcb; the name the
 *            destination stands for (DNS interception) is looked up.
 *   sniff    when the sniffer wants this flow: its first bytes are read
 *            (queued, unacknowledged, as always before the tunnel opens)
 *            until a TLS ClientHello or HTTP request names the host, or
 *            sniff_wait_ms passes (docs/design.md §21).
 *   route    the router decides (it may resolve the name for IP rules):
 *            PROXY, DIRECT, REJECT (reset the client) or REJECT-DROP
 *            (hold the connection in DROP, discarding what the client
 *            sends, and forget it after DROP_HOLD_MS without a FIN or RST:
 *            an accepted connection that vanished would otherwise answer
 *            the client's next segment with a reset).
 *   connect  an upstream_conn (TCP connect, TLS to a TLS proxy, the proxy
 *            connector) driven by our poll handle; DIRECT to a name tries
 *            each of its addresses in turn.
 *   relay    the relay (relay.h) pumps bytes both ways with backpressure,
 *            over the connection's stream, whatever is underneath; the
 *            client's bytes wait in it, unacknowledged, until the tunnel
 *            is open. Connect and idle deadlines ride on lwIP's poll timer.
 *   close    both directions finished -> tcp_close; a client RST closes
 *            the upstream socket with an RST (SO_LINGER 0); an upstream
 *            error aborts the pcb (RST). The memory goes later (flow.h).
 *
 * States: [SNIFFING ->] ROUTING -> RESOLVING (DIRECT: the name's addresses) ->
 * CONNECTING -> RELAY -> DEAD, or DROP; every change goes through
 * flow_set_state(), which logs "flow#12 CONNECTING -> RELAY".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/priv/tcp_priv.h" /* tcp_abandon: a drop without RST */

#include "lwip-port/stack.h"

#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/target.h"
#include "resolver/dns_intercept.h"
#include "resolver/resolver.h"
#include "resolver/sniff.h"
#include "resolver/sniffer.h"
#include "tun2socks/upstream/upstream_conn.h"
#include "tun2socks/flow/flow_tcp.h"
#include "tun2socks/flow/relay.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"

/* Order matters: every state before FS_RELAY counts as "not yet open"
 * (a failure there is counted as failed, not reset). */
enum flow_state {
	FS_SNIFFING,
	FS_ROUTING,
	FS_RESOLVING,
	FS_CONNECTING,
	FS_RELAY,
	FS_DROP, /* REJECT-DROP: swallow everything, say nothing, then vanish */
	FS_DEAD
};

static const char *const flow_state_name[] = {
	[FS_SNIFFING] = "SNIFFING",   [FS_ROUTING] = "ROUTING",
	[FS_RESOLVING] = "RESOLVING", [FS_CONNECTING] = "CONNECTING",
	[FS_RELAY] = "RELAY",         [FS_DROP] = "DROP",
	[FS_DEAD] = "DEAD",
};

/* How long a REJECT-DROP connection is held before it is forgotten
 * without a word (the client has timed out by then, as it would behind a
 * firewall that drops). */
#define DROP_HOLD_MS 30000
/* A flow's upstream socket gets keepalive (docs/design.md §12) once the
 * flow has lived this long: most flows, a request and its answer, are
 * over by then and skip its four system calls (6-8 us here, ~5% of a
 * short connection's CPU); a probe comes 15 s after the silence begins
 * anyway. */
#define KEEPALIVE_AFTER_MS 1000
/* The client bytes a sniffing flow looks at, at most: a ClientHello up to
 * SNIFF_TLS_MAX in records of its own. */
#define SNIFF_BUF_MAX (SNIFF_TLS_MAX + 64 * 5)

struct flow_tcp {
	struct flow_tcp_ctx *ctx;
	struct list_node link;    /* on ctx->live until DEAD */
	struct reaper_node rnode; /* once released */
	uint64_t id;
	unsigned refs;
	enum flow_state state;
	/* The client side: the pcb (rl.pcb, NULL once detached or freed by
	 * lwIP), the queue of its bytes and the pump toward it. */
	struct relay rl;
	/* The upstream connection, NULL once closed. The flow owns the watch
	 * on its socket (upstream_conn.h: the caller polls). */
	struct upstream_conn *up;
	bool watch_open;
	bool watch_closing; /* closed, not yet free for the next socket */
	bool dirty;         /* on ctx->dirty (holds a reference) */
	struct flow_tcp *dirty_next;
	bool retry_direct; /* once the closed watch is free: next DIRECT address */
	struct poller_watch watch;
	bool in_accept; /* inside flow_tcp_accept: never abort pcb here */
	int accept_ret; /* what flow_tcp_accept returns to the stack */
	uint64_t t_start, t_last;
	uint64_t t_probe; /* the last probe of a half-closed flow's client */
	bool keepalive;   /* sock_keepalive() asked of the upstream socket */
	ip_addr_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	char *domain; /* the name dst_ip stands for, or NULL */
	bool pinned;  /* owes dns_intercept_flow_done(dst_ip) */
	bool fake;    /* domain is the fake pool's */
	/* SNIFFING: the protocols still possible, the client's first bytes. */
	unsigned sniff_want;
	uint8_t *sniff_buf;
	size_t sniff_len;
	bool sniffed;     /* domain came from the first bytes */
	bool keep_dst;    /* ... for the rules only (no override) */
	bool pcb_aborted; /* flow_abort() called tcp_abort() */
	bool routed;      /* route is valid and route.hold owed back */
	struct route route;
	/* DIRECT: the addresses to try, only while connecting (an idle
	 * flow holds none). */
	struct sockaddr_storage *direct;
	size_t n_direct, next_direct;
};

static void flow_on_routed(void *arg, int status);
static void flow_go(struct flow_tcp *f);
static void flow_report(struct flow_tcp *f, int status);
static void flow_on_lookup(void *arg, int status, const struct sockaddr_storage *addrs, size_t n);
static int flow_open(struct flow_tcp *f, const struct sockaddr_storage *sa, char *why,
		     size_t whylen);
static int flow_set_poll(struct flow_tcp *f, int events);
static void flow_connect(struct flow_tcp *f);
static void flow_start_relay(struct flow_tcp *f);
static void flow_update_poll(struct flow_tcp *f);
static void flow_on_poll_event(struct poller_watch *w, int status, int events);
static err_t flow_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static err_t flow_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
static err_t flow_on_lwip_poll(void *arg, struct tcp_pcb *pcb);
static void flow_on_err(void *arg, err_t err);
static err_t flow_abort(struct flow_tcp *f, const char *why, const char *detail);
static void flow_finish(struct flow_tcp *f);
static void flow_log_end(struct flow_tcp *f, const char *verb, const char *why, const char *detail);
static void flow_detach_pcb(struct flow_tcp *f);
static void flow_end(struct flow_tcp *f, bool reset);
static void flow_close_upstream(struct flow_tcp *f, bool reset);
static void flow_on_watch_closed(struct poller_watch *w);
static void flow_release(struct flow_tcp *f);

/* ---- naming --------------------------------------------------------- */

static const char *flow_desc(const struct flow_tcp *f, char *buf, size_t cap)
{
	char s[64], d[64], n[300] = "", t[300] = "", v[900];
	const struct route *rt = &f->route;

	addr_ep_str(&f->dst_ip, f->dst_port, d, sizeof(d));
	if (f->domain != NULL)
		snprintf(n, sizeof(n), "%s:%u (%s)", f->domain, f->dst_port, d);
	if (!f->routed) {
		snprintf(v, sizeof(v), "(undecided)");
	} else {
		socks5_addr_str(&rt->target, t, sizeof(t));
		snprintf(v, sizeof(v), "%s%s%s%s%s [%s]", rt->via,
			 rt->action == ROUTE_PROXY ? " " : "",
			 rt->action == ROUTE_PROXY ? rt->up->proto->name : "",
			 rt->action == ROUTE_PROXY ? " " : "",
			 rt->action == ROUTE_PROXY ? rt->up->server_str : "", rt->rule);
		if (rt->action == ROUTE_DIRECT && strcmp(rt->via, "DIRECT") != 0) {
			/* A redirect: say where it went. */
			size_t l = strlen(v);

			snprintf(v + l, sizeof(v) - l, " to %s", t);
		}
	}
	snprintf(buf, cap, "%s%s%s%s -> %s via %s",
		 addr_ep_str(&f->src_ip, f->src_port, s, sizeof(s)),
		 f->routed && rt->proc[0] ? " (" : "", f->routed ? rt->proc : "",
		 f->routed && rt->proc[0] ? ")" : "", f->domain ? n : d, v);
	return buf;
}

/* The one place the state changes. */
static void flow_set_state(struct flow_tcp *f, enum flow_state next)
{
	log_debug("flow#%" PRIu64 " %s -> %s", f->id, flow_state_name[f->state],
		  flow_state_name[next]);
	f->state = next;
}

/* ---- accept --------------------------------------------------------------- */

/* Where the client meant to go: the name dst_ip stands for when DNS
 * interception knows it (the proxy then resolves it: nothing leaks here).
 * -ESTALE: a fake address without a name. */
static int flow_name(struct flow_tcp *f, bool *fake)
{
	char name[256];
	int r = dns_intercept_flow_name(f->ctx->dns, &f->dst_ip, name, sizeof(name), &f->pinned);

	*fake = f->pinned;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	f->domain = strdup(name);
	return f->domain ? 0 : -ENOMEM;
}

/* Asks the router. Inside flow_tcp_accept (in_accept) the pcb stays
 * lwIP's to reset; elsewhere a failure aborts it (pcb_aborted). */
static void flow_route(struct flow_tcp *f)
{
	struct flow_tcp_ctx *ctx = f->ctx;
	struct route_query q = { 0 };
	int r;

	q.src = &f->src_ip;
	q.src_port = f->src_port;
	q.dst = &f->dst_ip;
	q.dst_port = f->dst_port;
	q.domain = f->domain;
	q.dst_is_fake = f->fake;
	q.keep_dst = f->keep_dst;
	if (f->state != FS_ROUTING)
		flow_set_state(f, FS_ROUTING);
	f->refs++; /* held by the decision until flow_on_routed */
	r = ctx->route.decide(ctx->route.ctx, &q, &f->route, flow_on_routed, f);
	if (r == -EINPROGRESS)
		return;
	flow_on_routed(f, r);
}

int flow_tcp_accept(struct flow_tcp_ctx *ctx, struct tcp_pcb *pcb)
{
	struct flow_tcp *f;
	bool fake = false;
	int r;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->ctx = ctx;
	f->id = ++ctx->next_id;
	f->refs = 1;
	relay_init(&f->rl, pcb, ctx->buf, ctx->buf_cap);
	f->rl.inflight_max = &ctx->inflight_max;
	f->t_start = f->t_last = uv_now(ctx->loop);
	ip_addr_copy(f->src_ip, pcb->remote_ip);
	ip_addr_copy(f->dst_ip, pcb->local_ip);
	f->src_port = pcb->remote_port;
	f->dst_port = pcb->local_port;
	list_insert_after(&ctx->live, &f->link);
	ctx->live_count++;
	ctx->stats.accepted++;

	tcp_arg(pcb, f);
	tcp_recv(pcb, flow_on_recv);
	tcp_sent(pcb, flow_on_sent);
	tcp_err(pcb, flow_on_err);
	tcp_poll(pcb, flow_on_lwip_poll, 2);
	/* Relay small writes at once; the client's own stack batches. */
	tcp_nagle_disable(pcb);

	r = flow_name(f, &fake);
	if (r < 0) {
		/* Called from lwIP's accept: on failure the stack aborts pcb
		 * (RST), so the flow lets go of it first. */
		flow_detach_pcb(f);
		f->rl.pcb = NULL;
		flow_abort(f,
			   r == -ESTALE ? "fake address with no name (a DNS answer kept "
					  "past the pool's reuse)"
					: "out of memory",
			   NULL);
		return r;
	}
	f->fake = fake;
	f->sniff_want = sniffer_wants(ctx->sniffer, false, f->dst_port, f->domain, fake);
	if (f->sniff_want != 0 && IP_IS_V4(&f->dst_ip) &&
	    sniffer_skips(ctx->sniffer, (const uint8_t *)&ip_2_ip4(&f->src_ip)->addr,
			  (const uint8_t *)&ip_2_ip4(&f->dst_ip)->addr, 4))
		f->sniff_want = 0;
	else if (f->sniff_want != 0 && !IP_IS_V4(&f->dst_ip) &&
		 sniffer_skips(ctx->sniffer, (const uint8_t *)ip_2_ip6(&f->src_ip)->addr,
			       (const uint8_t *)ip_2_ip6(&f->dst_ip)->addr, 16))
		f->sniff_want = 0;
	if (f->sniff_want != 0) {
		/* Routed once the first bytes name the host (flow_on_recv)
		 * or the wait ends (flow_on_lwip_poll, every 500 ms now). */
		f->state = FS_SNIFFING;
		tcp_poll(pcb, flow_on_lwip_poll, 1);
		return 0;
	}
	f->state = FS_ROUTING; /* the first state: nothing to log yet */
	/* Decided at once: act on it, but the pcb stays lwIP's to reset or
	 * drop until we return (f outlives this call: the reaper frees). */
	f->in_accept = true;
	flow_route(f);
	f->in_accept = false;
	return f->accept_ret;
}

/* ---- sniff ---------------------------------------------------------------- */

/* Ends SNIFFING with name (NULL: none found) and routes. */
static void flow_sniff_done(struct flow_tcp *f, const char *name, unsigned proto)
{
	const struct sniffer *sn = f->ctx->sniffer;

	free(f->sniff_buf);
	f->sniff_buf = NULL;
	f->sniff_len = 0;
	f->sniff_want = 0;
	if (f->rl.pcb != NULL)
		tcp_poll(f->rl.pcb, flow_on_lwip_poll, 2);
	if (name != NULL && !sniffer_accepts(sn, name)) {
		log_debug("flow#%" PRIu64 " sniffed %s: in skip-domain", f->id, name);
		name = NULL;
	}
	if (name != NULL) {
		char *d = strdup(name);

		if (d == NULL) {
			flow_abort(f, "out of memory", NULL);
			return;
		}
		log_debug("flow#%" PRIu64 " sniffed %s (%s)%s", f->id, name,
			  proto == SNIFFER_TLS ? "TLS" : "HTTP",
			  sniffer_overrides(sn, proto) ? "" : ", for the rules only");
		/* A pinned fake address stays pinned: the client still uses it. */
		free(f->domain);
		f->domain = d;
		f->sniffed = true;
		f->keep_dst = !sniffer_overrides(sn, proto);
		/* With the name as the target, the address no longer counts
		 * (mihomo clears DstIP): IP rules resolve the name. */
		f->fake = !f->keep_dst;
	}
	flow_route(f);
}

/* New client bytes in p (NULL: FIN) while SNIFFING: tries the protocols
 * still possible; routes once one names the host or none can. */
static void flow_sniff_feed(struct flow_tcp *f, const struct pbuf *p)
{
	static const struct {
		unsigned bit;
		int (*fn)(const uint8_t *, size_t, char *, size_t);
	} codecs[] = { { SNIFFER_TLS, sniff_tls }, { SNIFFER_HTTP, sniff_http } };
	char name[SNIFF_NAME_MAX];

	if (p == NULL) {
		flow_sniff_done(f, NULL, 0);
		return;
	}
	if (f->sniff_buf == NULL) {
		f->sniff_buf = malloc(SNIFF_BUF_MAX);
		if (f->sniff_buf == NULL) {
			flow_sniff_done(f, NULL, 0);
			return;
		}
	}
	f->sniff_len += pbuf_copy_partial(p, f->sniff_buf + f->sniff_len,
					  (u16_t)(SNIFF_BUF_MAX - f->sniff_len), 0);
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		int r;

		if (!(f->sniff_want & codecs[i].bit))
			continue;
		r = codecs[i].fn(f->sniff_buf, f->sniff_len, name, sizeof(name));
		if (r == 0) {
			flow_sniff_done(f, name, codecs[i].bit);
			return;
		}
		if (r < 0 || f->sniff_len == SNIFF_BUF_MAX)
			f->sniff_want &= ~codecs[i].bit;
	}
	if (f->sniff_want == 0)
		flow_sniff_done(f, NULL, 0);
}

/* ---- route ---------------------------------------------------------------- */

static void flow_on_routed(void *arg, int status)
{
	struct flow_tcp *f = arg;

	if (status == 0)
		f->routed = true;
	if (f->state == FS_DEAD) {
		/* flow_end ran before the route existed: give it back here. */
		if (f->routed) {
			f->ctx->route.release(f->ctx->route.ctx, f->route.hold);
			f->routed = false;
		}
		flow_release(f);
		return;
	}
	if (status < 0)
		flow_abort(f, "no route", strerror(-status));
	else
		flow_go(f);
	flow_release(f);
}

/* The route is known: reject, drop, or open the upstream. */
static void flow_go(struct flow_tcp *f)
{
	const struct route *rt = &f->route;
	char why[300];
	int r;

	switch (rt->action) {
	case ROUTE_REJECT:
		f->ctx->stats.rejected++;
		flow_abort(f, "rejected by rule", rt->rule);
		return;
	case ROUTE_DROP:
		f->ctx->stats.rejected++;
		flow_set_state(f, FS_DROP);
		log_debug("flow#%" PRIu64 " dropped by rule %s", f->id, rt->rule);
		return;
	case ROUTE_DIRECT:
		flow_set_state(f, FS_RESOLVING);
		if (rt->target.atyp == SOCKS5_ATYP_DOMAIN) {
			if (f->ctx->resolver == NULL) {
				flow_abort(f, "cannot resolve the name", "no resolver");
				return;
			}
			f->refs++; /* held by the lookup until its callback */
			r = resolver_lookup(f->ctx->resolver, rt->target.u.domain, flow_on_lookup,
					    f);
			if (r < 0) {
				flow_release(f);
				flow_abort(f, "cannot resolve the name", strerror(-r));
			}
			return;
		}
		f->direct = malloc(sizeof(*f->direct));
		if (f->direct == NULL) {
			flow_abort(f, "out of memory", NULL);
			return;
		}
		target_to_sockaddr(&rt->target, &f->direct[0]);
		f->n_direct = 1;
		f->next_direct = 0;
		flow_connect(f);
		return;
	case ROUTE_PROXY:
		r = flow_open(f, NULL, why, sizeof(why));
		if (r < 0) {
			flow_report(f, r);
			flow_abort(f, why, NULL);
		}
		return;
	}
}

/* ---- connect -------------------------------------------------------------- */

static void flow_on_lookup(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	struct flow_tcp *f = arg;
	uint16_t port = f->route.target.port;

	if (f->state == FS_DEAD) {
		flow_release(f);
		return;
	}
	if (status < 0) {
		flow_abort(f, "cannot resolve the name",
			   status == -ENOENT ? "no address" : strerror(-status));
		flow_release(f);
		return;
	}
	f->direct = malloc(n * sizeof(*f->direct));
	if (f->direct == NULL) {
		flow_abort(f, "out of memory", NULL);
		flow_release(f);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		f->direct[i] = addrs[i];
		if (addrs[i].ss_family == AF_INET)
			((struct sockaddr_in *)&f->direct[i])->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&f->direct[i])->sin6_port = htons(port);
	}
	f->n_direct = n;
	f->next_direct = 0;
	flow_connect(f);
	flow_release(f);
}

/* Connects to the next address in f->direct. */
static void flow_connect(struct flow_tcp *f)
{
	char why[300];

	while (f->next_direct < f->n_direct) {
		int r;

		if (f->watch_closing) {
			/* flow_on_watch_closed comes back here. */
			f->retry_direct = true;
			return;
		}
		r = flow_open(f, &f->direct[f->next_direct++], why, sizeof(why));
		if (r == 0)
			return;
		if (f->next_direct == f->n_direct) {
			flow_abort(f, why, NULL);
			return;
		}
	}
}

/* Opens the upstream connection (to the proxy, or to the DIRECT address
 * sa) and the watch that drives it; completion comes as writability. 0 or
 * -errno with the reason in why. */
static int flow_open(struct flow_tcp *f, const struct sockaddr_storage *sa, char *why,
		     size_t whylen)
{
	struct flow_tcp_ctx *ctx = f->ctx;
	const struct route *rt = &f->route;
	char name[32];
	struct upstream_conn_spec spec = {
		.name = name,
		.sock = &ctx->sock,
		.up = rt->action == ROUTE_PROXY ? rt->up : NULL,
		.chain = rt->chain,
		.n_chain = rt->action == ROUTE_PROXY ? rt->n_chain : 0,
		.target = &rt->target,
		.addr = (const struct sockaddr *)sa,
		.addr_len = sa == NULL                 ? 0
			    : sa->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						       : sizeof(struct sockaddr_in6),
	};
	int r;

	snprintf(name, sizeof(name), "flow#%" PRIu64, f->id);
	r = upstream_conn_open(&spec, &f->up, why, whylen);
	if (r < 0)
		return r;
	r = poller_watch_open(ctx->poller, &f->watch, upstream_conn_fd(f->up), flow_on_poll_event);
	if (r == 0) {
		f->watch.data = f;
		f->watch_open = true;
		f->refs++; /* held by the watch until its close callback */
		r = poller_watch_set(&f->watch, UV_WRITABLE);
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot watch upstream socket: %s", strerror(-r));
		if (f->watch_open)
			flow_close_upstream(f, false);
		else
			upstream_conn_close(f->up, false);
		f->up = NULL;
		return r;
	}
	if (f->state != FS_CONNECTING)
		flow_set_state(f, FS_CONNECTING);
	return 0;
}

/* 0, or -errno after aborting the flow (the kernel's epoll set is full). */
static int flow_set_poll(struct flow_tcp *f, int events)
{
	int r;

	if (!f->watch_open)
		return 0;
	r = poller_watch_set(&f->watch, events);
	if (r < 0)
		flow_abort(f, "cannot watch upstream socket", strerror(-r));
	return r;
}

/* Tells the router how the proxy upstream opened (max-failed-times). */
static void flow_report(struct flow_tcp *f, int status)
{
	const struct route_ops *ops = &f->ctx->route;

	if (f->route.action == ROUTE_PROXY && ops->report)
		ops->report(ops->ctx, &f->route, status);
}

/* A readiness event while connecting: the upstream connection advances
 * (connect, TLS, proxy handshake) until its tunnel is open. */
static void flow_upstream_step(struct flow_tcp *f, int status)
{
	char why[300];
	int r = upstream_conn_step(f->up, status, why, sizeof(why));

	if (r == STREAM_DONE) {
		flow_report(f, 0);
		flow_start_relay(f);
		return;
	}
	if (r < 0 && f->route.action == ROUTE_DIRECT && f->next_direct < f->n_direct) {
		/* The next address of the name, once the watch is free
		 * (flow_on_watch_closed). */
		log_debug("flow#%" PRIu64 " %s; next address", f->id, why);
		f->retry_direct = true;
		flow_close_upstream(f, false);
		return;
	}
	if (r < 0) {
		flow_report(f, r);
		flow_abort(f, why, NULL);
		return;
	}
	(void)flow_set_poll(f, sock_poll_events(r)); /* aborts on failure */
}

/* ---- relay ---------------------------------------------------------------- */

/* Upstream -> client, noting activity for the idle deadline. */
static int flow_pump_down(struct flow_tcp *f)
{
	uint64_t before = f->rl.bytes_down;
	int r = relay_down_pump(&f->rl);

	if (f->rl.bytes_down != before)
		f->t_last = uv_now(f->ctx->loop);
	return r;
}

static void flow_start_relay(struct flow_tcp *f)
{
	struct stream io = upstream_conn_io(f->up);
	char desc[1200];
	int r;

	log_debug("flow#%" PRIu64 " open %s", f->id, flow_desc(f, desc, sizeof(desc)));
	flow_set_state(f, FS_RELAY);
	relay_start(&f->rl, &io);
	free(f->direct); /* connected: the other addresses are not needed */
	f->direct = NULL;
	f->n_direct = f->next_direct = 0;
	f->t_last = uv_now(f->ctx->loop);
	r = relay_up_flush(&f->rl);
	if (r < 0) {
		flow_abort(f, "upstream write failed", strerror(-r));
		return;
	}
	if (stream_pending(&f->rl.up) > 0) {
		/* Tunnel bytes that arrived with the proxy's reply: no socket
		 * event will announce them. */
		r = flow_pump_down(f);
		if (r < 0) {
			flow_abort(f, "upstream read failed", strerror(-r));
			return;
		}
	}
	if (relay_done(&f->rl)) {
		flow_finish(f);
		return;
	}
	flow_update_poll(f);
}

/* While relaying: what the relay wants, and a hang-up while it does not
 * read, so that an upstream reset (or gone) under a client that reads
 * nothing ends the flow at once instead of holding its socket. */
static void flow_update_poll(struct flow_tcp *f)
{
	int events;

	if (f->state != FS_RELAY)
		return;
	events = sock_poll_events(relay_wants(&f->rl));
	if (relay_watch_hup(&f->rl))
		events |= UV_DISCONNECT;
	(void)flow_set_poll(f, events); /* aborts on failure */
}

static void flow_on_poll_event(struct poller_watch *w, int status, int events)
{
	struct flow_tcp *f = w->data;
	int r;

	if (f->state == FS_DEAD)
		return;
	if (f->state == FS_CONNECTING) {
		flow_upstream_step(f, status);
		return;
	}
	if (status < 0) {
		flow_abort(f, "upstream connection failed",
			   strerror(-sock_poll_error(upstream_conn_fd(f->up), status)));
		return;
	}
	/* A reset comes as status < 0 above; a bare hang-up is the
	 * upstream's FIN, the bytes before it waiting in the socket. */
	if (events & UV_DISCONNECT)
		relay_upstream_hup(&f->rl);
	if (events & UV_WRITABLE) {
		r = relay_up_flush(&f->rl);
		if (r < 0) {
			flow_abort(f, "upstream write failed", strerror(-r));
			return;
		}
	}
	if (f->state == FS_RELAY && (events & UV_READABLE)) {
		r = flow_pump_down(f);
		if (r < 0) {
			flow_abort(f, "upstream connection reset", strerror(-r));
			return;
		}
	}
	if (relay_done(&f->rl)) {
		flow_finish(f);
		return;
	}
	flow_update_poll(f);
}

static err_t flow_on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct flow_tcp *f = arg;

	(void)err;
	if (f->state == FS_DROP) {
		/* Swallowed: acknowledged, never answered. */
		if (p != NULL) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	/* Ownership of p passes to the relay with ERR_OK; it stays
	 * unacknowledged (the window closes) until the upstream takes it. */
	if (relay_client_data(&f->rl, p) < 0) {
		pbuf_free(p);
		return flow_abort(f, "out of memory", NULL);
	}
	if (p != NULL)
		f->t_last = uv_now(f->ctx->loop);
	if (f->state == FS_SNIFFING) {
		/* p is the relay's now, and stays queued: the copy is read. */
		flow_sniff_feed(f, p);
		return f->pcb_aborted ? ERR_ABRT : ERR_OK;
	}
	if (f->state != FS_RELAY)
		return ERR_OK; /* flushed once the tunnel is open */
	/* Deferred to flow_tcp_ctx_flush() at the end of this TUN drain. */
	if (!f->dirty) {
		f->dirty = true;
		f->refs++;
		f->dirty_next = f->ctx->dirty;
		f->ctx->dirty = f;
	}
	return ERR_OK;
}

void flow_tcp_ctx_flush(struct flow_tcp_ctx *ctx)
{
	while (ctx->dirty != NULL) {
		struct flow_tcp *f = ctx->dirty;
		int r;

		ctx->dirty = f->dirty_next;
		f->dirty = false;
		f->dirty_next = NULL;
		if (f->state == FS_RELAY) {
			r = relay_up_flush(&f->rl);
			if (r < 0)
				flow_abort(f, "upstream write failed", strerror(-r));
			else if (relay_done(&f->rl))
				flow_finish(f);
			else
				flow_update_poll(f);
		}
		flow_release(f);
	}
}

static err_t flow_on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct flow_tcp *f = arg;
	int r;

	(void)pcb;
	(void)len;
	f->t_last = uv_now(f->ctx->loop);
	if (f->state != FS_RELAY)
		return ERR_OK;
	r = flow_pump_down(f);
	if (r < 0)
		return flow_abort(f, "upstream read failed", strerror(-r));
	if (relay_done(&f->rl)) {
		flow_finish(f);
		return ERR_OK;
	}
	flow_update_poll(f);
	/* A watch the kernel refused aborts the flow, pcb included. */
	return f->pcb_aborted ? ERR_ABRT : ERR_OK;
}

/* What a flow that is not open yet was waiting for. */
static const char *flow_timeout_why(const struct flow_tcp *f)
{
	if (f->state == FS_ROUTING)
		return "timed out resolving for the rules";
	if (f->state == FS_RESOLVING)
		return "timed out resolving the name";
	switch (f->up ? upstream_conn_state(f->up) : UPSTREAM_CONN_CONNECTING) {
	case UPSTREAM_CONN_TLS:
		return "timed out in the TLS handshake";
	case UPSTREAM_CONN_PROXY:
		/* A server that drops the bytes after the greeting (microsocks)
		 * never answers a pipelined CONNECT: say what to turn off. */
		if (f->routed && f->route.action == ROUTE_PROXY && f->route.up->pipelining)
			return "timed out in the proxy handshake (pipelining: true; does the "
			       "proxy read pipelined messages?)";
		return "timed out in the proxy handshake";
	default:
		return "timed out connecting";
	}
}

/* lwIP's slow timer (every 500 ms * interval): connect/handshake and idle
 * deadlines, checked here so no flow needs a timer of its own. */
static err_t flow_on_lwip_poll(void *arg, struct tcp_pcb *pcb)
{
	struct flow_tcp *f = arg;
	uint64_t now = uv_now(f->ctx->loop);

	if (f->state == FS_DROP) {
		if (now - f->t_start < DROP_HOLD_MS)
			return ERR_OK;
		f->ctx->stats.failed++;
		flow_log_end(f, "dropped", "by rule", f->route.rule);
		flow_detach_pcb(f);
		tcp_abandon(pcb, 0); /* no RST: frees the pcb */
		flow_end(f, true);
		return ERR_ABRT;
	}
	if (f->state == FS_SNIFFING) {
		if (now - f->t_start >= f->ctx->sniff_wait_ms) {
			log_debug("flow#%" PRIu64 " nothing to sniff in %" PRIu64 " ms", f->id,
				  now - f->t_start);
			flow_sniff_done(f, NULL, 0);
		}
		return f->pcb_aborted ? ERR_ABRT : ERR_OK;
	}
	if (f->state < FS_RELAY && now - f->t_start >= f->ctx->connect_timeout_ms)
		return flow_abort(f, flow_timeout_why(f), NULL);
	if (f->state == FS_RELAY && f->ctx->idle_timeout_ms > 0 &&
	    now - f->t_last >= f->ctx->idle_timeout_ms)
		return flow_abort(f, "idle timeout", NULL);
	if (f->state == FS_RELAY && !f->keepalive && f->up != NULL &&
	    now - f->t_start >= KEEPALIVE_AFTER_MS) {
		int r = sock_keepalive(upstream_conn_fd(f->up), &f->ctx->sock);

		f->keepalive = true;
		if (r < 0)
			log_debug("flow#%" PRIu64 " keepalive: %s", f->id, strerror(-r));
	}
	if (f->state == FS_RELAY && pcb->state == FIN_WAIT_2 && f->ctx->half_closed_probe_ms > 0 &&
	    now - LWIP_MAX(f->t_last, f->t_probe) >= f->ctx->half_closed_probe_ms) {
		/* Nothing is left to send and lwIP keeps no timer here: a
		 * client whose RST was lost (a full TUN queue) would hold
		 * the flow until the idle timeout. Its kernel answers the
		 * probe with another RST; a live client with an ACK. */
		f->t_probe = now;
		if (stack_tcp_probe(pcb) < 0)
			log_debug("flow#%" PRIu64 " half-closed: no memory for a probe", f->id);
	}
	return ERR_OK;
}

/* ---- close ---------------------------------------------------------------- */

static void flow_on_err(void *arg, err_t err)
{
	struct flow_tcp *f = arg;

	/* lwIP already freed the pcb. */
	f->rl.pcb = NULL;
	flow_abort(f, err == ERR_RST ? "client reset the connection" : "client connection lost",
		   NULL);
}

/* Resets both sides. Returns ERR_ABRT if it aborted the pcb: a caller that
 * is an lwIP callback of this pcb must return that value. */
static err_t flow_abort(struct flow_tcp *f, const char *why, const char *detail)
{
	err_t ret = ERR_OK;

	if (f->state == FS_DEAD)
		return ERR_OK;
	if (f->state < FS_RELAY)
		f->ctx->stats.failed++;
	else
		f->ctx->stats.reset++;
	flow_log_end(f, f->state < FS_RELAY ? "failed" : "reset", why, detail);
	if (f->rl.pcb != NULL) {
		flow_detach_pcb(f);
		if (f->in_accept)
			/* lwIP's accept callback is still running: the stack
			 * sends the RST when it returns. */
			f->accept_ret = -ECONNRESET;
		else
			/* RST to the client (one it takes whatever it
			 * received); frees the pcb */
			stack_tcp_reset(f->rl.pcb);
		f->pcb_aborted = !f->in_accept;
		ret = ERR_ABRT;
	}
	flow_end(f, true);
	return ret;
}

/* Both directions finished and drained: close cleanly. lwIP keeps the
 * pcb (without callbacks) until our FIN and any unacked data are
 * acknowledged. */
static void flow_finish(struct flow_tcp *f)
{
	f->ctx->stats.closed++;
	flow_log_end(f, "closed", NULL, NULL);
	flow_detach_pcb(f);
	if (tcp_close(f->rl.pcb) != ERR_OK)
		tcp_abort(f->rl.pcb);
	flow_end(f, false);
}

static void flow_log_end(struct flow_tcp *f, const char *verb, const char *why, const char *detail)
{
	char desc[1200];
	double secs = (double)(uv_now(f->ctx->loop) - f->t_start) / 1000.0;

	if (why == NULL) {
		log_info("flow#%" PRIu64 " %s %s up %" PRIu64 " B down %" PRIu64 " B %.2f s", f->id,
			 verb, flow_desc(f, desc, sizeof(desc)), f->rl.bytes_up, f->rl.bytes_down,
			 secs);
	} else {
		log_info("flow#%" PRIu64 " %s %s up %" PRIu64 " B down %" PRIu64
			 " B %.2f s: %s%s%s",
			 f->id, verb, flow_desc(f, desc, sizeof(desc)), f->rl.bytes_up,
			 f->rl.bytes_down, secs, why, detail ? ": " : "", detail ? detail : "");
	}
}

/* Ends the flow: unlinks it, closes the upstream side (RST if reset), and
 * drops the alive reference. The pcb must already be closed or aborted. */
static void flow_end(struct flow_tcp *f, bool reset)
{
	struct flow_tcp_ctx *ctx = f->ctx;

	flow_set_state(f, FS_DEAD);
	f->rl.pcb = NULL;
	list_remove(&f->link);
	ctx->live_count--;
	ctx->stats.bytes_up += f->rl.bytes_up;
	ctx->stats.bytes_down += f->rl.bytes_down;
	if (f->pinned) {
		dns_intercept_flow_done(ctx->dns, &f->dst_ip);
		f->pinned = false;
	}
	if (f->routed) {
		ctx->route.release(ctx->route.ctx, f->route.hold);
		f->route.hold = NULL;
	}
	flow_close_upstream(f, reset);
	flow_release(f);
}

/* Detaches every lwIP callback so lwIP never calls into f again. */
static void flow_detach_pcb(struct flow_tcp *f)
{
	if (f->rl.pcb == NULL)
		return;
	tcp_arg(f->rl.pcb, NULL);
	tcp_recv(f->rl.pcb, NULL);
	tcp_sent(f->rl.pcb, NULL);
	tcp_err(f->rl.pcb, NULL);
	tcp_poll(f->rl.pcb, NULL, 0);
}

/* Closes the upstream connection (RST if reset) at once: a closed watch
 * delivers nothing more (poller.h), and its memory is free again in
 * flow_on_watch_closed. */
static void flow_close_upstream(struct flow_tcp *f, bool reset)
{
	if (f->watch_open) {
		poller_watch_close(&f->watch, flow_on_watch_closed);
		f->watch_open = false;
		f->watch_closing = true;
	}
	upstream_conn_close(f->up, reset);
	f->up = NULL;
}

static void flow_on_watch_closed(struct poller_watch *w)
{
	struct flow_tcp *f = w->data;

	f->watch_closing = false;
	/* A failed DIRECT attempt: the watch is free for the next address
	 * only now. */
	if (f->retry_direct) {
		f->retry_direct = false;
		if (f->state == FS_CONNECTING)
			flow_connect(f);
	}
	flow_release(f);
}

static void flow_release(struct flow_tcp *f)
{
	if (--f->refs > 0)
		return;
	/* Freed by the reaper on the next loop iteration, never here: we may
	 * be inside a callback that still holds f. */
	reaper_defer(&f->ctx->reaper, &f->rnode);
}

static void flow_free(struct flow_tcp *f)
{
	relay_free(&f->rl);
	free(f->domain);
	free(f->direct);
	free(f->sniff_buf);
	free(f);
}

static void flow_reap(struct reaper_node *n)
{
	flow_free(reaper_owner(n, struct flow_tcp, rnode));
}

/* ---- context ------------------------------------------------------------ */

int flow_tcp_ctx_init(struct flow_tcp_ctx *ctx, uv_loop_t *loop, const struct route_ops *route)
{
	int r;

	memset(ctx, 0, sizeof(*ctx));
	list_init(&ctx->live);
	ctx->loop = loop;
	ctx->route = *route;
	ctx->connect_timeout_ms = 10000;
	ctx->idle_timeout_ms = 7440000;
	ctx->half_closed_probe_ms = 15000;
	ctx->sniff_wait_ms = 1000;
	ctx->buf_cap = TCP_SND_BUF;
	ctx->buf = malloc(ctx->buf_cap);
	if (ctx->buf == NULL)
		return -ENOMEM;
	r = poller_new(loop, &ctx->poller);
	if (r < 0)
		goto fail;
	r = reaper_init(&ctx->reaper, loop, flow_reap);
	if (r < 0) {
		poller_close(ctx->poller); /* the caller runs the loop to close it */
		ctx->poller = NULL;
		goto fail;
	}
	return 0;
fail:
	free(ctx->buf);
	ctx->buf = NULL;
	return r;
}

void flow_tcp_ctx_shutdown(struct flow_tcp_ctx *ctx)
{
	flow_tcp_ctx_flush(ctx);
	/* Newest first; flow_abort() takes each off the list. */
	while (!list_empty(&ctx->live))
		flow_abort(list_entry(ctx->live.next, struct flow_tcp, link), "shutting down",
			   NULL);
	poller_close(ctx->poller);
	ctx->poller = NULL;
	reaper_close(&ctx->reaper);
}

void flow_tcp_ctx_destroy(struct flow_tcp_ctx *ctx)
{
	/* A startup that failed before shutdown: the loop still runs on to
	 * close the poller's handles (daemon.c). */
	poller_close(ctx->poller);
	ctx->poller = NULL;
	reaper_flush(&ctx->reaper);
	free(ctx->buf);
	ctx->buf = NULL;
}

/* ---- the control API's view (flow_info.h) ------------------------------ */

void flow_tcp_foreach(struct flow_tcp_ctx *ctx, flow_info_fn fn, void *arg)
{
	for (struct list_node *n = ctx->live.next; n != &ctx->live; n = n->next) {
		const struct flow_tcp *f = list_entry(n, struct flow_tcp, link);
		struct flow_info fi = {
			.id = f->id,
			.src = &f->src_ip,
			.src_port = f->src_port,
			.dst = &f->dst_ip,
			.dst_port = f->dst_port,
			.domain = f->domain,
			.route = f->routed ? &f->route : NULL,
			.up = f->rl.bytes_up,
			.down = f->rl.bytes_down,
			.start_ms = f->t_start,
		};

		fn(arg, &fi);
	}
}

int flow_tcp_close(struct flow_tcp_ctx *ctx, uint64_t id)
{
	struct list_node *n = ctx->live.next;
	int r = -ENOENT;

	while (n != &ctx->live) {
		struct flow_tcp *f = list_entry(n, struct flow_tcp, link);

		n = n->next; /* flow_abort takes f off the list */
		if (id != 0 && f->id != id)
			continue;
		flow_abort(f, "closed through the control API", NULL);
		r = 0;
		if (id != 0)
			break;
	}
	return id == 0 ? 0 : r;
}
