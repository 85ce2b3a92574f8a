/* config: the YAML configuration file, in Clash (mihomo) key names.
 *
 * A Clash user should be able to paste their config: the keys we act on
 * keep mihomo's names and meanings, keys mihomo knows that we do not use
 * are ignored with a warning, and proxy types we cannot speak (ss,
 * vmess...) are kept as "unsupported" so that only a rule that routes to
 * one fails. Inside a proxy (socks5, http, redirect), a proxy group, a rule
 * provider and tun, a key mihomo does not know either is a typo that would
 * change what runs: an error naming the closest known key.
 *
 * Loading is pure apart from reading the one file: rule-provider files are
 * not opened (their paths are resolved against the config's directory) and
 * rule lines are kept as text with their positions for the rule parser
 * (which the loader runs once itself, to report bad lines, their targets
 * and rule-set names with the file's other errors).
 * Proxy groups are resolved at load time: every member names something,
 * there are no cycles, and each group routes to one member.
 *
 * Every string and array below is owned by the struct config and lives
 * until config_free(). Every conf_pos.file points at config.file.
 */
#ifndef T2S_CONFIG_H
#define T2S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf_err.h"

enum config_log_level {
	CONFIG_LOG_SILENT,
	CONFIG_LOG_ERROR,
	CONFIG_LOG_WARNING,
	CONFIG_LOG_INFO, /* mihomo's default */
	CONFIG_LOG_DEBUG,
};

/* dns.enhanced-mode */
enum config_dns_mode {
	CONFIG_DNS_REAL_IP, /* "redir-host", mihomo's default */
	CONFIG_DNS_FAKE_IP, /* "fake-ip" */
	CONFIG_DNS_NORMAL,  /* "normal": plain forwarding */
};

/* A CIDR as written ("198.18.0.1/16": host bits may be set, as mihomo
 * uses the first address for itself) and parsed. */
struct config_cidr {
	const char *text;
	struct conf_pos pos;
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 bytes used for AF_INET; host bits kept */
	unsigned prefix;
};

/* A string from a list, with where it was written. For a quoted scalar
 * pos is its first byte inside the quotes. */
struct config_str {
	const char *text;
	struct conf_pos pos;
};

struct config_tun {
	bool present;       /* a tun: section was given */
	bool enable;        /* default false, as in mihomo */
	const char *device; /* NULL: not set */
	unsigned mtu;       /* 0: not set */
	struct config_cidr *inet4;
	size_t n_inet4;
	struct config_cidr *inet6;
	size_t n_inet6;
	/* System-wide mode (mihomo's RawTun keys; each has_ says it was written). */
	bool has_auto_route, auto_route;
	bool has_strict_route, strict_route;
	bool has_auto_detect, auto_detect; /* auto-detect-interface */
	bool has_dns_hijack;               /* dns-hijack: a list; empty turns the hijack off */
	struct config_str *dns_hijack;
	size_t n_dns_hijack;
	unsigned table_index, rule_index;  /* iproute2-*-index; 0: not set */
	struct config_cidr *route_address; /* either family */
	size_t n_route_address;
	struct config_cidr *route_exclude_address;
	size_t n_route_exclude_address;
	uint32_t *include_uid, *exclude_uid;
	size_t n_include_uid, n_exclude_uid;
};

struct config_dns {
	bool present; /* a dns: section was given */
	bool enable;  /* default false */
	enum config_dns_mode mode;
	/* Syntax checked by nameservers_parse() (config/nameservers.h): "IP", "IP:port",
	 * "[IPv6]:port", "udp://...", "tcp://..." */
	struct config_str *nameservers;
	size_t n_nameservers;
	bool has_fake_ip_range;           /* else mihomo's 198.18.0.1/16 applies */
	struct config_cidr fake_ip_range; /* IPv4 */
	bool has_fake_ip_range6;
	struct config_cidr fake_ip_range6; /* IPv6 */
	struct config_str *fake_ip_filter; /* patterns as written */
	size_t n_fake_ip_filter;
	bool fake_ip_filter_whitelist; /* fake-ip-filter-mode: whitelist */
	bool use_hosts;                /* answer from hosts: (default true) */
	/* nameserver-policy: a key (patterns, comma-separated, or
	 * "geosite:a,b" / "rule-set:a,b", matched by the generation) and its
	 * servers (plain, tls://, https://; quic:// dropped with a warning) */
	struct config_ns_policy {
		struct config_str key;
		struct config_str *servers;
		size_t n_servers;
	} * ns_policy;
	size_t n_ns_policy;
	struct config_str *fallback; /* fallback: servers */
	size_t n_fallback;
	struct config_cidr *fallback_ipcidr; /* fallback-filter.ipcidr */
	size_t n_fallback_ipcidr;
	struct config_str *fallback_domain; /* fallback-filter.domain */
	size_t n_fallback_domain;
	/* fallback-filter.geoip (an address not of geoip-code, default
	 * "cn", and not private: asked of the fallback) and .geosite (lists
	 * whose names go to the fallback); docs/design.md §23 */
	bool fallback_geoip;
	struct config_str fallback_geoip_code;
	struct config_str *fallback_geosite;
	size_t n_fallback_geosite;
	/* nameserver entries "tls://HOST[:PORT]" (DNS over TLS) as written */
	struct config_str *dot;
	size_t n_dot;
	/* nameserver entries "https://HOST[:PORT]/PATH" (DNS over HTTPS) */
	struct config_str *doh;
	size_t n_doh;
	const char *ca;                        /* ours: CA bundle for DoT servers; NULL: system */
	struct config_str *default_nameserver; /* checked; see README */
	size_t n_default_nameserver;
	struct config_str *proxy_server_nameserver; /* proxies' names; checked */
	size_t n_proxy_server_nameserver;
	bool use_system_hosts; /* ... and /etc/hosts (default true) */
	unsigned fake_ip_ttl;  /* seconds; 0: not set (mihomo uses 1) */
	/* ours, not mihomo's: seconds a fake address stays unused before it
	 * goes to another name (0 = off) */
	bool has_fake_ip_min_age;
	unsigned fake_ip_min_age;
};

/* sniffer: one protocol's ports (inclusive ranges). */
struct config_port_range {
	uint16_t lo, hi;
};

enum config_sniff_kind { CONFIG_SNIFF_TLS, CONFIG_SNIFF_HTTP, CONFIG_SNIFF_QUIC, CONFIG_SNIFF_N };

struct config_sniff_proto {
	bool on; /* listed under sniffer.sniff */
	struct config_port_range *ports;
	size_t n_ports;
	bool override_destination; /* its own, else the section's */
};

/* sniffer: (mihomo's keys; docs/design.md §21) */
struct config_sniffer {
	bool present;
	bool enable;               /* default false */
	bool force_dns_mapping;    /* default true: sniff flows named by real-ip */
	bool parse_pure_ip;        /* default true: sniff flows without a name */
	bool override_destination; /* default true */
	struct config_sniff_proto proto[CONFIG_SNIFF_N];
	struct config_str *force_domain; /* patterns as written */
	size_t n_force_domain;
	struct config_str *skip_domain;
	size_t n_skip_domain;
	struct config_cidr *skip_src, *skip_dst; /* skip-src/dst-address */
	size_t n_skip_src, n_skip_dst;
};

/* hosts: a name or pattern and its addresses (IP literals, checked). */
struct config_host {
	const char *name;
	struct conf_pos pos;
	struct config_str *addrs;
	size_t n_addrs;
	const char *alias; /* the value is a name (mihomo's alias), or NULL */
};

enum config_proxy_type {
	CONFIG_PROXY_SOCKS5,
	CONFIG_PROXY_HTTP,
	CONFIG_PROXY_REDIRECT,    /* ours: DIRECT to a fixed host:port */
	CONFIG_PROXY_DIRECT,      /* mihomo's type: direct: a name for DIRECT */
	CONFIG_PROXY_DNS,         /* mihomo's type: dns (README "Every config key") */
	CONFIG_PROXY_UNSUPPORTED, /* a Clash type we cannot speak */
};

/* A SOCKS5 proxy's "pipelining": true, false, or auto (the zero value). */
enum config_pipelining {
	CONFIG_PIPELINING_AUTO = 0,
	CONFIG_PIPELINING_OFF,
	CONFIG_PIPELINING_ON,
};

struct config_proxy {
	const char *name;
	struct conf_pos pos; /* of the name's value */
	enum config_proxy_type type;
	const char *type_name; /* as written: "socks5", "ss", ... */
	/* socks5, http (the rest is unset for other types): */
	const char *server; /* host name or IP literal, no brackets */
	uint16_t port;
	const char *username; /* NULL: no authentication */
	const char *password; /* NULL: none (http only) */
	bool tls;
	bool skip_cert_verify;
	const char *sni; /* "sni" or "servername"; NULL: server */
	const char *ca;  /* our "ca": CA bundle path (resolved against
				* the config's directory); NULL: system */
	bool udp;        /* socks5: default false, as mihomo; http: always false */
	/* socks5 (ours): greeting, auth and request in one write; auto (the
	 * default) has the daemon probe the server first (docs/design.md
	 * §15). http: always auto, which means nothing there. */
	enum config_pipelining pipelining;
	/* "dialer-proxy": a proxy or group that carries the connection to
	 * this proxy's server (a chain, docs/design.md §18); NULL: none.
	 * Checked when the router is built. */
	const char *dialer_proxy;
	struct conf_pos dialer_pos;
	/* redirect ("to: host:port"): */
	const char *to_host; /* no brackets */
	uint16_t to_port;
};

enum config_group_type {
	CONFIG_GROUP_SELECT,
	CONFIG_GROUP_URL_TEST,
	CONFIG_GROUP_FALLBACK,
	CONFIG_GROUP_LOAD_BALANCE,
	CONFIG_GROUP_RELAY,
};

enum config_target_kind {
	CONFIG_TARGET_DIRECT,
	CONFIG_TARGET_REJECT,
	CONFIG_TARGET_REJECT_DROP,
	CONFIG_TARGET_PROXY,
	CONFIG_TARGET_GROUP, /* only inside groups; resolve to the others */
	CONFIG_TARGET_PASS,  /* mihomo's PASS: the rule is skipped, the next one decides */
};

struct config_member {
	const char *name;
	struct conf_pos pos;
	enum config_target_kind kind;
	size_t index; /* into proxies or groups for PROXY / GROUP */
};

/* load-balance "strategy" */
enum config_lb_strategy {
	CONFIG_LB_CONSISTENT_HASHING, /* mihomo's default */
	CONFIG_LB_ROUND_ROBIN,
	CONFIG_LB_STICKY_SESSIONS, /* routed as consistent-hashing (warned) */
};

#define CONFIG_GROUP_TEST_URL "https://www.gstatic.com/generate_204"

struct config_group {
	const char *name;
	struct conf_pos pos;
	enum config_group_type type;
	struct config_member *members;
	size_t n_members; /* >= 1 */
	size_t selected;  /* select: the member traffic starts at
			    * ("default-selected" if it names a member, else
			    * the first); others: the member before any check */
	/* Health checks (url-test, fallback, load-balance), mihomo's keys
	 * and defaults: */
	const char *url;       /* "url"; default CONFIG_GROUP_TEST_URL */
	unsigned interval;     /* "interval", seconds; default 300 */
	unsigned timeout_ms;   /* "timeout"; default 5000 */
	unsigned tolerance_ms; /* "tolerance" (url-test); default 0 */
	bool lazy;             /* "lazy": check only a group in use; default true */
	bool disable_udp;      /* "disable-udp" */
	/* "max-failed-times": failed connections (within `timeout` of the
	 * first) that trigger a check at once; 0: mihomo's default, 5 */
	unsigned max_failed_times;
	/* "expected-status": a check is alive only with one of these HTTP
	 * statuses ("204", "200/302", "200-299"); none: any answer */
	uint16_t expected_lo[8], expected_hi[8];
	size_t n_expected;
	/* which of the check keys the group itself set (the others may come
	 * from a provider's health-check) */
	bool url_set, interval_set, timeout_set, lazy_set, expected_set;
	enum config_lb_strategy strategy;
	/* Members besides "proxies" (appended, in this order, no
	 * duplicates): the config's own proxies (include-all,
	 * include-all-proxies), the proxies of the providers in "use" (all
	 * of them with include-all, include-all-providers); both through
	 * "filter" and "exclude-filter" (config/name_filter.h). */
	struct config_str *use;
	size_t n_use;
	bool include_all, include_all_proxies, include_all_providers;
	const char *filter, *exclude_filter;
	struct conf_pos filter_pos;
};

enum config_rp_type { CONFIG_RP_FILE, CONFIG_RP_INLINE, CONFIG_RP_HTTP };

/* Where a provider of type http downloads from (config/config_remote.h). */
struct config_remote {
	const char *url;   /* http:// or https:// */
	unsigned interval; /* "interval", seconds; 0: only at start */
	const char *proxy; /* "proxy": a proxy or group; NULL: DIRECT */
	struct conf_pos proxy_pos;
	uint64_t size_limit; /* "size-limit", bytes; 0: 16 MiB */
	bool cached;         /* path existed when the config was loaded */
	int64_t mtime;       /* its modification time then (unix seconds) */
};
enum config_rp_behavior { CONFIG_RP_DOMAIN, CONFIG_RP_IPCIDR, CONFIG_RP_CLASSICAL };
enum config_rp_format { CONFIG_RP_YAML, CONFIG_RP_TEXT, CONFIG_RP_MRS };

struct config_rule_provider {
	const char *name;
	struct conf_pos pos; /* of the name (the mapping key) */
	enum config_rp_type type;
	enum config_rp_behavior behavior;
	enum config_rp_format format; /* default yaml */
	const char *path;             /* file: resolved against the config's dir;
				       * http: also, default under the cache
				       * dir (config_remote_default_path) */
	struct conf_pos path_pos;
	struct config_remote remote; /* http */
	struct config_str *payload;  /* inline: the entries */
	size_t n_payload;
};

struct config_sub_rules {
	const char *name;
	struct conf_pos pos;      /* of the name */
	struct config_str *rules; /* lines, in order, not parsed */
	size_t n_rules;
};

/* "override" of a proxy provider: applied to each of its proxies. */
struct config_override {
	bool has_udp, udp;
	bool has_skip_cert_verify, skip_cert_verify;
	const char *additional_prefix, *additional_suffix; /* to the names */
	const char *dialer_proxy;                          /* "dialer-proxy" for every proxy */
	struct conf_pos dialer_pos;
};

/* proxy-providers: a Clash `proxies:` list from a file or a download
 * (config/config_pproviders.h). Its proxies are appended to
 * config.proxies after the config's own (n_own_proxies); rules cannot
 * name them, groups take them with `use` and `include-all`. */
/* A proxy provider's "health-check" (mihomo's keys, docs/design.md §19):
 * a url-test, fallback or load-balance group that `use`s the provider
 * and sets no "url" takes its url and, with enable, its interval,
 * timeout, lazy and expected-status (those the group did not set). */
struct config_provider_hc {
	bool enable;
	const char *url;     /* NULL: none */
	unsigned interval;   /* seconds; 0 with enable: 300 */
	unsigned timeout_ms; /* 0: the group's (5000) */
	bool lazy;           /* default true */
	uint16_t expected_lo[8], expected_hi[8];
	size_t n_expected;
};

struct config_proxy_provider {
	const char *name;
	struct conf_pos pos;
	bool http;    /* type http, else file */
	bool inline_; /* type inline: the proxies of "payload" */
	struct config_provider_hc hc;
	const char *path; /* resolved; http: default under the cache dir */
	struct config_remote remote;
	const char *filter, *exclude_filter; /* regexes on names; NULL: none */
	struct config_override override;
	size_t first, n;  /* its proxies: proxies[first, first + n) */
	size_t n_skipped; /* left out: types we do not speak, filtered */
};

struct config_warning {
	struct conf_pos pos;
	const char *msg;
};

struct config {
	const char *file; /* display name given to the loader */

	enum config_log_level log_level;
	bool has_log_level;
	const char *interface_name; /* NULL: not set */
	bool has_routing_mark;
	uint32_t routing_mark;
	unsigned max_memory_mb; /* max-memory (ours), MiB; 0: not set */
	unsigned max_half_open; /* max-half-open (ours); 0: not set */
	/* keep-alive-idle, keep-alive-interval (s; 0: not set, as mihomo)
	 * and disable-keep-alive: TCP keepalive on upstream sockets */
	unsigned keepalive_idle_s, keepalive_intvl_s;
	bool disable_keepalive;
	bool ipv6; /* default true, as in mihomo */
	/* Where the geodata files are looked for (mihomo's home directory):
	 * the config's directory, "" or ending in '/'. */
	const char *dir;
	bool geodata_mode; /* GEOIP from GeoIP.dat instead of an mmdb */
	/* geox-url (mihomo's defaults when unset), geo-auto-update and
	 * geo-update-interval (hours, default 24): where a missing geodata
	 * file is downloaded from and how often it is refreshed
	 * (docs/design.md §16). */
	struct {
		const char *geoip, *mmdb, *asn, *geosite;
		bool auto_update;
		unsigned interval_h;
	} geox;

	struct config_tun tun;
	struct config_dns dns;
	struct config_sniffer sniffer;
	bool store_fake_ip;        /* profile.store-fake-ip (docs/design.md §22) */
	struct config_host *hosts; /* hosts: (docs/design.md §23) */
	size_t n_hosts;

	/* Clash's mode (rule, global, direct); the control API changes it. */
	unsigned mode; /* 0 rule, 1 global, 2 direct */
	/* The control API (docs/design.md §15); NULL: not set. */
	const char *external_controller;      /* "127.0.0.1:9090" */
	const char *external_controller_unix; /* a socket path */
	const char *secret;
	struct config_str *cors_origins; /* external-controller-cors.allow-origins */
	size_t n_cors_origins;
	bool cors_private_network;
	bool store_selected;     /* profile.store-selected */
	const char *external_ui; /* a directory (resolved), or NULL */

	struct config_proxy *proxies;
	size_t n_proxies;
	size_t n_own_proxies; /* the config's; the providers' follow */
	struct config_proxy_provider *proxy_providers;
	size_t n_proxy_providers;
	struct config_group *groups;
	size_t n_groups;
	struct config_str *rules; /* rule lines, in order, not parsed */
	size_t n_rules;
	struct config_rule_provider *rule_providers;
	size_t n_rule_providers;
	/* sub-rules: named rule lists that SUB-RULE lines hand a flow to. */
	struct config_sub_rules *sub_rules;
	size_t n_sub_rules;

	/* Ignored keys, unsupported proxy types, groups whose strategy is
	 * not implemented, ...: for the caller to log. */
	struct config_warning *warnings;
	size_t n_warnings;

	struct config_private *priv_; /* private: config/config_impl.h */
};

/* Reads and loads the file at path (its directory is the base for
 * relative paths in the config). Returns 0 with *out set, or -errno with
 * *out NULL and errs (cleared first; may be NULL) holding the errors:
 * -EINVAL for configuration errors, the open/read error otherwise,
 * -ENOMEM. The load goes on after an error in a key, an entry (proxy,
 * group, rule provider) or a rule line, so that every error of the file
 * is listed; a YAML syntax error, out of memory and the alias budget stop
 * it. */
int config_load(const char *path, struct config **out, struct conf_err_list *errs);

/* Same from memory; name is used in positions and messages, and its
 * directory as the base for relative paths. buf need not be
 * NUL-terminated. */
int config_load_buf(const char *buf, size_t len, const char *name, struct config **out,
		    struct conf_err_list *errs);

void config_free(struct config *cfg);

/* "file:line:column: warning: message" into buf (always terminated). */
void config_warning_format(const struct config_warning *w, char *buf, size_t len);

/* Where traffic for a rule target goes. */
struct config_target {
	enum config_target_kind kind;     /* never CONFIG_TARGET_GROUP */
	const struct config_proxy *proxy; /* for CONFIG_TARGET_PROXY */
};

/* Follows name (DIRECT, REJECT, REJECT-DROP, PASS, a proxy or a group, exact
 * case) through groups to where its traffic goes. Returns 0, -ENOENT
 * (no such name) or -ENOTSUP (it ends at a proxy of a type we do not
 * speak); -ELOOP and -EINVAL (a group that failed to load) only happen
 * inside the loader. On error msg (if msglen > 0) says why, e.g. "proxy
 * 'hk' has unsupported type 'ss'", ready for the caller's conf_err at the
 * rule. */
int config_resolve_target(const struct config *cfg, const char *name, struct config_target *out,
			  char *err, size_t errlen);

/* "select", "url-test", ...; "socks5", "http", "redirect", the written
 * type for unsupported ones. Static or config-owned storage. */
const char *config_group_type_name(enum config_group_type t);
const char *config_proxy_type_name(const struct config_proxy *p);

#endif
