/* route_state: the state file of auto-route, as text. Written before the
 * first rule is added, it lists everything the daemon adds, so that a
 * clean stop, `tun2socks cleanup` or the next start can remove exactly
 * that, even after SIGKILL:
 *
 *   # tun2socks auto-route: what this daemon added to the routing of the
 *   # machine; `tun2socks cleanup` removes it once the daemon is gone.
 *   tun2socks-state 1
 *   pid 4242
 *   netns 4026531840
 *   tun tun0
 *   table 2022
 *   rule-index 9000
 *   resolved-link 7          (systemd-resolved sends names to the TUN)
 *   resolv-conf              (/etc/resolv.conf names the TUN; <tun>.resolv.conf
 *                             beside the state file holds what it held)
 *   rule -4 pref 9010 nop
 *   route -4 table 2022 0.0.0.0/1 dev tun0
 *   ...
 *
 * One object per line in route_text's words (in the order they are
 * added); '#' lines and blank lines are comments. Pure.
 */
#ifndef T2S_ROUTE_STATE_H
#define T2S_ROUTE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/system/route_text.h"

struct route_state {
	unsigned long pid;
	uint64_t netns; /* inode of the daemon's network namespace; 0: unknown */
	char tun[16];
	uint32_t table, rule_index;
	/* the interface index whose DNS systemd-resolved was given
	 * (resolved.h); 0: none (no line) */
	uint32_t resolved_link;
	/* /etc/resolv.conf was (about to be) rewritten (resolvconf.h) */
	bool resolv_conf;
	struct route_obj *obj;
	size_t n;
};

/* The file's text into a malloc'ed string (*out, length *len). 0 or
 * -ENOMEM. */
int route_state_format(const struct route_state *s, char **out, size_t *len);

/* Parses text[0..len). 0, or -EINVAL with "line N: ..." in err; -ENOMEM.
 * out is cleared first and owns its objects (route_state_free). */
int route_state_parse(const char *text, size_t len, struct route_state *out, char *err,
		      size_t errlen);

void route_state_free(struct route_state *s);

#endif
