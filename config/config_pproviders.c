/* config_pproviders: see config_pproviders.h. */
#include "config/config_pproviders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_impl.h"
#include "config/config_remote.h"
#include "config/name_filter.h"

static const char *const pp_ours[] = { "type",           "path",     "filter",
				       "exclude-filter", "override", CONFIG_REMOTE_KEYS };
static const char *const pp_mihomo[] = { "health-check", "exclude-type", "header", "payload" };
static const struct loader_keys pp_keys = LOADER_KEYS(pp_ours, pp_mihomo);

static const char *const ov_ours[] = { "udp", "skip-cert-verify", "additional-prefix",
				       "additional-suffix" };
static const char *const ov_mihomo[] = {
	"up",         "down", "dialer-proxy", "interface-name", "routing-mark",
	"ip-version", "tfo",  "mptcp",        "proxy-name"
};
static const struct loader_keys ov_keys = LOADER_KEYS(ov_ours, ov_mihomo);

const struct config_proxy_provider *config_pprovider_find(const struct config *cfg,
							  const char *name)
{
	for (size_t i = 0; i < cfg->n_proxy_providers; i++)
		if (!strcmp(cfg->proxy_providers[i].name, name))
			return &cfg->proxy_providers[i];
	return NULL;
}

static int load_override(struct loader *ld, yaml_node_t *n, const char *what,
			 struct config_override *ov)
{
	struct loader_kv *e = NULL;
	size_t count;
	char w[400];
	int r = loader_map_entries(ld, n, what, &e, &count);

	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "udp")) {
			ov->has_udp = true;
			r = loader_get_bool(ld, e[i].val, w, &ov->udp);
		} else if (!strcmp(k, "skip-cert-verify")) {
			ov->has_skip_cert_verify = true;
			r = loader_get_bool(ld, e[i].val, w, &ov->skip_cert_verify);
		} else if (!strcmp(k, "additional-prefix")) {
			r = loader_get_str(ld, e[i].val, w, &ov->additional_prefix);
		} else if (!strcmp(k, "additional-suffix")) {
			r = loader_get_str(ld, e[i].val, w, &ov->additional_suffix);
		} else {
			r = loader_other_key(ld, &e[i], what, &ov_keys);
		}
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

/* Keeps sub alive as long as the config (its proxies' strings are its). */
static int keep_sub(struct loader *ld, struct config *sub)
{
	struct config_private *priv = ld->cfg->priv_;
	struct config **v = realloc(priv->subs, (priv->n_subs + 1) * sizeof(*v));

	if (v == NULL) {
		config_free(sub);
		return loader_oom(ld);
	}
	priv->subs = v;
	priv->subs[priv->n_subs++] = sub;
	return 0;
}

/* Reads the provider's copy and appends what passes to cfg->proxies. */
static int fill(struct loader *ld, struct config_proxy_provider *pp, const char *what)
{
	struct config *cfg = ld->cfg, *sub = NULL;
	struct name_filter *inc = NULL, *exc = NULL;
	struct conf_err_list errs;
	struct config_proxy *all;
	struct stat st;
	char err[300], types[120] = "";
	size_t unsupported = 0, filtered = 0, k = 0;
	int r;

	pp->first = cfg->n_proxies;
	if (pp->filter && name_filter_compile(pp->filter, &inc, err, sizeof(err)) < 0)
		return loader_fail_at(ld, pp->pos, "%s: filter: %s", what, err);
	if (pp->exclude_filter &&
	    name_filter_compile(pp->exclude_filter, &exc, err, sizeof(err)) < 0) {
		name_filter_free(inc);
		return loader_fail_at(ld, pp->pos, "%s: exclude-filter: %s", what, err);
	}
	if (pp->http && !pp->remote.cached) {
		r = 0; /* config_remote_finish() said so */
		goto out;
	}
	/* A regular file only: never wait on a FIFO or a device. */
	if (stat(pp->path, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = loader_warn_at(ld, pp->pos, "%s: %s: %s; the provider is empty", what, pp->path,
				   stat(pp->path, &st) < 0 ? strerror(errno)
							   : "not a regular file");
		goto out;
	}
	r = config_load_provider_file(pp->path, &sub, &errs);
	if (r < 0) {
		if (errs.n > 0)
			conf_err_format(&errs.v[0], err, sizeof(err));
		else
			snprintf(err, sizeof(err), "%s: %s", pp->path, strerror(-r));
		r = loader_warn_at(ld, pp->pos, "%s: %s; the provider is empty", what, err);
		goto out;
	}
	r = keep_sub(ld, sub);
	if (r < 0)
		goto out;
	all = loader_alloc(ld, (cfg->n_proxies + sub->n_proxies + 1) * sizeof(*all));
	if (all == NULL) {
		r = loader_oom(ld);
		goto out;
	}
	if (cfg->n_proxies)
		memcpy(all, cfg->proxies, cfg->n_proxies * sizeof(*all));
	for (size_t i = 0; i < sub->n_proxies; i++) {
		struct config_proxy p = sub->proxies[i];
		const struct config_override *ov = &pp->override;

		if (p.type == CONFIG_PROXY_UNSUPPORTED) {
			if (unsupported++ < 3 && !strstr(types, p.type_name))
				snprintf(types + strlen(types), sizeof(types) - strlen(types),
					 "%s%s", types[0] ? ", " : "", p.type_name);
			continue;
		}
		if ((inc && !name_filter_match(inc, p.name)) ||
		    (exc && name_filter_match(exc, p.name))) {
			filtered++;
			continue;
		}
		if (ov->has_udp && p.type == CONFIG_PROXY_SOCKS5)
			p.udp = ov->udp;
		if (ov->has_skip_cert_verify)
			p.skip_cert_verify = ov->skip_cert_verify;
		if (ov->additional_prefix || ov->additional_suffix) {
			const char *a = ov->additional_prefix ? ov->additional_prefix : "";
			const char *b = ov->additional_suffix ? ov->additional_suffix : "";
			size_t n = strlen(a) + strlen(p.name) + strlen(b);
			char *name = loader_alloc(ld, n + 1);

			if (name == NULL) {
				r = loader_oom(ld);
				goto out;
			}
			snprintf(name, n + 1, "%s%s%s", a, p.name, b);
			p.name = name;
		}
		all[cfg->n_proxies + k++] = p;
	}
	cfg->proxies = all;
	cfg->n_proxies += k;
	pp->n = k;
	pp->n_skipped = unsupported + filtered;
	if (unsupported)
		r = loader_warn_at(ld, pp->pos,
				   "%s: %zu prox%s of types tun2socks does not speak left out (%s)",
				   what, unsupported, unsupported == 1 ? "y" : "ies", types);
	if (r == 0 && k == 0)
		r = loader_warn_at(ld, pp->pos, "%s: no proxy tun2socks can use (%zu filtered out)",
				   what, filtered);
out:
	name_filter_free(inc);
	name_filter_free(exc);
	return r;
}

static int load_one(struct loader *ld, const struct loader_kv *pe, struct config_proxy_provider *pp)
{
	static const char *const types[] = { "file", "http", "inline" };
	struct loader_kv *e = NULL;
	yaml_node_t *path = NULL;
	const char *s;
	char what[160], w[200], q[80];
	size_t count, before = ld->n_errors;
	bool has_type = false;
	int v = 0, r;

	pp->name = pe->name;
	pp->pos = loader_node_pos(ld, pe->key);
	snprintf(what, sizeof(what), "proxy-providers: %s", config_quote(q, pp->name));
	if (pe->val->type != YAML_MAPPING_NODE)
		return loader_fail_at(ld, loader_node_pos(ld, pe->val), "%s: expected a mapping",
				      what);
	r = loader_map_entries(ld, pe->val, what, &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "type")) {
			has_type = true;
			r = loader_get_enum(ld, e[i].val, w, types, 3, "file or http", &v);
			if (r == 0 && v == 2)
				r = loader_fail_at(ld, loader_node_pos(ld, e[i].val),
						   "%s: type inline is not supported; use a file",
						   what);
			pp->http = v == 1;
		} else if (!strcmp(k, "path")) {
			path = e[i].val;
		} else if (!strcmp(k, "filter")) {
			r = loader_get_str(ld, e[i].val, w, &pp->filter);
		} else if (!strcmp(k, "exclude-filter")) {
			r = loader_get_str(ld, e[i].val, w, &pp->exclude_filter);
		} else if (!strcmp(k, "override")) {
			r = load_override(ld, e[i].val, w, &pp->override);
		} else if ((r = config_remote_key(ld, &e[i], what, &pp->remote)) > 0) {
			r = loader_other_key(ld, &e[i], what, &pp_keys);
		}
		r = loader_recover(ld, r);
	}
	free(e);
	r = loader_errors_since(ld, before, r);
	if (r == 0 && !has_type)
		r = loader_fail_at(ld, pp->pos, "%s: missing \"type\"", what);
	if (r == 0 && path) {
		r = loader_get_nonempty(ld, path, what, &s);
		if (r == 0)
			r = loader_resolve_path(ld, s, &pp->path);
	}
	if (r == 0 && pp->http)
		r = config_remote_finish(ld, &pp->remote, "proxies", pp->name, pp->pos, what,
					 &pp->path);
	else if (r == 0 && !pp->path)
		r = loader_fail_at(ld, pp->pos, "%s: type file needs \"path\"", what);
	if (r == 0)
		r = fill(ld, pp, what);
	return r;
}

int config_pproviders_load(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct loader_kv *e = NULL;
	size_t count = 0;
	int r = loader_map_entries(ld, n, "proxy-providers", &e, &count);

	if (r < 0 || count == 0)
		goto out;
	cfg->proxy_providers = loader_alloc(ld, count * sizeof(*cfg->proxy_providers));
	if (!cfg->proxy_providers) {
		r = loader_oom(ld);
		goto out;
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		struct loader_kv pe = e[i];
		struct config_proxy_provider *pp = &cfg->proxy_providers[cfg->n_proxy_providers];

		pe.name = loader_strndup(ld, e[i].name, strlen(e[i].name));
		if (!pe.name) {
			r = loader_oom(ld);
			goto out;
		}
		/* Kept even when broken: groups name it in "use". */
		r = loader_recover(ld, load_one(ld, &pe, pp));
		cfg->n_proxy_providers++;
	}
out:
	free(e);
	return r;
}
