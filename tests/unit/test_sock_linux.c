/* sock on Linux: what sock_open() and sock_keepalive() leave on a socket
 * (TCP_NODELAY; keepalive at mihomo's defaults, at the config's values,
 * or off), read back from the kernel. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tun2socks/base/sock.h"
#include "test.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	T_EQ_INT(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* The keepalive of fd: on, idle, interval, probes. */
static void expect_keepalive(int fd, int on, int idle, int intvl, int cnt)
{
	T_EQ_INT(opt(fd, SOL_SOCKET, SO_KEEPALIVE), on);
	if (!on)
		return;
	T_EQ_INT(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), idle);
	T_EQ_INT(opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), intvl);
	T_EQ_INT(opt(fd, IPPROTO_TCP, TCP_KEEPCNT), cnt);
}

/* A TCP socket from sock_open() with keepalive asked for as o says. */
static int open_ka(int family, const struct sock_opts *o)
{
	int fd = sock_open(family, SOCK_STREAM, o);

	T_CHECK(fd >= 0);
	if (fd >= 0) {
		T_EQ_INT(opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
		/* none until asked: short flows skip the system calls */
		T_EQ_INT(opt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
		T_EQ_INT(sock_keepalive(fd, o), 0);
	}
	return fd;
}

static void test_defaults(void)
{
	struct sock_opts o = { 0 };
	int fd;

	/* Zeroed options and none at all: mihomo's 15 s / 15 s, 9 probes. */
	fd = open_ka(AF_INET, &o);
	expect_keepalive(fd, 1, 15, 15, 9);
	close(fd);
	fd = open_ka(AF_INET6, NULL);
	expect_keepalive(fd, 1, 15, 15, 9);
	close(fd);
}

static void test_configured(void)
{
	struct sock_opts o = { .keepalive_idle_s = 2, .keepalive_intvl_s = 3 };
	int fd;

	fd = open_ka(AF_INET, &o);
	expect_keepalive(fd, 1, 2, 3, 9);
	close(fd);
	/* One of the two set: the other at its default. */
	o.keepalive_idle_s = 0;
	o.keepalive_intvl_s = SOCK_KEEPALIVE_MAX_S;
	fd = open_ka(AF_INET, &o);
	expect_keepalive(fd, 1, 15, (int)SOCK_KEEPALIVE_MAX_S, 9);
	close(fd);
}

static void test_off(void)
{
	struct sock_opts o = { .keepalive_off = true, .keepalive_idle_s = 2 };
	int fd;

	fd = open_ka(AF_INET, &o);
	expect_keepalive(fd, 0, 0, 0, 0);
	close(fd);
}

/* Out of the kernel's range: the error comes back. */
static void test_refused(void)
{
	struct sock_opts o = { .keepalive_idle_s = SOCK_KEEPALIVE_MAX_S + 1 };
	int fd = sock_open(AF_INET, SOCK_STREAM, &o);

	T_CHECK(fd >= 0);
	T_EQ_INT(sock_keepalive(fd, &o), -EINVAL);
	o.keepalive_idle_s = 0;
	o.keepalive_intvl_s = SOCK_KEEPALIVE_MAX_S + 1;
	T_EQ_INT(sock_keepalive(fd, &o), -EINVAL);
	close(fd);
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_configured);
	T_RUN(test_off);
	T_RUN(test_refused);
	return test_summary();
}
