/* netns: the inside of `tun2socks run` on Linux (docs/design.md §14).
 *
 * netns_child() runs in the child the supervisor forks. It makes a network
 * namespace and a mount namespace (and, unless it is root, a user
 * namespace owning both, with the caller's uid and gid mapped onto
 * themselves), brings loopback up, makes the TUN there with the daemon's
 * TUN settings, routes everything (IPv4 and IPv6) into it, mounts CMD's
 * own /etc/resolv.conf, hands the TUN's descriptor to the supervisor over
 * a SOCK_SEQPACKET socket, waits for the go and executes CMD. The other
 * functions are the supervisor's half of that conversation.
 *
 * Nothing of it is visible outside: the mounts are in the new mount
 * namespace only (propagation to the host is cut first), the TUN and
 * routes in the new network namespace, and the TUN disappears with its
 * last descriptor. Linux only; run_linux.c is its one user.
 */
#ifndef T2S_NETNS_H
#define T2S_NETNS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tun2socks/base/must_check.h"
#include "tun2socks/tun/tun.h"

struct netns_config {
	struct tun_config tun; /* fd -1: made inside */
	bool userns;           /* CLONE_NEWUSER too (not root) */
	bool drop;             /* as root: setgid/setuid to gid/uid before exec */
	uid_t uid;
	gid_t gid;
	const char *resolv;         /* CMD's resolv.conf text, or NULL: the host's */
	char *const *argv;          /* CMD */
	sigset_t sigmask;           /* CMD's signal mask */
	pid_t parent;               /* the supervisor: CMD dies with it */
	const uint16_t *host_ports; /* --allow-host-port: listeners to make */
	unsigned n_host_ports;
};

/* The child's word on a failed step. */
struct netns_report {
	int err;        /* errno */
	char step[48];  /* "unshare", "open /dev/net/tun", "execvp"... */
	char text[400]; /* the detail, or "" */
};

/* In the child of fork(): does the above and executes cfg->argv, or
 * reports what failed on sock and exits 1. Never returns. */
_Noreturn void netns_child(const struct netns_config *cfg, int sock);

/* The child's setup report: 0 with the TUN in *tun_fd (close-on-exec),
 * -errno with rep filled, or -EPIPE when the child ended without a word. */
T2S_MUST_CHECK int netns_recv_tun(int sock, int *tun_fd, struct netns_report *rep);

/* Right after the TUN: a NETLINK_SOCK_DIAG socket made in CMD's
 * namespace (close-on-exec), through which the daemon finds CMD's
 * sockets for PROCESS-NAME rules; -1 when the child could not make one.
 * Never fails: a missing socket only costs those rules. */
int netns_recv_diag(int sock);

/* After it, one per --allow-host-port, in order: a TCP socket listening
 * on 127.0.0.1:N inside CMD's namespace (close-on-exec), or -1. */
int netns_recv_listener(int sock);

/* Lets the child execute CMD. 0 or -errno. */
T2S_MUST_CHECK int netns_go(int sock);

/* After netns_go, once sock is readable: 0 when CMD was executed (the
 * child's end closed on exec), else -errno with rep filled (-EPIPE: the
 * child ended without a word). */
T2S_MUST_CHECK int netns_recv_exec(int sock, struct netns_report *rep);

#endif
