/* api_handle: the Clash control API's requests, answered (docs/design.md
 * §20). Buffer in, buffer out: a parsed request (method, path, query,
 * body) becomes a status and a JSON body, or the start of a stream, or a
 * wait for the daemon (reload, DNS). What the daemon holds (flows, mode,
 * config, reload) comes through struct api_backend; this file opens no
 * socket and keeps no state between requests, so a fuzzer drives it
 * (tests/fuzz/fuzz_api_handle.c). The server (api.c) owns HTTP,
 * WebSocket, authentication and streams.
 */
#ifndef T2S_API_HANDLE_H
#define T2S_API_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/base/log.h"
#include "tun2socks/flow/flow_info.h"
#include "tun2socks/route/router.h"

struct config;
struct api_wait;
struct group_table;

enum api_method { API_GET, API_PUT, API_PATCH, API_POST, API_DELETE, API_OPTIONS, API_OTHER };

/* What a stream sends, once a second (or per log line). */
enum api_stream {
	API_STREAM_NONE,
	API_STREAM_TRAFFIC,     /* {"up":B/s,"down":B/s} */
	API_STREAM_MEMORY,      /* {"inuse":B,"oslimit":0} */
	API_STREAM_CONNECTIONS, /* the GET /connections document */
	API_STREAM_LOGS,        /* {"type":"info","payload":"..."} per line, or
				 * with format=structured {"time","level",
				 * "message","fields"} */
};

/* The daemon, as the API sees it. Every callback runs on the loop thread. */
struct api_backend {
	void *ctx;
	void (*flows)(void *ctx, flow_info_fn fn, void *arg);
	/* Ends one flow (id != 0) or all of them; 0 or -ENOENT. */
	int (*close)(void *ctx, bool udp, uint64_t id);
	/* Bytes carried so far, both ways, ended flows included. */
	void (*totals)(void *ctx, uint64_t *up, uint64_t *down);
	uint64_t (*memory)(void *ctx);             /* bytes in use */
	uint64_t (*now_ms)(void *ctx);             /* the clock flow_info.start_ms uses */
	const struct config *(*config)(void *ctx); /* NULL: no file */
	/* Flows rule i of config() decided in the running generation
	 * (router_gen_rule_hits); NULL: 0. */
	uint64_t (*rule_hits)(void *ctx, size_t i);
	enum router_mode (*mode)(void *ctx);
	void (*set_mode)(void *ctx, enum router_mode m);
	void (*set_log_level)(void *ctx, enum log_level l);
	enum log_level (*log_level)(void *ctx);
	/* Starts a reload from path (NULL: the running file); api_done(w)
	 * follows. 0, or -errno (no config file, one already running). */
	int (*reload)(void *ctx, const char *path, struct api_wait *w);
	/* Resolves name (A or AAAA after qtype); api_done(w) follows. */
	int (*lookup)(void *ctx, const char *name, int qtype, struct api_wait *w);
	/* The groups at run time (route/group.h), or NULL: the config's. */
	struct group_table *(*groups)(void *ctx);
	/* Switches select group to member: router_ctx_select's result. */
	int (*select)(void *ctx, const char *group, const char *member);
	/* One request to url through proxy or group `name` (group: through
	 * each member, for /group/{name}/delay); api_done(w) follows.
	 * 0, -ENOENT (no such name) or -errno. */
	int (*delay)(void *ctx, const char *name, bool group, const char *url, unsigned timeout_ms,
		     struct api_wait *w);
	/* Downloads the http proxy-provider (proxies) or rule-provider
	 * called name now (a changed copy reloads); api_done(w) follows.
	 * 0, -ENOENT (no such provider). */
	int (*refresh)(void *ctx, bool proxies, const char *name, struct api_wait *w);
	/* A delay test of each proxy of proxy-provider name (its groups'
	 * url and timeout, results reported to them); api_done(w) with 204
	 * follows. 0, -ENOENT. */
	int (*healthcheck)(void *ctx, const char *name, struct api_wait *w);
	/* When that http provider's copy was last found current (unix
	 * seconds), 0 when unknown. NULL: unknown. */
	int64_t (*updated_at)(void *ctx, bool proxies, const char *name);
	/* Entries rule-provider i of config() holds now. NULL: unknown. */
	size_t (*rule_set_count)(void *ctx, size_t i);
	/* The member the built-in GLOBAL selector uses now, or NULL when the
	 * config has a group called GLOBAL (router_ctx_global). NULL
	 * callback: the first proxy. */
	const char *(*global)(void *ctx);
};

struct api_req {
	enum api_method method;
	const char *path;  /* URL-decoded, NUL-terminated, "/..." */
	const char *query; /* "a=1&b=2" (decoded), or "" */
	const char *body;  /* not terminated; may be NULL */
	size_t body_len;
	bool websocket; /* a WebSocket upgrade: /connections streams (over
			 * HTTP only with ?interval=) */
};

struct api_resp {
	int status; /* 200, 204, 400, 404, ... */
	char *body; /* malloc'd JSON, or NULL (no body) */
	size_t len;
	enum api_stream stream; /* not NONE: begin this stream (status 200) */
	enum log_level stream_level;
	bool structured;      /* /logs?format=structured */
	unsigned interval_ms; /* /connections?interval= */
	bool wait;            /* the backend answers later (api_done) */
	const char *ctype;    /* NULL: application/json */
};

/* Answers req into resp (cleared first). A wait is started with w (the
 * server's, handed to the backend). 0, or -ENOMEM. */
int api_handle(const struct api_backend *be, const struct api_req *req, struct api_wait *w,
	       struct api_resp *resp);
void api_resp_free(struct api_resp *resp);

/* One stream message (no trailing newline) into a malloc'd string, or
 * NULL on ENOMEM. up/down: bytes in the last second for TRAFFIC. */
char *api_stream_traffic(uint64_t up, uint64_t down);
char *api_stream_memory(uint64_t inuse);
char *api_stream_connections(const struct api_backend *be);
/* structured: mihomo's format=structured shape, its time now (local,
 * "15:04:05"). */
char *api_stream_log(enum log_level level, const char *msg, bool structured);

/* A proxy-provider's check: the url and timeout of the first group that
 * holds one of its proxies, else mihomo's default url and 5 s. */
struct config_proxy_provider;
const char *api_provider_check(const struct config *cfg, const struct config_proxy_provider *pp,
			       unsigned *timeout_ms);

/* {"message": msg} */
char *api_message(const char *msg);

/* A /dns/query answer for name from addrs (sockaddr_storage, n of them),
 * or status != 0 (NXDOMAIN/SERVFAIL). */
struct sockaddr_storage;
char *api_dns_answer(const char *name, int qtype, int status, const struct sockaddr_storage *addrs,
		     size_t n);

/* "tcp-12" / "udp-3" <-> (udp, id). parse: 0 or -EINVAL. */
int api_conn_id_parse(const char *s, bool *udp, uint64_t *id);

/* Query parameter name from q ("a=1&b=2") into buf; true when present. */
bool api_query_get(const char *q, const char *name, char *buf, size_t cap);

#endif
