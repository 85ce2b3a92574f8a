/* config_impl: what config.c shares with the modules that load the config
 * (loader, config_proxies, config_rules, config_load.c), and not with the
 * users of config.h: the config's private part and the quoting of its
 * messages.
 */
#ifndef T2S_CONFIG_IMPL_H
#define T2S_CONFIG_IMPL_H

#include <stddef.h>

#include "config/config.h"
#include "tun2socks/base/arena.h"

/* One name in the proxy/group namespace, sorted by name for bsearch. */
struct config_name {
	const char *name;
	enum config_target_kind kind; /* PROXY or GROUP */
	size_t index;
	const struct conf_pos *pos;
};

struct config_private {
	struct arena arena;        /* every string and array of the config */
	struct config_name *names; /* in the arena */
	size_t n_names;
	/* proxy-providers' files, loaded as configs of their own: their
	 * proxies' strings live there (config_pproviders.c) */
	struct config **subs;
	size_t n_subs;
};

/* A proxy-provider's file: config_load() without providers of its own. */
int config_load_provider_file(const char *path, struct config **out, struct conf_err_list *errs);

/* The proxy or group called name (exact case), or NULL. */
const struct config_name *config_find_name(const struct config_private *priv, const char *name);

/* s[0, n) as a short printable quotation for a message, into out: in
 * double quotes, escaped, cut with "..." after about 60 bytes. Returns out. */
const char *config_quote_n(char out[80], const char *s, size_t n);

/* config_quote_n() of NUL-terminated s. */
const char *config_quote(char out[80], const char *s);

#endif
