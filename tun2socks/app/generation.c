/* generation: a config file into what the daemon runs by (generation.h). */
#include "tun2socks/app/generation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "tun2socks/route/router_gen.h"

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
