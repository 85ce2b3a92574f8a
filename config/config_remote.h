/* config_remote: the keys of a provider that downloads (type: http) and
 * where its copy lives (docs/design.md §19). Shared by rule-providers and
 * proxy-providers. Pure apart from one stat() of the cached copy.
 */
#ifndef T2S_CONFIG_REMOTE_H
#define T2S_CONFIG_REMOTE_H

#include <stddef.h>

#include "config/config.h"
#include "config/loader.h"

/* mihomo's keys read for type http. */
#define CONFIG_REMOTE_KEYS "url", "interval", "proxy", "size-limit"

/* Reads key e into rm when it is one of CONFIG_REMOTE_KEYS: returns 1
 * when it is not (the caller goes on), else 0 or the loader's error. */
int config_remote_key(struct loader *ld, const struct loader_kv *e, const char *what,
		      struct config_remote *rm);

/* After the keys: url required; *path (already resolved, or NULL) gets
 * the default <cache dir>/<kind>/<name>-<hash of url>.yaml; rm->cached
 * set. kind: "rules", "proxies". */
int config_remote_finish(struct loader *ld, struct config_remote *rm, const char *kind,
			 const char *name, struct conf_pos pos, const char *what,
			 const char **path);

/* After every section: each http provider's `proxy` names a proxy, a
 * group, DIRECT or REJECT (an error at the value otherwise). */
int config_remote_check_proxies(struct loader *ld);

/* The cache directory: $T2S_CACHE_DIR, else /var/cache/tun2socks for
 * root, else $XDG_CACHE_HOME/tun2socks or ~/.cache/tun2socks. */
void config_cache_dir(char *buf, size_t len);

#endif
