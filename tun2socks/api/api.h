/* api: the Clash control API's server (docs/design.md §20): HTTP and
 * WebSocket by libwebsockets on the daemon's libuv loop, authentication
 * (Bearer secret, ?token= for WebSocket), CORS, limits, and the streams
 * (/traffic, /memory, /logs, /connections). Requests are answered by
 * api_handle.c over the daemon's struct api_backend.
 *
 * A client never holds up the loop: it gets at most API_CLIENT_QUEUE_MAX
 * bytes queued and is dropped past that.
 */
#ifndef T2S_API_H
#define T2S_API_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "tun2socks/api/api_handle.h"
#include "tun2socks/base/must_check.h"

#define API_BODY_MAX (64 * 1024)          /* a request body, bytes */
#define API_CLIENT_QUEUE_MAX (512 * 1024) /* queued for one client */
#define API_CLIENTS_MAX 64                /* connections at once */
#define API_UI_FILE_MAX (4 * 1024 * 1024) /* one external-ui file */

struct api;

struct api_config {
	const char *addr;      /* "127.0.0.1:9090", "[::1]:9090", ":9090"; NULL: none */
	const char *unix_path; /* NULL: none */
	const char *secret;    /* NULL or "": none */
	/* external-controller-cors: allowed origins ("*" for any); none
	 * given means mihomo's default, any. */
	const char *const *cors_origins;
	size_t n_cors_origins;
	bool cors_private_network;
	unsigned max_clients; /* 0: API_CLIENTS_MAX */
	/* external-ui: a directory served at /ui/ instead of the built-in
	 * dashboard; NULL: the built-in one. */
	const char *ui_dir;
};

/* 0 or -errno (err says why: a non-loopback address without a secret, a
 * bad address, a port or unix socket another process listens on: never
 * taken over). Port 0: any free one (api_listen_addr). */
T2S_MUST_CHECK int api_start(uv_loop_t *loop, const struct api_config *cfg,
			     const struct api_backend *be, struct api **out, char *err,
			     size_t errlen);
/* What api_start refuses before it opens anything: a bad address, or
 * one beyond loopback without a secret. 0 or -errno with err set. */
int api_check(const struct api_config *cfg, char *err, size_t errlen);

/* Closes every client and the listeners, running the loop (without
 * blocking) until libwebsockets has closed its handles; after uv_run has
 * returned, before the caller closes the rest. NULL is fine. */
void api_stop(struct api *a);

/* The backend's answer to a waiting request: status and a malloc'd body
 * (taken; may be NULL). The client may have gone: then it is dropped. */
void api_done(struct api_wait *w, int status, char *body);

/* The TCP address listened on, with the port the kernel chose for port 0
 * ("127.0.0.1:41234"); "" when there is none (NULL a: ""). */
const char *api_listen_addr(const struct api *a);

/* "host:port" is on loopback (127/8, ::1, localhost). */
bool api_addr_is_loopback(const char *addr);

#endif
