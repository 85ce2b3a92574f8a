/* http_client: HTTP(S) requests on the daemon's one loop, through libcurl's
 * multi-socket API (docs/design.md §17).
 *
 * One struct http_client per loop holds a curl multi handle, a uv timer for
 * curl's deadline and one uv_poll per socket curl asks us to watch. Requests
 * never block the loop: names are resolved by curl's threaded resolver,
 * sockets are opened with sock_open() (so --fwmark / --bind-interface keep
 * them out of the TUN, §8), and completion is reported on the loop thread.
 *
 * A request may go through a proxy named by a curl proxy URL
 * ("socks5h://user:pass@host:port", "http://host:port",
 * "https://host:port"): providers download through a configured upstream
 * and health checks measure one member this way.
 */
#ifndef T2S_HTTP_CLIENT_H
#define T2S_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "tun2socks/base/must_check.h"

struct sock_opts;
struct http_client;
struct http_request;

/* Defaults for the zero values below. */
#define HTTP_CLIENT_TIMEOUT_MS 30000u
#define HTTP_CLIENT_MAX_SIZE (16u * 1024 * 1024)
#define HTTP_CLIENT_MAX_REDIRECTS 5

struct http_request_opts {
	const char *url;    /* http:// or https:// */
	const char *method; /* NULL: GET, or POST when body is set */
	const void *body;   /* request body (copied), or NULL */
	size_t body_len;
	const char *const *headers; /* "Name: value" lines, or NULL */
	size_t n_headers;
	unsigned timeout_ms;         /* whole transfer; 0: HTTP_CLIENT_TIMEOUT_MS */
	unsigned connect_timeout_ms; /* 0: the whole timeout */
	size_t max_size;             /* decoded body bytes; 0: HTTP_CLIENT_MAX_SIZE */
	int max_redirects;           /* 0: HTTP_CLIENT_MAX_REDIRECTS; < 0: none */
	const char *proxy;           /* curl proxy URL, NULL: direct */
	const char *proxy_user;      /* proxy credentials, or NULL */
	const char *proxy_pass;
	const char *proxy_ca_file; /* https:// proxy: NULL: the system's CAs */
	bool proxy_insecure;       /* https:// proxy: skip verification */
	const char *ca_file;       /* NULL: the system's CAs */
	bool insecure;             /* skip certificate verification */
	bool head_only;            /* HEAD-like: no body is read (a health check) */
	/* "HOST:PORT:ADDR[,ADDR...]" (IPv6 in brackets): connect there
	 * without a lookup (curl's CURLOPT_RESOLVE), or NULL */
	const char *resolve;
};

struct http_response {
	long code;           /* HTTP status of the last response, 0 if none */
	const char *body;    /* decoded (gzip/deflate/br undone), NUL-terminated */
	size_t len;          /* bytes of body, without the terminator */
	const char *url;     /* the last URL after redirects */
	uint64_t total_us;   /* start to last byte */
	uint64_t connect_us; /* start to connected (through the proxy, if any) */
	const char *error;   /* why status < 0, else "" */
};

/* status: 0 when a response came (whatever its code), else -errno:
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (name or proxy not found),
 * -EFBIG (over max_size), -EPROTO (TLS, bad HTTP, too many redirects),
 * -ECANCELED (the client was destroyed), -EIO. resp is valid only during
 * the call. Runs on the loop thread, never inside
 * http_client_request(). */
typedef void (*http_done_fn)(void *arg, int status, const struct http_response *resp);

/* so is copied (NULL: plain sockets). 0 or -errno; *out cleared first. */
T2S_MUST_CHECK int http_client_create(uv_loop_t *loop, const struct sock_opts *so,
				      struct http_client **out);
/* Cancels every request (their callbacks run with -ECANCELED, before this
 * returns), closes the handles; memory goes once the loop ran them closed. */
void http_client_destroy(struct http_client *c);

/* Starts a request; done(arg, ...) runs exactly once unless the request is
 * cancelled. out (may be NULL) gets a handle for http_request_cancel(),
 * valid until done runs. 0 or -errno (-EINVAL: bad options). */
T2S_MUST_CHECK int http_client_request(struct http_client *c, const struct http_request_opts *o,
				       http_done_fn done, void *arg, struct http_request **out);
/* Stops the request; its done never runs. Allowed inside another
 * request's done callback, not inside its own. */
void http_request_cancel(struct http_request *r);

/* Requests started and not yet finished. */
size_t http_client_pending(const struct http_client *c);

#endif
