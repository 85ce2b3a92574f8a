/* config_remote: see config_remote.h. */
#include "config/config_remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config_impl.h"
#include "tun2socks/base/hash.h"

int config_remote_key(struct loader *ld, const struct loader_kv *e, const char *what,
		      struct config_remote *rm)
{
	const char *k = e->name;
	unsigned long long v;
	char w[200];
	int r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "url")) {
		r = loader_get_str(ld, e->val, w, &rm->url);
		/* mihomo takes any text here, "" included, and fails when it
		 * downloads: real configs carry placeholders ("your
		 * subscription URL", "") for the user to replace. The provider
		 * then stays empty. */
		if (r == 0 && rm->url != NULL && strncmp(rm->url, "http://", 7) != 0 &&
		    strncmp(rm->url, "https://", 8) != 0)
			r = loader_warn_at(ld, loader_node_pos(ld, e->val),
					   "%s: not an http:// or https:// URL: every download "
					   "will fail (mihomo's too) and the provider stays empty",
					   w);
		return r;
	}
	if (!strcmp(k, "interval")) {
		r = loader_get_uint(ld, e->val, w, 0, 365ull * 86400, &v);
		rm->interval = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "size-limit")) {
		r = loader_get_uint(ld, e->val, w, 0, 1ull << 32, &v);
		rm->size_limit = v;
		return r;
	}
	if (!strcmp(k, "proxy")) {
		rm->proxy_pos = loader_node_pos(ld, e->val);
		return loader_get_str(ld, e->val, w, &rm->proxy);
	}
	return 1;
}

void config_cache_dir(char *buf, size_t len)
{
	const char *env = getenv("T2S_CACHE_DIR");

	if (env && env[0])
		snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		snprintf(buf, len, "/var/cache/tun2socks");
	else if ((env = getenv("XDG_CACHE_HOME")) && env[0])
		snprintf(buf, len, "%s/tun2socks", env);
	else
		snprintf(buf, len, "%s/.cache/tun2socks", getenv("HOME") ? getenv("HOME") : ".");
}

int config_remote_finish(struct loader *ld, struct config_remote *rm, const char *kind,
			 const char *name, struct conf_pos pos, const char *what, const char **path)
{
	struct stat st;

	if (rm->url == NULL)
		return loader_fail_at(ld, pos, "%s: type http needs \"url\"", what);
	if (*path == NULL) {
		char dir[512], file[800], safe[64];
		size_t n = 0;

		/* The name, made safe for a file name, and the URL's hash: a
		 * new URL never reads the old list. */
		for (const char *c = name; *c && n < sizeof(safe) - 1; c++)
			safe[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
						    (*c >= '0' && *c <= '9') || *c == '-' ||
						    *c == '_'
					    ? *c
					    : '_';
		safe[n] = '\0';
		config_cache_dir(dir, sizeof(dir));
		snprintf(file, sizeof(file), "%s/%s/%s-%08x.yaml", dir, kind, safe,
			 hash_fnv1a(rm->url, strlen(rm->url), HASH_FNV1A_BASIS));
		*path = loader_strndup(ld, file, strlen(file));
		if (*path == NULL)
			return loader_oom(ld);
	}
	rm->cached = stat(*path, &st) == 0 && S_ISREG(st.st_mode);
	rm->mtime = rm->cached ? (int64_t)st.st_mtime : 0;
	if (!rm->cached)
		return loader_warn_at(ld, pos,
				      "%s: not downloaded yet (%s): empty until the daemon "
				      "fetches it; `tun2socks check --fetch` downloads it now",
				      what, *path);
	return 0;
}

static int check_one(struct loader *ld, const struct config_remote *rm, const char *kind,
		     const char *name)
{
	char q[80], q2[80];

	if (rm->proxy == NULL || !strcmp(rm->proxy, "DIRECT") || !strcmp(rm->proxy, "REJECT") ||
	    config_find_name(ld->cfg->priv_, rm->proxy) || ld->names_partial)
		return 0;
	return loader_fail_at(ld, rm->proxy_pos, "%s: %s: proxy: unknown proxy or proxy group %s",
			      kind, config_quote(q, name), config_quote(q2, rm->proxy));
}

int config_remote_check_proxies(struct loader *ld)
{
	const struct config *cfg = ld->cfg;
	int r = 0;

	for (size_t i = 0; r == 0 && i < cfg->n_rule_providers; i++)
		if (cfg->rule_providers[i].type == CONFIG_RP_HTTP)
			r = loader_recover(ld, check_one(ld, &cfg->rule_providers[i].remote,
							 "rule-providers",
							 cfg->rule_providers[i].name));
	for (size_t i = 0; r == 0 && i < cfg->n_proxy_providers; i++)
		if (cfg->proxy_providers[i].http)
			r = loader_recover(ld, check_one(ld, &cfg->proxy_providers[i].remote,
							 "proxy-providers",
							 cfg->proxy_providers[i].name));
	return r;
}
