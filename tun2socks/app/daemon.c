/* daemon: startup checks, the libuv loop, TUN <-> lwIP plumbing, and an
 * orderly shutdown that resets every flow and releases the TUN. */
/* lwIP first: its TCP_MSS must not be shadowed by <netinet/tcp.h>'s. */
#include "lwip/pbuf.h"
#include "lwip/tcp.h"

#include "tun2socks/app/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "resolver/dns_intercept.h"
#include "resolver/dns_socks.h"
#include "tun2socks/app/generation.h"
#include "tun2socks/app/options.h"
#include "tun2socks/route/router_gen.h"
#include "config/config.h"
#include "tun2socks/flow/flow_tcp.h"
#include "tun2socks/flow/flow_udp.h"
#include "tun2socks/route/proc_lookup.h"
#include "resolver/resolver.h"
#include "resolver/sniffer.h"
#include "resolver/dns_hosts.h"
#include "tun2socks/app/dns_upstream.h"
#include "tun2socks/upstream/upstream.h"
#include "tun2socks/app/fake_store.h"
#include "tun2socks/system/autoroute.h"
#include "tun2socks/route/router.h"
#include "tun2socks/base/fd_budget.h"
#include "tun2socks/base/heap.h"
#include "tun2socks/base/mem_budget.h"
#include "tun2socks/base/sock.h"
#include "lwip-port/stack.h"
#include "tun2socks/upstream/upstream.h"
#include "tun2socks/app/priv.h"
#include "tun2socks/app/machine.h"
#include "tun2socks/app/control.h"
#include "tun2socks/system/uplink.h"
#include "tun2socks/flow/sock_splice.h"
#include "tun2socks/app/providers.h"
#include "tun2socks/route/health.h"
#include "tun2socks/route/pipelining.h"
#include "tun2socks/upstream/http_client.h"

struct daemon {
	struct options *cfg;          /* the running settings */
	struct options cli;           /* the command line alone, for reloads */
	struct config *conf;          /* -c FILE, or NULL */
	struct daemon_reload *reload; /* a reload on a worker thread, or NULL */
	bool reload_again;            /* SIGHUP came during it: one more */
	bool stopping;
	struct router_ctx *router;
	struct proc_lookup *procs;
	uv_signal_t sighup;
	struct sock_opts sock; /* cfg->sock with the interface resolved */
	uv_loop_t loop;
	struct tun *tun;
	struct stack *stack;
	struct upstream_cfg upstream;
	struct flow_tcp_ctx flows;
	struct flow_udp_ctx *udp;
	struct resolver *resolver;         /* DNS forwarding, unless via the proxy */
	struct dns_socks *dns_socks;       /* --dns-via-proxy */
	struct dns_intercept *dns;         /* NULL with --dns off */
	struct sniffer *sniffer;           /* config's sniffer:, or NULL */
	struct fake_store *fake_store;     /* store-fake-ip, or NULL */
	struct dns_hosts *hosts;           /* hosts: and /etc/hosts, or NULL */
	struct dns_upstream *up;           /* forwarded DNS's servers, rebuilt at a reload (§24) */
	struct machine *machine;           /* auto-route's routes and rules, or NULL */
	struct control *control;           /* the control API, or NULL */
	struct api_wait *api_wait;         /* an API client waits for the reload */
	char *api_path;                    /* a config path the API reloaded from */
	struct uplink *uplink;             /* following the default route, or NULL */
	struct sock_splice *host_ports[8]; /* run --allow-host-port */
	struct http_client *http;          /* HTTP(S) on the loop: health checks */
	struct health *health;             /* proxy-group health checks, or NULL */
	struct pipelining *pipelining;     /* "pipelining: auto" probes, or NULL */
	struct providers *providers;       /* http rule/proxy providers, or NULL */
	uv_poll_t tun_poll;
	uv_timer_t lwip_timer;
	uv_prepare_t lwip_prepare;
	uv_signal_t sigint, sigterm;
	uv_timer_t trim_timer;
	uint64_t ended_at_trim; /* flows ended as of the last check */
	unsigned dns_at_trim;   /* DNS queries waiting upstream, likewise */
	int trims_due;          /* heap_release calls still to make */
	struct pbuf *spare;     /* read_max-sized pbuf for the next TUN read */
	uint32_t mtu;
	size_t read_max; /* tun_read_max(): MTU, or 64 KiB with TSO */
	uint64_t tun_read_errors, tun_write_drops;
	struct fd_budget fds;     /* docs/design.md §12 */
	uint64_t tcp_refused_fds; /* connections refused: TCP budget full */
	uint64_t fds_warned_at;   /* uv_now() of the last such warning */
	struct mem_budget mem;    /* --max-memory (docs/design.md §12) */
	size_t mem_base;          /* code and libraries: RSS beside the heap */
	uv_timer_t mem_timer;
	uint64_t mem_refused; /* connections refused: memory budget spent */
	int exit_code;
};

/* A DNS-over-TLS query: connect, handshake, answer (2 tries x 2 s, as
 * c-ares waits for a plain server). */
#define DAEMON_DOT_TIMEOUT_MS 4000

/* ---- upstream setup ------------------------------------------------------- */

static int daemon_resolve_proxy(struct daemon *d)
{
	const struct proxy_url *u = &d->cfg->proxy;
	struct upstream_spec spec = {
		.proto = u->scheme == PROXY_SOCKS5 ? &upstream_socks5 : &upstream_http,
		.host = u->host,
		.port = u->port,
		.user = u->has_auth ? u->user : NULL,
		.pass = u->pass,
		.tls = u->scheme == PROXY_HTTPS,
		.pipelining = d->cfg->proxy_pipelining,
		.resolve = true,
	};
	char why[300] = "";
	int r = upstream_cfg_init(&d->upstream, &spec, why, sizeof(why));

	if (r < 0)
		log_error("--proxy: %s", why);
	return r;
}
/* ---- config and rules --------------------------------------------------- */

/* arg: NULL, or a char[300] that keeps the first error line. */
static void daemon_log_line(void *arg, bool error, const char *line)
{
	char *first = arg;

	if (error && first != NULL && first[0] == '\0')
		snprintf(first, 300, "%s", line);
	if (error)
		log_error("%s", line);
	else
		log_warn("%s", line);
}

static struct generation_req daemon_gen_req(const struct daemon *d)
{
	return (struct generation_req){
		.cli = &d->cli,
		.default_up = d->cfg->has_proxy ? &d->upstream : NULL,
		/* geodata the rules need is downloaded when missing (§16) */
		.fetch_geo = true,
	};
}

/* ---- SIGHUP ------------------------------------------------------------- */

/* A reload in flight. The worker only reads d->cli and d->upstream, which
 * nothing changes after startup; everything else happens back on the loop
 * in daemon_reload_done. */
struct daemon_reload {
	uv_work_t work;
	struct daemon *d;
	struct generation gen;
	struct generation_diag diag;
	int status;
	/* PUT /configs {path}: checked on the worker against the running
	 * file's directory (realpath reads the disk), then loaded. */
	char *path, *cur;   /* asked for; the running file (copies) */
	char *real;         /* path's realpath once accepted */
	bool refused;       /* path was not accepted: nothing loaded */
	struct options cli; /* d->cli with real as the file */
};

static int daemon_reload_start(struct daemon *d);

/* PUT /configs' path: a file in the running config's directory (not
 * anywhere: the daemon reads it as root, and its errors quote it). On
 * the worker. 0, -ENOENT or -EACCES. */
static int daemon_reload_path(struct daemon_reload *rl)
{
	char *dir = realpath(rl->cur, NULL), *slash;
	int r = 0;

	rl->real = realpath(rl->path, NULL);
	if (dir == NULL || rl->real == NULL) {
		r = -ENOENT;
	} else {
		slash = strrchr(dir, '/');
		if (slash == NULL || strncmp(rl->real, dir, (size_t)(slash - dir + 1)) != 0 ||
		    strchr(rl->real + (slash - dir + 1), '/') != NULL)
			r = -EACCES;
	}
	free(dir);
	return r;
}

static void daemon_reload_work(uv_work_t *w)
{
	struct daemon_reload *rl = w->data;
	struct generation_req req = daemon_gen_req(rl->d);

	if (rl->path != NULL) {
		rl->status = daemon_reload_path(rl);
		rl->refused = rl->status < 0;
		if (rl->refused)
			return;
		rl->cli.config_path = rl->real;
		req.cli = &rl->cli;
	}
	rl->status = generation_load(&req, &rl->gen, &rl->diag);
}

static void daemon_reload_free(struct daemon_reload *rl)
{
	generation_free(&rl->gen);
	free(rl->path);
	free(rl->cur);
	free(rl->real);
	free(rl);
}

/* "off" or "idle 15 s, every 15 s": TCP keepalive as sock_keepalive()
 * sets it. */
static const char *daemon_keepalive_text(const struct sock_opts *so, char *buf, size_t cap)
{
	if (so->keepalive_off)
		return "off";
	snprintf(buf, cap, "idle %u s, every %u s", sock_keepalive_s(so->keepalive_idle_s),
		 sock_keepalive_s(so->keepalive_intvl_s));
	return buf;
}

/* New upstream sockets (flows, UDP sessions, c-ares) get so; open ones
 * keep theirs. */
static void daemon_set_sock(struct daemon *d, const struct sock_opts *so)
{
	d->cfg->sock = *so;
	d->sock = *so;
	d->flows.sock = *so;
	flow_udp_set_sock(d->udp, so);
	if (d->resolver)
		resolver_set_sock(d->resolver, so);
}

static void daemon_dns_reload(struct daemon *d);

/* The nameservers of the new config (docs/design.md §24): the plain ones
 * into the running c-ares channel, the encrypted ones and
 * default-nameserver for daemon_dns_reload's new set. */
static void daemon_apply_dns(struct daemon *d, const struct options *next)
{
	struct options_dns *a = &d->cfg->dns;
	const struct options_dns *b = &next->dns;
	char err[256] = "";
	bool ns = (a->servers == NULL) != (b->servers == NULL) ||
		  (a->servers && strcmp(a->servers, b->servers) != 0);

	memcpy(a->dot, b->dot, sizeof(a->dot));
	memcpy(a->dot_ca, b->dot_ca, sizeof(a->dot_ca));
	memcpy(a->doh, b->doh, sizeof(a->doh));
	memcpy(a->default_ns, b->default_ns, sizeof(a->default_ns));
	if (!ns)
		return;
	if (b->servers == NULL) {
		log_warn("reload: dns.nameserver now empty: the system's servers are used from "
			 "the next start");
		return;
	}
	if (d->resolver && resolver_set_servers(d->resolver, b->servers, err, sizeof(err)) < 0) {
		log_error("reload: dns.nameserver: %s: keeping %s until a restart", err,
			  a->servers ? a->servers : "the system's");
		return;
	}
	if (b->servers == b->servers_buf) {
		memcpy(a->servers_buf, b->servers_buf, sizeof(a->servers_buf));
		a->servers = a->servers_buf;
	}
	log_info("reload: plain nameservers now %s", a->servers);
}

/* What the new config changes in the running settings: the log level at
 * once, our sockets' interface and mark for new sockets, the nameservers
 * for new queries; TUN and other DNS settings keep their values until a
 * restart, and the log says so. */
static void daemon_apply_options(struct daemon *d, const struct options *next)
{
	char why[256];
	unsigned mask = options_reload_diff(d->cfg, next, why, sizeof(why));

	if (mask & OPTIONS_LOG_LEVEL) {
		d->cfg->log_level = next->log_level;
		log_set_level(next->log_level);
	}
	if (mask & OPTIONS_SOCK) {
		struct sock_opts so = next->sock;

		if (d->cfg->route.auto_route) { /* its rules name the running mark */
			so.has_fwmark = d->cfg->sock.has_fwmark;
			so.fwmark = d->cfg->sock.fwmark;
		}
		if (d->cfg->route.auto_detect) /* the uplink's, followed */
			snprintf(so.bind_iface, sizeof(so.bind_iface), "%s", d->sock.bind_iface);
		if (sock_opts_resolve(&so) < 0) {
			log_error("reload: interface-name %s does not exist: keeping %s",
				  so.bind_iface,
				  d->sock.bind_iface[0] ? d->sock.bind_iface : "none");
		} else {
			char ka[48];

			daemon_set_sock(d, &so);
			log_info("reload: new upstream sockets use interface %s, mark %s%u, "
				 "keepalive %s",
				 so.bind_iface[0] ? so.bind_iface : "(any)",
				 so.has_fwmark ? "" : "none ", so.has_fwmark ? so.fwmark : 0,
				 daemon_keepalive_text(&so, ka, sizeof(ka)));
		}
	}
	if (mask & OPTIONS_DNS)
		daemon_apply_dns(d, next);
	if (mask & OPTIONS_RESTART)
		log_warn("reload: %s changed: they take effect at the next start", why);
}

static void daemon_reload_done(uv_work_t *w, int status)
{
	struct daemon_reload *rl = w->data;
	struct daemon *d = rl->d;
	struct api_wait *aw = d->api_wait;
	char first[300] = "";

	d->reload = NULL;
	d->api_wait = NULL;
	if (status < 0 || d->stopping) {
		if (aw)
			control_reload_done(aw, -ECANCELED, "shutting down");
		daemon_reload_free(rl);
		return;
	}
	if (rl->refused) {
		/* refused before loading: the running file stays */
		if (aw)
			control_reload_done(aw, rl->status, NULL);
		daemon_reload_free(rl);
		goto again;
	}
	if (rl->path != NULL) {
		/* From now on SIGHUP reloads this file. */
		free(d->api_path);
		d->api_path = rl->real;
		rl->real = NULL;
		d->cli.config_path = d->api_path;
		d->cfg->config_path = d->api_path;
	}
	generation_report(&rl->gen, &rl->diag, rl->status, daemon_log_line, first);
	if (aw)
		control_reload_done(aw, rl->status, first);
	if (rl->status < 0) {
		log_error("reload failed: keeping the running config");
	} else {
		daemon_apply_options(d, &rl->gen.opts);
		log_info("reloaded: %zu proxies, %zu rules", rl->gen.conf->n_proxies,
			 router_gen_rule_count(rl->gen.router));
		/* The proxies' names were resolved again: auto-route keeps
		 * their addresses now out of the TUN (the kernel answers at
		 * once: docs/design.md §13). */
		(void)machine_update(d->machine, d->cfg, rl->gen.router);
		router_ctx_swap(d->router, rl->gen.router);
		router_ctx_set_mode(d->router, (enum router_mode)rl->gen.conf->mode);
		if (d->health)
			health_set_gen(d->health, rl->gen.router);
		if (d->pipelining)
			(void)pipelining_set_gen(d->pipelining, rl->gen.router);
		if (d->providers &&
		    providers_update(d->providers, rl->gen.conf, rl->gen.router) < 0)
			log_warn("providers: out of memory: downloads stop");
		rl->gen.router = NULL;
		config_free(d->conf);
		d->conf = rl->gen.conf;
		rl->gen.conf = NULL;
		daemon_dns_reload(d);
	}
	daemon_reload_free(rl);
again:
	if (d->reload_again) {
		d->reload_again = false;
		(void)daemon_reload_start(d);
	}
}

/* path: PUT /configs' file (checked on the worker), or NULL. */
static int daemon_reload_start_path(struct daemon *d, const char *path)
{
	struct daemon_reload *rl;
	int r;

	log_info("%s: reloading %s", d->api_wait ? "api" : "SIGHUP",
		 path ? path : d->cfg->config_path);
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL) {
		log_error("reload failed: out of memory");
		return -ENOMEM;
	}
	rl->d = d;
	rl->work.data = rl;
	if (path != NULL) {
		rl->cli = d->cli;
		rl->path = strdup(path);
		rl->cur = strdup(d->cfg->config_path);
		if (rl->path == NULL || rl->cur == NULL) {
			daemon_reload_free(rl);
			log_error("reload failed: out of memory");
			return -ENOMEM;
		}
	}
	r = uv_queue_work(&d->loop, &rl->work, daemon_reload_work, daemon_reload_done);
	if (r < 0) {
		log_error("reload failed: %s", uv_strerror(r));
		daemon_reload_free(rl);
		return r;
	}
	d->reload = rl;
	return 0;
}

static int daemon_reload_start(struct daemon *d)
{
	return daemon_reload_start_path(d, NULL);
}

/* PUT /configs: the running file again, or another one beside it
 * (daemon_reload_path, on the worker with the load). */
static int daemon_api_reload(void *arg, const char *path, struct api_wait *w)
{
	struct daemon *d = arg;
	int r;

	if (d->reload)
		return -EBUSY;
	if (d->cfg->config_path == NULL)
		return -ENOENT;
	d->api_wait = w;
	r = daemon_reload_start_path(d, path);
	if (r < 0)
		d->api_wait = NULL;
	return r;
}

/* SIGHUP: a new generation for new flows; live flows keep theirs. The
 * file is read and the proxies' names resolved on a worker thread, so
 * flows and DNS are served all the while; an invalid file leaves
 * everything as it was. */
static void daemon_on_sighup(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	(void)signum;
	if (d->cfg->config_path == NULL) {
		log_warn("SIGHUP: no config file to reload");
		return;
	}
	if (d->reload) {
		d->reload_again = true;
		return;
	}
	(void)daemon_reload_start(d);
}

/* One TCP connect to the proxy before the TUN exists, so a typo'd or dead
 * proxy is a clear startup error rather than every flow failing later. */
static int daemon_probe_proxy(struct daemon *d)
{
	struct pollfd pfd;
	int fd, r;

	fd = sock_open(d->upstream.server.ss_family, SOCK_STREAM, &d->sock);
	if (fd < 0) {
		log_error("cannot open a socket to the proxy: %s%s", strerror(-fd),
			  fd == -EPERM ? " (--bind-interface/--fwmark need root)" : "");
		return fd;
	}
	r = sock_connect(fd, (const struct sockaddr *)&d->upstream.server, d->upstream.server_len);
	if (r == -EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, (int)d->cfg->connect_timeout_s * 1000);
		r = r == 0 ? -ETIMEDOUT : r < 0 ? -errno : sock_error(fd);
	}
	close(fd);
	if (r < 0)
		log_error("proxy %s unreachable: %s (check that it is running and the address is "
			  "right, or pass --no-proxy-check to start anyway)",
			  d->upstream.server_str, strerror(-r));
	return r;
}

/* ---- DNS ---------------------------------------------------------------- */

static bool daemon_resolver_is_own(void *ctx, const struct sockaddr *src, uint16_t id,
				   const char *name, uint16_t qtype)
{
	return resolver_is_own_query(ctx, src, id, name, qtype);
}

/* The upstream side's settings (docs/design.md §24). */
static struct dns_upstream_config daemon_upstream_config(struct daemon *d, const struct options *o,
							 const struct config *conf)
{
	return (struct dns_upstream_config){ .dns = &o->dns,
					     .conf = conf ? &conf->dns : NULL,
					     .main = d->resolver,
					     .sock = d->sock,
					     .timeout_ms = DAEMON_DOT_TIMEOUT_MS,
					     .gen = router_ctx_current(d->router) };
}

static void daemon_fmt_cidr(int af, const uint8_t *a, uint8_t prefix, char *buf, size_t cap)
{
	char t[INET6_ADDRSTRLEN];

	inet_ntop(af, a, t, sizeof(t));
	snprintf(buf, cap, "%s/%u", t, prefix);
}

/* dns.fake-ip-filter's rule-set entries, by the generation new flows are
 * routed by. */
static bool daemon_fake_filter(void *arg, const char *name)
{
	struct daemon *d = arg;

	return router_gen_fake_filter(router_ctx_current(d->router), name);
}

/* The forwarder (c-ares, or TCP through the proxy) and the interceptor. */
static int daemon_dns_start(struct daemon *d)
{
	const struct options_dns *dc = &d->cfg->dns;
	struct dns_intercept_config ic = {
		.mode = dc->mode,
		.has4 = dc->has4,
		.has6 = dc->has6,
		.prefix4 = dc->prefix4,
		.prefix6 = dc->prefix6,
		.filter = dc->filter,
		.filter_whitelist = dc->filter_whitelist,
		.hosts = d->hosts,
		.filter_fn = daemon_fake_filter,
		.filter_arg = d,
		.fake_min_age = dc->fake_min_age,
	};
	struct dns_forwarder fwd;
	char err[256] = "", r4[64] = "none", r6[80] = "none";
	int r;

	if (dc->mode == DNS_MODE_OFF)
		return 0;
	if (dc->via_proxy) {
		struct sockaddr_storage server;

		/* One socket per query in flight: its share of descriptors. */
		ic.max_pending = d->fds.dns;
		ic.max_pending_client = d->fds.dns / 4 > 0 ? d->fds.dns / 4 : 1;
		r = resolver_first_server(dc->servers, &server);
		if (r == 0)
			r = dns_socks_create(&d->loop, &d->upstream, &d->sock, &server,
					     d->cfg->connect_timeout_s * 1000, &d->dns_socks);
		if (r < 0) {
			log_error("cannot set up DNS via the proxy: %s", strerror(-r));
			return r;
		}
		fwd = (struct dns_forwarder){ .send = dns_socks_send, .ctx = d->dns_socks };
		/* c-ares also resolves DIRECT names: its queries coming back
		 * mean a loop. */
		fwd.is_own = daemon_resolver_is_own;
		fwd.own_ctx = d->resolver;
	} else {
		struct dns_upstream_config uc = daemon_upstream_config(d, d->cfg, d->conf);

		if (dc->dot[0] || dc->doh[0]) {
			/* One socket per query in flight, as via the proxy. */
			ic.max_pending = d->fds.dns;
			ic.max_pending_client = d->fds.dns / 4 > 0 ? d->fds.dns / 4 : 1;
		}
		/* encrypted servers, nameserver-policy, fallback: swapped at a
		 * reload behind one forwarder */
		r = dns_upstream_create(&d->loop, &uc, &d->up);
		if (r < 0)
			return r;
		fwd = dns_upstream_forwarder(d->up);
	}
	memcpy(ic.net4, dc->net4, 4);
	memcpy(ic.net6, dc->net6, 16);
	/* The TUN's own addresses are never handed out. */
	if (d->cfg->tun.has_addr4) {
		ic.exclude4 = (const uint8_t(*)[4])d->cfg->tun.addr4;
		ic.n_exclude4 = 1;
	}
	if (d->cfg->tun.has_addr6) {
		ic.exclude6 = (const uint8_t(*)[16])d->cfg->tun.addr6;
		ic.n_exclude6 = 1;
	}
	r = dns_intercept_create(&d->loop, d->stack, &ic, &fwd, &d->dns, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err[0] ? err : strerror(-r));
		return r;
	}
	d->flows.dns = d->dns;
	flow_udp_set_dns(d->udp, d->dns);
	if (dc->store_fake && dc->mode == DNS_MODE_FAKE_IP) {
		const char *dir =
			d->cfg->route.state_dir[0] ? d->cfg->route.state_dir : AUTOROUTE_STATE_DIR;
		char path[512];

		snprintf(path, sizeof(path), "%s/%s.fakeip", dir,
			 d->cfg->tun.name && d->cfg->tun.name[0] ? d->cfg->tun.name : "tun");
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("store-fake-ip: cannot make %s: %s", dir, strerror(errno));
		r = fake_store_start(&d->loop, d->dns, path, &d->fake_store);
		if (r < 0) {
			log_error("store-fake-ip: %s", strerror(-r));
			return r;
		}
	}
	if (dc->has4)
		daemon_fmt_cidr(AF_INET, dc->net4, dc->prefix4, r4, sizeof(r4));
	if (dc->has6)
		daemon_fmt_cidr(AF_INET6, dc->net6, dc->prefix6, r6, sizeof(r6));
	{
		const char *to = !dc->via_proxy && dc->dot[0]   ? dc->dot
				 : !dc->via_proxy && dc->doh[0] ? dc->doh
				 : dc->servers                  ? dc->servers
								: "the system's resolvers";
		const char *how = dc->via_proxy ? " over TCP through the proxy"
				  : dc->dot[0]  ? " over TLS"
				  : dc->doh[0]  ? " over HTTPS"
						: "";

		if (dc->mode == DNS_MODE_FAKE_IP)
			log_info("dns: fake-ip %s %s, forwarding to %s%s", r4, r6, to, how);
		else
			log_info("dns: real-ip, forwarding to %s%s", to, how);
	}
	if (!dc->via_proxy && !d->sock.bind_iface[0] && !d->sock.has_fwmark)
		log_debug("dns: upstream queries follow the routing table: make sure the DNS "
			  "servers are not routed into the TUN (or use --bind-interface/--fwmark)");
	return 0;
}

static void daemon_dns_stop(struct daemon *d)
{
	/* TCP clients first, then the forwarder, whose cancelled queries
	 * still call into the interceptor. */
	fake_store_stop(d->fake_store); /* the pool as it is now */
	d->fake_store = NULL;
	dns_intercept_shutdown(d->dns);
	dns_upstream_shutdown(d->up);
	if (d->resolver)
		resolver_shutdown(d->resolver);
	dns_socks_shutdown(d->dns_socks);
}

/* The hosts table (docs/design.md §23): the config's hosts: with
 * dns.use-hosts, /etc/hosts with dns.use-system-hosts (both default on);
 * none without a config file. Read at start and at each reload (§24). */
static int daemon_hosts_build(const struct config *c, struct dns_hosts **out)
{
	char q[300];
	int r;

	*out = NULL;
	if (c == NULL || (!(c->dns.use_hosts && c->n_hosts > 0) && !c->dns.use_system_hosts))
		return 0;
	r = dns_hosts_create(out);
	for (size_t i = 0; r == 0 && c->dns.use_hosts && i < c->n_hosts; i++)
		for (size_t j = 0; r == 0 && j <= c->hosts[i].n_addrs; j++) {
			if (j == c->hosts[i].n_addrs) {
				/* an alias (docs/design.md §23) */
				r = c->hosts[i].alias ? dns_hosts_add_alias(*out, c->hosts[i].name,
									    c->hosts[i].alias)
						      : 0;
				if (r == -EEXIST || r == -EINVAL) {
					log_warn("%s:%d:%d: hosts: %s: %s", c->hosts[i].pos.file,
						 c->hosts[i].pos.line, c->hosts[i].pos.col,
						 c->hosts[i].name,
						 r == -EEXIST ? "given twice: the first kept"
							      : "not a name: ignored");
					r = 0;
				}
				break;
			}
			r = dns_hosts_add(*out, c->hosts[i].name, c->hosts[i].addrs[j].text);
			if (r == -EINVAL || r == -ENOSPC) {
				snprintf(q, sizeof(q), "%s:%d:%d", c->hosts[i].pos.file,
					 c->hosts[i].pos.line, c->hosts[i].pos.col);
				log_error("%s: hosts: %s: %s", q, c->hosts[i].name,
					  r == -EINVAL ? "not a name or domain pattern"
						       : "too many addresses (8 a family)");
			}
		}
	if (r == 0 && c->dns.use_system_hosts) {
		FILE *f = fopen("/etc/hosts", "re");

		char *buf = malloc(1 << 20);

		if (f != NULL && buf != NULL) {
			size_t n = fread(buf, 1, 1 << 20, f), skipped = 0;

			r = dns_hosts_parse_etc(*out, buf, n, &skipped);
		}
		if (f != NULL)
			fclose(f);
		free(buf);
	}
	if (r < 0) {
		dns_hosts_destroy(*out);
		*out = NULL;
		return r;
	}
	log_info("hosts: %zu names answered locally", dns_hosts_count(*out));
	return 0;
}

static int daemon_hosts(struct daemon *d)
{
	int r = daemon_hosts_build(d->conf, &d->hosts);

	if (r == 0 && d->resolver && d->hosts)
		resolver_set_hosts(d->resolver, d->hosts);
	return r;
}

/* A reload (docs/design.md §24): the hosts table read again and the DNS
 * servers' side rebuilt from the new settings; queries in flight finish
 * on the old one, the fake pool stays. */
static void daemon_dns_reload(struct daemon *d)
{
	struct dns_hosts *h = NULL, *old = d->hosts;

	if (daemon_hosts_build(d->conf, &h) < 0) {
		log_error("reload: hosts: out of memory: keeping the running table");
	} else {
		d->hosts = h;
		if (d->resolver)
			resolver_set_hosts(d->resolver, h);
		router_ctx_set_hosts(d->router, h);
		if (d->dns)
			dns_intercept_set_hosts(d->dns, h);
		dns_hosts_destroy(old);
	}
	if (d->up != NULL) {
		struct dns_upstream_config uc = daemon_upstream_config(d, d->cfg, d->conf);

		if (dns_upstream_reload(d->up, &uc) == 0)
			log_info("reload: DNS servers rebuilt (queries in flight finish on the "
				 "old ones)");
	}
}

/* c-ares for forwarded DNS, DIRECT connections to names and IP rules on
 * names: always there, whatever the DNS mode. */
static int daemon_resolver_start(struct daemon *d)
{
	struct resolver_config rc = { .servers = d->cfg->dns.servers, .sock = d->sock };
	char err[256] = "";
	int r = resolver_create(&d->loop, &rc, &d->resolver, err, sizeof(err));

	if (r < 0)
		log_error("cannot set up the resolver: %s", err[0] ? err : strerror(-r));
	return r;
}

/* ---- TUN <-> lwIP ------------------------------------------------------- */

/* One loop turn's packets from lwIP, in order (stack_flush from
 * daemon_on_prepare): runs of TCP segments become GSO super-packets where
 * the TUN takes them (docs/design.md §15). A full TUN queue drops like a
 * full NIC would; TCP retransmits. */
static void daemon_stack_output_batch(void *arg, const struct iovec *iov, const int *iovcnt,
				      size_t n)
{
	struct daemon *d = arg;

	d->tun_write_drops += tun_write_batch(d->tun, iov, iovcnt, n);
}

/* A flow beyond the TCP budget would take a descriptor DNS, UDP or the
 * loop itself needs: refused (the stack resets the connection), counted
 * and warned about at most once a minute. Live flows are unaffected. */
static bool daemon_tcp_budget_full(struct daemon *d)
{
	uint64_t now;

	if (d->flows.live_count < d->fds.tcp)
		return false;
	d->tcp_refused_fds++;
	now = uv_now(&d->loop);
	if (d->fds_warned_at == 0 || now - d->fds_warned_at >= 60000) {
		d->fds_warned_at = now;
		log_warn("%u TCP flows use their share of the %u file descriptors "
			 "(RLIMIT_NOFILE): refusing new connections (RST); raise the hard "
			 "limit (ulimit -Hn, systemd LimitNOFILE=)",
			 d->flows.live_count, d->fds.limit);
	}
	return true;
}

static void daemon_mem_share(struct daemon *d);

static int daemon_stack_accept(void *arg, struct tcp_pcb *pcb)
{
	struct daemon *d = arg;
	int r;

	if (d->mem.level == MEM_REFUSE) {
		d->mem_refused++;
		return -ENOMEM; /* reset: the memory budget is spent */
	}
	/* DNS over TCP is answered in the stack: it holds no descriptor. */
	if (dns_intercept_wants_tcp(d->dns, pcb->local_port))
		return dns_intercept_tcp_accept(d->dns, pcb);
	if (daemon_tcp_budget_full(d))
		return -EMFILE;
	r = flow_tcp_accept(&d->flows, pcb);
	daemon_mem_share(d);
	return r;
}

static void daemon_drain_tun(struct daemon *d, int status)
{
	if (status < 0) {
		log_error("TUN poll error: %s", uv_strerror(status));
		return;
	}
	/* Drain to EAGAIN, bounded so sockets get their turn. */
	for (int i = 0; i < 256; i++) {
		struct pbuf *p = d->spare ? d->spare : stack_pbuf_alloc(d->read_max);
		ssize_t n;

		d->spare = NULL;
		if (p == NULL)
			return; /* out of memory: the kernel queue holds the rest */
		n = tun_read(d->tun, p->payload, d->read_max);
		if (n <= 0) {
			d->spare = p;
			if (n == -EAGAIN)
				return;
			if (n == -EPIPE) {
				log_error("TUN descriptor closed by its owner; stopping");
				uv_stop(&d->loop);
				return;
			}
			d->tun_read_errors++;
			continue;
		}
		if ((size_t)n < d->read_max / 4 && d->read_max > 2048) {
			/* A small packet (an ACK, a short segment) would pin a
			 * read_max-sized buffer while lwIP queues it: copy it
			 * into one of its own size and keep the big one. */
			struct pbuf *small = stack_pbuf_alloc((size_t)n);

			if (small == NULL) {
				d->spare = p;
				continue;
			}
			memcpy(small->payload, p->payload, (size_t)n);
			d->spare = p;
			p = small;
		} else {
			pbuf_realloc(p, (u16_t)n);
		}
		/* p passes to the stack. */
		stack_input(d->stack, p);
	}
}

static void daemon_stack_udp(void *arg, const ip_addr_t *src, uint16_t sport, const ip_addr_t *dst,
			     uint16_t dport, struct pbuf *payload)
{
	struct daemon *d = arg;

	/* payload passes to whichever takes the datagram. */
	if (dns_intercept_udp(d->dns, src, sport, dst, dport, payload))
		return;
	flow_udp_input(d->udp, src, sport, dst, dport, payload);
}

static void daemon_on_tun(uv_poll_t *h, int status, int events)
{
	struct daemon *d = h->data;

	(void)events;
	daemon_drain_tun(d, status);
	/* Client data that arrived in this drain goes upstream now, one
	 * writev per flow. */
	flow_tcp_ctx_flush(&d->flows);
}

static void daemon_on_lwip_timer(uv_timer_t *h)
{
	struct daemon *d = h->data;

	/* What the last poll phase queued goes first: a retransmission timer
	 * would find those segments busy and wait another tick. */
	stack_flush(d->stack);
	stack_check_timeouts(d->stack);
	flow_tcp_ctx_flush(&d->flows);
}

/* Before every poll: re-arm the lwIP timer for its next deadline, which
 * moves earlier whenever a pcb starts TCP's 250 ms timer. */
static void daemon_on_prepare(uv_prepare_t *h)
{
	struct daemon *d = h->data;

	/* What this turn's callbacks and timers had lwIP send leaves now,
	 * before the loop sleeps. */
	stack_flush(d->stack);
	uv_timer_start(&d->lwip_timer, daemon_on_lwip_timer, stack_timeout_ms(d->stack), 0);
}

/* Every 2 s: once flows have ended, return their memory to the OS so RSS
 * falls back after a burst (lwIP frees closed pcbs up to TIME_WAIT later,
 * hence a timer rather than a call when a flow ends). */
static void daemon_on_trim(uv_timer_t *h)
{
	struct daemon *d = h->data;
	const struct flow_stats *st = &d->flows.stats;
	uint64_t ended = st->closed + st->reset + st->failed;
	unsigned dns = dns_intercept_pending(d->dns) + resolver_pending(d->resolver);

	/* Two ticks after the last end: the second catches the pcbs lwIP
	 * freed when their 2 s TIME_WAIT ran out. */
	if (ended != d->ended_at_trim) {
		d->ended_at_trim = ended;
		d->trims_due = 2;
	}
	/* A flood of forwarded queries draining (each held its c-ares state
	 * until answered or timed out): give the memory back as well. */
	if (dns < d->dns_at_trim)
		d->trims_due = 2;
	d->dns_at_trim = dns;
	if (d->trims_due > 0) {
		d->trims_due--;
		heap_release();
	}
}

/* With a memory budget, the bytes the flows may have waiting in lwIP for
 * their clients' ACKs: a quarter of the budget shared by the live flows
 * (an eighth once shedding), at least a segment's worth each. Updated at
 * every accept, since a burst of downloads fills lwIP far faster than
 * the 100 ms check could notice. */
static void daemon_mem_share(struct daemon *d)
{
	size_t share;

	if (d->mem.limit == 0)
		return;
	share = d->mem.limit / (d->mem.level >= MEM_SHED_PENDING ? 8 : 4) /
		(d->flows.live_count + 1);
	d->flows.inflight_max = share < 4096 ? 4096 : share;
}

/* The half-open cap at memory level `level`: --max-half-open (0: the
 * stack's default), lowered to 64 from the shedding of pending state. */
static uint32_t daemon_half_open_max(const struct daemon *d, enum mem_level level)
{
	uint32_t max = d->cfg->max_half_open ? d->cfg->max_half_open : STACK_HALF_OPEN_MAX;

	return level >= MEM_SHED_PENDING && max > 64 ? 64 : max;
}

/* The memory budget's check, every 100 ms: what the daemon holds against
 * --max-memory, and the shedding of the level it is at (mem_budget.h). */
static void daemon_on_mem(uv_timer_t *h)
{
	struct daemon *d = h->data;
	size_t used = d->mem_base + heap_in_use();
	enum mem_level before = d->mem.level, now = mem_budget_update(&d->mem, used);

	if (now != before) {
		if (now > before)
			log_warn("memory: %zu of %zu MiB in use: %s", used >> 20,
				 d->mem.limit >> 20, mem_level_name(now));
		else
			log_info("memory: %zu of %zu MiB in use: %s", used >> 20,
				 d->mem.limit >> 20, mem_level_name(now));
		stack_set_half_open_max(d->stack, daemon_half_open_max(d, now));
		dns_intercept_set_shed(d->dns, now == MEM_REFUSE         ? 1
					       : now >= MEM_SHED_PENDING ? 16
									 : 0);
		flow_udp_set_refuse_new(d->udp, now == MEM_REFUSE);
	}
	daemon_mem_share(d);
	if (now >= MEM_SHED_IDLE)
		flow_udp_shed_idle(d->udp, 1000);
	if (now >= MEM_SHED_PENDING)
		heap_release();
}

/* --max-memory: the budget, and what of the RSS is not heap (code,
 * libraries, stacks: counted as used from the start). 0, or -1 (logged)
 * when that alone leaves less than half of it. */
static int daemon_mem_budget(struct daemon *d)
{
	size_t limit = (size_t)d->cfg->max_memory_mb << 20, rss = heap_rss(), heap = heap_in_use();

	mem_budget_init(&d->mem, limit);
	if (limit == 0)
		return 0;
	d->mem_base = rss > heap ? rss - heap : 0;
	if (d->mem_base > limit / 2) {
		log_error(
			"--max-memory %u: the daemon's code and libraries alone take %zu MiB; give "
			"at least %zu",
			d->cfg->max_memory_mb, d->mem_base >> 20, (d->mem_base >> 20) * 2 + 1);
		return -1;
	}
	log_info("memory budget: %u MiB (%zu MiB of it code and libraries): shedding from 70%%, "
		 "new flows refused from 95%%",
		 d->cfg->max_memory_mb, d->mem_base >> 20);
	return 0;
}

static void daemon_on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;

	log_info("%s received, closing %u flows", signum == SIGINT ? "SIGINT" : "SIGTERM",
		 d->flows.live_count);
	uv_stop(&d->loop);
}

/* A provider's copy changed (docs/design.md §19): load it as SIGHUP
 * would, on a worker thread. */
static void daemon_providers_changed(void *arg)
{
	struct daemon *d = arg;

	if (d->stopping)
		return;
	if (d->reload)
		d->reload_again = true;
	else
		(void)daemon_reload_start(d);
}

/* Health checks of the groups (docs/design.md §18), provider downloads
 * (§19) and pipelining probes (§15); without them groups still route by
 * their first member, providers by their cached copies and SOCKS5 proxies
 * with plain handshakes. */
static void daemon_health_start(struct daemon *d, struct router_gen *g)
{
	struct pipelining_opts po = { .sock = &d->sock,
				      .timeout_ms = (uint64_t)d->cfg->connect_timeout_s * 1000 };
	int r = pipelining_create(&d->loop, &po, &d->pipelining);

	/* SOCKS5 proxies with pipelining auto (docs/design.md §15); without
	 * the probes they keep plain handshakes. */
	if (r == 0)
		r = pipelining_set_gen(d->pipelining, g);
	if (r < 0)
		log_warn("pipelining: auto: no probes (%s): plain handshakes", strerror(-r));
	r = http_client_create(&d->loop, &d->sock, &d->http);

	if (r == 0)
		r = health_create(&d->loop, d->http, &d->health);
	if (r == 0)
		r = providers_create(&d->loop, d->http, daemon_providers_changed, d, &d->providers);
	if (r == 0)
		r = providers_update(d->providers, d->conf, g);
	if (r < 0) {
		log_warn("proxy groups and providers: no health checks or downloads: %s",
			 strerror(-r));
		return;
	}
	health_set_gen(d->health, g);
}

/* The router saw group `name` fail max-failed-times: check it now. */
static void daemon_group_failing(void *arg, const char *name)
{
	struct daemon *d = arg;

	if (d->health)
		(void)health_check_soon(d->health, name);
}

/* Before any uv_walk: they close their own handles. */
static void daemon_health_stop(struct daemon *d)
{
	pipelining_destroy(d->pipelining);
	d->pipelining = NULL;
	providers_destroy(d->providers);
	d->providers = NULL;
	health_destroy(d->health);
	d->health = NULL;
	http_client_destroy(d->http);
	d->http = NULL;
}

static void daemon_close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The TUN watcher, lwIP's timers, the heap trimmer and the signals. Each
 * handle that failed to initialise is not registered with the loop; those
 * before it are closed by the caller's uv_walk. 0 or a libuv error. */
static int daemon_start_handles(struct daemon *d)
{
	const char *what;
	int r;

	what = "cannot watch the TUN for packets";
	r = uv_poll_init(&d->loop, &d->tun_poll, tun_fd(d->tun));
	if (r == 0) {
		d->tun_poll.data = d;
		r = uv_poll_start(&d->tun_poll, UV_READABLE, daemon_on_tun);
	}
	if (r < 0 && d->cfg->tun.fd >= 0) {
		/* e.g. /dev/null or a regular file: epoll refuses it (EPERM). */
		log_error("--tun-fd %d: cannot watch it for packets: %s (is it a TUN device?)",
			  d->cfg->tun.fd, uv_strerror(r));
		return r;
	}
	if (r < 0)
		goto fail;
	what = "cannot start the timers";
	r = uv_timer_init(&d->loop, &d->lwip_timer);
	if (r == 0)
		r = uv_prepare_init(&d->loop, &d->lwip_prepare);
	if (r == 0)
		r = uv_prepare_start(&d->lwip_prepare, daemon_on_prepare);
	if (r == 0)
		r = uv_timer_init(&d->loop, &d->trim_timer);
	if (r == 0)
		r = uv_timer_start(&d->trim_timer, daemon_on_trim, 2000, 2000);
	if (r == 0)
		r = uv_timer_init(&d->loop, &d->mem_timer);
	d->mem_timer.data = d;
	if (r == 0 && d->mem.limit)
		r = uv_timer_start(&d->mem_timer, daemon_on_mem, 100, 100);
	if (r < 0)
		goto fail;
	what = "cannot watch for signals";
	r = uv_signal_init(&d->loop, &d->sigint);
	if (r == 0)
		r = uv_signal_start(&d->sigint, daemon_on_signal, SIGINT);
	if (r == 0)
		r = uv_signal_init(&d->loop, &d->sigterm);
	if (r == 0)
		r = uv_signal_start(&d->sigterm, daemon_on_signal, SIGTERM);
	if (r == 0)
		r = uv_signal_init(&d->loop, &d->sighup);
	if (r == 0)
		r = uv_signal_start(&d->sighup, daemon_on_sighup, SIGHUP);
	if (r < 0)
		goto fail;
	/* No callback runs before uv_run(). */
	d->lwip_timer.data = d->lwip_prepare.data = d->trim_timer.data = d;
	d->sigint.data = d->sigterm.data = d->sighup.data = d;
	return 0;
fail:
	log_error("%s: %s", what, uv_strerror(r));
	return r;
}

/* ---- the uplink ---------------------------------------------------------- */

/* The monitor's news (system/uplink.h): with auto-detect-interface, new
 * upstream sockets are bound to the new uplink; a DNS server that now
 * lies behind the TUN is named (its queries come back and are answered
 * SERVFAIL: docs/design.md §7). */
static void daemon_on_uplink(void *arg, const struct uplink_event *ev)
{
	struct daemon *d = arg;
	char a[INET6_ADDRSTRLEN];

	if (ev->kind == UPLINK_DNS_LOOP) {
		inet_ntop(ev->server.family, ev->server.addr, a, sizeof(a));
		log_error("uplink: DNS server %s is now routed into the TUN: forwarded queries "
			  "would come back and are answered SERVFAIL; give a server reachable "
			  "outside the TUN (--dns-server, dns.nameserver)",
			  a);
		return;
	}
	if (!d->cfg->route.auto_detect) {
		log_info("uplink: the default route now goes out of %s",
			 ev->name[0] ? ev->name : "(none)");
		return;
	}
	if (ev->ifindex == 0 || ev->name[0] == '\0') {
		log_warn("uplink: no default route: upstream sockets stay bound to %s",
			 d->sock.bind_iface);
		return;
	}
	{
		struct sock_opts so = d->sock;
		char was[sizeof(so.bind_iface)];

		snprintf(was, sizeof(was), "%s", d->sock.bind_iface);
		snprintf(so.bind_iface, sizeof(so.bind_iface), "%s", ev->name);
		if (sock_opts_resolve(&so) < 0) {
			log_warn("uplink: %s went away again: keeping %s", ev->name, was);
			return;
		}
		daemon_set_sock(d, &so);
		log_info("uplink: the default route moved from %s to %s: new upstream sockets "
			 "use %s",
			 was, ev->name, ev->name);
	}
}

/* auto-detect-interface at startup: our sockets bound to the interface of
 * the default route as it is now. 0 or -1 (logged). */
static int daemon_detect_uplink(struct daemon *d)
{
	char name[IF_NAMESIZE] = "";
	uint32_t ifindex;
	int r = uplink_find(0, &ifindex);

	if (r < 0) {
		log_error("auto-detect-interface: %s",
			  r == -ENOTSUP ? "not supported on this platform (use --bind-interface)"
					: strerror(-r));
		return -1;
	}
	if (ifindex == 0 || if_indextoname(ifindex, name) == NULL) {
		log_error("auto-detect-interface: no default route to find the uplink by");
		return -1;
	}
	snprintf(d->cfg->sock.bind_iface, sizeof(d->cfg->sock.bind_iface), "%s", name);
	log_info("auto-detect-interface: upstream sockets are bound to %s (the default "
		 "route's), followed while running",
		 name);
	return 0;
}

/* Once the TUN is routed: the monitor that follows the uplink, with
 * auto-detect-interface or auto-route (where it also re-checks the DNS
 * servers at every change). A failure costs only the following: logged. */
static void daemon_start_uplink(struct daemon *d)
{
	struct prefix dns[16];
	struct uplink_cfg uc = {
		.tun_ifindex = if_nametoindex(tun_name(d->tun)),
		.ifindex = d->sock.iface_index,
		.mark = d->sock.has_fwmark ? d->sock.fwmark : 0,
		.bind = d->cfg->route.auto_detect,
		.dns = dns,
		.n_dns = machine_dns_servers(d->cfg, dns, 16),
		.fn = daemon_on_uplink,
		.arg = d,
	};
	int r;

	if (!d->cfg->route.auto_detect && !d->cfg->route.auto_route)
		return;
	if (!d->cfg->route.auto_detect) {
		uint32_t now;

		if (uplink_find(uc.tun_ifindex, &now) == 0)
			uc.ifindex = now;
	}
	r = uplink_start(&d->loop, &uc, &d->uplink);
	if (r < 0)
		log_warn("uplink: cannot follow the default route: %s", strerror(-r));
}

/* ---- run --allow-host-port --------------------------------------------------- */

/* The listeners `tun2socks run` made on 127.0.0.1 inside CMD's namespace,
 * each joined to the same port on our (the host's) 127.0.0.1. */
static int daemon_start_host_ports(struct daemon *d)
{
	for (unsigned i = 0; i < d->cfg->n_host_ports && i < 8; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET,
					  .sin_port = htons(d->cfg->host_ports[i]) };
		int fd = d->cfg->host_port_fds[i], r;

		if (fd < 0)
			continue;
		d->cfg->host_port_fds[i] = -1;
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = sock_splice_start(&d->loop, fd, (const struct sockaddr *)&to, sizeof(to),
				      &d->host_ports[i]);
		if (r < 0) {
			log_error("run: --allow-host-port %u: %s", d->cfg->host_ports[i],
				  uv_strerror(r));
			return r;
		}
		log_info("run: CMD's 127.0.0.1:%u reaches the host's 127.0.0.1:%u",
			 d->cfg->host_ports[i], d->cfg->host_ports[i]);
	}
	return 0;
}

static void daemon_stop_host_ports(struct daemon *d)
{
	for (unsigned i = 0; i < 8; i++) {
		sock_splice_stop(d->host_ports[i]);
		d->host_ports[i] = NULL;
	}
}

/* ---- run ---------------------------------------------------------------- */

/* cfg->ready_fd: one byte once the TUN is served, then closed (`tun2socks
 * run` starts its command on it; a daemon that failed to start only
 * closes it, by exiting). */
static void daemon_notify_ready(int fd)
{
	if (fd < 0)
		return;
	if (write(fd, "1", 1) != 1)
		log_warn("cannot say ready on descriptor %d: %s", fd, strerror(errno));
	close(fd);
}

/* Before anything else: without the privilege a TUN needs, every later
 * step would fail or mislead (the proxy probe runs first and would blame
 * the proxy). */
static int daemon_check_priv(const struct options *cfg)
{
	struct priv_facts f = {
		.tun_admin = priv_tun_admin(),
		.tun_fd = cfg->tun.fd,
		.tun_fd_open = cfg->tun.fd >= 0 && fcntl(cfg->tun.fd, F_GETFD) != -1,
		.hint = priv_tun_hint(),
	};
	char why[512];
	int r = priv_check(&f, why, sizeof(why));

	if (r < 0)
		log_error("%s", why);
	return r;
}

/* Raises the descriptor limit and splits it (docs/design.md §12). 0 or
 * -EMFILE when too few are allowed to run. */
static int daemon_fd_budget(struct daemon *d)
{
	unsigned long long before, after;
	char why[64] = "";
	int r = fd_budget_raise(&before, &after);

	if (r < 0) {
		log_error("cannot read RLIMIT_NOFILE: %s", strerror(-r));
		return r;
	}
	r = fd_budget_split(after, d->cfg->dns.via_proxy || d->cfg->dns.dot[0], &d->fds);
	if (r < 0) {
		log_error("only %llu file descriptors allowed (RLIMIT_NOFILE): at least %d needed; "
			  "raise the limit (ulimit -n)",
			  after, FD_BUDGET_MIN);
		return r;
	}
	if (after > before)
		snprintf(why, sizeof(why), " (soft limit raised from %llu)", before);
	log_info("file descriptors: %u%s: %u TCP flows, %u UDP sessions, %u DNS, %u reserved",
		 d->fds.limit, why, d->fds.tcp, d->fds.udp_sessions, d->fds.dns, d->fds.reserve);
	return 0;
}

int daemon_run(struct options *cfg)
{
	struct daemon *d;
	struct router_gen *gen = NULL;
	char err[256] = "";
	int r, ret = 1;

	log_set_level(cfg->log_level);
	if (daemon_check_priv(cfg) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	heap_init();
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		log_error("out of memory");
		return 1;
	}
	d->cfg = cfg;
	options_copy(&d->cli, cfg);
	/* --proxy is the default upstream of every generation: resolved once,
	 * before the first one is built. */
	if (cfg->has_proxy && daemon_resolve_proxy(d) < 0)
		goto out_free;
	{
		struct generation_req req = daemon_gen_req(d);
		struct generation_diag diag;
		struct generation g0;

		r = generation_load(&req, &g0, &diag);
		generation_report(&g0, &diag, r, daemon_log_line, NULL);
		if (r < 0)
			goto out_free;
		options_copy(cfg, &g0.opts);
		d->conf = g0.conf;
		gen = g0.router;
		log_set_level(cfg->log_level);
	}
	if (cfg->dns.via_proxy && (!cfg->has_proxy || cfg->proxy.scheme == PROXY_HTTPS)) {
		log_error(
			"--dns-via-proxy needs a socks5:// or http:// --proxy to send DNS through");
		goto out_free;
	}
	if (control_check(cfg, d->conf) < 0)
		goto out_free;
	if (daemon_fd_budget(d) < 0 || daemon_mem_budget(d) < 0)
		goto out_free;
	if (machine_dns(cfg, &d->cli) < 0)
		goto out_free;
	if (cfg->route.auto_detect && daemon_detect_uplink(d) < 0)
		goto out_free;
	d->mtu = cfg->tun.mtu;
	d->sock = cfg->sock;
	r = sock_opts_resolve(&d->sock);
	if (r == -ENODEV) {
		log_error("--bind-interface: no interface named '%s'", cfg->sock.bind_iface);
		goto out_free;
	}
	if (r < 0) {
		log_error("--fwmark is not supported on this platform (use --bind-interface)");
		goto out_free;
	}
	if (cfg->has_proxy && cfg->check_proxy && daemon_probe_proxy(d) < 0)
		goto out_free;
	/* Under `tun2socks run`, CMD's sockets are in its namespace: asked
	 * through a sock_diag socket made there (docs/design.md §14). */
	d->procs = proc_lookup_create_fd(PROC_LOOKUP_CACHE_MS, cfg->proc_diag_fd);
	cfg->proc_diag_fd = -1; /* the lookup owns it, or closed it */
	/* sniffer: applies from the start; a reload keeps it (§21). */
	r = sniffer_create(d->conf ? &d->conf->sniffer : NULL, &d->sniffer, err, sizeof(err));
	if (r < 0) {
		log_error("sniffer: %s", err[0] ? err : strerror(-r));
		goto out_free;
	}
	if (d->sniffer)
		log_info("sniffer: on");

	r = tun_open(&cfg->tun, &d->tun, err, sizeof(err));
	if (r < 0) {
		if (r == -EPERM || r == -EACCES)
			log_error("cannot open TUN: must run as root (CAP_NET_ADMIN): %s", err);
		else if (r == -EBUSY)
			log_error("cannot open TUN: name busy: %s", err);
		else
			log_error("cannot open TUN: %s", err[0] ? err : strerror(-r));
		goto out_free;
	}
	d->read_max = tun_read_max(d->tun);
	r = uv_loop_init(&d->loop);
	if (r < 0) {
		log_error("cannot create event loop: %s", uv_strerror(r));
		goto out_tun;
	}
	r = daemon_resolver_start(d);
	if (r == 0)
		r = daemon_hosts(d);
	if (r == 0)
		r = router_ctx_create(gen, d->resolver, d->procs, &d->router);
	if (r < 0)
		goto out_loop;
	router_ctx_set_hosts(d->router, d->hosts);
	router_ctx_set_check(d->router, daemon_group_failing, d);
	daemon_health_start(d, gen);
	gen = NULL; /* the router holds it */
	{
		struct route_ops ops = router_ctx_ops(d->router);

		r = flow_tcp_ctx_init(&d->flows, &d->loop, &ops);
	}
	if (r < 0) {
		log_error("cannot set up flows: %s", strerror(-r));
		goto out_loop;
	}
	d->flows.resolver = d->resolver;
	d->flows.sniffer = d->sniffer;
	d->flows.sock = d->sock;
	d->flows.connect_timeout_ms = (uint64_t)cfg->connect_timeout_s * 1000;
	d->flows.idle_timeout_ms = (uint64_t)cfg->idle_timeout_s * 1000;

	static const struct stack_cbs cbs = {
		.output_batch = daemon_stack_output_batch,
		.tcp_accept = daemon_stack_accept,
		.udp_input = daemon_stack_udp,
	};
	r = stack_create(d->mtu, &cbs, d, &d->stack);
	if (r < 0) {
		log_error("cannot start the TCP/IP stack: %s", strerror(-r));
		goto out_flows;
	}
	if (tun_csum_offload(d->tun))
		stack_set_csum_offload(d->stack, true);
	stack_set_tso(d->stack, tun_gso(d->tun));
	stack_set_half_open_max(d->stack, cfg->max_half_open);
	{
		struct flow_udp_config ucfg;

		flow_udp_config_defaults(&ucfg);
		ucfg.idle_ms = (uint64_t)cfg->udp_timeout_s * 1000;
		ucfg.max_sessions = d->fds.udp_sessions;
		ucfg.connect_timeout_ms = (uint64_t)cfg->connect_timeout_s * 1000;
		struct route_ops ops = router_ctx_ops(d->router);

		r = flow_udp_ctx_create(&d->loop, d->stack, &ops, &d->sock, &ucfg, &d->udp);
		if (r < 0) {
			log_error("cannot set up UDP: %s", strerror(-r));
			goto out_stack;
		}
		flow_udp_set_resolver(d->udp, d->resolver);
		flow_udp_set_sniffer(d->udp, d->sniffer);
	}

	if (daemon_dns_start(d) < 0)
		goto out_dns;

	if (daemon_start_handles(d) < 0 || daemon_start_host_ports(d) < 0)
		goto out_dns;

	router_ctx_set_mode(d->router,
			    d->conf ? (enum router_mode)d->conf->mode : ROUTER_MODE_RULE);
	{
		const struct control_deps deps = {
			.loop = &d->loop,
			.tcp = &d->flows,
			.udp = d->udp,
			.router = d->router,
			.resolver = d->resolver,
			.http = &d->http,
			.providers = &d->providers,
			.conf = &d->conf,
			.opts = d->cfg,
			.daemon = d,
			.reload = daemon_api_reload,
		};

		if (control_start(&deps, cfg, d->conf, &d->control) < 0)
			goto out_dns;
	}

	/* Routes into the TUN last, once everything that serves them runs. */
	if (machine_setup(cfg, d->tun, router_ctx_current(d->router), &d->machine) < 0)
		goto out_dns;
	daemon_start_uplink(d);
	if (d->conf)
		log_info("tun2socks %s: TUN %s mtu %u, config %s: %zu proxies, %zu rules%s%s",
			 T2S_VERSION, tun_name(d->tun), d->mtu, cfg->config_path,
			 d->conf->n_proxies, router_ctx_rule_count(d->router),
			 cfg->has_proxy ? ", default proxy " : "",
			 cfg->has_proxy ? d->upstream.server_str : "");
	else
		log_info("tun2socks %s: TUN %s mtu %u, proxy %s %s", T2S_VERSION, tun_name(d->tun),
			 d->mtu, d->upstream.proto->name, d->upstream.server_str);
	daemon_notify_ready(cfg->ready_fd);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	ret = 0;
	/* The machine's routing as it was, before the flows go. */
	uplink_stop(d->uplink);
	d->uplink = NULL;
	daemon_stop_host_ports(d);
	machine_restore(d->machine);
	d->machine = NULL;

	/* A reload still on a worker thread: cancelled if it has not begun,
	 * else its result is dropped when it ends (the loop waits for it). */
	d->stopping = true;
	if (d->reload)
		uv_cancel((uv_req_t *)&d->reload->work);
	control_stop(d->control);
	d->control = NULL;

	/* Shutdown: reset every flow (RST both ways), then close handles and
	 * let the loop run their close callbacks. */
	flow_tcp_ctx_shutdown(&d->flows);
	flow_udp_ctx_shutdown(d->udp);
	daemon_dns_stop(d);
	daemon_health_stop(d);
	uv_walk(&d->loop, daemon_close_walk, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	log_info("stopped: %" PRIu64 " flows (%" PRIu64 " closed, %" PRIu64 " reset, %" PRIu64
		 " failed), %" PRIu64 " B up, %" PRIu64 " B down; %" PRIu64
		 " UDP sessions, %" PRIu64 " datagrams up, %" PRIu64 " down",
		 d->flows.stats.accepted, d->flows.stats.closed, d->flows.stats.reset,
		 d->flows.stats.failed, d->flows.stats.bytes_up, d->flows.stats.bytes_down,
		 flow_udp_stats(d->udp)->sessions, flow_udp_stats(d->udp)->dgrams_up,
		 flow_udp_stats(d->udp)->dgrams_down);
	{
		const struct tun_write_stats *ws = tun_write_stats(d->tun);

		log_info("tun: %" PRIu64 " packets out in %" PRIu64 " writes, %" PRIu64
			 " of them GSO carrying %" PRIu64 " segments; %" PRIu64 " dropped",
			 ws->packets, ws->writes, ws->gso_writes, ws->gso_segs, ws->dropped);
	}
	if (d->tcp_refused_fds > 0)
		log_info("%" PRIu64 " TCP connections refused: the file-descriptor budget was full",
			 d->tcp_refused_fds);
	if (d->mem_refused > 0 || flow_udp_stats(d->udp)->shed > 0 ||
	    flow_udp_stats(d->udp)->dropped_memory > 0)
		log_info("memory budget: %" PRIu64 " TCP connections and %" PRIu64
			 " new UDP sessions refused, %" PRIu64 " idle UDP sessions ended",
			 d->mem_refused, flow_udp_stats(d->udp)->dropped_memory,
			 flow_udp_stats(d->udp)->shed);
	if (stack_counters(d->stack)->half_open_dropped > 0)
		log_info("%" PRIu64
			 " half-open connections reset: over the cap of %u (oldest first)",
			 stack_counters(d->stack)->half_open_dropped,
			 daemon_half_open_max(d, MEM_OK));
	if (stack_counters(d->stack)->time_wait_freed > 0)
		log_info("%" PRIu64 " connections freed early from TIME_WAIT: over the cap of %u",
			 stack_counters(d->stack)->time_wait_freed, STACK_TIME_WAIT_MAX);
	if (d->dns) {
		const struct dns_intercept_stats *ds = dns_intercept_stats(d->dns);

		log_info("dns: %" PRIu64 " queries, %" PRIu64 " forwarded, %" PRIu64
			 " SERVFAIL (%" PRIu64 " of our own come back, %" PRIu64
			 " over the pending caps)",
			 ds->queries, ds->forwarded, ds->servfail, ds->looped, ds->capped);
	}
out_dns:
	if (ret != 0) {
		/* Startup failed after the DNS parts may have begun. */
		control_stop(d->control);
		d->control = NULL;
		daemon_stop_host_ports(d);
		daemon_dns_stop(d);
		flow_udp_ctx_shutdown(d->udp);
		flow_tcp_ctx_shutdown(&d->flows);
		daemon_health_stop(d);
		uv_walk(&d->loop, daemon_close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
	}
	/* The TUN is read from once its handle starts, even on a startup
	 * that fails later (the control API runs the loop while it gives up
	 * a busy address): the spare buffer then exists there too. */
	if (d->spare)
		pbuf_free(d->spare);
	d->spare = NULL;
	dns_intercept_destroy(d->dns);
	dns_socks_destroy(d->dns_socks);
	flow_udp_ctx_destroy(d->udp);
out_stack:
	stack_destroy(d->stack);
out_flows:
	flow_tcp_ctx_destroy(&d->flows);
out_loop:
	daemon_health_stop(d);
	dns_upstream_shutdown(d->up);
	if (d->resolver)
		resolver_shutdown(d->resolver);
	if (uv_loop_close(&d->loop) == UV_EBUSY) {
		uv_walk(&d->loop, daemon_close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
	}
	dns_upstream_destroy(d->up);
	if (d->resolver)
		resolver_destroy(d->resolver);
	router_ctx_destroy(d->router);
out_tun:
	tun_close(d->tun);
out_free:
	router_gen_unref(gen);
	proc_lookup_destroy(d->procs);
	sniffer_destroy(d->sniffer);
	dns_hosts_destroy(d->hosts);
	config_free(d->conf);
	upstream_cfg_free(&d->upstream);
	free(d->api_path);
	free(d);
	return ret;
}
