/* ctl: a client of the control API. Each command is one or more
 * requests through http_client on a loop of its own (this process is
 * not the daemon: it may block, and it waits for each answer). */
#define _GNU_SOURCE
#include "tun2socks/app/ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config/config.h"
#include "tun2socks/upstream/http_client.h"

struct ctl {
	char base[160]; /* http://host:port */
	char auth[300]; /* "Authorization: Bearer ...", or "" */
	uv_loop_t loop;
	struct http_client *http;
};

struct ctl_reply {
	bool done;
	int status;
	long code;
	char *body;
	char error[200];
};

static void ctl_on_done(void *arg, int status, const struct http_response *resp)
{
	struct ctl_reply *r = arg;

	r->done = true;
	r->status = status;
	if (status == 0) {
		r->code = resp->code;
		r->body = strndup(resp->body ? resp->body : "", resp->len);
	} else {
		snprintf(r->error, sizeof(r->error), "%s",
			 resp && resp->error && resp->error[0] ? resp->error : strerror(-status));
	}
}

/* One request; 0 with reply filled, or -errno (printed). */
static int ctl_request(struct ctl *c, const char *method, const char *path, const char *body,
		       unsigned timeout_ms, struct ctl_reply *reply)
{
	const char *headers[2] = { c->auth, "Content-Type: application/json" };
	struct http_request_opts o = { 0 };
	char url[1200];
	int r;

	memset(reply, 0, sizeof(*reply));
	snprintf(url, sizeof(url), "%s%s", c->base, path);
	o.url = url;
	o.method = method;
	o.body = body;
	o.body_len = body ? strlen(body) : 0;
	o.headers = c->auth[0] ? headers : headers + 1;
	o.n_headers = c->auth[0] ? 2 : 1;
	o.timeout_ms = timeout_ms;
	o.max_redirects = -1;
	r = http_client_request(c->http, &o, ctl_on_done, reply, NULL);
	if (r < 0) {
		fprintf(stderr, "tun2socks ctl: %s: %s\n", url, strerror(-r));
		return r;
	}
	while (!reply->done)
		uv_run(&c->loop, UV_RUN_ONCE);
	if (reply->status < 0) {
		fprintf(stderr,
			"tun2socks ctl: %s: %s (is the daemon running with "
			"external-controller?)\n",
			url, reply->error);
		return reply->status;
	}
	return 0;
}

/* Prints the API's {"message"} for a failed request; 1. */
static int ctl_failed(const struct ctl_reply *r)
{
	json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));

	fprintf(stderr, "tun2socks ctl: HTTP %ld%s%s\n", r->code, m ? ": " : "", m ? m : "");
	json_decref(j);
	return 1;
}

/* GET path as JSON; NULL after printing why. */
static json_t *ctl_get(struct ctl *c, const char *path)
{
	struct ctl_reply r;
	json_t *j;
	json_error_t e;

	if (ctl_request(c, "GET", path, NULL, 10000, &r) < 0)
		return NULL;
	if (r.code != 200) {
		ctl_failed(&r);
		free(r.body);
		return NULL;
	}
	j = json_loads(r.body, 0, &e);
	if (j == NULL)
		fprintf(stderr, "tun2socks ctl: %s: bad JSON: %s\n", path, e.text);
	free(r.body);
	return j;
}

/* A command that expects 204 (or 200) and prints nothing else. */
static int ctl_simple(struct ctl *c, const char *method, const char *path, const char *body)
{
	struct ctl_reply r;
	int ret = 0;

	if (ctl_request(c, method, path, body, 60000, &r) < 0)
		return 1;
	if (r.code != 204 && r.code != 200)
		ret = ctl_failed(&r);
	free(r.body);
	return ret;
}

static void ctl_human(uint64_t b, char *out, size_t cap)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static int ctl_connections_once(struct ctl *c, bool clear)
{
	json_t *d = ctl_get(c, "/connections"), *list, *x;
	size_t i;

	if (d == NULL)
		return 1;
	list = json_object_get(d, "connections");
	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("%-10s %-4s %-22s %-40s %-22s %-10s %10s %10s\n", "ID", "NET", "SOURCE",
	       "DESTINATION", "CHAIN", "RULE", "UP", "DOWN");
	json_array_foreach(list, i, x)
	{
		json_t *m = json_object_get(x, "metadata");
		const char *host = json_string_value(json_object_get(m, "host"));
		char src[64], dst[300], chain[200] = "", up[16], down[16];
		json_t *ch = json_object_get(x, "chains"), *e;
		size_t k, o = 0;

		snprintf(src, sizeof(src), "%s:%s",
			 json_string_value(json_object_get(m, "sourceIP")),
			 json_string_value(json_object_get(m, "sourcePort")));
		snprintf(dst, sizeof(dst), "%s:%s",
			 host && *host ? host
				       : json_string_value(json_object_get(m, "destinationIP")),
			 json_string_value(json_object_get(m, "destinationPort")));
		json_array_foreach(ch, k, e)
		{
			if (o < sizeof(chain))
				o += (size_t)snprintf(chain + o, sizeof(chain) - o, "%s%s",
						      k ? "<" : "", json_string_value(e));
		}
		ctl_human((uint64_t)json_integer_value(json_object_get(x, "upload")), up,
			  sizeof(up));
		ctl_human((uint64_t)json_integer_value(json_object_get(x, "download")), down,
			  sizeof(down));
		printf("%-10s %-4s %-22s %-40.40s %-22.22s %-10.10s %10s %10s\n",
		       json_string_value(json_object_get(x, "id")),
		       json_string_value(json_object_get(m, "network")), src, dst, chain,
		       json_string_value(json_object_get(x, "rule")), up, down);
	}
	{
		char up[16], down[16];

		ctl_human((uint64_t)json_integer_value(json_object_get(d, "uploadTotal")), up,
			  sizeof(up));
		ctl_human((uint64_t)json_integer_value(json_object_get(d, "downloadTotal")), down,
			  sizeof(down));
		printf("%zu connections, %s up, %s down in all\n", json_array_size(list), up, down);
	}
	fflush(stdout);
	json_decref(d);
	return 0;
}

static int ctl_rules(struct ctl *c)
{
	json_t *d = ctl_get(c, "/rules"), *x;
	size_t i;

	if (d == NULL)
		return 1;
	printf("%-5s %-14s %-40s %-20s %s\n", "#", "TYPE", "PAYLOAD", "TARGET", "HITS");
	json_array_foreach(json_object_get(d, "rules"), i, x)
		printf("%-5zu %-14s %-40s %-20s %" JSON_INTEGER_FORMAT "\n", i,
		       json_string_value(json_object_get(x, "type")),
		       json_string_value(json_object_get(x, "payload")),
		       json_string_value(json_object_get(x, "proxy")),
		       json_integer_value(json_object_get(x, "hits")));
	json_decref(d);
	return 0;
}

/* A path segment, percent-encoded. */
static void ctl_escape(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

static int ctl_delay(struct ctl *c, const char *name, const char *url, unsigned timeout)
{
	char esc[600], eurl[1500], path[2400];
	struct ctl_reply r;
	json_t *j;
	int ret = 0;

	ctl_escape(name, esc, sizeof(esc));
	ctl_escape(url, eurl, sizeof(eurl));
	snprintf(path, sizeof(path), "/proxies/%s/delay?url=%s&timeout=%u", esc, eurl, timeout);
	if (ctl_request(c, "GET", path, NULL, timeout + 5000, &r) < 0)
		return 1;
	j = json_loads(r.body ? r.body : "", 0, NULL);
	if (r.code == 200 && json_is_integer(json_object_get(j, "delay")))
		printf("%s: %" JSON_INTEGER_FORMAT " ms\n", name,
		       json_integer_value(json_object_get(j, "delay")));
	else
		ret = ctl_failed(&r);
	json_decref(j);
	free(r.body);
	return ret;
}

static const char ctl_usage[] =
	"usage: tun2socks ctl [-c FILE] [--controller HOST:PORT] [--secret S] COMMAND\n"
	"  connections [--watch [SECONDS]]   live connections as a table\n"
	"  close ID|all                      reset a connection, or all of them\n"
	"  select GROUP MEMBER               switch a select group\n"
	"  delay PROXY [--url URL] [--timeout MS]\n"
	"                                    one request through PROXY, timed\n"
	"  reload                            load the config file again\n"
	"  rules                             the rules in order\n"
	"The controller and secret default to the config's external-controller and\n"
	"secret.\n";

/* Fills c->base and c->auth from the flags and the config. 0 or 2. */
static int ctl_setup(struct ctl *c, const char *conf_path, const char *addr, const char *secret)
{
	struct config *cfg = NULL;
	struct conf_err_list errs = { 0 };
	int r;

	if (conf_path != NULL) {
		r = config_load(conf_path, &cfg, &errs);
		if (r < 0) {
			char line[600];

			if (errs.n > 0) {
				conf_err_format(&errs.v[0], line, sizeof(line));
				fprintf(stderr, "tun2socks ctl: %s\n", line);
			} else {
				fprintf(stderr, "tun2socks ctl: %s: %s\n", conf_path, strerror(-r));
			}
			return 2;
		}
		if (addr == NULL && cfg->external_controller)
			addr = cfg->external_controller;
		if (secret == NULL)
			secret = cfg->secret;
	}
	if (addr == NULL)
		addr = "127.0.0.1:9090";
	/* ":9090" listens everywhere; this machine is one of them. */
	snprintf(c->base, sizeof(c->base), "http://%s%s", addr[0] == ':' ? "127.0.0.1" : "", addr);
	if (secret && *secret)
		snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", secret);
	config_free(cfg);
	return 0;
}

int ctl_main(int argc, char **argv)
{
	const char *conf = NULL, *addr = NULL, *secret = NULL;
	struct ctl *c;
	int i = 1, ret = 2;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			conf = argv[++i];
		else if (!strcmp(argv[i], "--controller") && i + 1 < argc)
			addr = argv[++i];
		else if (!strcmp(argv[i], "--secret") && i + 1 < argc)
			secret = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(ctl_usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "tun2socks ctl: unknown option %s\n%s", argv[i], ctl_usage);
			return 2;
		}
	}
	if (i >= argc) {
		fputs(ctl_usage, stderr);
		return 2;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 1;
	if (ctl_setup(c, conf, addr, secret) != 0)
		goto out_free;
	if (uv_loop_init(&c->loop) < 0 || http_client_create(&c->loop, NULL, &c->http) < 0) {
		fprintf(stderr, "tun2socks ctl: cannot start the HTTP client\n");
		ret = 1;
		goto out_free;
	}
	argv += i;
	argc -= i;
	if (!strcmp(argv[0], "connections")) {
		if (argc >= 2 && !strcmp(argv[1], "--watch")) {
			unsigned secs = argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 1;

			for (;;) {
				ret = ctl_connections_once(c, true);
				if (ret != 0)
					break;
				sleep(secs ? secs : 1);
			}
		} else {
			ret = ctl_connections_once(c, false);
		}
	} else if (!strcmp(argv[0], "close") && argc == 2) {
		char path[200];

		if (!strcmp(argv[1], "all"))
			snprintf(path, sizeof(path), "/connections");
		else
			snprintf(path, sizeof(path), "/connections/%.100s", argv[1]);
		ret = ctl_simple(c, "DELETE", path, NULL);
	} else if (!strcmp(argv[0], "select") && argc == 3) {
		char esc[600], path[700];
		json_t *b = json_pack("{s:s}", "name", argv[2]);
		char *body = json_dumps(b, JSON_COMPACT);

		ctl_escape(argv[1], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/proxies/%s", esc);
		ret = body ? ctl_simple(c, "PUT", path, body) : 1;
		free(body);
		json_decref(b);
	} else if (!strcmp(argv[0], "delay") && argc >= 2) {
		const char *url = "https://www.gstatic.com/generate_204";
		unsigned timeout = 5000;

		for (int k = 2; k + 1 < argc; k += 2) {
			if (!strcmp(argv[k], "--url"))
				url = argv[k + 1];
			else if (!strcmp(argv[k], "--timeout"))
				timeout = (unsigned)strtoul(argv[k + 1], NULL, 10);
		}
		ret = ctl_delay(c, argv[1], url, timeout ? timeout : 5000);
	} else if (!strcmp(argv[0], "reload") && argc == 1) {
		ret = ctl_simple(c, "PUT", "/configs", "{}");
	} else if (!strcmp(argv[0], "rules") && argc == 1) {
		ret = ctl_rules(c);
	} else {
		fprintf(stderr, "tun2socks ctl: unknown command or wrong arguments: %s\n%s",
			argv[0], ctl_usage);
		ret = 2;
	}
	http_client_destroy(c->http);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_loop_close(&c->loop);
out_free:
	free(c);
	return ret;
}
