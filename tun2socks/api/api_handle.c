/* api_handle: the Clash API's endpoints, in mihomo's JSON shapes
 * (hub/route in MetaCubeX/mihomo): /version, /configs, /rules,
 * /connections, /proxies, /dns/query and the streams' documents. */
#define _GNU_SOURCE /* strcasecmp, gmtime_r */

#include "tun2socks/api/api_handle.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "config/config.h"
#include "tun2socks/route/group.h"
#include "tun2socks/base/addr.h"
#include "tun2socks/upstream/socks5.h"

/* A request body larger than this is refused by the server before it
 * gets here; JSON nesting deeper than jansson's limit is refused by it. */

static char *api_dump(json_t *j, size_t *len)
{
	char *s;

	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

/* A JSON string of s, whose bytes come from outside (a DNS name, a log
 * line): invalid UTF-8, which jansson refuses, becomes '?'. */
static json_t *api_str(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j != NULL || s == NULL)
		return j;
	copy = strdup(s);
	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

char *api_message(const char *msg)
{
	return api_dump(json_pack("{s:o}", "message", api_str(msg)), NULL);
}

static int api_status(struct api_resp *resp, int status, const char *msg)
{
	resp->status = status;
	if (msg == NULL)
		return 0;
	resp->body = api_message(msg);
	if (resp->body == NULL)
		return -ENOMEM;
	resp->len = strlen(resp->body);
	return 0;
}

static int api_json(struct api_resp *resp, json_t *j)
{
	resp->status = 200;
	resp->body = api_dump(j, &resp->len);
	return resp->body == NULL ? -ENOMEM : 0;
}

bool api_query_get(const char *q, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);

	if (cap > 0)
		buf[0] = '\0';
	while (q != NULL && *q) {
		const char *end = strchr(q, '&');
		size_t len = end ? (size_t)(end - q) : strlen(q);

		if (len >= nl && strncmp(q, name, nl) == 0 && (len == nl || q[nl] == '=')) {
			size_t vl = len > nl ? len - nl - 1 : 0;

			if (cap > 0) {
				if (vl >= cap)
					vl = cap - 1;
				memcpy(buf, q + nl + 1, vl);
				buf[vl] = '\0';
			}
			return true;
		}
		q = end ? end + 1 : NULL;
	}
	return false;
}

/* ---- names ---------------------------------------------------------------- */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static int api_level_parse(const char *s, enum log_level *out)
{
	if (!strcmp(s, "warn")) {
		*out = LOG_WARN;
		return 0;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const mode_names[] = { "rule", "global", "direct" };

/* "DOMAIN-SUFFIX" -> mihomo's "DomainSuffix" (its RuleType.String()). */
static void api_rule_type(const char *kw, size_t len, char *out, size_t cap)
{
	static const struct {
		const char *ours, *theirs;
	} special[] = {
		{ "IP-CIDR", "IPCIDR" },
		{ "IP-CIDR6", "IPCIDR" },
		{ "SRC-IP-CIDR", "SrcIPCIDR" },
		{ "GEOIP", "GeoIP" },
		{ "SRC-GEOIP", "SrcGeoIP" },
		{ "IP-SUFFIX", "IPSuffix" },
		{ "IP-ASN", "IPASN" },
		{ "GEOSITE", "GeoSite" },
		{ "UID", "Uid" },
	};
	size_t o = 0;
	bool up = true;

	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		if (strlen(special[i].ours) == len && !strncasecmp(kw, special[i].ours, len)) {
			snprintf(out, cap, "%s", special[i].theirs);
			return;
		}
	}
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		char c = kw[i];

		if (c == '-') {
			up = true;
			continue;
		}
		if (c >= 'A' && c <= 'Z' && !up)
			c = (char)(c - 'A' + 'a');
		else if (c >= 'a' && c <= 'z' && up)
			c = (char)(c - 'a' + 'A');
		out[o++] = c;
		up = false;
	}
	out[o] = '\0';
}

/* A rule line "TYPE,PAYLOAD,TARGET[,option]" (or a logical
 * "AND,((...)),TARGET", or "MATCH,TARGET") into its three parts. */
struct api_rule {
	char type[32];
	char payload[512];
	char target[128];
};

static void api_rule_split(const char *text, struct api_rule *out)
{
	const char *c1 = strchr(text, ',');
	const char *last;
	size_t tl;

	memset(out, 0, sizeof(*out));
	if (c1 == NULL) {
		api_rule_type(text, strlen(text), out->type, sizeof(out->type));
		return;
	}
	api_rule_type(text, (size_t)(c1 - text), out->type, sizeof(out->type));
	last = strrchr(text, ',');
	if (!strcmp(out->type, "Match")) {
		snprintf(out->target, sizeof(out->target), "%s", c1 + 1);
		return;
	}
	if (!strcmp(out->type, "And") || !strcmp(out->type, "Or") || !strcmp(out->type, "Not")) {
		tl = (size_t)(last - c1 - 1);
		snprintf(out->payload, sizeof(out->payload), "%.*s", (int)tl, c1 + 1);
		snprintf(out->target, sizeof(out->target), "%s", last + 1);
		return;
	}
	{
		const char *c2 = strchr(c1 + 1, ',');

		if (c2 == NULL) {
			snprintf(out->payload, sizeof(out->payload), "%s", c1 + 1);
			return;
		}
		snprintf(out->payload, sizeof(out->payload), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
		{
			const char *c3 = strchr(c2 + 1, ',');
			size_t n = c3 ? (size_t)(c3 - c2 - 1) : strlen(c2 + 1);

			snprintf(out->target, sizeof(out->target), "%.*s", (int)n, c2 + 1);
		}
	}
}

/* ---- /connections ------------------------------------------------------- */

int api_conn_id_parse(const char *s, bool *udp, uint64_t *id)
{
	char *end;
	unsigned long long v;

	*udp = false;
	*id = 0;
	if (!strncmp(s, "tcp-", 4))
		*udp = false;
	else if (!strncmp(s, "udp-", 4))
		*udp = true;
	else
		return -EINVAL;
	if (s[4] < '0' || s[4] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s + 4, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return -EINVAL;
	*id = v;
	return 0;
}

static void api_ip_str(const ip_addr_t *a, char *buf, size_t cap)
{
	/* addr_ep_str writes "ip:port" or "[ip6]:port": keep the address. */
	char t[80];
	char *colon;

	addr_ep_str(a, 0, t, sizeof(t));
	if (t[0] == '[') {
		char *rb = strchr(t, ']');

		if (rb)
			*rb = '\0';
		snprintf(buf, cap, "%s", t + 1);
		return;
	}
	colon = strrchr(t, ':');
	if (colon)
		*colon = '\0';
	snprintf(buf, cap, "%s", t);
}

struct api_conns {
	json_t *list;
	uint64_t now_ms;
	struct timespec wall;
	int err;
};

static void api_iso_time(const struct api_conns *c, uint64_t start_ms, char *buf, size_t cap)
{
	uint64_t ago = c->now_ms > start_ms ? c->now_ms - start_ms : 0;
	int64_t ms = (int64_t)c->wall.tv_sec * 1000 + c->wall.tv_nsec / 1000000 - (int64_t)ago;
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void api_conn_add(void *arg, const struct flow_info *fi)
{
	struct api_conns *c = arg;
	char id[32], src[80] = "", dst[80] = "", sport[8], dport[8], start[64];
	const char *host = fi->domain ? fi->domain : "";
	struct api_rule rule = { .type = "", .payload = "" };
	const char *via = "";
	json_t *chains, *e;
	uint16_t dp = fi->dst_port;

	if (c->err)
		return;
	snprintf(id, sizeof(id), "%s-%" PRIu64, fi->udp ? "udp" : "tcp", fi->id);
	api_ip_str(fi->src, src, sizeof(src));
	if (fi->dst != NULL) {
		api_ip_str(fi->dst, dst, sizeof(dst));
	} else if (fi->route != NULL) {
		const struct socks5_addr *t = &fi->route->target;

		dp = t->port;
		if (t->atyp == SOCKS5_ATYP_DOMAIN)
			host = t->u.domain;
		else if (t->atyp == SOCKS5_ATYP_IPV4)
			inet_ntop(AF_INET, t->u.v4, dst, sizeof(dst));
		else
			inet_ntop(AF_INET6, t->u.v6, dst, sizeof(dst));
	}
	snprintf(sport, sizeof(sport), "%u", fi->src_port);
	snprintf(dport, sizeof(dport), "%u", dp);
	api_iso_time(c, fi->start_ms, start, sizeof(start));
	chains = json_array();
	if (fi->route != NULL) {
		via = fi->route->via ? fi->route->via : "";
		if (fi->route->rule && strncmp(fi->route->rule, "mode ", 5) != 0 &&
		    strcmp(fi->route->rule, "no rule matched") != 0 &&
		    strcmp(fi->route->rule, "MATCH (no rules)") != 0)
			api_rule_split(fi->route->rule, &rule);
		else if (fi->route->rule && !strcmp(fi->route->rule, "MATCH (no rules)"))
			snprintf(rule.type, sizeof(rule.type), "Match");
		/* mihomo lists the chain from the proxy used back to the
		 * rule's target (a group). */
		json_array_append_new(chains, api_str(via));
		if (rule.target[0] && strcmp(rule.target, via) != 0)
			json_array_append_new(chains, api_str(rule.target));
		/* mode global: through the group GLOBAL chose, then GLOBAL */
		if (fi->route->rule && !strcmp(fi->route->rule, "mode global")) {
			if (fi->route->group && strcmp(fi->route->group, via) != 0)
				json_array_append_new(chains, api_str(fi->route->group));
			if (!fi->route->group || strcmp(fi->route->group, "GLOBAL") != 0)
				json_array_append_new(chains, json_string("GLOBAL"));
		}
	}
	e = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s},"
		      " s:I, s:I, s:s, s:o, s:o, s:o}",
		      "id", id, "metadata", "network", fi->udp ? "udp" : "tcp", "type", "Tun",
		      "sourceIP", src, "destinationIP", dst, "sourcePort", sport, "destinationPort",
		      dport, "host", api_str(host), "process",
		      api_str(fi->route ? fi->route->proc : ""), "processPath",
		      api_str(fi->route && fi->route->proc_path ? fi->route->proc_path : ""),
		      "dnsMode", fi->domain ? "fake-ip" : "normal", "inboundName", "tun",
		      "specialProxy", "", "remoteDestination", dst, "upload", (json_int_t)fi->up,
		      "download", (json_int_t)fi->down, "start", start, "chains", chains, "rule",
		      api_str(rule.type), "rulePayload", api_str(rule.payload));
	if (e == NULL || json_array_append_new(c->list, e) < 0)
		c->err = -ENOMEM;
}

static json_t *api_connections_doc(const struct api_backend *be)
{
	struct api_conns c = { .list = json_array() };
	uint64_t up = 0, down = 0;

	if (c.list == NULL)
		return NULL;
	c.now_ms = be->now_ms(be->ctx);
	clock_gettime(CLOCK_REALTIME, &c.wall);
	be->flows(be->ctx, api_conn_add, &c);
	if (c.err) {
		json_decref(c.list);
		return NULL;
	}
	be->totals(be->ctx, &up, &down);
	return json_pack("{s:I, s:I, s:o, s:I}", "downloadTotal", (json_int_t)down, "uploadTotal",
			 (json_int_t)up, "connections", c.list, "memory",
			 (json_int_t)be->memory(be->ctx));
}

char *api_stream_connections(const struct api_backend *be)
{
	return api_dump(api_connections_doc(be), NULL);
}

char *api_stream_traffic(uint64_t up, uint64_t down)
{
	return api_dump(json_pack("{s:I, s:I}", "up", (json_int_t)up, "down", (json_int_t)down),
			NULL);
}

char *api_stream_memory(uint64_t inuse)
{
	return api_dump(json_pack("{s:I, s:i}", "inuse", (json_int_t)inuse, "oslimit", 0), NULL);
}

char *api_stream_log(enum log_level level, const char *msg, bool structured)
{
	char t[16];
	time_t now;
	struct tm tm;

	if (!structured)
		return api_dump(json_pack("{s:s, s:o}", "type", level_names[level], "payload",
					  api_str(msg)),
				NULL);
	/* mihomo's LogStructured: the time of day, "warn" for warning, no
	 * fields of ours to add. */
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	return api_dump(json_pack("{s:s, s:s, s:o, s:[]}", "time", t, "level",
				  level == LOG_WARN ? "warn" : level_names[level], "message",
				  api_str(msg), "fields"),
			NULL);
}

static int api_connections(const struct api_backend *be, const struct api_req *req,
			   const char *rest, struct api_resp *resp)
{
	bool udp;
	uint64_t id;

	if (*rest == '\0' && req->method == API_GET)
		return api_json(resp, api_connections_doc(be));
	if (*rest == '\0' && req->method == API_DELETE) {
		be->close(be->ctx, false, 0);
		be->close(be->ctx, true, 0);
		return api_status(resp, 204, NULL);
	}
	if (*rest == '/' && req->method == API_DELETE) {
		if (api_conn_id_parse(rest + 1, &udp, &id) < 0 || be->close(be->ctx, udp, id) < 0)
			return api_status(resp, 404, "connection not found");
		return api_status(resp, 204, NULL);
	}
	return api_status(resp, 405, "method not allowed");
}

/* ---- /configs ------------------------------------------------------------ */

static int api_configs_get(const struct api_backend *be, struct api_resp *resp)
{
	const struct config *cfg = be->config(be->ctx);
	enum log_level l = be->log_level(be->ctx);
	json_t *tun = json_pack("{s:b, s:s, s:s}", "enable", true, "stack", "gvisor", "device",
				cfg && cfg->tun.device ? cfg->tun.device : "");

	return api_json(resp,
			json_pack("{s:i, s:i, s:i, s:i, s:i, s:b, s:s, s:s, s:s, s:b, s:s, s:i,"
				  " s:o}",
				  "port", 0, "socks-port", 0, "redir-port", 0, "tproxy-port", 0,
				  "mixed-port", 0, "allow-lan", false, "bind-address", "*", "mode",
				  mode_names[be->mode(be->ctx)], "log-level", level_names[l],
				  "ipv6", cfg ? cfg->ipv6 : true, "interface-name",
				  cfg && cfg->interface_name ? cfg->interface_name : "",
				  "routing-mark", cfg ? (int)cfg->routing_mark : 0, "tun", tun));
}

static json_t *api_body(const struct api_req *req, struct api_resp *resp, int *r)
{
	json_error_t jerr;
	json_t *j;

	*r = 0;
	if (req->body == NULL || req->body_len == 0) {
		*r = api_status(resp, 400, "a JSON body is needed");
		return NULL;
	}
	j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j)) {
		char msg[200];

		snprintf(msg, sizeof(msg), "body is not a JSON object%s%s", j ? "" : ": ",
			 j ? "" : jerr.text);
		json_decref(j);
		*r = api_status(resp, 400, msg);
		return NULL;
	}
	return j;
}

static int api_configs(const struct api_backend *be, const struct api_req *req, struct api_wait *w,
		       struct api_resp *resp)
{
	json_t *j, *v;
	int r;

	if (req->method == API_GET)
		return api_configs_get(be, resp);
	if (req->method == API_PATCH) {
		enum router_mode m = be->mode(be->ctx);
		enum log_level l = be->log_level(be->ctx);
		bool set_m = false, set_l = false;

		const char *key;

		j = api_body(req, resp, &r);
		if (j == NULL)
			return r;
		/* Nothing else can change here (docs/design.md §20): refuse the
		 * whole request, naming the key, rather than ignore it. */
		json_object_foreach(j, key, v)
		{
			if (strcmp(key, "mode") != 0 && strcmp(key, "log-level") != 0) {
				char msg[200];

				snprintf(msg, sizeof(msg),
					 "%.64s cannot be changed: PATCH /configs takes mode and "
					 "log-level only",
					 key);
				json_decref(j);
				return api_status(resp, 400, msg);
			}
		}
		v = json_object_get(j, "mode");
		if (v != NULL) {
			const char *s = json_string_value(v);
			unsigned i;

			for (i = 0; s && i < 3; i++)
				if (!strcasecmp(s, mode_names[i]))
					break;
			if (s == NULL || i == 3) {
				json_decref(j);
				return api_status(resp, 400, "mode must be rule, global or direct");
			}
			m = (enum router_mode)i;
			set_m = true;
		}
		v = json_object_get(j, "log-level");
		if (v != NULL) {
			const char *s = json_string_value(v);

			if (s == NULL || api_level_parse(s, &l) < 0) {
				json_decref(j);
				return api_status(
					resp, 400,
					"log-level must be error, warning, info or debug");
			}
			set_l = true;
		}
		json_decref(j);
		if (set_m)
			be->set_mode(be->ctx, m);
		if (set_l)
			be->set_log_level(be->ctx, l);
		return api_status(resp, 204, NULL);
	}
	if (req->method == API_PUT) {
		const char *path = NULL;
		char *copy = NULL;

		j = api_body(req, resp, &r);
		if (j == NULL)
			return r;
		v = json_object_get(j, "path");
		if (v != NULL && !json_is_string(v)) {
			json_decref(j);
			return api_status(resp, 400, "path must be a string");
		}
		if (v != NULL && json_string_length(v) > 0) {
			copy = strdup(json_string_value(v));
			if (copy == NULL) {
				json_decref(j);
				return -ENOMEM;
			}
			path = copy;
		}
		if (json_is_string(json_object_get(j, "payload")) &&
		    json_string_length(json_object_get(j, "payload")) > 0) {
			free(copy);
			json_decref(j);
			return api_status(resp, 400,
					  "payload is not supported: give a path to a file");
		}
		json_decref(j);
		r = be->reload(be->ctx, path, w);
		free(copy);
		if (r == -EBUSY)
			return api_status(resp, 409, "a reload is already running");
		if (r == -EACCES)
			return api_status(
				resp, 403,
				"path must name a file in the running config's directory");
		if (r < 0)
			return api_status(resp, 400,
					  r == -ENOENT ? "no such config file" : strerror(-r));
		resp->wait = true;
		return 0;
	}
	return api_status(resp, 405, "method not allowed");
}

/* ---- /rules, /proxies --------------------------------------------------- */

static int api_rules(const struct api_backend *be, struct api_resp *resp)
{
	const struct config *cfg = be->config(be->ctx);
	json_t *list = json_array();

	for (size_t i = 0; cfg && list && i < cfg->n_rules; i++) {
		struct api_rule r;
		uint64_t hits = be->rule_hits ? be->rule_hits(be->ctx, i) : 0;

		api_rule_split(cfg->rules[i].text, &r);
		/* hits: ours (docs/design.md §20); dashboards ignore it */
		json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:i, s:I}", "index",
						      (json_int_t)i, "type", r.type, "payload",
						      r.payload, "proxy", r.target, "size", -1,
						      "hits", (json_int_t)hits));
	}
	return api_json(resp, json_pack("{s:o}", "rules", list));
}

static const char *const group_type_names[] = {
	[CONFIG_GROUP_SELECT] = "Selector",   [CONFIG_GROUP_URL_TEST] = "URLTest",
	[CONFIG_GROUP_FALLBACK] = "Fallback", [CONFIG_GROUP_LOAD_BALANCE] = "LoadBalance",
	[CONFIG_GROUP_RELAY] = "Relay",
};

/* A member's last check as mihomo's history: [{time, delay}] (delay 0:
 * it failed), [] when never checked. */
static json_t *api_history(const struct group_member_info *mi)
{
	json_t *h = json_array();
	char t[40];
	time_t now = time(NULL);
	struct tm tm;

	if (h == NULL || mi == NULL || !mi->checked)
		return h;
	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_append_new(
		h, json_pack("{s:s, s:i}", "time", t, "delay", mi->alive ? (int)mi->delay_ms : 0));
	return h;
}

/* The newest check of `name` as a member of any group: false if none. */
static bool api_checked(struct group_table *t, const char *name, struct group_member_info *out)
{
	bool found = false;

	for (size_t g = 0; t && g < group_table_count(t); g++) {
		struct group_info gi;

		if (group_table_info(t, g, &gi) < 0)
			continue;
		for (size_t m = 0; m < gi.n_members; m++) {
			struct group_member_info mi;

			if (group_table_member(t, g, m, &mi) == 0 && mi.checked &&
			    !strcmp(mi.name, name) && (!found || mi.checked_ms > out->checked_ms)) {
				*out = mi;
				found = true;
			}
		}
	}
	return found;
}

static json_t *api_leaf(struct group_table *t, const char *name, const char *type, bool udp)
{
	struct group_member_info mi;
	bool c = api_checked(t, name, &mi);

	return json_pack("{s:s, s:s, s:b, s:b, s:o, s:{}}", "name", name, "type", type, "udp", udp,
			 "alive", c ? mi.alive : true, "history", api_history(c ? &mi : NULL),
			 "extra");
}

static json_t *api_proxy_json(struct group_table *t, const struct config_proxy *p)
{
	const char *ty = p->type == CONFIG_PROXY_SOCKS5     ? "Socks5"
			 : p->type == CONFIG_PROXY_HTTP     ? "Http"
			 : p->type == CONFIG_PROXY_REDIRECT ? "Direct"
			 : p->type == CONFIG_PROXY_DNS      ? "Dns"
							    : "Compatible";

	return api_leaf(t, p->name, ty, p->udp);
}

static json_t *api_group_json(struct group_table *t, const struct config_group *g)
{
	json_t *all = json_array();
	const char *now = g->members[g->selected].name;
	struct group_info gi;
	struct group_member_info nowi;
	int gx = t ? group_table_find(t, g->name) : -ENOENT;

	for (size_t i = 0; all && i < g->n_members; i++)
		json_array_append_new(all, json_string(g->members[i].name));
	if (gx >= 0 && group_table_info(t, (size_t)gx, &gi) == 0 && gi.now < gi.n_members &&
	    group_table_member(t, (size_t)gx, gi.now, &nowi) == 0)
		now = nowi.name;
	return json_pack("{s:s, s:s, s:s, s:o, s:b, s:b, s:o, s:{}}", "name", g->name, "type",
			 group_type_names[g->type], "now", now, "all", all, "udp", true, "alive",
			 true, "history", json_array(), "extra");
}

/* The built-in GLOBAL selector (mihomo's, which dashboards expect and
 * mode global routes by): DIRECT, REJECT, every proxy and group; NULL
 * when the config has a group called GLOBAL. */
static json_t *api_global_json(const struct api_backend *be, const struct config *cfg)
{
	const char *now = be->global              ? be->global(be->ctx)
			  : cfg && cfg->n_proxies ? cfg->proxies[0].name
						  : "DIRECT";
	json_t *all;

	if (now == NULL)
		return NULL;
	all = json_pack("[s, s]", "DIRECT", "REJECT");
	for (size_t i = 0; cfg && all && i < cfg->n_proxies; i++)
		json_array_append_new(all, json_string(cfg->proxies[i].name));
	for (size_t i = 0; cfg && all && i < cfg->n_groups; i++)
		json_array_append_new(all, json_string(cfg->groups[i].name));
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:b, s:[], s:{}}", "name", "GLOBAL", "type",
			 "Selector", "now", api_str(now), "all", all, "udp", true, "alive", true,
			 "history", "extra");
}

static json_t *api_proxies_doc(const struct api_backend *be, const struct config *cfg,
			       struct group_table *t)
{
	json_t *m = json_object(), *g;

	if (m == NULL)
		return NULL;
	json_object_set_new(m, "DIRECT", api_leaf(t, "DIRECT", "Direct", true));
	json_object_set_new(m, "REJECT", api_leaf(t, "REJECT", "Reject", true));
	json_object_set_new(m, "REJECT-DROP", api_leaf(t, "REJECT-DROP", "RejectDrop", true));
	for (size_t i = 0; cfg && i < cfg->n_proxies; i++)
		json_object_set_new(m, cfg->proxies[i].name, api_proxy_json(t, &cfg->proxies[i]));
	for (size_t i = 0; cfg && i < cfg->n_groups; i++)
		json_object_set_new(m, cfg->groups[i].name, api_group_json(t, &cfg->groups[i]));
	g = api_global_json(be, cfg);
	if (g != NULL)
		json_object_set_new(m, "GLOBAL", g);
	return m;
}

static int api_delay(const struct api_backend *be, const struct api_req *req, const char *name,
		     bool group, struct api_wait *w, struct api_resp *resp)
{
	char url[1024], tmo[16];
	unsigned long ms;
	int r;

	if (req->method != API_GET)
		return api_status(resp, 405, "method not allowed");
	if (!api_query_get(req->query, "url", url, sizeof(url)) || url[0] == '\0' ||
	    (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return api_status(resp, 400, "url must be an http:// or https:// URL");
	if (!api_query_get(req->query, "timeout", tmo, sizeof(tmo)) ||
	    (ms = strtoul(tmo, NULL, 10)) == 0 || ms > 60000)
		return api_status(resp, 400, "timeout must be 1..60000 (ms)");
	if (be->delay == NULL)
		return api_status(resp, 404, "resource not found");
	r = be->delay(be->ctx, name, group, url, (unsigned)ms, w);
	if (r == -ENOENT)
		return api_status(resp, 404, "resource not found");
	if (r < 0)
		return api_status(resp, 503, "An error occurred in the delay test");
	resp->wait = true;
	return 0;
}

static int api_select(const struct api_backend *be, const struct api_req *req, const char *name,
		      struct api_resp *resp)
{
	json_t *j, *v;
	int r;

	j = api_body(req, resp, &r);
	if (j == NULL)
		return r;
	v = json_object_get(j, "name");
	if (!json_is_string(v)) {
		json_decref(j);
		return api_status(resp, 400, "body must be {\"name\": MEMBER}");
	}
	r = be->select ? be->select(be->ctx, name, json_string_value(v)) : -ENOENT;
	json_decref(j);
	if (r == -EPERM)
		return api_status(resp, 400, "Must be a Selector");
	/* no such group: 404; a group (the built-in GLOBAL too) without
	 * that member: 400, as mihomo */
	if (r == -ENOENT && !(be->global && !strcmp(name, "GLOBAL") && be->global(be->ctx)) &&
	    (be->groups == NULL || be->groups(be->ctx) == NULL ||
	     group_table_find(be->groups(be->ctx), name) < 0))
		return api_status(resp, 404, "resource not found");
	if (r < 0)
		return api_status(resp, 400, "Selector update error: proxy not exist");
	return api_status(resp, 204, NULL);
}

static int api_proxies(const struct api_backend *be, const struct api_req *req, const char *rest,
		       struct api_wait *w, struct api_resp *resp)
{
	struct group_table *t = be->groups ? be->groups(be->ctx) : NULL;
	char name[256];
	const char *slash;
	json_t *doc, *one;

	if (*rest == '\0') {
		if (req->method != API_GET)
			return api_status(resp, 405, "method not allowed");
		doc = api_proxies_doc(be, be->config(be->ctx), t);
		return doc ? api_json(resp, json_pack("{s:o}", "proxies", doc)) : -ENOMEM;
	}
	if (*rest != '/' || rest[1] == '\0')
		return api_status(resp, 404, "resource not found");
	slash = strchr(rest + 1, '/');
	snprintf(name, sizeof(name), "%.*s",
		 slash ? (int)(slash - rest - 1) : (int)strlen(rest + 1), rest + 1);
	if (slash != NULL) {
		if (!strcmp(slash, "/delay"))
			return api_delay(be, req, name, false, w, resp);
		return api_status(resp, 404, "resource not found");
	}
	if (req->method == API_PUT)
		return api_select(be, req, name, resp);
	if (req->method != API_GET)
		return api_status(resp, 405, "method not allowed");
	doc = api_proxies_doc(be, be->config(be->ctx), t);
	if (doc == NULL)
		return -ENOMEM;
	one = json_object_get(doc, name);
	if (one == NULL) {
		json_decref(doc);
		return api_status(resp, 404, "resource not found");
	}
	json_incref(one);
	json_decref(doc);
	return api_json(resp, one);
}

static int api_group(const struct api_backend *be, const struct api_req *req, const char *rest,
		     struct api_wait *w, struct api_resp *resp)
{
	const struct config *cfg = be->config(be->ctx);
	char name[256];
	const char *slash;
	json_t *list;

	struct group_table *t = be->groups ? be->groups(be->ctx) : NULL;
	json_t *g;

	if (*rest == '\0' && req->method == API_GET) {
		/* mihomo: every group, GLOBAL too */
		list = json_array();
		for (size_t i = 0; cfg && list && i < cfg->n_groups; i++)
			json_array_append_new(list, api_group_json(t, &cfg->groups[i]));
		g = api_global_json(be, cfg);
		if (list && g)
			json_array_append_new(list, g);
		return api_json(resp, json_pack("{s:o}", "proxies", list));
	}
	if (*rest != '/' || rest[1] == '\0')
		return api_status(resp, 404, "resource not found");
	slash = strchr(rest + 1, '/');
	if (slash == NULL) {
		/* GET /group/{name}: the group, as /proxies/{name} shows it */
		if (req->method != API_GET)
			return api_status(resp, 405, "method not allowed");
		for (size_t i = 0; cfg && i < cfg->n_groups; i++)
			if (!strcmp(cfg->groups[i].name, rest + 1))
				return api_json(resp, api_group_json(t, &cfg->groups[i]));
		if (!strcmp(rest + 1, "GLOBAL") && (g = api_global_json(be, cfg)) != NULL)
			return api_json(resp, g);
		return api_status(resp, 404, "resource not found");
	}
	if (strcmp(slash, "/delay") != 0)
		return api_status(resp, 404, "resource not found");
	snprintf(name, sizeof(name), "%.*s", (int)(slash - rest - 1), rest + 1);
	return api_delay(be, req, name, true, w, resp);
}

static const char *api_under(const char *path, const char *prefix);

/* RFC 3339 in UTC, as Go's time marshals; 0: Go's zero time. */
static void api_time_str(int64_t secs, char *buf, size_t cap)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (secs == 0) {
		snprintf(buf, cap, "0001-01-01T00:00:00Z");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *api_provider_check(const struct config *cfg, const struct config_proxy_provider *pp,
			       unsigned *timeout_ms)
{
	size_t lo = pp ? pp->first : 0, hi = pp ? pp->first + pp->n : cfg->n_own_proxies;

	*timeout_ms = 5000;
	for (size_t g = 0; g < cfg->n_groups; g++) {
		const struct config_group *cg = &cfg->groups[g];

		for (size_t m = 0; m < cg->n_members; m++) {
			const struct config_member *mb = &cg->members[m];

			if (mb->kind == CONFIG_TARGET_PROXY && mb->index >= lo && mb->index < hi &&
			    cg->url != NULL) {
				*timeout_ms = cg->timeout_ms ? cg->timeout_ms : 5000;
				return cg->url;
			}
		}
	}
	return CONFIG_GROUP_TEST_URL;
}

/* mihomo's proxy provider: "default" (pp NULL) holds the config's own
 * proxies (its compatible provider), the others their downloads or
 * files. */
static json_t *api_pprovider_json(const struct api_backend *be, const struct config *cfg,
				  struct group_table *t, const struct config_proxy_provider *pp)
{
	size_t lo = pp ? pp->first : 0, hi = pp ? pp->first + pp->n : cfg->n_own_proxies;
	const char *name = pp ? pp->name : "default";
	json_t *list = json_array();
	unsigned tmo;
	char at[40];
	int64_t secs = (int64_t)time(NULL);

	for (size_t i = lo; list && i < hi && i < cfg->n_proxies; i++)
		json_array_append_new(list, api_proxy_json(t, &cfg->proxies[i]));
	/* http: when the copy was last found current; the others are read
	 * at each (re)load: the running one is current. */
	if (pp && pp->http)
		secs = be->updated_at ? be->updated_at(be->ctx, true, name) : 0;
	api_time_str(secs, at, sizeof(at));
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "name", name, "type", "Proxy",
			 "vehicleType",
			 !pp        ? "Compatible"
			 : pp->http ? "HTTP"
				    : "File",
			 "proxies", list, "testUrl", api_provider_check(cfg, pp, &tmo),
			 "expectedStatus", "*", "updatedAt", at);
}

static json_t *api_rprovider_json(const struct api_backend *be, const struct config *cfg, size_t i)
{
	static const char *const behaviors[] = { "Domain", "IPCIDR", "Classical" };
	static const char *const vehicles[] = { "File", "Inline", "HTTP" };
	static const char *const formats[] = { "YamlRule", "TextRule", "MrsRule" };
	const struct config_rule_provider *rp = &cfg->rule_providers[i];
	size_t count = be->rule_set_count             ? be->rule_set_count(be->ctx, i)
		       : rp->type == CONFIG_RP_INLINE ? rp->n_payload
						      : 0;
	int64_t secs = (int64_t)time(NULL);
	char at[40];
	json_t *j;

	if (rp->type == CONFIG_RP_HTTP)
		secs = be->updated_at ? be->updated_at(be->ctx, false, rp->name) : 0;
	api_time_str(secs, at, sizeof(at));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "updatedAt", at, "name", rp->name,
		      "type", "Rule", "vehicleType", vehicles[rp->type], "behavior",
		      behaviors[rp->behavior], "format", formats[rp->format], "ruleCount",
		      (json_int_t)count);
	if (j != NULL && rp->type == CONFIG_RP_INLINE) {
		json_t *pl = json_array();

		for (size_t k = 0; pl && k < rp->n_payload; k++)
			json_array_append_new(pl, api_str(rp->payload[k].text));
		json_object_set_new(j, "payload", pl ? pl : json_null());
	}
	return j;
}

/* PUT /providers/{proxies,rules}/{name}: an http provider downloads now
 * (the answer waits for it); the others are read at each (re)load and
 * have nothing to fetch: 204 at once, as mihomo's compatible provider. */
static int api_refresh(const struct api_backend *be, bool proxies, const char *name, bool http,
		       struct api_wait *w, struct api_resp *resp)
{
	int r;

	if (!http)
		return api_status(resp, 204, NULL);
	r = be->refresh ? be->refresh(be->ctx, proxies, name, w) : -ENOENT;
	if (r == -ENOENT)
		return api_status(resp, 404, "resource not found");
	if (r < 0)
		return api_status(resp, 503, strerror(-r));
	resp->wait = true;
	return 0;
}

/* /providers/proxies[/{name}[/healthcheck | /{proxy}[/healthcheck]]] */
static int api_pproviders(const struct api_backend *be, const struct api_req *req, const char *rest,
			  struct api_wait *w, struct api_resp *resp)
{
	const struct config *cfg = be->config(be->ctx);
	struct group_table *t = be->groups ? be->groups(be->ctx) : NULL;
	const struct config_proxy_provider *pp = NULL;
	char name[256];
	const char *slash;
	json_t *m;
	bool known;

	if (*rest == '\0') {
		if (req->method != API_GET)
			return api_status(resp, 405, "method not allowed");
		m = json_object();
		if (m == NULL)
			return -ENOMEM;
		if (cfg != NULL) {
			json_object_set_new(m, "default", api_pprovider_json(be, cfg, t, NULL));
			for (size_t i = 0; i < cfg->n_proxy_providers; i++)
				json_object_set_new(
					m, cfg->proxy_providers[i].name,
					api_pprovider_json(be, cfg, t, &cfg->proxy_providers[i]));
		}
		return api_json(resp, json_pack("{s:o}", "providers", m));
	}
	if (*rest != '/' || rest[1] == '\0')
		return api_status(resp, 404, "resource not found");
	slash = strchr(rest + 1, '/');
	snprintf(name, sizeof(name), "%.*s",
		 slash ? (int)(slash - rest - 1) : (int)strlen(rest + 1), rest + 1);
	for (size_t i = 0; cfg && i < cfg->n_proxy_providers; i++)
		if (!strcmp(cfg->proxy_providers[i].name, name))
			pp = &cfg->proxy_providers[i];
	known = cfg != NULL && (pp != NULL || !strcmp(name, "default"));
	if (!known)
		return api_status(resp, 404, "resource not found");
	if (slash == NULL && req->method == API_GET)
		return api_json(resp, api_pprovider_json(be, cfg, t, pp));
	if (slash == NULL && req->method == API_PUT)
		return api_refresh(be, true, name, pp && pp->http, w, resp);
	if (slash == NULL)
		return api_status(resp, 405, "method not allowed");
	if (req->method != API_GET)
		return api_status(resp, 405, "method not allowed");
	if (!strcmp(slash, "/healthcheck")) {
		int r = be->healthcheck ? be->healthcheck(be->ctx, name, w) : -ENOENT;

		if (r == -ENOENT)
			return api_status(resp, 404, "resource not found");
		if (r < 0)
			return api_status(resp, 503, strerror(-r));
		resp->wait = true;
		return 0;
	}
	{
		/* /{proxy} and /{proxy}/healthcheck: one of its proxies */
		size_t lo = pp ? pp->first : 0, hi = pp ? pp->first + pp->n : cfg->n_own_proxies;
		const char *px = slash + 1, *tail = strchr(px, '/');
		char pname[256];

		snprintf(pname, sizeof(pname), "%.*s", tail ? (int)(tail - px) : (int)strlen(px),
			 px);
		for (size_t i = lo; i < hi && i < cfg->n_proxies; i++) {
			if (strcmp(cfg->proxies[i].name, pname) != 0)
				continue;
			if (tail == NULL)
				return api_json(resp, api_proxy_json(t, &cfg->proxies[i]));
			if (!strcmp(tail, "/healthcheck"))
				return api_delay(be, req, pname, false, w, resp);
			break;
		}
	}
	return api_status(resp, 404, "resource not found");
}

/* /providers/rules[/{name}] */
static int api_rproviders(const struct api_backend *be, const struct api_req *req, const char *rest,
			  struct api_wait *w, struct api_resp *resp)
{
	const struct config *cfg = be->config(be->ctx);
	json_t *m;

	if (*rest == '\0') {
		if (req->method != API_GET)
			return api_status(resp, 405, "method not allowed");
		m = json_object();
		if (m == NULL)
			return -ENOMEM;
		for (size_t i = 0; cfg && i < cfg->n_rule_providers; i++)
			json_object_set_new(m, cfg->rule_providers[i].name,
					    api_rprovider_json(be, cfg, i));
		return api_json(resp, json_pack("{s:o}", "providers", m));
	}
	if (*rest != '/' || rest[1] == '\0')
		return api_status(resp, 404, "resource not found");
	for (size_t i = 0; cfg && i < cfg->n_rule_providers; i++) {
		const struct config_rule_provider *rp = &cfg->rule_providers[i];

		if (strcmp(rp->name, rest + 1) != 0)
			continue;
		if (req->method == API_GET)
			return api_json(resp, api_rprovider_json(be, cfg, i));
		if (req->method == API_PUT)
			return api_refresh(be, false, rp->name, rp->type == CONFIG_RP_HTTP, w,
					   resp);
		return api_status(resp, 405, "method not allowed");
	}
	return api_status(resp, 404, "resource not found");
}

static int api_providers(const struct api_backend *be, const struct api_req *req, const char *rest,
			 struct api_wait *w, struct api_resp *resp)
{
	const char *sub;

	if ((sub = api_under(rest, "/proxies")) != NULL)
		return api_pproviders(be, req, sub, w, resp);
	if ((sub = api_under(rest, "/rules")) != NULL)
		return api_rproviders(be, req, sub, w, resp);
	return api_status(resp, 404, "resource not found");
}

/* ---- /dns/query ------------------------------------------------------------- */

char *api_dns_answer(const char *name, int qtype, int status, const struct sockaddr_storage *addrs,
		     size_t n)
{
	json_t *ans = json_array();
	char fq[300];

	snprintf(fq, sizeof(fq), "%s%s", name, name[0] && name[strlen(name) - 1] == '.' ? "" : ".");
	for (size_t i = 0; ans && status == 0 && i < n; i++) {
		char t[INET6_ADDRSTRLEN] = "";
		int fam = addrs[i].ss_family;

		if ((qtype == 1 && fam != AF_INET) || (qtype == 28 && fam != AF_INET6))
			continue;
		if (fam == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)&addrs[i])->sin_addr, t,
				  sizeof(t));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&addrs[i])->sin6_addr, t,
				  sizeof(t));
		json_array_append_new(ans,
				      json_pack("{s:o, s:i, s:i, s:s}", "name", api_str(fq), "type",
						fam == AF_INET ? 1 : 28, "TTL", 0, "data", t));
	}
	return api_dump(
		json_pack("{s:i, s:[{s:o, s:i, s:i}], s:b, s:b, s:b, s:b, s:b, s:o}", "Status",
			  status == 0         ? 0
			  : status == -ENOENT ? 3
					      : 2,
			  "Question", "Name", api_str(fq), "Qtype", qtype, "Qclass", 1, "TC", false,
			  "RD", true, "RA", true, "AD", false, "CD", false, "Answer", ans),
		NULL);
}

static int api_dns(const struct api_backend *be, const struct api_req *req, struct api_wait *w,
		   struct api_resp *resp)
{
	char name[256], type[16] = "A";
	int qtype, r;

	if (req->method != API_GET)
		return api_status(resp, 405, "method not allowed");
	if (!api_query_get(req->query, "name", name, sizeof(name)) || name[0] == '\0')
		return api_status(resp, 400, "name is needed");
	api_query_get(req->query, "type", type, sizeof(type));
	if (!strcasecmp(type, "A") || type[0] == '\0')
		qtype = 1;
	else if (!strcasecmp(type, "AAAA"))
		qtype = 28;
	else
		return api_status(resp, 400, "type must be A or AAAA");
	r = be->lookup(be->ctx, name, qtype, w);
	if (r < 0)
		return api_status(resp, 500, strerror(-r));
	resp->wait = true;
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

/* path == prefix, or prefix followed by '/'...: the rest (maybe ""). */
static const char *api_under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return NULL;
	return path + n;
}

static int api_stream_req(const struct api_req *req, enum api_stream kind, struct api_resp *resp)
{
	char lv[16];

	if (req->method != API_GET)
		return api_status(resp, 405, "method not allowed");
	resp->stream_level = LOG_INFO;
	if (kind == API_STREAM_LOGS && api_query_get(req->query, "level", lv, sizeof(lv)) &&
	    lv[0] != '\0' && api_level_parse(lv, &resp->stream_level) < 0)
		return api_status(resp, 400, "level must be error, warning, info or debug");
	/* mihomo: format=structured, anything else the classic shape */
	resp->structured = kind == API_STREAM_LOGS &&
			   api_query_get(req->query, "format", lv, sizeof(lv)) &&
			   !strcmp(lv, "structured");
	resp->status = 200;
	resp->stream = kind;
	return 0;
}

int api_handle(const struct api_backend *be, const struct api_req *req, struct api_wait *w,
	       struct api_resp *resp)
{
	const char *p = req->path, *rest;

	memset(resp, 0, sizeof(*resp));
	if (!strcmp(p, "/"))
		return api_json(resp, json_pack("{s:s}", "hello", "tun2socks"));
	if (!strcmp(p, "/version"))
		return api_json(resp, json_pack("{s:b, s:s}", "meta", true, "version",
						"tun2socks " T2S_VERSION));
	if (!strcmp(p, "/configs"))
		return api_configs(be, req, w, resp);
	if (!strcmp(p, "/rules"))
		return req->method == API_GET ? api_rules(be, resp)
					      : api_status(resp, 405, "method not allowed");
	if ((rest = api_under(p, "/connections")) != NULL) {
		/* A stream over WebSocket, or over chunked HTTP when an
		 * interval is asked for; a plain GET is mihomo's snapshot. */
		if (*rest == '\0' && req->method == API_GET &&
		    (req->websocket || api_query_get(req->query, "interval", NULL, 0))) {
			char v[16];
			int r = api_stream_req(req, API_STREAM_CONNECTIONS, resp);

			resp->interval_ms = 1000;
			if (api_query_get(req->query, "interval", v, sizeof(v))) {
				unsigned long ms = strtoul(v, NULL, 10);

				resp->interval_ms = ms < 100     ? 100
						    : ms > 60000 ? 60000
								 : (unsigned)ms;
			}
			return r;
		}
		return api_connections(be, req, rest, resp);
	}
	if ((rest = api_under(p, "/proxies")) != NULL)
		return api_proxies(be, req, rest, w, resp);
	if ((rest = api_under(p, "/group")) != NULL)
		return api_group(be, req, rest, w, resp);
	if ((rest = api_under(p, "/providers")) != NULL)
		return api_providers(be, req, rest, w, resp);
	if (!strcmp(p, "/traffic"))
		return api_stream_req(req, API_STREAM_TRAFFIC, resp);
	if (!strcmp(p, "/logs"))
		return api_stream_req(req, API_STREAM_LOGS, resp);
	if (!strcmp(p, "/memory"))
		return api_stream_req(req, API_STREAM_MEMORY, resp);
	if (!strcmp(p, "/dns/query"))
		return api_dns(be, req, w, resp);
	return api_status(resp, 404, "resource not found");
}

void api_resp_free(struct api_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
}
