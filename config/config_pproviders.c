/* config_pproviders: see config_pproviders.h. */
#include "config/config_pproviders.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_impl.h"
#include "config/config_proxies.h"
#include "config/config_remote.h"
#include "config/name_filter.h"

static const char *const pp_ours[] = { "type",     "path",         "filter",  "exclude-filter",
				       "override", "health-check", "payload", CONFIG_REMOTE_KEYS };
static const char *const pp_mihomo[] = { "exclude-type", "header" };
static const struct loader_keys pp_keys = LOADER_KEYS(pp_ours, pp_mihomo);

static const char *const ov_ours[] = { "udp", "skip-cert-verify", "additional-prefix",
				       "additional-suffix", "dialer-proxy" };
static const char *const ov_mihomo[] = { "up",         "down", "interface-name", "routing-mark",
					 "ip-version", "tfo",  "mptcp",          "proxy-name" };
static const struct loader_keys ov_keys = LOADER_KEYS(ov_ours, ov_mihomo);

static const char *const hc_ours[] = { "enable",  "url",  "interval",
				       "timeout", "lazy", "expected-status" };
/* group keys real configs put here too; mihomo's decoder ignores them */
static const char *const hc_mihomo[] = { "max-failed-times", "tolerance" };
static const struct loader_keys hc_keys = LOADER_KEYS(hc_ours, hc_mihomo);

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
		} else if (!strcmp(k, "dialer-proxy")) {
			ov->dialer_pos = loader_node_pos(ld, e[i].val);
			r = loader_get_str(ld, e[i].val, w, &ov->dialer_proxy);
		} else {
			r = loader_other_key(ld, &e[i], what, &ov_keys);
		}
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

/* "health-check": mihomo's keys and defaults (lazy true; interval 300
 * once enabled). */
static int load_hc(struct loader *ld, yaml_node_t *n, const char *what,
		   struct config_provider_hc *hc)
{
	struct loader_kv *e = NULL;
	size_t count;
	char w[400];
	int r = loader_map_entries(ld, n, what, &e, &count);

	hc->lazy = true;
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;
		unsigned long long v = 0;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "enable")) {
			r = loader_get_bool(ld, e[i].val, w, &hc->enable);
		} else if (!strcmp(k, "url")) {
			r = loader_get_nonempty(ld, e[i].val, w, &hc->url);
		} else if (!strcmp(k, "interval") || !strcmp(k, "timeout")) {
			r = loader_get_uint(ld, e[i].val, w, 0, 86400000, &v);
			if (k[0] == 'i')
				hc->interval = (unsigned)v;
			else
				hc->timeout_ms = (unsigned)v;
		} else if (!strcmp(k, "lazy")) {
			r = loader_get_bool(ld, e[i].val, w, &hc->lazy);
		} else if (!strcmp(k, "expected-status")) {
			r = loader_get_statuses(ld, e[i].val, w, hc->expected_lo, hc->expected_hi,
						&hc->n_expected);
		} else {
			r = loader_other_key(ld, &e[i], what, &hc_keys);
		}
		r = loader_recover(ld, r);
	}
	free(e);
	if (r == 0 && hc->enable && hc->interval == 0)
		hc->interval = 300;
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

/* An inline provider's "payload": a proxies list read as the config's
 * own (errors at their place in this file) into *out. */
static int load_payload(struct loader *ld, yaml_node_t *payload, struct config_proxy **out,
			size_t *n)
{
	struct config *cfg = ld->cfg;
	struct config_proxy *own = cfg->proxies;
	size_t n_own = cfg->n_proxies;
	int r;

	cfg->proxies = NULL;
	cfg->n_proxies = 0;
	r = config_proxies_load(ld, payload);
	*out = cfg->proxies;
	*n = cfg->n_proxies;
	cfg->proxies = own;
	cfg->n_proxies = n_own;
	return r;
}

/* Reads the provider's copy (or its inline payload) and appends what
 * passes to cfg->proxies. */
static int fill(struct loader *ld, struct config_proxy_provider *pp, yaml_node_t *payload,
		const char *what)
{
	struct config *cfg = ld->cfg, *sub = NULL;
	struct name_filter *inc = NULL, *exc = NULL;
	struct conf_err_list errs;
	struct config_proxy *all, *src = NULL;
	struct stat st;
	char err[300], types[120] = "";
	size_t unsupported = 0, filtered = 0, k = 0, n_src = 0;
	int r;

	pp->first = cfg->n_proxies;
	if (pp->filter && name_filter_compile(pp->filter, &inc, err, sizeof(err)) < 0)
		return loader_fail_at(ld, pp->pos, "%s: filter: %s", what, err);
	if (pp->exclude_filter &&
	    name_filter_compile(pp->exclude_filter, &exc, err, sizeof(err)) < 0) {
		name_filter_free(inc);
		return loader_fail_at(ld, pp->pos, "%s: exclude-filter: %s", what, err);
	}
	if (pp->inline_) {
		r = load_payload(ld, payload, &src, &n_src);
		if (r < 0)
			goto out;
		goto have;
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
	src = sub->proxies;
	n_src = sub->n_proxies;
have:
	all = loader_alloc(ld, (cfg->n_proxies + n_src + 1) * sizeof(*all));
	if (all == NULL) {
		r = loader_oom(ld);
		goto out;
	}
	if (cfg->n_proxies)
		memcpy(all, cfg->proxies, cfg->n_proxies * sizeof(*all));
	for (size_t i = 0; i < n_src; i++) {
		struct config_proxy p = src[i];
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
		if (ov->dialer_proxy) {
			p.dialer_proxy = ov->dialer_proxy;
			p.dialer_pos = ov->dialer_pos;
		}
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
	yaml_node_t *path = NULL, *payload = NULL;
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
			r = loader_get_enum(ld, e[i].val, w, types, 3, "file, http or inline", &v);
			pp->http = v == 1;
			pp->inline_ = v == 2;
		} else if (!strcmp(k, "payload")) {
			payload = e[i].val;
		} else if (!strcmp(k, "health-check")) {
			r = load_hc(ld, e[i].val, w, &pp->hc);
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
	if (r == 0 && pp->inline_ && !payload)
		r = loader_fail_at(ld, pp->pos, "%s: type inline needs \"payload\"", what);
	else if (r == 0 && !pp->inline_ && payload)
		r = loader_warn_at(ld, loader_node_pos(ld, payload),
				   "%s: \"payload\" is only read for type inline; ignored", what);
	if (r == 0 && pp->http)
		r = config_remote_finish(ld, &pp->remote, "proxies", pp->name, pp->pos, what,
					 &pp->path);
	else if (r == 0 && !pp->path && !pp->inline_)
		r = loader_fail_at(ld, pp->pos, "%s: type file needs \"path\"", what);
	if (r == 0)
		r = fill(ld, pp, payload, what);
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
