/* fd_budget: how many file descriptors the daemon may use, and for what.
 *
 * Every TCP flow holds one socket (to the proxy or the DIRECT target), a
 * UDP session one or two (a DIRECT socket, or a SOCKS5 control connection
 * and its relay socket), DNS forwarding a few (c-ares) or one per query in
 * flight (through the proxy). Without a split, one kind can take them all:
 * 1 500 UDP source ports used to leave no descriptor for TCP for a minute.
 * The budget is cut once at start (docs/design.md §12):
 *
 *   limit = the soft RLIMIT_NOFILE, raised to the hard limit
 *   reserve  FD_BUDGET_RESERVE: stdio, TUN, the loop's own (epoll, signal
 *            pipe, async), netlink, files read at a reload
 *   dns      FD_BUDGET_DNS for c-ares; through the proxy 1/16 of the rest,
 *            8..256 (the interceptor caps its queries in flight to it)
 *   udp      a quarter of what is left, two per session, at most
 *            FD_BUDGET_UDP_SESSIONS_MAX sessions (the table evicts beyond)
 *   tcp      all the rest (new flows beyond it are refused with RST)
 *
 * fd_budget_split is pure arithmetic; fd_budget_raise talks to the OS.
 */
#ifndef T2S_FD_BUDGET_H
#define T2S_FD_BUDGET_H

#include <stdbool.h>

#include "tun2socks/base/must_check.h"

enum {
	FD_BUDGET_RESERVE = 32,
	FD_BUDGET_DNS = 16,
	FD_BUDGET_DNS_PROXY_MIN = 8,
	FD_BUDGET_DNS_PROXY_MAX = 256,
	FD_BUDGET_UDP_SESSIONS_MAX = 4096,
	/* Below this the split leaves too little to run: refuse to start. */
	FD_BUDGET_MIN = 64,
};

struct fd_budget {
	unsigned limit; /* descriptors in all */
	unsigned reserve;
	unsigned dns;
	unsigned udp;          /* descriptors for UDP sessions */
	unsigned udp_sessions; /* the session table's size: udp / 2 */
	unsigned tcp;          /* TCP flows at once */
};

/* Splits limit as above; dns_via_proxy: DNS is forwarded over TCP through
 * the proxy (one socket per query). *out cleared first. 0, or -EMFILE when
 * limit < FD_BUDGET_MIN. */
T2S_MUST_CHECK int fd_budget_split(unsigned long long limit, bool dns_via_proxy,
				   struct fd_budget *out);

/* Raises the soft RLIMIT_NOFILE to the hard limit (or the highest value
 * the OS accepts below it: Linux caps at fs.nr_open, macOS at
 * kern.maxfilesperproc) and reports the soft limit before and after.
 * 0, or -errno when the limits cannot be read (then *before = *after =
 * 0). Failing to raise is not an error: *after == *before. */
T2S_MUST_CHECK int fd_budget_raise(unsigned long long *before, unsigned long long *after);

#endif
