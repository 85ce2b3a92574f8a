/* config_rules: see config_rules.h. */
#include "config/config_rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_impl.h"
#include "config/config_remote.h"
#include "config/rules_parse.h"

/* Keys of a rule provider: ours, and mihomo's that we ignore (loader.h). */
static const char *const provider_ours[] = { "type", "behavior", "format",
					     "path", "payload",  CONFIG_REMOTE_KEYS };
static const char *const provider_mihomo[] = { "header" };

static const struct loader_keys provider_keys = LOADER_KEYS(provider_ours, provider_mihomo);

/* --- rules ----------------------------------------------------------------- */

static bool has_provider(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_rule_providers; i++)
		if (!strcmp(cfg->rule_providers[i].name, name))
			return true;
	return false;
}

/* Every RULE-SET in s, its AND/OR/NOT operands included, names a rule
 * provider. */
static int check_rule_sets(struct loader *ld, const struct rule_spec *s)
{
	char q[80];
	int r = 0;

	if (s->type == RULE_RULE_SET && !ld->providers_partial && !has_provider(ld->cfg, s->str))
		r = loader_fail_at(ld, s->payload_pos, "unknown rule-set %s",
				   config_quote(q, s->str));
	for (size_t i = 0; r == 0 && i < s->n_sub; i++)
		r = check_rule_sets(ld, &s->sub[i]);
	return r;
}

static bool has_sub_rules(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_sub_rules; i++)
		if (!strcmp(cfg->sub_rules[i].name, name))
			return true;
	return false;
}

/* A rule line as the router will read it (syntax, rule-set names, target),
 * so that a bad line is reported with the file's other errors and the load
 * goes on; the router parses the lines again to build the rule engine. */
static int check_rule(struct loader *ld, const struct config_str *line)
{
	struct config_target t;
	struct rule_spec spec;
	struct conf_err e;
	char msg[300], q[80];
	int r = rules_parse_line(line->text, strlen(line->text), &line->pos, &spec, &e);

	if (r == -ENOMEM)
		return loader_oom(ld);
	if (r < 0)
		return loader_add_err(ld, &e);
	r = check_rule_sets(ld, &spec);
	if (r == 0 && spec.type == RULE_SUB_RULE) {
		/* Its "target" names a sub-rules list. */
		if (!has_sub_rules(ld->cfg, spec.target))
			r = loader_fail_at(ld, spec.target_pos, "unknown sub-rules %s",
					   config_quote(q, spec.target));
	} else if (r == 0) {
		const struct config_name *ne;

		r = config_resolve_target(ld->cfg, spec.target, &t, msg, sizeof(msg));
		/* Not said again: a group that failed to load (-EINVAL) or a
		 * cycle (-ELOOP) was reported where it is written, and a name
		 * may be missing because its entry failed to load. */
		if (r == -EINVAL || r == -ELOOP || (r == -ENOENT && ld->names_partial))
			r = 0;
		/* A group picks among the members we can use at run time
		 * (unusable ones are left out, none left routes DIRECT). */
		else if (r == -ENOTSUP && (ne = config_find_name(ld->cfg->priv_, spec.target)) &&
			 ne->kind == CONFIG_TARGET_GROUP)
			r = 0;
		else if (r < 0)
			r = loader_fail_at(ld, spec.target_pos, "%s", msg);
	}
	rule_spec_free(&spec);
	return r;
}

static int load_rule_line(struct loader *ld, yaml_node_t *it, struct config_str *out)
{
	int r;

	if (it->type != YAML_SCALAR_NODE || loader_is_null(it))
		return loader_fail_at(
			ld, loader_node_pos(ld, it),
			"rules: expected a rule line like DOMAIN-SUFFIX,example.com,DIRECT, got %s",
			loader_is_null(it) ? "nothing" : loader_kind_name(it));
	r = loader_get_nonempty(ld, it, "rules", &out->text);
	if (r < 0)
		return r;
	out->pos = loader_node_pos(ld, it);
	return check_rule(ld, out);
}

int config_rules_load(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items;
	size_t count;
	int r = loader_get_list(ld, n, "rules", false, &items, &count);

	if (r < 0 || count == 0)
		return r;
	cfg->rules = loader_alloc(ld, count * sizeof(*cfg->rules));
	if (!cfg->rules)
		return loader_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = load_rule_line(ld, loader_node(ld, items[i]), &cfg->rules[cfg->n_rules]);
		/* A bad line is not kept: the config is not used anyway. */
		if (r == 0)
			cfg->n_rules++;
		r = loader_recover(ld, r);
	}
	return r;
}

/* --- sub-rules ------------------------------------------------------------ */

int config_rules_load_sub(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "sub-rules", &e, &count);

	if (r < 0 || count == 0)
		goto out;
	cfg->sub_rules = loader_alloc(ld, count * sizeof(*cfg->sub_rules));
	if (!cfg->sub_rules) {
		r = loader_oom(ld);
		goto out;
	}
	/* Names first: lines may hand flows to a list written after them. */
	for (size_t i = 0; i < count; i++) {
		struct config_sub_rules *sr = &cfg->sub_rules[i];

		sr->name = loader_strndup(ld, e[i].name, strlen(e[i].name));
		if (!sr->name) {
			r = loader_oom(ld);
			goto out;
		}
		sr->pos = loader_node_pos(ld, e[i].key);
		cfg->n_sub_rules++;
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		struct config_sub_rules *sr = &cfg->sub_rules[i];
		yaml_node_item_t *items;
		size_t n_items;
		char w[200], q[80];

		snprintf(w, sizeof(w), "sub-rules: %s", config_quote(q, sr->name));
		r = loader_get_list(ld, e[i].val, w, false, &items, &n_items);
		if (r < 0 || n_items == 0) {
			r = loader_recover(ld, r);
			continue;
		}
		sr->rules = loader_alloc(ld, n_items * sizeof(*sr->rules));
		if (!sr->rules) {
			r = loader_oom(ld);
			goto out;
		}
		for (size_t k = 0; r == 0 && k < n_items; k++) {
			r = load_rule_line(ld, loader_node(ld, items[k]), &sr->rules[sr->n_rules]);
			if (r == 0)
				sr->n_rules++;
			r = loader_recover(ld, r);
		}
	}
out:
	free(e);
	return r;
}

/* --- dns.fake-ip-filter ------------------------------------------------------- */

int config_rules_fake_filter(struct loader *ld, struct config_dns *d)
{
	size_t k = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < d->n_fake_ip_filter; i++) {
		struct config_str *e = &d->fake_ip_filter[i];
		const char *t = e->text, *why;
		char name[RULES_DOMAIN_MAX + 1], q[80];
		size_t skip = 0, n;

		if (!strncasecmp(t, "rule-set:", 9) || !strncasecmp(t, "geosite:", 8)) {
			d->fake_ip_filter[k++] = *e;
			continue;
		}
		if (t[0] == '+' && t[1] == '.')
			skip = 2;
		else if (t[0] == '.')
			skip = 1;
		if (rules_domain_norm(t + skip, strlen(t + skip), true, name, &n, &why) < 0) {
			r = loader_warn_at(ld, e->pos,
					   "dns.fake-ip-filter: %s can match no name (%s); ignored",
					   config_quote(q, t), why);
			continue;
		}
		if (strcmp(name, t + skip) != 0) {
			char *norm = loader_alloc(ld, skip + n + 1);

			if (!norm)
				return loader_oom(ld);
			memcpy(norm, t, skip);
			memcpy(norm + skip, name, n + 1);
			e->text = norm;
		}
		d->fake_ip_filter[k++] = *e;
	}
	d->n_fake_ip_filter = k;
	return r;
}

/* --- rule providers -------------------------------------------------------- */

/* What a rule provider's keys leave for the checks across them. */
struct provider_keys {
	yaml_node_t *path, *payload, *format;
	bool has_type, has_behavior;
};

static int provider_key(struct loader *ld, struct config_rule_provider *rp,
			const struct loader_kv *e, const char *what, struct provider_keys *pk)
{
	static const char *const types[] = { "file", "inline", "http" };
	static const char *const behaviors[] = { "domain", "ipcidr", "classical" };
	static const char *const formats[] = { "yaml", "text", "mrs" };
	const char *k = e->name;
	char w[200];
	int v = 0, r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "type")) {
		pk->has_type = true;
		r = loader_get_enum(ld, e->val, w, types, 3, "file, http or inline", &v);
		rp->type = v == 0 ? CONFIG_RP_FILE : v == 1 ? CONFIG_RP_INLINE : CONFIG_RP_HTTP;
		return r;
	}
	if (!strcmp(k, "behavior")) {
		pk->has_behavior = true;
		r = loader_get_enum(ld, e->val, w, behaviors, 3, "domain, ipcidr or classical", &v);
		rp->behavior = (enum config_rp_behavior)v;
		return r;
	}
	if (!strcmp(k, "format")) {
		if (loader_is_null(e->val))
			return 0;
		r = loader_get_enum(ld, e->val, w, formats, 3, "yaml, text or mrs", &v);
		rp->format = (enum config_rp_format)v;
		pk->format = e->val;
		return r;
	}
	if (!strcmp(k, "path")) {
		pk->path = e->val;
		return 0;
	}
	if (!strcmp(k, "payload")) {
		pk->payload = e->val;
		return 0;
	}
	r = config_remote_key(ld, e, what, &rp->remote);
	if (r <= 0)
		return r;
	return loader_other_key(ld, e, what, &provider_keys);
}

/* path (type file) or payload (type inline). */
static int provider_source(struct loader *ld, struct config_rule_provider *rp,
			   const struct provider_keys *pk, const char *what)
{
	const char *path;
	char w[200];
	int r;

	if (rp->type == CONFIG_RP_HTTP) {
		r = 0;
		rp->path_pos = rp->pos;
		if (pk->path) {
			snprintf(w, sizeof(w), "%s: path", what);
			r = loader_get_nonempty(ld, pk->path, w, &path);
			if (r == 0)
				r = loader_resolve_path(ld, path, &rp->path);
			rp->path_pos = loader_node_pos(ld, pk->path);
		}
		if (r == 0)
			r = config_remote_finish(ld, &rp->remote, "rules", rp->name, rp->pos, what,
						 &rp->path);
		return r;
	}
	if (rp->type == CONFIG_RP_FILE) {
		if (!pk->path)
			return loader_fail_at(ld, rp->pos, "%s: type file needs \"path\"", what);
		snprintf(w, sizeof(w), "%s: path", what);
		r = loader_get_nonempty(ld, pk->path, w, &path);
		if (r == 0)
			r = loader_resolve_path(ld, path, &rp->path);
		rp->path_pos = loader_node_pos(ld, pk->path);
		if (r == 0 && pk->payload)
			r = loader_warn_at(ld, loader_node_pos(ld, pk->payload),
					   "%s: \"payload\" is only read for type inline; ignored",
					   what);
		return r;
	}
	if (!pk->payload)
		return loader_fail_at(ld, rp->pos, "%s: type inline needs \"payload\"", what);
	snprintf(w, sizeof(w), "%s: payload", what);
	r = loader_get_str_list(ld, pk->payload, w, &rp->payload, &rp->n_payload);
	if (r == 0 && pk->path)
		r = loader_warn_at(ld, loader_node_pos(ld, pk->path),
				   "%s: \"path\" is not read for type inline; ignored", what);
	return r;
}

static int load_rule_provider(struct loader *ld, const struct loader_kv *pe,
			      struct config_rule_provider *rp)
{
	struct provider_keys pk = { 0 };
	struct loader_kv *e = NULL;
	char what[160], q[80];
	size_t count, before = ld->n_errors;
	int r;

	rp->name = pe->name;
	rp->pos = loader_node_pos(ld, pe->key);
	snprintf(what, sizeof(what), "rule-providers: %s", config_quote(q, rp->name));
	if (pe->val->type != YAML_MAPPING_NODE)
		return loader_fail_at(
			ld, loader_node_pos(ld, pe->val), "%s: expected a mapping, got %s", what,
			loader_is_null(pe->val) ? "nothing" : loader_kind_name(pe->val));
	r = loader_map_entries(ld, pe->val, what, &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, provider_key(ld, rp, &e[i], what, &pk));
	r = loader_errors_since(ld, before, r);
	if (r == 0 && (!pk.has_type || !pk.has_behavior))
		r = loader_fail_at(ld, rp->pos, "%s: missing \"%s\"", what,
				   pk.has_type ? "behavior" : "type");
	/* mihomo writes mrs only for domain and ipcidr sets. */
	if (r == 0 && rp->format == CONFIG_RP_MRS &&
	    (rp->behavior == CONFIG_RP_CLASSICAL || rp->type == CONFIG_RP_INLINE))
		r = loader_fail_at(
			ld, loader_node_pos(ld, pk.format),
			"%s: format mrs holds domain or ipcidr sets from a file, not %s", what,
			rp->type == CONFIG_RP_INLINE ? "inline payloads" : "classical ones");
	if (r == 0)
		r = provider_source(ld, rp, &pk, what);
	free(e);
	return r;
}

int config_rules_load_providers(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "rule-providers", &e, &count);

	if (r < 0)
		ld->providers_partial = true;
	if (r < 0 || count == 0)
		goto out;
	cfg->rule_providers = loader_alloc(ld, count * sizeof(*cfg->rule_providers));
	if (!cfg->rule_providers) {
		r = loader_oom(ld);
		goto out;
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		/* The name outlives e: copy it. */
		struct loader_kv pe = e[i];

		pe.name = loader_strndup(ld, e[i].name, strlen(e[i].name));
		if (!pe.name) {
			r = loader_oom(ld);
			goto out;
		}
		/* Kept even when broken: RULE-SET lines name it. */
		r = loader_recover(ld, load_rule_provider(ld, &pe, &cfg->rule_providers[i]));
		cfg->n_rule_providers++;
	}
out:
	free(e);
	return r;
}
