/* pipelining: what "pipelining: auto" finds out per SOCKS5 proxy
 * (docs/design.md §15).
 *
 * Sending greeting, auth and CONNECT in one write saves a round trip (two
 * with auth) per connection, but only a server that reads each message
 * exactly gets the later ones: microsocks reads the greeting with one
 * recv and drops the rest, and the flow then waits for a reply that never
 * comes. So a proxy with pipelining auto (the default) starts with plain
 * handshakes, and for each such upstream of the current generation
 * (router_gen_auto_pipelining) a probe connects to it as a flow would
 * (the flows' socket options; TLS when the proxy has it) and sends
 * greeting, auth and a CONNECT to 0.0.0.0:0 in one write
 * (upstream_socks5_probe). Then:
 *
 *   any reply to that CONNECT     the server read what followed the
 *   (a refusal, what 0.0.0.0:0    greeting: pipelining on for the
 *   gets)                         generation ("proxy x: ... on (auto)")
 *   a method reply and no more    it does not read pipelined messages:
 *   (timed out, closed, wrong     plain handshakes for the generation
 *   method or auth refused)
 *   no connection (refused,       undecided: tried again after 10 s,
 *   unreachable, timed out, TLS)  the wait doubling up to 10 min
 *
 * A verdict stands until the next generation (SIGHUP) probes again. At
 * most PIPELINING_MAX_CONCURRENT probes run at once. Loop thread only.
 */
#ifndef T2S_PIPELINING_H
#define T2S_PIPELINING_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tun2socks/base/must_check.h"

#define PIPELINING_MAX_CONCURRENT 8
#define PIPELINING_RETRY_MS 10000u
#define PIPELINING_RETRY_MAX_MS 600000u

struct pipelining;
struct router_gen;
struct sock_opts;

struct pipelining_opts {
	const struct sock_opts *sock; /* the flows' (borrowed), or NULL */
	uint64_t timeout_ms;          /* connect + handshake: --connect-timeout */
	uint64_t retry_ms;            /* first wait after no connection;
				       * 0: PIPELINING_RETRY_MS */
};

/* *out cleared first; 0 or -ENOMEM. o->sock must outlive the prober. */
T2S_MUST_CHECK int pipelining_create(uv_loop_t *loop, const struct pipelining_opts *o,
				     struct pipelining **out);
/* Probes g's auto upstreams from now on (each probe holds a reference to
 * g); the previous generation's probes are cancelled. NULL stops. 0, or
 * -ENOMEM (some upstreams then keep plain handshakes, logged). */
int pipelining_set_gen(struct pipelining *p, struct router_gen *g);
/* Upstreams of the current generation without a verdict yet. */
size_t pipelining_undecided(const struct pipelining *p);
/* Cancels every probe; their memory goes once the loop ran their handles
 * closed. NULL is ignored. */
void pipelining_destroy(struct pipelining *p);

#endif
