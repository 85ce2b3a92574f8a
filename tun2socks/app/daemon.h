/* daemon: the event loop that owns the TUN, lwIP and every socket.
 * One thread; all state hangs off one context built by daemon_run(). */
#ifndef T2S_DAEMON_H
#define T2S_DAEMON_H

#include <stdbool.h>

#include "resolver/dns_intercept.h"
#include "tun2socks/base/log.h"
#include "config/proxy_url.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/tun/tun.h"

struct daemon_config {
	struct proxy_url proxy;
	bool has_proxy;              /* --proxy given */
	const char *config_path;     /* -c FILE, or NULL */
	uint64_t given;              /* bit per command-line option seen */
	/* tun2socks match HOST[:PORT] [--udp] [--src IP] [--process P] */
	const char *match_target, *match_src, *match_process;
	bool match_udp;
	struct tun_config tun;  /* tun.name points into tun_name */
	char tun_name[64];
	struct sock_opts sock;
	unsigned connect_timeout_s;  /* proxy connect + handshake */
	unsigned idle_timeout_s;     /* 0: never */
	unsigned udp_timeout_s;      /* idle UDP session; DNS-only ones: 10 s */
	enum log_level log_level;
	bool check_proxy;            /* probe the proxy at startup */
	struct daemon_dns_config {
		enum dns_mode mode;          /* default fake-ip */
		const char *servers;         /* --dns-server; NULL: system's */
		bool via_proxy;              /* forward over TCP through SOCKS5 */
		bool has4, has6;             /* fake pools */
		uint8_t net4[4], prefix4;
		uint8_t net6[16], prefix6;
		unsigned fake_min_age;       /* s; 0 = off (docs/design.md §7) */
		/* --fake-ip-filter, split in place into filter[] (NULL-ended) */
		char filter_buf[4096];
		size_t filter_used;          /* bytes of filter_buf taken */
		const char *filter[257];
		char servers_buf[1024];      /* nameservers from the config */
	} dns;
};

/* Fills the defaults documented in --help. */
void daemon_config_defaults(struct daemon_config *cfg);

/* Runs until SIGINT/SIGTERM. Returns the process exit status: 0 after a
 * clean stop, 1 when startup failed (the reason was logged as one line). */
int daemon_run(struct daemon_config *cfg);

#endif
