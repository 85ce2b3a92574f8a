/* fd_budget: see fd_budget.h. */
#include "tun2socks/base/fd_budget.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

/* Past a million descriptors the split is all TCP anyway; clamping keeps
 * the arithmetic in unsigned and rlim_t's infinity out of it. */
#define FD_BUDGET_LIMIT_MAX (1u << 24)

int fd_budget_split(unsigned long long limit, bool dns_via_proxy, struct fd_budget *out)
{
	unsigned rest, udp;

	memset(out, 0, sizeof(*out));
	if (limit < FD_BUDGET_MIN)
		return -EMFILE;
	if (limit > FD_BUDGET_LIMIT_MAX)
		limit = FD_BUDGET_LIMIT_MAX;
	out->limit = (unsigned)limit;
	out->reserve = FD_BUDGET_RESERVE;
	rest = out->limit - out->reserve;
	if (dns_via_proxy) {
		out->dns = rest / 16;
		if (out->dns < FD_BUDGET_DNS_PROXY_MIN)
			out->dns = FD_BUDGET_DNS_PROXY_MIN;
		if (out->dns > FD_BUDGET_DNS_PROXY_MAX)
			out->dns = FD_BUDGET_DNS_PROXY_MAX;
	} else {
		out->dns = FD_BUDGET_DNS;
	}
	rest -= out->dns;
	/* Two per session: a proxied one holds its control connection and
	 * its relay socket. */
	udp = rest / 4;
	out->udp_sessions = udp / 2;
	if (out->udp_sessions > FD_BUDGET_UDP_SESSIONS_MAX)
		out->udp_sessions = FD_BUDGET_UDP_SESSIONS_MAX;
	if (out->udp_sessions == 0)
		out->udp_sessions = 1;
	out->udp = 2 * out->udp_sessions;
	out->tcp = rest - out->udp;
	return 0;
}

int fd_budget_raise(unsigned long long *before, unsigned long long *after)
{
	/* Tried in turn when the hard limit itself is refused (unlimited,
	 * or above what the kernel allows one process). */
	static const rlim_t fallback[] = { 1u << 20, 1u << 16, 10240 };
	const size_t n = sizeof(fallback) / sizeof(fallback[0]);
	struct rlimit rl;
	rlim_t want;
	size_t i = 0;

	*before = *after = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*before = *after = (unsigned long long)rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	want = rl.rlim_max;
	for (;;) {
		struct rlimit nl = { .rlim_cur = want, .rlim_max = rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &nl) == 0) {
			*after = (unsigned long long)want;
			return 0;
		}
		while (i < n && fallback[i] >= want)
			i++;
		if (i == n || fallback[i] <= rl.rlim_cur)
			return 0; /* keep the soft limit we have */
		want = fallback[i++];
	}
}
