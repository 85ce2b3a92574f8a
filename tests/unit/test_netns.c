/* `tun2socks run`'s handshake (tun2socks/app/netns_linux.c): the
 * supervisor's half reading crafted reports, and, as root, the whole child:
 * a namespace with a TUN, CMD's resolv.conf, the TUN handed over, CMD
 * executed (or its exec failure reported). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#ifdef __linux__
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "tun2socks/app/netns.h"
#include "tun2socks/base/sock.h"

static int pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

/* What the child sends: a report, with fd attached when >= 0. */
static void send_report(int sock, const struct netns_report *rep, size_t len, int fd)
{
	T_EQ_INT(sock_send_fd(sock, rep, len, fd), (long long)len);
}

static void test_recv(void)
{
	struct netns_report rep = { 0 }, got;
	int sv[2], p[2], fd;
	char c;

	/* The TUN (here a pipe) arrives close-on-exec. */
	T_EQ_INT(pair(sv), 0);
	T_EQ_INT(pipe(p), 0);
	send_report(sv[1], &rep, sizeof(rep), p[0]);
	T_EQ_INT(netns_recv_tun(sv[0], &fd, &got), 0);
	T_CHECK(fd >= 0 && fd != p[0]);
	T_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	T_EQ_INT(write(p[1], "x", 1), 1);
	T_EQ_INT(read(fd, &c, 1), 1);
	close(fd);
	close(p[0]);
	close(p[1]);
	/* The go. */
	T_EQ_INT(netns_go(sv[0]), 0);
	T_EQ_INT(recv(sv[1], &c, 1, 0), 1);
	/* A failed step. */
	rep.err = EACCES;
	snprintf(rep.step, sizeof(rep.step), "open /dev/net/tun");
	snprintf(rep.text, sizeof(rep.text), "open /dev/net/tun: Permission denied");
	send_report(sv[1], &rep, sizeof(rep), -1);
	T_EQ_INT(netns_recv_tun(sv[0], &fd, &got), -EACCES);
	T_EQ_INT(fd, -1);
	T_EQ_STR(got.step, "open /dev/net/tun");
	T_EQ_STR(got.text, "open /dev/net/tun: Permission denied");
	/* A report with no error and no TUN. */
	rep.err = 0;
	send_report(sv[1], &rep, sizeof(rep), -1);
	T_EQ_INT(netns_recv_tun(sv[0], &fd, &got), -EPROTO);
	T_EQ_STR(got.step, "handshake");
	/* Garbage: too short. */
	send_report(sv[1], &rep, 10, -1);
	T_EQ_INT(netns_recv_tun(sv[0], &fd, &got), -EPROTO);
	/* Unterminated strings come back terminated. */
	memset(&rep, 'A', sizeof(rep));
	rep.err = EIO;
	send_report(sv[1], &rep, sizeof(rep), -1);
	T_EQ_INT(netns_recv_exec(sv[0], &got), -EIO);
	T_EQ_INT(strlen(got.step), sizeof(got.step) - 1);
	T_EQ_INT(strlen(got.text), sizeof(got.text) - 1);
	/* The child's end closed: before the TUN, a death; after the go, the
	 * exec. */
	close(sv[1]);
	T_EQ_INT(netns_recv_tun(sv[0], &fd, &got), -EPIPE);
	T_EQ_INT(netns_recv_exec(sv[0], &got), 0);
	close(sv[0]);
}

/* The real child, as root: it needs CAP_SYS_ADMIN and CAP_NET_ADMIN. */
static void run_child(char *const *argv, int *exec_rc, struct netns_report *rep, int *status)
{
	struct netns_config nc = {
		.tun = { .fd = -1,
			 .framing = -1,
			 .mtu = 1500,
			 .has_addr4 = true,
			 .addr4 = { 198, 18, 0, 1 },
			 .prefix4 = 15 },
		.resolv = "nameserver 198.18.0.2\n",
		.argv = argv,
		.parent = getpid(),
	};
	struct ifreq ifr;
	int sv[2], tun = -1;
	pid_t pid;

	sigemptyset(&nc.sigmask);
	T_EQ_INT(pair(sv), 0);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		netns_child(&nc, sv[1]);
	}
	close(sv[1]);
	T_EQ_INT(netns_recv_tun(sv[0], &tun, rep), 0);
	/* A TUN, made inside (our namespace has no such device). */
	memset(&ifr, 0, sizeof(ifr));
	T_EQ_INT(ioctl(tun, TUNGETIFF, &ifr), 0);
	T_CHECK((ifr.ifr_flags & IFF_TUN) != 0);
	{
		struct stat ns, self;
		int nsfd = ioctl(tun, TUNGETDEVNETNS);

		/* Linux >= 5.2 says where the device lives: not here. */
		if (nsfd >= 0) {
			T_EQ_INT(fstat(nsfd, &ns), 0);
			T_EQ_INT(stat("/proc/self/ns/net", &self), 0);
			T_CHECK(ns.st_ino != self.st_ino);
			close(nsfd);
		}
	}
	/* Then a sock_diag socket of CMD's namespace, for PROCESS-NAME. */
	{
		int diag = netns_recv_diag(sv[0]), dom = 0, proto = 0;
		socklen_t len = sizeof(int);
		struct stat ns, self;
		int nsfd;

		T_CHECK(diag >= 0);
		T_EQ_INT(getsockopt(diag, SOL_SOCKET, SO_DOMAIN, &dom, &len), 0);
		len = sizeof(int);
		T_EQ_INT(getsockopt(diag, SOL_SOCKET, SO_PROTOCOL, &proto, &len), 0);
		T_EQ_INT(dom, AF_NETLINK);
		T_EQ_INT(proto, NETLINK_SOCK_DIAG);
		nsfd = ioctl(diag, SIOCGSKNS);
		if (nsfd >= 0) { /* Linux >= 4.9: made in the new namespace */
			T_EQ_INT(fstat(nsfd, &ns), 0);
			T_EQ_INT(stat("/proc/self/ns/net", &self), 0);
			T_CHECK(ns.st_ino != self.st_ino);
			close(nsfd);
		}
		if (diag >= 0)
			close(diag);
	}
	T_EQ_INT(netns_go(sv[0]), 0);
	*exec_rc = netns_recv_exec(sv[0], rep);
	T_EQ_INT(waitpid(pid, status, 0), pid);
	close(tun);
	close(sv[0]);
}

static void test_child(void)
{
	char *const ok[] = { "/bin/sh", "-c",
			     "grep -qx 'nameserver 198.18.0.2' /etc/resolv.conf && "
			     "grep -q 'tun[0-9]*:' /proc/net/dev && exit 5",
			     NULL };
	char *const missing[] = { "/nonexistent/cmd", NULL };
	struct netns_report rep;
	struct stat before, after;
	int rc, st;

	if (geteuid() != 0) {
		printf("skipped the child test: not root\n");
		return;
	}
	T_EQ_INT(stat("/etc/resolv.conf", &before), 0);
	run_child(ok, &rc, &rep, &st);
	T_EQ_INT(rc, 0);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
	run_child(missing, &rc, &rep, &st);
	T_EQ_INT(rc, -ENOENT);
	T_EQ_STR(rep.step, "execvp");
	T_EQ_STR(rep.text, "/nonexistent/cmd");
	/* The host's file is the host's. */
	T_EQ_INT(stat("/etc/resolv.conf", &after), 0);
	T_CHECK(before.st_ino == after.st_ino && before.st_dev == after.st_dev);
}

int main(void)
{
	T_RUN(test_recv);
	T_RUN(test_child);
	return test_summary();
}
#else
int main(void)
{
	printf("netns is Linux only\n");
	return test_summary();
}
#endif
