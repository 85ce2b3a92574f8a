/* run: the portable half, see run.h. Pure: no I/O. */
#include "tun2socks/app/run.h"
#include "tun2socks/system/prefix.h"
#include "tun2socks/system/resolvconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int run_exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return RUN_EXIT_FAILED;
}

int run_check_options(const struct options *cfg, char *err, size_t errlen)
{
	if (cfg->run_argv == NULL || cfg->run_argv[0] == NULL) {
		snprintf(err, errlen,
			 "run needs a command: tun2socks run [options] -- CMD [ARGS...]");
		return -EINVAL;
	}
	if (options_given(cfg, OPT_TUN_FD)) {
		snprintf(err, errlen,
			 "--tun-fd does not go with run: run makes its own TUN, "
			 "inside CMD's namespace");
		return -EINVAL;
	}
	if (options_given(cfg, OPT_TUN_FRAMING)) {
		snprintf(err, errlen,
			 "--tun-framing does not go with run: its TUN carries bare "
			 "IP packets");
		return -EINVAL;
	}
	if (!cfg->tun.has_addr4 && !cfg->tun.has_addr6) {
		snprintf(err, errlen,
			 "run needs --tun-addr or --tun-addr6: CMD would have no "
			 "route at all");
		return -EINVAL;
	}
	return 0;
}

size_t run_dns_servers(const struct tun_config *tun, char out[][64], size_t max)
{
	size_t n = 0;

	if (tun->has_addr4 && n < max) {
		uint8_t a[4];

		memcpy(a, tun->addr4, 4);
		prefix_neighbour(a, 4, tun->prefix4);
		inet_ntop(AF_INET, a, out[n++], 64);
	}
	if (tun->has_addr6 && n < max) {
		uint8_t a[16];

		memcpy(a, tun->addr6, 16);
		prefix_neighbour(a, 16, tun->prefix6);
		inet_ntop(AF_INET6, a, out[n++], 64);
	}
	return n;
}

int run_resolv_conf(const char *host, const char *const *servers, size_t n, char *out, size_t cap)
{
	return resolvconf_text("# tun2socks run: queries go into the TUN, where the daemon "
			       "answers them\n",
			       host, servers, n, out, cap);
}

/* A decimal id (uid_t, gid_t); -EINVAL for anything else. */
static int run_parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *out > 0xfffffffeul)
		return -EINVAL;
	return 0;
}

int run_target_ids(const struct run_id_facts *f, struct run_ids *out)
{
	unsigned long uid, gid;

	memset(out, 0, sizeof(*out));
	if (f->euid != 0)
		return 0; /* not root: CMD runs as we do, in a user namespace */
	if (f->ruid != 0) {
		/* A set-uid-root binary: back to the user who ran it. */
		out->drop = true;
		out->uid = f->ruid;
		out->gid = f->rgid;
		return 0;
	}
	if (f->sudo_uid == NULL)
		return 0;
	if (run_parse_id(f->sudo_uid, &uid) < 0 || run_parse_id(f->sudo_gid, &gid) < 0)
		return -EINVAL;
	if (uid == 0)
		return 0; /* sudo from root */
	out->drop = true;
	out->uid = (uid_t)uid;
	out->gid = (gid_t)gid;
	return 0;
}

bool run_should_forward(int si_code, pid_t sender, pid_t cmd)
{
	/* SI_USER (kill), SI_QUEUE, SI_TKILL are <= 0; SI_KERNEL and the
	 * codes of kernel-made signals are positive. */
	if (si_code > 0)
		return false;
	return sender != cmd;
}

/* What to change for a refused user namespace. */
static const char *run_userns_fix(const struct run_ns_facts *f, char *buf, size_t cap)
{
	if (f->err == ENOSPC && f->max_user_ns == 0)
		return "user namespaces are disabled (user.max_user_namespaces=0): "
		       "sysctl -w user.max_user_namespaces=15000, or run as root";
	if (f->err == ENOSPC) {
		snprintf(buf, cap,
			 "the user namespace limit is reached (user.max_user_namespaces=%ld)",
			 f->max_user_ns);
		return buf;
	}
	if (f->err == EINVAL || f->err == ENOSYS)
		return "this kernel has no user namespaces (CONFIG_USER_NS): run as root";
	if (f->unprivileged_clone == 0)
		return "unprivileged user namespaces are disabled "
		       "(kernel.unprivileged_userns_clone=0): sysctl -w "
		       "kernel.unprivileged_userns_clone=1, or run as root";
	if (f->apparmor_restrict == 1)
		return "AppArmor restricts unprivileged user namespaces "
		       "(kernel.apparmor_restrict_unprivileged_userns=1): set it to 0 or give "
		       "tun2socks an AppArmor profile with 'userns,', or run as root";
	return "the kernel refused an unprivileged user namespace (a container's seccomp "
	       "filter or a security module may forbid them): run as root";
}

void run_ns_hint(const struct run_ns_facts *f, char *out, size_t cap)
{
	char buf[128];
	const char *fix;

	if (strcmp(f->step, "open /dev/net/tun") == 0) {
		if (f->err == EACCES || f->err == EPERM)
			fix = f->userns
				      ? "the device is not open to every user: most distributions "
					"make it mode 0666 (chmod 0666 /dev/net/tun), or run as "
					"root"
				      : "the device refused root (a container's device cgroup?)";
		else if (f->err == ENOENT || f->err == ENODEV || f->err == ENXIO)
			fix = "no TUN driver (modprobe tun; in a container, pass /dev/net/tun in)";
		else
			fix = "the TUN device cannot be made";
	} else if (f->userns && f->err != ENOMEM) {
		fix = run_userns_fix(f, buf, sizeof(buf));
	} else if (f->err == EPERM) {
		fix = "root without CAP_SYS_ADMIN cannot make namespaces (in a container, give "
		      "it CAP_SYS_ADMIN)";
	} else if (f->err == EINVAL) {
		fix = "this kernel has no network namespaces (CONFIG_NET_NS)";
	} else {
		fix = "see the error";
	}
	snprintf(out, cap, "cannot make CMD's namespace: %s: %s: %s", f->step, strerror(f->err),
		 fix);
}
