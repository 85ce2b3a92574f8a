/* run: `tun2socks run [options] -- CMD [ARGS...]`: CMD in a network
 * namespace of its own whose only route is a TUN that the daemon serves
 * from outside it (docs/design.md §14).
 *
 * One header: run.c holds the decisions, which are pure and unit-tested
 * (exit status, CMD's identity, its resolv.conf, which signals go on to
 * it, the message when namespaces are refused); CMake adds run_linux.c
 * (the supervisor, the daemon, CMD) or run_darwin.c (not there yet).
 */
#ifndef T2S_RUN_H
#define T2S_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tun2socks/app/options.h"

/* run's own failures, apart from CMD's exit statuses (as env(1) and
 * timeout(1) do): run could not set up or lost its daemon; CMD was found
 * but could not be executed; CMD was not found. */
#define RUN_EXIT_FAILED 125
#define RUN_EXIT_NOEXEC 126
#define RUN_EXIT_NOTFOUND 127

/* Runs cfg->run_argv as the command line asked and returns the exit
 * status for main(): CMD's own (run_exit_status), or one of RUN_EXIT_*. */
int run_main(const struct options *cfg);

/* A wait status as an exit status: the code CMD exited with, or 128 plus
 * the signal that ended it (as a shell reports it). */
int run_exit_status(int wstatus);

/* What run cannot take on top of the daemon's checks (cli_parse did
 * those): its TUN is made inside the namespace, so --tun-fd and
 * --tun-framing have nothing to act on, and CMD needs an address family.
 * 0 or -EINVAL with one line in err. */
int run_check_options(const struct options *cfg, char *err, size_t errlen);

/* The name servers CMD's resolv.conf lists: the address next to each TUN
 * address (.2 for 198.18.0.1), so never the kernel's own (a query to it
 * would stay on the namespace's loopback) and always routed into the TUN,
 * where the daemon answers port 53 whatever the destination. IPv4 first.
 * Returns how many were written to out (up to 2). */
size_t run_dns_servers(const struct tun_config *tun, char out[][64], size_t max);

/* CMD's /etc/resolv.conf: a comment saying who wrote it, one nameserver
 * line per server, then the host's search, domain and options lines
 * (host: its resolv.conf text, or NULL). 0, or -ENOBUFS when cap is too
 * small. */
int run_resolv_conf(const char *host, const char *const *servers, size_t n, char *out, size_t cap);

/* Who CMD runs as when run is root: the user sudo was called by
 * (SUDO_UID/SUDO_GID, when the real uid is 0), the real user of a
 * set-uid-root binary, or root itself (drop false). */
struct run_id_facts {
	uid_t ruid, euid;
	gid_t rgid;
	const char *sudo_uid, *sudo_gid; /* the environment's, or NULL */
};
struct run_ids {
	bool drop; /* setgid/setuid to these before executing CMD */
	uid_t uid;
	gid_t gid;
};
/* 0, or -EINVAL when SUDO_UID/SUDO_GID are present but not numbers (out
 * then says: no drop). */
int run_target_ids(const struct run_id_facts *f, struct run_ids *out);

/* Whether a signal the supervisor received goes on to CMD. Not one the
 * kernel sent (si_code > 0: the terminal's ^C or hangup went to the whole
 * foreground process group, CMD included), nor one CMD sent itself (it
 * signalled its process group, or its parent). */
bool run_should_forward(int si_code, pid_t sender, pid_t cmd);

/* Why the namespaces could not be made, and what to change. err is the
 * errno of the failed step; the rest is what the kernel says about user
 * namespaces (-1: the sysctl does not exist). */
struct run_ns_facts {
	int err;
	bool userns;            /* we asked for a user namespace (not root) */
	const char *step;       /* "unshare", "open /dev/net/tun", ... */
	int unprivileged_clone; /* kernel.unprivileged_userns_clone (Debian, Ubuntu) */
	long max_user_ns;       /* user.max_user_namespaces */
	int apparmor_restrict;  /* kernel.apparmor_restrict_unprivileged_userns */
};
void run_ns_hint(const struct run_ns_facts *f, char *out, size_t cap);

#endif
