/* libFuzzer target for the control API's request handling (api_handle.c).
 *
 * The input is a request: its first byte picks the method and flags, the
 * rest is "path\0query\0body". It is answered against a real config
 * (loaded from the YAML below) and a fixed set of flows. Checked, beyond
 * sanitizer cleanliness:
 *  - the status is one the API uses, and a body, when there is one, is a
 *    JSON object jansson reads back, its length the one reported;
 *  - a stream is only started by GET, with status 200 and no body;
 *  - a wait is only asked for by the two endpoints that wait, and the
 *    answer the backend would give (api_dns_answer) is valid JSON;
 *  - the stream documents are valid JSON;
 *  - a connection id parses back to the id it was made from.
 */
#include "config/config.h"
#include "tun2socks/api/api_handle.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static const char conf_yaml[] = "mode: rule\n"
				"rule-providers:\n"
				"  web: { type: http, behavior: domain, url: 'http://r.test/x' }\n"
				"  inl: { type: inline, behavior: domain, payload: [a.test] }\n"
				"proxies:\n"
				"  - { name: a, type: socks5, server: 192.0.2.1, port: 1080 }\n"
				"  - { name: \"b c\", type: http, server: 192.0.2.2, port: 8080 }\n"
				"proxy-groups:\n"
				"  - { name: g, type: select, proxies: [a, \"b c\", DIRECT] }\n"
				"rules:\n"
				"  - DOMAIN-SUFFIX,example.test,g\n"
				"  - AND,((DST-PORT,443),(NETWORK,tcp)),a\n"
				"  - IP-CIDR,192.0.2.0/24,DIRECT,no-resolve\n"
				"  - MATCH,REJECT\n";

struct harness {
	struct config *cfg;
	enum router_mode mode;
	enum log_level level;
	int waits;
};

static void h_flows(void *ctx, flow_info_fn fn, void *arg)
{
	static ip_addr_t src, dst;
	static struct route rt;
	struct flow_info fi = { 0 };

	(void)ctx;
	IP_ADDR4(&src, 198, 18, 0, 1);
	IP_ADDR4(&dst, 198, 18, 0, 9);
	rt.action = ROUTE_PROXY;
	rt.rule = "DOMAIN-SUFFIX,example.test,g";
	rt.via = "a";
	fi.id = 7;
	fi.src = &src;
	fi.src_port = 40000;
	fi.dst = &dst;
	fi.dst_port = 443;
	fi.domain = "www.example.test";
	fi.route = &rt;
	fi.up = 10;
	fi.down = 20;
	fi.start_ms = 5;
	fn(arg, &fi);
	fi.id = 3;
	fi.udp = true;
	fi.dst = NULL;
	fi.domain = NULL;
	rt.rule = "AND,((DST-PORT,443),(NETWORK,tcp)),a";
	socks5_addr_from_domain(&rt.target, "x.test", 53);
	fn(arg, &fi);
	fi.route = NULL;
	fn(arg, &fi);
}

static int h_close(void *ctx, bool udp, uint64_t id)
{
	(void)ctx;
	return id == 0 || id == (udp ? 3u : 7u) ? 0 : -ENOENT;
}

static void h_totals(void *ctx, uint64_t *up, uint64_t *down)
{
	(void)ctx;
	*up = 100;
	*down = 200;
}

static uint64_t h_memory(void *ctx)
{
	(void)ctx;
	return 1 << 20;
}

static uint64_t h_now(void *ctx)
{
	(void)ctx;
	return 1000;
}

static const struct config *h_config(void *ctx)
{
	return ((struct harness *)ctx)->cfg;
}

static enum router_mode h_mode(void *ctx)
{
	return ((struct harness *)ctx)->mode;
}

static void h_set_mode(void *ctx, enum router_mode m)
{
	CHECK(m <= ROUTER_MODE_DIRECT);
	((struct harness *)ctx)->mode = m;
}

static void h_set_level(void *ctx, enum log_level l)
{
	CHECK(l <= LOG_DEBUG);
	((struct harness *)ctx)->level = l;
}

static enum log_level h_level(void *ctx)
{
	return ((struct harness *)ctx)->level;
}

static int h_reload(void *ctx, const char *path, struct api_wait *w)
{
	(void)path;
	(void)w;
	((struct harness *)ctx)->waits++;
	return 0;
}

static int h_lookup(void *ctx, const char *name, int qtype, struct api_wait *w)
{
	struct sockaddr_storage ss[2] = { 0 };
	char *ans;
	json_t *j;

	(void)w;
	CHECK(qtype == 1 || qtype == 28);
	((struct harness *)ctx)->waits++;
	ss[0].ss_family = AF_INET;
	ss[1].ss_family = AF_INET6;
	ans = api_dns_answer(name, qtype, 0, ss, 2);
	CHECK(ans != NULL);
	j = json_loads(ans, 0, NULL);
	CHECK(j != NULL);
	json_decref(j);
	free(ans);
	return 0;
}

static int h_refresh(void *ctx, bool proxies, const char *name, struct api_wait *w)
{
	(void)proxies;
	(void)w;
	CHECK(name != NULL && name[0] != '\0');
	((struct harness *)ctx)->waits++;
	return 0;
}

static int h_healthcheck(void *ctx, const char *name, struct api_wait *w)
{
	(void)w;
	CHECK(name != NULL);
	((struct harness *)ctx)->waits++;
	return 0;
}

static int64_t h_updated(void *ctx, bool proxies, const char *name)
{
	(void)ctx;
	(void)proxies;
	(void)name;
	return 1700000000;
}

static size_t h_count(void *ctx, size_t i)
{
	(void)ctx;
	return i;
}

static const char *h_global(void *ctx)
{
	(void)ctx;
	return "a";
}

static void check_json(const char *s, size_t len)
{
	json_t *j;

	CHECK(s != NULL);
	CHECK(strlen(s) == len);
	j = json_loads(s, 0, NULL);
	CHECK(j != NULL && json_is_object(j));
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness h;
	static const enum api_method methods[] = { API_GET,    API_PUT,     API_PATCH, API_POST,
						   API_DELETE, API_OPTIONS, API_OTHER };
	const struct api_backend be = {
		.ctx = &h,
		.flows = h_flows,
		.close = h_close,
		.totals = h_totals,
		.memory = h_memory,
		.now_ms = h_now,
		.config = h_config,
		.mode = h_mode,
		.set_mode = h_set_mode,
		.set_log_level = h_set_level,
		.log_level = h_level,
		.reload = h_reload,
		.lookup = h_lookup,
		.refresh = h_refresh,
		.healthcheck = h_healthcheck,
		.updated_at = h_updated,
		.rule_set_count = h_count,
		.global = h_global,
	};
	char *buf, *path, *query, *body, *end;
	struct api_req req = { 0 };
	struct api_resp resp;
	int waits, r;

	if (h.cfg == NULL) {
		CHECK(config_load_buf(conf_yaml, sizeof(conf_yaml) - 1, "fuzz.yaml", &h.cfg,
				      NULL) == 0);
		h.level = LOG_INFO;
	}
	if (size < 1 || size > 8192)
		return 0;
	buf = malloc(size + 3);
	CHECK(buf != NULL);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = buf[size] = buf[size + 1] = '\0';
	end = buf + size - 1;
	path = buf;
	query = path + strlen(path) + 1;
	body = query <= end ? query + strlen(query) + 1 : end;
	if (query > end)
		query = end;
	if (body > end)
		body = end;
	req.method = methods[(data[0] & 0x7f) % 7];
	req.websocket = data[0] & 0x80;
	req.path = path[0] == '/' ? path : "/";
	req.query = query;
	req.body = body;
	req.body_len = (size_t)(end - body);
	waits = h.waits;
	r = api_handle(&be, &req, NULL, &resp);
	CHECK(r == 0);
	switch (resp.status) {
	case 200:
	case 204:
	case 400:
	case 403:
	case 404:
	case 405:
	case 409:
	case 500:
		break;
	case 0:
		CHECK(resp.wait);
		break;
	default:
		abort();
	}
	if (resp.body != NULL)
		check_json(resp.body, resp.len);
	if (resp.status == 204)
		CHECK(resp.body == NULL);
	if (resp.stream != API_STREAM_NONE)
		CHECK(req.method == API_GET && resp.status == 200 && resp.body == NULL);
	if (resp.wait)
		CHECK(h.waits == waits + 1 && resp.body == NULL &&
		      (!strcmp(req.path, "/configs") || !strcmp(req.path, "/dns/query") ||
		       !strncmp(req.path, "/providers/", 11)));
	else
		CHECK(h.waits == waits);
	api_resp_free(&resp);

	/* The stream documents, and ids. */
	{
		char *s = api_stream_connections(&be), id[32];
		uint64_t v = 0, got;
		bool udp;

		check_json(s, strlen(s));
		free(s);
		s = api_stream_log((enum log_level)(data[0] % 4), path, data[0] & 0x40);
		check_json(s, strlen(s));
		free(s);
		memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
		v = v ? v : 1;
		snprintf(id, sizeof(id), "%s-%" PRIu64, data[0] & 1 ? "udp" : "tcp", v);
		CHECK(api_conn_id_parse(id, &udp, &got) == 0 && got == v && udp == (data[0] & 1));
		(void)api_conn_id_parse(path, &udp, &got);
	}
	free(buf);
	return 0;
}
