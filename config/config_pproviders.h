/* config_pproviders: the proxy-providers section (docs/design.md §19):
 * Clash `proxies:` lists in files of their own, local (type file) or
 * downloaded (type http, into the cache; read here as cached). Each
 * provider's proxies that tun2socks can speak, passing its filter and
 * exclude-filter, are appended to config.proxies with its override
 * applied; the others are counted in one warning per provider. A provider
 * whose file is missing or broken is empty, with a warning: mihomo starts
 * in the same case.
 */
#ifndef T2S_CONFIG_PPROVIDERS_H
#define T2S_CONFIG_PPROVIDERS_H

#include "config/loader.h"

/* After config_proxies_load(), before the groups. */
int config_pproviders_load(struct loader *ld, yaml_node_t *n);

#endif
