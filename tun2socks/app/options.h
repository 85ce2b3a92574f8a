/* options: the daemon's settings, their defaults, and a config file
 * applied onto them (the command line wins). cli fills them from argv;
 * the daemon runs by them and, on SIGHUP, asks options_reload_diff what a
 * new config changes. Pure: no I/O besides the error text returned. */
#ifndef T2S_OPTIONS_H
#define T2S_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/proxy_url.h"
#include "resolver/dns_intercept.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/tun/tun.h"
#include "tun2socks/upstream/upstream.h"

struct config;

/* One bit each in options.given: set by cli for every flag on the command
 * line, so a config file never overrides what the user typed. */
enum options_flag {
	OPT_PROXY,
	OPT_TUN,
	OPT_TUN_FD,
	OPT_TUN_FRAMING,
	OPT_TUN_ADDR,
	OPT_TUN_ADDR6,
	OPT_MTU,
	OPT_BIND_IFACE,
	OPT_FWMARK,
	OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_NO_PROXY_CHECK,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION,
	OPT_UDP_TIMEOUT,
	OPT_DNS,
	OPT_DNS_SERVER,
	OPT_DNS_VIA_PROXY,
	OPT_FAKE_IP_RANGE,
	OPT_FAKE_IP_FILTER,
	OPT_CONFIG,
	OPT_UDP,
	OPT_SRC,
	OPT_PROCESS,
	OPT_FAKE_IP_MIN_AGE,
	OPT_AUTO_ROUTE,
	OPT_STRICT_ROUTE,
	OPT_DNS_HIJACK,
	OPT_TABLE_INDEX,
	OPT_RULE_INDEX,
	OPT_ROUTE_ADDRESS,
	OPT_ROUTE_EXCLUDE,
	OPT_INCLUDE_UID,
	OPT_EXCLUDE_UID,
	OPT_STATE_DIR,
	OPT_CONTROLLER,
	OPT_AUTO_DETECT_IFACE,
	OPT_MAX_MEMORY,
	OPT_ALLOW_HOST_PORT,
	OPT_FETCH,
	OPT_STORE_FAKE_IP,
	OPT_SECRET,
	OPT_MAX_HALF_OPEN,
	OPT_PIPELINING,
};

/* Our own sockets' fwmark when auto-route is on and none was given. */
#define OPTIONS_AUTO_FWMARK 0x2022u

struct options {
	struct proxy_url proxy;
	bool has_proxy; /* --proxy given */
	/* --pipelining: --proxy's SOCKS5 pipelining (docs/design.md §15) */
	enum upstream_pipelining proxy_pipelining;
	const char *config_path; /* -c FILE, or NULL */
	uint64_t given;          /* bit per command-line option seen */
	/* tun2socks match HOST[:PORT] [--udp] [--src IP] [--process P] */
	const char *match_target, *match_src, *match_process;
	bool match_udp;
	bool check_fetch; /* tun2socks check --fetch: download http providers */
	/* tun2socks run [options] -- CMD [ARGS...]: CMD's argv, NULL-ended
	 * (the tail of main's argv) */
	char *const *run_argv;
	struct tun_config tun; /* tun.name points into tun_name */
	char tun_name[64];
	struct sock_opts sock;
	unsigned connect_timeout_s; /* proxy connect + handshake */
	unsigned idle_timeout_s;    /* 0: never */
	unsigned udp_timeout_s;     /* idle UDP session; DNS-only ones: 10 s */
	enum log_level log_level;
	unsigned max_memory_mb; /* --max-memory, MiB; 0: no budget */
	unsigned max_half_open; /* --max-half-open; 0: STACK_HALF_OPEN_MAX */
	bool check_proxy;       /* probe the proxy at startup */
	/* -1, or a descriptor the daemon writes one byte to and closes once
	 * it serves the TUN (run starts CMD then); never on the command line */
	int ready_fd;
	/* -1, or a NETLINK_SOCK_DIAG socket made in `tun2socks run`'s
	 * namespace: PROCESS-NAME rules find CMD's sockets through it;
	 * never on the command line */
	int proc_diag_fd;
	/* run --allow-host-port: host loopback ports CMD may reach on its
	 * own 127.0.0.1; and the listeners made for them inside CMD's
	 * namespace, for the daemon (-1: none; never on the command line) */
	uint16_t host_ports[8];
	unsigned n_host_ports;
	int host_port_fds[8];
	struct options_dns {
		enum dns_mode mode;  /* default fake-ip */
		const char *servers; /* --dns-server; NULL: system's */
		bool via_proxy;      /* forward over TCP through SOCKS5 */
		bool has4, has6;     /* fake pools */
		uint8_t net4[4], prefix4;
		uint8_t net6[16], prefix6;
		unsigned fake_min_age; /* s; 0 = off (docs/design.md §7) */
		bool store_fake;       /* keep the pool across restarts (§22) */
		bool filter_whitelist; /* fake-ip-filter-mode: whitelist */
		/* --fake-ip-filter, split in place into filter[] (NULL-ended) */
		char filter_buf[4096];
		size_t filter_used; /* bytes of filter_buf taken */
		const char *filter[257];
		char servers_buf[1024]; /* nameservers from the config */
		/* DNS over TLS (§24): "HOST[:PORT],..." from tls:// entries,
		 * "" for none; the CA bundle for them, "" for the system's */
		char dot[512];
		char dot_ca[1024];
		char doh[512];        /* https:// entries (§24), space-separated, "" for none */
		char default_ns[512]; /* dns.default-nameserver, "" for none (§24) */
	} dns;
	/* System-wide mode: routes and rules into the TUN (docs/design.md §13). */
	struct options_route {
		bool auto_route;
		bool strict_route;     /* block a family the TUN cannot carry */
		int dns_hijack;        /* -1: on with auto-route; 0 off; 1 on */
		uint32_t table;        /* iproute2-table-index, 2022 */
		uint32_t rule_index;   /* iproute2-rule-index, 9000 */
		char address[1024];    /* route-address: CIDRs, comma-separated */
		char exclude[1024];    /* route-exclude-address */
		char include_uid[256]; /* "1000,2000-2999" */
		char exclude_uid[256];
		char state_dir[256]; /* "": the default, AUTOROUTE_STATE_DIR */
		bool auto_mark;      /* sock.fwmark is auto-route's own */
		/* auto-detect-interface: our sockets bound to the default route's
		 * interface, followed while running (docs/design.md §13) */
		bool auto_detect;
	} route;
	/* --controller ADDR: the control API's address (docs/design.md §15);
	 * "": the config's external-controller, if any */
	char controller[128];
	/* --secret S: the control API's secret; "": the config's secret */
	char secret[128];
};

/* Fills the defaults documented in --help. */
void options_defaults(struct options *cfg);

/* Fills the defaults documented in --help. */
void options_defaults(struct options *cfg);

/* What follows from the rest once the command line and the config are in:
 * with auto-route, our sockets get OPTIONS_AUTO_FWMARK unless a mark was
 * given. */
void options_finish(struct options *cfg);

/* Whether the port-53 rules are wanted: dns-hijack, by default on with
 * auto-route. */
bool options_dns_hijack(const struct options *cfg);

/* A copy of src whose internal pointers (tun.name, dns.servers,
 * dns.filter[]) point into dst's own buffers. */
void options_copy(struct options *dst, const struct options *src);

/* True when the command line set opt. */
bool options_given(const struct options *cfg, enum options_flag opt);

/* Fills what the command line did not set from the config file: TUN
 * (device, mtu, first inet4/inet6 address), DNS (enable, enhanced-mode,
 * nameserver, fake-ip-range/6, fake-ip-filter added to the flag's),
 * interface-name, routing-mark, keep-alive-idle, keep-alive-interval,
 * disable-keep-alive, log-level, and the tun keys of the
 * system-wide mode (auto-route, strict-route, dns-hijack,
 * iproute2-table-index, iproute2-rule-index, route-address,
 * route-exclude-address, include-uid, exclude-uid, auto-detect-interface).
 * 0 or -EINVAL with
 * err. */
int options_apply_config(struct options *cfg, const struct config *conf, char *err, size_t errlen);

/* Adds comma-separated fake-ip-filter patterns (the flag's or the
 * config's), checking each. 0 or -EINVAL with err. */
int options_add_fake_filter(const char *val, struct options_dns *dns, char *err, size_t errlen);

/* What a reload may change while running, and what needs a restart. */
enum options_change {
	OPTIONS_LOG_LEVEL = 1 << 0, /* applied at once */
	OPTIONS_SOCK = 1 << 1,      /* interface-name, routing-mark, keep-alive-*: new sockets */
	OPTIONS_RESTART = 1 << 2,   /* TUN or DNS settings: named in why */
	OPTIONS_DNS = 1 << 3,       /* nameserver, default-nameserver: new queries */
};

/* Compares the running settings with those a reload would give (the same
 * command line, the new config applied). Returns a mask of
 * options_change; with OPTIONS_RESTART, why lists the settings that keep
 * their running value until a restart ("tun.mtu, dns.enhanced-mode"). */
unsigned options_reload_diff(const struct options *running, const struct options *next, char *why,
			     size_t whylen);

#endif
