/* generation: the one place where a config file becomes what the daemon
 * runs by: the loaded config, the options it gives (the command line with
 * the file applied onto it) and the router generation built from both.
 * Startup, SIGHUP, `check` and `match` all go through generation_load, so
 * they accept and refuse the same files.
 *
 * Loading blocks (files, rule sets, getaddrinfo for proxy names, CA files)
 * and touches no shared state: the daemon runs it on a worker thread for
 * SIGHUP, so a slow resolver never stops the loop (docs/design.md §11).
 */
#ifndef T2S_GENERATION_H
#define T2S_GENERATION_H

#include <stdbool.h>

#include "config/conf_err.h"
#include "tun2socks/app/options.h"

struct config;
struct router_gen;
struct upstream_cfg;

struct generation {
	struct config *conf;       /* NULL when there is no config file */
	struct options opts;       /* the command line with conf applied */
	struct router_gen *router; /* one reference */
};

struct generation_req {
	const struct options *cli;             /* the command line alone */
	const struct upstream_cfg *default_up; /* --proxy, resolved; or NULL */
	bool no_resolve;                       /* check/match: offline */
	/* A geodata file the rules need and the config's directory lacks is
	 * downloaded from geox-url (DIRECT, our sockets' mark and interface
	 * from the options) before the rules are built, as mihomo does at
	 * start (docs/design.md §16); without, it is an error saying so. */
	bool fetch_geo;
};

/* Why a load failed: the file's errors in file order, or one error
 * without a position (a missing file). */
struct generation_diag {
	struct conf_err_list errs;
	char other[512];
};

/* Loads req->cli->config_path (none: no rules) and builds from it. 0, or
 * -errno with diag filled; out is cleared first and empty on error. */
int generation_load(const struct generation_req *req, struct generation *out,
		    struct generation_diag *diag);

/* Calls emit once per line to show: the errors of a failed load (status
 * < 0), else the config's warnings, in file order. */
typedef void (*generation_emit_fn)(void *arg, bool error, const char *line);
void generation_report(const struct generation *g, const struct generation_diag *diag, int status,
		       generation_emit_fn emit, void *arg);

void generation_free(struct generation *g);

#endif
