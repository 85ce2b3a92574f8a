/* route_state: auto-route's state file as text (route_state.h). */
#include "tun2socks/system/route_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "tun2socks-state 1"

static const char header[] =
	"# tun2socks auto-route: what this daemon added to the routing of the\n"
	"# machine; `tun2socks cleanup` removes it once the daemon is gone.\n";

int route_state_format(const struct route_state *s, char **out, size_t *len)
{
	size_t cap = sizeof(header) + 256 + (s->n + 1) * (ROUTE_TEXT_MAX + 1), off;
	char *buf = malloc(cap);
	int n;

	*out = NULL;
	*len = 0;
	if (buf == NULL)
		return -ENOMEM;
	n = snprintf(buf, cap,
		     "%s" MAGIC "\npid %lu\nnetns %" PRIu64 "\ntun %s\ntable %" PRIu32
		     "\nrule-index %" PRIu32 "\n",
		     header, s->pid, s->netns, s->tun, s->table, s->rule_index);
	off = (size_t)n;
	if (s->resolved_link)
		off += (size_t)snprintf(buf + off, cap - off, "resolved-link %" PRIu32 "\n",
					s->resolved_link);
	if (s->resolv_conf)
		off += (size_t)snprintf(buf + off, cap - off, "resolv-conf\n");
	for (size_t i = 0; i < s->n; i++) {
		route_text_format(&s->obj[i], buf + off, cap - off);
		off += strlen(buf + off);
		buf[off++] = '\n';
	}
	buf[off] = '\0';
	*out = buf;
	*len = off;
	return 0;
}

void route_state_free(struct route_state *s)
{
	free(s->obj);
	memset(s, 0, sizeof(*s));
}

static int bad_line(char *err, size_t errlen, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad_line(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (err && errlen) {
		n = snprintf(err, errlen, "line %zu: ", line);
		if (n > 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

/* "key value" with a decimal value up to max. */
static bool key_num(const char *line, const char *key, uint64_t max, uint64_t *out)
{
	size_t k = strlen(key);
	const char *v = line + k + 1;
	char *end;

	if (strncmp(line, key, k) != 0 || line[k] != ' ' || *v < '0' || *v > '9')
		return false;
	*out = strtoull(v, &end, 10);
	return *end == '\0' && *out <= max;
}

int route_state_parse(const char *text, size_t len, struct route_state *out, char *err,
		      size_t errlen)
{
	char line[ROUTE_TEXT_MAX * 2];
	size_t pos = 0, lineno = 0, cap = 0;
	bool magic = false, have[5] = { false };
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	while (pos < len && r == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		uint64_t v;

		lineno++;
		if (n >= sizeof(line) || memchr(text + pos, '\0', n)) {
			r = bad_line(err, errlen, lineno, "too long or not text");
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (!magic) {
			if (strcmp(line, MAGIC) != 0)
				r = bad_line(err, errlen, lineno, "not a tun2socks state file");
			magic = true;
			continue;
		}
		if (key_num(line, "pid", 0xffffffffu, &v)) {
			out->pid = (unsigned long)v;
			have[0] = true;
		} else if (key_num(line, "netns", UINT64_MAX, &v)) {
			out->netns = v;
			have[1] = true;
		} else if (strncmp(line, "tun ", 4) == 0) {
			if (line[4] == '\0' || strlen(line + 4) >= sizeof(out->tun) ||
			    strpbrk(line + 4, " /"))
				r = bad_line(err, errlen, lineno, "bad interface name");
			else
				strcpy(out->tun, line + 4);
			have[2] = true;
		} else if (key_num(line, "table", 0xffffffffu, &v)) {
			out->table = (uint32_t)v;
			have[3] = true;
		} else if (key_num(line, "rule-index", 0xffffffffu, &v)) {
			out->rule_index = (uint32_t)v;
			have[4] = true;
		} else if (strcmp(line, "resolv-conf") == 0) {
			out->resolv_conf = true;
		} else if (key_num(line, "resolved-link", 0x7fffffffu, &v) && v > 0) {
			out->resolved_link = (uint32_t)v;
		} else if (strncmp(line, "rule ", 5) == 0 || strncmp(line, "route ", 6) == 0) {
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct route_obj *o = realloc(out->obj, ncap * sizeof(*o));

				if (o == NULL) {
					r = -ENOMEM;
					break;
				}
				out->obj = o;
				cap = ncap;
			}
			if (route_text_parse(line, &out->obj[out->n]) != 0)
				r = bad_line(err, errlen, lineno, "cannot read '%s'", line);
			else
				out->n++;
		} else {
			r = bad_line(err, errlen, lineno, "unknown line '%s'", line);
		}
	}
	if (r == 0 && !magic)
		r = bad_line(err, errlen, lineno, "empty");
	for (int i = 0; r == 0 && i < 5; i++)
		if (!have[i])
			r = bad_line(err, errlen, lineno, "no %s line",
				     (const char *[]){ "pid", "netns", "tun", "table",
						       "rule-index" }[i]);
	if (r < 0)
		route_state_free(out);
	return r;
}
