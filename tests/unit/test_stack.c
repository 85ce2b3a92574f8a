/* The lwIP stack fed crafted packets: SYN, data, FIN and RST for IPv4 and
 * IPv6 destinations that are not the stack's own, malformed packets, and a
 * check that every pool element and heap byte comes back. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h" /* tcp_rexmit_rto, SYN_RCVD */
#include "lwip/tcp.h"
#include "lwip-port/stack.h"
#include "lwip_helper.h"
#include "test.h"

/* ---- a minimal application on accepted pcbs --------------------------- */
struct app {
	struct tcp_pcb *pcb;
	char rx[256];
	size_t rx_len;
	bool eof;
	bool err;
	int accepted;
	ip_addr_t local;
	u16_t local_port;
};
static struct app app;

static err_t app_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p == NULL) {
		app.eof = true;
		return ERR_OK;
	}
	if (app.rx_len + p->tot_len <= sizeof(app.rx))
		app.rx_len += pbuf_copy_partial(p, app.rx + app.rx_len, p->tot_len, 0);
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void app_err(void *arg, err_t err)
{
	(void)arg;
	(void)err;
	app.err = true;
	app.pcb = NULL;
}

static int app_accept(void *arg, struct tcp_pcb *pcb)
{
	(void)arg;
	app.pcb = pcb;
	app.accepted++;
	ip_addr_copy(app.local, pcb->local_ip);
	app.local_port = pcb->local_port;
	tcp_recv(pcb, app_recv);
	tcp_err(pcb, app_err);
	return 0;
}

/* A full connection life: handshake, data both ways, client FIN, server
 * close, last ACK. Returns with everything freed. */
static void conversation(struct stack *s, const struct ep *cli, const struct ep *dst)
{
	uint8_t pkt[2048];
	struct seg g;
	size_t alen = dst->v6 ? 16 : 4;
	uint32_t cseq = 1000, sseq;

	memset(&app, 0, sizeof(app));
	cap_n = 0;
	feed(s, pkt, craft(pkt, cli, dst, cseq, 0, F_SYN, NULL, 0));
	T_EQ_INT(cap_n, 1);
	T_EQ_INT(parse(0, dst->v6, &g), 0);
	T_EQ_INT(g.flags & (F_SYN | F_ACK), F_SYN | F_ACK);
	T_EQ_MEM(g.src, dst->addr, alen); /* answers AS the destination */
	T_EQ_MEM(g.dst, cli->addr, alen);
	T_EQ_INT(g.sport, dst->port);
	T_EQ_INT(g.dport, cli->port);
	T_EQ_INT(g.ack, cseq + 1);
	sseq = g.seq + 1;
	cseq++;

	feed(s, pkt, craft(pkt, cli, dst, cseq, sseq, F_ACK, NULL, 0));
	T_EQ_INT(app.accepted, 1);
	T_CHECK(app.pcb != NULL);
	if (app.pcb == NULL)
		return;
	T_EQ_INT(app.local_port, dst->port);
	T_EQ_MEM(dst->v6 ? (const void *)ip_2_ip6(&app.local)->addr
			 : (const void *)&ip_2_ip4(&app.local)->addr,
		 dst->addr, alen);

	feed(s, pkt, craft(pkt, cli, dst, cseq, sseq, F_ACK | F_PSH, "hello", 5));
	cseq += 5;
	T_EQ_INT(app.rx_len, 5);
	T_EQ_MEM(app.rx, "hello", 5);

	cap_n = 0;
	T_EQ_INT(tcp_write(app.pcb, "world!", 6, TCP_WRITE_FLAG_COPY), ERR_OK);
	T_EQ_INT(tcp_output(app.pcb), ERR_OK);
	T_CHECK(cap_n >= 1);
	T_EQ_INT(parse(cap_n - 1, dst->v6, &g), 0);
	T_EQ_INT(g.dlen, 6);
	T_EQ_MEM(g.data, "world!", 6);
	T_EQ_INT(g.seq, sseq);
	T_EQ_INT(g.ack, cseq);
	sseq += 6;

	/* Client half-closes; the app sees EOF, then closes its side. */
	feed(s, pkt, craft(pkt, cli, dst, cseq, sseq, F_ACK | F_FIN, NULL, 0));
	cseq++;
	T_CHECK(app.eof);
	cap_n = 0;
	tcp_arg(app.pcb, NULL);
	tcp_recv(app.pcb, NULL);
	tcp_err(app.pcb, NULL);
	T_EQ_INT(tcp_close(app.pcb), ERR_OK);
	app.pcb = NULL;
	T_CHECK(cap_n >= 1);
	T_EQ_INT(parse(cap_n - 1, dst->v6, &g), 0);
	T_CHECK(g.flags & F_FIN);
	sseq = g.seq + 1;
	/* The last ACK frees the pcb (LAST_ACK -> CLOSED, no TIME_WAIT). */
	feed(s, pkt, craft(pkt, cli, dst, cseq, sseq, F_ACK, NULL, 0));
}

static const struct stack_cbs cbs = { .output = lh_output, .tcp_accept = app_accept };

/* ---- UDP -------------------------------------------------------------- */
static struct {
	int n;
	ip_addr_t src, dst;
	u16_t sport, dport;
	char data[64];
	size_t len;
} udp_seen;

static void udp_in(void *arg, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
		   uint16_t dport, struct pbuf *p)
{
	(void)arg;
	udp_seen.n++;
	ip_addr_copy(udp_seen.src, *src);
	ip_addr_copy(udp_seen.dst, *dst);
	udp_seen.sport = sport;
	udp_seen.dport = dport;
	udp_seen.len = pbuf_copy_partial(p, udp_seen.data, sizeof(udp_seen.data), 0);
	pbuf_free(p);
}

/* UDP to any destination reaches udp_input with its addresses; replies go
 * out from any source with a valid checksum. */
static void test_udp(void)
{
	static const struct stack_cbs ucbs = { .output = lh_output,
					       .tcp_accept = app_accept,
					       .udp_input = udp_in };
	struct stack *s;
	uint8_t pkt[256];
	struct ep c = ep4("198.18.0.1", 5353), d = ep4("8.8.4.4", 53);
	struct ep c6 = ep6("fdfe:dcba:9876::1", 4000), d6 = ep6("2001:db8::53", 53);
	ip_addr_t from, to;

	T_EQ_INT(stack_create(1500, &ucbs, NULL, &s), 0);
	memset(&udp_seen, 0, sizeof(udp_seen));
	feed(s, pkt, craft_udp(pkt, &c, &d, "query", 5));
	T_EQ_INT(udp_seen.n, 1);
	T_EQ_INT(udp_seen.sport, 5353);
	T_EQ_INT(udp_seen.dport, 53);
	T_EQ_INT(udp_seen.len, 5);
	T_EQ_MEM(udp_seen.data, "query", 5);
	T_EQ_MEM(&ip_2_ip4(&udp_seen.dst)->addr, d.addr, 4);
	T_EQ_MEM(&ip_2_ip4(&udp_seen.src)->addr, c.addr, 4);
	feed(s, pkt, craft_udp(pkt, &c6, &d6, "six", 3));
	T_EQ_INT(udp_seen.n, 2);
	T_CHECK(IP_IS_V6(&udp_seen.dst));
	T_EQ_MEM(ip_2_ip6(&udp_seen.dst)->addr, d6.addr, 16);
	/* A length field beyond the packet: dropped. */
	size_t n = craft_udp(pkt, &c, &d, "query", 5);
	pkt[24] = 0x10;
	feed(s, pkt, n);
	T_EQ_INT(udp_seen.n, 2);

	/* Reply from the original destination, checksummed. */
	IP_ADDR4(&from, 8, 8, 4, 4);
	IP_ADDR4(&to, 198, 18, 0, 1);
	cap_n = 0;
	T_EQ_INT(stack_udp_send(s, &from, 53, &to, 5353, "answer", 6), 0);
	T_EQ_INT(cap_n, 1);
	T_EQ_INT(cap_len[0], 20 + 8 + 6);
	T_EQ_MEM(cap_pkt[0] + 12, d.addr, 4);
	T_EQ_INT(cap_pkt[0][9], 17);
	T_EQ_INT(cap_pkt[0][20] << 8 | cap_pkt[0][21], 53);
	T_EQ_MEM(cap_pkt[0] + 28, "answer", 6);
	/* pseudo header + UDP header + data sums to 0xffff */
	uint32_t acc = sum16(cap_pkt[0] + 12, 8, 0) + 17 + 14;
	T_EQ_INT(fold(sum16(cap_pkt[0] + 20, 14, acc)), 0);
	T_EQ_INT(stack_udp_send(s, &from, 53, &to, 5353, pkt, 1500), -EMSGSIZE);

	/* REJECT: ICMP port unreachable from the remote, quoting the
	 * datagram's headers and first 8 data bytes; checksums valid. */
	{
		struct pbuf *pl = pbuf_alloc(PBUF_RAW, 12, PBUF_RAM);
		ip_addr_t cli6, rem6;

		memcpy(pl->payload, "hello world!", 12);
		cap_n = 0;
		T_EQ_INT(stack_udp_unreachable(s, &to, 5353, &from, 53, pl), 0);
		T_EQ_INT(cap_n, 1);
		T_EQ_INT(cap_len[0], 20 + 8 + 20 + 8 + 8);
		T_EQ_INT(cap_pkt[0][9], 1);           /* ICMP */
		T_EQ_MEM(cap_pkt[0] + 12, d.addr, 4); /* from the remote */
		T_EQ_MEM(cap_pkt[0] + 16, c.addr, 4); /* to the client */
		T_EQ_INT(cap_pkt[0][20], 3);          /* destination unreachable */
		T_EQ_INT(cap_pkt[0][21], 3);          /* port */
		T_EQ_INT(fold(sum16(cap_pkt[0] + 20, cap_len[0] - 20, 0)), 0);
		T_EQ_INT(fold(sum16(cap_pkt[0] + 28, 20, 0)), 0); /* quoted IP header */
		T_EQ_MEM(cap_pkt[0] + 28 + 12, c.addr, 4);
		T_EQ_MEM(cap_pkt[0] + 28 + 16, d.addr, 4);
		T_EQ_INT(cap_pkt[0][48] << 8 | cap_pkt[0][49], 5353);
		T_EQ_INT(cap_pkt[0][50] << 8 | cap_pkt[0][51], 53);
		T_EQ_MEM(cap_pkt[0] + 56, "hello wo", 8);

		ipaddr_aton("fdfe:dcba:9876::1", &cli6);
		ipaddr_aton("2001:db8::53", &rem6);
		cap_n = 0;
		T_EQ_INT(stack_udp_unreachable(s, &cli6, 4000, &rem6, 53, pl), 0);
		T_EQ_INT(cap_n, 1);
		T_EQ_INT(cap_len[0], 40 + 8 + 40 + 8 + 12); /* v6 quotes it all */
		T_EQ_INT(cap_pkt[0][6], 58);                /* ICMPv6 */
		T_EQ_INT(cap_pkt[0][40], 1);                /* destination unreachable */
		T_EQ_INT(cap_pkt[0][41], 4);                /* port */
		{
			/* pseudo header: src, dst, length, next header 58 */
			uint32_t acc6 =
				sum16(cap_pkt[0] + 8, 32, 0) + (uint32_t)(cap_len[0] - 40) + 58;

			T_EQ_INT(fold(sum16(cap_pkt[0] + 40, cap_len[0] - 40, acc6)), 0);
		}
		T_EQ_INT(cap_pkt[0][48 + 40] << 8 | cap_pkt[0][48 + 41], 4000);
		T_EQ_MEM(cap_pkt[0] + 48 + 48, "hello world!", 12);
		T_EQ_INT(stack_udp_unreachable(s, &cli6, 4000, &from, 53, pl), -EAFNOSUPPORT);
		pbuf_free(pl);
	}
	stack_destroy(s);
	struct stack_usage u;
	stack_usage(&u);
	T_EQ_INT(u.pool_used, 0);
	T_EQ_INT(u.heap_used, 0);
}

static void test_conversations_and_leaks(void)
{
	struct stack *s;
	struct stack_usage before, after;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	stack_usage(&before);

	struct ep c4 = ep4("198.18.0.1", 40000), c6 = ep6("fdfe:dcba:9876::1", 40001);
	struct ep d1 = ep4("93.184.216.34", 443), d2 = ep4("10.1.2.3", 80),
		  d3 = ep4("203.0.113.80", 443), d6 = ep6("2001:db8::1", 8443);

	conversation(s, &c4, &d1);
	conversation(s, &c4, &d2);
	c4.port++;
	conversation(s, &c4, &d3); /* second flow on an existing listener */
	conversation(s, &c6, &d6);
	T_EQ_INT(stack_counters(s)->listeners, 3);

	stack_usage(&after);
	/* Listener pcbs are the only pool elements that legitimately remain. */
	T_EQ_INT(after.pool_used, before.pool_used + 3);
	T_EQ_INT(after.pbufs, before.pbufs);
	T_EQ_INT(after.heap_used, before.heap_used);
	stack_destroy(s);
	stack_usage(&after);
	T_EQ_INT(after.pool_used, 0);
	T_EQ_INT(after.heap_used, 0);
}

static void test_rst_and_unknown(void)
{
	struct stack *s;
	uint8_t pkt[256];
	struct seg g;
	struct ep c = ep4("198.18.0.1", 41000), d = ep4("198.51.100.7", 22);

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	memset(&app, 0, sizeof(app));
	cap_n = 0;
	feed(s, pkt, craft(pkt, &c, &d, 5000, 0, F_SYN, NULL, 0));
	T_EQ_INT(parse(0, 0, &g), 0);
	feed(s, pkt, craft(pkt, &c, &d, 5001, g.seq + 1, F_ACK, NULL, 0));
	T_CHECK(app.pcb != NULL);
	/* A client RST tears the connection down and reports it. */
	feed(s, pkt, craft(pkt, &c, &d, 5001, g.seq + 1, F_RST | F_ACK, NULL, 0));
	T_CHECK(app.err);
	T_CHECK(app.pcb == NULL);

	/* A segment for no connection is answered with RST from the
	 * destination it was sent to. */
	cap_n = 0;
	feed(s, pkt, craft(pkt, &c, &d, 9, 77, F_ACK | F_PSH, "x", 1));
	T_EQ_INT(cap_n, 1);
	T_EQ_INT(parse(0, 0, &g), 0);
	T_CHECK(g.flags & F_RST);
	T_EQ_MEM(g.src, d.addr, 4);
	stack_destroy(s);
	struct stack_usage u;
	stack_usage(&u);
	T_EQ_INT(u.pool_used, 0);
	T_EQ_INT(u.heap_used, 0);
}

/* One connection from client port cport, closed by the server first (a
 * FIN to the client) and then by the client: lwIP holds it in TIME_WAIT.
 * Returns 0 when it got there. */
static int enter_time_wait(struct stack *s, uint16_t cport)
{
	uint8_t pkt[256];
	struct seg g;
	struct ep c = ep4("198.18.0.1", cport), d = ep4("203.0.113.9", 80);
	uint32_t sseq;

	memset(&app, 0, sizeof(app));
	cap_n = 0;
	feed(s, pkt, craft(pkt, &c, &d, 100, 0, F_SYN, NULL, 0));
	if (parse(0, 0, &g) != 0)
		return -1;
	sseq = g.seq + 1;
	feed(s, pkt, craft(pkt, &c, &d, 101, sseq, F_ACK, NULL, 0));
	if (app.pcb == NULL)
		return -1;
	cap_n = 0;
	tcp_arg(app.pcb, NULL);
	tcp_recv(app.pcb, NULL);
	tcp_err(app.pcb, NULL);
	if (tcp_close(app.pcb) != ERR_OK || cap_n < 1 || parse(cap_n - 1, 0, &g) != 0 ||
	    !(g.flags & F_FIN))
		return -1;
	feed(s, pkt, craft(pkt, &c, &d, 101, sseq + 1, F_ACK | F_FIN, NULL, 0));
	return 0;
}

/* A new SYN (ISN 90000) from client port cport opens a new connection:
 * one SYN-ACK acknowledging it, not the old connection's ACK. */
static bool syn_opens_new(struct stack *s, uint16_t cport)
{
	uint8_t pkt[256];
	struct seg g;
	struct ep c = ep4("198.18.0.1", cport), d = ep4("203.0.113.9", 80);

	cap_n = 0;
	feed(s, pkt, craft(pkt, &c, &d, 90000, 0, F_SYN, NULL, 0));
	return cap_n == 1 && parse(0, 0, &g) == 0 &&
	       (g.flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK) && g.ack == 90001;
}

static unsigned time_wait_count(void)
{
	unsigned n = 0;

	for (const struct tcp_pcb *pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next)
		n++;
	return n;
}

/* The server side closes first, so lwIP ends in TIME_WAIT; the client's
 * kernel may reuse the port at once. The new SYN must open a new
 * connection (SYN-ACK), not get the old connection's ACK. */
static void test_time_wait_reuse(void)
{
	struct stack *s;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	T_EQ_INT(enter_time_wait(s, 42000), 0);
	T_EQ_INT(time_wait_count(), 1);
	T_CHECK(syn_opens_new(s, 42000));
	stack_destroy(s);
}

/* Under churn TIME_WAIT is capped: a new SYN frees the oldest pcbs past
 * STACK_TIME_WAIT_MAX, keeps the newest, and a port whose pcb was freed
 * or kept opens a new connection all the same. */
static void test_time_wait_cap(void)
{
	struct stack *s;
	const unsigned extra = 10, total = STACK_TIME_WAIT_MAX + 10;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	for (unsigned i = 0; i < total; i++)
		T_EQ_INT(enter_time_wait(s, (uint16_t)(30000 + i)), 0);
	/* Only SYNs trim: the last connection entered TIME_WAIT after the
	 * last SYN, one over the cap. */
	T_EQ_INT(time_wait_count(), STACK_TIME_WAIT_MAX + 1);
	T_EQ_INT(stack_counters(s)->time_wait_freed, extra - 1);
	/* A new client port: the oldest `extra` go, the newest stay. */
	T_CHECK(syn_opens_new(s, 50000));
	T_EQ_INT(time_wait_count(), STACK_TIME_WAIT_MAX);
	T_EQ_INT(stack_counters(s)->time_wait_freed, extra);
	for (const struct tcp_pcb *pcb = tcp_tw_pcbs; pcb != NULL; pcb = pcb->next)
		T_CHECK(pcb->remote_port >= 30000 + extra);
	/* Reusing the oldest port (freed) and the newest (kept, reopened):
	 * both get a SYN-ACK for the new connection. */
	T_CHECK(syn_opens_new(s, 30000));
	T_CHECK(syn_opens_new(s, (uint16_t)(30000 + total - 1)));
	T_EQ_INT(time_wait_count(), STACK_TIME_WAIT_MAX - 1);
	stack_destroy(s);
	struct stack_usage u;
	stack_usage(&u);
	T_EQ_INT(u.pool_used, 0);
	T_EQ_INT(u.heap_used, 0);
}

static void test_malformed(void)
{
	struct stack *s;
	uint8_t pkt[256];
	struct ep c = ep4("198.18.0.1", 41000), d = ep4("198.51.100.7", 22);
	struct ep c6 = ep6("fdfe::1", 1), d6 = ep6("2001:db8::2", 2);
	size_t n;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	memset(&app, 0, sizeof(app));
	cap_n = 0;
	n = craft(pkt, &c, &d, 1, 0, F_SYN, NULL, 0);
	for (size_t cut = 1; cut < n; cut++)
		feed(s, pkt, cut); /* every truncation */
	pkt[0] = 0x41;             /* IHL 4: below the minimum */
	feed(s, pkt, n);
	pkt[0] = 0x4f; /* IHL 15: longer than the packet */
	feed(s, pkt, n);
	pkt[0] = 0x75; /* version 7 */
	feed(s, pkt, n);
	n = craft(pkt, &c6, &d6, 1, 0, F_SYN, NULL, 0);
	for (size_t cut = 1; cut < n; cut++)
		feed(s, pkt, cut);
	pkt[6] = 0; /* hop-by-hop header claiming more than is there */
	pkt[41] = 200;
	feed(s, pkt, n);
	pkt[6] = 44; /* fragment header: unsupported, counted */
	feed(s, pkt, n);
	/* Connections to or from unspecified and multicast addresses: lwIP
	 * cannot answer them (it crashed choosing a source for ::). */
	struct ep any4 = ep4("0.0.0.0", 80), mc4 = ep4("224.0.0.1", 80),
		  bc4 = ep4("255.255.255.255", 80);
	struct ep any6 = ep6("::", 80), mc6 = ep6("ff02::1", 80);
	feed(s, pkt, craft(pkt, &c, &any4, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &any4, &d, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &c, &mc4, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &c, &bc4, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &c6, &any6, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &any6, &d6, 1, 0, F_SYN, NULL, 0));
	feed(s, pkt, craft(pkt, &c6, &mc6, 1, 0, F_SYN, NULL, 0));
	T_EQ_INT(app.accepted, 0);
	T_EQ_INT(cap_n, 0);
	T_CHECK(stack_counters(s)->dropped_malformed >= 47);
	T_CHECK(stack_counters(s)->dropped_unsupported >= 1);
	stack_destroy(s);
	struct stack_usage u;
	stack_usage(&u);
	T_EQ_INT(u.pool_used, 0);
	T_EQ_INT(u.heap_used, 0);
}

/* A SYN flood: half-open connections are capped, the oldest reset first;
 * the newest still completes its handshake; nothing is leaked. */
static void test_half_open_cap(void)
{
	struct stack *s;
	uint8_t pkt[256];
	struct seg g;
	struct ep d = ep4("203.0.113.9", 443);
	uint32_t last_seq = 0, held = 0;
	struct stack_usage u;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	stack_set_half_open_max(s, 8);
	memset(&app, 0, sizeof(app));
	for (int i = 0; i < 100; i++) {
		struct ep c = ep4("198.18.0.1", (uint16_t)(20000 + i));

		cap_n = 0;
		feed(s, pkt, craft(pkt, &c, &d, 7000, 0, F_SYN, NULL, 0));
		T_EQ_INT(parse(0, 0, &g), 0);
		last_seq = g.seq;
	}
	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		held += pcb->state == SYN_RCVD;
	/* all young (a burst): kept up to the hard bound, counted every
	 * max/4 + 1 SYNs */
	T_CHECK(held >= 8 * STACK_HALF_OPEN_HARD && held <= 8 * STACK_HALF_OPEN_HARD + 8 / 4 + 1);
	T_EQ_INT(stack_counters(s)->half_open_dropped, 100 - held);
	/* once they waited an RTO (their SYN-ACK retransmitted), the next
	 * count keeps the cap: the youngest 8 */
	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		if (pcb->state == SYN_RCVD)
			pcb->nrtx = 1;
	for (int i = 0; i < 8 / 4 + 1; i++) {
		struct ep c = ep4("198.18.0.1", (uint16_t)(30000 + i));

		feed(s, pkt, craft(pkt, &c, &d, 7000, 0, F_SYN, NULL, 0));
	}
	held = 0;
	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
		held += pcb->state == SYN_RCVD;
	/* (a SYN or two may come after the count) */
	T_CHECK(held >= 8 && held <= 8 + 8 / 4 + 1);
	/* the newest completes its handshake */
	{
		struct ep c = ep4("198.18.0.1", 20099), first = ep4("198.18.0.1", 20000);

		feed(s, pkt, craft(pkt, &c, &d, 7001, last_seq + 1, F_ACK, NULL, 0));
		T_EQ_INT(app.accepted, 1);
		/* the oldest is gone: its ACK is answered with RST */
		cap_n = 0;
		feed(s, pkt, craft(pkt, &first, &d, 7001, 1, F_ACK, NULL, 0));
		T_EQ_INT(parse(0, 0, &g), 0);
		T_CHECK(g.flags & F_RST);
		T_EQ_INT(app.accepted, 1);
	}
	if (app.pcb) {
		tcp_arg(app.pcb, NULL);
		tcp_recv(app.pcb, NULL);
		tcp_err(app.pcb, NULL);
		tcp_abort(app.pcb);
	}
	stack_destroy(s);
	stack_usage(&u);
	T_EQ_INT(u.pool_used, 0);
	T_EQ_INT(u.heap_used, 0);
}

/* ---- batched output (stack_cbs.output_batch) ------------------------------ */
static int batches, batch_last_n;

/* Copies each packet of the batch into the capture, like lh_output. */
static void lh_batch(void *arg, const struct iovec *iov, const int *iovcnt, size_t n)
{
	(void)arg;
	batches++;
	batch_last_n = (int)n;
	for (size_t k = 0; k < n; k++) {
		uint8_t buf[2048];
		size_t len = 0;

		for (int i = 0; i < iovcnt[k]; i++, iov++) {
			if (len + iov->iov_len <= sizeof(buf))
				memcpy(buf + len, iov->iov_base, iov->iov_len);
			len += iov->iov_len;
		}
		if (len > sizeof(buf))
			continue;
		if (cap_n < CAP_MAX) {
			memcpy(cap_pkt[cap_n], buf, len);
			cap_len[cap_n++] = len;
		}
	}
}

/* Packets wait, referenced, until stack_flush(), and go in one batch in
 * the order sent; a queued segment is not resent under the queue's feet
 * (lwIP sees it busy), but is once the flush let go; nothing leaks. */
static void test_batch_output(void)
{
	static const struct stack_cbs bcbs = { .output_batch = lh_batch, .tcp_accept = app_accept };
	struct ep c = ep4("198.18.0.1", 43000), d = ep6("2001:db8::7", 443);
	struct stack_usage before, after;
	static uint8_t data[3 * 536];
	uint8_t pkt[2048];
	struct stack *s;
	struct seg g;
	uint32_t cseq = 7000, sseq;

	c = ep6("fdfe:dcba:9876::1", 43000);
	T_EQ_INT(stack_create(1500, &bcbs, NULL, &s), 0);
	memset(&app, 0, sizeof(app));
	cap_n = 0;
	batches = 0;
	feed(s, pkt, craft(pkt, &c, &d, cseq, 0, F_SYN, NULL, 0));
	T_EQ_INT(cap_n, 0); /* the SYN-ACK waits for the flush */
	stack_flush(s);
	T_EQ_INT(batches, 1);
	T_EQ_INT(cap_n, 1);
	T_EQ_INT(parse(0, 1, &g), 0);
	T_EQ_INT(g.flags & (F_SYN | F_ACK), F_SYN | F_ACK);
	sseq = g.seq + 1;
	cseq++;
	feed(s, pkt, craft(pkt, &c, &d, cseq, sseq, F_ACK, NULL, 0));
	T_CHECK(app.pcb != NULL);
	if (app.pcb == NULL)
		goto out;
	stack_flush(s);
	stack_usage(&before);

	/* Three full segments (MSS 536: the SYN had no MSS option). */
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13);
	cap_n = 0;
	batches = 0;
	T_EQ_INT(tcp_write(app.pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY), ERR_OK);
	T_EQ_INT(tcp_output(app.pcb), ERR_OK);
	T_EQ_INT(cap_n, 0);
	/* Sent, and held twice: by lwIP until acknowledged, by the queue
	 * until flushed. */
	T_CHECK(app.pcb->unsent == NULL);
	T_CHECK(app.pcb->unacked != NULL && app.pcb->unacked->p->ref == 2);
	/* An RTO now would resend segments the queue still holds: lwIP
	 * declines (tcp_output_segment_busy). */
	tcp_rexmit_rto(app.pcb);
	stack_flush(s);
	T_EQ_INT(batches, 1);
	T_EQ_INT(batch_last_n, 3);
	T_EQ_INT(cap_n, 3);
	T_CHECK(app.pcb->unacked != NULL && app.pcb->unacked->p->ref == 1);
	for (int i = 0; i < 3 && i < cap_n; i++) {
		T_EQ_INT(parse(i, 1, &g), 0);
		T_EQ_INT(g.seq, sseq + (uint32_t)i * 536);
		T_EQ_INT(g.dlen, 536);
		T_EQ_MEM(g.data, data + i * 536, 536);
	}
	/* Flushed: lwIP holds the segments alone and may resend them. */
	cap_n = 0;
	tcp_rexmit_rto(app.pcb);
	stack_flush(s);
	T_CHECK(cap_n >= 1);
	T_EQ_INT(parse(0, 1, &g), 0);
	T_EQ_INT(g.seq, sseq);
	/* All acknowledged: every pbuf is back. */
	sseq += sizeof(data);
	feed(s, pkt, craft(pkt, &c, &d, cseq, sseq, F_ACK, NULL, 0));
	stack_flush(s);
	stack_usage(&after);
	T_EQ_INT(after.pbufs, before.pbufs);
	T_EQ_INT(after.heap_used, before.heap_used);
	/* Closing: the FIN goes out with the flush. */
	cap_n = 0;
	tcp_arg(app.pcb, NULL);
	tcp_recv(app.pcb, NULL);
	tcp_err(app.pcb, NULL);
	T_EQ_INT(tcp_close(app.pcb), ERR_OK);
	app.pcb = NULL;
	T_EQ_INT(cap_n, 0);
	stack_flush(s);
	T_EQ_INT(cap_n, 1);
	T_EQ_INT(parse(0, 1, &g), 0);
	T_CHECK(g.flags & F_FIN);
out:
	/* stack_destroy sends the resets and lets go of what is queued. */
	stack_destroy(s);
	stack_usage(&after);
	T_EQ_INT(after.pool_used, 0);
	T_EQ_INT(after.heap_used, 0);
}

/* stack_tcp_reset: an RST at the start of every segment sent and not
 * acknowledged, oldest first, then tcp_abort's at snd_nxt, so a client
 * that lost some of them still has one at exactly its rcv_nxt; with
 * everything acknowledged, the one RST only. Nothing leaked. */
static void test_reset_every_unacked(void)
{
	struct stack *s;
	uint8_t pkt[256], data[500]; /* under the MSS: 536 without the option */
	struct seg g;
	struct ep c = ep4("198.18.0.1", 40000), d = ep4("203.0.113.9", 80);
	struct stack_usage before, after;
	uint32_t cseq = 5000, sseq;
	int want_n;

	memset(data, 'x', sizeof(data));
	stack_usage(&before);
	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	for (int round = 0; round < 2; round++) {
		memset(&app, 0, sizeof(app));
		cap_n = 0;
		feed(s, pkt, craft(pkt, &c, &d, cseq, 0, F_SYN, NULL, 0));
		T_EQ_INT(parse(0, 0, &g), 0);
		sseq = g.seq + 1;
		cseq++;
		feed(s, pkt, craft(pkt, &c, &d, cseq, sseq, F_ACK, NULL, 0));
		T_CHECK(app.pcb != NULL);
		if (app.pcb == NULL)
			break;
		/* three segments of 500 bytes, sent at once */
		tcp_nagle_disable(app.pcb);
		for (int i = 0; i < 3; i++) {
			T_EQ_INT(tcp_write(app.pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY),
				 ERR_OK);
			T_EQ_INT(tcp_output(app.pcb), ERR_OK);
		}
		if (round == 1) /* the client acknowledged everything */
			feed(s, pkt, craft(pkt, &c, &d, cseq, sseq + 1500, F_ACK, NULL, 0));
		cap_n = 0;
		stack_tcp_reset(app.pcb);
		T_CHECK(app.err);
		want_n = round == 0 ? 4 : 1;
		T_EQ_INT(cap_n, want_n);
		for (int i = 0; i < cap_n && i < 4; i++) {
			uint32_t want = round == 0 ? sseq + 500u * (uint32_t)i : sseq + 1500;

			memset(&g, 0, sizeof(g));
			T_EQ_INT(parse(i, 0, &g), 0);
			T_EQ_INT(g.flags & (F_RST | F_ACK), F_RST | F_ACK);
			T_EQ_INT(g.seq, want);
			T_EQ_INT(g.ack, cseq);
		}
		c.port++;
	}
	stack_destroy(s);
	stack_usage(&after);
	T_EQ_INT(after.pool_used, before.pool_used);
	T_EQ_INT(after.heap_used, before.heap_used);
}

/* ---- TSO (stack_set_tso) ---------------------------------------------- */

static size_t tso_longest, tso_bytes;

static int tso_output(void *arg, struct pbuf *p)
{
	(void)arg;
	if (p->tot_len > tso_longest)
		tso_longest = p->tot_len;
	tso_bytes += p->tot_len;
	return 0;
}

static const struct stack_cbs tso_cbs = { .output = tso_output, .tcp_accept = app_accept };

/* A SYN carrying an MSS option. */
static size_t syn_with_mss(uint8_t *out, const struct ep *src, const struct ep *dst, uint32_t seq,
			   uint16_t mss)
{
	const uint8_t opt[4] = { 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss };
	size_t ih = src->v6 ? 40 : 20, len = craft(out, src, dst, seq, 0, F_SYN, opt, 4);
	uint8_t *t = out + ih;
	uint32_t acc = src->v6 ? sum16(out + 8, 32, 0) : sum16(out + 12, 8, 0);
	uint16_t c;

	/* The four bytes become the header's option: same bytes, same
	 * length, only the data offset and so the checksum change. */
	t[12] = 6 << 4;
	t[16] = t[17] = 0;
	c = fold(sum16(t, 24, acc + 6 + 24));
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	return len;
}

/* One connection whose SYN asks for mss; 60 000 bytes written at once.
 * Returns lwIP's MSS for it, the longest packet in *longest. */
static unsigned tso_round(bool tso, const struct ep *c, const struct ep *d, uint16_t mss,
			  size_t *longest)
{
	static uint8_t data[60000];
	struct stack *s;
	uint8_t pkt[256];
	unsigned got = 0;

	memset(&app, 0, sizeof(app));
	tso_longest = tso_bytes = 0;
	cap_n = 0;
	T_EQ_INT(stack_create(1500, &tso_cbs, NULL, &s), 0);
	stack_set_tso(s, tso);
	/* The SYN-ACK went to tso_output, not to the capture: lwIP's ISN
	 * comes from the SYN_RCVD pcb. */
	feed(s, pkt, syn_with_mss(pkt, c, d, 7000, mss));
	T_CHECK(tso_bytes > 0);
	{
		struct tcp_pcb *pcb;

		/* lwIP keeps the SYN_RCVD pcb on its active list */
		for (pcb = tcp_active_pcbs; pcb != NULL; pcb = pcb->next)
			if (pcb->state == SYN_RCVD)
				break;
		T_CHECK(pcb != NULL);
		if (pcb == NULL)
			goto out;
		feed(s, pkt, craft(pkt, c, d, 7001, pcb->snd_nxt, F_ACK, NULL, 0));
	}
	T_CHECK(app.pcb != NULL);
	if (app.pcb == NULL)
		goto out;
	got = app.pcb->mss;
	tso_longest = 0;
	memset(data, 'y', sizeof(data));
	tcp_nagle_disable(app.pcb);
	T_EQ_INT(tcp_write(app.pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY), ERR_OK);
	T_EQ_INT(tcp_output(app.pcb), ERR_OK);
out:
	*longest = tso_longest;
	stack_destroy(s);
	return got;
}

/* With TSO on, a client that asked for the MTU's MSS gets lwIP segments of
 * many of them (the TUN's GSO write cuts them back); one that asked for
 * less, or any client with TSO off, gets segments within its MSS. */
static void test_tso(void)
{
	struct ep c4 = ep4("198.18.0.1", 40100), d4 = ep4("203.0.113.9", 80);
	struct ep c6 = ep6("fd00::1", 40100), d6 = ep6("2001:db8::9", 80);
	struct stack_usage before, after;
	size_t longest;

	stack_usage(&before);
	T_EQ_INT(tso_round(true, &c4, &d4, 1460, &longest), 44 * 1460);
	/* the client's window (65535, unscaled) halves the segment */
	T_EQ_INT(longest, 40 + 65535 / 2);
	T_EQ_INT(tso_round(true, &c6, &d6, 1440, &longest), 45 * 1440);
	T_EQ_INT(longest, 60 + 65535 / 2);
	T_EQ_INT(tso_round(true, &c4, &d4, 1200, &longest), 1200);
	T_EQ_INT(longest, 40 + 1200);
	T_EQ_INT(tso_round(false, &c4, &d4, 1460, &longest), 1460);
	T_EQ_INT(longest, 1500);
	T_EQ_INT(tso_round(false, &c6, &d6, 1440, &longest), 1440);
	T_EQ_INT(longest, 1500);
	stack_usage(&after);
	T_EQ_INT(after.pool_used, before.pool_used);
	T_EQ_INT(after.heap_used, before.heap_used);
}

int main(void)
{
	T_RUN(test_batch_output);
	T_RUN(test_conversations_and_leaks);
	T_RUN(test_rst_and_unknown);
	T_RUN(test_malformed);
	T_RUN(test_time_wait_reuse);
	T_RUN(test_time_wait_cap);
	T_RUN(test_udp);
	T_RUN(test_half_open_cap);
	T_RUN(test_reset_every_unacked);
	T_RUN(test_tso);
	return test_summary();
}
