/* The startup privilege check (tun2socks/priv.c and the platform half):
 * the decision, the OS question, and that daemon_run() asks it first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/capability.h>
#include <sys/syscall.h>
#endif

#include "tun2socks/app/cli.h"
#include "tun2socks/app/daemon.h"
#include "tun2socks/app/priv.h"
#include "test.h"

static void test_decision(void)
{
	struct priv_facts f = { .tun_admin = 1, .tun_fd = -1, .hint = "HINT" };
	char why[256];

	T_EQ_INT(priv_check(&f, why, sizeof(why)), 0);
	T_EQ_STR(why, "");
	/* Cannot tell: go on, tun_open() will say what failed. */
	f.tun_admin = -ENOSYS;
	T_EQ_INT(priv_check(&f, why, sizeof(why)), 0);
	f.tun_admin = 0;
	T_EQ_INT(priv_check(&f, why, sizeof(why)), -EPERM);
	T_EQ_STR(why, "cannot create the TUN device: HINT, or pass an already-open TUN "
		      "descriptor with --tun-fd N");
	/* An open --tun-fd needs no privilege... */
	f.tun_fd = 7;
	f.tun_fd_open = true;
	T_EQ_INT(priv_check(&f, why, sizeof(why)), 0);
	T_EQ_STR(why, "");
	/* ...a closed one is an error whatever the privilege. */
	f.tun_fd_open = false;
	T_EQ_INT(priv_check(&f, why, sizeof(why)), -EBADF);
	T_EQ_STR(why, "--tun-fd 7: not an open file descriptor");
	f.tun_admin = 1;
	T_EQ_INT(priv_check(&f, why, sizeof(why)), -EBADF);
	/* why may be absent, or short (still terminated). */
	T_EQ_INT(priv_check(&f, NULL, 0), -EBADF);
	T_EQ_INT(priv_check(&f, why, 5), -EBADF);
	T_EQ_STR(why, "--tu");
}

#ifdef __linux__
/* CAP_NET_ADMIN in this process's effective set on or off (only ever
 * raised back when it is permitted). 0 or -errno. */
static int set_net_admin(int on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int i = CAP_TO_INDEX(CAP_NET_ADMIN);

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	if (on)
		data[i].effective |= CAP_TO_MASK(CAP_NET_ADMIN);
	else
		data[i].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

static int has_permitted_net_admin(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return 0;
	return (data[CAP_TO_INDEX(CAP_NET_ADMIN)].permitted & CAP_TO_MASK(CAP_NET_ADMIN)) != 0;
}
#endif

/* Runs daemon_run() with stderr (the log) captured into out. */
static int run_daemon(const char *const *args, char *out, size_t cap)
{
	char *argv[16] = { "tun2socks" };
	char path[] = "/tmp/t2s-test-priv-XXXXXX";
	struct options *cfg = malloc(sizeof(*cfg));
	int argc = 1, fd, saved, r = -1;
	ssize_t n;
	char err[512];

	out[0] = '\0';
	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	fd = mkstemp(path);
	if (!cfg || fd < 0 || cli_parse(argc, argv, cfg, err, sizeof(err)) != CLI_RUN) {
		fprintf(stderr, "  setup failed: %s\n", cfg ? err : "out of memory");
		goto out;
	}
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	r = daemon_run(cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(cfg);
	return r;
}

/* A TCP port on 127.0.0.1 that refuses connections for as long as *s is
 * open (bound, never listening). */
static int refusing_port(int *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*s = socket(AF_INET, SOCK_STREAM, 0);
	if (*s < 0 || bind(*s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(*s, (struct sockaddr *)&a, &len) < 0)
		return -1;
	return ntohs(a.sin_port);
}

/* Without the privilege (dropped here when we hold it), the daemon says
 * so first: not that the (unreachable) proxy is unreachable. */
static void test_daemon_priv_first(void)
{
	char url[64], out[4096];
	const char *args[] = { "--proxy", url, NULL };
	int s, port = refusing_port(&s), admin;
	bool dropped = false;

	T_CHECK(port > 0);
	snprintf(url, sizeof(url), "socks5://127.0.0.1:%d", port);
#ifdef __linux__
	admin = priv_tun_admin();
	T_CHECK(admin == 0 || admin == 1);
	if (admin == 1) {
		T_EQ_INT(set_net_admin(0), 0);
		dropped = true;
	}
	T_EQ_INT(priv_tun_admin(), 0);
#else
	admin = priv_tun_admin();
	if (admin != 0) {
		close(s);
		return; /* root on macOS: nothing to drop */
	}
#endif
	T_EQ_INT(run_daemon(args, out, sizeof(out)), 1);
	T_CHECK(strstr(out, "cannot create the TUN device: ") != NULL);
	T_CHECK(strstr(out, priv_tun_hint()) != NULL);
	T_CHECK(strstr(out, "--tun-fd N") != NULL);
	T_CHECK(strstr(out, "unreachable") == NULL);
	if (!strstr(out, "cannot create the TUN device"))
		fprintf(stderr, "  log: %s\n", out);
#ifdef __linux__
	if (dropped) {
		T_EQ_INT(set_net_admin(1), 0);
		T_EQ_INT(priv_tun_admin(), 1);
	} else {
		T_CHECK(!has_permitted_net_admin());
	}
#endif
	close(s);
}

/* With an open --tun-fd no privilege is needed: startup reaches the proxy
 * probe, whose failure names --no-proxy-check. A closed one is refused. */
static void test_daemon_tun_fd(void)
{
	char url[64], fdtext[16], out[4096];
	const char *args[] = { "--proxy", url, "--tun-fd", fdtext, NULL };
	int s, port = refusing_port(&s), p[2];

	T_CHECK(port > 0);
	T_EQ_INT(pipe(p), 0);
	snprintf(url, sizeof(url), "socks5://127.0.0.1:%d", port);
	snprintf(fdtext, sizeof(fdtext), "%d", p[0]);
	T_EQ_INT(run_daemon(args, out, sizeof(out)), 1);
	T_CHECK(strstr(out,
		       " unreachable: Connection refused (check that it is running and "
		       "the address is right, or pass --no-proxy-check to start anyway)") != NULL);
	if (!strstr(out, "--no-proxy-check"))
		fprintf(stderr, "  log: %s\n", out);
	close(p[0]);
	close(p[1]);
	/* Not p[0]: the capture file may take its number. */
	T_CHECK(fcntl(1000, F_GETFD) == -1);
	snprintf(fdtext, sizeof(fdtext), "%d", 1000);
	T_EQ_INT(run_daemon(args, out, sizeof(out)), 1);
	T_CHECK(strstr(out, "--tun-fd 1000: not an open file descriptor") != NULL);
	close(s);
}

int main(void)
{
	T_RUN(test_decision);
	T_RUN(test_daemon_priv_first);
	T_RUN(test_daemon_tun_fd);
	return test_summary();
}
