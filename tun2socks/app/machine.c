/* machine: auto-route and the upstream DNS around it (machine.h). */
#include "tun2socks/app/machine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/nameservers.h"
#include "resolver/resolver.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/system/autoroute.h"
#include "tun2socks/system/dnscache.h"
#include "tun2socks/system/dnsconf.h"
#include "tun2socks/system/resolvconf.h"
#include "tun2socks/system/resolved.h"
#include "tun2socks/system/sysdns.h"
#include "tun2socks/tun/tun.h"

struct machine {
	struct autoroute *ar;
	struct dnsconf *dns; /* macOS: the system resolver pointed at the TUN */
	char tun[IF_NAMESIZE];
	uint32_t tun_ifindex;
	bool resolved;    /* systemd-resolved sends names to the TUN */
	bool resolv_conf; /* /etc/resolv.conf names the TUN */
};

/* ---- DNS -------------------------------------------------------------------- */

static void machine_note(void *arg, const char *line)
{
	(void)arg;
	log_info("auto-route: %s", line);
}

int machine_dns(struct options *cfg, struct options *cli)
{
	struct options_dns *dns = &cfg->dns;
	char csv[1024], err[512] = "";

	if (dns->mode == DNS_MODE_OFF || !cfg->route.auto_route || dns->servers != NULL)
		return 0;
	/* What a daemon killed with SIGKILL left, removed now rather than at
	 * autoroute_start: systemd-resolved may still list its TUN's DNS
	 * address among its servers (a persistent TUN), which we would take
	 * for the system's (a live daemon's state is left alone, and the
	 * start refuses its TUN name). */
	(void)autoroute_cleanup(cfg->route.state_dir[0] ? cfg->route.state_dir : NULL, NULL,
				machine_note, NULL, err, sizeof(err));
	if (sysdns_pick_system(csv, sizeof(csv), err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	snprintf(dns->servers_buf, sizeof(dns->servers_buf), "%s", csv);
	dns->servers = dns->servers_buf;
	snprintf(cli->dns.servers_buf, sizeof(cli->dns.servers_buf), "%s", csv);
	cli->dns.servers = cli->dns.servers_buf;
	log_info("auto-route: DNS is forwarded to %s (the system's servers at startup), around "
		 "the TUN",
		 csv);
	return 0;
}

size_t machine_dns_servers(const struct options *cfg, struct prefix *out, size_t max)
{
	const struct options_dns *dns = &cfg->dns;
	char canon[4096];
	bool tcp;

	if (dns->mode == DNS_MODE_OFF || dns->via_proxy)
		return 0;
	if (dns->servers) {
		if (nameservers_parse(dns->servers, canon, sizeof(canon), &tcp, NULL, 0) < 0)
			return 0; /* the resolver says what is wrong */
		return sysdns_parse_csv(canon, out, max);
	} else {
		/* c-ares reads resolv.conf itself: the same servers */
		static char text[16384];
		FILE *f = fopen(SYSDNS_RESOLV_CONF, "re");
		size_t len = f ? fread(text, 1, sizeof(text), f) : 0;

		if (f)
			fclose(f);
		return sysdns_parse_resolv(text, len, out, max);
	}
}

/* Asks the kernel where our sockets would reach each upstream DNS server:
 * one routed into our own TUN (its address, the TUN's subnet, a fake
 * address behind a default route into the TUN) would be a loop. 0, or -1
 * (logged). Where we cannot ask, nothing is checked. */
static int machine_check_dns(const struct options *cfg, uint32_t tun_ifindex)
{
	struct prefix servers[16];
	size_t n = machine_dns_servers(cfg, servers, 16);
	uint32_t mark = cfg->sock.has_fwmark ? cfg->sock.fwmark : 0, bind = 0, oif;

	if (cfg->sock.bind_iface[0])
		bind = if_nametoindex(cfg->sock.bind_iface);
	for (size_t i = 0; i < n; i++) {
		char a[INET6_ADDRSTRLEN];

		if (autoroute_route_oif(&servers[i], mark, bind, &oif) < 0 || oif != tun_ifindex)
			continue;
		inet_ntop(servers[i].family, servers[i].addr, a, sizeof(a));
		log_error("DNS server %s is routed into the TUN: the daemon would forward DNS to "
			  "itself; give the real upstream with --dns-server or dns.nameserver%s",
			  a, cfg->route.auto_route ? "" : " (or route it around the TUN)");
		return -1;
	}
	return 0;
}

/* ---- the system resolver ------------------------------------------------------ */

/* The host's DNS cache beside a plain resolver (nscd; mDNSResponder on
 * macOS) emptied at the start and at the stop (dnscache.h). A failure is
 * a warning: interception does not depend on it. */
static void machine_flush_cache(const char *when)
{
	char what[64], err[256];
	int r = dnscache_flush(what, sizeof(what), err, sizeof(err));

	if (r > 0)
		log_info("DNS: %s flushed %s", what, when);
	else if (r < 0)
		log_warn("DNS: %s: answers cached %s may still be served", err,
			 strcmp(when, "at the start") == 0 ? "before the start" : "while we ran");
}

/* Without systemd-resolved: /etc/resolv.conf names the TUN's neighbour
 * addresses (its search, domain and options lines kept), saved first and
 * recorded in the state file. 0, or -1 (logged). */
static int machine_resolv_conf_start(struct machine *m, char addr[][INET6_ADDRSTRLEN], size_t n,
				     const char *list)
{
	static char host[16384], text[20000];
	const char *servers[2] = { addr[0], n > 1 ? addr[1] : NULL };
	char head[128], err[1024] = "";
	FILE *f = fopen(SYSDNS_RESOLV_CONF, "re");
	size_t len = 0;
	int r;

	if (f == NULL) {
		log_info("DNS: no " SYSDNS_RESOLV_CONF " (%s): none written; queries to port 53 "
			 "enter the TUN",
			 strerror(errno));
		return 0;
	}
	len = fread(host, 1, sizeof(host) - 1, f);
	fclose(f);
	host[len] = '\0';
	snprintf(head, sizeof(head), RESOLVCONF_MARK " tun2socks (pid %ld) answers DNS in %s\n",
		 (long)getpid(), m->tun);
	r = resolvconf_text(head, host, servers, n, text, sizeof(text));
	if (r == 0)
		r = autoroute_set_resolv_conf(m->ar, true);
	if (r < 0) {
		log_error("DNS: cannot prepare " SYSDNS_RESOLV_CONF ": %s", strerror(-r));
		return -1;
	}
	m->resolv_conf = true;
	r = resolvconf_point(SYSDNS_RESOLV_CONF, autoroute_resolv_backup(m->ar), text, strlen(text),
			     err, sizeof(err));
	if (r < 0) {
		log_error("DNS: %s", err);
		return -1;
	}
	log_info("DNS: " SYSDNS_RESOLV_CONF " names %s (its former text in %s until the stop)",
		 list, autoroute_resolv_backup(m->ar));
	machine_flush_cache("at the start");
	return 0;
}

/* macOS: a LAN resolver stays direct (the routes are more specific than
 * the /1 halves), so the system resolver is pointed at the TUN through
 * configd (dnsconf.h). 0, or -1 (logged). */
static int machine_dnsconf_start(struct machine *m, char addr[][INET6_ADDRSTRLEN], size_t n,
				 const char *list)
{
	const char *servers[2] = { addr[0], n > 1 ? addr[1] : NULL };
	char err[512] = "";
	int r = dnsconf_start(m->tun, servers, n, &m->dns, err, sizeof(err));

	if (r < 0) {
		log_error("auto-route: %s", err);
		return -1;
	}
	log_info("auto-route: the system resolver asks %s (inside %s) while we run", list, m->tun);
	machine_flush_cache("at the start");
	return 0;
}

/* The system resolver asks the TUN's neighbour addresses (where a
 * program told by `tun2socks run` asks too): with systemd-resolved as the
 * system resolver, for every name ("~.") and with its cache flushed;
 * without it, through /etc/resolv.conf. Recorded in the state file before
 * anything changes, so cleanup reverts it after SIGKILL (docs/design.md
 * §13). 0, or -1 (logged). */
static int machine_resolver_start(struct machine *m, const struct options *cfg)
{
	char why[256] = "", err[512] = "", list[2 * INET6_ADDRSTRLEN + 2] = "";
	char addr[2][INET6_ADDRSTRLEN];
	struct prefix dns[2];
	size_t n = 0;
	int r;

	if (cfg->dns.mode == DNS_MODE_OFF)
		return 0;
	/* the TUN's neighbour addresses (prefix_neighbour) */
	if (cfg->tun.has_addr4) {
		uint8_t a[4];

		memcpy(a, cfg->tun.addr4, 4);
		prefix_neighbour(a, 4, cfg->tun.prefix4);
		prefix_make(&dns[n++], AF_INET, a, 32);
	}
	if (cfg->tun.has_addr6) {
		uint8_t a[16];

		memcpy(a, cfg->tun.addr6, 16);
		prefix_neighbour(a, 16, cfg->tun.prefix6);
		prefix_make(&dns[n++], AF_INET6, a, 128);
	}
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		inet_ntop(dns[i].family, dns[i].addr, addr[i], sizeof(addr[i]));
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " " : "",
			 addr[i]);
	}
	if (dnsconf_supported())
		return options_dns_hijack(cfg) ? machine_dnsconf_start(m, addr, n, list) : 0;
	r = resolved_present(why, sizeof(why));
	if (r <= 0) {
		log_debug("DNS: no systemd-resolved: %s", why);
		return machine_resolv_conf_start(m, addr, n, list);
	}
	r = autoroute_set_resolved_link(m->ar, m->tun_ifindex);
	if (r < 0) {
		log_error("DNS: cannot record systemd-resolved's settings in the state file: %s",
			  strerror(-r));
		return -1;
	}
	m->resolved = true;
	r = resolved_link_set(m->tun_ifindex, dns, n, err, sizeof(err));
	if (r < 0) {
		log_error("DNS: %s", err);
		return -1;
	}
	if (resolved_link_wait(m->tun_ifindex, 3000, err, sizeof(err)) < 0)
		log_warn("DNS: %s: until it has, it asks its other servers (port 53 still enters "
			 "the TUN)",
			 err);
	if (resolved_flush(err, sizeof(err)) < 0)
		log_warn("DNS: %s: answers cached before the start may still be served", err);
	log_info("DNS: systemd-resolved sends every name (~.) to %s on %s; its cache flushed", list,
		 m->tun);
	return 0;
}

/* Takes back what machine_resolver_start set. */
static void machine_resolver_stop(struct machine *m)
{
	char err[512] = "";
	int r;

	if (m->dns) {
		dnsconf_stop(m->dns);
		m->dns = NULL;
		log_info("auto-route: the system resolver is as it was");
		machine_flush_cache("at the stop");
	}
	if (m->resolv_conf) {
		r = resolvconf_restore(SYSDNS_RESOLV_CONF, autoroute_resolv_backup(m->ar), err,
				       sizeof(err));
		if (r != 0)
			log_warn("DNS: %s", err);
		else
			log_info("DNS: " SYSDNS_RESOLV_CONF " put back as it was");
		m->resolv_conf = false;
		machine_flush_cache("at the stop");
	}
	if (!m->resolved)
		return;
	r = resolved_link_revert(m->tun_ifindex, err, sizeof(err));
	if (r < 0)
		log_warn("DNS: %s", err);
	if (resolved_flush(err, sizeof(err)) < 0)
		log_warn("DNS: %s", err);
	else if (r == 0)
		log_info("DNS: systemd-resolved's settings for %s reverted; its cache flushed",
			 m->tun);
	m->resolved = false;
}

/* ---- auto-route ----------------------------------------------------------- */

/* A comma-separated CIDR list (checked by cli or config) into out. */
static size_t machine_prefixes(const char *list, struct prefix *out, size_t max)
{
	char buf[1024], *save = NULL, *tok;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		if (prefix_parse(tok, true, &out[n]) == 0)
			n++;
	return n;
}

/* A proxy server's address as a host prefix (an IPv4-mapped one as IPv4). */
static void machine_host(const struct sockaddr_storage *ss, struct prefix *p)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		prefix_make(p, AF_INET, &in->sin_addr, 32);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			prefix_make(p, AF_INET, in6->sin6_addr.s6_addr + 12, 32);
		else
			prefix_make(p, AF_INET6, &in6->sin6_addr, 128);
	}
}

enum { MACHINE_MAX_PREFIXES = 256, MACHINE_MAX_SERVERS = 256 };

/* What a plan's configuration points into. */
struct machine_inputs {
	struct prefix addr[MACHINE_MAX_PREFIXES], excl[MACHINE_MAX_PREFIXES],
		hosts[MACHINE_MAX_SERVERS];
	struct sockaddr_storage servers[MACHINE_MAX_SERVERS];
	struct uid_range inc[64], exc[64];
};

/* The plan's configuration from the settings and the generation's proxy
 * servers (all but the TUN's name and index), pointing into in. */
static void machine_plan_cfg(const struct options *cfg, const struct router_gen *gen,
			     struct machine_inputs *in, struct route_plan_cfg *pc)
{
	const struct options_route *o = &cfg->route;
	size_t ns;
	int r;

	pc->table = o->table;
	pc->rule_index = o->rule_index;
	pc->has4 = cfg->tun.has_addr4;
	pc->has6 = cfg->tun.has_addr6;
	if (pc->has4)
		prefix_make(&pc->tun4, AF_INET, cfg->tun.addr4, cfg->tun.prefix4);
	if (pc->has6)
		prefix_make(&pc->tun6, AF_INET6, cfg->tun.addr6, cfg->tun.prefix6);
	pc->strict = o->strict_route;
	pc->dns_hijack = options_dns_hijack(cfg);
	pc->has_mark = cfg->sock.has_fwmark;
	pc->mark = cfg->sock.fwmark;
	pc->route_addr = in->addr;
	pc->n_route_addr = machine_prefixes(o->address, in->addr, MACHINE_MAX_PREFIXES);
	pc->n_exclude = machine_prefixes(o->exclude, in->excl, MACHINE_MAX_PREFIXES);
	/* The proxy servers: connections to them from other programs, and
	 * ours should a mark ever be missing, must not enter the TUN. */
	ns = router_gen_servers(gen, in->servers, MACHINE_MAX_SERVERS);
	for (size_t i = 0; i < ns; i++)
		machine_host(&in->servers[i], &in->hosts[i]);
	pc->exclude = in->excl;
	pc->servers = in->hosts;
	pc->n_servers = ns;
	r = o->include_uid[0] ? route_plan_parse_uids(o->include_uid, in->inc, 64) : 0;
	pc->include_uid = in->inc;
	pc->n_include_uid = r > 0 ? (size_t)r : 0;
	r = o->exclude_uid[0] ? route_plan_parse_uids(o->exclude_uid, in->exc, 64) : 0;
	pc->exclude_uid = in->exc;
	pc->n_exclude_uid = r > 0 ? (size_t)r : 0;
}

int machine_setup(const struct options *cfg, const struct tun *tun, const struct router_gen *gen,
		  struct machine **out)
{
	const struct options_route *o = &cfg->route;
	struct autoroute_cfg ac = { .state_dir = o->state_dir[0] ? o->state_dir : NULL,
				    .note = machine_note };
	struct route_plan_cfg *pc = &ac.plan;
	struct machine_inputs *in;
	struct machine *m;
	const struct route_plan *plan;
	size_t ns, rules = 0;
	char err[1024] = "";
	int r;

	*out = NULL;
	pc->tun_name = tun_name(tun);
	pc->tun_ifindex = if_nametoindex(pc->tun_name);
	if (pc->tun_ifindex && machine_check_dns(cfg, pc->tun_ifindex) < 0)
		return -1;
	if (!o->auto_route)
		return 0;
	if (pc->tun_ifindex == 0) {
		log_error("auto-route: %s has no interface index", pc->tun_name);
		return -1;
	}
	in = malloc(sizeof(*in));
	if (in == NULL) {
		log_error("out of memory");
		return -1;
	}
	machine_plan_cfg(cfg, gen, in, pc);
	ns = pc->n_servers;
	if (cfg->sock.bind_iface[0] == '\0' && !(pc->has_mark && sock_platform_has_fwmark())) {
		log_error("auto-route: our own sockets need %s",
			  sock_platform_has_fwmark()
				  ? "a mark or an interface"
				  : "an interface (--bind-interface or --auto-detect-interface)");
		free(in);
		return -1;
	}

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		log_error("out of memory");
		free(in);
		return -1;
	}
	snprintf(m->tun, sizeof(m->tun), "%s", pc->tun_name);
	m->tun_ifindex = pc->tun_ifindex;
	r = autoroute_start(&ac, &m->ar, err, sizeof(err));
	free(in); /* the plan holds what it needs */
	if (r < 0) {
		log_error("%s", err);
		free(m);
		return -1;
	}
	plan = autoroute_plan(m->ar);
	for (size_t i = 0; i < plan->n; i++) {
		char line[ROUTE_TEXT_MAX];

		rules += plan->obj[i].kind == ROUTE_OBJ_RULE;
		if (log_enabled(LOG_DEBUG)) {
			route_text_format(&plan->obj[i], line, sizeof(line));
			log_debug("auto-route: added %s", line);
		}
	}
	if (rules == 0) { /* macOS: routes of the main table (route_split.h) */
		log_info("auto-route: %zu routes send %s%s%s into %s beside the default route; "
			 "%zu proxy server%s kept out; our own sockets are bound to %s; "
			 "recorded in %s/%s.state",
			 plan->n, plan->fam4 ? "IPv4" : "", plan->fam4 && plan->fam6 ? " and " : "",
			 plan->fam6 ? "IPv6" : "", pc->tun_name, ns, ns == 1 ? "" : "s",
			 cfg->sock.bind_iface[0] ? cfg->sock.bind_iface : "the uplink",
			 o->state_dir[0] ? o->state_dir : AUTOROUTE_STATE_DIR, pc->tun_name);
		*out = m;
		return 0;
	}
	log_info("auto-route: %zu routes in table %u and %zu rules at %u-%u send %s%s%s into %s; "
		 "%s; our own sockets carry fwmark 0x%x; DNS to port 53 of any server %s; "
		 "%zu proxy server%s kept out; recorded in %s/%s.state",
		 plan->n - rules, o->table, rules, o->rule_index, o->rule_index + ROUTE_PLAN_SPAN,
		 plan->fam4 ? "IPv4" : "", plan->fam4 && plan->fam6 ? " and " : "",
		 plan->fam6 ? "IPv6" : "", pc->tun_name,
		 !pc->has6 && plan->fam6 ? "IPv6 is blocked (strict-route)"
		 : !plan->fam6           ? "IPv6 is left alone"
					 : "the LAN stays direct",
		 pc->mark, pc->dns_hijack ? "enters the TUN" : "is left alone", ns,
		 ns == 1 ? "" : "s", o->state_dir[0] ? o->state_dir : AUTOROUTE_STATE_DIR,
		 pc->tun_name);
	if (machine_resolver_start(m, cfg) < 0) {
		machine_restore(m);
		return -1;
	}
	*out = m;
	return 0;
}

int machine_update(struct machine *m, const struct options *cfg, const struct router_gen *gen)
{
	struct route_plan_cfg pc = { .tun_name = NULL };
	struct machine_inputs *in;
	size_t added, removed;
	char err[1024] = "";
	int r;

	if (m == NULL)
		return 0;
	in = malloc(sizeof(*in));
	if (in == NULL) {
		log_error("auto-route: out of memory: the proxy servers' rules are as they were");
		return -1;
	}
	machine_plan_cfg(cfg, gen, in, &pc);
	pc.tun_name = m->tun;
	pc.tun_ifindex = m->tun_ifindex;
	r = autoroute_replan(m->ar, &pc, &added, &removed, err, sizeof(err));
	if (r < 0)
		log_error("%s: the proxy servers' rules are as they were", err);
	else if (added || removed)
		log_info("auto-route: %zu proxy server%s kept out now: %zu rule%s added, %zu "
			 "removed",
			 pc.n_servers, pc.n_servers == 1 ? "" : "s", added, added == 1 ? "" : "s",
			 removed);
	free(in);
	return r < 0 ? -1 : 0;
}

void machine_restore(struct machine *m)
{
	size_t n;

	if (m == NULL)
		return;
	machine_resolver_stop(m);
	n = autoroute_plan(m->ar)->n;
	autoroute_stop(m->ar);
	log_info("auto-route: removed its %zu routes and rules: traffic goes directly again", n);
	free(m);
}

static void machine_print(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

int machine_cleanup(const struct options *cfg)
{
	const char *dir = cfg->route.state_dir[0] ? cfg->route.state_dir : AUTOROUTE_STATE_DIR;
	char err[512] = "";
	int r = autoroute_cleanup(dir, cfg->tun.name && cfg->tun.name[0] ? cfg->tun.name : NULL,
				  machine_print, NULL, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "tun2socks cleanup: %s\n", err);
		return 1;
	}
	if (r == 0)
		printf("nothing to clean up in %s\n", dir);
	return 0;
}

/* ---- status ------------------------------------------------------------------ */

struct machine_status {
	int worst; /* the exit status so far */
};

static void machine_status_one(void *arg, const struct autoroute_status *st)
{
	struct machine_status *ms = arg;
	int code;

	if (st->error && st->obj == NULL) {
		printf("%s: %s: %s\n", st->tun, st->state_path, st->error);
		code = st->running ? 3 : 2;
	} else if (!st->running) {
		printf("%s: tun2socks (pid %lu) is gone; it left %zu of its %zu rules and routes: "
		       "`tun2socks cleanup` removes them\n",
		       st->tun, st->pid, st->n_present, st->n);
		code = 2;
	} else {
		bool whole = st->other_netns ||
			     (st->n_present == st->n && st->tun_up == 1 && st->error == NULL);

		printf("%s: tun2socks (pid %lu%s) runs; ", st->tun, st->pid,
		       st->pid_alive ? "" : ", in another pid namespace");
		if (st->other_netns)
			printf("in another network namespace: not checked\n");
		else
			printf("TUN %s %s; %zu of %zu rules and routes in place (table %u, rules "
			       "%u-%u)%s\n",
			       st->tun,
			       st->tun_up == 1   ? "up"
			       : st->tun_up == 0 ? "DOWN"
						 : "MISSING",
			       st->n_present, st->n, st->table, st->rule_index,
			       st->rule_index + ROUTE_PLAN_SPAN, whole ? "" : ": DAMAGED");
		code = whole ? 0 : 3;
	}
	if (st->error && st->obj)
		printf("  %s\n", st->error);
	for (size_t i = 0; st->obj && !st->other_netns && i < st->n; i++) {
		char line[ROUTE_TEXT_MAX];

		route_text_format(&st->obj[i], line, sizeof(line));
		printf("  %-8s %s\n", st->present[i] ? "present" : "MISSING", line);
	}
	if (st->resolved_link)
		printf("  systemd-resolved: every name (~.) sent to the TUN (link %u)\n",
		       st->resolved_link);
	if (st->resolv_conf)
		printf("  " SYSDNS_RESOLV_CONF " names the TUN (what it held is kept beside the "
		       "state file)\n");
	printf("  recorded in %s\n", st->state_path);
	if (code > ms->worst)
		ms->worst = code;
}

int machine_status(const struct options *cfg)
{
	const char *dir = cfg->route.state_dir[0] ? cfg->route.state_dir : AUTOROUTE_STATE_DIR;
	struct machine_status ms = { 0 };
	int r = autoroute_status(dir, cfg->tun.name && cfg->tun.name[0] ? cfg->tun.name : NULL,
				 machine_status_one, &ms);

	if (r < 0) {
		fprintf(stderr, "tun2socks status: %s\n",
			r == -ENOTSUP ? "auto-route is not supported on this platform"
				      : strerror(-r));
		return 4;
	}
	if (r == 0) {
		printf("no auto-route set up (nothing recorded in %s)\n", dir);
		return 1;
	}
	return ms.worst;
}
