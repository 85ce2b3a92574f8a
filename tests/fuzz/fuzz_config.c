/* libFuzzer target for the YAML config loader (config_load_buf).
 *
 * Checks, beyond sanitizer cleanliness and no leaks:
 *  - an error gives -EINVAL (or -ENOMEM), no config, and a list of errors
 *    in file order, each a one-line message at a position inside the input
 *    (line within its line count, column at most one past that line's end);
 *  - a loaded config is consistent: required strings present, every
 *    position inside the input, group members resolved to valid indexes,
 *    and every proxy and group name resolves as a target (0 or -ENOTSUP:
 *    never unknown, never a loop).
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define INPUT_MAX (64 * 1024)

struct input {
	const char *buf;
	size_t len;
	size_t breaks; /* line breaks as libyaml counts them */
};

static void check_pos(const struct input *in, const struct conf_pos *p)
{
	CHECK(p->file && !strcmp(p->file, "fuzz.yaml"));
	CHECK(p->line >= 1 && (size_t)p->line <= in->breaks + 1);
	CHECK(p->col >= 1 && (size_t)p->col <= in->len + 1);
}

static size_t count_breaks(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t c = 0;

	for (size_t i = 0; i < n; i++) {
		if (u[i] == '\r' || u[i] == '\n' ||
		    (u[i] == 0xc2 && i + 1 < n && u[i + 1] == 0x85) ||
		    (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
		     (u[i + 2] == 0xa8 || u[i + 2] == 0xa9)))
			c++;
	}
	return c;
}

static void check_str(const struct input *in, const struct config_str *s)
{
	CHECK(s->text && s->text[0]);
	check_pos(in, &s->pos);
}

static void check_config(const struct input *in, const struct config *cfg)
{
	struct config_target t;
	char msg[256];

	CHECK(!strcmp(cfg->file, "fuzz.yaml"));
	CHECK(cfg->log_level <= CONFIG_LOG_DEBUG);
	for (size_t i = 0; i < cfg->tun.n_inet4; i++) {
		CHECK(cfg->tun.inet4[i].family == AF_INET && cfg->tun.inet4[i].prefix <= 32);
		check_pos(in, &cfg->tun.inet4[i].pos);
	}
	for (size_t i = 0; i < cfg->tun.n_inet6; i++) {
		CHECK(cfg->tun.inet6[i].family == AF_INET6 && cfg->tun.inet6[i].prefix <= 128);
		check_pos(in, &cfg->tun.inet6[i].pos);
	}
	CHECK(!cfg->tun.mtu || (cfg->tun.mtu >= 576 && cfg->tun.mtu <= 65535));
	for (size_t i = 0; i < cfg->dns.n_nameservers; i++)
		check_str(in, &cfg->dns.nameservers[i]);
	for (size_t i = 0; i < cfg->dns.n_fake_ip_filter; i++)
		check_str(in, &cfg->dns.fake_ip_filter[i]);
	if (cfg->dns.has_fake_ip_range)
		CHECK(cfg->dns.fake_ip_range.family == AF_INET);
	if (cfg->dns.has_fake_ip_range6)
		CHECK(cfg->dns.fake_ip_range6.family == AF_INET6);

	for (size_t i = 0; i < cfg->n_proxies; i++) {
		const struct config_proxy *p = &cfg->proxies[i];
		int r;

		CHECK(p->name && p->name[0] && p->type_name && p->type_name[0]);
		check_pos(in, &p->pos);
		if (p->type == CONFIG_PROXY_SOCKS5 || p->type == CONFIG_PROXY_HTTP)
			CHECK(p->server && p->server[0] && p->port);
		if (p->type == CONFIG_PROXY_REDIRECT)
			CHECK(p->to_host && p->to_host[0] && p->to_port);
		if (p->password)
			CHECK(p->username);
		r = config_resolve_target(cfg, p->name, &t, msg, sizeof(msg));
		CHECK(r == (p->type == CONFIG_PROXY_UNSUPPORTED ? -ENOTSUP : 0));
		CHECK(t.proxy == p);
	}
	for (size_t i = 0; i < cfg->n_groups; i++) {
		const struct config_group *g = &cfg->groups[i];
		int r;

		CHECK(g->name && g->n_members >= 1 && g->selected < g->n_members);
		check_pos(in, &g->pos);
		for (size_t j = 0; j < g->n_members; j++) {
			const struct config_member *m = &g->members[j];

			check_pos(in, &m->pos);
			if (m->kind == CONFIG_TARGET_PROXY)
				CHECK(m->index < cfg->n_proxies &&
				      !strcmp(cfg->proxies[m->index].name, m->name));
			if (m->kind == CONFIG_TARGET_GROUP)
				CHECK(m->index < cfg->n_groups &&
				      !strcmp(cfg->groups[m->index].name, m->name));
		}
		r = config_resolve_target(cfg, g->name, &t, msg, sizeof(msg));
		CHECK(r == 0 || r == -ENOTSUP);
		CHECK(t.kind != CONFIG_TARGET_GROUP);
		CHECK((r == 0) == (msg[0] == '\0'));
	}
	for (size_t i = 0; i < cfg->n_rules; i++)
		check_str(in, &cfg->rules[i]);
	for (size_t i = 0; i < cfg->n_rule_providers; i++) {
		const struct config_rule_provider *rp = &cfg->rule_providers[i];

		CHECK(rp->name);
		check_pos(in, &rp->pos);
		if (rp->type == CONFIG_RP_FILE) {
			CHECK(rp->path && rp->path[0]);
			check_pos(in, &rp->path_pos);
		}
		for (size_t j = 0; j < rp->n_payload; j++)
			check_str(in, &rp->payload[j]);
	}
	for (size_t i = 0; i < cfg->n_warnings; i++) {
		const struct config_warning *w = &cfg->warnings[i];

		CHECK(w->msg && w->msg[0] && !strchr(w->msg, '\n'));
		if (w->pos.line)
			check_pos(in, &w->pos);
	}
	CHECK(config_resolve_target(cfg, "DIRECT", &t, NULL, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { (const char *)data, size, 0 };
	struct config *cfg = NULL;
	struct conf_err_list errs;
	int r;

	if (size > INPUT_MAX)
		return 0;
	in.breaks = count_breaks(in.buf, size);
	r = config_load_buf(in.buf, size, "fuzz.yaml", &cfg, &errs);
	if (r == 0) {
		CHECK(cfg != NULL);
		CHECK(errs.n == 0 && errs.total == 0);
		check_config(&in, cfg);
		config_free(cfg);
		return 0;
	}
	CHECK(r == -EINVAL || r == -ENOMEM);
	CHECK(cfg == NULL);
	/* Every error listed, in file order, each one line at a real place. */
	CHECK(errs.n >= 1 && errs.n <= CONF_ERR_LIST_MAX && errs.total >= errs.n);
	for (size_t i = 0; i < errs.n; i++) {
		const struct conf_err *e = &errs.v[i];

		CHECK(e->msg[0] && !strchr(e->msg, '\n'));
		CHECK(!strcmp(e->file, "fuzz.yaml"));
		if (i > 0 && e->line)
			CHECK(errs.v[i - 1].line &&
			      (errs.v[i - 1].line < e->line ||
			       (errs.v[i - 1].line == e->line && errs.v[i - 1].col <= e->col)));
		/* Line 0: an error about the whole input (the alias budget). */
		if (e->line) {
			struct conf_pos p = { "fuzz.yaml", e->line, e->col };

			check_pos(&in, &p);
		}
	}
	return 0;
}
