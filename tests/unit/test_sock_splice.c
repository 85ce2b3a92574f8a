/* sock_splice (tun2socks/flow/sock_splice.c) on loopback: a client joined
 * through the splice to an echo server gets its 2 MiB back byte-exact
 * (more than the queue cap, so backpressure runs), its half-close reaches
 * the server and the server's close comes back; a target that refuses
 * closes the accepted side; stop frees everything (the loop closes clean,
 * and ASan builds check the heap). */
#include "tun2socks/flow/sock_splice.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TOTAL = 2 * 1024 * 1024 };

static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The target: echoes one connection until EOF, then closes it. */
static void *echo_main(void *arg)
{
	int lfd = *(int *)arg, c = accept(lfd, NULL, NULL);
	char buf[65536];
	ssize_t n;

	while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));

			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	if (c >= 0)
		close(c);
	return NULL;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 9));
}

static void test_echo(void)
{
	static uint8_t got[TOTAL];
	uv_loop_t loop;
	struct sock_splice *sp = NULL;
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t tport, sport;
	int tfd = listen_any(&tport), sfd = listen_any(&sport), c;
	size_t sent = 0, rcvd = 0;
	bool shut = false, eof = false;
	pthread_t th;

	T_CHECK(tfd >= 0 && sfd >= 0);
	if (tfd < 0 || sfd < 0)
		return;
	uv_loop_init(&loop);
	to.sin_port = htons(tport);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(sock_splice_start(&loop, sfd, (struct sockaddr *)&to, sizeof(to), &sp), 0);
	pthread_create(&th, NULL, echo_main, &tfd);
	c = connect_to(sport);
	T_CHECK(c >= 0);
	/* Bounded by time, not by rounds: a loaded machine needs more. */
	uint64_t deadline = uv_hrtime() + 60ull * 1000000000ull;

	while (c >= 0 && !eof && uv_hrtime() < deadline) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (sent < TOTAL) {
			uint8_t tmp[16384];
			size_t n = TOTAL - sent < sizeof(tmp) ? TOTAL - sent : sizeof(tmp);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				tmp[i] = pat(sent + i);
			w = write(c, tmp, n);
			if (w > 0)
				sent += (size_t)w;
		} else if (!shut) {
			shutdown(c, SHUT_WR);
			shut = true;
		}
		for (;;) {
			uint8_t extra;
			ssize_t n = rcvd < TOTAL ? read(c, got + rcvd, TOTAL - rcvd)
						 : read(c, &extra, 1);

			if (n > 0) {
				rcvd += (size_t)n;
				continue;
			}
			if (n == 0)
				eof = true;
			break;
		}
	}
	T_EQ_INT(rcvd, TOTAL);
	T_CHECK(eof);
	bool exact = true;
	for (size_t i = 0; exact && i < TOTAL; i++)
		exact = got[i] == pat(i);
	T_CHECK(exact);
	T_EQ_INT(sock_splice_stats(sp)->accepted, 1);
	T_EQ_INT(sock_splice_stats(sp)->bytes_in, TOTAL);
	T_EQ_INT(sock_splice_stats(sp)->bytes_out, TOTAL);
	pthread_join(th, NULL);
	if (c >= 0)
		close(c);
	close(tfd);
	sock_splice_stop(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
}

/* Nothing listens at the target: the accepted side is closed. */
static void test_refused(void)
{
	uv_loop_t loop;
	struct sock_splice *sp = NULL;
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t dead, sport;
	int dfd = listen_any(&dead), sfd = listen_any(&sport), c;
	bool closed = false;

	close(dfd); /* a port nobody listens on now */
	uv_loop_init(&loop);
	to.sin_port = htons(dead);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	T_EQ_INT(sock_splice_start(&loop, sfd, (struct sockaddr *)&to, sizeof(to), &sp), 0);
	c = connect_to(sport);
	for (int round = 0; c >= 0 && !closed && round < 200000; round++) {
		char b;
		ssize_t n;

		uv_run(&loop, UV_RUN_NOWAIT);
		n = read(c, &b, 1);
		closed = n == 0 || (n < 0 && errno != EAGAIN);
	}
	T_CHECK(closed);
	T_EQ_INT(sock_splice_stats(sp)->failed, 1);
	if (c >= 0)
		close(c);
	sock_splice_stop(sp);
	uv_run(&loop, UV_RUN_DEFAULT);
	T_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
	T_RUN(test_echo);
	T_RUN(test_refused);
	return test_summary();
}
