/* stack: lwIP behind the TUN, terminating TCP for any destination.
 *
 * lwIP only accepts packets addressed to its netif. The input hooks
 * (LWIP_HOOK_IP4/6_INPUT, lwipopts.h) run before that test: for TCP they
 * make sure a listener exists on the destination port, set up lwIP's
 * "current packet" globals the way ip4_input/ip6_input would, and call
 * tcp_input() directly. lwIP then
 * accepts the connection with local_ip = the original destination, so every
 * segment it sends back carries the right source (docs/design.md §3).
 * Unmodified lwIP 2.2.1; the use of tcp_input() and ip_data is why the
 * version is pinned.
 */
#include "lwip-port/stack.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4_frag.h"
#include "lwip/memp.h"
#include "lwip/priv/memp_priv.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/icmp6.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/tcp.h"
#include "lwip/prot/udp.h"
#include "lwip/inet_chksum.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

/* The output queue of stack_cbs.output_batch: packets, and pieces of
 * their pbuf chains, per batch. A batch is handed over early when full. */
#define OUTQ_PKTS 256
#define OUTQ_IOV 512
/* Pieces per packet at most; lwIP's are one or two (header and data). */
#define OUTQ_PKT_IOV 64

struct stack {
	struct netif netif;
	struct stack_cbs cbs;
	void *arg;
	struct stack_counters counters;
	/* One bit per TCP port that has a listen pcb. Listeners live until
	 * stack_destroy(): closing one while accepted pcbs use its port
	 * would buy nothing (a listen pcb is ~40 bytes). */
	uint8_t listening[65536 / 8];
	bool tso;                 /* segments of many MSS (stack_set_tso) */
	uint32_t half_open_max;   /* SYN_RCVD pcbs kept */
	uint32_t syns_since_trim; /* new SYNs since the last count */
	/* Referenced until stack_flush() handed them over. */
	struct pbuf *outq[OUTQ_PKTS];
	int outq_cnt[OUTQ_PKTS];
	struct iovec outq_iov[OUTQ_IOV];
	size_t outq_n, outq_niov;
};

/* lwIP's state is process-global, so is whether it was initialised. */
static bool lwip_ready;

/* With TSO, a connection whose MSS is all the MTU allows gets segments of
 * as many MSS as fit STACK_TSO_MAX bytes: the TUN's GSO write cuts them
 * back to that MSS (tun_gso.h), so the client sees what it asked for,
 * while lwIP keeps, walks and frees 44 times fewer segments at MTU 1500
 * (tcp_output walks the whole unacked list on every ACK). A client that
 * asked for less keeps its MSS. lwIP sets the initial cwnd from the MSS
 * right after the accept callback (two of these segments). */
static void stack_tso_mss(const struct stack *s, struct tcp_pcb *pcb)
{
	uint32_t wire = s->netif.mtu - (IP_IS_V6(&pcb->local_ip) ? 60u : 40u), k;

	if (!s->tso || pcb->mss != wire)
		return;
	k = STACK_TSO_MAX / wire;
	if (k >= 2)
		pcb->mss = (u16_t)(k * wire);
}

static err_t stack_on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct stack *s = arg;
	int r;

	if (err != ERR_OK || pcb == NULL)
		return ERR_VAL;
	stack_tso_mss(s, pcb);
	r = s->cbs.tcp_accept(s->arg, pcb);
	if (r < 0) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	return ERR_OK;
}

static int stack_listen_port(struct stack *s, u16_t port)
{
	struct tcp_pcb *pcb, *lpcb;
	err_t err;

	if (s->listening[port / 8] & (1u << (port % 8)))
		return 0;
	pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
	if (pcb == NULL)
		return -ENOMEM;
	ip_set_option(pcb, SOF_REUSEADDR);
	err = tcp_bind(pcb, IP_ANY_TYPE, port);
	if (err != ERR_OK) {
		tcp_abort(pcb);
		return -EADDRINUSE;
	}
	/* On success tcp_listen frees pcb and returns a smaller listen pcb. */
	lpcb = tcp_listen_with_backlog_and_err(pcb, TCP_DEFAULT_LISTEN_BACKLOG, &err);
	if (lpcb == NULL) {
		tcp_abort(pcb);
		return -ENOMEM;
	}
	tcp_arg(lpcb, s);
	tcp_accept(lpcb, stack_on_accept);
	s->listening[port / 8] |= (u8_t)(1u << (port % 8));
	s->counters.listeners++;
	return 0;
}

/* RFC 1122 4.2.2.13: a new SYN may reopen a connection in TIME_WAIT.
 * lwIP answers it with the old connection's ACK instead, so a client that
 * reuses its port right after the server closed first (the kernel, as
 * passive closer, is free to) would hang until TIME_WAIT expires. Drop the
 * TIME_WAIT pcb so the SYN reaches the listener. The same walk frees the
 * pcbs past STACK_TIME_WAIT_MAX: lwIP adds them at the head, so those are
 * the oldest, and the list stays that short for every later walk (lwIP's
 * own in tcp_input included). tcp_abort() frees a TIME_WAIT pcb without
 * sending anything. */
static void stack_syn_time_wait(struct stack *s, const struct tcp_hdr *th)
{
	u16_t sport = lwip_ntohs(th->src), dport = lwip_ntohs(th->dest);
	struct tcp_pcb *pcb, *next;
	unsigned kept = 0;

	for (pcb = tcp_tw_pcbs; pcb != NULL; pcb = next) {
		next = pcb->next;
		if (pcb->remote_port == sport && pcb->local_port == dport &&
		    ip_addr_eq(&pcb->remote_ip, ip_current_src_addr()) &&
		    ip_addr_eq(&pcb->local_ip, ip_current_dest_addr())) {
			tcp_abort(pcb);
		} else if (++kept > STACK_TIME_WAIT_MAX) {
			tcp_abort(pcb);
			s->counters.time_wait_freed++;
		}
	}
}

/* Counts the SYN_RCVD pcbs and resets the oldest beyond the cap. New pcbs
 * are registered at the head of tcp_active_pcbs and keep their place, so
 * walking from the head meets the youngest first. Beyond the cap, a pcb
 * whose SYN-ACK was never retransmitted (nrtx 0: younger than one RTO)
 * is a burst of real clients whose ACKs wait in the TUN queue, not a
 * flood: it is spared up to STACK_HALF_OPEN_HARD times the cap. Aborting
 * a SYN_RCVD pcb calls nothing of ours: its error callback is unset until
 * it is accepted. */
static void stack_trim_half_open(struct stack *s)
{
	uint32_t seen = 0, hard = s->half_open_max * STACK_HALF_OPEN_HARD;
	struct tcp_pcb *pcb = tcp_active_pcbs, *next;

	s->syns_since_trim = 0;
	for (; pcb != NULL; pcb = next) {
		next = pcb->next;
		if (pcb->state != SYN_RCVD || ++seen <= s->half_open_max)
			continue;
		if (seen <= hard && pcb->nrtx == 0)
			continue;
		s->counters.half_open_dropped++;
		tcp_abort(pcb); /* RST to the client; unlinks and frees pcb */
	}
}

/* A receiver following RFC 5961 (Linux does) takes an RST only at exactly
 * its rcv_nxt, and answers one elsewhere in its window with a challenge
 * ACK. tcp_abort's RST is at snd_nxt, which is the client's rcv_nxt only
 * if it got every segment sent: under load a client's kernel drops some
 * (socket backlog full), and lwIP retransmits them later. While the daemon
 * runs, the challenge ACK finds no pcb and lwIP answers it with an RST at
 * the ACK's number, which is taken; at shutdown nobody answers, and the
 * client hung. Its rcv_nxt is the start of one of the segments sent and
 * not acknowledged, or snd_nxt (segments are dropped whole: the GSO
 * writes are cut at lwIP's segment boundaries, docs/design.md §15). Sent
 * in ascending order: those below its rcv_nxt are out of its window
 * (dropped, or a rate-limited challenge ACK), the one at it is taken,
 * the later ones meet a closed socket. (After a retransmission timeout
 * lwIP moves the unacknowledged segments back to unsent and snd_nxt to
 * the first: a client that got them but whose ACK was lost is missed.) */
int stack_tcp_probe(struct tcp_pcb *pcb)
{
	return tcp_keepalive(pcb) == ERR_OK ? 0 : -ENOMEM;
}

void stack_tcp_reset(struct tcp_pcb *pcb)
{
	unsigned sent = 1; /* tcp_abort's */

	if (pcb->state != SYN_RCVD && pcb->state != CLOSED && pcb->state != LISTEN &&
	    pcb->state != TIME_WAIT) {
		for (struct tcp_seg *seg = pcb->unacked; seg != NULL && sent < STACK_RST_MAX;
		     seg = seg->next) {
			u32_t seq = lwip_ntohl(seg->tcphdr->seqno);

			if (seq == pcb->snd_nxt)
				break; /* tcp_abort's own */
			tcp_rst(pcb, seq, pcb->rcv_nxt, &pcb->local_ip, &pcb->remote_ip,
				pcb->local_port, pcb->remote_port);
			sent++;
		}
	}
	tcp_abort(pcb);
}

void stack_set_tso(struct stack *s, bool on)
{
	s->tso = on;
}

void stack_set_half_open_max(struct stack *s, uint32_t max)
{
	uint32_t before = s->half_open_max;

	s->half_open_max = max ? max : STACK_HALF_OPEN_MAX;
	if (s->half_open_max < before)
		stack_trim_half_open(s);
}

/* p->payload is at the TCP header; hlen bytes of IP header precede it in
 * the first pbuf. Hands p to tcp_input (which takes ownership) with lwIP's
 * current-packet globals describing it, exactly as ip4/6_input would. */
static void stack_tcp_deliver(struct stack *s, struct pbuf *p, u16_t hlen)
{
	const struct tcp_hdr *th = (const struct tcp_hdr *)((u8_t *)p->payload + hlen);
	u8_t flags = TCPH_FLAGS(th);

	/* Only a SYN can start a connection: create its port's listener
	 * then. Other segments for unknown connections get lwIP's RST. */
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		if (stack_listen_port(s, lwip_ntohs(th->dest)) < 0) {
			pbuf_free(p);
			return;
		}
		if (tcp_tw_pcbs != NULL)
			stack_syn_time_wait(s, th);
	}
	ip_data.current_netif = &s->netif;
	ip_data.current_input_netif = &s->netif;
	ip_data.current_ip_header_tot_len = hlen;
	pbuf_remove_header(p, hlen);
	tcp_input(p, &s->netif);
	ip_data.current_netif = NULL;
	ip_data.current_input_netif = NULL;
	ip_data.current_ip4_header = NULL;
	ip_data.current_ip6_header = NULL;
	ip_data.current_ip_header_tot_len = 0;
	ip_addr_set_zero(&ip_data.current_iphdr_src);
	ip_addr_set_zero(&ip_data.current_iphdr_dest);
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN &&
	    ++s->syns_since_trim >= s->half_open_max / 4 + 1)
		stack_trim_half_open(s);
}

static void stack_drop(struct pbuf *p, uint64_t *counter)
{
	(*counter)++;
	pbuf_free(p);
}

/* p->payload at the IP header, hlen bytes long, src/dst in ip_data: hands
 * the UDP payload to cbs->udp_input. Consumes p. */
static void stack_udp_deliver(struct stack *s, struct pbuf *p, u16_t hlen)
{
	const struct udp_hdr *uh;
	u16_t ulen;

	if (p->len < hlen + UDP_HLEN) {
		stack_drop(p, &s->counters.dropped_malformed);
		return;
	}
	uh = (const struct udp_hdr *)((const u8_t *)p->payload + hlen);
	ulen = lwip_ntohs(uh->len);
	if (ulen < UDP_HLEN || ulen > p->tot_len - hlen) {
		stack_drop(p, &s->counters.dropped_malformed);
		return;
	}
	u16_t sport = lwip_ntohs(uh->src), dport = lwip_ntohs(uh->dest);
	ip_addr_t src, dst;

	ip_addr_copy(src, ip_data.current_iphdr_src);
	ip_addr_copy(dst, ip_data.current_iphdr_dest);
	ip_addr_set_zero(&ip_data.current_iphdr_src);
	ip_addr_set_zero(&ip_data.current_iphdr_dest);
	pbuf_remove_header(p, (size_t)hlen + UDP_HLEN);
	pbuf_realloc(p, (u16_t)(ulen - UDP_HLEN));
	/* p passes to the callee. */
	s->cbs.udp_input(s->arg, &src, sport, &dst, dport, p);
}

int stack_udp_send(struct stack *s, const ip_addr_t *from, uint16_t fport, const ip_addr_t *to,
		   uint16_t tport, const void *data, size_t len)
{
	size_t iph = IP_IS_V6(to) ? IP6_HLEN : IP_HLEN;
	struct udp_hdr *uh;
	struct pbuf *p;
	err_t e;

	if (IP_IS_V6(from) != IP_IS_V6(to))
		return -EAFNOSUPPORT;
	/* lwIP does not fragment (IP_FRAG 0): larger replies are dropped,
	 * as a router with this MTU and DF would. */
	if (iph + UDP_HLEN + len > s->netif.mtu)
		return -EMSGSIZE;
	p = pbuf_alloc(PBUF_IP, (u16_t)(UDP_HLEN + len), PBUF_RAM);
	if (p == NULL)
		return -ENOMEM;
	uh = p->payload;
	uh->src = lwip_htons(fport);
	uh->dest = lwip_htons(tport);
	uh->len = lwip_htons((u16_t)(UDP_HLEN + len));
	uh->chksum = 0;
	memcpy((u8_t *)p->payload + UDP_HLEN, data, len);
	/* With checksum offload the TUN completes it (NEEDS_CSUM); else a
	 * full checksum, where 0 is sent as 0xffff (0 means "none"). */
	IF__NETIF_CHECKSUM_ENABLED(&s->netif, NETIF_CHECKSUM_GEN_UDP)
	{
		u16_t c = ip_chksum_pseudo(p, IP_PROTO_UDP, p->tot_len, from, to);

		uh->chksum = c == 0 ? 0xffff : c;
	}
	e = ip_output_if_src(p, from, to, IP_DEFAULT_TTL, 0, IP_PROTO_UDP, &s->netif);
	pbuf_free(p);
	return e == ERR_OK ? 0 : -EIO;
}

/* ICMP(v6) "port unreachable" for a UDP datagram client:cport ->
 * remote:rport, sent from remote, quoting a rebuilt copy of the datagram's
 * headers and its first bytes (what RFC 792 / RFC 4443 ask for: the
 * client matches on the quoted addresses and ports). */
int stack_udp_unreachable(struct stack *s, const ip_addr_t *client, uint16_t cport,
			  const ip_addr_t *remote, uint16_t rport, const struct pbuf *payload)
{
	bool v6 = IP_IS_V6(client);
	size_t iph = v6 ? IP6_HLEN : IP_HLEN;
	/* ICMPv4 quotes 8 bytes of data; ICMPv6 as much as fits 1280. */
	size_t data = payload->tot_len, quote_max = v6 ? 1280 - IP6_HLEN - 8 - iph - UDP_HLEN : 8;
	size_t q, len;
	struct pbuf *p;
	u8_t *b;
	err_t e;

	if (IP_IS_V6(remote) != v6)
		return -EAFNOSUPPORT;
	q = data < quote_max ? data : quote_max;
	len = 8 + iph + UDP_HLEN + q;
	p = pbuf_alloc(PBUF_IP, (u16_t)len, PBUF_RAM);
	if (p == NULL)
		return -ENOMEM;
	b = p->payload;
	memset(b, 0, 8 + iph + UDP_HLEN);
	if (v6) {
		struct ip6_hdr *h = (struct ip6_hdr *)(b + 8);

		b[0] = ICMP6_TYPE_DUR;
		b[1] = ICMP6_DUR_PORT;
		IP6H_VTCFL_SET(h, 6, 0, 0);
		IP6H_PLEN_SET(h, (u16_t)(UDP_HLEN + data));
		IP6H_NEXTH_SET(h, IP6_NEXTH_UDP);
		IP6H_HOPLIM_SET(h, 64);
		ip6_addr_copy_to_packed(h->src, *ip_2_ip6(client));
		ip6_addr_copy_to_packed(h->dest, *ip_2_ip6(remote));
	} else {
		struct ip_hdr *h = (struct ip_hdr *)(b + 8);

		b[0] = ICMP_DUR;
		b[1] = ICMP_DUR_PORT;
		IPH_VHL_SET(h, 4, IP_HLEN / 4);
		IPH_LEN_SET(h, lwip_htons((u16_t)(IP_HLEN + UDP_HLEN + data)));
		IPH_TTL_SET(h, 64);
		IPH_PROTO_SET(h, IP_PROTO_UDP);
		ip4_addr_copy(h->src, *ip_2_ip4(client));
		ip4_addr_copy(h->dest, *ip_2_ip4(remote));
		IPH_CHKSUM_SET(h, inet_chksum(h, IP_HLEN));
	}
	{
		struct udp_hdr *uh = (struct udp_hdr *)(b + 8 + iph);

		uh->src = lwip_htons(cport);
		uh->dest = lwip_htons(rport);
		uh->len = lwip_htons((u16_t)(UDP_HLEN + data));
	}
	pbuf_copy_partial(payload, b + 8 + iph + UDP_HLEN, (u16_t)q, 0);
	if (v6) {
		u16_t c = ip6_chksum_pseudo(p, IP6_NEXTH_ICMP6, p->tot_len, ip_2_ip6(remote),
					    ip_2_ip6(client));

		memcpy(b + 2, &c, 2);
		e = ip_output_if_src(p, remote, client, 64, 0, IP6_NEXTH_ICMP6, &s->netif);
	} else {
		u16_t c = inet_chksum(b, (u16_t)len);

		memcpy(b + 2, &c, 2);
		e = ip_output_if_src(p, remote, client, 64, 0, IP_PROTO_ICMP, &s->netif);
	}
	pbuf_free(p);
	return e == ERR_OK ? 0 : -EIO;
}

/* With TUN segmentation offload a TCP packet can be one 64 KiB
 * super-segment, far above the MSS: the 16-bit lengths here and in pbufs
 * hold it, and tcp_input bounds segments by the window, never the MSS. */
int stack_hook_ip4_input(struct pbuf *p, struct netif *inp)
{
	struct stack *s = inp->state;
	const struct ip_hdr *iph = p->payload;
	u16_t hlen, tot;

	/* stack_input guaranteed p->len >= IP_HLEN. */
	hlen = IPH_HL_BYTES(iph);
	tot = lwip_ntohs(IPH_LEN(iph));
	if (hlen < IP_HLEN || hlen > p->len || tot < hlen || tot > p->tot_len) {
		stack_drop(p, &s->counters.dropped_malformed);
		return 1;
	}
	if (IPH_PROTO(iph) != IP_PROTO_TCP &&
	    (IPH_PROTO(iph) != IP_PROTO_UDP || s->cbs.udp_input == NULL))
		return 0; /* lwIP's own path: for us or dropped */
	if (tot < p->tot_len)
		pbuf_realloc(p, tot);
	if ((IPH_OFFSET(iph) & PP_HTONS(IP_OFFMASK | IP_MF)) != 0) {
		/* ip4_reass takes p; returns the whole datagram once complete. */
		p = ip4_reass(p);
		if (p == NULL)
			return 1;
		if (p->len < IP_HLEN) {
			stack_drop(p, &s->counters.dropped_malformed);
			return 1;
		}
		iph = p->payload;
		hlen = IPH_HL_BYTES(iph);
	}
	if (p->len < hlen + (IPH_PROTO(iph) == IP_PROTO_TCP ? TCP_HLEN : UDP_HLEN)) {
		stack_drop(p, &s->counters.dropped_malformed);
		return 1;
	}
	/* No connection can exist to or from an unspecified, broadcast or
	 * multicast address; lwIP's reply path assumes it cannot. */
	if (ip4_addr_isany_val(iph->dest) || ip4_addr_isany_val(iph->src) ||
	    ip4_addr_ismulticast(&iph->dest) || ip4_addr_ismulticast(&iph->src) ||
	    ip4_addr_isbroadcast_u32(iph->dest.addr, inp) || iph->dest.addr == IPADDR_BROADCAST ||
	    iph->src.addr == IPADDR_BROADCAST) {
		stack_drop(p, &s->counters.dropped_malformed);
		return 1;
	}
	ip_data.current_ip4_header = iph;
	ip_data.current_ip6_header = NULL;
	ip_addr_copy_from_ip4(ip_data.current_iphdr_dest, iph->dest);
	ip_addr_copy_from_ip4(ip_data.current_iphdr_src, iph->src);
	if (IPH_PROTO(iph) == IP_PROTO_UDP) {
		ip_data.current_ip4_header = NULL;
		stack_udp_deliver(s, p, hlen);
		return 1;
	}
	stack_tcp_deliver(s, p, hlen);
	return 1;
}

int stack_hook_ip6_input(struct pbuf *p, struct netif *inp)
{
	struct stack *s = inp->state;
	struct ip6_hdr *ip6h = p->payload;
	u16_t off = IP6_HLEN;
	u8_t nexth;
	u32_t tot;

	tot = (u32_t)IP6_HLEN + IP6H_PLEN(ip6h);
	if (tot > p->tot_len) {
		stack_drop(p, &s->counters.dropped_malformed);
		return 1;
	}
	/* Skip the extension headers a TCP segment may carry; a fragment
	 * header is not reassembled (lwIP's TCP MSS never needs it, and
	 * clients don't fragment TCP), it is dropped and counted. */
	nexth = IP6H_NEXTH(ip6h);
	while (nexth == IP6_NEXTH_HOPBYHOP || nexth == IP6_NEXTH_ROUTING ||
	       nexth == IP6_NEXTH_DESTOPTS) {
		const u8_t *ext = (const u8_t *)p->payload + off;

		if ((u32_t)off + 2 > p->len) {
			stack_drop(p, &s->counters.dropped_malformed);
			return 1;
		}
		nexth = ext[0];
		off = (u16_t)(off + (ext[1] + 1u) * 8u);
		if (off > p->len) {
			stack_drop(p, &s->counters.dropped_malformed);
			return 1;
		}
	}
	if (nexth == IP6_NEXTH_FRAGMENT) {
		stack_drop(p, &s->counters.dropped_unsupported);
		return 1;
	}
	if (nexth != IP6_NEXTH_TCP && (nexth != IP6_NEXTH_UDP || s->cbs.udp_input == NULL)) {
		if (off == IP6_HLEN)
			return 0; /* lwIP's own path: ICMPv6 for us or dropped */
		stack_drop(p, &s->counters.dropped_unsupported);
		return 1;
	}
	if (tot < p->tot_len)
		pbuf_realloc(p, (u16_t)tot);
	if ((u32_t)off + (nexth == IP6_NEXTH_TCP ? TCP_HLEN : UDP_HLEN) > p->len) {
		stack_drop(p, &s->counters.dropped_malformed);
		return 1;
	}
	/* As for IPv4: lwIP would pick a source address for a reply to or
	 * from :: and find none (a NULL dereference in ip6_output_if). */
	{
		ip6_addr_t d, sa;

		ip6_addr_copy_from_packed(d, ip6h->dest);
		ip6_addr_copy_from_packed(sa, ip6h->src);
		if (ip6_addr_isany(&d) || ip6_addr_isany(&sa) || ip6_addr_ismulticast(&d) ||
		    ip6_addr_ismulticast(&sa)) {
			stack_drop(p, &s->counters.dropped_malformed);
			return 1;
		}
	}
	ip_data.current_ip4_header = NULL;
	ip_data.current_ip6_header = ip6h;
	ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_dest, ip6h->dest);
	ip_addr_copy_from_ip6_packed(ip_data.current_iphdr_src, ip6h->src);
	if (nexth == IP6_NEXTH_UDP) {
		ip_data.current_ip6_header = NULL;
		stack_udp_deliver(s, p, off);
		return 1;
	}
	stack_tcp_deliver(s, p, off);
	return 1;
}

/* Our only netif is the TUN: everything leaves through it. lwIP's netif
 * list is its own global; this is read-only use of it. */
struct netif *stack_hook_route(void)
{
	return netif_list;
}

void stack_flush(struct stack *s)
{
	size_t i, n = s->outq_n;

	if (n == 0)
		return;
	s->counters.flushes++;
	s->cbs.output_batch(s->arg, s->outq_iov, s->outq_cnt, n);
	s->outq_n = s->outq_niov = 0;
	/* Our references: each chain goes now unless lwIP still holds it
	 * (an unacknowledged segment). */
	for (i = 0; i < n; i++)
		pbuf_free(s->outq[i]);
}

/* Queues p for stack_flush() with a reference of its own, noting its
 * pieces as they are now: while referenced, lwIP leaves the pbuf alone. */
static err_t stack_enqueue(struct stack *s, struct pbuf *p)
{
	int cnt = 0;

	for (struct pbuf *q = p; q != NULL; q = q->next)
		cnt++;
	if (cnt > OUTQ_PKT_IOV)
		return ERR_IF; /* never from lwIP's TCP (one or two pieces) */
	if (s->outq_n == OUTQ_PKTS || s->outq_niov + (size_t)cnt > OUTQ_IOV)
		stack_flush(s);
	for (struct pbuf *q = p; q != NULL; q = q->next) {
		s->outq_iov[s->outq_niov].iov_base = q->payload;
		s->outq_iov[s->outq_niov++].iov_len = q->len;
	}
	pbuf_ref(p);
	s->outq[s->outq_n] = p;
	s->outq_cnt[s->outq_n++] = cnt;
	return ERR_OK;
}

static err_t stack_output(struct stack *s, struct pbuf *p)
{
	s->counters.packets_out++;
	if (s->cbs.output_batch != NULL)
		return stack_enqueue(s, p);
	/* p stays lwIP's: output writes it to the TUN before returning. */
	return s->cbs.output(s->arg, p) == 0 ? ERR_OK : ERR_IF;
}

static err_t stack_output4(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)dst;
	return stack_output(netif->state, p);
}

static err_t stack_output6(struct netif *netif, struct pbuf *p, const ip6_addr_t *dst)
{
	(void)dst;
	return stack_output(netif->state, p);
}

static err_t stack_netif_init(struct netif *netif)
{
	netif->name[0] = 't';
	netif->name[1] = 'u';
	netif->output = stack_output4;
	netif->output_ip6 = stack_output6;
	return ERR_OK;
}

/* Sound because every TCP/UDP packet lwIP sends is one the TUN can
 * complete: lwIP neither fragments (IP_FRAG 0) nor adds IPv6 extension
 * headers to them, the two cases tun_writev() passes on untouched. */
void stack_set_csum_offload(struct stack *s, bool on)
{
	NETIF_SET_CHECKSUM_CTRL(&s->netif,
				on ? NETIF_CHECKSUM_ENABLE_ALL &
						~(NETIF_CHECKSUM_GEN_TCP | NETIF_CHECKSUM_GEN_UDP)
				   : NETIF_CHECKSUM_ENABLE_ALL);
}

/* LWIP_CHKSUM_COPY: tcp_write(COPY) sums the data as it copies it, for
 * tcp_output_segment to add to the header's sum later; which it does not
 * when the netif leaves TCP checksums to the TUN, so neither is the data
 * summed then. tcp_write does not know the netif; the one netif there is
 * (lwIP's own list) decides. Splitting a queued segment that outgrew the
 * peer's window (tcp_split_unsent_seg, rare) still sums the two halves
 * with inet_chksum, which serves IP headers too and so cannot skip. */
unsigned short stack_hook_chksum_copy(void *dst, const void *src, unsigned short len)
{
	if (netif_list != NULL && !NETIF_CHECKSUM_ENABLED(netif_list, NETIF_CHECKSUM_GEN_TCP)) {
		memcpy(dst, src, len);
		return 0;
	}
	return lwip_port_chksum_copy(dst, src, len);
}

int stack_create(uint32_t mtu, const struct stack_cbs *cbs, void *arg, struct stack **out)
{
	struct stack *s;

	*out = NULL;
	if (mtu < 576 || mtu > 65535 || cbs == NULL ||
	    (cbs->output == NULL && cbs->output_batch == NULL) || cbs->tcp_accept == NULL)
		return -EINVAL;
	if (netif_list != NULL)
		return -EBUSY; /* one stack per process: lwIP state is global */
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->cbs = *cbs;
	s->arg = arg;
	s->half_open_max = STACK_HALF_OPEN_MAX;
	if (!lwip_ready) {
		lwip_init();
		lwip_ready = true;
	}
	/* No IPv4/IPv6 address: the hooks accept any destination and route
	 * everything back out of this netif. */
	if (netif_add(&s->netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, s, stack_netif_init,
		      ip_input) == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->netif.mtu = (u16_t)mtu;
	netif_set_default(&s->netif);
	netif_set_up(&s->netif);
	netif_set_link_up(&s->netif);
	*out = s;
	return 0;
}

void stack_destroy(struct stack *s)
{
	if (s == NULL)
		return;
	while (tcp_listen_pcbs.listen_pcbs != NULL)
		tcp_close(tcp_listen_pcbs.pcbs);
	/* Whatever is left has no callbacks (flows detach before closing):
	 * pcbs still sending their FIN or waiting out TIME_WAIT. Reset them;
	 * the process is going away. */
	while (tcp_active_pcbs != NULL) {
		tcp_arg(tcp_active_pcbs, NULL);
		tcp_err(tcp_active_pcbs, NULL);
		tcp_abort(tcp_active_pcbs);
	}
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
	/* The resets just sent, and whatever the last turn left. */
	stack_flush(s);
	netif_set_down(&s->netif);
	netif_remove(&s->netif);
	free(s);
}

struct pbuf *stack_pbuf_alloc(size_t len)
{
	if (len == 0 || len > 65535)
		return NULL;
	return pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
}

void stack_input(struct stack *s, struct pbuf *p)
{
	u8_t v;

	s->counters.packets_in++;
	/* lwIP reads the version nibble and, for IPv6, the whole fixed
	 * header before any length check: guarantee they are there. The
	 * first pbuf holds the packet start (TUN reads are contiguous). */
	if (p->len < 1) {
		stack_drop(p, &s->counters.dropped_malformed);
		return;
	}
	v = (u8_t)(((const u8_t *)p->payload)[0] >> 4);
	if ((v == 4 && p->len < IP_HLEN) || (v == 6 && p->len < IP6_HLEN) || (v != 4 && v != 6)) {
		stack_drop(p, &s->counters.dropped_malformed);
		return;
	}
	/* ip_input always consumes p. */
	ip_input(p, &s->netif);
}

uint32_t stack_timeout_ms(struct stack *s)
{
	u32_t ms = sys_timeouts_sleeptime();

	(void)s;
	return ms > 1000 ? 1000 : ms;
}

void stack_check_timeouts(struct stack *s)
{
	(void)s;
	sys_check_timeouts();
}

const struct stack_counters *stack_counters(const struct stack *s)
{
	return &s->counters;
}

void stack_usage(struct stack_usage *out)
{
	size_t pool_bytes = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < MEMP_MAX; i++) {
		const struct stats_mem *st = lwip_stats.memp[i];

		if (st == NULL)
			continue;
		/* With MEMP_MEM_MALLOC each pool element is one mem_malloc of
		 * this size, so it shows in the heap statistics too. */
		pool_bytes += (size_t)st->used * (MEMP_SIZE + MEMP_ALIGN_SIZE(memp_pools[i]->size));
		/* lwIP's own timers (one per running cyclic/TCP timer) come
		 * and go with lwIP's schedule, not with flows. */
		if (i == MEMP_SYS_TIMEOUT)
			continue;
		out->pool_used += st->used;
		if (i == MEMP_PBUF || i == MEMP_PBUF_POOL)
			out->pbufs += st->used;
	}
	out->heap_used = lwip_stats.mem.used - pool_bytes;
}
