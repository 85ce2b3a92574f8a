/* relay between a real lwIP pcb, driven by crafted segments
 * (lwip_helper.h), and an upstream that is one end of a non-blocking
 * AF_UNIX socketpair with small buffers; the test holds the other end.
 *
 * A minimal owner stands in for flow_tcp: tcp_recv hands data to
 * relay_client_data() and flushes, tcp_sent pumps, and the test plays the
 * poll loop by calling relay_up_flush() / relay_down_pump() when
 * relay_wants() asks. Every scenario is a sequence of steps, never a
 * clock: what is checked is how far the bytes got.
 *
 * Covered: client -> upstream backpressure (the receive window reopens
 * only by what the upstream took); upstream -> client backpressure (with
 * lwIP's send buffer full and the client not acking, the upstream is not
 * read even with bytes waiting, and reading resumes from tcp_sent), 3 MiB
 * byte-exact; half-close each way while the other direction still flows;
 * the upstream's last bytes and its FIN leaving in one segment;
 * an upstream reset surfacing as an error; stream bytes pending without
 * readiness (a TLS-like layer) read without a socket event; lwIP's pools
 * and heap back to the baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip-port/stack.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/flow/relay.h"
#include "lwip_helper.h"
#include "test.h"

/* ---- the owner ------------------------------------------------------------ */

static struct {
	struct relay rl;
	bool accepted;
	bool err; /* lwIP reported the pcb gone */
	int flush_err, pump_err;
	int up_fd;   /* our end of the socketpair */
	int peer_fd; /* the upstream's end, the test's */
	struct stream up;
} o;

static uint8_t scratch[256 * 1024];

static err_t o_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	int r;

	(void)arg;
	(void)pcb;
	(void)err;
	T_EQ_INT(relay_client_data(&o.rl, p), 0);
	if (o.rl.started && (r = relay_up_flush(&o.rl)) < 0)
		o.flush_err = r;
	return ERR_OK;
}

static err_t o_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	int r;

	(void)arg;
	(void)pcb;
	(void)len;
	if (o.rl.started && (r = relay_down_pump(&o.rl)) < 0)
		o.pump_err = r;
	return ERR_OK;
}

static void o_err(void *arg, err_t err)
{
	(void)arg;
	(void)err;
	o.err = true;
	o.rl.pcb = NULL;
}

static int o_accept(void *arg, struct tcp_pcb *pcb)
{
	(void)arg;
	relay_init(&o.rl, pcb, scratch, sizeof(scratch));
	tcp_recv(pcb, o_recv);
	tcp_sent(pcb, o_sent);
	tcp_err(pcb, o_err);
	tcp_nagle_disable(pcb);
	o.accepted = true;
	return 0;
}

/* What flow_tcp's close does: detach, then close (or abort). */
static void o_close(bool abort)
{
	struct tcp_pcb *pcb = o.rl.pcb;

	if (pcb != NULL) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
		if (abort || tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
	}
	o.rl.pcb = NULL;
	relay_free(&o.rl);
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A socketpair with buffers small enough that the upstream fills up after
 * a few KiB; the relay gets one end as a sock_stream. */
static void o_upstream(void)
{
	int sv[2], small = 4096;

	T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	nonblock(sv[0]);
	nonblock(sv[1]);
	o.up_fd = sv[0];
	o.peer_fd = sv[1];
	o.up = sock_stream(&o.up_fd);
}

static const struct stack_cbs cbs = { .output = lh_output, .tcp_accept = o_accept };

/* A stack, one accepted client, and the upstream; the relay started. */
static struct stack *setup(struct lh_client *c, size_t rx_cap, struct stack_usage *base)
{
	struct stack *s = NULL;
	struct ep me = ep4("198.18.0.1", 40000), to = ep4("203.0.113.5", 443);

	memset(&o, 0, sizeof(o));
	o.up_fd = o.peer_fd = -1;
	T_EQ_INT(stack_create(1500, &cbs, NULL, &s), 0);
	if (s == NULL)
		return NULL;
	stack_usage(base);
	lh_client_init(c, &me, &to, rx_cap);
	T_CHECK(lh_connect(s, c));
	T_CHECK(o.accepted);
	o_upstream();
	relay_start(&o.rl, &o.up);
	return s;
}

static void teardown(struct stack *s, struct lh_client *c, const struct stack_usage *base)
{
	if (o.up_fd >= 0)
		close(o.up_fd);
	if (o.peer_fd >= 0)
		close(o.peer_fd);
	lh_client_free(c);
	/* Everything but the port's listener went back to lwIP. */
	lh_usage_is(base, 1);
	stack_destroy(s);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 9));
}

/* Reads what the peer end holds into buf (appending); bytes read. */
static size_t peer_drain(uint8_t *buf, size_t *len, size_t cap)
{
	size_t total = 0;

	for (;;) {
		uint8_t tmp[8192];
		ssize_t n = read(o.peer_fd, tmp, sizeof(tmp));

		if (n <= 0)
			return total;
		if (*len + (size_t)n <= cap) {
			memcpy(buf + *len, tmp, (size_t)n);
			*len += (size_t)n;
		}
		total += (size_t)n;
	}
}

/* ---- tests ------------------------------------------------------------------- */

/* Client -> upstream: the window reopens by exactly what the upstream took;
 * nothing is lost or reordered while it is closed. */
static void test_up_backpressure(void)
{
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, 0, &base);
	enum { N = 60000 };
	static uint8_t data[N], got[N];
	size_t got_len = 0;
	tcpwnd_size_t w0;

	if (s == NULL)
		return;
	for (size_t i = 0; i < N; i++)
		data[i] = pattern(i);
	w0 = o.rl.pcb->rcv_wnd;
	lh_send(s, &c, data, N);
	/* The upstream took only what fits its small buffer; the window is
	 * still closed by the rest. */
	T_CHECK(o.rl.bytes_up > 0);
	T_CHECK(o.rl.bytes_up < N);
	T_EQ_INT(o.rl.pcb->rcv_wnd, w0 - (N - o.rl.bytes_up));
	T_CHECK(relay_wants(&o.rl) & STREAM_WANT_WRITE);
	T_CHECK(o.rl.q_len > 0);

	/* The upstream reads; each flush (the poll loop's writable event)
	 * moves more and reopens the window by that much. */
	for (int i = 0; i < 10000 && o.rl.bytes_up < N; i++) {
		uint64_t before = o.rl.bytes_up;

		peer_drain(got, &got_len, sizeof(got));
		T_EQ_INT(relay_up_flush(&o.rl), 0);
		T_CHECK(o.rl.bytes_up >= before);
		T_EQ_INT(o.rl.pcb->rcv_wnd, w0 - (N - o.rl.bytes_up));
	}
	peer_drain(got, &got_len, sizeof(got));
	T_EQ_INT(o.rl.bytes_up, N);
	T_EQ_INT(got_len, N);
	T_EQ_MEM(got, data, N);
	T_EQ_INT(o.rl.pcb->rcv_wnd, w0);
	T_EQ_INT(relay_wants(&o.rl) & STREAM_WANT_WRITE, 0);
	T_CHECK(o.rl.q == NULL); /* an idle relay holds no queue */
	T_EQ_INT(o.flush_err, 0);
	o_close(true);
	teardown(s, &c, &base);
}

/* Upstream -> client with a client that acks late: lwIP's send buffer
 * fills, the relay stops reading although the upstream has more, and
 * tcp_sent resumes it. 3 MiB arrive byte-exact. */
static void test_down_backpressure(void)
{
	enum { TOTAL = 3 * 1024 * 1024 };
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, TOTAL, &base);
	uint64_t written = 0;
	bool saw_full = false;

	if (s == NULL)
		return;
	for (int round = 0; round < 100000 && c.rx_total < TOTAL; round++) {
		/* The upstream sends what its buffer takes. */
		while (written < TOTAL) {
			uint8_t tmp[4096];
			size_t n = TOTAL - written < sizeof(tmp) ? TOTAL - written : sizeof(tmp);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				tmp[i] = pattern(written + i);
			w = write(o.peer_fd, tmp, n);
			if (w <= 0)
				break;
			written += (uint64_t)w;
		}
		/* The poll loop: read when the relay asks and the socket is
		 * readable. */
		struct pollfd rp = { .fd = o.up_fd, .events = POLLIN };

		if ((relay_wants(&o.rl) & STREAM_WANT_READ) && poll(&rp, 1, 0) == 1) {
			T_CHECK(!relay_watch_hup(&o.rl)); /* reading finds it */
			T_EQ_INT(relay_down_pump(&o.rl), 0);
			continue;
		}
		if (!saw_full && written > o.rl.bytes_down) {
			/* lwIP is full and the upstream has bytes waiting: a
			 * pump now must not read them. */
			uint64_t before = o.rl.bytes_down;
			struct pollfd p = { .fd = o.up_fd, .events = POLLIN };

			T_EQ_INT(poll(&p, 1, 0), 1);
			T_EQ_INT(relay_down_pump(&o.rl), 0);
			T_EQ_INT(o.rl.bytes_down, before);
			T_CHECK(o.rl.pcb->snd_buf == 0 || o.rl.pend != NULL ||
				tcp_sndqueuelen(o.rl.pcb) + 64 >= TCP_SND_QUEUELEN);
			/* Never more in flight than the client's window. */
			T_CHECK(c.rx_total <= 65535);
			/* Paused: the owner watches for a hang-up instead;
			 * once one is noted (a FIN) it stops, and the bytes
			 * before it still come as the client acks. */
			T_CHECK(relay_watch_hup(&o.rl));
			relay_upstream_hup(&o.rl);
			T_CHECK(!relay_watch_hup(&o.rl));
			saw_full = true;
		}
		/* The client acks what it has: tcp_sent pumps again. */
		lh_ack(s, &c);
	}
	T_CHECK(saw_full);
	T_EQ_INT(c.rx_total, TOTAL);
	T_EQ_INT(o.rl.bytes_down, TOTAL);
	bool exact = c.rx_len == TOTAL;
	for (size_t i = 0; exact && i < TOTAL; i++)
		exact = c.rx[i] == pattern(i);
	T_CHECK(exact);
	T_CHECK(o.rl.pend == NULL);
	T_EQ_INT(o.pump_err, 0);
	o_close(true);
	teardown(s, &c, &base);
}

/* The memory budget's cap on bytes waiting in lwIP for the client's ACK
 * (relay.inflight_max): never more than the cap in flight, the rest left
 * in the upstream socket; the transfer still completes byte-exact, and
 * raising the cap back to 0 (none) lets lwIP fill again. */
static void test_down_inflight_cap(void)
{
	enum { TOTAL = 512 * 1024, CAP = 6000 };
	static size_t cap = CAP;
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, TOTAL, &base);
	uint64_t written = 0;
	size_t worst = 0;

	if (s == NULL)
		return;
	o.rl.inflight_max = &cap;
	for (int round = 0; round < 100000 && c.rx_total < TOTAL; round++) {
		while (written < TOTAL) {
			uint8_t tmp[4096];
			size_t n = TOTAL - written < sizeof(tmp) ? TOTAL - written : sizeof(tmp);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				tmp[i] = pattern(written + i);
			w = write(o.peer_fd, tmp, n);
			if (w <= 0)
				break;
			written += (uint64_t)w;
		}
		struct pollfd rp = { .fd = o.up_fd, .events = POLLIN };

		if ((relay_wants(&o.rl) & STREAM_WANT_READ) && poll(&rp, 1, 0) == 1)
			T_EQ_INT(relay_down_pump(&o.rl), 0);
		if (cap && o.rl.pcb && TCP_SND_BUF - o.rl.pcb->snd_buf > worst)
			worst = TCP_SND_BUF - o.rl.pcb->snd_buf;
		/* over half way: the cap lifted */
		if (c.rx_total > TOTAL / 2)
			cap = 0;
		lh_ack(s, &c);
	}
	T_CHECK(worst > 0 && worst <= CAP);
	T_EQ_INT(c.rx_total, TOTAL);
	bool exact = c.rx_len == TOTAL;
	for (size_t i = 0; exact && i < TOTAL; i++)
		exact = c.rx[i] == pattern(i);
	T_CHECK(exact);
	T_EQ_INT(o.pump_err, 0);
	o_close(true);
	teardown(s, &c, &base);
}

/* The client's FIN reaches the upstream once its bytes did, while the
 * upstream still sends; then the upstream's EOF becomes our FIN after its
 * last bytes, and the relay is done. */
static void test_half_close(void)
{
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, 4096, &base);
	uint8_t buf[64];
	size_t len = 0;

	if (s == NULL)
		return;
	lh_send(s, &c, "request", 7);
	lh_fin(s, &c);
	T_CHECK(o.rl.client_eof);
	T_CHECK(o.rl.up_shut);
	peer_drain(buf, &len, sizeof(buf));
	T_EQ_INT(len, 7);
	T_EQ_MEM(buf, "request", 7);
	T_EQ_INT(read(o.peer_fd, buf, sizeof(buf)), 0); /* EOF upstream */
	T_CHECK(!relay_done(&o.rl));

	/* The other direction still flows. */
	T_EQ_INT(write(o.peer_fd, "response", 8), 8);
	T_CHECK(relay_wants(&o.rl) & STREAM_WANT_READ);
	T_EQ_INT(relay_down_pump(&o.rl), 0);
	T_EQ_INT(c.rx_len, 8);
	T_EQ_MEM(c.rx, "response", 8);
	T_CHECK(!c.fin);

	shutdown(o.peer_fd, SHUT_WR);
	T_EQ_INT(relay_down_pump(&o.rl), 0);
	T_CHECK(o.rl.up_eof);
	T_CHECK(o.rl.client_shut);
	T_CHECK(c.fin); /* after the data: the client model takes in-order only */
	T_CHECK(relay_done(&o.rl));
	T_EQ_INT(relay_wants(&o.rl) & STREAM_WANT_READ, 0); /* nothing more to read */
	/* The owner closes; the client acks our FIN and lwIP lets go. */
	o_close(false);
	lh_ack(s, &c);
	teardown(s, &c, &base);
}

/* An upstream whose last bytes and FIN are both waiting (an HTTP server
 * that answered and closed): one pump sends them in one segment, data
 * and FIN. Were the FIN left for the next wakeup, a client that closes
 * as soon as it has the response would close first and keep the
 * TIME_WAIT (design §15). */
static void test_fin_with_last_bytes(void)
{
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, 4096, &base);
	const uint8_t *tcp;

	if (s == NULL)
		return;
	T_EQ_INT(write(o.peer_fd, "last", 4), 4);
	shutdown(o.peer_fd, SHUT_WR);
	cap_n = 0;
	T_EQ_INT(relay_down_pump(&o.rl), 0);
	T_EQ_INT(c.rx_len, 4);
	T_EQ_MEM(c.rx, "last", 4);
	T_CHECK(o.rl.up_eof);
	T_CHECK(o.rl.client_shut);
	T_CHECK(c.fin);
	T_EQ_INT(cap_n, 1);
	tcp = cap_pkt[0] + (cap_pkt[0][0] & 0x0f) * 4;
	T_EQ_INT(tcp[13] & F_FIN, F_FIN);
	o_close(true);
	teardown(s, &c, &base);
}

/* An upstream that dies with an RST: the pump reports the error (the
 * owner then resets the client); a write after it fails too. */
static void test_upstream_reset(void)
{
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, 4096, &base);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd, cfd, pfd;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (s == NULL)
		return;
	/* A TCP pair on loopback: only TCP has resets. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	T_EQ_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	T_EQ_INT(listen(lfd, 1), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	T_EQ_INT(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pfd = accept(lfd, NULL, NULL);
	close(lfd);
	nonblock(cfd);
	close(o.up_fd);
	o.up_fd = cfd;
	o.up = sock_stream(&o.up_fd);
	relay_start(&o.rl, &o.up);

	setsockopt(pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(pfd);
	struct pollfd p = { .fd = cfd, .events = POLLIN };
	T_EQ_INT(poll(&p, 1, 5000), 1);
	T_EQ_INT(relay_down_pump(&o.rl), -ECONNRESET);
	lh_send(s, &c, "late", 4);
	T_CHECK(o.flush_err < 0);
	o_close(true);
	T_CHECK(c.rst); /* the owner's abort reached the client */
	teardown(s, &c, &base);
}

/* A layer that holds bytes no socket event announces (TLS records,
 * bytes that came with a proxy's reply): the pump reads them all. */
struct holder {
	const char *data;
	size_t len, off;
};

static ssize_t h_read(void *ctx, void *buf, size_t len)
{
	struct holder *h = ctx;
	size_t n = h->len - h->off;

	if (n == 0)
		return -EAGAIN;
	if (n > len)
		n = len;
	if (n > 3)
		n = 3; /* a record at a time */
	memcpy(buf, h->data + h->off, n);
	h->off += n;
	return (ssize_t)n;
}

static ssize_t h_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	return (ssize_t)len;
}

static size_t h_pending(void *ctx)
{
	struct holder *h = ctx;

	return h->len - h->off;
}

static int h_wants(void *ctx)
{
	(void)ctx;
	return STREAM_WANT_WRITE; /* as a TLS read that must flush first */
}

static void test_pending_without_readiness(void)
{
	struct lh_client c;
	struct stack_usage base;
	struct stack *s = setup(&c, 4096, &base);
	struct holder h = { .data = "held by the layer, no event", .len = 27 };
	struct stream st = {
		.read = h_read, .write = h_write, .ctx = &h, .pending = h_pending, .wants = h_wants
	};

	if (s == NULL)
		return;
	relay_start(&o.rl, &st);
	T_EQ_INT(relay_wants(&o.rl) & STREAM_WANT_WRITE, STREAM_WANT_WRITE);
	/* More than PUMP_ROUNDS reads of 3 bytes: all of it in one pump. */
	T_EQ_INT(relay_down_pump(&o.rl), 0);
	T_EQ_INT(c.rx_len, 27);
	T_EQ_MEM(c.rx, "held by the layer, no event", 27);
	o_close(true);
	teardown(s, &c, &base);
}

int main(void)
{
	T_RUN(test_up_backpressure);
	T_RUN(test_down_backpressure);
	T_RUN(test_down_inflight_cap);
	T_RUN(test_half_close);
	T_RUN(test_fin_with_last_bytes);
	T_RUN(test_upstream_reset);
	T_RUN(test_pending_without_readiness);
	return test_summary();
}
