/* api_handle: the control API's answers over a fake backend and a real
 * config: /logs?format=structured (mihomo's LogStructured), the built-in
 * GLOBAL selector in /proxies and /group, and the providers' endpoints
 * (one provider's GET, PUT and healthcheck, routed by kind). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tun2socks/api/api_handle.h"
#include "test.h"

static const char conf_text[] =
	"proxies:\n"
	"  - { name: a, type: socks5, server: 192.0.2.1, port: 1080 }\n"
	"  - { name: b, type: socks5, server: 192.0.2.2, port: 1080 }\n"
	"proxy-providers:\n"
	"  pf: { type: file, path: /nonexistent/pf.yaml }\n"
	"proxy-groups:\n"
	"  - { name: g, type: select, proxies: [a, b], url: 'http://check.test/' }\n"
	"rule-providers:\n"
	"  inl: { type: inline, behavior: domain, payload: [x.test, y.test] }\n"
	"  web: { type: http, behavior: domain, format: text, url: 'http://rules.test/r.txt' }\n"
	"rules:\n"
	"  - RULE-SET,inl,REJECT\n"
	"  - MATCH,DIRECT\n";

struct fake {
	struct config *cfg;
	char selected[64], sel_group[64];
	char refreshed[64];
	bool refreshed_proxies;
	char checked[64];
	int waits;
};

/* One flow mode global sent through group g's member a. */
static void f_flows(void *ctx, flow_info_fn fn, void *arg)
{
	static ip_addr_t src, dst;
	static struct route rt;
	struct flow_info fi = { 0 };

	(void)ctx;
	IP_ADDR4(&src, 198, 18, 0, 1);
	IP_ADDR4(&dst, 198, 18, 0, 9);
	rt.action = ROUTE_PROXY;
	rt.rule = "mode global";
	rt.via = "a";
	rt.group = "g";
	fi.id = 1;
	fi.src = &src;
	fi.dst = &dst;
	fi.dst_port = 443;
	fi.route = &rt;
	fn(arg, &fi);
}

static void f_totals(void *ctx, uint64_t *up, uint64_t *down)
{
	(void)ctx;
	*up = *down = 0;
}

static uint64_t f_zero(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct config *f_config(void *ctx)
{
	return ((struct fake *)ctx)->cfg;
}

static enum router_mode f_mode(void *ctx)
{
	(void)ctx;
	return ROUTER_MODE_GLOBAL;
}

static enum log_level f_level(void *ctx)
{
	(void)ctx;
	return LOG_INFO;
}

static int f_select(void *ctx, const char *group, const char *member)
{
	struct fake *f = ctx;

	if ((strcmp(group, "GLOBAL") != 0 && strcmp(group, "g") != 0) || !strcmp(member, "zz"))
		return -ENOENT;
	snprintf(f->sel_group, sizeof(f->sel_group), "%s", group);
	snprintf(f->selected, sizeof(f->selected), "%s", member);
	return 0;
}

static const char *f_global(void *ctx)
{
	struct fake *f = ctx;

	return !strcmp(f->sel_group, "GLOBAL") ? f->selected : "a";
}

static int f_refresh(void *ctx, bool proxies, const char *name, struct api_wait *w)
{
	struct fake *f = ctx;

	(void)w;
	snprintf(f->refreshed, sizeof(f->refreshed), "%s", name);
	f->refreshed_proxies = proxies;
	f->waits++;
	return 0;
}

static int f_healthcheck(void *ctx, const char *name, struct api_wait *w)
{
	struct fake *f = ctx;

	(void)w;
	snprintf(f->checked, sizeof(f->checked), "%s", name);
	f->waits++;
	return 0;
}

static int64_t f_updated(void *ctx, bool proxies, const char *name)
{
	(void)ctx;
	return !proxies && !strcmp(name, "web") ? 86400 : 0;
}

static size_t f_count(void *ctx, size_t i)
{
	(void)ctx;
	return i == 0 ? 2 : 7;
}

static struct fake fk;

static const struct api_backend be = {
	.ctx = &fk,
	.flows = f_flows,
	.totals = f_totals,
	.memory = f_zero,
	.now_ms = f_zero,
	.config = f_config,
	.mode = f_mode,
	.log_level = f_level,
	.select = f_select,
	.refresh = f_refresh,
	.healthcheck = f_healthcheck,
	.updated_at = f_updated,
	.rule_set_count = f_count,
	.global = f_global,
};

/* Answers a request; the JSON body parsed (NULL: none). */
static json_t *ask(enum api_method m, const char *path, const char *query, const char *body,
		   struct api_resp *resp)
{
	struct api_req req = { .method = m, .path = path, .query = query ? query : "" };
	json_t *j = NULL;

	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	T_EQ_INT(api_handle(&be, &req, NULL, resp), 0);
	if (resp->body)
		j = json_loads(resp->body, 0, NULL);
	api_resp_free(resp);
	return j;
}

static const char *str(json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static void test_logs(void)
{
	struct api_resp resp;
	char *s;
	json_t *j;

	json_decref(ask(API_GET, "/logs", "level=warning&format=structured", NULL, &resp));
	T_EQ_INT(resp.stream, API_STREAM_LOGS);
	T_CHECK(resp.structured);
	T_EQ_INT(resp.stream_level, LOG_WARN);
	json_decref(ask(API_GET, "/logs", "level=info", NULL, &resp));
	T_CHECK(!resp.structured);

	s = api_stream_log(LOG_WARN, "hello", true);
	j = json_loads(s, 0, NULL);
	free(s);
	T_CHECK(j != NULL);
	T_EQ_STR(str(j, "level"), "warn");
	T_EQ_STR(str(j, "message"), "hello");
	T_CHECK(str(j, "time") && strlen(str(j, "time")) == 8 && str(j, "time")[2] == ':');
	T_CHECK(json_is_array(json_object_get(j, "fields")) &&
		json_array_size(json_object_get(j, "fields")) == 0);
	T_EQ_INT((int)json_object_size(j), 4);
	json_decref(j);
	s = api_stream_log(LOG_WARN, "hello", false);
	T_EQ_STR(s, "{\"type\":\"warning\",\"payload\":\"hello\"}");
	free(s);
}

static void test_global(void)
{
	struct api_resp resp;
	json_t *j, *gl;

	fk.sel_group[0] = '\0';
	j = ask(API_GET, "/proxies", NULL, NULL, &resp);
	gl = json_object_get(json_object_get(j, "proxies"), "GLOBAL");
	T_EQ_STR(str(gl, "type"), "Selector");
	T_EQ_STR(str(gl, "now"), "a");
	/* mihomo's members: DIRECT, REJECT, proxies, groups */
	T_EQ_INT((int)json_array_size(json_object_get(gl, "all")), 5);
	T_EQ_STR(json_string_value(json_array_get(json_object_get(gl, "all"), 4)), "g");
	json_decref(j);

	json_decref(ask(API_PUT, "/proxies/GLOBAL", NULL, "{\"name\":\"zz\"}", &resp));
	T_EQ_INT(resp.status, 400); /* a selector without that member */
	json_decref(ask(API_PUT, "/proxies/GLOBAL", NULL, "{\"name\":\"b\"}", &resp));
	T_EQ_INT(resp.status, 204);
	T_EQ_STR(fk.sel_group, "GLOBAL");
	j = ask(API_GET, "/proxies/GLOBAL", NULL, NULL, &resp);
	T_EQ_STR(str(j, "now"), "b");
	json_decref(j);
	j = ask(API_GET, "/group", NULL, NULL, &resp);
	T_EQ_INT((int)json_array_size(json_object_get(j, "proxies")), 2);
	T_EQ_STR(str(json_array_get(json_object_get(j, "proxies"), 1), "name"), "GLOBAL");
	json_decref(j);
	j = ask(API_GET, "/group/g", NULL, NULL, &resp);
	T_EQ_INT(resp.status, 200);
	T_EQ_STR(str(j, "type"), "Selector");
	json_decref(j);
	j = ask(API_GET, "/group/GLOBAL", NULL, NULL, &resp);
	T_EQ_STR(str(j, "now"), "b");
	json_decref(j);
	json_decref(ask(API_GET, "/group/a", NULL, NULL, &resp));
	T_EQ_INT(resp.status, 404);
	/* a connection mode global routed: the chain ends at GLOBAL */
	j = ask(API_GET, "/connections", NULL, NULL, &resp);
	gl = json_object_get(json_array_get(json_object_get(j, "connections"), 0), "chains");
	T_EQ_INT((int)json_array_size(gl), 3);
	T_EQ_STR(json_string_value(json_array_get(gl, 1)), "g");
	T_EQ_STR(json_string_value(json_array_get(gl, 2)), "GLOBAL");
	json_decref(j);
	T_EQ_INT(resp.stream, API_STREAM_NONE);
	json_decref(ask(API_GET, "/connections", "interval=500", NULL, &resp));
	T_EQ_INT(resp.stream, API_STREAM_CONNECTIONS);
	T_EQ_INT((int)resp.interval_ms, 500);
}

static void test_providers(void)
{
	struct api_resp resp;
	json_t *j, *p;
	int waits = fk.waits;

	j = ask(API_GET, "/providers/proxies", NULL, NULL, &resp);
	p = json_object_get(j, "providers");
	T_EQ_STR(str(json_object_get(p, "default"), "vehicleType"), "Compatible");
	T_EQ_STR(str(json_object_get(p, "pf"), "vehicleType"), "File");
	T_EQ_STR(str(json_object_get(p, "pf"), "testUrl"), CONFIG_GROUP_TEST_URL);
	T_EQ_STR(str(json_object_get(p, "default"), "testUrl"), "http://check.test/");
	json_decref(j);
	j = ask(API_GET, "/providers/proxies/default", NULL, NULL, &resp);
	T_EQ_INT(resp.status, 200);
	T_EQ_STR(str(j, "name"), "default");
	T_EQ_INT((int)json_array_size(json_object_get(j, "proxies")), 2);
	T_EQ_STR(str(j, "expectedStatus"), "*");
	json_decref(j);
	j = ask(API_GET, "/providers/proxies/default/a", NULL, NULL, &resp);
	T_EQ_STR(str(j, "type"), "Socks5");
	json_decref(j);
	json_decref(ask(API_GET, "/providers/proxies/none", NULL, NULL, &resp));
	T_EQ_INT(resp.status, 404);
	/* a file provider: read at each load, nothing to download */
	json_decref(ask(API_PUT, "/providers/proxies/pf", NULL, NULL, &resp));
	T_EQ_INT(resp.status, 204);
	T_EQ_INT(fk.waits, waits);
	json_decref(ask(API_GET, "/providers/proxies/pf/healthcheck", NULL, NULL, &resp));
	T_CHECK(resp.wait);
	T_EQ_STR(fk.checked, "pf");

	j = ask(API_GET, "/providers/rules", NULL, NULL, &resp);
	p = json_object_get(j, "providers");
	T_EQ_INT((int)json_integer_value(json_object_get(json_object_get(p, "inl"), "ruleCount")),
		 2);
	T_EQ_INT((int)json_integer_value(json_object_get(json_object_get(p, "web"), "ruleCount")),
		 7);
	json_decref(j);
	j = ask(API_GET, "/providers/rules/web", NULL, NULL, &resp);
	T_EQ_STR(str(j, "updatedAt"), "1970-01-02T00:00:00Z");
	T_EQ_STR(str(j, "format"), "TextRule");
	T_EQ_STR(str(j, "vehicleType"), "HTTP");
	json_decref(j);
	j = ask(API_GET, "/providers/rules/inl", NULL, NULL, &resp);
	T_EQ_INT((int)json_array_size(json_object_get(j, "payload")), 2);
	json_decref(j);
	json_decref(ask(API_PUT, "/providers/rules/web", NULL, NULL, &resp));
	T_CHECK(resp.wait);
	T_EQ_STR(fk.refreshed, "web");
	T_CHECK(!fk.refreshed_proxies);
	/* a rule-provider's name under /proxies is not one */
	json_decref(ask(API_PUT, "/providers/proxies/web", NULL, NULL, &resp));
	T_EQ_INT(resp.status, 404);
	json_decref(ask(API_PUT, "/providers/rules/none", NULL, NULL, &resp));
	T_EQ_INT(resp.status, 404);
}

int main(void)
{
	struct conf_err_list errs;

	if (config_load_buf(conf_text, sizeof(conf_text) - 1, "api.yaml", &fk.cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%d:%d: %s\n", errs.v[i].line, errs.v[i].col,
				errs.v[i].msg);
		return 1;
	}
	T_RUN(test_logs);
	T_RUN(test_global);
	T_RUN(test_providers);
	config_free(fk.cfg);
	return test_summary();
}
