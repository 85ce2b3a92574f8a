/* fd_budget: the split of the descriptor limit, figures by hand for the
 * usual limits and the invariants over a sweep; raising the soft limit in
 * this process. */
#include "tun2socks/base/fd_budget.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>

static void test_too_small(void)
{
	struct fd_budget b;

	b.tcp = 99;
	T_EQ_INT(fd_budget_split(63, false, &b), -EMFILE);
	T_EQ_INT(b.tcp, 0); /* cleared first */
	T_EQ_INT(b.limit, 0);
	T_EQ_INT(fd_budget_split(0, true, &b), -EMFILE);
}

static void test_figures(void)
{
	struct fd_budget b;

	/* The smallest: 32 reserved, 16 for c-ares, a quarter of 16 for UDP. */
	T_EQ_INT(fd_budget_split(64, false, &b), 0);
	T_EQ_INT(b.limit, 64);
	T_EQ_INT(b.reserve, 32);
	T_EQ_INT(b.dns, 16);
	T_EQ_INT(b.udp_sessions, 2);
	T_EQ_INT(b.udp, 4);
	T_EQ_INT(b.tcp, 12);

	/* The usual default soft (and often hard) limit. */
	T_EQ_INT(fd_budget_split(1024, false, &b), 0);
	T_EQ_INT(b.dns, 16);
	T_EQ_INT(b.udp_sessions, 122);
	T_EQ_INT(b.udp, 244);
	T_EQ_INT(b.tcp, 732);

	/* DNS through the proxy: a socket per query, 1/16 of the rest. */
	T_EQ_INT(fd_budget_split(1024, true, &b), 0);
	T_EQ_INT(b.dns, 62);
	T_EQ_INT(b.udp_sessions, 116);
	T_EQ_INT(b.tcp, 698);
	T_EQ_INT(fd_budget_split(64, true, &b), 0);
	T_EQ_INT(b.dns, 8); /* the floor */
	T_EQ_INT(b.udp_sessions, 3);
	T_EQ_INT(b.tcp, 18);

	/* Large limits: the UDP table stops at its cap, DNS at 256, TCP
	 * takes the rest. */
	T_EQ_INT(fd_budget_split(65536, false, &b), 0);
	T_EQ_INT(b.udp_sessions, FD_BUDGET_UDP_SESSIONS_MAX);
	T_EQ_INT(b.udp, 2 * FD_BUDGET_UDP_SESSIONS_MAX);
	T_EQ_INT(b.tcp, 65536 - 32 - 16 - 2 * FD_BUDGET_UDP_SESSIONS_MAX);
	T_EQ_INT(fd_budget_split(1048576, true, &b), 0);
	T_EQ_INT(b.dns, FD_BUDGET_DNS_PROXY_MAX);
	/* rlim_t's "unlimited" does not overflow anything. */
	T_EQ_INT(fd_budget_split(UINT64_MAX, false, &b), 0);
	T_EQ_INT(b.limit, 1u << 24);
	T_EQ_INT(b.tcp, (1u << 24) - 32 - 16 - 2 * FD_BUDGET_UDP_SESSIONS_MAX);
}

/* Every limit: the parts add up to it, UDP gets two per session, nothing
 * is empty, TCP gets the most. */
static void test_invariants(void)
{
	int bad = 0;

	for (unsigned long long limit = 64; limit <= 200000; limit += limit < 4096 ? 1 : 97) {
		for (int proxy = 0; proxy < 2; proxy++) {
			struct fd_budget b;

			if (fd_budget_split(limit, proxy, &b) != 0) {
				bad++;
				continue;
			}
			bad += b.reserve + b.dns + b.udp + b.tcp != limit;
			bad += b.udp != 2 * b.udp_sessions;
			bad += b.udp_sessions < 1 || b.udp_sessions > FD_BUDGET_UDP_SESSIONS_MAX;
			bad += b.tcp < b.udp || b.tcp < 12;
			bad += proxy ? b.dns < FD_BUDGET_DNS_PROXY_MIN ||
					       b.dns > FD_BUDGET_DNS_PROXY_MAX
				     : b.dns != FD_BUDGET_DNS;
		}
	}
	T_EQ_INT(bad, 0);
}

/* The soft limit goes up to the hard one; at the hard limit nothing
 * changes. Restores the limits it found. */
static void test_raise(void)
{
	struct rlimit orig, rl;
	unsigned long long before, after;

	T_EQ_INT(getrlimit(RLIMIT_NOFILE, &orig), 0);
	if (orig.rlim_max != RLIM_INFINITY && orig.rlim_max <= 128) {
		fprintf(stderr, "  (hard limit %llu: raise not exercised)\n",
			(unsigned long long)orig.rlim_max);
		return;
	}
	rl.rlim_cur = 128;
	rl.rlim_max = orig.rlim_max;
	T_EQ_INT(setrlimit(RLIMIT_NOFILE, &rl), 0);
	T_EQ_INT(fd_budget_raise(&before, &after), 0);
	T_EQ_INT(before, 128);
	T_CHECK(after > 128);
	if (orig.rlim_max != RLIM_INFINITY)
		T_EQ_INT(after, orig.rlim_max);
	T_EQ_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	T_EQ_INT(rl.rlim_cur, after);
	/* Already at the hard limit (or as high as it goes): unchanged. */
	T_EQ_INT(fd_budget_raise(&before, &after), 0);
	T_EQ_INT(before, rl.rlim_cur);
	T_EQ_INT(after, rl.rlim_cur);
	T_EQ_INT(setrlimit(RLIMIT_NOFILE, &orig), 0);
}

int main(void)
{
	T_RUN(test_too_small);
	T_RUN(test_figures);
	T_RUN(test_invariants);
	T_RUN(test_raise);
	return test_summary();
}
