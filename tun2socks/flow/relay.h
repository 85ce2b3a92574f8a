/* relay: the byte pump of one TCP flow, between the client's lwIP pcb and
 * the upstream's stream, with backpressure at both hand-offs.
 *
 * - client -> upstream: relay_client_data() queues what lwIP's tcp_recv
 *   hands over, without reopening the receive window; relay_up_flush()
 *   writes the queue upstream and calls tcp_recved() only for the bytes
 *   the upstream accepted. A slow upstream therefore closes the client's
 *   window: at most one window (TCP_WND) is ever queued here.
 * - upstream -> client: relay_down_pump() reads the upstream only while
 *   lwIP's send buffer has room, at most tcp_sndbuf() per read, and
 *   tcp_write()s it. What lwIP refuses (ERR_MEM) is parked in `pend`;
 *   while anything is parked or the buffer is full, relay_wants() stops
 *   asking for readability, and the owner's tcp_sent callback resumes the
 *   pump.
 * Half-close: the client's FIN -> stream_shutdown() of the upstream once
 * the queue drained; the upstream's EOF -> tcp_shutdown(tx) once
 * everything read was handed to lwIP. relay_done() once both are through.
 *
 * The relay decides nothing about the flow's life: it never closes or
 * aborts, owns no libuv handle and no lwIP callback. It returns -errno and
 * its owner (flow_tcp) resets or closes. It owns the queued pbufs and
 * `pend` until relay_free(); an idle relay holds neither (both are freed
 * when empty). Loop thread only: `buf` may be scratch shared by every
 * relay of a context, since no bytes stay in it across calls.
 */
#ifndef T2S_RELAY_H
#define T2S_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/base/stream.h"

struct pbuf;
struct tcp_pcb;

/* The owner reads the fields; only relay_*() writes them, except pcb,
 * which the owner clears when lwIP freed the pcb or the owner let go. */
struct relay {
	struct tcp_pcb *pcb; /* the client; NULL once gone */
	struct stream up;    /* the upstream, from relay_start() on */
	bool started;
	uint8_t *buf; /* scratch for upstream reads */
	size_t buf_cap;
	/* client -> upstream: ring of pbuf chains owned by the relay. */
	struct pbuf **q;
	uint32_t q_head, q_len, q_cap;
	uint32_t q_off; /* bytes of q[q_head] already written */
	/* upstream -> client bytes lwIP could not take yet. */
	uint8_t *pend;
	uint32_t pend_len, pend_off;
	bool client_eof;     /* the client sent FIN */
	bool up_eof;         /* the upstream sent EOF */
	bool up_hup;         /* its FIN seen while not reading (relay_upstream_hup) */
	bool up_shut;        /* we ended our direction upstream */
	bool client_shut;    /* our FIN to the client is queued in lwIP */
	uint64_t bytes_up;   /* client -> upstream, accepted by the upstream */
	uint64_t bytes_down; /* upstream -> client, read from the upstream */
	/* The memory budget (docs/design.md §12): while *inflight_max is not
	 * 0, at most that many bytes wait in lwIP for the client's ACK;
	 * the rest stays in the upstream socket. NULL: no cap. */
	const size_t *inflight_max;
};

void relay_init(struct relay *r, struct tcp_pcb *pcb, uint8_t *buf, size_t buf_cap);

/* What tcp_recv delivered: a pbuf chain, queued (ownership passes to the
 * relay), or NULL for the client's FIN. 0, or -ENOMEM with p still the
 * caller's. Nothing is written here: relay_up_flush() does. */
int relay_client_data(struct relay *r, struct pbuf *p);

/* The tunnel is open: from now on the relay moves bytes over *up (copied;
 * its ctx must outlive the relay). The owner then flushes and pumps. */
void relay_start(struct relay *r, const struct stream *up);

/* Writes as much of the queue as the upstream takes, reopens the client's
 * window by exactly that much, and shuts the upstream direction down
 * after the client's FIN once the queue is empty. 0 or -errno. Before
 * relay_start() nothing moves (0). */
int relay_up_flush(struct relay *r);

/* Moves upstream bytes into lwIP while it has room (the bytes the stream
 * holds without readiness included), queues our FIN after the upstream's
 * EOF, and pushes with tcp_output. 0 or -errno (-ENOMEM, or the upstream's
 * read error). Nothing before relay_start() or once the pcb is gone. */
int relay_down_pump(struct relay *r);

/* What the upstream socket should be polled for now: a mask of
 * STREAM_WANT_READ (lwIP has room and the upstream has not ended) and
 * STREAM_WANT_WRITE (client bytes are queued), plus what the stream's
 * lower layers wait on (stream_wants). 0 before relay_start(). */
int relay_wants(const struct relay *r);

/* Whether the owner should watch the upstream socket for a hang-up
 * (UV_DISCONNECT; an error is always reported with it): while reading is
 * paused for a client that does not read, an upstream that resets or dies
 * would otherwise go unnoticed, its socket held until the idle timeout.
 * True while started, not reading (relay_wants has no STREAM_WANT_READ),
 * and neither EOF nor a hang-up was seen (docs/design.md §12). */
bool relay_watch_hup(const struct relay *r);

/* The owner saw the hang-up without an error: the upstream's FIN, the
 * bytes before it all in the socket's buffer, read once the client makes
 * room. Stops relay_watch_hup (the hang-up stays reported while it lasts). */
void relay_upstream_hup(struct relay *r);

/* Both directions finished and everything handed over: the owner closes. */
bool relay_done(const struct relay *r);

/* Frees the queue and pend. The pcb is the owner's to close. */
void relay_free(struct relay *r);

#endif
