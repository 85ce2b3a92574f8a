/* generation: a config file into what the daemon runs by (generation.h). */
#include "tun2socks/app/generation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "tun2socks/app/providers.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"
#include "tun2socks/route/geo.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/upstream/http_client.h"

struct geo_wait {
	bool done;
	size_t failed;
};

static void geo_fetched(void *arg, size_t failed)
{
	struct geo_wait *w = arg;

	w->done = true;
	w->failed = failed;
}

/* Downloads the files of mask (1 << GEO_F_*) into dir from conf's
 * geox-url, on a loop of our own (a worker's or the start's: this
 * blocks). 0, or -EIO when one failed (the log says why). */
static int geo_fetch(const struct config *conf, const char *dir, unsigned mask,
		     const struct sock_opts *so)
{
	struct http_client *http = NULL;
	struct providers *p = NULL;
	struct geo_wait w = { 0 };
	uv_loop_t loop;
	int r = uv_loop_init(&loop);

	if (r < 0)
		return r;
	r = http_client_create(&loop, so, &http);
	if (r == 0)
		r = providers_create(&loop, http, NULL, NULL, &p);
	for (int f = 0; r == 0 && f < GEO_F_COUNT; f++) {
		char path[4096];

		if (!(mask & (1u << f)))
			continue;
		(void)geo_file_path(dir, f, path, sizeof(path));
		log_info("geodata: %s not found, downloading %s", path, providers_geo_url(conf, f));
		r = providers_add_geo(p, f, providers_geo_url(conf, f), path);
	}
	if (r == 0)
		r = providers_fetch_now(p, geo_fetched, &w);
	while (r == 0 && !w.done && uv_run(&loop, UV_RUN_ONCE))
		;
	providers_destroy(p);
	http_client_destroy(http);
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	return r == 0 && w.failed > 0 ? -EIO : r;
}

/* The geodata files conf's rules need and dir lacks (1 << GEO_F_*): a
 * build that notes them rather than failing. */
static unsigned geo_missing_files(const struct config *conf, const struct router_gen_opts *ro)
{
	struct router_gen_opts lo = *ro;
	struct router_gen *g = NULL;
	struct conf_err e;
	unsigned m;

	lo.geo_lenient = true;
	lo.no_resolve = true;
	if (router_gen_build(conf, &lo, &g, &e) < 0)
		return 0;
	m = geo_missing(router_gen_geo(g));
	router_gen_unref(g);
	return m;
}

/* "GeoSite.dat (from URL)" for each file of mask, into buf. */
static void geo_list(const struct config *conf, unsigned mask, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int f = 0; f < GEO_F_COUNT && n < cap; f++)
		if (mask & (1u << f))
			n += (size_t)snprintf(buf + n, cap - n, "%s%s from %s", n ? "; " : "",
					      geo_file_name(f), providers_geo_url(conf, f));
}

int generation_load(const struct generation_req *req, struct generation *out,
		    struct generation_diag *diag)
{
	const char *path = req->cli->config_path;
	struct router_gen_opts ro = { .default_up = req->default_up,
				      .no_resolve = req->no_resolve };
	struct conf_err e;
	int r = 0;

	memset(out, 0, sizeof(*out));
	conf_err_list_clear(&diag->errs);
	diag->other[0] = '\0';
	options_copy(&out->opts, req->cli);
	if (path != NULL) {
		r = config_load(path, &out->conf, &diag->errs);
		if (r < 0) {
			if (diag->errs.n == 0)
				snprintf(diag->other, sizeof(diag->other), "%s: %s", path,
					 strerror(-r));
			goto out;
		}
		r = options_apply_config(&out->opts, out->conf, diag->other, sizeof(diag->other));
		if (r < 0)
			goto out;
	}
	options_finish(&out->opts);
	ro.sock = &out->opts.sock;
	r = router_gen_build(out->conf, &ro, &out->router, &e);
	if (r == -EINVAL && out->conf) {
		/* Geodata files missing? mihomo downloads them at start. */
		unsigned miss = geo_missing_files(out->conf, &ro);
		char list[400];

		geo_list(out->conf, miss, list, sizeof(list));
		if (miss && req->fetch_geo) {
			struct sock_opts so = out->opts.sock;
			int f = sock_opts_resolve(&so);

			if (f == 0)
				f = geo_fetch(out->conf, out->conf->dir ? out->conf->dir : "", miss,
					      &so);

			if (f < 0) {
				snprintf(diag->other, sizeof(diag->other),
					 "geodata: cannot download %s (a copy is needed to start)",
					 list);
				r = f;
				goto out;
			}
			r = router_gen_build(out->conf, &ro, &out->router, &e);
		} else if (miss) {
			snprintf(diag->other, sizeof(diag->other),
				 "geodata missing: %s; the daemon downloads it at start, "
				 "`tun2socks check --fetch` now",
				 list);
		}
	}
	if (r == -EINVAL)
		conf_err_list_add(&diag->errs, &e);
	else if (r < 0)
		snprintf(diag->other, sizeof(diag->other), "cannot build the rules: %s",
			 strerror(-r));
out:
	if (r < 0)
		generation_free(out);
	return r;
}

void generation_report(const struct generation *g, const struct generation_diag *diag, int status,
		       generation_emit_fn emit, void *arg)
{
	char buf[1024];

	if (status < 0) {
		for (size_t i = 0; i < conf_err_list_lines(&diag->errs); i++) {
			conf_err_list_line(&diag->errs, i, buf, sizeof(buf));
			emit(arg, true, buf);
		}
		if (diag->other[0])
			emit(arg, true, diag->other);
		return;
	}
	for (size_t i = 0; g->conf && i < g->conf->n_warnings; i++) {
		config_warning_format(&g->conf->warnings[i], buf, sizeof(buf));
		emit(arg, false, buf);
	}
	for (size_t i = 0; g->router && i < router_gen_warning_count(g->router); i++)
		emit(arg, false, router_gen_warning(g->router, i));
}

void generation_free(struct generation *g)
{
	router_gen_unref(g->router);
	config_free(g->conf);
	g->router = NULL;
	g->conf = NULL;
}
