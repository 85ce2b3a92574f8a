/* autoroute: the machine's routing sends traffic into the TUN while the
 * daemon runs, and is as it was once it stops (docs/design.md §13).
 *
 * Start writes a state file listing every rule and route of the plan
 * (route_plan.h) before adding the first one, and holds a lock file for
 * as long as the daemon lives; stop removes them in reverse order. A
 * daemon killed with SIGKILL leaves its state file and an unlocked lock:
 * the next start, or `tun2socks cleanup`, removes what it lists. Start
 * refuses a TUN name another live daemon holds, and a table or rule range
 * that already has routes or rules (another tun2socks, mihomo, sing-box).
 *
 * Linux: policy rules and a table of ours (route_plan.h, over
 * RTNETLINK); macOS: routes of the main table around the original default
 * gateway (route_split.h, over a PF_ROUTE socket; uncompiled so far).
 * Elsewhere start and cleanup return -ENOTSUP. Blocking; runs before the
 * loop starts and after it stops.
 */
#ifndef T2S_AUTOROUTE_H
#define T2S_AUTOROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/system/route_plan.h"

/* The default state directory: /run/tun2socks on Linux,
 * /var/run/tun2socks on macOS (its / is read-only). */
const char *autoroute_state_dir(void);
#define AUTOROUTE_STATE_DIR autoroute_state_dir()

struct autoroute;

/* Where progress goes: one human-readable line per call (leftovers
 * removed, objects that were already gone). */
typedef void (*autoroute_note_fn)(void *arg, const char *line);

struct autoroute_cfg {
	const char *state_dir; /* NULL: AUTOROUTE_STATE_DIR */
	struct route_plan_cfg plan;
	autoroute_note_fn note; /* may be NULL */
	void *note_arg;
};

/* Sets it all up. 0, or -errno with the reason in err: -EBUSY (a live
 * daemon holds this TUN name), -EEXIST (the table or rule range is in
 * use), -ENOTSUP (no auto-route on this platform), the kernel's refusal
 * (everything added so far is removed again), or a state file error. */
int autoroute_start(const struct autoroute_cfg *cfg, struct autoroute **out, char *err,
		    size_t errlen);

/* What start added (for the log). */
const struct route_plan *autoroute_plan(const struct autoroute *ar);

/* A new plan while running (the proxy servers' addresses after a reload
 * resolved their names again): what the new plan adds is added first,
 * then what it drops is removed; the state file lists both while it
 * happens. *added and *removed count them (0, 0: nothing changed). 0, or
 * -errno with err: then the running plan is as before. Blocking (the
 * kernel answers at once). */
int autoroute_replan(struct autoroute *ar, const struct route_plan_cfg *cfg, size_t *added,
		     size_t *removed, char *err, size_t errlen);

/* Records in the state file that systemd-resolved was (about to be) given
 * the DNS of link ifindex (the TUN; 0: no longer), so that cleanup reverts
 * it (resolved.h) after SIGKILL. 0 or -errno. */
int autoroute_set_resolved_link(struct autoroute *ar, uint32_t ifindex);

/* Records in the state file that /etc/resolv.conf was (about to be)
 * pointed at the TUN (resolvconf.h; false: no longer), so that cleanup
 * puts it back from the backup, whose path this returns. 0 or -errno. */
int autoroute_set_resolv_conf(struct autoroute *ar, bool on);
const char *autoroute_resolv_backup(const struct autoroute *ar);

/* Removes everything start added, the state file and the lock. NULL is a
 * no-op. */
void autoroute_stop(struct autoroute *ar);

/* `tun2socks cleanup`: for every state file in state_dir (only tun's
 * when tun is not NULL) of this network namespace whose daemon is gone,
 * removes what it lists and the file. Returns how many were cleaned, or
 * -errno with err: -EBUSY when such a daemon still runs (its name and pid
 * in err; the others are cleaned all the same). */
int autoroute_cleanup(const char *state_dir, const char *tun, autoroute_note_fn note, void *arg,
		      char *err, size_t errlen);

/* `tun2socks status`: one state file of state_dir, what it lists and how
 * much of it the kernel still has. */
struct autoroute_status {
	const char *state_path;
	char tun[16];
	unsigned long pid;
	bool running;     /* its lock is held: the daemon lives */
	bool pid_alive;   /* a process with its pid exists */
	bool other_netns; /* recorded in another network namespace: not checked */
	int tun_up;       /* 1 up, 0 down, -ENODEV gone, or -errno */
	uint32_t table, rule_index;
	uint32_t resolved_link;      /* systemd-resolved's DNS on it; 0: none */
	bool resolv_conf;            /* /etc/resolv.conf pointed at the TUN */
	const struct route_obj *obj; /* what it added, in order */
	const bool *present;         /* present[i]: obj[i] is in the kernel */
	size_t n, n_present;
	const char *error; /* the file could not be read or parsed: why; else NULL */
};
typedef void (*autoroute_status_fn)(void *arg, const struct autoroute_status *st);

/* Calls fn for every state file of state_dir (only tun's, if given).
 * Returns how many, or -errno (the directory or the routing socket). */
int autoroute_status(const char *state_dir, const char *tun, autoroute_status_fn fn, void *arg);

/* The interface the kernel routes a packet of ours to dst (a host
 * prefix) through, sent with fwmark mark and from a socket bound to
 * bind_ifindex (0: none): 0 with *oif, -ENOTSUP where we cannot ask, or
 * -errno (-ENETUNREACH: no route). The daemon asks it for its upstream
 * DNS servers: one routed into its own TUN would be a loop. */
int autoroute_route_oif(const struct prefix *dst, uint32_t mark, uint32_t bind_ifindex,
			uint32_t *oif);

#endif
