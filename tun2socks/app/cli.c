/* cli: every flag of the daemon, its default and its validation. */
#include "tun2socks/app/cli.h"

#include "config/config.h"
#include "resolver/domain_match.h"
#include "resolver/resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: tun2socks --proxy URL [options]\n"
	"       tun2socks -c FILE [--proxy URL] [options]\n"
	"       tun2socks check -c FILE\n"
	"       tun2socks match -c FILE HOST[:PORT] [--udp] [--src IP] [--process NAME|PATH]\n"
	"\n"
	"Sends every TCP connection and UDP flow entering a TUN device where the\n"
	"rules of the config file say (SOCKS5 or HTTP proxies, DIRECT, REJECT,\n"
	"redirects); with --proxy alone, everything through that proxy.\n"
	"check validates a config and its rule files; match prints the rule and\n"
	"upstream a connection would get.\n"
	"Runs in the foreground; SIGINT/SIGTERM close every flow and remove the TUN.\n"
	"It never changes routes: point the default route (or prefixes) at the TUN.\n"
	"\n"
	"  -c, --config FILE      Clash-style YAML config: proxies, proxy-groups, rules,\n"
	"                         rule-providers, dns, tun (flags override it; SIGHUP\n"
	"                         reloads it)\n"
	"  --proxy URL            socks5://[user:pass@]host:port, http://[user:pass@]host:port\n"
	"                         or https://...: the upstream when no config is given,\n"
	"                         else where flows go that no rule matches\n"
	"  --tun NAME             TUN device to create (default: kernel picks, e.g. tun0)\n"
	"  --tun-fd N             use an already-open TUN descriptor instead\n"
	"  --tun-framing raw|utun packet framing on --tun-fd (default: raw on Linux,\n"
	"                         utun 4-byte address-family header on macOS)\n"
	"  --tun-addr CIDR        IPv4 address of the TUN (default 198.18.0.1/15; 'none')\n"
	"  --tun-addr6 CIDR       IPv6 address of the TUN (default fdfe:dcba:9876::1/126; 'none')\n"
	"  --mtu N                TUN MTU, 576-65535 (default 8500); TCP MSS follows it\n"
	"  --bind-interface IFACE send our own upstream traffic out of IFACE\n"
	"                         (Linux SO_BINDTODEVICE, macOS IP_BOUND_IF)\n"
	"  --fwmark N             mark our own upstream sockets (Linux SO_MARK)\n"
	"  --connect-timeout S    proxy connect + handshake timeout (default 10)\n"
	"  --idle-timeout S       close TCP flows idle this long, 0 = never (default 7440)\n"
	"  --udp-timeout S        close UDP sessions idle this long (default 60;\n"
	"                         sessions that only carried DNS: 10)\n"
	"  --dns MODE             DNS queries to port 53 on any address, UDP and TCP,\n"
	"                         are answered by the daemon: fake-ip (default) hands\n"
	"                         out addresses from the fake range and sends flows to\n"
	"                         them by name; real-ip answers real addresses and\n"
	"                         remembers their names; off relays DNS like any flow\n"
	"  --dns-server LIST      upstream DNS, comma-separated: IP, IP:port, [v6]:port,\n"
	"                         udp://IP[:port], tcp://IP[:port] (default: the\n"
	"                         system's resolvers, /etc/resolv.conf at startup)\n"
	"  --dns-via-proxy        forward queries over TCP through the SOCKS5 proxy\n"
	"                         (to the first --dns-server), so no DNS leaves unproxied\n"
	"  --fake-ip-range CIDR[,CIDR6]  fake address pools (default 198.18.0.0/15 and\n"
	"                         fdfe:dcba:9876:1::/64; the TUN's own addresses are\n"
	"                         never handed out); a family not listed keeps its default\n"
	"  --fake-ip-filter LIST  comma-separated patterns answered with real addresses,\n"
	"                         added to the defaults (*.lan, localhost, *.local, NTP,\n"
	"                         STUN...): example.com, *.example.com (one label),\n"
	"                         .example.com (subdomains), +.example.com (both)\n"
	"  --fake-ip-min-age S    a fake address goes to another name only after it\n"
	"                         was unused S seconds; until then new names get\n"
	"                         SERVFAIL (default 60; 0 = reuse at once, as mihomo)\n"
	"  --no-proxy-check       start even if the proxy is unreachable now\n"
	"  --log-level LEVEL      error|warn|info|debug (default info)\n"
	"  --help, --version\n";

const char *cli_usage(void)
{
	return usage;
}

static int cli_err(char *err, size_t errlen, const char *opt, const char *what, const char *got)
{
	snprintf(err, errlen, "%s: %s, got '%s'", opt, what, got);
	return -EINVAL;
}

static int cli_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_cidr(const char *s, int v6, uint8_t *addr, uint8_t *prefix)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	unsigned long p;
	size_t n;

	if (slash == NULL)
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, addr) != 1)
		return -EINVAL;
	if (cli_uint(slash + 1, 1, v6 ? 128 : 32, &p) < 0)
		return -EINVAL;
	*prefix = (uint8_t)p;
	return 0;
}

enum {
	OPT_PROXY, OPT_TUN, OPT_TUN_FD, OPT_TUN_FRAMING, OPT_TUN_ADDR, OPT_TUN_ADDR6,
	OPT_MTU, OPT_BIND_IFACE, OPT_FWMARK, OPT_CONNECT_TIMEOUT, OPT_IDLE_TIMEOUT,
	OPT_NO_PROXY_CHECK, OPT_LOG_LEVEL, OPT_HELP, OPT_VERSION, OPT_UDP_TIMEOUT,
	OPT_DNS, OPT_DNS_SERVER, OPT_DNS_VIA_PROXY, OPT_FAKE_IP_RANGE, OPT_FAKE_IP_FILTER,
	OPT_CONFIG, OPT_UDP, OPT_SRC, OPT_PROCESS, OPT_FAKE_IP_MIN_AGE,
};

static const struct {
	const char *name;
	bool has_arg;
} options[] = {
	[OPT_PROXY] = { "--proxy", true },
	[OPT_TUN] = { "--tun", true },
	[OPT_TUN_FD] = { "--tun-fd", true },
	[OPT_TUN_FRAMING] = { "--tun-framing", true },
	[OPT_TUN_ADDR] = { "--tun-addr", true },
	[OPT_TUN_ADDR6] = { "--tun-addr6", true },
	[OPT_MTU] = { "--mtu", true },
	[OPT_BIND_IFACE] = { "--bind-interface", true },
	[OPT_FWMARK] = { "--fwmark", true },
	[OPT_CONNECT_TIMEOUT] = { "--connect-timeout", true },
	[OPT_IDLE_TIMEOUT] = { "--idle-timeout", true },
	[OPT_NO_PROXY_CHECK] = { "--no-proxy-check", false },
	[OPT_LOG_LEVEL] = { "--log-level", true },
	[OPT_HELP] = { "--help", false },
	[OPT_VERSION] = { "--version", false },
	[OPT_UDP_TIMEOUT] = { "--udp-timeout", true },
	[OPT_DNS] = { "--dns", true },
	[OPT_DNS_SERVER] = { "--dns-server", true },
	[OPT_DNS_VIA_PROXY] = { "--dns-via-proxy", false },
	[OPT_FAKE_IP_RANGE] = { "--fake-ip-range", true },
	[OPT_FAKE_IP_FILTER] = { "--fake-ip-filter", true },
	[OPT_CONFIG] = { "--config", true },
	[OPT_UDP] = { "--udp", false },
	[OPT_SRC] = { "--src", true },
	[OPT_PROCESS] = { "--process", true },
	[OPT_FAKE_IP_MIN_AGE] = { "--fake-ip-min-age", true },
};

static int cli_find(const char *arg, const char **value)
{
	size_t n = sizeof(options) / sizeof(options[0]);

	*value = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(options[i].name);

		if (strncmp(arg, options[i].name, len) != 0)
			continue;
		if (arg[len] == '\0')
			return (int)i;
		if (arg[len] == '=' && options[i].has_arg) {
			*value = arg + len + 1;
			return (int)i;
		}
	}
	if (strcmp(arg, "-h") == 0)
		return OPT_HELP;
	if (strcmp(arg, "-c") == 0)
		return OPT_CONFIG;
	if (strcmp(arg, "-V") == 0)
		return OPT_VERSION;
	return -1;
}

/* "CIDR[,CIDR6]": each listed family replaces that family's pool. */
static int cli_fake_range(const char *val, struct daemon_dns_config *dns)
{
	char buf[128];
	char *save = NULL, *tok;
	bool seen4 = false, seen6 = false;

	if (strlen(val) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strchr(tok, ':')) {
			if (seen6 || cli_parse_cidr(tok, 1, dns->net6, &dns->prefix6) < 0)
				return -EINVAL;
			seen6 = dns->has6 = true;
		} else {
			if (seen4 || cli_parse_cidr(tok, 0, dns->net4, &dns->prefix4) < 0)
				return -EINVAL;
			seen4 = dns->has4 = true;
		}
	}
	return seen4 || seen6 ? 0 : -EINVAL;
}

/* Splits the comma-separated patterns into dns->filter, checking each. */
static int cli_fake_filter(const char *val, struct daemon_dns_config *dns, char *err,
			   size_t errlen)
{
	struct domain_match *m = NULL;
	size_t used = dns->filter_used, n = 0;
	char *save = NULL, *tok;
	int r;

	while (dns->filter[n])
		n++;
	if (used + strlen(val) + 1 > sizeof(dns->filter_buf))
		return cli_err(err, errlen, "--fake-ip-filter", "list too long (4 KiB at most)", "...");
	r = domain_match_create(&m);
	if (r < 0)
		return r;
	memcpy(dns->filter_buf + used, val, strlen(val) + 1);
	/* Later values go after this one whole (tokens point into it). */
	dns->filter_used = used + strlen(val) + 1;
	for (tok = strtok_r(dns->filter_buf + used, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t tl;

		while (*tok == ' ')
			tok++;
		tl = strlen(tok);
		while (tl > 0 && tok[tl - 1] == ' ')
			tok[--tl] = '\0';
		if (*tok == '\0')
			continue;
		if (n + 1 >= sizeof(dns->filter) / sizeof(dns->filter[0])) {
			r = cli_err(err, errlen, "--fake-ip-filter", "at most 256 patterns", tok);
			break;
		}
		if (domain_match_add(m, tok) < 0) {
			r = cli_err(err, errlen, "--fake-ip-filter",
				    "expected patterns like example.com, *.example.com, "
				    ".example.com or +.example.com", tok);
			break;
		}
		dns->filter[n++] = tok;
		dns->filter[n] = NULL;
	}
	domain_match_destroy(m);
	return r;
}

int cli_parse(int argc, char **argv, struct daemon_config *cfg, char *err, size_t errlen)
{
	bool have_proxy = false, have_tun = false;
	int action = CLI_RUN, first = 1;
	unsigned long v;
	int r;

	daemon_config_defaults(cfg);
	err[0] = '\0';
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		action = CLI_CHECK;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "match") == 0) {
		action = CLI_MATCH;
		first = 2;
	}
	for (int i = first; i < argc; i++) {
		const char *val;
		int opt;

		if (action == CLI_MATCH && argv[i][0] != '-' && cfg->match_target == NULL) {
			cfg->match_target = argv[i];
			continue;
		}
		opt = cli_find(argv[i], &val);
		if (opt < 0) {
			snprintf(err, errlen, "unknown option '%s' (see --help)", argv[i]);
			return -EINVAL;
		}
		if (opt == OPT_HELP)
			return CLI_HELP;
		if (opt == OPT_VERSION)
			return CLI_VERSION;
		if (options[opt].has_arg && val == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s: missing value", options[opt].name);
				return -EINVAL;
			}
			val = argv[++i];
		}
		if ((opt == OPT_UDP || opt == OPT_SRC || opt == OPT_PROCESS) && action != CLI_MATCH) {
			snprintf(err, errlen, "%s only goes with match (see --help)", options[opt].name);
			return -EINVAL;
		}
		cfg->given |= 1ull << opt;
		switch (opt) {
		case OPT_PROXY:
			r = proxy_url_parse(val, &cfg->proxy, err, errlen);
			if (r < 0) {
				char why[200];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "--proxy: malformed URL '%s': %s", val, why);
				return -EINVAL;
			}
			have_proxy = true;
			cfg->has_proxy = true;
			break;
		case OPT_CONFIG:
			if (val[0] == '\0')
				return cli_err(err, errlen, "--config", "expected a file name", val);
			cfg->config_path = val;
			break;
		case OPT_UDP:
			cfg->match_udp = true;
			break;
		case OPT_SRC: {
			uint8_t a[16];

			if (inet_pton(AF_INET, val, a) != 1 && inet_pton(AF_INET6, val, a) != 1)
				return cli_err(err, errlen, "--src", "expected an IPv4 or IPv6 address", val);
			cfg->match_src = val;
			break;
		}
		case OPT_PROCESS:
			cfg->match_process = val;
			break;
		case OPT_TUN:
			if (val[0] == '\0' || strlen(val) >= 16)
				return cli_err(err, errlen, "--tun", "expected an interface name of 1-15 characters", val);
			snprintf(cfg->tun_name, sizeof(cfg->tun_name), "%s", val);
			cfg->tun.name = cfg->tun_name;
			have_tun = true;
			break;
		case OPT_TUN_FD:
			if (cli_uint(val, 0, 1u << 30, &v) < 0)
				return cli_err(err, errlen, "--tun-fd", "expected a file descriptor number", val);
			cfg->tun.fd = (int)v;
			break;
		case OPT_TUN_FRAMING:
			if (strcmp(val, "raw") == 0)
				cfg->tun.framing = TUN_FRAMING_RAW;
			else if (strcmp(val, "utun") == 0)
				cfg->tun.framing = TUN_FRAMING_AF4;
			else
				return cli_err(err, errlen, "--tun-framing", "expected raw or utun", val);
			break;
		case OPT_TUN_ADDR:
			if (strcmp(val, "none") == 0) {
				cfg->tun.has_addr4 = false;
			} else if (cli_parse_cidr(val, 0, cfg->tun.addr4, &cfg->tun.prefix4) < 0) {
				return cli_err(err, errlen, "--tun-addr", "expected IPv4 CIDR like 198.18.0.1/15", val);
			} else {
				cfg->tun.has_addr4 = true;
			}
			break;
		case OPT_TUN_ADDR6:
			if (strcmp(val, "none") == 0) {
				cfg->tun.has_addr6 = false;
			} else if (cli_parse_cidr(val, 1, cfg->tun.addr6, &cfg->tun.prefix6) < 0) {
				return cli_err(err, errlen, "--tun-addr6", "expected IPv6 CIDR like fdfe:dcba:9876::1/126", val);
			} else {
				cfg->tun.has_addr6 = true;
			}
			break;
		case OPT_MTU:
			if (cli_uint(val, 576, 65535, &v) < 0)
				return cli_err(err, errlen, "--mtu", "expected a number from 576 to 65535", val);
			cfg->tun.mtu = (uint32_t)v;
			break;
		case OPT_BIND_IFACE:
			if (val[0] == '\0' || strlen(val) >= sizeof(cfg->sock.bind_iface))
				return cli_err(err, errlen, "--bind-interface", "expected an interface name", val);
			snprintf(cfg->sock.bind_iface, sizeof(cfg->sock.bind_iface), "%s", val);
			break;
		case OPT_FWMARK:
			if (cli_uint(val, 1, 0xFFFFFFFFul, &v) < 0)
				return cli_err(err, errlen, "--fwmark", "expected a number from 1 to 4294967295", val);
			cfg->sock.has_fwmark = true;
			cfg->sock.fwmark = (uint32_t)v;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_uint(val, 1, 3600, &v) < 0)
				return cli_err(err, errlen, "--connect-timeout", "expected seconds from 1 to 3600", val);
			cfg->connect_timeout_s = (unsigned)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (cli_uint(val, 0, 7 * 86400, &v) < 0)
				return cli_err(err, errlen, "--idle-timeout", "expected seconds from 0 to 604800", val);
			cfg->idle_timeout_s = (unsigned)v;
			break;
		case OPT_UDP_TIMEOUT:
			if (cli_uint(val, 1, 86400, &v) < 0)
				return cli_err(err, errlen, "--udp-timeout", "expected seconds from 1 to 86400", val);
			cfg->udp_timeout_s = (unsigned)v;
			break;
		case OPT_NO_PROXY_CHECK:
			cfg->check_proxy = false;
			break;
		case OPT_DNS:
			if (strcmp(val, "fake-ip") == 0)
				cfg->dns.mode = DNS_MODE_FAKE_IP;
			else if (strcmp(val, "real-ip") == 0)
				cfg->dns.mode = DNS_MODE_REAL_IP;
			else if (strcmp(val, "off") == 0)
				cfg->dns.mode = DNS_MODE_OFF;
			else
				return cli_err(err, errlen, "--dns", "expected fake-ip, real-ip or off", val);
			break;
		case OPT_DNS_SERVER: {
			char csv[4096], why[200] = "";
			bool tcp;

			r = resolver_parse_servers(val, csv, sizeof(csv), &tcp, why, sizeof(why));
			if (r == -ENOBUFS || (r < 0 && why[0] == '\0')) {
				snprintf(err, errlen, "--dns-server: too many servers (about 300 at most)");
				return -EINVAL;
			}
			if (r < 0) {
				snprintf(err, errlen, "%s", why);
				return -EINVAL;
			}
			cfg->dns.servers = val;
			break;
		}
		case OPT_DNS_VIA_PROXY:
			cfg->dns.via_proxy = true;
			break;
		case OPT_FAKE_IP_RANGE:
			if (cli_fake_range(val, &cfg->dns) < 0)
				return cli_err(err, errlen, "--fake-ip-range",
					       "expected CIDR[,CIDR6] like 198.18.0.0/15,fdfe:dcba:9876:1::/64", val);
			break;
		case OPT_FAKE_IP_FILTER:
			r = cli_fake_filter(val, &cfg->dns, err, errlen);
			if (r < 0)
				return r;
			break;
		case OPT_FAKE_IP_MIN_AGE:
			if (cli_uint(val, 0, 86400, &v) < 0)
				return cli_err(err, errlen, "--fake-ip-min-age",
					       "expected seconds from 0 to 86400", val);
			cfg->dns.fake_min_age = (unsigned)v;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(val, &cfg->log_level) < 0)
				return cli_err(err, errlen, "--log-level", "expected error, warn, info or debug", val);
			break;
		}
	}
	if (action != CLI_RUN && cfg->config_path == NULL) {
		snprintf(err, errlen, "%s needs -c FILE (see --help)", action == CLI_CHECK ? "check" : "match");
		return -EINVAL;
	}
	if (action == CLI_MATCH && cfg->match_target == NULL) {
		snprintf(err, errlen, "match needs HOST[:PORT] (see --help)");
		return -EINVAL;
	}
	if (action != CLI_RUN)
		return action;
	if (!have_proxy && cfg->config_path == NULL) {
		snprintf(err, errlen, "--proxy or -c FILE is required (see --help)");
		return -EINVAL;
	}
	if (cfg->dns.via_proxy && cfg->dns.servers == NULL) {
		snprintf(err, errlen, "--dns-via-proxy needs --dns-server (the resolver the proxy reaches)");
		return -EINVAL;
	}
	if (have_tun && cfg->tun.fd >= 0) {
		snprintf(err, errlen, "--tun and --tun-fd exclude each other");
		return -EINVAL;
	}
	if (cfg->tun.has_addr6 && cfg->tun.fd < 0 && cfg->tun.mtu < 1280) {
		snprintf(err, errlen, "--mtu: IPv6 needs at least 1280 (or use --tun-addr6 none), got '%u'",
			 cfg->tun.mtu);
		return -EINVAL;
	}
	return CLI_RUN;
}

static bool cli_given(const struct daemon_config *cfg, int opt)
{
	return (cfg->given >> opt) & 1;
}

int cli_apply_config(struct daemon_config *cfg, const struct config *conf, char *err,
		     size_t errlen)
{
	const struct config_dns *dns = &conf->dns;
	int r;

	if (conf->tun.device && !cli_given(cfg, OPT_TUN) && cfg->tun.fd < 0) {
		snprintf(cfg->tun_name, sizeof(cfg->tun_name), "%s", conf->tun.device);
		cfg->tun.name = cfg->tun_name;
	}
	if (conf->tun.mtu && !cli_given(cfg, OPT_MTU))
		cfg->tun.mtu = conf->tun.mtu;
	if (conf->tun.n_inet4 > 0 && !cli_given(cfg, OPT_TUN_ADDR)) {
		memcpy(cfg->tun.addr4, conf->tun.inet4[0].addr, 4);
		cfg->tun.prefix4 = (uint8_t)conf->tun.inet4[0].prefix;
		cfg->tun.has_addr4 = true;
	}
	if (conf->tun.n_inet6 > 0 && !cli_given(cfg, OPT_TUN_ADDR6)) {
		memcpy(cfg->tun.addr6, conf->tun.inet6[0].addr, 16);
		cfg->tun.prefix6 = (uint8_t)conf->tun.inet6[0].prefix;
		cfg->tun.has_addr6 = true;
	}
	if (conf->interface_name && !cli_given(cfg, OPT_BIND_IFACE))
		snprintf(cfg->sock.bind_iface, sizeof(cfg->sock.bind_iface), "%s",
			 conf->interface_name);
	if (conf->has_routing_mark && !cli_given(cfg, OPT_FWMARK) && conf->routing_mark) {
		cfg->sock.has_fwmark = true;
		cfg->sock.fwmark = conf->routing_mark;
	}
	if (conf->has_log_level && !cli_given(cfg, OPT_LOG_LEVEL)) {
		static const enum log_level map[] = {
			[CONFIG_LOG_SILENT] = LOG_ERROR, [CONFIG_LOG_ERROR] = LOG_ERROR,
			[CONFIG_LOG_WARNING] = LOG_WARN, [CONFIG_LOG_INFO] = LOG_INFO,
			[CONFIG_LOG_DEBUG] = LOG_DEBUG,
		};
		cfg->log_level = map[conf->log_level];
	}
	if (!dns->present)
		return 0;
	if (!cli_given(cfg, OPT_DNS))
		cfg->dns.mode = !dns->enable                      ? DNS_MODE_OFF
				: dns->mode == CONFIG_DNS_FAKE_IP ? DNS_MODE_FAKE_IP
								  : DNS_MODE_REAL_IP;
	if (dns->n_nameservers > 0 && !cli_given(cfg, OPT_DNS_SERVER)) {
		size_t off = 0;

		for (size_t i = 0; i < dns->n_nameservers; i++) {
			int n = snprintf(cfg->dns.servers_buf + off, sizeof(cfg->dns.servers_buf) - off,
					 "%s%s", i ? "," : "", dns->nameservers[i].text);

			if (n < 0 || (size_t)n >= sizeof(cfg->dns.servers_buf) - off) {
				snprintf(err, errlen, "%s: dns.nameserver: list too long (1 KiB at most)",
					 conf->file);
				return -EINVAL;
			}
			off += (size_t)n;
		}
		cfg->dns.servers = cfg->dns.servers_buf;
	}
	if (!cli_given(cfg, OPT_FAKE_IP_RANGE)) {
		if (dns->has_fake_ip_range) {
			/* mihomo writes the range with its first address
			 * ("198.18.0.1/16"): the host bits do not matter. */
			memcpy(cfg->dns.net4, dns->fake_ip_range.addr, 4);
			cfg->dns.prefix4 = (uint8_t)dns->fake_ip_range.prefix;
			cfg->dns.has4 = true;
		}
		if (dns->has_fake_ip_range6) {
			memcpy(cfg->dns.net6, dns->fake_ip_range6.addr, 16);
			cfg->dns.prefix6 = (uint8_t)dns->fake_ip_range6.prefix;
			cfg->dns.has6 = true;
		}
	}
	if (dns->has_fake_ip_min_age && !cli_given(cfg, OPT_FAKE_IP_MIN_AGE))
		cfg->dns.fake_min_age = dns->fake_ip_min_age;
	for (size_t i = 0; i < dns->n_fake_ip_filter; i++) {
		r = cli_fake_filter(dns->fake_ip_filter[i].text, &cfg->dns, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}
