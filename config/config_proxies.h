/* config_proxies: the proxies and proxy-groups sections of the config.
 *
 * Proxies are checked entry by entry (socks5, http and our redirect;
 * other Clash types are kept as unsupported, with a warning). Groups are
 * resolved at load time: every member names something, there are no
 * cycles, and each group routes to one member. Proxies and groups share
 * one namespace, indexed for config_find_name().
 */
#ifndef T2S_CONFIG_PROXIES_H
#define T2S_CONFIG_PROXIES_H

#include "config/loader.h"

/* proxies: n is its value. A broken entry keeps its name when it has one,
 * so that what names it is not reported as well. */
int config_proxies_load(struct loader *ld, yaml_node_t *n);

/* proxy-groups (n NULL when the key is absent), after
 * config_proxies_load(): the groups, then the name index, then each
 * group's members, cycles and selected member. */
int config_proxies_load_groups(struct loader *ld, yaml_node_t *n);

#endif
