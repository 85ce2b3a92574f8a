/* Unit tests for proc_lookup: sockets of this process and of a child,
 * found by their local address as a TUN flow's source would give it. */
#define _GNU_SOURCE

#include "tun2socks/route/proc_lookup.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0 /* macOS */
#endif

static struct proc_lookup *shared; /* uncached, for the tests below */
static char self_path[PROC_LOOKUP_PATH_MAX];
static const char *self_name;

static void init_self(const char *argv0)
{
#ifdef __linux__
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	self_path[n > 0 ? n : 0] = '\0';
#else
	snprintf(self_path, sizeof(self_path), "%s", argv0);
#endif
	self_name = strrchr(self_path, '/');
	self_name = self_name ? self_name + 1 : self_path;
	(void)argv0;
}

/* A socket of type bound to addr (port 0: any); its local address in *sa. */
static int bound_socket(int family, int type, const char *addr, struct sockaddr_storage *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &s4->sin_addr);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
		int off = 0;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		/* Dual-stack on purpose (Linux's default, but be explicit). */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	}
	if (bind(fd, (struct sockaddr *)sa,
		 family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) <
		    0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &s.sin_addr);
	return s;
}

static uint16_t port_of(const struct sockaddr_storage *sa)
{
	return ntohs(sa->ss_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
					      : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

static void expect_self(const struct proc_info *pi)
{
	T_EQ_INT(pi->pid, getpid());
	T_EQ_INT(pi->uid, getuid());
	T_EQ_STR(pi->name, self_name);
#ifdef __linux__
	T_EQ_STR(pi->path, self_path);
#endif
}

static void test_tcp(void)
{
	struct proc_lookup *pl = shared;
	struct sockaddr_storage lsa, csa;
	socklen_t len = sizeof(csa);
	struct proc_info pi;
	int lfd, cfd, afd;

	lfd = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &lsa);
	T_CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	T_EQ_INT(listen(lfd, 1), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_EQ_INT(connect(cfd, (struct sockaddr *)&lsa, sizeof(struct sockaddr_in)), 0);
	afd = accept(lfd, NULL, NULL);
	T_CHECK(afd >= 0);
	T_EQ_INT(getsockname(cfd, (struct sockaddr *)&csa, &len), 0);

	/* The client side, as the flow source a TUN would see. */
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&csa, &pi), 0);
	expect_self(&pi);
	/* Same port, other address: not ours. */
	{
		struct sockaddr_in other = v4("127.0.0.2", port_of(&csa));

		T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&other, &pi),
			 -ENOENT);
		T_EQ_INT(pi.pid, 0);
	}
	/* The listener is skipped: its port is nobody's source. Here the
	 * accepted socket shares it and is found instead. */
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&lsa, &pi), 0);
	expect_self(&pi);
	/* UDP on a TCP port: nothing. */
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&csa, &pi), -ENOENT);

	close(afd);
	close(cfd);
	close(lfd);
}

static void test_tcp6(void)
{
	struct proc_lookup *pl = shared;
	struct sockaddr_storage lsa, csa;
	socklen_t len = sizeof(csa);
	struct proc_info pi;
	int lfd, cfd, afd;

	lfd = bound_socket(AF_INET6, SOCK_STREAM, "::1", &lsa);
	if (lfd < 0) {
		fprintf(stderr, "  no IPv6 loopback: IPv6 TCP skipped\n");
		return;
	}
	T_EQ_INT(listen(lfd, 1), 0);
	cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	T_EQ_INT(connect(cfd, (struct sockaddr *)&lsa, sizeof(struct sockaddr_in6)), 0);
	afd = accept(lfd, NULL, NULL);
	T_EQ_INT(getsockname(cfd, (struct sockaddr *)&csa, &len), 0);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&csa, &pi), 0);
	expect_self(&pi);
	close(afd);
	close(cfd);
	close(lfd);

	/* A dual-stack socket talking IPv4 shows the v4-mapped address. */
	lfd = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &lsa);
	T_EQ_INT(listen(lfd, 1), 0);
	cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in6 to = { .sin6_family = AF_INET6,
					   .sin6_port = ((struct sockaddr_in *)&lsa)->sin_port };
		struct sockaddr_in6 *c6 = (struct sockaddr_in6 *)&csa;
		struct sockaddr_in src;

		inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr);
		T_EQ_INT(connect(cfd, (struct sockaddr *)&to, sizeof(to)), 0);
		afd = accept(lfd, NULL, NULL);
		len = sizeof(csa);
		T_EQ_INT(getsockname(cfd, (struct sockaddr *)&csa, &len), 0);
		/* The TUN sees an IPv4 source. */
		src = v4("127.0.0.1", ntohs(c6->sin6_port));
		T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&src, &pi), 0);
		expect_self(&pi);
	}
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_udp(void)
{
	struct proc_lookup *pl = shared;
	struct sockaddr_storage sa;
	struct sockaddr_in src;
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	struct proc_info pi;
	int fd;

	/* Bound to the exact address. */
	fd = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &sa);
	T_CHECK(fd >= 0);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&sa, &pi), 0);
	expect_self(&pi);
	/* The same, written as a v4-mapped IPv6 address. */
	mapped.sin6_port = ((struct sockaddr_in *)&sa)->sin_port;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&mapped, &pi), 0);
	expect_self(&pi);
	/* Exact means exact. */
	src = v4("127.0.0.3", port_of(&sa));
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&src, &pi), -ENOENT);
	close(fd);

	/* Unconnected on the wildcard address: any source address matches. */
	fd = bound_socket(AF_INET, SOCK_DGRAM, "0.0.0.0", &sa);
	src = v4("127.0.0.3", port_of(&sa));
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&src, &pi), 0);
	expect_self(&pi);
	close(fd);

	/* Dual-stack IPv6 wildcard socket sending IPv4. */
	fd = bound_socket(AF_INET6, SOCK_DGRAM, "::", &sa);
	if (fd < 0) {
		fprintf(stderr, "  no IPv6: dual-stack UDP skipped\n");
		return;
	}
	src = v4("127.0.0.1", port_of(&sa));
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&src, &pi), 0);
	expect_self(&pi);
	close(fd);
}

static void test_unknown(void)
{
	struct proc_lookup *pl = shared;
	struct sockaddr_storage sa;
	struct sockaddr_in bad;
	struct proc_info pi;
	int fd;

	/* A port nobody holds any more. */
	fd = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &sa);
	close(fd);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&sa, &pi), -ENOENT);
	T_EQ_INT(pi.pid, 0);
	T_EQ_STR(pi.name, "");
	fd = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", &sa);
	close(fd);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&sa, &pi), -ENOENT);

	bad = v4("127.0.0.1", 0);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&bad, &pi), -EINVAL);
	bad = v4("127.0.0.1", 53);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_ICMP, (struct sockaddr *)&bad, &pi), -EINVAL);
	bad.sin_family = AF_UNIX;
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&bad, &pi), -EINVAL);
}

/* A forked child holds a UDP socket until the parent is done. */
static void test_child(void)
{
	struct proc_lookup *pl = shared;
	int up[2], down[2];
	uint16_t port = 0;
	struct proc_info pi;
	pid_t child;
	int status;

	T_EQ_INT(pipe(up), 0);
	T_EQ_INT(pipe(down), 0);
	child = fork();
	T_CHECK(child >= 0);
	if (child < 0)
		return;
	if (child == 0) {
		struct sockaddr_storage sa;
		int fd = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &sa);
		uint16_t p = fd >= 0 ? port_of(&sa) : 0;
		char c;

		close(up[0]);
		close(down[1]);
		if (write(up[1], &p, sizeof(p)) != sizeof(p))
			_exit(1);
		/* Wait for the parent's lookup (EOF on the pipe). */
		while (read(down[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	T_EQ_INT(read(up[0], &port, sizeof(port)), (long)sizeof(port));
	T_CHECK(port != 0);
	{
		struct sockaddr_in src = v4("127.0.0.1", port);

		T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&src, &pi), 0);
		T_EQ_INT(pi.pid, child);
		T_EQ_INT(pi.uid, getuid());
		T_EQ_STR(pi.name, self_name); /* forked, not exec'd */
		/* Again: the remembered inode is re-checked, not rescanned. */
		T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&src, &pi), 0);
		T_EQ_INT(pi.pid, child);
	}
	close(down[1]);
	close(up[0]);
	T_EQ_INT(waitpid(child, &status, 0), child);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A cached result outlives its socket until the cache entry expires. */
static void test_cache(void)
{
	struct proc_lookup *pl = proc_lookup_create(60000);
	struct sockaddr_storage sa;
	struct proc_info pi;
	int fd;

	T_CHECK(pl != NULL);
	if (!pl)
		return;
	fd = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", &sa);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&sa, &pi), 0);
	close(fd);
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_UDP, (struct sockaddr *)&sa, &pi), 0);
	expect_self(&pi);
	/* TCP is another key. */
	T_EQ_INT(proc_lookup_find(pl, IPPROTO_TCP, (struct sockaddr *)&sa, &pi), -ENOENT);
	proc_lookup_destroy(pl);
}

int main(int argc, char **argv)
{
	(void)argc;
	init_self(argv[0]);
	shared = proc_lookup_create(0);
	if (!shared) {
		/* e.g. a seccomp sandbox without NETLINK_SOCK_DIAG */
		fprintf(stderr, "proc_lookup_create: %s: skipped\n", strerror(errno));
		return test_summary();
	}
	T_RUN(test_tcp);
	T_RUN(test_tcp6);
	T_RUN(test_udp);
	T_RUN(test_unknown);
	T_RUN(test_child);
	T_RUN(test_cache);
	proc_lookup_destroy(shared);
	return test_summary();
}
