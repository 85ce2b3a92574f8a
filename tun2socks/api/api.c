/* api: libwebsockets on our loop, the control API's sessions and streams.
 *
 * One protocol handles both HTTP and WebSocket. An HTTP request is
 * answered in three steps: LWS_CALLBACK_HTTP (and the body callbacks)
 * collect it, api_handle() answers it, the headers go at once and the
 * body from LWS_CALLBACK_HTTP_WRITEABLE. A stream (HTTP, chunked, or
 * WebSocket) is a queue of messages filled by the once-a-second timer or
 * the log tap and drained one message per writeable callback; lws sends
 * nothing else meanwhile, so a client that stops reading only grows its
 * queue, and at API_CLIENT_QUEUE_MAX it is dropped (docs/design.md §20).
 */
#define _GNU_SOURCE
#include <libwebsockets.h>

#include "tun2socks/api/api.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tun2socks/api/ui_assets.h"
#include "tun2socks/base/list.h"
#include "tun2socks/base/log.h"

#define API_PATH_MAX 512
#define API_QUERY_MAX 1024
#define API_CHUNK_HDR 12 /* "ffffffff\r\n" + room */

struct api_msg {
	struct api_msg *next;
	size_t len;
	/* LWS_PRE, then room for a chunk header, then the bytes and CRLF. */
	unsigned char buf[];
};

struct api_sess;

struct api_wait {
	struct api_sess *s; /* NULL once the client went */
};

struct api_sess {
	struct api *a;
	struct lws *wsi;
	struct list_node link; /* on a->streams while streaming */
	bool linked, counted, ws, dropping, unix_sock;
	enum api_method method;
	char path[API_PATH_MAX];
	char query[API_QUERY_MAX];
	char *body;
	size_t body_len;
	/* one response */
	char *resp;
	size_t resp_len;
	bool resp_pending; /* body still to write */
	struct api_wait *wait;
	/* An answer api_done gave while api_handle still ran (the backend
	 * answered at once): sent once api_dispatch is done with s, since
	 * sending may end the transaction and free s. */
	bool in_dispatch, early;
	int early_status;
	char *early_body;
	/* a stream */
	enum api_stream stream;
	enum log_level level;
	unsigned interval_ms;
	uint64_t due_ms;
	struct api_msg *head, *tail;
	size_t queued;
};

struct api {
	uv_loop_t *loop;
	struct lws_context *lws;
	struct lws_vhost *tcp_vh, *unix_vh;
	struct api_backend be;
	char *secret;
	size_t secret_len;
	char **cors;
	size_t n_cors;
	char *ui_dir; /* realpath of external-ui, or NULL */
	bool cors_pn;
	unsigned max_clients, clients;
	struct list_node streams;
	uv_timer_t tick;
	bool tick_open;
	uint64_t last_up, last_down;
	pthread_t thread;
	bool in_tap;
	char listen[160]; /* the TCP address listened on ("" for none) */
};

/* ---- helpers ------------------------------------------------------------- */

bool api_addr_is_loopback(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
	char host[128];

	if (hl >= sizeof(host))
		return false;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
	}
	if (!strcmp(host, "localhost") || !strcmp(host, "::1"))
		return true;
	return !strncmp(host, "127.", 4);
}

/* Constant time in the secret's length, whatever was presented. */
static bool api_secret_eq(const struct api *a, const char *given, size_t glen)
{
	unsigned char d = glen != a->secret_len;

	for (size_t i = 0; i < a->secret_len; i++)
		d |= (unsigned char)(a->secret[i] ^ (i < glen ? given[i] : 0));
	return d == 0;
}

static bool api_authorized(struct api_sess *s, struct lws *wsi, bool ws)
{
	struct api *a = s->a;
	char buf[512];
	int n;

	if (a->secret_len == 0 || s->unix_sock)
		return true;
	if (ws) {
		const char *t = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof(buf));

		if (t != NULL && *t)
			return api_secret_eq(a, t, strlen(t));
	}
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n < 7 || strncmp(buf, "Bearer ", 7) != 0)
		return false;
	return api_secret_eq(a, buf + 7, (size_t)n - 7);
}

static void api_copy_query(struct lws *wsi, char *out, size_t cap)
{
	size_t o = 0;
	char frag[API_QUERY_MAX];

	out[0] = '\0';
	for (int i = 0; i < 32; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n <= 0)
			break;
		if (o + (size_t)n + 2 > cap)
			break;
		if (o > 0)
			out[o++] = '&';
		memcpy(out + o, frag, (size_t)n);
		o += (size_t)n;
		out[o] = '\0';
	}
}

/* The allowed origin to echo, or NULL (no CORS headers). */
static const char *api_cors_origin(const struct api *a, struct lws *wsi, char *buf, size_t cap)
{
	if (lws_hdr_copy(wsi, buf, (int)cap, WSI_TOKEN_ORIGIN) <= 0)
		return NULL;
	if (a->n_cors == 0)
		return "*";
	for (size_t i = 0; i < a->n_cors; i++) {
		if (!strcmp(a->cors[i], "*"))
			return "*";
		if (!strcmp(a->cors[i], buf))
			return buf;
	}
	return NULL;
}

static int api_add_hdr(struct lws *wsi, const char *name, const char *val, unsigned char **p,
		       unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)val, (int)strlen(val), p, end);
}

static void api_unlink(struct api_sess *s)
{
	if (s->linked) {
		list_remove(&s->link);
		s->linked = false;
	}
}

static void api_sess_free(struct api_sess *s)
{
	struct api_msg *m;

	if (s->a == NULL)
		return;
	api_unlink(s);
	while ((m = s->head) != NULL) {
		s->head = m->next;
		free(m);
	}
	s->tail = NULL;
	s->queued = 0;
	free(s->body);
	s->body = NULL;
	free(s->resp);
	s->resp = NULL;
	free(s->early_body);
	s->early_body = NULL;
	if (s->wait) {
		s->wait->s = NULL;
		s->wait = NULL;
	}
	if (s->counted) {
		s->a->clients--;
		s->counted = false;
	}
	s->a = NULL;
}

/* Queues one message for the client; past the bound, drops the client. */
static void api_enqueue(struct api_sess *s, const char *data, size_t len)
{
	struct api_msg *m;

	if (s->dropping)
		return;
	if (s->queued + len > API_CLIENT_QUEUE_MAX) {
		log_info("api: dropping a client that does not read (%zu bytes queued)", s->queued);
		s->dropping = true;
		api_unlink(s);
		/* lws would hold the connection to flush what it has buffered
		 * (which this client never takes): shut the socket first, so
		 * the close is immediate. */
		if (lws_get_socket_fd(s->wsi) >= 0) {
			/* ...and with an RST, so the kernel drops what it
			 * queued for it too. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			int fd = lws_get_socket_fd(s->wsi);

			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			shutdown(fd, SHUT_RDWR);
		}
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	m = malloc(sizeof(*m) + LWS_PRE + API_CHUNK_HDR + len + 3);
	if (m == NULL)
		return;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE + API_CHUNK_HDR, data, len);
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->queued += len;
	lws_callback_on_writable(s->wsi);
}

/* Sends the headers of a response; body_len < 0: a chunked stream. */
static int api_send_headers_type(struct api_sess *s, int status, long body_len, const char *ctype,
				 const char *location)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
					   *end = buf + sizeof(buf) - 1;
	char ob[256];
	const char *origin = api_cors_origin(s->a, s->wsi, ob, sizeof(ob));

	if (lws_add_http_common_headers(
		    s->wsi, (unsigned)status, ctype,
		    body_len < 0 ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)body_len, &p, end))
		return -1;
	if (origin && (api_add_hdr(s->wsi, "access-control-allow-origin:", origin, &p, end) ||
		       api_add_hdr(s->wsi, "vary:", "Origin", &p, end)))
		return -1;
	if (body_len < 0 && api_add_hdr(s->wsi, "transfer-encoding:", "chunked", &p, end))
		return -1;
	if (location && api_add_hdr(s->wsi, "location:", location, &p, end))
		return -1;
	if (body_len < 0 && api_add_hdr(s->wsi, "cache-control:", "no-cache", &p, end))
		return -1;
	return lws_finalize_write_http_header(s->wsi, start, &p, end) ? -1 : 0;
}

static int api_send_headers(struct api_sess *s, int status, long body_len)
{
	return api_send_headers_type(s, status, body_len, "application/json", NULL);
}

static int api_preflight(struct api_sess *s)
{
	unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start,
					   *end = buf + sizeof(buf) - 1;
	char ob[256];
	const char *origin = api_cors_origin(s->a, s->wsi, ob, sizeof(ob));

	if (lws_add_http_common_headers(s->wsi, 204, "text/plain", 0, &p, end))
		return -1;
	if (origin != NULL) {
		if (api_add_hdr(s->wsi, "access-control-allow-origin:", origin, &p, end) ||
		    api_add_hdr(s->wsi, "vary:", "Origin", &p, end) ||
		    api_add_hdr(s->wsi, "access-control-allow-methods:",
				"GET, POST, PUT, PATCH, DELETE, OPTIONS", &p, end) ||
		    api_add_hdr(s->wsi, "access-control-allow-headers:",
				"Content-Type, Authorization", &p, end) ||
		    api_add_hdr(s->wsi, "access-control-max-age:", "300", &p, end))
			return -1;
		if (s->a->cors_pn &&
		    api_add_hdr(s->wsi, "access-control-allow-private-network:", "true", &p, end))
			return -1;
	}
	if (lws_finalize_write_http_header(s->wsi, start, &p, end))
		return -1;
	return lws_http_transaction_completed(s->wsi) ? -1 : 0;
}

/* A one-shot answer: headers now, the body when writeable. Takes body. */
static int api_reply(struct api_sess *s, int status, char *body)
{
	size_t len = body ? strlen(body) : 0;

	free(s->resp);
	s->resp = body;
	s->resp_len = len;
	if (s->ws) {
		if (body != NULL)
			api_enqueue(s, body, len);
		free(s->resp);
		s->resp = NULL;
		return 0;
	}
	if (api_send_headers(s, status, (long)len) < 0)
		return -1;
	if (len == 0) {
		free(s->resp);
		s->resp = NULL;
		return lws_http_transaction_completed(s->wsi) ? -1 : 0;
	}
	s->resp_pending = true;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* A file of the dashboard: headers now, bytes (copied, taken) when
 * writeable. */
static int api_reply_file(struct api_sess *s, const char *ctype, char *data, size_t len)
{
	free(s->resp);
	s->resp = data;
	s->resp_len = len;
	if (api_send_headers_type(s, 200, (long)len, ctype, NULL) < 0)
		return -1;
	if (len == 0) {
		free(s->resp);
		s->resp = NULL;
		return lws_http_transaction_completed(s->wsi) ? -1 : 0;
	}
	s->resp_pending = true;
	lws_callback_on_writable(s->wsi);
	return 0;
}

static const char *api_ui_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".woff2", "font/woff2" },
	};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);

		if (n >= e && !strcmp(name + n - e, types[i].ext))
			return types[i].type;
	}
	return "application/octet-stream";
}

/* A name under /ui/: path characters only, no "." or ".." segment, no
 * empty segment. */
static bool api_ui_name_ok(const char *name)
{
	const char *seg = name;

	if (*name == '\0' || *name == '/')
		return false;
	for (const char *p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t l = (size_t)(p - seg);

			if (l == 0 || (l == 1 && seg[0] == '.') ||
			    (l == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (*p == '\0')
				return true;
			seg = p + 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-~@+", *p)))
			return false;
	}
}

/* external-ui: the file, if its real path stays inside the directory. */
static int api_ui_read(const struct api *a, const char *name, char **data, size_t *len)
{
	char path[PATH_MAX], *real;
	struct stat st;
	size_t dl = strlen(a->ui_dir);
	ssize_t n;
	int fd, r = 0;

	*data = NULL;
	*len = 0;
	if (snprintf(path, sizeof(path), "%s/%s", a->ui_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	real = realpath(path, NULL);
	if (real == NULL)
		return -ENOENT;
	if (strncmp(real, a->ui_dir, dl) != 0 || real[dl] != '/') {
		free(real);
		return -EACCES;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(real);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > API_UI_FILE_MAX) {
		close(fd);
		return -EACCES;
	}
	*data = malloc((size_t)st.st_size + 1);
	if (*data == NULL) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, *data, (size_t)st.st_size);
	if (n < 0) {
		r = -errno;
		free(*data);
		*data = NULL;
	} else {
		*len = (size_t)n;
	}
	close(fd);
	return r;
}

/* GET /ui/...: the built-in dashboard, or external-ui's files. Open to
 * all, as in mihomo: the page asks for the secret and sends it itself. */
static int api_serve_ui(struct api_sess *s, const char *name)
{
	const struct ui_asset *f;
	char *data;
	size_t len;

	if (*name == '\0')
		name = "index.html";
	if (!api_ui_name_ok(name))
		return api_reply(s, 404, api_message("resource not found"));
	if (s->a->ui_dir != NULL) {
		if (api_ui_read(s->a, name, &data, &len) < 0)
			return api_reply(s, 404, api_message("resource not found"));
		return api_reply_file(s, api_ui_type(name), data, len);
	}
	f = ui_asset_find(name);
	if (f == NULL)
		return api_reply(s, 404, api_message("resource not found"));
	data = malloc(f->len ? f->len : 1);
	if (data == NULL)
		return -1;
	memcpy(data, f->data, f->len);
	return api_reply_file(s, f->type, data, f->len);
}

static void api_stream_begin(struct api_sess *s, const struct api_resp *r)
{
	struct api *a = s->a;

	s->stream = r->stream;
	s->level = r->stream_level;
	s->interval_ms = r->interval_ms ? r->interval_ms : 1000;
	s->due_ms = 0;
	list_insert_after(&a->streams, &s->link);
	s->linked = true;
}

/* Answers the request collected in s. 0, or -1 to close. */
static int api_dispatch(struct api_sess *s)
{
	struct api_req req = {
		.method = s->method,
		.path = s->path,
		.query = s->query,
		.body = s->body,
		.body_len = s->body_len,
		.websocket = s->ws,
	};
	struct api_resp resp;
	struct api_wait *w = calloc(1, sizeof(*w));
	int r;

	if (w == NULL)
		return -1;
	/* The backend may answer before api_handle returns (a name in
	 * /etc/hosts): api_done then frees w, clears s->wait and leaves the
	 * answer in s->early. */
	w->s = s;
	s->wait = w;
	s->in_dispatch = true;
	r = api_handle(&s->a->be, &req, w, &resp);
	s->in_dispatch = false;
	free(s->body);
	s->body = NULL;
	s->body_len = 0;
	if (resp.wait && r == 0) {
		if (s->early) {
			char *body = s->early_body;

			/* api_reply may end the transaction: s is gone. */
			s->early = false;
			s->early_body = NULL;
			return api_reply(s, s->early_status, body);
		}
		return 0; /* w is the backend's until api_done */
	}
	s->wait = NULL;
	free(w);
	if (r < 0)
		return api_reply(s, 500, api_message("out of memory"));
	if (resp.stream != API_STREAM_NONE) {
		api_stream_begin(s, &resp);
		if (!s->ws && api_send_headers(s, 200, -1) < 0)
			return -1;
		/* The first message right away. */
		uv_timer_again(&s->a->tick);
		return 0;
	}
	if (s->ws && resp.body == NULL) {
		api_resp_free(&resp);
		return -1;
	}
	r = api_reply(s, resp.status, resp.body);
	resp.body = NULL;
	return r;
}

void api_done(struct api_wait *w, int status, char *body)
{
	struct api_sess *s = w->s;

	if (s == NULL) {
		free(body);
		free(w);
		return;
	}
	s->wait = NULL;
	free(w);
	if (s->in_dispatch) {
		s->early = true;
		s->early_status = status;
		s->early_body = body;
		return;
	}
	{
		struct lws *wsi = s->wsi; /* s may go with the transaction */

		if (api_reply(s, status, body) < 0)
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

/* Writes the next queued message (a chunk over HTTP, a text frame over
 * WebSocket). 0 or -1 to close. */
static int api_write_next(struct api_sess *s)
{
	struct api_msg *m = s->head;
	unsigned char *data;
	size_t len;
	int n;

	if (m == NULL)
		return 0;
	s->head = m->next;
	if (s->head == NULL)
		s->tail = NULL;
	s->queued -= m->len;
	data = m->buf + LWS_PRE + API_CHUNK_HDR;
	len = m->len;
	if (s->ws) {
		n = lws_write(s->wsi, data, len, LWS_WRITE_TEXT);
	} else {
		char hdr[API_CHUNK_HDR + 1];
		int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", len + 1);

		/* One JSON document per line, as mihomo streams them. */
		data[len++] = '\n';
		data[len++] = '\r';
		data[len++] = '\n';
		data -= hl;
		memcpy(data, hdr, (size_t)hl);
		len += (size_t)hl;
		n = lws_write(s->wsi, data, len, LWS_WRITE_HTTP);
	}
	free(m);
	if (n < 0)
		return -1;
	if (s->head)
		lws_callback_on_writable(s->wsi);
	return 0;
}

/* ---- the tick: traffic, memory, connections --------------------------- */

static void api_on_tick(uv_timer_t *t)
{
	struct api *a = t->data;
	uint64_t up = 0, down = 0, now = uv_now(a->loop);
	char *traffic = NULL, *memory = NULL;
	struct list_node *n, *tmp;

	a->be.totals(a->be.ctx, &up, &down);
	list_for_each_safe(n, tmp, &a->streams) {
		struct api_sess *s = list_entry(n, struct api_sess, link);
		char *msg = NULL;

		if (s->stream == API_STREAM_LOGS || now < s->due_ms)
			continue;
		s->due_ms = now + s->interval_ms - 50;
		switch (s->stream) {
		case API_STREAM_TRAFFIC:
			if (traffic == NULL)
				traffic = api_stream_traffic(up - a->last_up, down - a->last_down);
			if (traffic)
				api_enqueue(s, traffic, strlen(traffic));
			break;
		case API_STREAM_MEMORY:
			if (memory == NULL)
				memory = api_stream_memory(a->be.memory(a->be.ctx));
			if (memory)
				api_enqueue(s, memory, strlen(memory));
			break;
		case API_STREAM_CONNECTIONS:
			msg = api_stream_connections(&a->be);
			if (msg)
				api_enqueue(s, msg, strlen(msg));
			free(msg);
			break;
		default:
			break;
		}
	}
	free(traffic);
	free(memory);
	a->last_up = up;
	a->last_down = down;
}

static void api_log_tap(void *arg, enum log_level level, const char *msg)
{
	struct api *a = arg;
	struct list_node *n, *tmp;
	char *line = NULL;

	if (a->in_tap || !pthread_equal(pthread_self(), a->thread))
		return;
	a->in_tap = true;
	list_for_each_safe(n, tmp, &a->streams) {
		struct api_sess *s = list_entry(n, struct api_sess, link);

		if (s->stream != API_STREAM_LOGS || level > s->level)
			continue;
		if (line == NULL)
			line = api_stream_log(level, msg);
		if (line)
			api_enqueue(s, line, strlen(line));
	}
	free(line);
	a->in_tap = false;
}

/* ---- the lws callback -------------------------------------------------- */

static enum api_method api_method_of(struct lws *wsi)
{
	char *uri;
	int len;

	switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
	case LWSHUMETH_GET:
		return API_GET;
	case LWSHUMETH_POST:
		return API_POST;
	case LWSHUMETH_PUT:
		return API_PUT;
	case LWSHUMETH_PATCH:
		return API_PATCH;
	case LWSHUMETH_DELETE:
		return API_DELETE;
	case LWSHUMETH_OPTIONS:
		return API_OPTIONS;
	default:
		return API_OTHER;
	}
}

static struct api *api_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static bool api_sess_init(struct api_sess *s, struct lws *wsi, bool ws)
{
	struct api *a = api_of(wsi);

	if (s->a != NULL)
		return true;
	memset(s, 0, sizeof(*s));
	s->a = a;
	s->wsi = wsi;
	s->ws = ws;
	s->unix_sock = lws_get_vhost(wsi) == a->unix_vh;
	if (a->clients >= a->max_clients)
		return false;
	a->clients++;
	s->counted = true;
	return true;
}

static int api_http(struct api_sess *s, struct lws *wsi, const char *uri)
{
	char cl[32];

	if (!api_sess_init(s, wsi, false))
		return api_reply(s, 503, api_message("too many clients"));
	s->method = api_method_of(wsi);
	snprintf(s->path, sizeof(s->path), "%s", uri && *uri ? uri : "/");
	api_copy_query(wsi, s->query, sizeof(s->query));
	if (s->method == API_OPTIONS)
		return api_preflight(s);
	if (s->method == API_GET && !strcmp(s->path, "/ui")) {
		if (api_send_headers_type(s, 302, 0, "text/plain", "/ui/") < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	if (s->method == API_GET && !strncmp(s->path, "/ui/", 4))
		return api_serve_ui(s, s->path + 4);
	if (!api_authorized(s, wsi, false))
		return api_reply(s, 401, api_message("Unauthorized"));
	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
	    strtoull(cl, NULL, 10) > 0) {
		if (strtoull(cl, NULL, 10) > API_BODY_MAX)
			return api_reply(s, 413, api_message("request body too large"));
		return 0; /* LWS_CALLBACK_HTTP_BODY follows */
	}
	return api_dispatch(s);
}

static int api_body_part(struct api_sess *s, const void *in, size_t len)
{
	char *nb;

	if (s->body_len + len > API_BODY_MAX)
		return -1;
	nb = realloc(s->body, s->body_len + len + 1);
	if (nb == NULL)
		return -1;
	memcpy(nb + s->body_len, in, len);
	s->body = nb;
	s->body_len += len;
	nb[s->body_len] = '\0';
	return 0;
}

static int api_ws_open(struct api_sess *s, struct lws *wsi)
{
	char uri[API_PATH_MAX];

	if (!api_sess_init(s, wsi, true))
		return -1;
	s->method = API_GET;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		snprintf(uri, sizeof(uri), "/");
	snprintf(s->path, sizeof(s->path), "%s", uri);
	api_copy_query(wsi, s->query, sizeof(s->query));
	return api_dispatch(s);
}

/* Refuses a WebSocket upgrade with an HTTP status. lws would answer it
 * as HTTP/1.0 at this stage, which WebSocket clients reject as a
 * malformed handshake rather than reading the status, so the answer is
 * written here: a status line, three headers and a JSON body. Returns
 * what LWS_CALLBACK_HTTP_CONFIRM_UPGRADE expects (>0: answered). */
static int api_refuse_upgrade(struct lws *wsi, const char *status, const char *msg)
{
	unsigned char buf[LWS_PRE + 512];
	char *body = api_message(msg);
	int n;

	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
		     "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
		     "connection: close\r\n\r\n%s",
		     status, body ? strlen(body) : 0, body ? body : "");
	free(body);
	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
		return -1;
	if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	return 1;
}

static int api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct api_sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return api_http(s, wsi, in);
	case LWS_CALLBACK_HTTP_BODY:
		if (s->a == NULL)
			return -1;
		return api_body_part(s, in, len) < 0 ? -1 : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (s->a == NULL)
			return -1;
		return api_dispatch(s);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (s == NULL || s->a == NULL)
			return 0;
		if (s->resp_pending) {
			unsigned char *buf = malloc(LWS_PRE + s->resp_len);
			int n;

			if (buf == NULL)
				return -1;
			memcpy(buf + LWS_PRE, s->resp, s->resp_len);
			n = lws_write(wsi, buf + LWS_PRE, s->resp_len, LWS_WRITE_HTTP_FINAL);
			free(buf);
			s->resp_pending = false;
			free(s->resp);
			s->resp = NULL;
			if (n < 0)
				return -1;
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		}
		return api_write_next(s);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		/* Before the upgrade, while an HTTP status can still be sent. */
		struct api_sess probe = { .a = api_of(wsi) };

		probe.unix_sock = lws_get_vhost(wsi) == probe.a->unix_vh;
		if (!api_authorized(&probe, wsi, true))
			return api_refuse_upgrade(wsi, "401 Unauthorized", "Unauthorized");
		if (probe.a->clients >= probe.a->max_clients)
			return api_refuse_upgrade(wsi, "503 Service Unavailable",
						  "too many clients");
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		return api_ws_open(s, wsi);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (s->a == NULL)
			return 0;
		if (api_write_next(s) < 0)
			return -1;
		/* A one-shot answer over WebSocket: close once it is out. */
		if (s->head == NULL && s->stream == API_STREAM_NONE && s->wait == NULL) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (s != NULL)
			api_sess_free(s);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols api_protocols[] = {
	{ "clash", api_callback, sizeof(struct api_sess), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void api_lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warn("api: lws: %.*s", (int)n, line);
	else
		log_debug("api: lws: %.*s", (int)n, line);
}

/* ---- start, stop ------------------------------------------------------- */

static int api_split_addr(const char *addr, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long p;
	size_t hl;

	if (colon == NULL)
		return -EINVAL;
	/* Port 0: any free port, which api_listen_addr() tells. */
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 0 || p > 65535)
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (hl >= cap)
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
	}
	*port = (int)p;
	return 0;
}

int api_check(const struct api_config *cfg, char *err, size_t errlen)
{
	char host[128];
	int port;

	if (cfg->addr == NULL)
		return 0;
	if (api_split_addr(cfg->addr, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen,
			 "external-controller '%s': expected HOST:PORT (127.0.0.1:9090)",
			 cfg->addr);
		return -EINVAL;
	}
	if ((cfg->secret == NULL || !cfg->secret[0]) && !api_addr_is_loopback(cfg->addr)) {
		snprintf(err, errlen,
			 "external-controller '%s' is reachable beyond this machine: set a "
			 "secret, or listen on 127.0.0.1",
			 cfg->addr);
		return -EPERM;
	}
	return 0;
}

static void api_free(struct api *a)
{
	for (size_t i = 0; i < a->n_cors; i++)
		free(a->cors[i]);
	free(a->cors);
	free(a->ui_dir);
	free(a->secret);
	free(a);
}

/* Why lws could not listen on host:port, for the one error line: the
 * listener is tried once more by hand for its errno (lws says only
 * "failed"). A host that is no numeric address says nothing more. */
static void api_why_not_listening(const char *addr, const char *host, int port, char *err,
				  size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char sport[8];
	int fd, one = 1, e = 0;

	snprintf(sport, sizeof(sport), "%d", port);
	if (getaddrinfo(host[0] ? host : NULL, sport, &hints, &ai) == 0 && ai != NULL) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
				e = errno;
			close(fd);
		}
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	if (e == EADDRINUSE)
		snprintf(err, errlen,
			 "external-controller %s is in use by another process (another "
			 "tun2socks daemon or run with this config?): give this one its own "
			 "address (--controller HOST:PORT; port 0: any free port)",
			 addr);
	else if (e != 0)
		snprintf(err, errlen, "external-controller %s: cannot listen: %s", addr,
			 strerror(e));
	else
		snprintf(err, errlen, "external-controller %s: cannot listen", addr);
}

/* A unix socket someone answers on is not ours to take over (unlinking
 * it would leave its server deaf); a stale one (nobody answers) is. */
static bool api_unix_in_use(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool in_use = false;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false; /* lws refuses it with its own error */
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	/* Non-blocking: a full backlog (EAGAIN) is someone listening too. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)
		in_use = true;
	close(fd);
	return in_use;
}

const char *api_listen_addr(const struct api *a)
{
	return a ? a->listen : "";
}

/* Runs the loop until lws has closed its handles (a->lws cleared) and
 * the tick is closed: at most ms, one turn at a time (the daemon's own
 * timers wake each turn up). */
static void api_wait_lws(struct api *a, uint64_t ms)
{
	uint64_t until;

	uv_update_time(a->loop);
	until = uv_now(a->loop) + ms;
	while ((a->lws != NULL || a->tick_open) && uv_now(a->loop) < until) {
		if (uv_run(a->loop, UV_RUN_ONCE) == 0)
			break;
		uv_update_time(a->loop);
	}
}

static void api_on_tick_closed(uv_handle_t *h)
{
	struct api *a = h->data;

	a->tick_open = false;
}

int api_start(uv_loop_t *loop, const struct api_config *cfg, const struct api_backend *be,
	      struct api **out, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	void *loops[1] = { loop };
	struct api *a;
	char host[128] = "";
	int port = 0, r = 0;

	*out = NULL;
	r = api_check(cfg, err, errlen);
	if (r < 0)
		return r;
	if (cfg->addr != NULL)
		(void)api_split_addr(cfg->addr, host, sizeof(host), &port);
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	a->loop = loop;
	a->be = *be;
	a->thread = pthread_self();
	a->max_clients = cfg->max_clients ? cfg->max_clients : API_CLIENTS_MAX;
	a->cors_pn = cfg->cors_private_network;
	list_init(&a->streams);
	if (cfg->secret && cfg->secret[0]) {
		a->secret = strdup(cfg->secret);
		if (a->secret == NULL)
			goto oom;
		a->secret_len = strlen(a->secret);
	}
	if (cfg->n_cors_origins) {
		a->cors = calloc(cfg->n_cors_origins, sizeof(*a->cors));
		if (a->cors == NULL)
			goto oom;
		for (size_t i = 0; i < cfg->n_cors_origins; i++) {
			a->cors[i] = strdup(cfg->cors_origins[i]);
			if (a->cors[i] == NULL)
				goto oom;
			a->n_cors++;
		}
	}
	if (cfg->ui_dir != NULL) {
		a->ui_dir = realpath(cfg->ui_dir, NULL);
		if (a->ui_dir == NULL) {
			snprintf(err, errlen, "external-ui %s: %s", cfg->ui_dir, strerror(errno));
			r = -errno;
			goto fail;
		}
	}
	lws_set_log_level(LLL_ERR, api_lws_log);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
	info.foreign_loops = loops;
	info.user = a;
	info.protocols = api_protocols;
	info.timeout_secs = 20;
	info.max_http_header_data = 4096;
	info.fd_limit_per_thread = a->max_clients * 2 + 16;
	/* lws closes its libuv handles after lws_context_destroy returns,
	 * and says so by clearing a->lws. */
	info.pcontext = &a->lws;
	a->lws = lws_create_context(&info);
	if (a->lws == NULL) {
		snprintf(err, errlen, "cannot start the control API (libwebsockets)");
		r = -EIO;
		goto fail;
	}
	if (cfg->addr != NULL) {
		info.port = port;
		info.iface = host[0] ? host : NULL;
		info.vhost_name = "tcp";
		/* An address lws cannot bind now fails here, rather than
		 * being retried in the background (as lws does for one not
		 * usable yet): the daemon never runs without its API. */
		info.options |= LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
		a->tcp_vh = lws_create_vhost(a->lws, &info);
		if (a->tcp_vh == NULL) {
			api_why_not_listening(cfg->addr, host, port, err, errlen);
			r = -EADDRINUSE;
			goto fail_ctx;
		}
		if (strchr(host, ':') != NULL)
			snprintf(a->listen, sizeof(a->listen), "[%s]:%d", host,
				 lws_get_vhost_listen_port(a->tcp_vh));
		else
			snprintf(a->listen, sizeof(a->listen), "%s:%d", host,
				 lws_get_vhost_listen_port(a->tcp_vh));
	}
	if (cfg->unix_path != NULL) {
		info.port = 0;
		info.iface = cfg->unix_path;
		info.vhost_name = "unix";
		info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
		if (api_unix_in_use(cfg->unix_path)) {
			snprintf(err, errlen,
				 "external-controller-unix %s is in use by another process "
				 "(another tun2socks daemon or run with this config?): give this "
				 "one its own path",
				 cfg->unix_path);
			r = -EADDRINUSE;
			goto fail_ctx;
		}
		unlink(cfg->unix_path);
		a->unix_vh = lws_create_vhost(a->lws, &info);
		if (a->unix_vh == NULL) {
			snprintf(err, errlen, "external-controller-unix %s: cannot listen",
				 cfg->unix_path);
			r = -EADDRINUSE;
			goto fail_ctx;
		}
	}
	r = uv_timer_init(loop, &a->tick);
	if (r < 0) {
		snprintf(err, errlen, "control API timer: %s", uv_strerror(r));
		goto fail_ctx;
	}
	a->tick.data = a;
	a->tick_open = true;
	a->be.totals(a->be.ctx, &a->last_up, &a->last_down);
	uv_timer_start(&a->tick, api_on_tick, 1000, 1000);
	log_set_tap(api_log_tap, a);
	*out = a;
	return 0;
fail_ctx:
	lws_context_destroy(a->lws);
	api_wait_lws(a, 100);
	if (a->lws != NULL)
		lws_context_destroy(a->lws);
	api_wait_lws(a, 2000);
	goto fail;
oom:
	r = -ENOMEM;
	snprintf(err, errlen, "out of memory");
fail:
	api_free(a);
	return r;
}

void api_stop(struct api *a)
{
	if (a == NULL)
		return;
	log_set_tap(NULL, NULL);
	if (a->tick_open)
		uv_close((uv_handle_t *)&a->tick, api_on_tick_closed);
	/* Sessions go with the context (their close callbacks run now); its
	 * handles close on the loop's next turns, which must pass before
	 * the daemon closes what is left (uv_walk would close them twice). */
	if (a->lws != NULL)
		lws_context_destroy(a->lws);
	api_wait_lws(a, 100);
	if (a->lws != NULL) {
		/* With a foreign loop, lws 4.1 finishes (frees the context and
		 * clears a->lws) on a second call once its handles are closed. */
		lws_context_destroy(a->lws);
		api_wait_lws(a, 2000);
	}
	if (a->lws != NULL)
		log_warn("api: libwebsockets did not finish closing");
	api_free(a);
}
