/* stack: lwIP as a userspace TCP/IP stack behind the TUN.
 *
 * Owns lwIP's global state (one stack per process: lwIP keeps its pcb lists
 * in globals), the single netif and the per-port listeners that let lwIP
 * terminate TCP connections to any destination address and port. Packets
 * come in with stack_input(); packets out go to cbs->output, or are queued
 * for cbs->output_batch until stack_flush(). Runs only on the
 * event-loop thread.
 */
#ifndef T2S_STACK_H
#define T2S_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "lwip/ip_addr.h"
#include "tun2socks/base/must_check.h"

struct pbuf;
struct tcp_pcb;
struct stack;

struct stack_cbs {
	/* lwIP sends one IP packet. p (maybe a chain) stays owned by lwIP:
	 * the callee copies or writes it synchronously. Returns 0 or -errno. */
	int (*output)(void *arg, struct pbuf *p);
	/* A TCP connection to any destination finished its handshake. The
	 * callee owns pcb from here on (sets tcp_arg and callbacks) and
	 * returns 0, or a negative errno to have the stack reset it. The
	 * original destination is pcb->local_ip:local_port, the client
	 * pcb->remote_ip:remote_port. */
	int (*tcp_accept)(void *arg, struct tcp_pcb *pcb);
	/* Optional. A UDP datagram from src:sport to any dst:dport. payload
	 * (the UDP payload alone, maybe a chain) passes to the callee. When
	 * NULL, UDP to foreign addresses is dropped. */
	void (*udp_input)(void *arg, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
			  uint16_t dport, struct pbuf *payload);
	/* Optional; replaces output. Packets lwIP sends are queued, held by
	 * a pbuf reference instead of copied (lwIP does not touch or resend a
	 * segment while someone else holds it: tcp_output_segment_busy), and
	 * handed over in the order sent by stack_flush(), or earlier when the
	 * queue is full: packet k is the iovcnt[k] entries of iov after those
	 * of the packets before it. The pieces are valid during the call
	 * only. docs/design.md §15. */
	void (*output_batch)(void *arg, const struct iovec *iov, const int *iovcnt, size_t n);
};

struct stack_counters {
	uint64_t packets_in;
	uint64_t packets_out;
	uint64_t dropped_malformed;   /* bad version, header or length */
	uint64_t dropped_unsupported; /* non-TCP to a foreign address, IPv6 ext/frag */
	uint64_t listeners;           /* per-port listen pcbs created */
	uint64_t half_open_dropped;   /* SYN_RCVD pcbs reset over the cap */
	uint64_t flushes;             /* output_batch calls */
	uint64_t time_wait_freed;     /* TIME_WAIT pcbs freed over the cap */
};

/* Connections in TIME_WAIT kept at most (the newest); older ones are
 * freed early, as Linux does past tcp_max_tw_buckets. lwIP looks a segment
 * up by walking its lists, and under connection churn (a server closing
 * first, thousands a second) a 2 s TIME_WAIT held thousands of pcbs that
 * every SYN walked twice: a third of the daemon's CPU. Over a TUN nothing
 * needs TIME_WAIT's protection (no old duplicates; a retransmitted FIN
 * that finds no pcb gets a reset, which ends the peer's LAST_ACK alike). */
#define STACK_TIME_WAIT_MAX 64u

/* Connections whose SYN was answered but whose handshake is not done
 * (SYN_RCVD) are capped, so that a SYN flood into the TUN holds bounded
 * memory: past the cap the oldest are reset (docs/design.md §12). */
#define STACK_HALF_OPEN_MAX 2048u
/* Young ones (no SYN-ACK retransmitted yet: a burst) are kept up to this
 * many times the cap. */
#define STACK_HALF_OPEN_HARD 4u

/* mtu: the TUN's MTU (576..65535); TCP's MSS derives from it. */
T2S_MUST_CHECK int stack_create(uint32_t mtu, const struct stack_cbs *cbs, void *arg,
				struct stack **out);
/* on: the TUN completes TCP and UDP checksums (tun_csum_offload()), so
 * lwIP leaves them out (the field stays 0) and skips summing the data it
 * copies in tcp_write; IP header, ICMP and ICMPv6 checksums are still
 * generated. Call before the first connection: segments queued while
 * generation was off carry no data checksum, and would go out with a wrong
 * one were it turned back on. */
void stack_set_csum_offload(struct stack *s, bool on);
/* on: the TUN takes GSO writes and cuts longer TCP segments into MSS-sized
 * ones (tun_gso()), so lwIP may send segments of up to STACK_TSO_MAX
 * bytes, many MSS each, as a stack does to a NIC with TSO. Applies to
 * connections accepted from then on; leave it off when the TUN cannot cut
 * (their segments would not fit the MTU). */
void stack_set_tso(struct stack *s, bool on);
#define STACK_TSO_MAX (65535u - 120u) /* an IP packet, less the longest headers */
/* The half-open cap (0: STACK_HALF_OPEN_MAX); a lower one applies at
 * once. The count is taken every max/4 new SYNs: at most max + max/4 that
 * waited an RTO are held, and STACK_HALF_OPEN_HARD * max + max/4 in all. */
void stack_set_half_open_max(struct stack *s, uint32_t max);

/* Resets an accepted connection (as tcp_abort, which it ends with) so that
 * the client takes the reset whatever it received: before tcp_abort's RST
 * at snd_nxt, one at the start of each segment sent and not acknowledged
 * (oldest first, STACK_RST_MAX in all). The caller returns ERR_ABRT from
 * a callback of pcb, as after tcp_abort. docs/design.md §12. */
void stack_tcp_reset(struct tcp_pcb *pcb);
#define STACK_RST_MAX 32u

/* Sends pcb's peer a keepalive probe: an ACK one below snd_nxt with no
 * data, which a live peer answers with an ACK and a host without the
 * socket with a RST. For the state lwIP runs no timer in, FIN_WAIT_2
 * (docs/design.md §12, "A client gone from a half-closed flow"). 0 or
 * -ENOMEM. */
int stack_tcp_probe(struct tcp_pcb *pcb);

/* Closes listeners and the netif. Flows must have closed their pcbs first;
 * pcbs still in TIME_WAIT or closing are purged. */
void stack_destroy(struct stack *s);

/* Hands what output_batch queued to it and lets go of the packets. A
 * no-op without output_batch or with nothing queued. The loop calls it once
 * per turn, before it sleeps, so what one turn sent leaves together. */
void stack_flush(struct stack *s);

/* A pbuf able to hold one packet of up to len bytes, for reading the TUN
 * straight into it (no copy). NULL when out of memory. */
struct pbuf *stack_pbuf_alloc(size_t len);
/* Feeds one IP packet (p->payload at the IP header, p->tot_len = packet
 * length). Ownership of p passes to the stack in every case. */
void stack_input(struct stack *s, struct pbuf *p);

/* Sends a UDP datagram into the TUN as coming from from:fport (any
 * address: the original destination of the client's datagram, or any
 * remote, for full-cone replies) to to:tport. Copies data. Returns 0,
 * -EMSGSIZE when it would not fit the MTU, -ENOMEM, or -EIO. */
int stack_udp_send(struct stack *s, const ip_addr_t *from, uint16_t fport, const ip_addr_t *to,
		   uint16_t tport, const void *data, size_t len);

/* REJECT for UDP: an ICMP (ICMPv6) port unreachable to client:cport, as
 * sent by remote for the datagram client:cport -> remote:rport whose UDP
 * payload is payload (left to the caller). 0, -ENOMEM, -EIO. */
int stack_udp_unreachable(struct stack *s, const ip_addr_t *client, uint16_t cport,
			  const ip_addr_t *remote, uint16_t rport, const struct pbuf *payload);

/* Milliseconds until lwIP's next timer is due (capped at 1000). */
uint32_t stack_timeout_ms(struct stack *s);
/* Runs the lwIP timers that are due. */
void stack_check_timeouts(struct stack *s);

const struct stack_counters *stack_counters(const struct stack *s);

/* Sum of lwIP pool elements and heap bytes in use: a test's leak check
 * compares it before and after a scenario. */
struct stack_usage {
	unsigned pool_used; /* all memp pools */
	unsigned pbufs;     /* PBUF_POOL + PBUF_REF/ROM elements */
	size_t heap_used;   /* mem_malloc bytes outside pools (PBUF_RAM) */
};
void stack_usage(struct stack_usage *out);

#endif
