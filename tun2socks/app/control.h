/* control: the daemon's side of the control API (docs/design.md §20):
 * where it listens (the config's external-controller keys, --controller),
 * and the struct api_backend over the daemon's flows, router, resolver
 * and config. The daemon supplies what only it can do (reload, the log
 * level) as two callbacks. */
#ifndef T2S_CONTROL_H
#define T2S_CONTROL_H

#include <uv.h>

#include "tun2socks/api/api.h"
#include "tun2socks/base/must_check.h"

struct config;
struct flow_tcp_ctx;
struct flow_udp_ctx;
struct options;
struct resolver;
struct router_ctx;
struct http_client;
struct providers;
struct control;

struct control_deps {
	uv_loop_t *loop;
	struct flow_tcp_ctx *tcp;
	struct flow_udp_ctx *udp;
	struct router_ctx *router;
	struct resolver *resolver;
	struct http_client *const *http;    /* delay tests; *http may be NULL */
	struct providers *const *providers; /* refresh; *providers may be NULL */
	struct config *const *conf;         /* the daemon's, replaced by reloads */
	struct options *opts;               /* the running settings (log level) */
	void *daemon;
	/* Reload from path (NULL: the running file); done(w) follows via
	 * control_reload_done. 0 or -errno. */
	int (*reload)(void *daemon, const char *path, struct api_wait *w);
};

/* Refuses what control_start would (logged), before anything opens. */
T2S_MUST_CHECK int control_check(const struct options *opts, const struct config *conf);

/* Starts the API if the options or the config ask for it (*out NULL
 * otherwise). 0, or -errno after logging why. */
T2S_MUST_CHECK int control_start(const struct control_deps *deps, const struct options *opts,
				 const struct config *conf, struct control **out);
/* The loop must run on after this. NULL is fine. */
void control_stop(struct control *c);

/* A reload started for w ended: status 0 or -errno, msg the first error. */
void control_reload_done(struct api_wait *w, int status, const char *msg);

#endif
