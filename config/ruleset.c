/* ruleset: see ruleset.h. */
#include "config/ruleset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/ruleset_mrs.h"
#include "tun2socks/base/file_read.h"

/* A domain pattern: names[off, off + len) with a NUL after it. */
struct rs_domain {
	uint32_t off;
	uint8_t len; /* <= RULES_DOMAIN_MAX */
	uint8_t kind;
};

/* Entries live in one array per behaviour; domain names share one arena,
 * so a 100 000-name set costs a handful of allocations. */
struct ruleset {
	char *name;
	char *file; /* what the classical specs' positions point at */
	enum ruleset_behavior behavior;
	size_t n, cap;
	struct rs_domain *domains;
	struct rule_cidr *cidrs;
	struct rule_spec *rules;
	char *names;
	size_t names_len, names_cap;
	/* Bad entries are skipped, as mihomo does (ruleset.h): how many, and
	 * the first RULESET_WARN_MAX notes (skips and ignored fields). */
	size_t n_skipped, n_notes;
	struct conf_err notes[RULESET_WARN_MAX];
};

/* Load context: the set being filled and where errors go. */
struct loader {
	struct ruleset *rs;
	const char *buf;
	size_t len;
	struct conf_err *err;
	struct conf_err entry_err; /* why the entry being added is bad */
	/* YAML: the line that holds byte offset line_start, for turning
	 * libyaml's character columns into byte columns. */
	size_t cur_line;
	size_t line_start;
};

int ruleset_behavior_from_name(const char *s, enum ruleset_behavior *out)
{
	if (strcmp(s, "domain") == 0)
		*out = RULESET_DOMAIN;
	else if (strcmp(s, "ipcidr") == 0)
		*out = RULESET_IPCIDR;
	else if (strcmp(s, "classical") == 0)
		*out = RULESET_CLASSICAL;
	else
		return -EINVAL;
	return 0;
}

int ruleset_format_from_name(const char *s, enum ruleset_format *out)
{
	if (strcmp(s, "yaml") == 0)
		*out = RULESET_YAML;
	else if (strcmp(s, "text") == 0)
		*out = RULESET_TEXT;
	else if (strcmp(s, "mrs") == 0)
		*out = RULESET_MRS;
	else
		return -EINVAL;
	return 0;
}

const char *ruleset_name(const struct ruleset *rs)
{
	return rs->name;
}

enum ruleset_behavior ruleset_behavior(const struct ruleset *rs)
{
	return rs->behavior;
}

size_t ruleset_count(const struct ruleset *rs)
{
	return rs->n;
}

const char *ruleset_domain(const struct ruleset *rs, size_t i, size_t *len, unsigned *kind)
{
	*len = rs->domains[i].len;
	*kind = rs->domains[i].kind;
	return rs->names + rs->domains[i].off;
}

const struct rule_cidr *ruleset_cidr(const struct ruleset *rs, size_t i)
{
	return &rs->cidrs[i];
}

const struct rule_spec *ruleset_rule(const struct ruleset *rs, size_t i)
{
	return &rs->rules[i];
}

size_t ruleset_skipped(const struct ruleset *rs)
{
	return rs->n_skipped;
}

size_t ruleset_note_count(const struct ruleset *rs)
{
	return rs->n_notes;
}

const struct conf_err *ruleset_note(const struct ruleset *rs, size_t i)
{
	return i < RULESET_WARN_MAX && i < rs->n_notes ? &rs->notes[i] : NULL;
}

/* Keeps e as note (past RULESET_WARN_MAX only counted). */
static void note_add(struct ruleset *rs, const struct conf_err *e)
{
	if (rs->n_notes < RULESET_WARN_MAX)
		rs->notes[rs->n_notes] = *e;
	rs->n_notes++;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	if (rs->rules)
		for (size_t i = 0; i < rs->n; i++)
			rule_spec_free(&rs->rules[i]);
	free(rs->rules);
	free(rs->domains);
	free(rs->cidrs);
	free(rs->names);
	free(rs->name);
	free(rs->file);
	free(rs);
}

/* --- entries ------------------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int grow(struct ruleset *rs)
{
	size_t ncap = rs->cap ? rs->cap * 2 : 64;
	void *p;

	if (rs->n < rs->cap)
		return 0;
	switch (rs->behavior) {
	case RULESET_DOMAIN:
		p = realloc(rs->domains, ncap * sizeof(*rs->domains));
		if (p)
			rs->domains = p;
		break;
	case RULESET_IPCIDR:
		p = realloc(rs->cidrs, ncap * sizeof(*rs->cidrs));
		if (p)
			rs->cidrs = p;
		break;
	default:
		p = realloc(rs->rules, ncap * sizeof(*rs->rules));
		if (p)
			rs->rules = p;
		break;
	}
	if (!p)
		return -ENOMEM;
	rs->cap = ncap;
	return 0;
}

static int add_domain(struct loader *L, const char *s, size_t len, const struct conf_pos *pos)
{
	struct ruleset *rs = L->rs;
	unsigned kind = RULESET_MATCH_SELF;
	size_t skip = 0, n;
	const char *why;
	char q[400];

	if (len >= 2 && s[0] == '+' && s[1] == '.') {
		kind = RULESET_MATCH_SELF | RULESET_MATCH_SUB;
		skip = 2;
	} else if (len >= 1 && s[0] == '.') {
		kind = RULESET_MATCH_SUB;
		skip = 1;
	}
	if (rs->names_cap - rs->names_len < RULES_DOMAIN_MAX + 1) {
		size_t ncap = rs->names_cap ? rs->names_cap * 2 : 4096;
		char *p;

		if (ncap > UINT32_MAX)
			return conf_err_set(&L->entry_err, pos, "rule set too large");
		p = realloc(rs->names, ncap);
		if (!p)
			return -ENOMEM;
		rs->names = p;
		rs->names_cap = ncap;
	}
	if (rules_domain_norm(s + skip, len - skip, true, rs->names + rs->names_len, &n, &why)) {
		conf_err_quote(q, sizeof(q), s, len);
		return conf_err_set(&L->entry_err, pos, "bad domain '%s': %s", q, why);
	}
	if (grow(rs))
		return -ENOMEM;
	rs->domains[rs->n].off = (uint32_t)rs->names_len;
	rs->domains[rs->n].len = (uint8_t)n;
	rs->domains[rs->n].kind = (uint8_t)kind;
	rs->names_len += n + 1;
	rs->n++;
	return 0;
}

/* One entry, s[0, len) as written at pos; blanks around it are dropped.
 * 0, -ENOMEM, or -EINVAL with L->entry_err saying why it is bad. */
static int parse_entry(struct loader *L, const char *s, size_t len, struct conf_pos pos)
{
	struct ruleset *rs = L->rs;
	const char *why;
	char q[400];
	int r;

	while (len > 0 && is_blank(s[0])) {
		s++;
		len--;
		if (pos.col > 0)
			pos.col++;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (len == 0)
		return conf_err_set(&L->entry_err, &pos, "empty entry");
	if (memchr(s, '\0', len)) {
		pos.col += (int)((const char *)memchr(s, '\0', len) - s);
		return conf_err_set(&L->entry_err, &pos, "unexpected NUL byte");
	}
	switch (rs->behavior) {
	case RULESET_DOMAIN:
		return add_domain(L, s, len, &pos);
	case RULESET_IPCIDR:
		if (grow(rs))
			return -ENOMEM;
		if (rules_cidr_parse(s, len, &rs->cidrs[rs->n], &why)) {
			conf_err_quote(q, sizeof(q), s, len);
			return conf_err_set(&L->entry_err, &pos, "bad CIDR '%s': %s", q, why);
		}
		rs->n++;
		return 0;
	default:
		if (grow(rs))
			return -ENOMEM;
		pos.file = rs->file;
		r = rules_parse_entry(s, len, &pos, &rs->rules[rs->n], &L->entry_err);
		if (r == 0 && rs->rules[rs->n].ignored) {
			struct conf_err note;

			conf_err_quote(q, sizeof(q), s + rs->rules[rs->n].ignored_off,
				       len - rs->rules[rs->n].ignored_off);
			pos.col += (int)rs->rules[rs->n].ignored_off;
			conf_err_set(
				&note, &pos,
				"'%s' ignored (rule-set entries take no target), as mihomo does",
				q);
			note_add(rs, &note);
		}
		if (r == 0)
			rs->n++;
		return r;
	}
}

/* parse_entry, a bad entry skipped with a note, as mihomo skips it: one
 * typo must not take a list's other thousands of entries with it. Only
 * running out of memory stops the load. */
static int add_entry(struct loader *L, const char *s, size_t len, struct conf_pos pos)
{
	char msg[sizeof(L->entry_err.msg)];
	int r = parse_entry(L, s, len, pos);

	if (r != -EINVAL)
		return r;
	L->rs->n_skipped++;
	snprintf(msg, sizeof(msg), "%s", L->entry_err.msg);
	snprintf(L->entry_err.msg, sizeof(L->entry_err.msg), "%.480s; entry skipped", msg);
	note_add(L->rs, &L->entry_err);
	return 0;
}

/* --- text -------------------------------------------------------------------- */

static int load_text(struct loader *L)
{
	const char *b = L->buf, *end = L->buf + L->len;
	struct conf_pos pos = { .file = L->rs->file, .line = 0, .col = 1 };

	if (L->len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
		b += 3; /* a UTF-8 BOM, as some editors write */
	while (b < end) {
		const char *nl = memchr(b, '\n', (size_t)(end - b));
		const char *e = nl ? nl : end, *s = b;
		int r;

		pos.line++;
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && is_blank(*s))
			s++;
		if (s < e && *s != '#') {
			pos.col = (int)(s - b) + 1;
			r = add_entry(L, s, (size_t)(e - s), pos);
			if (r)
				return r;
		}
		b = nl ? nl + 1 : end;
	}
	return 0;
}

/* --- YAML -------------------------------------------------------------------- */

/* The start of the line after the one starting at i, breaking where
 * libyaml does (LF, CR, CRLF, NEL, U+2028, U+2029); len + 1 if none. */
static size_t next_line(const char *b, size_t i, size_t len)
{
	for (; i < len; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c == '\n')
			return i + 1;
		if (c == '\r')
			return i + 1 < len && b[i + 1] == '\n' ? i + 2 : i + 1;
		if (c == 0xc2 && i + 1 < len && (unsigned char)b[i + 1] == 0x85)
			return i + 2;
		if (c == 0xe2 && i + 2 < len && (unsigned char)b[i + 1] == 0x80 &&
		    ((unsigned char)b[i + 2] == 0xa8 || (unsigned char)b[i + 2] == 0xa9))
			return i + 3;
	}
	return len + 1;
}

/* libyaml's mark as a position: its column counts characters, ours bytes.
 * Marks only move forward, so the line cursor does too and the whole file
 * is walked once. A mark past the last line (libyaml ends the stream with
 * a line break of its own) is the end of the file. */
static struct conf_pos mark_pos(struct loader *L, const yaml_mark_t *m)
{
	struct conf_pos pos = { .file = L->rs->file };
	size_t i;

	while (L->cur_line < m->line) {
		size_t next = next_line(L->buf, L->line_start, L->len);

		if (next == L->len + 1) {
			pos.line = (int)L->cur_line + 1;
			pos.col = (int)(L->len - L->line_start) + 1;
			return pos;
		}
		L->line_start = next;
		L->cur_line++;
	}
	i = L->line_start;
	for (size_t c = 0; c < m->column && i < L->len; c++) {
		unsigned char lead = (unsigned char)L->buf[i];

		i += lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
	}
	if (i > L->len)
		i = L->len;
	pos.line = (int)m->line + 1;
	pos.col = (int)(i - L->line_start) + 1;
	return pos;
}

static int yaml_fail(struct loader *L, const yaml_parser_t *parser)
{
	struct conf_pos pos = { .file = L->rs->file, .line = 1, .col = 1 };
	const char *what = parser->problem ? parser->problem : "malformed YAML";
	size_t tab;

	if (parser->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	if (parser->error == YAML_READER_ERROR) {
		/* Only a byte offset: count lines up to it. */
		size_t off = parser->problem_offset < L->len ? parser->problem_offset : L->len;
		size_t ls = 0, next;

		while ((next = next_line(L->buf, ls, L->len)) <= off) {
			pos.line++;
			ls = next;
		}
		pos.col = (int)(off - ls) + 1;
		return conf_err_set(L->err, &pos, "bad YAML: %s", what);
	}
	L->cur_line = 0;
	L->line_start = 0;
	pos = mark_pos(L, &parser->problem_mark);
	/* mark_pos() left line_start at the mark's line. */
	if (conf_err_indent_tab(L->buf + L->line_start, L->len - L->line_start, &tab) == 0) {
		pos.col = (int)tab + 1;
		return conf_err_set(L->err, &pos,
				    "bad YAML: tab used for indentation (YAML allows only spaces)");
	}
	if (parser->context)
		return conf_err_set(L->err, &pos, "bad YAML: %s %s", what, parser->context);
	return conf_err_set(L->err, &pos, "bad YAML: %s", what);
}

static int next_event(struct loader *L, yaml_parser_t *parser, yaml_event_t *ev)
{
	if (!yaml_parser_parse(parser, ev))
		return yaml_fail(L, parser);
	return 0;
}

/* Skips the node whose first event is ev (already taken). */
static int skip_node(struct loader *L, yaml_parser_t *parser, yaml_event_t *ev)
{
	int depth = 0, r = 0;

	for (;;) {
		if (ev->type == YAML_SEQUENCE_START_EVENT || ev->type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev->type == YAML_SEQUENCE_END_EVENT || ev->type == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(ev);
		if (depth <= 0)
			return 0;
		r = next_event(L, parser, ev);
		if (r)
			return r;
	}
}

/* The payload list: ev is the value node's first event (taken). */
static int load_payload(struct loader *L, yaml_parser_t *parser, yaml_event_t *ev)
{
	struct conf_pos pos;
	int r;

	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.length == 0 &&
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		yaml_event_delete(ev); /* "payload:" with nothing: an empty set */
		return 0;
	}
	if (ev->type != YAML_SEQUENCE_START_EVENT) {
		pos = mark_pos(L, &ev->start_mark);
		yaml_event_delete(ev);
		return conf_err_set(L->err, &pos, "'payload' must be a list of strings");
	}
	yaml_event_delete(ev);
	for (;;) {
		r = next_event(L, parser, ev);
		if (r)
			return r;
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(ev);
			return 0;
		}
		pos = mark_pos(L, &ev->start_mark);
		if (ev->type != YAML_SCALAR_EVENT) {
			yaml_event_delete(ev);
			return conf_err_set(L->err, &pos, "expected a string in the payload list");
		}
		if (ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			pos.col++;
		r = add_entry(L, (const char *)ev->data.scalar.value, ev->data.scalar.length, pos);
		yaml_event_delete(ev);
		if (r)
			return r;
	}
}

static int load_yaml(struct loader *L)
{
	struct conf_pos start = { .file = L->rs->file, .line = 1, .col = 1 };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool found = false;
	int r;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)L->buf, L->len);
	r = next_event(L, &parser, &ev); /* stream start */
	if (r)
		goto out;
	yaml_event_delete(&ev);
	r = next_event(L, &parser, &ev);
	if (r)
		goto out;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		r = conf_err_set(L->err, &start, "expected a 'payload:' list, found an empty file");
		goto out;
	}
	yaml_event_delete(&ev);
	r = next_event(L, &parser, &ev);
	if (r)
		goto out;
	if (ev.type != YAML_MAPPING_START_EVENT) {
		struct conf_pos pos = mark_pos(L, &ev.start_mark);

		yaml_event_delete(&ev);
		r = conf_err_set(L->err, &pos, "expected a mapping with a 'payload:' list");
		goto out;
	}
	yaml_event_delete(&ev);
	for (;;) {
		bool is_payload;
		struct conf_pos kpos;

		r = next_event(L, &parser, &ev);
		if (r)
			goto out;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		kpos = mark_pos(L, &ev.start_mark);
		is_payload = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 7 &&
			     memcmp(ev.data.scalar.value, "payload", 7) == 0;
		r = skip_node(L, &parser, &ev);
		if (r)
			goto out;
		if (is_payload && found) {
			r = conf_err_set(L->err, &kpos, "duplicate 'payload' key");
			goto out;
		}
		r = next_event(L, &parser, &ev);
		if (r)
			goto out;
		if (is_payload) {
			found = true;
			r = load_payload(L, &parser, &ev);
		} else {
			r = skip_node(L, &parser, &ev);
		}
		if (r)
			goto out;
	}
	/* Whatever follows the first document is not read: mihomo reads one. */
	if (!found)
		r = conf_err_set(L->err, &start, "no 'payload:' list in the file");
out:
	yaml_parser_delete(&parser);
	return r;
}

/* --- mrs ------------------------------------------------------------------------ */

static int mrs_domain(void *arg, const char *key, size_t len)
{
	struct loader *L = arg;
	struct conf_pos pos = { .file = L->rs->file };

	/* In a DomainSet "+.x" is what the text forms write ".x": names
	 * under x only (x itself, if listed, is a key of its own). */
	if (len >= 2 && key[0] == '+' && key[1] == '.') {
		key++;
		len--;
	}
	return add_entry(L, key, len, pos);
}

static int mrs_cidr(void *arg, const struct rule_cidr *c)
{
	struct loader *L = arg;

	if (grow(L->rs))
		return -ENOMEM;
	L->rs->cidrs[L->rs->n++] = *c;
	return 0;
}

static int load_mrs(struct loader *L)
{
	struct mrs_sink sink = { mrs_domain, mrs_cidr, L };
	struct conf_pos pos = { .file = L->rs->file };
	const char *why = "";
	uint64_t count;
	int r;

	if (L->rs->behavior == RULESET_CLASSICAL)
		return conf_err_set(L->err, &pos,
				    "format mrs holds domain or ipcidr sets, not classical ones");
	r = ruleset_mrs_decode(L->buf, L->len,
			       L->rs->behavior == RULESET_DOMAIN ? MRS_DOMAIN : MRS_IPCIDR, &sink,
			       &count, &why);
	if (r == -EINVAL)
		return conf_err_set(L->err, &pos, "bad mrs rule set: %s", why);
	return r;
}

/* --- loading ----------------------------------------------------------------- */

int ruleset_load_buffer(const char *name, enum ruleset_behavior behavior,
			enum ruleset_format format, const char *file, const char *buf, size_t len,
			struct ruleset **out, struct conf_err *err)
{
	struct loader L = { .buf = buf, .len = len, .err = err };
	struct ruleset *rs;
	int r = -ENOMEM;

	*out = NULL;
	if (behavior < RULESET_DOMAIN || behavior > RULESET_CLASSICAL ||
	    (format != RULESET_YAML && format != RULESET_TEXT && format != RULESET_MRS)) {
		struct conf_pos pos = { .file = file };

		return conf_err_set(err, &pos, "internal error: bad behaviour or format");
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rs->behavior = behavior;
	rs->name = strdup(name ? name : "");
	rs->file = strdup(file ? file : "<input>");
	if (!rs->name || !rs->file)
		goto out;
	L.rs = rs;
	r = format == RULESET_YAML  ? load_yaml(&L)
	    : format == RULESET_MRS ? load_mrs(&L)
				    : load_text(&L);
	if (r)
		goto out;
	*out = rs;
	rs = NULL;
out:
	if (r == -ENOMEM) {
		struct conf_pos pos = { .file = file };

		conf_err_set(err, &pos, "out of memory");
	}
	ruleset_free(rs);
	return r;
}

int ruleset_load_file(const char *name, enum ruleset_behavior behavior, enum ruleset_format format,
		      const char *path, const struct conf_pos *pos, struct ruleset **out,
		      struct conf_err *err)
{
	char *buf;
	size_t len;
	int r;

	*out = NULL;
	r = file_read_all(path, 0, &buf, &len);
	if (r) {
		conf_err_set(err, pos, "cannot read rule-set '%s' from '%s': %s", name, path,
			     strerror(-r));
		return r;
	}
	r = ruleset_load_buffer(name, behavior, format, path, buf, len, out, err);
	free(buf);
	return r;
}
