/* http_client: see http_client.h and docs/design.md §17.
 *
 * curl's multi-socket API tells us which sockets to watch (socket callback)
 * and when to call it back (timer callback); we answer each readiness and
 * timeout with curl_multi_socket_action() and then collect finished
 * transfers with curl_multi_info_read(). Completion callbacks therefore run
 * from our libuv callbacks, never from inside curl, so they may start or
 * cancel requests freely.
 *
 * Lifetimes: a struct http_request lives from http_client_request() until
 * its done callback returned (or it was cancelled); a struct http_sock
 * (one uv_poll) lives from curl's first interest in a socket until its
 * uv_close callback, after curl said CURL_POLL_REMOVE. The client itself
 * is freed in its timer's close callback.
 */
#include "tun2socks/upstream/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"
#include "tun2socks/base/sock.h"

struct http_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	bool has_sock_opts;
	struct sock_opts so;
	struct list_node reqs; /* struct http_request.link */
	size_t n_reqs;
	bool closing;
};

struct http_request {
	struct http_client *c;
	struct list_node link;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *resolve; /* opts.resolve, or NULL */
	char *body_copy;
	char *buf; /* response body */
	size_t len, cap, max_size;
	bool too_big;
	http_done_fn done;
	void *arg;
	char error[CURL_ERROR_SIZE];
};

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http_client *c;
};

/* ---- request bookkeeping ---------------------------------------------------------- */

static void http_request_free(struct http_request *r)
{
	struct http_client *c = r->c;

	list_remove(&r->link);
	c->n_reqs--;
	if (r->easy) {
		curl_multi_remove_handle(c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	curl_slist_free_all(r->resolve);
	free(r->body_copy);
	free(r->buf);
	free(r);
}

static int http_map_error(CURLcode rc, const struct http_request *r)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_WRITE_ERROR:
		return r->too_big ? -EFBIG : -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_PROXY:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -EPROTO;
	default:
		return -EIO;
	}
}

/* Reports every finished transfer. */
static void http_check_done(struct http_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct http_request *r = NULL;
		struct http_response resp;
		curl_off_t t_total = 0, t_connect = 0;
		char *url = NULL;
		int status;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		memset(&resp, 0, sizeof(resp));
		status = http_map_error(msg->data.result, r);
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.code);
		curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
		curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &t_total);
		curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &t_connect);
		if (status < 0 && r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error), "%s",
				 r->too_big ? "response larger than the size limit"
					    : curl_easy_strerror(msg->data.result));
		if (status == -EFBIG && r->too_big)
			snprintf(r->error, sizeof(r->error), "response larger than %zu bytes",
				 r->max_size);
		resp.body = r->buf ? r->buf : "";
		resp.len = r->len;
		resp.url = url ? url : "";
		resp.total_us = t_total > 0 ? (uint64_t)t_total : 0;
		resp.connect_us = t_connect > 0 ? (uint64_t)t_connect : 0;
		resp.error = status < 0 ? r->error : "";
		/* Out of the multi before the callback: it may cancel or start
		 * others, and info_read is asked again afterwards. */
		curl_multi_remove_handle(c->multi, r->easy);
		r->done(r->arg, status, &resp);
		http_request_free(r);
	}
}

/* ---- curl -> libuv ------------------------------------------------------------- */

static void http_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void http_on_poll(uv_poll_t *p, int status, int events)
{
	struct http_sock *s = p->data;
	struct http_client *c = s->c;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	/* s may be freed (CURL_POLL_REMOVE) inside: read fd first. */
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	http_check_done(c);
}

static int http_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http_client *c = userp;
	struct http_sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			uv_close((uv_handle_t *)&s->poll, http_sock_closed);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -1;
		if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->c = c;
		s->poll.data = s;
		curl_multi_assign(c->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, http_on_poll) == 0 ? 0 : -1;
}

static void http_on_timer(uv_timer_t *t)
{
	struct http_client *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(c);
}

static int http_on_timer_set(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *c = userp;

	(void)multi;
	if (timeout_ms < 0)
		return uv_timer_stop(&c->timer) == 0 ? 0 : -1;
	/* 0 means "now": still from the loop, never from inside curl. */
	return uv_timer_start(&c->timer, http_on_timer, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

/* Our sockets carry the loop-avoidance options (docs/design.md §8) and
 * keepalive (§12). */
static curl_socket_t http_open_socket(void *clientp, curlsocktype purpose,
				      struct curl_sockaddr *addr)
{
	struct http_client *c = clientp;
	int fd;

	(void)purpose;
	fd = sock_open(addr->family, addr->socktype, c->has_sock_opts ? &c->so : NULL);
	if (fd < 0) {
		log_debug("http: socket: %s", strerror(-fd));
		return CURL_SOCKET_BAD;
	}
	/* curl keeps connections for reuse (DoH above all): a dead one is
	 * found by its probes, not by the next query's timeout. */
	if (addr->socktype == SOCK_STREAM) {
		int r = sock_keepalive(fd, c->has_sock_opts ? &c->so : NULL);

		if (r < 0) {
			log_debug("http: keepalive: %s", strerror(-r));
			close(fd);
			return CURL_SOCKET_BAD;
		}
	}
	return fd;
}

static size_t http_on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_request *r = userdata;
	size_t n = size * nmemb;

	if (n > r->max_size - r->len) {
		r->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->buf, cap);
		if (nb == NULL)
			return 0;
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

/* ---- public ------------------------------------------------------------------------ */

int http_client_create(uv_loop_t *loop, const struct sock_opts *so, struct http_client **out)
{
	struct http_client *c;
	int r;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->loop = loop;
	if (so) {
		c->so = *so;
		c->has_sock_opts = true;
	}
	list_init(&c->reqs);
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		free(c);
		return -ENOMEM;
	}
	r = uv_timer_init(loop, &c->timer);
	if (r < 0) {
		curl_multi_cleanup(c->multi);
		free(c);
		return r;
	}
	c->timer.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_on_timer_set);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

static void http_client_closed(uv_handle_t *h)
{
	free(h->data);
}

void http_client_destroy(struct http_client *c)
{
	if (c == NULL)
		return;
	c->closing = true;
	while (!list_empty(&c->reqs)) {
		struct http_request *r = list_entry(c->reqs.next, struct http_request, link);
		struct http_response resp;

		memset(&resp, 0, sizeof(resp));
		resp.body = "";
		resp.url = "";
		resp.error = "cancelled";
		curl_multi_remove_handle(c->multi, r->easy);
		r->done(r->arg, -ECANCELED, &resp);
		http_request_free(r);
	}
	/* Closes cached connections: the socket callback closes their polls. */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, http_client_closed);
}

size_t http_client_pending(const struct http_client *c)
{
	return c->n_reqs;
}

static int http_setup(struct http_request *r, const struct http_request_opts *o)
{
	CURL *e = r->easy;
	unsigned timeout = o->timeout_ms ? o->timeout_ms : HTTP_CLIENT_TIMEOUT_MS;
	int ok = 1;

#define SET(opt, val) ok &= curl_easy_setopt(e, opt, val) == CURLE_OK
	SET(CURLOPT_URL, o->url);
	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_ERRORBUFFER, r->error);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_TIMEOUT_MS, (long)timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(o->connect_timeout_ms ? o->connect_timeout_ms : timeout));
	if (o->max_redirects >= 0) {
		SET(CURLOPT_FOLLOWLOCATION, 1L);
		SET(CURLOPT_MAXREDIRS,
		    (long)(o->max_redirects ? o->max_redirects : HTTP_CLIENT_MAX_REDIRECTS));
	}
	/* "": every encoding this libcurl decodes (gzip, deflate, br, zstd). */
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_size);
	SET(CURLOPT_WRITEFUNCTION, http_on_data);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
	SET(CURLOPT_OPENSOCKETDATA, r->c);
	SET(CURLOPT_USERAGENT, "tun2socks/" T2S_VERSION);
	if (o->proxy) {
		SET(CURLOPT_PROXY, o->proxy);
		/* Never the environment's no_proxy list: the proxy is ours. */
		SET(CURLOPT_NOPROXY, "");
		if (o->proxy_user)
			SET(CURLOPT_PROXYUSERNAME, o->proxy_user);
		if (o->proxy_pass)
			SET(CURLOPT_PROXYPASSWORD, o->proxy_pass);
		if (o->proxy_ca_file)
			SET(CURLOPT_PROXY_CAINFO, o->proxy_ca_file);
		if (o->proxy_insecure) {
			SET(CURLOPT_PROXY_SSL_VERIFYPEER, 0L);
			SET(CURLOPT_PROXY_SSL_VERIFYHOST, 0L);
		}
	} else {
		/* Direct means direct, whatever http_proxy says. */
		SET(CURLOPT_PROXY, "");
	}
	if (o->ca_file)
		SET(CURLOPT_CAINFO, o->ca_file);
	if (o->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->head_only)
		SET(CURLOPT_NOBODY, 1L);
	if (o->body) {
		r->body_copy = malloc(o->body_len ? o->body_len : 1);
		if (r->body_copy == NULL)
			return -ENOMEM;
		memcpy(r->body_copy, o->body, o->body_len);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		SET(CURLOPT_POSTFIELDS, r->body_copy);
	}
	if (o->method)
		SET(CURLOPT_CUSTOMREQUEST, o->method);
	for (size_t i = 0; i < o->n_headers; i++) {
		struct curl_slist *n = curl_slist_append(r->headers, o->headers[i]);

		if (n == NULL)
			return -ENOMEM;
		r->headers = n;
	}
	if (r->headers)
		SET(CURLOPT_HTTPHEADER, r->headers);
	if (o->resolve) {
		r->resolve = curl_slist_append(NULL, o->resolve);
		if (r->resolve == NULL)
			return -ENOMEM;
		SET(CURLOPT_RESOLVE, r->resolve);
	}
#undef SET
	return ok ? 0 : -EINVAL;
}

int http_client_request(struct http_client *c, const struct http_request_opts *o, http_done_fn done,
			void *arg, struct http_request **out)
{
	struct http_request *r;
	int ret;

	if (out)
		*out = NULL;
	if (c->closing)
		return -ESHUTDOWN;
	if (o->url == NULL || done == NULL)
		return -EINVAL;
	if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->c = c;
	r->done = done;
	r->arg = arg;
	r->max_size = o->max_size ? o->max_size : HTTP_CLIENT_MAX_SIZE;
	list_insert_before(&c->reqs, &r->link);
	c->n_reqs++;
	r->easy = curl_easy_init();
	if (r->easy == NULL) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = http_setup(r, o);
	if (ret < 0)
		goto fail;
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		ret = -ENOMEM;
		goto fail;
	}
	if (out)
		*out = r;
	return 0;
fail:
	http_request_free(r);
	return ret;
}

void http_request_cancel(struct http_request *r)
{
	if (r)
		http_request_free(r);
}
