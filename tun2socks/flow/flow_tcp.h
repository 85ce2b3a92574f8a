/* flow_tcp: one client connection terminated by lwIP and relayed to an
 * upstream.
 *
 * Lifetime: a flow holds one reference for being alive and one per open
 * libuv handle. Closing detaches every lwIP callback first, so lwIP never
 * calls into a dead flow; the memory is freed only when the last reference
 * goes, from the context's check handle, never inside an lwIP or libuv
 * callback.
 */
#ifndef T2S_FLOW_TCP_H
#define T2S_FLOW_TCP_H

#include <stdint.h>
#include <uv.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/poller.h"
#include "tun2socks/flow/flow_info.h"
#include "tun2socks/base/reaper.h"
#include "tun2socks/route/route.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/upstream/upstream.h"
#include "tun2socks/base/must_check.h"

struct tcp_pcb;
struct flow_tcp;
struct dns_intercept;
struct resolver;
struct sniffer;

struct flow_stats {
	uint64_t accepted;
	uint64_t closed;     /* both sides finished cleanly */
	uint64_t failed;     /* upstream connect/handshake failed */
	uint64_t reset;      /* reset by either side or timed out */
	uint64_t rejected;   /* REJECT / REJECT-DROP by a rule */
	uint64_t bytes_up;   /* client -> upstream */
	uint64_t bytes_down; /* upstream -> client */
};

/* Shared by every flow; owned by the daemon, lives as long as the loop. */
struct flow_tcp_ctx {
	uv_loop_t *loop;
	struct route_ops route; /* decides each flow's upstream */
	struct sock_opts sock;
	struct dns_intercept *dns;     /* names for fake/remembered addresses */
	struct resolver *resolver;     /* DIRECT to a name */
	const struct sniffer *sniffer; /* names from first bytes, or NULL */
	uint64_t sniff_wait_ms;        /* for those bytes (docs/design.md §21) */
	uint64_t connect_timeout_ms;
	uint64_t idle_timeout_ms; /* 0: never */
	/* A half-closed flow (our FIN acknowledged, the client silent) probes
	 * its client after this long without traffic, and again as long
	 * (docs/design.md §12); 0: never. */
	uint64_t half_closed_probe_ms;
	/* Scratch for the relays' upstream reads (relay.h). One loop thread,
	 * so one buffer serves every flow: bytes never stay in it across
	 * callbacks. */
	uint8_t *buf;
	size_t buf_cap;
	struct list_node live; /* live flows, newest first */
	/* Flows that received client data during the current TUN drain;
	 * flow_tcp_ctx_flush() writes each one's queue upstream once, so a burst
	 * of segments costs one writev instead of one per segment. */
	struct flow_tcp *dirty;
	struct reaper reaper;  /* frees released flows */
	struct poller *poller; /* watches the upstream sockets */
	uint64_t next_id;
	unsigned live_count;
	struct flow_stats stats;
	/* Bytes a flow may have waiting for the client's ACK; 0: lwIP's
	 * TCP_SND_BUF. The memory budget lowers it (docs/design.md §12). */
	size_t inflight_max;
};

T2S_MUST_CHECK int flow_tcp_ctx_init(struct flow_tcp_ctx *ctx, uv_loop_t *loop,
				     const struct route_ops *route);
/* Resets every live flow (both sides) and closes the reaper; the loop must
 * run on until its handles are closed. */
void flow_tcp_ctx_shutdown(struct flow_tcp_ctx *ctx);
/* Frees what the reaper did not; after the loop has stopped. */
void flow_tcp_ctx_destroy(struct flow_tcp_ctx *ctx);

/* Writes the queued client data of every flow that got some since the
 * last call. The daemon calls it after draining the TUN. */
void flow_tcp_ctx_flush(struct flow_tcp_ctx *ctx);

/* Takes ownership of a pcb the stack just accepted: opens the upstream.
 * Returns 0 or -errno (the caller then resets the pcb). */
int flow_tcp_accept(struct flow_tcp_ctx *ctx, struct tcp_pcb *pcb);

/* Calls fn for every live flow, newest first (fn must not end flows). */
void flow_tcp_foreach(struct flow_tcp_ctx *ctx, flow_info_fn fn, void *arg);
/* Resets flow#id (both sides), or every live flow with id 0. 0, or
 * -ENOENT when no such flow lives. Not from inside an lwIP callback. */
int flow_tcp_close(struct flow_tcp_ctx *ctx, uint64_t id);

#endif
