/* control: the control API's backend over the running daemon. */
#include "tun2socks/app/control.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <jansson.h>

#include "config/config.h"
#include "config/config_remote.h"
#include "resolver/resolver.h"
#include "tun2socks/app/options.h"
#include "tun2socks/app/providers.h"
#include "tun2socks/base/heap.h"
#include "tun2socks/base/file_atomic.h"
#include "tun2socks/base/log.h"
#include "tun2socks/flow/flow_tcp.h"
#include "tun2socks/flow/flow_udp.h"
#include "tun2socks/route/group.h"
#include "tun2socks/route/router.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/http_client.h"

struct control {
	struct control_deps d;
	struct api *api;
	bool store_selected; /* profile.store-selected */
};

/* profile.store-selected: <cache dir>/selected.json, {"group": "member"}.
 * Written (temporary file, rename) at each switch: a small file, on a
 * user's action, not on the data path. */
static void control_selected_path(char *buf, size_t cap)
{
	char dir[400];

	config_cache_dir(dir, sizeof(dir));
	snprintf(buf, cap, "%s/selected.json", dir);
}

static void control_store_selected(const struct control *c)
{
	struct group_table *t = router_ctx_groups(c->d.router);
	char path[512], dir[400], *text;
	json_t *j = json_object();
	int r;

	for (size_t g = 0; j && t && g < group_table_count(t); g++) {
		struct group_info gi;
		struct group_member_info mi;

		if (group_table_info(t, g, &gi) == 0 && gi.type == CONFIG_GROUP_SELECT &&
		    group_table_member(t, g, gi.now, &mi) == 0)
			json_object_set_new(j, gi.name, json_string(mi.name));
	}
	config_cache_dir(dir, sizeof(dir));
	(void)mkdir(dir, 0755);
	control_selected_path(path, sizeof(path));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	r = text ? file_atomic_write(path, text, strlen(text), 0644) : -ENOMEM;
	if (r < 0)
		log_warn("store-selected: cannot write %s: %s", path, strerror(-r));
	free(text);
	json_decref(j);
}

/* At startup: the stored selections that still name a select group and
 * one of its members. */
static void control_restore_selected(struct router_ctx *router)
{
	char path[512];
	const char *group;
	json_t *j, *v;

	control_selected_path(path, sizeof(path));
	j = json_load_file(path, 0, NULL);
	if (j == NULL)
		return;
	json_object_foreach(j, group, v)
	{
		if (json_is_string(v) &&
		    router_ctx_select(router, group, json_string_value(v)) == 0)
			log_info("store-selected: group %s uses %s", group, json_string_value(v));
	}
	json_decref(j);
}

static void control_flows(void *ctx, flow_info_fn fn, void *arg)
{
	struct control *c = ctx;

	flow_tcp_foreach(c->d.tcp, fn, arg);
	flow_udp_foreach(c->d.udp, fn, arg);
}

static int control_close(void *ctx, bool udp, uint64_t id)
{
	struct control *c = ctx;

	return udp ? flow_udp_close(c->d.udp, id) : flow_tcp_close(c->d.tcp, id);
}

struct control_sum {
	uint64_t up, down;
};

static void control_add(void *arg, const struct flow_info *fi)
{
	struct control_sum *s = arg;

	s->up += fi->up;
	s->down += fi->down;
}

static void control_totals(void *ctx, uint64_t *up, uint64_t *down)
{
	struct control *c = ctx;
	const struct flow_udp_stats *us = flow_udp_stats(c->d.udp);
	struct control_sum live = { 0, 0 };

	/* Ended TCP flows are in the stats, live ones only in themselves;
	 * UDP counts every datagram as it goes. */
	flow_tcp_foreach(c->d.tcp, control_add, &live);
	*up = c->d.tcp->stats.bytes_up + live.up + us->bytes_up;
	*down = c->d.tcp->stats.bytes_down + live.down + us->bytes_down;
}

static uint64_t control_memory(void *ctx)
{
	(void)ctx;
	return heap_in_use();
}

static uint64_t control_now(void *ctx)
{
	struct control *c = ctx;

	return uv_now(c->d.loop);
}

static const struct config *control_config(void *ctx)
{
	struct control *c = ctx;

	return *c->d.conf;
}

static uint64_t control_rule_hits(void *ctx, size_t i)
{
	struct control *c = ctx;

	return router_gen_rule_hits(router_ctx_current(c->d.router), i);
}

static enum router_mode control_mode(void *ctx)
{
	struct control *c = ctx;

	return router_ctx_mode(c->d.router);
}

static void control_set_mode(void *ctx, enum router_mode m)
{
	struct control *c = ctx;
	static const char *const names[] = { "rule", "global", "direct" };

	router_ctx_set_mode(c->d.router, m);
	log_info("api: mode %s for new connections", names[m]);
}

static void control_set_level(void *ctx, enum log_level l)
{
	struct control *c = ctx;

	c->d.opts->log_level = l;
	log_set_level(l);
}

static enum log_level control_level(void *ctx)
{
	struct control *c = ctx;

	return c->d.opts->log_level;
}

static int control_reload(void *ctx, const char *path, struct api_wait *w)
{
	struct control *c = ctx;

	return c->d.reload(c->d.daemon, path, w);
}

void control_reload_done(struct api_wait *w, int status, const char *msg)
{
	api_done(w, status < 0 ? 400 : 204,
		 status < 0 ? api_message(msg && *msg ? msg : "reload failed") : NULL);
}

/* /dns/query: the resolver's lookup (A and AAAA together). */
struct control_lookup {
	struct api_wait *w;
	int qtype;
	char name[256];
};

static void control_on_lookup(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	struct control_lookup *l = arg;

	api_done(l->w, 200, api_dns_answer(l->name, l->qtype, status, addrs, n));
	free(l);
}

static int control_lookup(void *ctx, const char *name, int qtype, struct api_wait *w)
{
	struct control *c = ctx;
	struct control_lookup *l;
	int r;

	if (c->d.resolver == NULL)
		return -ENOTSUP;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->w = w;
	l->qtype = qtype;
	snprintf(l->name, sizeof(l->name), "%s", name);
	r = resolver_lookup(c->d.resolver, l->name, control_on_lookup, l);
	if (r < 0)
		free(l);
	return r;
}

/* The API's settings from the options and the config; false: none. */
static bool control_config_of(const struct options *opts, const struct config *conf,
			      struct api_config *ac, const char **origins, size_t max)
{
	memset(ac, 0, sizeof(*ac));
	ac->addr = opts->controller[0] ? opts->controller : conf ? conf->external_controller : NULL;
	if (ac->addr != NULL && ac->addr[0] == '\0')
		ac->addr = NULL;
	ac->unix_path = conf ? conf->external_controller_unix : NULL;
	if (ac->addr == NULL && ac->unix_path == NULL)
		return false;
	ac->secret = opts->secret[0] ? opts->secret : conf ? conf->secret : NULL;
	if (conf != NULL) {
		for (size_t i = 0; i < conf->n_cors_origins && i < max; i++)
			origins[ac->n_cors_origins++] = conf->cors_origins[i].text;
		ac->cors_origins = origins;
		ac->cors_private_network = conf->cors_private_network;
		ac->ui_dir = conf->external_ui;
	}
	return true;
}

static struct group_table *control_groups(void *ctx)
{
	struct control *c = ctx;

	return router_ctx_groups(c->d.router);
}

static int control_select(void *ctx, const char *group, const char *member)
{
	struct control *c = ctx;
	int r = router_ctx_select(c->d.router, group, member);

	if (r == 0) {
		log_info("api: group %s now uses %s for new connections", group, member);
		if (c->store_selected)
			control_store_selected(c);
	}
	return r;
}

/* Delay tests: one HEAD of the URL through the proxy (or each member of
 * the group), timed by the HTTP client. The generation is held until the
 * last answer, so its names and group table stay valid. */
struct control_delay;

struct control_probe {
	struct control_delay *dl;
	const char *member; /* the generation's */
	size_t gi, mi;
	int status; /* 0: delay_ms is good */
	unsigned delay_ms;
};

struct control_delay {
	struct control *c;
	struct api_wait *w;
	struct router_gen *gen;
	bool group;
	long gx; /* the group's index, or -1 */
	size_t n, pending;
	struct control_probe probes[];
};

static void control_delay_finish(struct control_delay *dl)
{
	char *body = NULL;
	int status = 200;

	if (!dl->group) {
		const struct control_probe *p = &dl->probes[0];

		if (p->status == 0) {
			char b[64];

			snprintf(b, sizeof(b), "{\"delay\":%u}", p->delay_ms);
			body = strdup(b);
		} else {
			status = p->status == -ETIMEDOUT ? 504 : 503;
			body = api_message(p->status == -ETIMEDOUT
						   ? "Timeout"
						   : "An error occurred in the delay test");
		}
	} else {
		/* mihomo: {member: delay} for those that answered. */
		size_t cap = 2 + dl->n * 300, o = 0;

		body = malloc(cap);
		if (body != NULL) {
			o += (size_t)snprintf(body + o, cap - o, "{");
			for (size_t i = 0; i < dl->n; i++) {
				const struct control_probe *p = &dl->probes[i];
				char *name =
					api_message(p->member); /* escaped: {"message":"..."} */

				if (p->status != 0 || name == NULL) {
					free(name);
					continue;
				}
				name[strlen(name) - 1] = '\0';
				o += (size_t)snprintf(body + o, cap - o, "%s%s:%u",
						      o > 1 ? "," : "", name + 11, p->delay_ms);
				free(name);
			}
			snprintf(body + o, cap - o, "}");
		}
	}
	api_done(dl->w, status, body);
	router_gen_unref(dl->gen);
	free(dl);
}

static void control_on_probe(void *arg, int status, const struct http_response *resp)
{
	struct control_probe *p = arg;
	struct control_delay *dl = p->dl;

	p->status = status;
	if (status == 0)
		p->delay_ms = (unsigned)((resp->total_us + 999) / 1000);
	if (dl->gx >= 0) {
		struct group_table *t = router_gen_groups(dl->gen);

		if (t != NULL)
			group_table_report(t, p->gi, p->mi, status == 0, p->delay_ms,
					   status == 0 ? ""
					   : resp      ? resp->error
						       : strerror(-status),
					   uv_now(dl->c->d.loop));
	}
	if (--dl->pending == 0)
		control_delay_finish(dl);
}

static int control_probe_start(struct control_delay *dl, struct control_probe *p, const char *url,
			       unsigned timeout_ms)
{
	struct router_check_via via;
	struct http_request_opts o = { 0 };
	int r = router_gen_name_via(dl->gen, p->member, &via);

	if (r < 0)
		return r;
	if (via.kind == ROUTER_VIA_REJECT || via.kind == ROUTER_VIA_NONE)
		return -ENETUNREACH;
	o.url = url;
	o.head_only = true;
	o.timeout_ms = timeout_ms;
	o.max_redirects = -1;
	o.proxy = via.kind == ROUTER_VIA_PROXY ? via.proxy : NULL;
	o.proxy_user = via.user;
	o.proxy_pass = via.pass;
	o.proxy_ca_file = via.ca_file;
	o.proxy_insecure = via.insecure;
	return http_client_request(*dl->c->d.http, &o, control_on_probe, p, NULL);
}

static int control_delay(void *ctx, const char *name, bool group, const char *url,
			 unsigned timeout_ms, struct api_wait *w)
{
	struct control *c = ctx;
	struct router_gen *gen = (struct router_gen *)router_ctx_current(c->d.router);
	struct group_table *t = router_gen_groups(gen);
	struct control_delay *dl;
	struct group_info gi = { 0 };
	int gx = t ? group_table_find(t, name) : -ENOENT;
	size_t n = 1;
	int r = 0;

	if (*c->d.http == NULL)
		return -ENOTSUP;
	if (group && (gx < 0 || group_table_info(t, (size_t)gx, &gi) < 0))
		return -ENOENT;
	if (group)
		n = gi.n_members;
	dl = calloc(1, sizeof(*dl) + n * sizeof(dl->probes[0]));
	if (dl == NULL)
		return -ENOMEM;
	dl->c = c;
	dl->w = w;
	dl->gen = router_gen_ref(gen);
	dl->group = group;
	dl->gx = group ? gx : -1;
	dl->n = n;
	for (size_t i = 0; i < n; i++) {
		struct control_probe *p = &dl->probes[i];
		struct group_member_info mi;

		p->dl = dl;
		p->gi = (size_t)gx;
		p->mi = i;
		p->member = name;
		if (group && group_table_member(t, (size_t)gx, i, &mi) == 0)
			p->member = mi.name;
	}
	/* Count first: a request's callback never runs inside
	 * http_client_request, but a failed start ends its probe here. */
	dl->pending = n + 1;
	for (size_t i = 0; i < n; i++) {
		r = control_probe_start(dl, &dl->probes[i], url, timeout_ms);
		if (r < 0) {
			if (!group && r == -ENOENT) {
				router_gen_unref(dl->gen);
				free(dl);
				return -ENOENT;
			}
			dl->probes[i].status = r;
			dl->pending--;
		}
	}
	if (--dl->pending == 0)
		control_delay_finish(dl);
	return 0;
}

/* PUT /providers/.../{name}: every http provider is fetched (the module
 * has no per-name download); the name must be one the config has. */
static void control_on_fetched(void *arg, size_t failed)
{
	api_done(arg, failed ? 503 : 204,
		 failed ? api_message("a provider could not be downloaded") : NULL);
}

static int control_refresh(void *ctx, const char *name, struct api_wait *w)
{
	struct control *c = ctx;
	const struct config *cfg = *c->d.conf;
	bool known = false;

	for (size_t i = 0; cfg && i < cfg->n_rule_providers; i++)
		known |= !strcmp(cfg->rule_providers[i].name, name);
	for (size_t i = 0; cfg && i < cfg->n_proxy_providers; i++)
		known |= !strcmp(cfg->proxy_providers[i].name, name);
	if (!known || *c->d.providers == NULL)
		return -ENOENT;
	return providers_fetch_now(*c->d.providers, control_on_fetched, w);
}

int control_check(const struct options *opts, const struct config *conf)
{
	struct api_config ac;
	const char *origins[64];
	char err[256] = "";
	int r;

	if (!control_config_of(opts, conf, &ac, origins, 64))
		return 0;
	r = api_check(&ac, err, sizeof(err));
	if (r < 0)
		log_error("%s", err);
	return r;
}

int control_start(const struct control_deps *deps, const struct options *opts,
		  const struct config *conf, struct control **out)
{
	struct api_config ac;
	const char *origins[64];
	struct control *c;
	char err[256] = "";
	int r;

	*out = NULL;
	if (conf != NULL && conf->store_selected)
		control_restore_selected(deps->router);
	if (!control_config_of(opts, conf, &ac, origins, 64))
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->d = *deps;
	c->store_selected = conf != NULL && conf->store_selected;
	{
		const struct api_backend be = {
			.ctx = c,
			.flows = control_flows,
			.close = control_close,
			.totals = control_totals,
			.memory = control_memory,
			.now_ms = control_now,
			.config = control_config,
			.rule_hits = control_rule_hits,
			.mode = control_mode,
			.set_mode = control_set_mode,
			.set_log_level = control_set_level,
			.log_level = control_level,
			.reload = control_reload,
			.lookup = control_lookup,
			.groups = control_groups,
			.select = control_select,
			.delay = control_delay,
			.refresh = control_refresh,
		};

		r = api_start(deps->loop, &ac, &be, &c->api, err, sizeof(err));
	}
	if (r < 0) {
		log_error("%s", err[0] ? err : strerror(-r));
		free(c);
		return r;
	}
	log_info("api: listening on %s%s%s%s", ac.addr ? api_listen_addr(c->api) : "",
		 ac.addr && ac.unix_path ? " and " : "", ac.unix_path ? ac.unix_path : "",
		 ac.secret && ac.secret[0] ? " (secret required)" : "");
	*out = c;
	return 0;
}

void control_stop(struct control *c)
{
	if (c == NULL)
		return;
	api_stop(c->api);
	free(c);
}
