/* lwip_helper: crafted packets into the lwIP stack and the stack's packets
 * back, for the tests that drive lwIP (test_stack, test_dns_intercept,
 * test_relay, test_flow_tcp). In the spirit of lwIP's own
 * test/unit/tcp/tcp_helper.h: segments are built byte by byte with valid
 * checksums and fed through stack_input(), as the TUN would.
 *
 *   capture   lh_output is a stack_cbs.output: it keeps the last CAP_MAX
 *             packets in cap_pkt/cap_len (cap_n counts them; reset it to
 *             start over) and hands TCP segments to the tracked client.
 *   craft     craft() builds an IPv4/IPv6 TCP segment, craft_udp() a UDP
 *             datagram; feed() passes a packet to the stack; parse() reads
 *             a captured TCP segment back.
 *   client    struct lh_client is one client connection kept in step with
 *             what lwIP sends: it collects the in-order data, notes FIN
 *             and RST, and knows the sequence numbers for lh_send(),
 *             lh_ack(), lh_fin() and lh_rst(). The window it advertises is
 *             fixed (65535, no scaling), so lwIP keeps at most that much
 *             unacknowledged: a client that does not ack is a slow one.
 *
 * Like test.h, included by exactly one .c per test program: the capture
 * lives in static storage.
 */
#ifndef T2S_LWIP_HELPER_H
#define T2S_LWIP_HELPER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip-port/stack.h"
#include "test.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

/* ---- endpoints and checksums ----------------------------------------- */

struct ep {
	int v6;
	uint8_t addr[16];
	uint16_t port;
};

static inline struct ep ep4(const char *a, uint16_t port)
{
	struct ep e = { 0 };

	inet_pton(AF_INET, a, e.addr);
	e.port = port;
	return e;
}

static inline struct ep ep6(const char *a, uint16_t port)
{
	struct ep e = { .v6 = 1 };

	inet_pton(AF_INET6, a, e.addr);
	e.port = port;
	return e;
}

static inline uint32_t sum16(const uint8_t *b, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		acc += (uint32_t)b[n - 1] << 8;
	return acc;
}

static inline uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* ---- crafting ----------------------------------------------------------- */

/* Builds an IP+TCP packet into out (room for 60 + dlen bytes); returns
 * its length. The window field is 65535. */
static inline size_t craft(uint8_t *out, const struct ep *src, const struct ep *dst, uint32_t seq,
			   uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
	size_t ih = src->v6 ? 40 : 20, th = 20, tot = ih + th + dlen;
	uint8_t *t = out + ih;
	uint32_t acc = 0;

	memset(out, 0, ih + th);
	if (src->v6) {
		out[0] = 0x60;
		out[4] = (uint8_t)((th + dlen) >> 8);
		out[5] = (uint8_t)(th + dlen);
		out[6] = 6;
		out[7] = 64;
		memcpy(out + 8, src->addr, 16);
		memcpy(out + 24, dst->addr, 16);
		acc = sum16(out + 8, 32, 0);
	} else {
		out[0] = 0x45;
		out[2] = (uint8_t)(tot >> 8);
		out[3] = (uint8_t)tot;
		out[8] = 64;
		out[9] = 6;
		memcpy(out + 12, src->addr, 4);
		memcpy(out + 16, dst->addr, 4);
		uint16_t c = fold(sum16(out, 20, 0));
		out[10] = (uint8_t)(c >> 8);
		out[11] = (uint8_t)c;
		acc = sum16(out + 12, 8, 0);
	}
	acc += 6 + (uint32_t)(th + dlen);
	t[0] = (uint8_t)(src->port >> 8);
	t[1] = (uint8_t)src->port;
	t[2] = (uint8_t)(dst->port >> 8);
	t[3] = (uint8_t)dst->port;
	t[4] = (uint8_t)(seq >> 24);
	t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8);
	t[7] = (uint8_t)seq;
	t[8] = (uint8_t)(ack >> 24);
	t[9] = (uint8_t)(ack >> 16);
	t[10] = (uint8_t)(ack >> 8);
	t[11] = (uint8_t)ack;
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0xff;
	t[15] = 0xff;
	if (dlen)
		memcpy(t + th, data, dlen);
	uint16_t c = fold(sum16(t, th + dlen, acc));
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	return tot;
}

/* Builds an IP+UDP datagram (checksum 0: none, which IPv4 allows and the
 * stack does not check); returns its length. */
static inline size_t craft_udp(uint8_t *out, const struct ep *src, const struct ep *dst,
			       const void *data, size_t dlen)
{
	size_t ih = src->v6 ? 40 : 20, tot = ih + 8 + dlen;

	memset(out, 0, ih + 8);
	if (src->v6) {
		out[0] = 0x60;
		out[4] = (uint8_t)((8 + dlen) >> 8);
		out[5] = (uint8_t)(8 + dlen);
		out[6] = 17;
		out[7] = 64;
		memcpy(out + 8, src->addr, 16);
		memcpy(out + 24, dst->addr, 16);
	} else {
		out[0] = 0x45;
		out[2] = (uint8_t)(tot >> 8);
		out[3] = (uint8_t)tot;
		out[8] = 64;
		out[9] = 17;
		memcpy(out + 12, src->addr, 4);
		memcpy(out + 16, dst->addr, 4);
	}
	uint8_t *u = out + ih;
	u[0] = (uint8_t)(src->port >> 8);
	u[1] = (uint8_t)src->port;
	u[2] = (uint8_t)(dst->port >> 8);
	u[3] = (uint8_t)dst->port;
	u[4] = (uint8_t)((8 + dlen) >> 8);
	u[5] = (uint8_t)(8 + dlen);
	memcpy(u + 8, data, dlen);
	return tot;
}

/* One packet into the stack, as the TUN reader hands it over. */
static inline void feed(struct stack *s, const uint8_t *pkt, size_t len)
{
	struct pbuf *p = stack_pbuf_alloc(len);

	if (p == NULL) {
		T_CHECK(p != NULL);
		return;
	}
	memcpy(p->payload, pkt, len);
	stack_input(s, p);
}

/* ---- capture -------------------------------------------------------------- */

#define CAP_MAX 64
static uint8_t cap_pkt[CAP_MAX][2048];
static size_t cap_len[CAP_MAX];
static int cap_n;

struct lh_client;
static struct lh_client *lh_tracked;
static inline void lh_client_absorb(struct lh_client *c, const uint8_t *pkt, size_t len);

/* stack_cbs.output: keeps the packet (the first CAP_MAX since cap_n was
 * reset) and shows it to the tracked client. */
static inline int lh_output(void *arg, struct pbuf *p)
{
	uint8_t buf[2048];
	size_t n = p->tot_len <= sizeof(buf) ? p->tot_len : 0;

	(void)arg;
	if (n == 0)
		return 0;
	pbuf_copy_partial(p, buf, (u16_t)n, 0);
	if (cap_n < CAP_MAX) {
		memcpy(cap_pkt[cap_n], buf, n);
		cap_len[cap_n++] = n;
	}
	if (lh_tracked != NULL)
		lh_client_absorb(lh_tracked, buf, n);
	return 0;
}

struct seg {
	const uint8_t *src, *dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *data;
	size_t dlen;
};

/* Parses a TCP packet (same family as v6) into g; 0 or -1. */
static inline int parse_pkt(const uint8_t *b, size_t len, int v6, struct seg *g)
{
	size_t ih = v6 ? 40 : 20;

	if (len < ih + 20 || (b[0] >> 4) != (v6 ? 6 : 4) || b[v6 ? 6 : 9] != 6)
		return -1;
	g->src = v6 ? b + 8 : b + 12;
	g->dst = v6 ? b + 24 : b + 16;
	b += ih;
	g->sport = (uint16_t)(b[0] << 8 | b[1]);
	g->dport = (uint16_t)(b[2] << 8 | b[3]);
	g->seq = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	g->ack = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
	g->flags = b[13];
	g->wnd = (uint16_t)(b[14] << 8 | b[15]);
	g->data = b + (b[12] >> 4) * 4;
	g->dlen = len - ih - (size_t)(b[12] >> 4) * 4;
	return 0;
}

/* Parses captured packet i. */
static inline int parse(int i, int v6, struct seg *g)
{
	return parse_pkt(cap_pkt[i], cap_len[i], v6, g);
}

/* ---- a client connection --------------------------------------------------- */

struct lh_client {
	struct ep me, peer; /* the client, and where it connected to */
	uint32_t seq;       /* next sequence number we send */
	uint32_t ack;       /* next sequence number we expect */
	bool synack;        /* lwIP answered our SYN */
	bool established;
	bool fin, rst;     /* lwIP sent FIN / RST */
	uint16_t peer_wnd; /* the window lwIP advertised last */
	/* In-order data from lwIP: rx[0..rx_len); beyond rx_cap it is
	 * counted in rx_total only. */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	uint64_t rx_total;
};

static inline void lh_client_absorb(struct lh_client *c, const uint8_t *pkt, size_t len)
{
	struct seg g;

	if (parse_pkt(pkt, len, c->me.v6, &g) < 0 || g.dport != c->me.port ||
	    g.sport != c->peer.port)
		return;
	if (g.flags & F_RST) {
		c->rst = true;
		return;
	}
	c->peer_wnd = g.wnd;
	if (g.flags & F_SYN) {
		c->ack = g.seq + 1;
		c->synack = true;
		return;
	}
	if (g.seq != c->ack)
		return; /* a retransmission, or beyond a gap: lwIP resends */
	if (g.dlen > 0) {
		size_t room = c->rx_cap - c->rx_len;
		size_t n = g.dlen < room ? g.dlen : room;

		if (n > 0)
			memcpy(c->rx + c->rx_len, g.data, n);
		c->rx_len += n;
		c->rx_total += g.dlen;
		c->ack += (uint32_t)g.dlen;
	}
	if (g.flags & F_FIN) {
		c->fin = true;
		c->ack++;
	}
}

static inline void lh_client_init(struct lh_client *c, const struct ep *me, const struct ep *peer,
				  size_t rx_cap)
{
	memset(c, 0, sizeof(*c));
	c->me = *me;
	c->peer = *peer;
	c->seq = 1000;
	c->rx = rx_cap ? malloc(rx_cap) : NULL;
	c->rx_cap = c->rx ? rx_cap : 0;
	lh_tracked = c;
}

static inline void lh_client_free(struct lh_client *c)
{
	free(c->rx);
	c->rx = NULL;
	if (lh_tracked == c)
		lh_tracked = NULL;
}

/* SYN, SYN-ACK, ACK: the stack accepts (its tcp_accept runs). true when
 * lwIP answered the SYN. */
static inline bool lh_connect(struct stack *s, struct lh_client *c)
{
	uint8_t pkt[128];

	lh_tracked = c;
	feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, 0, F_SYN, NULL, 0));
	if (!c->synack)
		return false;
	c->seq++;
	feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, c->ack, F_ACK, NULL, 0));
	c->established = true;
	return true;
}

/* Sends len bytes in segments of at most 1400, acking what came. */
static inline void lh_send(struct stack *s, struct lh_client *c, const void *data, size_t len)
{
	static uint8_t pkt[1500];
	const uint8_t *d = data;

	while (len > 0) {
		size_t n = len > 1400 ? 1400 : len;

		feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, c->ack, F_ACK | F_PSH, d, n));
		c->seq += (uint32_t)n;
		d += n;
		len -= n;
	}
}

/* Acknowledges everything received so far. */
static inline void lh_ack(struct stack *s, struct lh_client *c)
{
	uint8_t pkt[128];

	feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, c->ack, F_ACK, NULL, 0));
}

static inline void lh_fin(struct stack *s, struct lh_client *c)
{
	uint8_t pkt[128];

	feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, c->ack, F_ACK | F_FIN, NULL, 0));
	c->seq++;
}

static inline void lh_rst(struct stack *s, struct lh_client *c)
{
	uint8_t pkt[128];

	feed(s, pkt, craft(pkt, &c->me, &c->peer, c->seq, c->ack, F_RST | F_ACK, NULL, 0));
}

/* Every lwIP pool element and heap byte in use, to compare against a
 * baseline taken before a scenario. */
static inline bool lh_usage_is(const struct stack_usage *base, unsigned extra_pool)
{
	struct stack_usage u;

	stack_usage(&u);
	T_EQ_INT(u.pool_used, base->pool_used + extra_pool);
	T_EQ_INT(u.pbufs, base->pbufs);
	T_EQ_INT(u.heap_used, base->heap_used);
	return u.pool_used == base->pool_used + extra_pool && u.pbufs == base->pbufs &&
	       u.heap_used == base->heap_used;
}

#endif
