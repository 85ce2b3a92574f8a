/* proc_lookup on Linux (research.md s. 8): NETLINK_SOCK_DIAG, then /proc.
 *
 * 1. The socket: a SOCK_DIAG_BY_FAMILY dump filtered by local port (the
 *    kernel applies idiag_sport to dumps; we check it again), matched on
 *    the exact local address here. A dump is used rather than an exact
 *    lookup because a TCP exact lookup needs the remote end too. For an
 *    IPv4 source the AF_INET6 table is asked as well (dual-stack sockets
 *    show the v4-mapped address), and for UDP an unconnected socket bound
 *    to the wildcard address matches when nothing is exact. Sockets
 *    without an inode (TIME_WAIT, request socks) are skipped.
 * 2. The process: the pid with a "socket:[inode]" link in /proc/PID/fd.
 *    Cost: one readlink per open fd of every process scanned (a desktop
 *    has ~10^4 fds: a few ms). Processes owned by the socket's uid are
 *    scanned first; found (inode, pid, fd) triples are remembered and
 *    re-checked with a single readlink. Without CAP_SYS_PTRACE (or
 *    root) only our own user's processes can be read.
 * 3. Name and path: readlink /proc/PID/exe and its basename, else
 *    /proc/PID/comm (15 bytes, but readable for every process).
 */
#define _GNU_SOURCE

#include "tun2socks/route/proc_lookup_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
	PROC_INODE_SLOTS = 64,
	PROC_NL_BUF = 32768,
};

/* Where a found socket's inode was last seen open. */
struct inode_ent {
	unsigned long ino; /* 0: free */
	pid_t pid;
	int fd;
};

struct proc_platform {
	int nl; /* NETLINK_SOCK_DIAG */
	uint32_t seq;
	struct inode_ent inodes[PROC_INODE_SLOTS];
	size_t next_inode; /* round-robin replacement */
	uint8_t buf[PROC_NL_BUF];
};

/* The best socket seen so far for a key: lower rank is better. */
struct match {
	int rank; /* 0 exact, 1 v4-mapped, 2 wildcard, 3 v6 wildcard for v4; 9 none */
	uid_t uid;
	unsigned long ino;
};

int proc_platform_create(struct proc_platform **out, int diag_fd)
{
	struct proc_platform *p;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (diag_fd >= 0)
			close(diag_fd);
		return -ENOMEM;
	}
	/* A sock_diag socket answers for the network namespace it was made
	 * in: one made in `tun2socks run`'s namespace sees CMD's sockets
	 * (docs/design.md §14). */
	p->nl = diag_fd >= 0 ? diag_fd
			     : socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (p->nl < 0) {
		int r = -errno;

		free(p);
		return r;
	}
	*out = p;
	return 0;
}

void proc_platform_destroy(struct proc_platform *p)
{
	if (!p)
		return;
	close(p->nl);
	free(p);
}

static bool is_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

/* INET_DIAG_SKV6ONLY from the message's attributes; false if absent. */
static bool diag_v6only(const struct nlmsghdr *h, const struct inet_diag_msg *m)
{
	const struct rtattr *a = (const struct rtattr *)(m + 1);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			return *(const uint8_t *)RTA_DATA(a) != 0;
	return false;
}

/* Rank of one socket for k, or 9 if it does not match. */
static int rank_of(const struct proc_key *k, const struct nlmsghdr *h,
		   const struct inet_diag_msg *m)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const uint8_t *src = (const uint8_t *)m->id.idiag_src;
	bool udp = k->proto == IPPROTO_UDP;

	if (ntohs(m->id.idiag_sport) != k->port || m->idiag_inode == 0)
		return 9;
	if (m->idiag_family == AF_INET) {
		if (k->family != AF_INET)
			return 9;
		if (!memcmp(src, k->addr, 4))
			return 0;
		return udp && is_zero(src, 4) ? 2 : 9;
	}
	if (m->idiag_family != AF_INET6)
		return 9;
	if (k->family == AF_INET6) {
		if (!memcmp(src, k->addr, 16))
			return 0;
		return udp && is_zero(src, 16) ? 2 : 9;
	}
	if (!memcmp(src, mapped, 12) && !memcmp(src + 12, k->addr, 4))
		return 1;
	return udp && is_zero(src, 16) && !diag_v6only(h, m) ? 3 : 9;
}

/* Dumps family's sockets of k's protocol on k's port into best. */
static int diag_dump(struct proc_platform *p, const struct proc_key *k, int family,
		     struct match *best)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	uint32_t seq = ++p->seq;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = seq;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = k->proto;
	/* TCP: every state but LISTEN (a listener is nobody's flow source);
	 * UDP sockets use ESTABLISHED (connected) and CLOSE (unconnected). */
	msg.req.idiag_states = k->proto == IPPROTO_TCP ? ~(1U << TCP_LISTEN) : ~0U;
	msg.req.id.idiag_sport = htons(k->port);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	while (sendto(p->nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	       0) {
		if (errno != EINTR)
			return -errno;
	}
	for (;;) {
		ssize_t n = recv(p->nl, p->buf, sizeof(p->buf), 0);
		const struct nlmsghdr *h = (const struct nlmsghdr *)p->buf;
		unsigned int len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		len = (unsigned int)n;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			const struct inet_diag_msg *m;
			int rank;

			/* A reply to an earlier, abandoned request. */
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EIO;
				/* No IPv6 (or no UDP diag module): nothing there. */
				if (e->error == -ENOENT || e->error == -EAFNOSUPPORT)
					return 0;
				return e->error ? e->error : -EIO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			m = NLMSG_DATA(h);
			rank = rank_of(k, h, m);
			if (rank < best->rank) {
				best->rank = rank;
				best->uid = m->idiag_uid;
				best->ino = m->idiag_inode;
			}
		}
	}
}

static bool fd_is_socket(int dirfd, const char *name, const char *want)
{
	char link[64];
	ssize_t n = readlinkat(dirfd, name, link, sizeof(link) - 1);

	if (n < 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, want);
}

/* Looks through one process's fds; the fd number on success, else -1. */
static int scan_pid(int procfd, const char *pid, const char *want)
{
	char path[300];
	struct dirent *de;
	int fd, found = -1;
	DIR *d;

	snprintf(path, sizeof(path), "%s/fd", pid);
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1; /* gone, or another user's without privileges */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while (found < 0 && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if (fd_is_socket(dirfd(d), de->d_name, want))
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

static pid_t find_pid(struct proc_platform *p, unsigned long ino, uid_t uid)
{
	char want[48], path[64];
	struct dirent *de;
	pid_t pid = 0;
	DIR *proc;

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	for (size_t i = 0; i < PROC_INODE_SLOTS; i++) {
		struct inode_ent *e = &p->inodes[i];

		if (e->ino != ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)e->pid, e->fd);
		if (fd_is_socket(AT_FDCWD, path, want))
			return e->pid;
		e->ino = 0; /* closed, or the process is gone */
	}

	proc = opendir("/proc");
	if (!proc)
		return 0;
	/* Pass 0: the socket owner's processes; pass 1: everyone else. */
	for (int pass = 0; pass < 2 && !pid; pass++) {
		rewinddir(proc);
		while (!pid && (de = readdir(proc))) {
			struct stat st;
			int fd;

			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			if (fstatat(dirfd(proc), de->d_name, &st, 0) < 0)
				continue;
			if ((st.st_uid == uid) != (pass == 0))
				continue;
			fd = scan_pid(dirfd(proc), de->d_name, want);
			if (fd >= 0) {
				struct inode_ent *e =
					&p->inodes[p->next_inode++ % PROC_INODE_SLOTS];

				pid = (pid_t)atoi(de->d_name);
				*e = (struct inode_ent){ ino, pid, fd };
			}
		}
	}
	closedir(proc);
	return pid;
}

static void read_names(pid_t pid, struct proc_info *out)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out->path, sizeof(out->path) - 1);
	out->path[n > 0 ? n : 0] = '\0';
	if (out->path[0] == '/' && proc_basename(out->path, out->name, sizeof(out->name)))
		return;
	out->path[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out->name, sizeof(out->name) - 1);
	close(fd);
	out->name[n > 0 ? n : 0] = '\0';
	out->name[strcspn(out->name, "\n")] = '\0';
}

int proc_platform_find(struct proc_platform *p, const struct proc_key *k, struct proc_info *out)
{
	struct match best = { .rank = 9 };
	int r;

	r = diag_dump(p, k, k->family, &best);
	if (r == 0 && k->family == AF_INET && best.rank != 0)
		r = diag_dump(p, k, AF_INET6, &best);
	if (r < 0)
		return r;
	if (best.rank == 9)
		return -ENOENT;
	out->uid = best.uid;
	out->pid = find_pid(p, best.ino, best.uid);
	if (out->pid)
		read_names(out->pid, out);
	return 0;
}
