/* relay: the pump between a client pcb and an upstream stream (see
 * relay.h). The two backpressure points are marked where they happen:
 * relay_up_flush() (tcp_recved after the upstream took the bytes) and
 * down_write() (what lwIP refuses is parked, and reading stops).
 */
#include "tun2socks/flow/relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"

/* lwIP's tcp_write/tcp_recved take 16-bit lengths. */
#define LWIP_CHUNK 0xFFFFu
/* Stop reading upstream while lwIP's segment queue is this close to full,
 * so a tcp_write of one read's worth cannot fail for lack of slots. */
#define QUEUELEN_MARGIN 64
#define IOV_BATCH 64
/* Reads per pump, beyond which the loop serves other flows first; over
 * TLS the pump goes on while the layer holds decrypted bytes. */
#define PUMP_ROUNDS 4

void relay_init(struct relay *r, struct tcp_pcb *pcb, uint8_t *buf, size_t buf_cap)
{
	memset(r, 0, sizeof(*r));
	r->pcb = pcb;
	r->buf = buf;
	r->buf_cap = buf_cap;
}

void relay_start(struct relay *r, const struct stream *up)
{
	r->up = *up;
	r->started = true;
}

void relay_free(struct relay *r)
{
	while (r->q_len > 0) {
		pbuf_free(r->q[r->q_head]);
		r->q_head = (r->q_head + 1) % r->q_cap;
		r->q_len--;
	}
	free(r->q);
	r->q = NULL;
	r->q_cap = r->q_head = r->q_off = 0;
	free(r->pend);
	r->pend = NULL;
}

/* ---- client -> upstream ------------------------------------------------ */

static int q_push(struct relay *r, struct pbuf *p)
{
	if (r->q_len == r->q_cap) {
		uint32_t cap = r->q_cap ? r->q_cap * 2 : 8;
		struct pbuf **q = malloc(cap * sizeof(*q));

		if (q == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < r->q_len; i++)
			q[i] = r->q[(r->q_head + i) % r->q_cap];
		free(r->q);
		r->q = q;
		r->q_cap = cap;
		r->q_head = 0;
	}
	r->q[(r->q_head + r->q_len) % r->q_cap] = p;
	r->q_len++;
	return 0;
}

int relay_client_data(struct relay *r, struct pbuf *p)
{
	if (p == NULL) {
		r->client_eof = true;
		return 0;
	}
	return q_push(r, p);
}

/* Gives lwIP back `n` bytes of receive window, in 16-bit chunks. */
static void recved(struct relay *r, size_t n)
{
	while (n > 0 && r->pcb != NULL) {
		u16_t chunk = (u16_t)(n > LWIP_CHUNK ? LWIP_CHUNK : n);

		tcp_recved(r->pcb, chunk);
		n -= chunk;
	}
}

int relay_up_flush(struct relay *r)
{
	size_t total = 0;

	if (!r->started)
		return 0; /* the queue waits for the tunnel */
	while (r->q_len > 0) {
		struct iovec iov[IOV_BATCH];
		int cnt = 0;
		uint32_t skip = r->q_off;
		ssize_t n;

		for (uint32_t i = 0; i < r->q_len && cnt < IOV_BATCH; i++) {
			for (struct pbuf *p = r->q[(r->q_head + i) % r->q_cap];
			     p != NULL && cnt < IOV_BATCH; p = p->next) {
				if (skip >= p->len) {
					skip -= p->len;
					continue;
				}
				iov[cnt].iov_base = (uint8_t *)p->payload + skip;
				iov[cnt].iov_len = p->len - skip;
				skip = 0;
				cnt++;
			}
		}
		/* One writev on a socket; over TLS a record per piece. A
		 * retry after -EAGAIN offers the same bytes first, as TLS
		 * requires (tls.h). */
		n = stream_writev(&r->up, iov, cnt);
		if (n < 0) {
			if (n == -EAGAIN || n == -EINTR)
				break;
			r->bytes_up += total;
			recved(r, total);
			return (int)n;
		}
		total += (size_t)n;
		/* Free every chain the upstream took completely. */
		size_t left = (size_t)n;
		while (left > 0) {
			struct pbuf *head = r->q[r->q_head];
			size_t rest = head->tot_len - r->q_off;

			if (left < rest) {
				r->q_off += (uint32_t)left;
				break;
			}
			left -= rest;
			pbuf_free(head); /* ours since tcp_recv handed it over */
			r->q_head = (r->q_head + 1) % r->q_cap;
			r->q_len--;
			r->q_off = 0;
		}
		if (n == 0)
			break;
	}
	if (r->q_len == 0 && r->q != NULL) {
		free(r->q); /* idle relays hold no queue */
		r->q = NULL;
		r->q_cap = r->q_head = 0;
	}
	/* Backpressure point: the window reopens only for bytes the
	 * upstream accepted. */
	r->bytes_up += total;
	recved(r, total);
	if (r->q_len == 0 && r->client_eof && !r->up_shut) {
		/* Over TLS, close_notify first (best effort: if it cannot go
		 * out now the FIN still ends our direction). */
		stream_shutdown(&r->up);
		r->up_shut = true;
	}
	return 0;
}

/* ---- upstream -> client ------------------------------------------------ */

/* Hands data to lwIP; parks what it refuses in pend. 0 or -ENOMEM. */
static int down_write(struct relay *r, const uint8_t *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		u16_t room = (u16_t)LWIP_MIN(tcp_sndbuf(r->pcb), LWIP_CHUNK);
		u16_t chunk = (u16_t)LWIP_MIN(len - off, room);
		err_t e = ERR_MEM;

		if (chunk > 0)
			e = tcp_write(r->pcb, data + off, chunk,
				      TCP_WRITE_FLAG_COPY |
					      (off + chunk < len ? TCP_WRITE_FLAG_MORE : 0));
		if (e != ERR_OK)
			break;
		off += chunk;
	}
	if (off < len) {
		/* Backpressure point: lwIP is full; keep the rest and stop
		 * reading upstream until tcp_sent frees room. */
		uint8_t *rest = malloc(len - off);

		if (rest == NULL)
			return -ENOMEM;
		memcpy(rest, data + off, len - off);
		r->pend = rest;
		r->pend_len = (uint32_t)(len - off);
		r->pend_off = 0;
	}
	return 0;
}

static int pend_flush(struct relay *r)
{
	uint8_t *old = r->pend;
	size_t len = r->pend_len - r->pend_off;
	int ret;

	if (old == NULL)
		return 0;
	r->pend = NULL;
	ret = down_write(r, old + r->pend_off, len);
	free(old);
	return ret;
}

/* How much lwIP can take in one read right now; 0 stops reading. */
static size_t down_room(const struct relay *r)
{
	if (r->pcb == NULL || r->pend != NULL || r->up_eof || r->client_shut)
		return 0;
	if (tcp_sndqueuelen(r->pcb) + QUEUELEN_MARGIN >= TCP_SND_QUEUELEN)
		return 0;
	if (r->inflight_max && *r->inflight_max) {
		/* snd_buf itself: tcp_sndbuf() stops at 65535 */
		size_t inflight = r->pcb->snd_buf < TCP_SND_BUF ? TCP_SND_BUF - r->pcb->snd_buf : 0;

		if (inflight >= *r->inflight_max)
			return 0; /* the client's ACK pumps again (tcp_sent) */
		return LWIP_MIN(tcp_sndbuf(r->pcb), *r->inflight_max - inflight);
	}
	return tcp_sndbuf(r->pcb);
}

int relay_down_pump(struct relay *r)
{
	int ret;

	if (r->pcb == NULL || !r->started)
		return 0;
	ret = pend_flush(r);
	if (ret < 0)
		return ret;
	for (int rounds = 0; rounds < PUMP_ROUNDS || stream_pending(&r->up) > 0; rounds++) {
		size_t room = down_room(r);
		ssize_t n;

		if (room == 0)
			break; /* tcp_sent resumes, bytes held by the stream included */
		if (room > r->buf_cap)
			room = r->buf_cap;
		n = r->up.read(r->up.ctx, r->buf, room);
		if (n < 0) {
			if (n == -EAGAIN || n == -EINTR)
				break;
			return (int)n;
		}
		if (n == 0) {
			r->up_eof = true;
			break;
		}
		r->bytes_down += (uint64_t)n;
		ret = down_write(r, r->buf, (size_t)n);
		if (ret < 0)
			return ret;
		/* A short read means the socket is drained, but read once
		 * more anyway: an upstream that has sent its last bytes
		 * usually has its FIN in by now, and a FIN that leaves with
		 * the data lets the client close second (no TIME_WAIT on
		 * its side, see design §15). Costs one -EAGAIN read per
		 * drained wakeup; the next read ends the loop either way. */
	}
	if (r->up_eof && r->pend == NULL && !r->client_shut) {
		/* tcp_shutdown queues our FIN after the data; ERR_MEM means
		 * no segment slot now: tcp_sent retries. */
		if (tcp_shutdown(r->pcb, 0, 1) == ERR_OK)
			r->client_shut = true;
	}
	tcp_output(r->pcb);
	return 0;
}

int relay_wants(const struct relay *r)
{
	int w = 0;

	if (!r->started)
		return 0;
	if (r->q_len > 0)
		w |= STREAM_WANT_WRITE;
	if (down_room(r) > 0)
		w |= STREAM_WANT_READ;
	/* A TLS read may need the socket writable and a write readable
	 * (tls.h): the layers below say what they wait on. */
	return w | stream_wants(&r->up);
}

bool relay_watch_hup(const struct relay *r)
{
	return r->started && !r->up_eof && !r->up_hup && down_room(r) == 0;
}

void relay_upstream_hup(struct relay *r)
{
	r->up_hup = true;
}

bool relay_done(const struct relay *r)
{
	return r->client_eof && r->up_eof && r->q_len == 0 && r->up_shut && r->client_shut &&
	       r->pend == NULL;
}
