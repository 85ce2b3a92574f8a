/* machine: what the daemon changes on the machine beyond its TUN, and puts
 * back: with --auto-route the routes and rules that send the machine's
 * traffic into the TUN (system/autoroute.h), and the choice of upstream
 * DNS that keeps the daemon from asking itself (system/sysdns.h). The
 * daemon calls it at three points of its life; `tun2socks cleanup` calls
 * machine_cleanup. Logs what it does.
 */
#ifndef T2S_MACHINE_H
#define T2S_MACHINE_H

#include <stddef.h>

#include "tun2socks/app/options.h"
#include "tun2socks/system/prefix.h"

struct machine;
struct router_gen;
struct tun;

/* Before the resolver starts. With auto-route and no upstream given, the
 * system's DNS servers as they are now (resolv.conf, systemd-resolved's
 * upstreams) become the upstream, in cfg and in cli (so a reload keeps
 * them). 0, or -1 (logged). */
int machine_dns(struct options *cfg, struct options *cli);

/* The upstream DNS servers the daemon forwards to with its own sockets
 * (none with DNS off or via the proxy), as host prefixes; at most max. */
size_t machine_dns_servers(const struct options *cfg, struct prefix *out, size_t max);

/* Once the TUN is up and the first generation built: an upstream DNS
 * server the kernel routes into the TUN (for our sockets) is refused, in
 * any mode; then auto-route's routes and rules (nothing without
 * auto-route: *out NULL). gen gives the proxy servers to keep out of the
 * TUN. 0, or -1 (logged; nothing is left behind). */
int machine_setup(const struct options *cfg, const struct tun *tun, const struct router_gen *gen,
		  struct machine **out);

/* After a reload: the proxy servers of gen (their names resolved again)
 * kept out of the TUN instead of the previous ones; the rest of the plan
 * as it was (cfg is the running settings). NULL is a no-op. 0, or -1
 * (logged; the rules stay as they were). */
int machine_update(struct machine *m, const struct options *cfg, const struct router_gen *gen);

/* Removes what machine_setup added. NULL is a no-op. */
void machine_restore(struct machine *m);

/* `tun2socks cleanup [--tun NAME] [--state-dir DIR]`: removes what
 * daemons killed with SIGKILL left, printing each step. The exit status. */
int machine_cleanup(const struct options *cfg);

/* `tun2socks status [--tun NAME] [--state-dir DIR]`: what each daemon's
 * auto-route set up, and whether the daemon, its TUN and every rule and
 * route are there. The exit status: 0 all in place, 1 nothing set up, 2 a
 * daemon that is gone left some (cleanup removes them), 3 a running
 * daemon misses some (or its TUN is down), 4 cannot tell. */
int machine_status(const struct options *cfg);

#endif
