/* netns: CMD's namespaces, its TUN and the handshake with the supervisor
 * (see netns.h). Every step reports what failed in a struct netns_report
 * the supervisor turns into the one error line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun2socks/base/sock.h"
#include "tun2socks/app/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/route.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tun2socks/base/log.h"

/* Where the private files are written before they are bound into place: a
 * tmpfs mounted over the first of these directories, in the new mount
 * namespace only, and detached again once its files are bound (the binds
 * keep it alive). Nothing ever touches the host's file systems. */
static const char *const stage_dirs[] = { "/tmp", "/mnt", "/run", "/var/tmp" };

/* Sockets through which a resolver on the host would answer for CMD
 * (systemd-resolved's varlink socket, used by nss-resolve; nscd, which
 * caches host lookups): an empty file is bound over each, so glibc falls
 * back to the DNS servers in resolv.conf, which the TUN serves. */
static const char *const host_resolvers[] = {
	"/run/systemd/resolve/io.systemd.Resolve",
	"/run/nscd/socket",
	"/var/run/nscd/socket",
};

static int netns_fail(struct netns_report *rep, int err, const char *step, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int netns_fail(struct netns_report *rep, int err, const char *step, const char *fmt, ...)
{
	va_list ap;

	rep->err = err;
	snprintf(rep->step, sizeof(rep->step), "%s", step);
	va_start(ap, fmt);
	vsnprintf(rep->text, sizeof(rep->text), fmt, ap);
	va_end(ap);
	return -err;
}

/* ---- the conversation ----------------------------------------------------- */

/* One report, with fd attached when >= 0. */
static int netns_send(int sock, const struct netns_report *rep, int fd)
{
	ssize_t n = sock_send_fd(sock, rep, sizeof(*rep), fd);

	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(*rep) ? 0 : -EPROTO;
}

/* One report and the descriptor that came with it (or -1). 0 for a
 * report, -EPIPE at end of stream, -EPROTO for anything else. */
static int netns_recv(int sock, struct netns_report *rep, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = rep, .iov_len = sizeof(*rep) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;

	*fd = -1;
	memset(rep, 0, sizeof(*rep));
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	}
	if (n == 0)
		return -EPIPE;
	if (n != (ssize_t)sizeof(*rep) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -EPROTO;
	}
	rep->step[sizeof(rep->step) - 1] = '\0';
	rep->text[sizeof(rep->text) - 1] = '\0';
	return 0;
}

int netns_recv_tun(int sock, int *tun_fd, struct netns_report *rep)
{
	int fd, r = netns_recv(sock, rep, &fd);

	*tun_fd = -1;
	if (r == -EPROTO)
		return netns_fail(rep, EPROTO, "handshake", "%s", "a garbled report");
	if (r < 0)
		return r == -EPIPE ? r : netns_fail(rep, -r, "handshake", "%s", "recvmsg");
	if (rep->err != 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return rep->err ? -rep->err
				: netns_fail(rep, EPROTO, "handshake", "%s", "no TUN came");
	}
	*tun_fd = fd;
	return 0;
}

int netns_recv_diag(int sock)
{
	struct netns_report rep;
	int fd;

	if (netns_recv(sock, &rep, &fd) < 0)
		return -1;
	return fd;
}

int netns_recv_listener(int sock)
{
	return netns_recv_diag(sock);
}

/* --allow-host-port: a listener on 127.0.0.1:port inside, for the daemon
 * outside to accept on (docs/design.md §14). The fd or -errno. */
static int netns_listener(uint16_t port, struct netns_report *rep)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return netns_fail(rep, errno, "socket", "%s", "for --allow-host-port");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = errno;

		close(fd);
		return netns_fail(rep, e, "listen", "127.0.0.1:%u (--allow-host-port)", port);
	}
	return fd;
}

int netns_go(int sock)
{
	ssize_t n;

	do
		n = send(sock, "g", 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : n < 0 ? -errno : -EPROTO;
}

int netns_recv_exec(int sock, struct netns_report *rep)
{
	int fd, r = netns_recv(sock, rep, &fd);

	if (fd >= 0)
		close(fd);
	if (r == -EPIPE)
		return 0; /* our end closed on exec */
	if (r < 0)
		return netns_fail(rep, -r, "handshake", "%s", "recvmsg");
	return rep->err ? -rep->err
			: netns_fail(rep, EPROTO, "handshake", "%s", "a report of nothing");
}

/* ---- the namespaces -------------------------------------------------------- */

static int netns_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

/* The user namespace's maps: our uid and gid onto themselves, so CMD sees
 * its usual ids (and no capability once it is executed). setgroups must
 * be denied before an unprivileged process may write gid_map. */
static int netns_map_ids(uid_t uid, gid_t gid, struct netns_report *rep)
{
	char line[64];
	int r;

	r = netns_write_file("/proc/self/setgroups", "deny");
	if (r < 0 && r != -ENOENT) /* before Linux 3.19 there is no such file */
		return netns_fail(rep, -r, "write /proc/self/setgroups", "%s", "");
	snprintf(line, sizeof(line), "%u %u 1", (unsigned)uid, (unsigned)uid);
	r = netns_write_file("/proc/self/uid_map", line);
	if (r < 0)
		return netns_fail(rep, -r, "write /proc/self/uid_map", "%s", line);
	snprintf(line, sizeof(line), "%u %u 1", (unsigned)gid, (unsigned)gid);
	r = netns_write_file("/proc/self/gid_map", line);
	if (r < 0)
		return netns_fail(rep, -r, "write /proc/self/gid_map", "%s", line);
	return 0;
}

static int netns_enter(const struct netns_config *cfg, struct netns_report *rep)
{
	int flags = CLONE_NEWNET | CLONE_NEWNS | (cfg->userns ? CLONE_NEWUSER : 0);
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int r;

	if (unshare(flags) < 0)
		return netns_fail(rep, errno, "unshare", "%s", "");
	if (cfg->userns) {
		r = netns_map_ids(uid, gid, rep);
		if (r < 0)
			return r;
	}
	/* Before any mount: what is mounted here must never propagate back
	 * to the host (systemd makes / shared); mounts the host makes later
	 * still show here. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return netns_fail(rep, errno, "mount --make-rslave /", "%s", "");
	return 0;
}

static int netns_loopback_up(struct netns_report *rep)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return netns_fail(rep, errno, "socket", "%s", "for loopback");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		r = netns_fail(rep, errno, "SIOCGIFFLAGS lo", "%s", "");
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = netns_fail(rep, errno, "bring lo up", "%s", "");
out:
	close(fd);
	return r;
}

/* default dev TUN (IPv4). */
static int netns_route4(const char *dev, struct netns_report *rep)
{
	struct rtentry rt;
	struct sockaddr_in any = { .sin_family = AF_INET };
	char name[IF_NAMESIZE];
	int fd, r = 0;

	memset(&rt, 0, sizeof(rt));
	memcpy(&rt.rt_dst, &any, sizeof(any));
	memcpy(&rt.rt_genmask, &any, sizeof(any));
	rt.rt_flags = RTF_UP;
	snprintf(name, sizeof(name), "%s", dev);
	rt.rt_dev = name;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return netns_fail(rep, errno, "socket", "%s", "for the IPv4 route");
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		r = netns_fail(rep, errno, "route add default", "dev %s", dev);
	close(fd);
	return r;
}

/* default dev TUN (IPv6). */
static int netns_route6(const char *dev, struct netns_report *rep)
{
	struct in6_rtmsg rt;
	int fd, r = 0;

	memset(&rt, 0, sizeof(rt));
	rt.rtmsg_flags = RTF_UP;
	rt.rtmsg_metric = 1;
	rt.rtmsg_ifindex = (int)if_nametoindex(dev);
	if (rt.rtmsg_ifindex == 0)
		return netns_fail(rep, errno, "if_nametoindex", "%s", dev);
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return netns_fail(rep, errno, "socket", "%s", "for the IPv6 route");
	if (ioctl(fd, SIOCADDRT, &rt) < 0)
		r = netns_fail(rep, errno, "route add -6 default", "dev %s", dev);
	close(fd);
	return r;
}

/* The TUN with the daemon's settings, and every route into it. A kernel
 * without IPv6 (or with it disabled) gets IPv4 alone, with a warning. */
static int netns_tun(const struct netns_config *cfg, struct tun **out, struct netns_report *rep)
{
	struct tun_config tc = cfg->tun;
	char err[256] = "";
	int r;

	tc.fd = -1;
	r = tun_open(&tc, out, err, sizeof(err));
	if (r == -EAFNOSUPPORT && tc.has_addr6 && tc.has_addr4) {
		log_warn("run: %s: CMD gets IPv4 only", err);
		tc.has_addr6 = false;
		r = tun_open(&tc, out, err, sizeof(err));
	}
	if (r < 0)
		return netns_fail(rep, -r,
				  strncmp(err, "open /dev/net/tun", 17) == 0 ? "open /dev/net/tun"
									     : "TUN",
				  "%s", err);
	if (tc.has_addr4) {
		r = netns_route4(tun_name(*out), rep);
		if (r < 0)
			return r;
	}
	if (tc.has_addr6) {
		r = netns_route6(tun_name(*out), rep);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A new file holding text (mode 0644). */
static int netns_put_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ssize_t n = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	if (len > 0)
		n = write(fd, text, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

/* Binds the staged file over target, read-only. Returns -errno. */
static int netns_bind_file(const char *file, const char *target)
{
	if (mount(file, target, NULL, MS_BIND, NULL) < 0)
		return -errno;
	/* Read-only is a courtesy (CMD cannot edit the file we wrote); the
	 * bind alone is what matters. */
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		log_debug("run: %s stays writable: %s", target, strerror(errno));
	return 0;
}

/* CMD's /etc/resolv.conf, and host resolvers' sockets out of its way. A
 * host without /etc/resolv.conf (or with a dangling link) keeps it so,
 * with a warning: the file cannot be made without changing the host. */
static int netns_resolv(const char *text, struct netns_report *rep)
{
	char conf[64], empty[64];
	const char *stage = NULL;
	struct stat st;
	int r = 0;

	for (size_t i = 0; i < sizeof(stage_dirs) / sizeof(stage_dirs[0]); i++) {
		if (stat(stage_dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			stage = stage_dirs[i];
			break;
		}
	}
	if (stage == NULL)
		return netns_fail(rep, ENOENT, "resolv.conf", "%s",
				  "no directory to stage it in (/tmp, /mnt, /run, /var/tmp)");
	if (mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") <
	    0)
		return netns_fail(rep, errno, "mount tmpfs", "on %s", stage);
	snprintf(conf, sizeof(conf), "%s/resolv.conf", stage);
	snprintf(empty, sizeof(empty), "%s/empty", stage);
	r = netns_put_file(conf, text);
	if (r == 0)
		r = netns_put_file(empty, "");
	if (r < 0) {
		r = netns_fail(rep, -r, "resolv.conf", "write %s", conf);
		goto out;
	}
	r = netns_bind_file(conf, "/etc/resolv.conf");
	if (r == -ENOENT) {
		log_warn("run: /etc/resolv.conf does not exist (or is a dangling link): CMD's "
			 "resolver uses its defaults");
		r = 0;
	} else if (r < 0) {
		r = netns_fail(rep, -r, "mount --bind", "%s over /etc/resolv.conf", conf);
		goto out;
	}
	for (size_t i = 0; i < sizeof(host_resolvers) / sizeof(host_resolvers[0]); i++) {
		const char *p = host_resolvers[i];

		if (lstat(p, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (netns_bind_file(empty, p) < 0)
			log_warn("run: cannot hide %s from CMD (%s): its lookups may bypass the "
				 "TUN",
				 p, strerror(errno));
	}
out:
	/* The binds hold the tmpfs; the staging mount itself goes. */
	if (umount2(stage, MNT_DETACH) < 0 && r == 0)
		r = netns_fail(rep, errno, "umount", "%s", stage);
	return r;
}

/* ---- CMD --------------------------------------------------------------- */

/* Root's command runs as the user who asked (netns_config.drop); then it
 * must die with the supervisor (a changed identity cleared the death
 * signal) and get the signal mask it was started with. */
static int netns_become(const struct netns_config *cfg, struct netns_report *rep)
{
	if (cfg->drop) {
		struct passwd *pw = getpwuid(cfg->uid);
		int r = pw ? initgroups(pw->pw_name, cfg->gid) : setgroups(1, &cfg->gid);

		if (r < 0)
			return netns_fail(rep, errno, "setgroups", "for uid %u",
					  (unsigned)cfg->uid);
		if (setgid(cfg->gid) < 0)
			return netns_fail(rep, errno, "setgid", "%u", (unsigned)cfg->gid);
		if (setuid(cfg->uid) < 0)
			return netns_fail(rep, errno, "setuid", "%u", (unsigned)cfg->uid);
		if (setuid(0) == 0)
			return netns_fail(rep, EPERM, "setuid", "%s", "root could be regained");
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return netns_fail(rep, errno, "prctl", "%s", "PR_SET_PDEATHSIG");
	if (getppid() != cfg->parent)
		_exit(1); /* the supervisor is gone: so is the daemon */
	if (sigprocmask(SIG_SETMASK, &cfg->sigmask, NULL) < 0)
		return netns_fail(rep, errno, "sigprocmask", "%s", "");
	return 0;
}

/* The supervisor's go: 0, or -EPIPE when it went away instead. */
static int netns_wait_go(int sock)
{
	char c;
	ssize_t n;

	do
		n = recv(sock, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -EPIPE;
}

void netns_child(const struct netns_config *cfg, int sock)
{
	struct netns_report rep;
	struct tun *tun = NULL;
	int r, diag, lfd[8];
	unsigned nl = 0;

	memset(&rep, 0, sizeof(rep));
	/* Until CMD runs nobody but the supervisor waits for us. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != cfg->parent)
		_exit(1);
	r = netns_enter(cfg, &rep);
	if (r == 0)
		r = netns_loopback_up(&rep);
	if (r == 0)
		r = netns_tun(cfg, &tun, &rep);
	if (r == 0 && cfg->resolv)
		r = netns_resolv(cfg->resolv, &rep);
	for (; r == 0 && nl < cfg->n_host_ports && nl < 8; nl++) {
		lfd[nl] = netns_listener(cfg->host_ports[nl], &rep);
		if (lfd[nl] < 0)
			r = lfd[nl];
	}
	if (r < 0)
		goto fail; /* a TUN made already goes with us */
	/* The TUN is close-on-exec: once CMD runs, the daemon holds the only
	 * descriptor, and the device disappears with it. */
	if (netns_send(sock, &rep, tun_fd(tun)) < 0)
		_exit(1); /* the supervisor is gone */
	/* A sock_diag socket answers for the namespace it was made in. */
	diag = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (netns_send(sock, &rep, diag) < 0)
		_exit(1);
	for (unsigned i = 0; i < nl; i++) {
		if (netns_send(sock, &rep, lfd[i]) < 0)
			_exit(1);
		close(lfd[i]); /* the daemon holds it now */
	}
	if (netns_wait_go(sock) < 0)
		_exit(1);
	if (diag >= 0)
		close(diag);
	r = netns_become(cfg, &rep);
	if (r == 0) {
		execvp(cfg->argv[0], cfg->argv);
		r = netns_fail(&rep, errno, "execvp", "%s", cfg->argv[0]);
	}
fail:
	if (netns_send(sock, &rep, -1) < 0)
		log_debug("run: cannot report %s: %s", rep.step, strerror(-r));
	_exit(1);
}
