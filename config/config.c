/* config: the loaded config (see config.h): freeing it, its warnings as
 * text, rule targets followed through groups; and what the loading modules
 * share (config_impl.h): the name index and the quoting of messages.
 * Loading itself is config_load.c, above loader, config_proxies and
 * config_rules, which use this file.
 */
#include "config/config_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- messages -------------------------------------------------------------- */

const char *config_quote_n(char out[80], const char *s, size_t n)
{
	size_t o = 0, i;

	out[o++] = '"';
	for (i = 0; i < n && o < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < n) {
		/* Do not leave half a UTF-8 sequence before the ellipsis. */
		while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && (unsigned char)out[o - 1] >= 0xc0)
			o--;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *config_quote(char out[80], const char *s)
{
	return config_quote_n(out, s, strlen(s));
}

/* --- the loaded config ----------------------------------------------------- */

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->warnings);
	for (size_t i = 0; cfg->priv_ && i < cfg->priv_->n_subs; i++)
		config_free(cfg->priv_->subs[i]);
	if (cfg->priv_)
		free(cfg->priv_->subs);
	if (cfg->priv_)
		arena_free(&cfg->priv_->arena);
	free(cfg->priv_);
	free(cfg);
}

void config_warning_format(const struct config_warning *w, char *buf, size_t len)
{
	const char *file = w->pos.file ? w->pos.file : "<input>";

	if (!len)
		return;
	if (w->pos.line > 0 && w->pos.col > 0)
		snprintf(buf, len, "%s:%d:%d: warning: %s", file, w->pos.line, w->pos.col, w->msg);
	else if (w->pos.line > 0)
		snprintf(buf, len, "%s:%d: warning: %s", file, w->pos.line, w->msg);
	else
		snprintf(buf, len, "%s: warning: %s", file, w->msg);
}

/* --- names and targets ----------------------------------------------------- */

const struct config_name *config_find_name(const struct config_private *priv, const char *name)
{
	size_t lo = 0, hi = priv->n_names;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, priv->names[mid].name);

		if (c == 0)
			return &priv->names[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int config_resolve_target(const struct config *cfg, const char *name, struct config_target *out,
			  char *err, size_t errlen)
{
	const struct config_group *via = NULL;
	const struct config_name *ne;
	enum config_target_kind kind;
	size_t index, hops = 0;
	char q[80], q2[80], q3[80];

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!strcmp(name, "DIRECT")) {
		out->kind = CONFIG_TARGET_DIRECT;
		return 0;
	}
	if (!strcmp(name, "REJECT")) {
		out->kind = CONFIG_TARGET_REJECT;
		return 0;
	}
	if (!strcmp(name, "REJECT-DROP")) {
		out->kind = CONFIG_TARGET_REJECT_DROP;
		return 0;
	}
	if (!strcmp(name, "PASS")) {
		out->kind = CONFIG_TARGET_PASS;
		return 0;
	}
	ne = config_find_name(cfg->priv_, name);
	if (!ne) {
		if (err && errlen)
			snprintf(err, errlen, "unknown proxy or proxy group %s",
				 config_quote(q, name));
		return -ENOENT;
	}
	kind = ne->kind;
	index = ne->index;
	/* The loader refused cycles; the hop bound is belt and braces. */
	while (kind == CONFIG_TARGET_GROUP && hops++ <= cfg->n_groups) {
		const struct config_group *g = &cfg->groups[index];
		const struct config_member *m;

		/* Only while loading: a group kept for its name after an
		 * error (the loader reports that error itself). */
		if (g->n_members == 0) {
			if (err && errlen)
				snprintf(err, errlen, "proxy group %s has errors",
					 config_quote(q, g->name));
			return -EINVAL;
		}
		m = &g->members[g->selected];
		via = g;
		kind = m->kind;
		index = m->index;
	}
	if (kind == CONFIG_TARGET_GROUP) {
		if (err && errlen)
			snprintf(err, errlen, "proxy group %s loops", config_quote(q, name));
		return -ELOOP;
	}
	out->kind = kind;
	if (kind != CONFIG_TARGET_PROXY)
		return 0;
	out->proxy = &cfg->proxies[index];
	if (out->proxy->type == CONFIG_PROXY_DIRECT) {
		/* mihomo's type: direct is DIRECT under another name. */
		out->kind = CONFIG_TARGET_DIRECT;
		out->proxy = NULL;
		return 0;
	}
	if (out->proxy->type != CONFIG_PROXY_UNSUPPORTED)
		return 0;
	if (err && errlen && via)
		snprintf(err, errlen,
			 "proxy %s has unsupported type %s (selected through proxy group %s)",
			 config_quote(q, out->proxy->name), config_quote(q2, out->proxy->type_name),
			 config_quote(q3, via->name));
	else if (err && errlen)
		snprintf(err, errlen, "proxy %s has unsupported type %s",
			 config_quote(q, out->proxy->name),
			 config_quote(q2, out->proxy->type_name));
	return -ENOTSUP;
}

const char *config_group_type_name(enum config_group_type t)
{
	switch (t) {
	case CONFIG_GROUP_SELECT:
		return "select";
	case CONFIG_GROUP_URL_TEST:
		return "url-test";
	case CONFIG_GROUP_FALLBACK:
		return "fallback";
	case CONFIG_GROUP_LOAD_BALANCE:
		return "load-balance";
	case CONFIG_GROUP_RELAY:
		return "relay";
	}
	return "unknown";
}

const char *config_proxy_type_name(const struct config_proxy *p)
{
	switch (p->type) {
	case CONFIG_PROXY_SOCKS5:
		return "socks5";
	case CONFIG_PROXY_HTTP:
		return "http";
	case CONFIG_PROXY_REDIRECT:
		return "redirect";
	case CONFIG_PROXY_DIRECT:
		return "direct";
	case CONFIG_PROXY_DNS:
		return "dns";
	case CONFIG_PROXY_UNSUPPORTED:
		break;
	}
	return p->type_name;
}
