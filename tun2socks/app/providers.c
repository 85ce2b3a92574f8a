/* providers: see providers.h and docs/design.md §19.
 *
 * Lifetimes: a struct prov lives on the list while the config names it;
 * dropped (a reload without it, destroy) it is marked gone, its download
 * cancelled and its timer closed, and freed once the timer's close
 * callback ran and no worker holds it.
 *
 * The loop touches no disk here: whether a copy exists and how old it is
 * come from the config loader (config_remote.cached/mtime, read on the
 * reload's worker) and from our own writes, which run on a worker.
 */
#include "tun2socks/app/providers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/ruleset.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/file_atomic.h"
#include "tun2socks/base/log.h"
#include "tun2socks/route/geo.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/http_client.h"

struct prov {
	struct list_node link;
	struct providers *p;
	bool is_proxies; /* proxy-provider, else rule-provider */
	int geo;         /* a geodata file (GEO_F_*, route/geo.h), or -1 */
	char *name, *url, *path, *proxy;
	enum ruleset_behavior behavior;
	enum ruleset_format format;
	unsigned interval;
	uint64_t size_limit;
	uv_timer_t timer;
	bool timer_open, gone, working, first, forced;
	bool has_copy;      /* its path holds a copy */
	int64_t updated_at; /* providers_updated_at(); 0: no copy */
	struct http_request *req;
	uv_work_t work;
	/* the download, for the worker */
	char *body;
	size_t len;
	int status; /* worker: 0 written, 1 unchanged, -errno */
	char why[600];
};

struct providers {
	uv_loop_t *loop;
	struct http_client *http;
	providers_changed_fn changed;
	void *arg;
	struct router_gen *gen;
	struct list_node list;
	struct list_node waiters; /* struct prov_waiter */
};

/* A providers_fetch{,_now}() caller: the forced downloads it waits for. */
struct prov_waiter {
	struct list_node link;
	struct prov **provs; /* NULL once that one ended */
	size_t n, left, failed;
	void (*done)(void *arg, size_t failed);
	void *arg;
};

static const char *prov_kind(const struct prov *v)
{
	return v->geo >= 0 ? "geodata" : v->is_proxies ? "proxy-provider" : "rule-provider";
}

static void prov_free(struct prov *v)
{
	free(v->name);
	free(v->url);
	free(v->path);
	free(v->proxy);
	free(v->body);
	free(v);
}

static void prov_timer_closed(uv_handle_t *h)
{
	struct prov *v = h->data;

	v->timer_open = false;
	if (!v->working)
		prov_free(v);
}

static void prov_forced_end(struct prov *v, bool failed);

static void prov_drop(struct prov *v)
{
	list_remove(&v->link);
	v->gone = true;
	prov_forced_end(v, true);
	http_request_cancel(v->req);
	v->req = NULL;
	if (v->timer_open)
		uv_close((uv_handle_t *)&v->timer, prov_timer_closed);
	else if (!v->working)
		prov_free(v);
}

static void prov_waiter_finish(struct prov_waiter *w)
{
	list_remove(&w->link);
	w->done(w->arg, w->failed);
	free(w->provs);
	free(w);
}

/* v's forced download ended: the waiters for it that waited for nothing
 * else are answered (after the walk: an answer may start new fetches). */
static void prov_forced_end(struct prov *v, bool failed)
{
	struct list_node ready, *n, *tmp;

	if (!v->forced)
		return;
	v->forced = false;
	list_init(&ready);
	list_for_each_safe(n, tmp, &v->p->waiters) {
		struct prov_waiter *w = list_entry(n, struct prov_waiter, link);

		for (size_t i = 0; i < w->n; i++) {
			if (w->provs[i] != v)
				continue;
			w->provs[i] = NULL;
			w->failed += failed;
			if (--w->left == 0) {
				list_remove(&w->link);
				list_insert_before(&ready, &w->link);
			}
		}
	}
	while (!list_empty(&ready))
		prov_waiter_finish(list_entry(ready.next, struct prov_waiter, link));
}

/* ---- worker: validate, compare, write ------------------------------------------------ */

static int mkdirs(const char *path)
{
	char dir[1024], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (s == NULL || s == dir)
		return 0;
	*s = '\0';
	for (char *c = dir + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int prov_validate(struct prov *v)
{
	struct conf_err err;

	memset(&err, 0, sizeof(err));
	if (v->is_proxies) {
		struct conf_err_list errs;
		struct config *cfg = NULL;
		int r = config_load_buf(v->body, v->len, v->path, &cfg, &errs);
		size_t n = cfg ? cfg->n_proxies : 0;

		if (r < 0 && errs.n > 0)
			snprintf(v->why, sizeof(v->why), "%d:%d: %s", errs.v[0].line, errs.v[0].col,
				 errs.v[0].msg);
		else if (r < 0)
			snprintf(v->why, sizeof(v->why), "%s", strerror(-r));
		config_free(cfg);
		if (r == 0 && n == 0) {
			snprintf(v->why, sizeof(v->why), "no proxies in it");
			return -EINVAL;
		}
		return r;
	} else {
		struct ruleset *rs = NULL;
		int r = ruleset_load_buffer(v->name, v->behavior, v->format, v->path, v->body,
					    v->len, &rs, &err);

		if (r < 0)
			snprintf(v->why, sizeof(v->why), "%d:%d: %s", err.line, err.col, err.msg);
		ruleset_free(rs);
		return r;
	}
}

/* 1 when path holds exactly body. */
static int same_as_cached(const struct prov *v)
{
	struct stat st;
	char *old;
	int fd, same = 0;

	fd = open(v->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == v->len &&
	    (old = malloc(v->len ? v->len : 1)) != NULL) {
		same = read(fd, old, v->len) == (ssize_t)v->len &&
		       memcmp(old, v->body, v->len) == 0;
		free(old);
	}
	close(fd);
	return same;
}

/* Written beside, synced, renamed over: a reader sees the old copy or
 * the new one, never half. */
static int write_atomic(struct prov *v)
{
	int r = mkdirs(v->path);

	return r < 0 ? r : file_atomic_write(v->path, v->body, v->len, 0644);
}

/* A geodata file: written beside, parsed there (libmaxminddb opens only
 * files), then renamed over the copy the rules read. */
static int geo_write_checked(struct prov *v)
{
	char tmp[1100];
	int r = mkdirs(v->path);

	if (r < 0) {
		snprintf(v->why, sizeof(v->why), "cannot write %s: %s", v->path, strerror(-r));
		return r;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.download", v->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	r = file_atomic_write(tmp, v->body, v->len, 0644);
	if (r < 0) {
		snprintf(v->why, sizeof(v->why), "cannot write %.400s: %s", tmp, strerror(-r));
		return r;
	}
	r = geo_file_check(v->geo, tmp, v->why, sizeof(v->why));
	if (r == 0 && rename(tmp, v->path) < 0) {
		r = -errno;
		snprintf(v->why, sizeof(v->why), "cannot rename %.250s over %.250s: %s", tmp,
			 v->path, strerror(-r));
	}
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

static void prov_work(uv_work_t *w)
{
	struct prov *v = w->data;
	int r;

	if (v->geo >= 0) {
		v->status = same_as_cached(v) ? 1 : geo_write_checked(v);
		return;
	}
	r = prov_validate(v);

	if (r < 0) {
		v->status = r;
		return;
	}
	if (same_as_cached(v)) {
		v->status = 1;
		return;
	}
	r = write_atomic(v);
	if (r < 0)
		snprintf(v->why, sizeof(v->why), "cannot write %s: %s", v->path, strerror(-r));
	v->status = r;
}

static void prov_schedule(struct prov *v, uint64_t ms);

static void prov_work_done(uv_work_t *w, int status)
{
	struct prov *v = w->data;
	struct providers *p = v->p;

	v->working = false;
	free(v->body);
	v->body = NULL;
	if (v->gone) {
		if (!v->timer_open)
			prov_free(v);
		return;
	}
	if (status < 0)
		v->status = status;
	if (v->status >= 0) {
		v->has_copy = true;
		v->updated_at = (int64_t)time(NULL);
	}
	if (v->status == 0)
		log_info("%s %s: updated from %s (%zu bytes)", prov_kind(v), v->name, v->url,
			 v->len);
	else if (v->status == 1)
		log_debug("%s %s: unchanged", prov_kind(v), v->name);
	else
		log_warn("%s %s: download from %s refused: %s; keeping the copy we have",
			 prov_kind(v), v->name, v->url, v->why);
	prov_forced_end(v, v->status < 0);
	if (v->interval)
		prov_schedule(v, v->interval * 1000ull);
	if (v->status == 0 && p->changed)
		p->changed(p->arg);
}

/* ---- download -------------------------------------------------------------------------- */

static void prov_failed(struct prov *v, const char *why)
{
	if (v->has_copy) {
		char when[64];
		struct tm tm;
		time_t at = (time_t)v->updated_at;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&at, &tm));
		if (v->first)
			log_warn("%s %s: cannot download %s (%s): using the cached copy from %s",
				 prov_kind(v), v->name, v->url, why, when);
		else
			log_warn("%s %s: refresh from %s failed (%s): keeping the copy from %s",
				 prov_kind(v), v->name, v->url, why, when);
	} else if (v->geo >= 0) {
		log_warn("%s %s: cannot download %s (%s)", prov_kind(v), v->name, v->url, why);
	} else {
		log_warn("%s %s: cannot download %s (%s): empty until a download works",
			 prov_kind(v), v->name, v->url, why);
	}
	v->first = false;
	/* No copy: try again sooner than a long interval. */
	if (v->interval || !v->has_copy)
		prov_schedule(v, v->interval && v->interval < 60 ? v->interval * 1000ull : 60000);
	prov_forced_end(v, true);
}

static void prov_on_http(void *arg, int status, const struct http_response *resp)
{
	struct prov *v = arg;
	char why[300];
	int r;

	v->req = NULL;
	if (status < 0) {
		prov_failed(v, resp->error);
		return;
	}
	if (resp->code < 200 || resp->code > 299) {
		snprintf(why, sizeof(why), "HTTP status %ld", resp->code);
		prov_failed(v, why);
		return;
	}
	v->first = false;
	v->body = malloc(resp->len ? resp->len : 1);
	if (v->body == NULL) {
		prov_failed(v, "out of memory");
		return;
	}
	memcpy(v->body, resp->body, resp->len);
	v->len = resp->len;
	v->why[0] = '\0';
	v->work.data = v;
	r = uv_queue_work(v->p->loop, &v->work, prov_work, prov_work_done);
	if (r < 0) {
		free(v->body);
		v->body = NULL;
		prov_failed(v, uv_strerror(r));
		return;
	}
	v->working = true;
}

static void prov_fetch(struct prov *v)
{
	struct providers *p = v->p;
	struct router_check_via via;
	struct http_request_opts o = { 0 };
	int r;

	if (v->req || v->working)
		return; /* one at a time */
	memset(&via, 0, sizeof(via));
	if (v->proxy == NULL && p->gen == NULL)
		r = 0; /* DIRECT: a geodata file needed before any generation */
	else
		r = p->gen ? router_gen_name_via(p->gen, v->proxy, &via) : -ENOENT;
	if (r < 0 || via.kind == ROUTER_VIA_REJECT || via.kind == ROUTER_VIA_NONE) {
		char why[200];

		snprintf(why, sizeof(why), "proxy %s cannot be used for downloads",
			 v->proxy ? v->proxy : "DIRECT");
		prov_failed(v, why);
		return;
	}
	o.url = v->url;
	o.max_size = v->size_limit;
	o.timeout_ms = 60000;
	o.connect_timeout_ms = 15000;
	o.proxy = via.proxy;
	o.proxy_user = via.user;
	o.proxy_pass = via.pass;
	o.proxy_ca_file = via.ca_file;
	o.proxy_insecure = via.insecure;
	log_debug("%s %s: downloading %s via %s", prov_kind(v), v->name, v->url,
		  v->proxy ? v->proxy : "DIRECT");
	r = http_client_request(p->http, &o, prov_on_http, v, &v->req);
	if (r < 0)
		prov_failed(v, strerror(-r));
}

static void prov_on_timer(uv_timer_t *t)
{
	prov_fetch(t->data);
}

static void prov_schedule(struct prov *v, uint64_t ms)
{
	if (v->timer_open && !v->gone)
		uv_timer_start(&v->timer, prov_on_timer, ms, 0);
}

/* ---- the list ---------------------------------------------------------------------------- */

static struct prov *prov_find(struct providers *p, bool is_proxies, const char *name,
			      const char *url, const char *path)
{
	struct list_node *n, *tmp;

	list_for_each_safe(n, tmp, &p->list) {
		struct prov *v = list_entry(n, struct prov, link);

		if (v->geo < 0 && v->is_proxies == is_proxies && !strcmp(v->name, name) &&
		    !strcmp(v->url, url) && !strcmp(v->path, path))
			return v;
	}
	return NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;

	*oom |= s && !d;
	return d;
}

/* A provider new to the list: fetched now unless its copy is fresh. */
static int prov_add(struct providers *p, struct list_node *keep, bool is_proxies, const char *name,
		    const struct config_remote *rm, const char *path, enum ruleset_behavior beh,
		    enum ruleset_format fmt)
{
	struct prov *v = prov_find(p, is_proxies, name, rm->url, path);
	bool oom = false;
	uint64_t age_ms = 0, due = 0;

	if (v) {
		/* Same source: keep its schedule, take the new settings. */
		list_remove(&v->link);
		list_insert_before(keep, &v->link);
		free(v->proxy);
		v->proxy = dup_or_null(rm->proxy, &oom);
		v->size_limit = rm->size_limit;
		v->interval = rm->interval;
		return oom ? -ENOMEM : 0;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->p = p;
	v->geo = -1;
	v->is_proxies = is_proxies;
	v->name = dup_or_null(name, &oom);
	v->url = dup_or_null(rm->url, &oom);
	v->path = dup_or_null(path, &oom);
	v->proxy = dup_or_null(rm->proxy, &oom);
	v->behavior = beh;
	v->format = fmt;
	v->interval = rm->interval;
	v->size_limit = rm->size_limit;
	v->first = true;
	if (oom || uv_timer_init(p->loop, &v->timer) < 0) {
		prov_free(v);
		return -ENOMEM;
	}
	v->timer.data = v;
	v->timer_open = true;
	list_insert_before(keep, &v->link);
	/* The loader looked at the copy (on the reload's worker). */
	if (rm->cached) {
		int64_t now = (int64_t)time(NULL);

		v->has_copy = true;
		v->updated_at = rm->mtime;
		age_ms = now > rm->mtime ? (uint64_t)(now - rm->mtime) * 1000 : 0;
		if (v->interval == 0) {
			log_debug("%s %s: cached copy, no interval: not downloaded", prov_kind(v),
				  name);
			return 0;
		}
		if (age_ms < v->interval * 1000ull)
			due = v->interval * 1000ull - age_ms;
	}
	prov_schedule(v, due);
	return 0;
}

/* Geodata file f, from url to path: like a provider, by file and URL. */
static int prov_add_geo(struct providers *p, struct list_node *keep, int f, const char *url,
			const char *path, unsigned interval, bool has_copy, int64_t mtime)
{
	struct list_node *n, *tmp;
	struct prov *v;
	bool oom = false;
	uint64_t due = 0;

	list_for_each_safe(n, tmp, &p->list) {
		v = list_entry(n, struct prov, link);
		if (v->geo == f && !strcmp(v->url, url) && !strcmp(v->path, path)) {
			list_remove(&v->link);
			list_insert_before(keep, &v->link);
			v->interval = interval;
			return 0;
		}
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	v->p = p;
	v->geo = f;
	/* named as its file is (Country.mmdb, geoip.metadb...) */
	v->name = dup_or_null(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, &oom);
	v->url = dup_or_null(url, &oom);
	v->path = dup_or_null(path, &oom);
	v->interval = interval;
	v->size_limit = 256ull << 20; /* a full geosite.dat is tens of MiB */
	v->first = true;
	if (oom || uv_timer_init(p->loop, &v->timer) < 0) {
		prov_free(v);
		return -ENOMEM;
	}
	v->timer.data = v;
	v->timer_open = true;
	list_insert_before(keep, &v->link);
	if (has_copy) {
		int64_t now = (int64_t)time(NULL);
		uint64_t age_ms = now > mtime ? (uint64_t)(now - mtime) * 1000 : 0;

		v->has_copy = true;
		v->updated_at = mtime;
		if (interval == 0)
			return 0;
		if (age_ms < interval * 1000ull)
			due = interval * 1000ull - age_ms;
	}
	prov_schedule(v, due);
	return 0;
}

int providers_add_geo(struct providers *p, int file, const char *url, const char *path)
{
	return prov_add_geo(p, &p->list, file, url, path, 0, false, 0);
}

/* cfg's geo-auto-update: the files g's rules read, refreshed every
 * geo-update-interval hours. */
static int geo_follow(struct providers *p, struct list_node *keep, const struct config *cfg,
		      const struct router_gen *g)
{
	const struct geo *geo = router_gen_geo(g);
	unsigned used = geo_used(geo);
	int r = 0;

	if (!cfg->geox.auto_update)
		return 0;
	for (int f = 0; r == 0 && f < GEO_F_COUNT; f++) {
		char path[1024];

		if (!(used & (1u << f)) || !geo_path(geo, f)[0])
			continue;
		snprintf(path, sizeof(path), "%s", geo_path(geo, f));
		r = prov_add_geo(p, keep, f, providers_geo_url(cfg, f), path,
				 cfg->geox.interval_h * 3600u, true, geo_mtime(geo, f));
	}
	return r;
}

const char *providers_geo_url(const struct config *cfg, int file)
{
	switch (file) {
	case GEO_F_MMDB:
		return cfg->geox.mmdb;
	case GEO_F_ASN:
		return cfg->geox.asn;
	case GEO_F_GEOIP:
		return cfg->geox.geoip;
	default:
		return cfg->geox.geosite;
	}
}

int providers_create(uv_loop_t *loop, struct http_client *http, providers_changed_fn changed,
		     void *arg, struct providers **out)
{
	struct providers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	p->loop = loop;
	p->http = http;
	p->changed = changed;
	p->arg = arg;
	list_init(&p->list);
	list_init(&p->waiters);
	*out = p;
	return 0;
}

static enum ruleset_behavior rp_behavior(const struct config_rule_provider *rp)
{
	return rp->behavior == CONFIG_RP_DOMAIN   ? RULESET_DOMAIN
	       : rp->behavior == CONFIG_RP_IPCIDR ? RULESET_IPCIDR
						  : RULESET_CLASSICAL;
}

int providers_update(struct providers *p, const struct config *cfg, struct router_gen *g)
{
	struct list_node keep, *n, *tmp;
	int r = 0;

	if (g)
		router_gen_ref(g);
	router_gen_unref(p->gen);
	p->gen = g;
	list_init(&keep);
	for (size_t i = 0; cfg && r == 0 && i < cfg->n_rule_providers; i++) {
		const struct config_rule_provider *rp = &cfg->rule_providers[i];

		if (rp->type == CONFIG_RP_HTTP)
			r = prov_add(p, &keep, false, rp->name, &rp->remote, rp->path,
				     rp_behavior(rp),
				     rp->format == CONFIG_RP_TEXT ? RULESET_TEXT : RULESET_YAML);
	}
	for (size_t i = 0; cfg && r == 0 && i < cfg->n_proxy_providers; i++) {
		const struct config_proxy_provider *pp = &cfg->proxy_providers[i];

		if (pp->http)
			r = prov_add(p, &keep, true, pp->name, &pp->remote, pp->path, 0, 0);
	}
	if (cfg && g && r == 0)
		r = geo_follow(p, &keep, cfg, g);
	/* What the config no longer names goes. */
	list_for_each_safe(n, tmp, &p->list)
		prov_drop(list_entry(n, struct prov, link));
	/* keep becomes the list */
	if (!list_empty(&keep)) {
		p->list.next = keep.next;
		p->list.prev = keep.prev;
		p->list.next->prev = &p->list;
		p->list.prev->next = &p->list;
	}
	return r;
}

/* Forces the downloads of every provider (name NULL) or of the one
 * called name, and waits for them. */
static int prov_wait_for(struct providers *p, bool proxies, const char *name,
			 void (*done)(void *arg, size_t failed), void *arg)
{
	struct list_node *n, *tmp;
	struct prov_waiter *w;
	size_t count = 0;

	list_for_each_safe(n, tmp, &p->list) {
		struct prov *v = list_entry(n, struct prov, link);

		count += name == NULL || (v->is_proxies == proxies && !strcmp(v->name, name));
	}
	if (name != NULL && count == 0)
		return -ENOENT;
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->provs = calloc(count ? count : 1, sizeof(*w->provs))) == NULL) {
		free(w);
		return -ENOMEM;
	}
	w->done = done;
	w->arg = arg;
	list_for_each_safe(n, tmp, &p->list) {
		struct prov *v = list_entry(n, struct prov, link);

		if (name == NULL || (v->is_proxies == proxies && !strcmp(v->name, name)))
			w->provs[w->n++] = v;
	}
	/* One more than waited for until every download started: one that
	 * fails to start ends at once, and must not finish w meanwhile. */
	w->left = w->n + 1;
	list_insert_before(&p->waiters, &w->link);
	for (size_t i = 0; i < w->n; i++) {
		struct prov *v = w->provs[i];

		if (v == NULL || v->forced)
			continue; /* ended already, or will end for us too */
		v->forced = true;
		uv_timer_stop(&v->timer);
		if (v->req == NULL && !v->working)
			prov_fetch(v);
	}
	if (--w->left == 0)
		prov_waiter_finish(w);
	return 0;
}

int providers_fetch_now(struct providers *p, void (*done)(void *arg, size_t failed), void *arg)
{
	return prov_wait_for(p, false, NULL, done, arg);
}

int providers_fetch(struct providers *p, bool proxies, const char *name,
		    void (*done)(void *arg, size_t failed), void *arg)
{
	return prov_wait_for(p, proxies, name, done, arg);
}

int providers_updated_at(const struct providers *p, bool proxies, const char *name,
			 int64_t *unix_secs)
{
	const struct list_node *n;

	*unix_secs = 0;
	for (n = p->list.next; n != &p->list; n = n->next) {
		const struct prov *v = list_entry(n, struct prov, link);

		if (v->is_proxies == proxies && !strcmp(v->name, name)) {
			*unix_secs = v->has_copy ? v->updated_at : 0;
			return 0;
		}
	}
	return -ENOENT;
}

void providers_destroy(struct providers *p)
{
	struct list_node *n, *tmp;

	if (p == NULL)
		return;
	list_for_each_safe(n, tmp, &p->list)
		prov_drop(list_entry(n, struct prov, link));
	router_gen_unref(p->gen);
	free(p);
}
