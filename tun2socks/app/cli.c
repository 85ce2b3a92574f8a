/* cli: every flag of the daemon, its default and its validation. */
#include "tun2socks/app/cli.h"
#include "config/nameservers.h"

#include "config/config.h"
#include "resolver/domain_match.h"
#include "resolver/resolver.h"
#include "tun2socks/system/prefix.h"
#include "tun2socks/system/route_plan.h"
#include "tun2socks/app/run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"Usage: tun2socks --proxy URL [options]\n"
	"       tun2socks -c FILE [--proxy URL] [options]\n"
	"       tun2socks check -c FILE [--fetch]\n"
	"       tun2socks match -c FILE HOST[:PORT] [--udp] [--src IP] [--process NAME|PATH]\n"
	"       tun2socks cleanup [--tun NAME] [--state-dir DIR]\n"
	"       tun2socks ctl [-c FILE] COMMAND   (the control API: tun2socks ctl --help)\n"
	"       tun2socks status [--tun NAME] [--state-dir DIR]\n"
	"       tun2socks run [-c FILE | --proxy URL] [options] -- CMD [ARGS...]\n"
	"\n"
	"Sends every TCP connection and UDP flow entering a TUN device where the\n"
	"rules of the config file say (SOCKS5 or HTTP proxies, DIRECT, REJECT,\n"
	"redirects); with --proxy alone, everything through that proxy.\n"
	"check validates a config and its rule files and lists every error (--fetch:\n"
	"downloads its http rule and proxy providers first, into their cache, and\n"
	"missing geodata files from geox-url into the config's directory); match\n"
	"prints the rule and upstream a connection would get (PORT defaults to 443);\n"
	"run starts CMD in a network namespace of its own whose only route is a TUN\n"
	"the daemon serves (no root needed where user namespaces are allowed): CMD\n"
	"and nothing else goes through the rules; run exits with CMD's status.\n"
	"cleanup removes the routes and rules a killed daemon's --auto-route left;\n"
	"status shows what --auto-route set up and whether it is all still there\n"
	"(exit 0: a daemon runs and all is in place; 1: nothing set up; 2: a killed\n"
	"daemon's leftovers, run cleanup; 3: a daemon runs but something is missing).\n"
	"Runs in the foreground; SIGINT/SIGTERM close every flow and remove the TUN\n"
	"(and what --auto-route added). Without --auto-route it never changes routes:\n"
	"point the default route (or prefixes) at the TUN yourself.\n"
	"\n"
	"  -c, --config FILE      Clash-style YAML config: proxies, proxy-groups, rules,\n"
	"                         rule-providers, dns, tun (flags override it; SIGHUP\n"
	"                         reloads it)\n"
	"  --proxy URL            socks5://[user:pass@]host[:port], also http:// and https://:\n"
	"                         the upstream when no config is given, else where flows go\n"
	"                         that no rule matches. Default port: socks5 1080, http 80,\n"
	"                         https 443. Percent-encode '@' (%40), '/', '?' and '#' in\n"
	"                         the user and password, and ':' in the user\n"
	"  --tun NAME             TUN device to create (default: kernel picks, e.g. tun0)\n"
	"  --tun-fd N             use an already-open TUN descriptor instead\n"
	"  --tun-framing raw|utun packet framing on --tun-fd (default: raw on Linux,\n"
	"                         utun 4-byte address-family header on macOS)\n"
	"  --tun-addr CIDR        IPv4 address of the TUN (default 198.18.0.1/15; 'none')\n"
	"  --tun-addr6 CIDR       IPv6 address of the TUN (default fdfe:dcba:9876::1/126; 'none')\n"
	"  --mtu N                TUN MTU, 576-65535 (default 8500); TCP MSS follows it\n"
	"  --bind-interface IFACE send our own upstream traffic out of IFACE\n"
	"                         (Linux SO_BINDTODEVICE, macOS IP_BOUND_IF)\n"
	"  --fwmark N             mark our own upstream sockets (Linux SO_MARK; decimal\n"
	"                         or 0x hex)\n"
	"  --pipelining MODE      auto, true or false: --proxy's SOCKS5 greeting, auth and\n"
	"                         CONNECT in one write, a round trip less per connection.\n"
	"                         auto (default) probes the proxy once and pipelines only\n"
	"                         if it answers (config proxies: their \"pipelining\" key)\n"
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
	"  --store-fake-ip        keep the fake pool across restarts, in\n"
	"                         <state dir>/<tun>.fakeip\n"
	"  --auto-route           route the machine's traffic into the TUN (Linux): IPv4\n"
	"                         and IPv6 through table --iproute2-table-index and\n"
	"                         rules from --iproute2-rule-index; our own sockets carry\n"
	"                         --fwmark (default 0x2022) and go around; the LAN, the\n"
	"                         proxy servers and replies to incoming connections\n"
	"                         stay direct; removed again at exit\n"
	"  --auto-detect-interface  bind our own sockets to the interface of the default\n"
	"                         route, and follow it when it moves (Linux)\n"
	"  --strict-route         with --auto-route: a family the TUN has no address for\n"
	"                         (--tun-addr6 none) is blocked instead of going direct\n"
	"  --dns-hijack on|off    with --auto-route: DNS to port 53 of any server, UDP and\n"
	"                         TCP, enters the TUN (default on)\n"
	"  --iproute2-table-index N  the routing table (default 2022)\n"
	"  --iproute2-rule-index N   the first rule priority; N to N+10 (default 9000)\n"
	"  --route-address LIST   CIDRs routed into the TUN (default: everything)\n"
	"  --route-exclude-address LIST  CIDRs kept out of the TUN\n"
	"  --include-uid LIST     only these users' traffic: 1000,2000-2999\n"
	"  --exclude-uid LIST     not these users' traffic\n"
	"  --state-dir DIR        where --auto-route records what it added\n"
	"                         (default /run/tun2socks; macOS /var/run/tun2socks)\n"
	"  --controller ADDR      serve the Clash control API on ADDR (127.0.0.1:9090);\n"
	"                         overrides the config's external-controller; port 0:\n"
	"                         any free port (the log says which)\n"
	"  --secret S             the control API's secret (overrides the config's)\n"
	"  --allow-host-port N    with run: CMD's 127.0.0.1:N reaches the host's\n"
	"                         127.0.0.1:N (repeatable, 8 at most)\n"
	"  --max-memory MB        a memory budget (routers, phones): as it fills, the\n"
	"                         daemon sheds half-open connections and pending DNS,\n"
	"                         then idle UDP sessions, then refuses new flows\n"
	"                         (default: none)\n"
	"  --max-half-open N      connections whose handshake is not done (a SYN\n"
	"                         flood) kept before the oldest are reset (default 2048)\n"
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

/* "0x..." up to 32 bits (a mark as `ip rule` prints it). */
static int cli_hex(const char *s, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s[2] == '\0')
		return -EINVAL;
	errno = 0;
	v = strtoul(s + 2, &end, 16);
	if (errno != 0 || *end != '\0' || v == 0 || v > 0xFFFFFFFFul)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Comma-separated CIDRs of either family (host bits allowed, as mihomo). */
static int cli_cidr_list(const char *val)
{
	char buf[1024], *save = NULL, *tok;
	struct prefix p;
	int n = 0;

	if (strlen(val) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strchr(tok, '/') || prefix_parse(tok, true, &p) < 0)
			return -EINVAL;
		n++;
	}
	return n > 0 ? 0 : -EINVAL;
}

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
	[OPT_AUTO_ROUTE] = { "--auto-route", false },
	[OPT_STRICT_ROUTE] = { "--strict-route", false },
	[OPT_DNS_HIJACK] = { "--dns-hijack", true },
	[OPT_TABLE_INDEX] = { "--iproute2-table-index", true },
	[OPT_RULE_INDEX] = { "--iproute2-rule-index", true },
	[OPT_ROUTE_ADDRESS] = { "--route-address", true },
	[OPT_ROUTE_EXCLUDE] = { "--route-exclude-address", true },
	[OPT_INCLUDE_UID] = { "--include-uid", true },
	[OPT_EXCLUDE_UID] = { "--exclude-uid", true },
	[OPT_STATE_DIR] = { "--state-dir", true },
	[OPT_CONTROLLER] = { "--controller", true },
	[OPT_AUTO_DETECT_IFACE] = { "--auto-detect-interface", false },
	[OPT_MAX_MEMORY] = { "--max-memory", true },
	[OPT_ALLOW_HOST_PORT] = { "--allow-host-port", true },
	[OPT_FETCH] = { "--fetch", false },
	[OPT_STORE_FAKE_IP] = { "--store-fake-ip", false },
	[OPT_SECRET] = { "--secret", true },
	[OPT_MAX_HALF_OPEN] = { "--max-half-open", true },
	[OPT_PIPELINING] = { "--pipelining", true },
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

/* --proxy URL. The error echoes the URL (its user just typed it) and, when
 * the mistake has one obvious fix (a raw '@' in the password), the fixed
 * URL to paste. */
static int cli_proxy(const char *val, struct proxy_url *out, char *err, size_t errlen)
{
	char why[256], fix[1024];

	if (proxy_url_parse(val, out, why, sizeof(why)) == 0)
		return 0;
	if (proxy_url_suggest(val, fix, sizeof(fix)) == 0)
		snprintf(err, errlen, "--proxy: malformed URL '%s': %s; percent-encoded: '%s'", val,
			 why, fix);
	else
		snprintf(err, errlen, "--proxy: malformed URL '%s': %s", val, why);
	return -EINVAL;
}

/* "CIDR[,CIDR6]": each listed family replaces that family's pool. */
static int cli_fake_range(const char *val, struct options_dns *dns)
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

/* What the daemon needs of any command line that runs it (the daemon
 * itself, `run`). */
static int cli_check_upstream(const struct options *cfg, bool have_proxy, char *err, size_t errlen)
{
	if (!have_proxy && cfg->config_path == NULL) {
		snprintf(err, errlen, "--proxy or -c FILE is required (see --help)");
		return -EINVAL;
	}
	if (cfg->dns.via_proxy && cfg->dns.servers == NULL) {
		snprintf(err, errlen,
			 "--dns-via-proxy needs --dns-server (the resolver the proxy reaches)");
		return -EINVAL;
	}
	return 0;
}

/* `run`: the daemon's requirements, and run's own (run.h). */
static int cli_run_cmd(struct options *cfg, bool have_proxy, char *err, size_t errlen)
{
	if (cli_check_upstream(cfg, have_proxy, err, errlen) < 0)
		return -EINVAL;
	if (cfg->tun.has_addr6 && cfg->tun.mtu < 1280) {
		snprintf(err, errlen,
			 "--mtu: IPv6 needs at least 1280 (or use --tun-addr6 none), got '%u'",
			 cfg->tun.mtu);
		return -EINVAL;
	}
	if (run_check_options(cfg, err, errlen) < 0)
		return -EINVAL;
	return CLI_RUN_CMD;
}

int cli_parse(int argc, char **argv, struct options *cfg, char *err, size_t errlen)
{
	bool have_proxy = false, have_tun = false;
	int action = CLI_RUN, first = 1;
	unsigned long v;
	int r;

	options_defaults(cfg);
	err[0] = '\0';
	if (argc > 1 && strcmp(argv[1], "check") == 0) {
		action = CLI_CHECK;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "match") == 0) {
		action = CLI_MATCH;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "cleanup") == 0) {
		action = CLI_CLEANUP;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "status") == 0) {
		action = CLI_STATUS;
		first = 2;
	} else if (argc > 1 && strcmp(argv[1], "run") == 0) {
		action = CLI_RUN_CMD;
		first = 2;
	}
	for (int i = first; i < argc; i++) {
		const char *val;
		int opt;

		/* run's options end at "--" or at the first word that is none:
		 * the rest is CMD's. */
		if (action == CLI_RUN_CMD && (strcmp(argv[i], "--") == 0 || argv[i][0] != '-')) {
			cfg->run_argv = argv + i + (argv[i][0] == '-');
			break;
		}
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
		if ((opt == OPT_UDP || opt == OPT_SRC || opt == OPT_PROCESS) &&
		    action != CLI_MATCH) {
			snprintf(err, errlen, "%s only goes with match (see --help)",
				 options[opt].name);
			return -EINVAL;
		}
		if (opt == OPT_FETCH && action != CLI_CHECK) {
			snprintf(err, errlen, "--fetch only goes with check (see --help)");
			return -EINVAL;
		}
		if ((action == CLI_CLEANUP || action == CLI_STATUS) && opt != OPT_TUN &&
		    opt != OPT_STATE_DIR && opt != OPT_LOG_LEVEL) {
			snprintf(err, errlen, "%s takes --tun and --state-dir only, got %s",
				 action == CLI_CLEANUP ? "cleanup" : "status", options[opt].name);
			return -EINVAL;
		}
		cfg->given |= 1ull << opt;
		switch (opt) {
		case OPT_PROXY:
			r = cli_proxy(val, &cfg->proxy, err, errlen);
			if (r < 0)
				return r;
			have_proxy = true;
			cfg->has_proxy = true;
			break;
		case OPT_CONFIG:
			if (val[0] == '\0')
				return cli_err(err, errlen, "--config", "expected a file name",
					       val);
			cfg->config_path = val;
			break;
		case OPT_UDP:
			cfg->match_udp = true;
			break;
		case OPT_FETCH:
			cfg->check_fetch = true;
			break;
		case OPT_SRC: {
			uint8_t a[16];

			if (inet_pton(AF_INET, val, a) != 1 && inet_pton(AF_INET6, val, a) != 1)
				return cli_err(err, errlen, "--src",
					       "expected an IPv4 or IPv6 address", val);
			cfg->match_src = val;
			break;
		}
		case OPT_PROCESS:
			cfg->match_process = val;
			break;
		case OPT_TUN:
			if (val[0] == '\0' || strlen(val) >= 16)
				return cli_err(err, errlen, "--tun",
					       "expected an interface name of 1-15 characters",
					       val);
			snprintf(cfg->tun_name, sizeof(cfg->tun_name), "%s", val);
			cfg->tun.name = cfg->tun_name;
			have_tun = true;
			break;
		case OPT_TUN_FD:
			if (cli_uint(val, 0, 1u << 30, &v) < 0)
				return cli_err(err, errlen, "--tun-fd",
					       "expected a file descriptor number", val);
			cfg->tun.fd = (int)v;
			break;
		case OPT_TUN_FRAMING:
			if (strcmp(val, "raw") == 0)
				cfg->tun.framing = TUN_FRAMING_RAW;
			else if (strcmp(val, "utun") == 0)
				cfg->tun.framing = TUN_FRAMING_AF4;
			else
				return cli_err(err, errlen, "--tun-framing", "expected raw or utun",
					       val);
			break;
		case OPT_TUN_ADDR:
			if (strcmp(val, "none") == 0) {
				cfg->tun.has_addr4 = false;
			} else if (cli_parse_cidr(val, 0, cfg->tun.addr4, &cfg->tun.prefix4) < 0) {
				return cli_err(err, errlen, "--tun-addr",
					       "expected IPv4 CIDR like 198.18.0.1/15", val);
			} else {
				cfg->tun.has_addr4 = true;
			}
			break;
		case OPT_TUN_ADDR6:
			if (strcmp(val, "none") == 0) {
				cfg->tun.has_addr6 = false;
			} else if (cli_parse_cidr(val, 1, cfg->tun.addr6, &cfg->tun.prefix6) < 0) {
				return cli_err(err, errlen, "--tun-addr6",
					       "expected IPv6 CIDR like fdfe:dcba:9876::1/126",
					       val);
			} else {
				cfg->tun.has_addr6 = true;
			}
			break;
		case OPT_MTU:
			if (cli_uint(val, 576, 65535, &v) < 0)
				return cli_err(err, errlen, "--mtu",
					       "expected a number from 576 to 65535", val);
			cfg->tun.mtu = (uint32_t)v;
			break;
		case OPT_BIND_IFACE:
			if (val[0] == '\0' || strlen(val) >= sizeof(cfg->sock.bind_iface))
				return cli_err(err, errlen, "--bind-interface",
					       "expected an interface name", val);
			snprintf(cfg->sock.bind_iface, sizeof(cfg->sock.bind_iface), "%s", val);
			break;
		case OPT_FWMARK:
			if (cli_uint(val, 1, 0xFFFFFFFFul, &v) < 0 && cli_hex(val, &v) < 0)
				return cli_err(err, errlen, "--fwmark",
					       "expected a number from 1 to 4294967295", val);
			cfg->sock.has_fwmark = true;
			cfg->sock.fwmark = (uint32_t)v;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_uint(val, 1, 3600, &v) < 0)
				return cli_err(err, errlen, "--connect-timeout",
					       "expected seconds from 1 to 3600", val);
			cfg->connect_timeout_s = (unsigned)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (cli_uint(val, 0, 7 * 86400, &v) < 0)
				return cli_err(err, errlen, "--idle-timeout",
					       "expected seconds from 0 to 604800", val);
			cfg->idle_timeout_s = (unsigned)v;
			break;
		case OPT_UDP_TIMEOUT:
			if (cli_uint(val, 1, 86400, &v) < 0)
				return cli_err(err, errlen, "--udp-timeout",
					       "expected seconds from 1 to 86400", val);
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
				return cli_err(err, errlen, "--dns",
					       "expected fake-ip, real-ip or off", val);
			break;
		case OPT_DNS_SERVER: {
			char csv[4096], why[200] = "";
			bool tcp;

			r = nameservers_parse(val, csv, sizeof(csv), &tcp, why, sizeof(why));
			if (r == -ENOBUFS || (r < 0 && why[0] == '\0')) {
				snprintf(err, errlen,
					 "--dns-server: too many servers (about 300 at most)");
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
					       "expected CIDR[,CIDR6] like "
					       "198.18.0.0/15,fdfe:dcba:9876:1::/64",
					       val);
			break;
		case OPT_FAKE_IP_FILTER:
			r = options_add_fake_filter(val, &cfg->dns, err, errlen);
			if (r < 0)
				return r;
			break;
		case OPT_FAKE_IP_MIN_AGE:
			if (cli_uint(val, 0, 86400, &v) < 0)
				return cli_err(err, errlen, "--fake-ip-min-age",
					       "expected seconds from 0 to 86400", val);
			cfg->dns.fake_min_age = (unsigned)v;
			break;
		case OPT_AUTO_ROUTE:
			cfg->route.auto_route = true;
			break;
		case OPT_STRICT_ROUTE:
			cfg->route.strict_route = true;
			break;
		case OPT_AUTO_DETECT_IFACE:
			cfg->route.auto_detect = true;
			break;
		case OPT_ALLOW_HOST_PORT:
			if (action != CLI_RUN_CMD) {
				snprintf(err, errlen, "--allow-host-port only goes with run");
				return -EINVAL;
			}
			if (cli_uint(val, 1, 65535, &v) < 0)
				return cli_err(err, errlen, "--allow-host-port",
					       "expected a port from 1 to 65535", val);
			if (cfg->n_host_ports >= 8) {
				snprintf(err, errlen, "--allow-host-port: 8 ports at most");
				return -EINVAL;
			}
			cfg->host_ports[cfg->n_host_ports++] = (uint16_t)v;
			break;
		case OPT_MAX_MEMORY:
			if (cli_uint(val, 8, 1048576, &v) < 0)
				return cli_err(err, errlen, "--max-memory",
					       "expected MiB from 8 to 1048576", val);
			cfg->max_memory_mb = (unsigned)v;
			break;
		case OPT_PIPELINING:
			if (strcmp(val, "auto") == 0)
				cfg->proxy_pipelining = UPSTREAM_PIPELINING_AUTO;
			else if (strcmp(val, "true") == 0)
				cfg->proxy_pipelining = UPSTREAM_PIPELINING_ON;
			else if (strcmp(val, "false") == 0)
				cfg->proxy_pipelining = UPSTREAM_PIPELINING_OFF;
			else
				return cli_err(err, errlen, "--pipelining",
					       "expected auto, true or false", val);
			break;
		case OPT_MAX_HALF_OPEN:
			if (cli_uint(val, 16, 65536, &v) < 0)
				return cli_err(err, errlen, "--max-half-open",
					       "expected a count from 16 to 65536", val);
			cfg->max_half_open = (unsigned)v;
			break;
		case OPT_DNS_HIJACK:
			if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0)
				return cli_err(err, errlen, "--dns-hijack", "expected on or off",
					       val);
			cfg->route.dns_hijack = val[1] == 'n';
			break;
		case OPT_TABLE_INDEX:
			if (cli_uint(val, 1, 0xFFFFFFFFul, &v) < 0 ||
			    !route_plan_table_ok((uint32_t)v))
				return cli_err(
					err, errlen, "--iproute2-table-index",
					"expected a table number other than 253-255 (the kernel's)",
					val);
			cfg->route.table = (uint32_t)v;
			break;
		case OPT_RULE_INDEX:
			if (cli_uint(val, 1, 32755, &v) < 0)
				return cli_err(
					err, errlen, "--iproute2-rule-index",
					"expected a priority from 1 to 32755 (N to N+10 are used)",
					val);
			cfg->route.rule_index = (uint32_t)v;
			break;
		case OPT_ROUTE_ADDRESS:
		case OPT_ROUTE_EXCLUDE: {
			char *dst =
				opt == OPT_ROUTE_ADDRESS ? cfg->route.address : cfg->route.exclude;

			if (cli_cidr_list(val) < 0 || strlen(val) >= sizeof(cfg->route.address))
				return cli_err(err, errlen, options[opt].name,
					       "expected CIDRs like 10.0.0.0/8,2001:db8::/32", val);
			snprintf(dst, sizeof(cfg->route.address), "%s", val);
			break;
		}
		case OPT_INCLUDE_UID:
		case OPT_EXCLUDE_UID: {
			char *dst = opt == OPT_INCLUDE_UID ? cfg->route.include_uid
							   : cfg->route.exclude_uid;
			struct uid_range u[64];

			if (route_plan_parse_uids(val, u, 64) < 0 ||
			    strlen(val) >= sizeof(cfg->route.include_uid))
				return cli_err(err, errlen, options[opt].name,
					       "expected user ids or ranges like 1000,2000-2999",
					       val);
			snprintf(dst, sizeof(cfg->route.include_uid), "%s", val);
			break;
		}
		case OPT_STORE_FAKE_IP:
			cfg->dns.store_fake = true;
			break;
		case OPT_STATE_DIR:
			if (val[0] != '/' || strlen(val) >= sizeof(cfg->route.state_dir))
				return cli_err(err, errlen, "--state-dir",
					       "expected an absolute path", val);
			snprintf(cfg->route.state_dir, sizeof(cfg->route.state_dir), "%s", val);
			break;
		case OPT_CONTROLLER:
			if (strlen(val) >= sizeof(cfg->controller) || strchr(val, ':') == NULL)
				return cli_err(err, errlen, "--controller",
					       "expected HOST:PORT (127.0.0.1:9090)", val);
			snprintf(cfg->controller, sizeof(cfg->controller), "%s", val);
			break;
		case OPT_SECRET:
			if (val[0] == '\0' || strlen(val) >= sizeof(cfg->secret)) {
				/* (not echoed: it is a secret) */
				snprintf(err, errlen, "--secret: expected 1 to 127 characters");
				return -EINVAL;
			}
			snprintf(cfg->secret, sizeof(cfg->secret), "%s", val);
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(val, &cfg->log_level) < 0)
				return cli_err(err, errlen, "--log-level",
					       "expected error, warn, info or debug", val);
			break;
		}
	}
	if (action == CLI_CLEANUP || action == CLI_STATUS)
		return action;
	if (action == CLI_RUN_CMD)
		return cli_run_cmd(cfg, have_proxy, err, errlen);
	if (action != CLI_RUN && cfg->config_path == NULL) {
		snprintf(err, errlen, "%s needs -c FILE (see --help)",
			 action == CLI_CHECK ? "check" : "match");
		return -EINVAL;
	}
	if (action == CLI_MATCH && cfg->match_target == NULL) {
		snprintf(err, errlen, "match needs HOST[:PORT] (see --help)");
		return -EINVAL;
	}
	if (action != CLI_RUN)
		return action;
	if (cli_check_upstream(cfg, have_proxy, err, errlen) < 0)
		return -EINVAL;
	if (have_tun && cfg->tun.fd >= 0) {
		snprintf(err, errlen, "--tun and --tun-fd exclude each other");
		return -EINVAL;
	}
	if (cfg->route.auto_detect && cfg->sock.bind_iface[0]) {
		snprintf(err, errlen,
			 "--auto-detect-interface and --bind-interface exclude each other");
		return -EINVAL;
	}
	if (cfg->route.auto_route && cfg->tun.fd >= 0) {
		snprintf(err, errlen,
			 "--auto-route needs a TUN of our own, not --tun-fd (whoever "
			 "handed it over routes it)");
		return -EINVAL;
	}
	if (cfg->tun.has_addr6 && cfg->tun.fd < 0 && cfg->tun.mtu < 1280) {
		snprintf(err, errlen,
			 "--mtu: IPv6 needs at least 1280 (or use --tun-addr6 none), got '%u'",
			 cfg->tun.mtu);
		return -EINVAL;
	}
	return CLI_RUN;
}
