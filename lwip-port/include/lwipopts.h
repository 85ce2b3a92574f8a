/* lwIP compile-time options for tun2socks.
 *
 * lwIP runs in NO_SYS mode on the daemon's single event-loop thread: no
 * threads, no locks, no netconn/socket API, only the raw callback API. Every
 * option below that deviates from lwIP's defaults says why. The numbers were
 * chosen for a TUN whose MTU is between 1280 and 65535 and measured with
 * bench/bench.sh (see README).
 */
#ifndef T2S_LWIPOPTS_H
#define T2S_LWIPOPTS_H

/* ---- system ---------------------------------------------------------- */
#define NO_SYS 1
#define LWIP_TIMERS 1          /* the loop calls sys_check_timeouts() */
#define SYS_LIGHTWEIGHT_PROT 0 /* single thread: nothing to protect */
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_NETIF_API 0

/* ---- memory ------------------------------------------------------------
 * Heap and pools are malloc-backed: the number of flows is not known at
 * compile time and a fixed pool would either waste RSS while idle or cap
 * concurrency. Pool statistics stay on so tests can detect leaks per pool.
 */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
/* With MEM_LIBC_MALLOC, MEM_SIZE only picks mem_size_t: above 64000 it is
 * 32-bit, which a 64 KiB packet (MTU 65535) needs. */
#define MEM_SIZE (1024 * 1024)
#define MEMP_NUM_SYS_TIMEOUT 16
/* Bounded anyway by TCP_SND_QUEUELEN per pcb; these only size pools that
 * MEMP_MEM_MALLOC no longer preallocates. */
#define MEMP_NUM_TCP_PCB 64
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_TCP_SEG 512
#define MEMP_NUM_PBUF 64
#define PBUF_POOL_SIZE 64
#define PBUF_POOL_BUFSIZE 1600
#define LWIP_STATS 1
#define MEM_STATS 1
#define MEMP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define TCP_STATS 1
#define IP_STATS 0
#define IP6_STATS 0
#define ICMP_STATS 0
#define ICMP6_STATS 0
#define UDP_STATS 0
#define LINK_STATS 0
#define ND6_STATS 0
#define MLD6_STATS 0
#define IPFRAG_STATS 0
#define IP6_FRAG_STATS 0
#define SYS_STATS 0

/* The C library's htons & co. are used; lwIP must not redefine them. */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1

/* ---- link and IP ------------------------------------------------------ */
#define LWIP_ARP 0 /* TUN: L3 only, no link layer */
#define LWIP_ETHERNET 0
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_RAW 0
#define LWIP_ICMP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0 /* DNS is the resolver module's job (c-ares) */
#define LWIP_SINGLE_NETIF 0
/* The input hooks (stack.c) hand IPv4 fragments to ip4_reass before the
 * any-destination TCP path; lwIP never fragments what it sends because its
 * TCP segments are sized from the MTU. */
#define IP_REASSEMBLY 1
#define IP_FRAG 0
#define IP_REASS_MAX_PBUFS 64
#define IP_DEFAULT_TTL 64
#define LWIP_IPV6_FRAG 0
#define LWIP_IPV6_REASS 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_ADDRESS_LIFETIMES 0
#define LWIP_ND6_QUEUEING 0
#define LWIP_ND6_ALLOW_RA_UPDATES 0
#define LWIP_IPV6_NUM_ADDRESSES 3
/* No link-local zones on a point-to-point TUN. */
#define LWIP_IPV6_SCOPES 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0

/* ---- checksums ---------------------------------------------------------
 * Packets read from the TUN were produced by the local kernel (or a host
 * app's stack) with complete checksums, or with none at all when the TUN
 * offloads them (tun.h); re-verifying would cost one more pass over every
 * byte for no protection. Checksums of what we send are generated, except
 * TCP and UDP ones on a netif whose TUN lets the kernel complete them
 * (stack_set_csum_offload(), hence the per-netif control). CHECKSUM_ON_COPY
 * folds the TCP checksum into the copy tcp_write(COPY) already makes; the
 * copy goes through stack.c, which skips the sum when the netif does not
 * generate TCP checksums.
 */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define CHECKSUM_CHECK_IP 0
#define CHECKSUM_CHECK_TCP 0
#define CHECKSUM_CHECK_UDP 0
#define CHECKSUM_CHECK_ICMP 0
#define CHECKSUM_CHECK_ICMP6 0
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1
/* A 64-bit-wide checksum (chksum.c) instead of lwIP's 16-bit loop. */
unsigned short lwip_port_chksum(const void *data, int len);
unsigned short lwip_port_chksum_copy(void *dst, const void *src, unsigned short len);
unsigned short stack_hook_chksum_copy(void *dst, const void *src, unsigned short len);
#define LWIP_CHKSUM lwip_port_chksum
#define LWIP_CHKSUM_COPY(dst, src, len) stack_hook_chksum_copy((dst), (src), (len))

/* ---- TCP ----------------------------------------------------------------
 * MSS: the value advertised and used is derived at run time from the
 * netif's MTU (TCP_CALCULATE_EFF_SEND_MSS: MTU-40 for IPv4, MTU-60 for
 * IPv6); TCP_MSS is only the ceiling. lwIP refuses TCP_MSS >= 16383, and
 * TCP_SNDLOWAT must stay 4*MSS below 64 KiB, so the ceiling is 15000:
 * MTU 8500 gives 8460, MTU 1500 gives 1460, MTU 65535 is capped at 15000.
 *
 * Window: each direction of a flow buffers at most one window. The round
 * trip through the TUN (kernel -> our loop -> kernel, with two process
 * wakeups) is ~100-200 us, so at 10 Gbit/s a 256 KiB window left the loop
 * sleeping on ACKs (single stream at MTU 8500: 58% of the SOCKS-only
 * baseline down, 66% up); 1 MiB (window scaling, shift 5) measured 82-94%
 * and 71-74%. That is the memory bound per busy flow and direction; idle
 * flows hold no buffers at all.
 */
#define LWIP_TCP 1
#define TCP_MSS 15000
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
/* Segments (pbufs) queued per pcb; the relay also stops reading upstream
 * when tcp_sndqueuelen() nears this, so it is a real backpressure bound. */
#define TCP_SND_QUEUELEN 1024
#define TCP_SNDQUEUELOWAT 256
/* Only netconn uses SNDLOWAT; set explicitly because the default formula
 * underflows with a large MSS and scaled windows. */
#define TCP_SNDLOWAT 4096
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 0
#define TCP_LISTEN_BACKLOG 0
/* Listeners are per destination port (stack.c); SO_REUSE lets one be
 * recreated while accepted pcbs still use its port. */
#define SO_REUSE 1
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_TIMESTAMPS 0
/* TIME_WAIT lasts 2*MSL. It protects against old duplicates wandering a
 * network; this stack only talks to the local kernel through the TUN,
 * where none exist. Under connection churn (thousands of connections a
 * second) a 2-minute TIME_WAIT would pin a pcb each; 2 s does not. */
#define TCP_MSL 1000UL
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 6
#define LWIP_TCP_KEEPALIVE 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define LWIP_TCP_PCB_NUM_EXT_ARGS 0
/* TCP_WND_UPDATE_THRESHOLD: send a window update once a quarter of the
 * window reopened, so the client never waits for a delayed ACK to learn
 * that the upstream drained. */
#define TCP_WND_UPDATE_THRESHOLD (TCP_WND / 4)

#define LWIP_UDP 1

/* ---- hooks ---------------------------------------------------------------
 * Defined here rather than through LWIP_HOOK_FILENAME because lwIP's headers
 * (ip4.h) change shape when LWIP_HOOK_IP4_ROUTE_SRC is defined, so every
 * translation unit must see it.
 *
 * The input hooks run before lwIP's "is this packet for me?" test, so TCP
 * segments for ANY destination reach tcp_input (stack.c; research.md
 * section 1). The route hooks send everything out of our only netif, the
 * TUN, whatever its addresses.
 */
struct pbuf;
struct netif;
int stack_hook_ip4_input(struct pbuf *p, struct netif *inp);
int stack_hook_ip6_input(struct pbuf *p, struct netif *inp);
struct netif *stack_hook_route(void);
#define LWIP_HOOK_IP4_INPUT(p, inp) stack_hook_ip4_input((p), (inp))
#define LWIP_HOOK_IP6_INPUT(p, inp) stack_hook_ip6_input((p), (inp))
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) stack_hook_route()
/* lwIP's default initial sequence number is a counter starting at 6510:
 * predictable. Draw it from the seeded generator instead (RFC 6528's goal;
 * the only peer is the local kernel, so no keyed hash is needed). */
unsigned int lwip_port_rand(void);
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) lwip_port_rand()
#define LWIP_HOOK_IP6_ROUTE(src, dest) stack_hook_route()

/* ---- debugging ---------------------------------------------------------- */
#define LWIP_DEBUG 0
#define LWIP_NOASSERT_ON_ERROR 0

#endif
