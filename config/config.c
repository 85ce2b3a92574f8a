/* config: see config.h.
 *
 * libyaml's document API builds the node tree; this file walks it with a
 * fixed schema. Invariants:
 *  - every string and array handed out lives in the config's arena, so
 *    config_free() is one walk over the blocks (plus the warnings array);
 *  - positions come from libyaml marks, which count characters: mark_byte()
 *    converts them to byte columns using line starts computed with the same
 *    line-break rules libyaml uses (\r\n, \r, \n, NEL, LS, PS);
 *  - the node graph may share nodes (aliases) and even contain cycles
 *    ("&a [*a]"): the walk never recurses generically, only along the
 *    schema, and "<<" merges are depth-limited; a work budget bounds what
 *    aliases can multiply.
 */
#define _POSIX_C_SOURCE 200809L

#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <yaml.h>

#include "config/proxy_url.h"
#include "resolver/resolver.h"
#include "config/rules_parse.h"
#include "config/suggest.h"

enum {
	CONFIG_FILE_MAX = 64 << 20,   /* bytes read by config_load() */
	CONFIG_WARN_MAX = 1000,       /* warnings kept; one more says how many were dropped */
	CONFIG_MERGE_DEPTH = 8,       /* nested "<<" merges */
	CONFIG_BUDGET_BASE = 1000000, /* node visits, plus 4 per input byte */
	CONFIG_IFNAME_MAX = 15,       /* IFNAMSIZ - 1 */
	CONFIG_MTU_MIN = 576,
	CONFIG_MTU_MAX = 65535,
};

/* --- arena ------------------------------------------------------------------ */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

/* One name in the proxy/group namespace, sorted by name for bsearch. */
struct name_ent {
	const char *name;
	enum config_target_kind kind; /* PROXY or GROUP */
	size_t index;
	const struct conf_pos *pos;
};

struct config_arena {
	struct arena_block *head;
	struct name_ent *names; /* in the arena */
	size_t n_names;
};

static void *arena_alloc(struct config_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct arena_block *b = a->head;
	void *p;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;

		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void arena_free(struct config_arena *a)
{
	struct arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

/* --- loader context ------------------------------------------------------- */

struct loader {
	struct config *cfg;
	struct conf_err_list *errs; /* may be NULL */
	size_t n_errors;
	/* An error after which the load must stop (out of memory, the alias
	 * budget); any other error is recorded and the load goes on with the
	 * next key, entry or rule, so that every error of the file is found. */
	bool fatal;
	/* A proxies or proxy-groups section or entry was dropped whole: a name
	 * that is not found may be one of its, so "unknown" is not said. */
	bool names_partial;
	bool providers_partial; /* the same for rule-providers */
	const char *buf;
	size_t len;
	size_t bom;          /* 3 if buf starts with a UTF-8 BOM, else 0 */
	size_t *line_starts; /* byte offset of each line, libyaml's breaks */
	size_t n_lines;
	yaml_document_t doc;
	const char *base_dir; /* "" or ending in '/' */
	size_t budget;
	size_t warn_cap;
	size_t warn_dropped;
};

/* One key of a mapping after "<<" merges; own keys first. */
struct kv {
	const char *name;
	yaml_node_t *key, *val;
	size_t order;
	bool own;
};

/* Records e; -EINVAL. */
static int add_err(struct loader *ld, const struct conf_err *e)
{
	ld->n_errors++;
	if (ld->errs)
		conf_err_list_add(ld->errs, e);
	return -EINVAL;
}

static int fail_oom(struct loader *ld)
{
	struct conf_err e;

	conf_err_set(&e, &(struct conf_pos){ ld->cfg->file, 0, 0 }, "out of memory");
	add_err(ld, &e);
	ld->fatal = true;
	return -ENOMEM;
}

/* After a recorded error: 0 to go on with the next key, entry or rule, or r
 * when the load must stop. */
static int recover(const struct loader *ld, int r)
{
	return r == -EINVAL && !ld->fatal ? 0 : r;
}

static void *ld_alloc(struct loader *ld, size_t n)
{
	return arena_alloc(ld->cfg->arena_, n);
}

static char *ld_strndup(struct loader *ld, const char *s, size_t n)
{
	char *p = ld_alloc(ld, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Each node the schema walk touches costs one unit: aliases let a small
 * file name the same big list many times. */
static int spend(struct loader *ld, size_t n)
{
	if (ld->budget < n) {
		struct conf_err e;

		ld->fatal = true;
		conf_err_set(&e, &(struct conf_pos){ ld->cfg->file, 0, 0 },
			     "configuration too large once YAML aliases are expanded");
		return add_err(ld, &e);
	}
	ld->budget -= n;
	return 0;
}

/* --- positions ---------------------------------------------------------------- */

static size_t utf8_len(unsigned char c)
{
	if (c < 0xc0)
		return 1;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return 4;
}

/* Length of the line break at buf[i] as libyaml counts one, or 0. */
static size_t break_len(const char *buf, size_t len, size_t i)
{
	const unsigned char *u = (const unsigned char *)buf;

	if (u[i] == '\r')
		return i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
	if (u[i] == '\n')
		return 1;
	if (u[i] == 0xc2 && i + 1 < len && u[i + 1] == 0x85)
		return 2;
	if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
	    (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
		return 3;
	return 0;
}

static int index_lines(struct loader *ld)
{
	size_t n = 1, i, k, b = 0;

	for (i = 0; i < ld->len; i += b ? b : 1) {
		b = break_len(ld->buf, ld->len, i);
		n += b != 0;
	}
	ld->line_starts = malloc(n * sizeof(*ld->line_starts));
	if (!ld->line_starts)
		return -ENOMEM;
	/* The BOM is not given to libyaml: columns on line 1 start after it. */
	ld->line_starts[0] = ld->bom;
	for (i = 0, k = 1; i < ld->len; i += b ? b : 1) {
		b = break_len(ld->buf, ld->len, i);
		if (b)
			ld->line_starts[k++] = i + b;
	}
	ld->n_lines = n;
	return 0;
}

/* Byte offset of a libyaml mark (line and column count characters). */
static size_t mark_byte(const struct loader *ld, const yaml_mark_t *m)
{
	size_t line = m->line < ld->n_lines ? m->line : ld->n_lines - 1;
	size_t b = ld->line_starts[line];

	for (size_t c = 0; c < m->column && b < ld->len; c++)
		b += utf8_len((unsigned char)ld->buf[b]);
	return b < ld->len ? b : ld->len;
}

static struct conf_pos byte_pos(const struct loader *ld, size_t off)
{
	size_t lo = 0, hi = ld->n_lines;

	/* Last line starting at or before off. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ld->line_starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return (struct conf_pos){ ld->cfg->file, (int)(lo + 1),
				  (int)(off - ld->line_starts[lo] + 1) };
}

static struct conf_pos mark_pos(const struct loader *ld, const yaml_mark_t *m)
{
	return byte_pos(ld, mark_byte(ld, m));
}

static bool is_quoted(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* Where a scalar's text starts: past an anchor or tag (the mark is at
 * those) and, when quoted, past the quote. Other nodes: their mark. */
static struct conf_pos node_pos(const struct loader *ld, const yaml_node_t *n)
{
	size_t b = mark_byte(ld, &n->start_mark);
	const char *s = ld->buf;

	while (n->type == YAML_SCALAR_NODE && b < ld->len && (s[b] == '&' || s[b] == '!')) {
		while (b < ld->len && s[b] != ' ' && s[b] != '\t' && !break_len(s, ld->len, b))
			b++;
		while (b < ld->len && (s[b] == ' ' || s[b] == '\t' || break_len(s, ld->len, b)))
			b += break_len(s, ld->len, b) ? break_len(s, ld->len, b) : 1;
	}
	if (is_quoted(n) && b < ld->len && (s[b] == '"' || s[b] == '\''))
		b++;
	return byte_pos(ld, b);
}

/* Position of byte off of a scalar's value: exact when the value is
 * written as is on one line (no escapes, no folding), else the start. */
static struct conf_pos scalar_pos_at(const struct loader *ld, const yaml_node_t *n,
				     size_t off)
{
	struct conf_pos p = node_pos(ld, n);
	size_t s = mark_byte(ld, &n->start_mark), e = mark_byte(ld, &n->end_mark);
	size_t raw = n->data.scalar.length + (is_quoted(n) ? 2 : 0);

	if (n->type == YAML_SCALAR_NODE && e >= s && e - s == raw &&
	    n->start_mark.line == n->end_mark.line && off <= n->data.scalar.length)
		p.col += (int)off;
	return p;
}

/* --- messages ------------------------------------------------------------------ */

/* s as a short printable quotation for a message. */
static const char *quote(char out[80], const char *s, size_t n)
{
	size_t o = 0, i;

	out[o++] = '"';
	for (i = 0; i < n && o < 64; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < n) {
		/* Do not leave half a UTF-8 sequence before the ellipsis. */
		while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
		if (o > 1 && (unsigned char)out[o - 1] >= 0xc0)
			o--;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static const char *qs(char out[80], const char *s)
{
	return quote(out, s, strlen(s));
}

static const char *qnode(char out[80], const yaml_node_t *n)
{
	return quote(out, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* Quoted user text is escaped already; this keeps any slip from
 * breaking the one-line "file:line:col: message" form. */
static void one_line(char *msg)
{
	for (; *msg; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = ' ';
}

static int fail_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
{
	struct conf_err e;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	conf_err_set(&e, &pos, "%s", msg);
	return add_err(ld, &e);
}

static int warn_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int warn_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
{
	struct config *cfg = ld->cfg;
	char msg[512];
	va_list ap;
	char *s;

	if (cfg->n_warnings >= CONFIG_WARN_MAX) {
		ld->warn_dropped++;
		return 0;
	}
	if (cfg->n_warnings == ld->warn_cap) {
		size_t cap = ld->warn_cap ? ld->warn_cap * 2 : 16;
		struct config_warning *w = realloc(cfg->warnings, (cap + 1) * sizeof(*w));

		if (!w)
			return fail_oom(ld);
		cfg->warnings = w;
		ld->warn_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	s = ld_strndup(ld, msg, strlen(msg));
	if (!s)
		return fail_oom(ld);
	cfg->warnings[cfg->n_warnings++] = (struct config_warning){ pos, s };
	return 0;
}

/* After CONFIG_WARN_MAX warnings: one line saying how many were dropped,
 * in the spare slot warn_at() keeps (the array holds warn_cap + 1). */
static int warn_summary(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	char msg[96];

	snprintf(msg, sizeof(msg), "%zu more warnings not shown", ld->warn_dropped);
	cfg->warnings[cfg->n_warnings].pos = (struct conf_pos){ cfg->file, 0, 0 };
	cfg->warnings[cfg->n_warnings].msg = ld_strndup(ld, msg, strlen(msg));
	if (!cfg->warnings[cfg->n_warnings].msg)
		return fail_oom(ld);
	cfg->n_warnings++;
	return 0;
}

/* a before b in the file; no position sorts last. */
static bool pos_before(const struct conf_pos *a, const struct conf_pos *b)
{
	if ((a->line > 0) != (b->line > 0))
		return a->line > 0;
	if (a->line != b->line)
		return a->line < b->line;
	return a->col < b->col;
}

/* Warnings are found section by section (top-level keys first, then tun,
 * dns, proxies...): put them in file order, stably, as the user reads the
 * file. An insertion sort: at most CONFIG_WARN_MAX, mostly in order. */
static void sort_warnings(struct config *cfg)
{
	for (size_t i = 1; i < cfg->n_warnings; i++) {
		struct config_warning w = cfg->warnings[i];
		size_t j = i;

		for (; j > 0 && pos_before(&w.pos, &cfg->warnings[j - 1].pos); j--)
			cfg->warnings[j] = cfg->warnings[j - 1];
		cfg->warnings[j] = w;
	}
}

static const char *kind_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a scalar";
	}
}

/* --- node access ------------------------------------------------------------- */

static yaml_node_t *node_at(struct loader *ld, yaml_node_item_t i)
{
	return yaml_document_get_node(&ld->doc, i);
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* A scalar's text; "what" names the key for messages. */
static int get_scalar(struct loader *ld, yaml_node_t *n, const char *what,
		      const char **out)
{
	*out = NULL;
	if (n->type != YAML_SCALAR_NODE)
		return fail_at(ld, node_pos(ld, n), "%s: expected a value, got %s",
			       what, kind_name(n));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return fail_at(ld, node_pos(ld, n), "%s: NUL character not allowed", what);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* A string value copied into the arena; NULL for null ("key:" alone). */
static int get_str(struct loader *ld, yaml_node_t *n, const char *what, const char **out)
{
	const char *v;
	int r;

	*out = NULL;
	if (is_null(n))
		return 0;
	r = get_scalar(ld, n, what, &v);
	if (r < 0)
		return r;
	*out = ld_strndup(ld, v, n->data.scalar.length);
	return *out ? 0 : fail_oom(ld);
}

/* Like get_str, but null and "" are errors. */
static int get_nonempty(struct loader *ld, yaml_node_t *n, const char *what,
			const char **out)
{
	int r = get_str(ld, n, what, out);

	if (r == 0 && (!*out || !**out))
		return fail_at(ld, node_pos(ld, n), "%s: expected a non-empty value", what);
	return r;
}

static int get_bool(struct loader *ld, yaml_node_t *n, const char *what, bool *out)
{
	/* YAML 1.1 booleans, as go-yaml reads them into a bool. */
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					   "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
					  "off", "Off", "OFF" };
	char q[80];
	const char *v;
	int r = get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail_at(ld, node_pos(ld, n), "%s: expected true or false, got %s", what,
		       qnode(q, n));
}

/* Decimal or 0x hex, within [min, max]. */
static int get_uint(struct loader *ld, yaml_node_t *n, const char *what,
		    unsigned long long min, unsigned long long max,
		    unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10;
	const char *s;
	char q[80];
	size_t i = 0;
	bool ok;
	int r = get_scalar(ld, n, what, &s);

	if (r < 0)
		return r;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2]) {
		base = 16;
		i = 2;
	}
	ok = s[i] != '\0';
	for (; ok && s[i]; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			ok = false;
		if (ok && v > (~0ULL - d) / base)
			v = ~0ULL; /* saturate: out of range below */
		else if (ok)
			v = v * base + d;
	}
	if (!ok || v < min || v > max)
		return fail_at(ld, node_pos(ld, n), "%s: expected an integer from %llu to %llu, got %s",
			       what, min, max, qnode(q, n));
	*out = v;
	return 0;
}

/* One of names[] (exactly as written); *out is its index. expect is the
 * list for the message, e.g. "fake-ip, redir-host or normal". */
static int get_enum(struct loader *ld, yaml_node_t *n, const char *what,
		    const char *const *names, size_t count, const char *expect, int *out)
{
	char q[80];
	const char *v;
	int r = get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(v, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return fail_at(ld, node_pos(ld, n), "%s: expected %s, got %s", what, expect,
		       qnode(q, n));
}

/* The items of a list. A null value is an empty list; with single, a
 * scalar counts as a list of one (mihomo's leniency for some keys). */
static int get_list(struct loader *ld, yaml_node_t *n, const char *what, bool single,
		    yaml_node_item_t **items, size_t *count)
{
	*items = NULL;
	*count = 0;
	if (is_null(n))
		return 0;
	if (n->type == YAML_SEQUENCE_NODE) {
		*items = n->data.sequence.items.start;
		*count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
		return spend(ld, *count);
	}
	if (single && n->type == YAML_SCALAR_NODE) {
		*count = 1;
		return 0;
	}
	return fail_at(ld, node_pos(ld, n), "%s: expected a list, got %s", what, kind_name(n));
}

static yaml_node_t *list_item(struct loader *ld, yaml_node_t *list,
			      yaml_node_item_t *items, size_t i)
{
	return items ? node_at(ld, items[i]) : list;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->own != y->own)
		return x->own ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int kv_order_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* Appends the pairs of map (and of what it merges) to *v. */
static int collect_pairs(struct loader *ld, yaml_node_t *map, const char *what,
			 bool own, int depth, struct kv **v, size_t *n, size_t *cap)
{
	yaml_node_pair_t *p;
	int r;

	if (depth > CONFIG_MERGE_DEPTH)
		return fail_at(ld, node_pos(ld, map), "%s: \"<<\" merges nested too deep", what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key), *val = node_at(ld, p->value);
		const char *name;

		r = spend(ld, 1);
		if (r < 0)
			return r;
		if (!k || !val)
			return fail_at(ld, node_pos(ld, map), "%s: broken mapping", what);
		if (k->type != YAML_SCALAR_NODE)
			return fail_at(ld, node_pos(ld, k), "%s: expected a key name, got %s",
				       what, kind_name(k));
		r = get_scalar(ld, k, what, &name);
		if (r < 0)
			return r;
		if (k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(name, "<<")) {
			/* YAML 1.1 merge key: a mapping or a list of them;
			 * keys already present win. */
			yaml_node_item_t *items;
			size_t count;

			if (val->type == YAML_MAPPING_NODE) {
				r = collect_pairs(ld, val, what, false, depth + 1, v, n, cap);
				if (r < 0)
					return r;
				continue;
			}
			if (val->type != YAML_SEQUENCE_NODE)
				return fail_at(ld, node_pos(ld, val),
					       "%s: \"<<\" expects a mapping or a list of mappings", what);
			r = get_list(ld, val, what, false, &items, &count);
			if (r < 0)
				return r;
			for (size_t i = 0; i < count; i++) {
				yaml_node_t *m = node_at(ld, items[i]);

				if (!m || m->type != YAML_MAPPING_NODE)
					return fail_at(ld, node_pos(ld, m ? m : val),
						       "%s: \"<<\" expects a mapping or a list of mappings", what);
				r = collect_pairs(ld, m, what, false, depth + 1, v, n, cap);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			struct kv *nv = realloc(*v, nc * sizeof(*nv));

			if (!nv)
				return fail_oom(ld);
			*v = nv;
			*cap = nc;
		}
		(*v)[*n] = (struct kv){ name, k, val, *n, own };
		(*n)++;
	}
	return 0;
}

/* The keys of a mapping in document order, "<<" merges applied, a
 * duplicate key an error. The caller frees *out. */
static int map_entries(struct loader *ld, yaml_node_t *map, const char *what,
		       struct kv **out, size_t *count)
{
	struct kv *v = NULL;
	size_t n = 0, cap = 0, i, j, k;
	int r;

	*out = NULL;
	*count = 0;
	if (is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return fail_at(ld, node_pos(ld, map), "%s: expected a mapping, got %s", what,
			       kind_name(map));
	r = collect_pairs(ld, map, what, true, 0, &v, &n, &cap);
	if (r < 0)
		goto out;
	if (n > 1) {
		/* Sorted by name, own keys first, then order: a run of
		 * equal names keeps its first (own keys beat merged ones,
		 * earlier merges beat later ones, as YAML 1.1 says); two own
		 * keys in one run are a duplicate. */
		qsort(v, n, sizeof(*v), kv_cmp);
		for (i = 0, k = 0; i < n; i = j) {
			for (j = i + 1; j < n && !strcmp(v[j].name, v[i].name); j++) {
				if (v[j].own) {
					char q[80];
					struct conf_pos first = node_pos(ld, v[i].key);

					/* The first one is used: the rest of the
					 * file is still worth checking. */
					r = recover(ld, fail_at(ld, node_pos(ld, v[j].key),
								"%s: duplicate key %s (first at line %d)",
								what, qs(q, v[j].name), first.line));
					if (r < 0)
						goto out;
				}
			}
			v[k++] = v[i];
		}
		n = k;
		qsort(v, n, sizeof(*v), kv_order_cmp);
	}
	*out = v;
	*count = n;
	v = NULL;
out:
	free(v);
	return r;
}

/* --- keys of the proxies, proxy-groups, rule-providers and tun mappings ----------
 *
 * Each of these mappings has the keys we act on (the loaders' if-chains) and
 * keys mihomo knows that we do not use: those are ignored with a warning, so
 * a Clash config can be pasted as it is. Any other key is a typo, and a typo
 * there changes what runs ("passwrd:" would send no credentials), so it is
 * an error, with the closest key of either list as a suggestion. mihomo's
 * lists are from its source: the `proxy:` tags in adapter/outbound (of
 * every outbound type, BasicOption, smux), adapter/outboundgroup (the
 * `group:` tags, tolerance, strategy), rules/provider/parse.go and RawTun in
 * config/config.go, plus a few keys newer releases added. */

struct key_set {
	const char *const *ours;
	size_t n_ours;
	const char *const *mihomo; /* known to mihomo, unused by us */
	size_t n_mihomo;
};

#define KEYS(ours, mihomo) \
	{ ours, sizeof(ours) / sizeof(ours[0]), mihomo, sizeof(mihomo) / sizeof(mihomo[0]) }

static const char *const tun_ours[] = { "enable", "device", "mtu", "inet4-address",
					"inet6-address", "auto-route", "strict-route",
					"dns-hijack", "iproute2-table-index",
					"iproute2-rule-index", "route-address",
					"route-exclude-address", "include-uid", "exclude-uid" };
static const char *const tun_mihomo[] = {
	"stack", "dns-hijack", "auto-route", "auto-detect-interface", "auto-redirect",
	"auto-redirect-input-mark", "auto-redirect-output-mark", "strict-route", "gso",
	"gso-max-size", "iproute2-table-index", "iproute2-rule-index", "route-address",
	"route-address-set", "route-exclude-address", "route-exclude-address-set",
	"inet4-route-address", "inet6-route-address", "inet4-route-exclude-address",
	"inet6-route-exclude-address", "include-interface", "exclude-interface", "include-uid",
	"include-uid-range", "exclude-uid", "exclude-uid-range", "include-android-user",
	"include-package", "exclude-package", "endpoint-independent-nat", "udp-timeout",
	"file-descriptor", "disable-icmp-forwarding", "loopback-address", "exclude-src-port",
	"exclude-src-port-range", "exclude-dst-port", "exclude-dst-port-range", "recvmsgx",
	"sendmsgx", "auto-redirect-iproute2-fallback-rule-index",
};

/* socks5 and http; redirect takes name, type and to. */
static const char *const proxy_net_ours[] = { "name", "type", "server", "port",
					      "username", "password", "tls",
					      "skip-cert-verify", "sni", "servername", "ca",
					      "udp" };
static const char *const proxy_redirect_ours[] = { "name", "type", "to" };
/* Every outbound type's keys (a socks5 entry may carry a vmess key: mihomo
 * ignores it too), and ours of the other kind ("to" on a socks5 proxy). */
static const char *const proxy_mihomo[] = {
	"name", "type", "server", "port", "username", "password", "tls", "udp",
	"skip-cert-verify", "fingerprint", "sni", "servername", "headers", "ca", "to",
	/* BasicOption, smux */
	"tfo", "mptcp", "interface-name", "routing-mark", "ip-version", "dialer-proxy",
	"smux",
	"alpn", "alterId", "amnezia-wg-option", "auth", "auth-str", "authenticated-length",
	"ca-str", "certificate", "cipher", "client-fingerprint", "congestion-controller", "cwnd",
	"disable-mtu-discovery", "disable-sni", "dns", "down", "down-speed", "ech-opts",
	"fast-open", "flow", "global-padding", "grpc-opts", "h2-opts", "heartbeat-interval",
	"hop-interval", "host-key", "host-key-algorithms", "http-opts",
	"idle-session-check-interval", "idle-session-timeout",
	"initial-connection-receive-window", "initial-stream-receive-window", "ip", "ipv6",
	"max-connection-receive-window", "max-datagram-frame-size", "max-open-streams",
	"max-stream-receive-window", "max-udp-relay-packet-size", "min-idle-session", "mtu",
	"multiplexing", "network", "obfs", "obfs-opts", "obfs-param", "obfs-password",
	"obfs-protocol", "packet-addr", "packet-encoding", "peers", "persistent-keepalive",
	"plugin", "plugin-opts", "port-range", "ports", "private-key", "private-key-passphrase",
	"protocol", "protocol-param", "psk", "public-key", "pre-shared-key", "reserved",
	"allowed-ips", "reality-opts", "recv-window", "recv-window-conn", "reduce-rtt",
	"refresh-server-ip-interval", "remote-dns-resolve", "request-timeout", "ss-opts",
	"token", "transport", "udp-mtu", "udp-over-stream", "udp-over-stream-version",
	"udp-over-tcp", "udp-over-tcp-version", "udp-relay-mode", "up", "up-speed", "uuid",
	"version", "workers", "ws-headers", "ws-opts", "ws-path", "xudp",
};

static const char *const group_ours[] = { "name", "type", "proxies", "default-selected",
					  "use", "include-all", "include-all-proxies",
					  "include-all-providers" };
static const char *const group_mihomo[] = {
	"url", "interval", "tolerance", "lazy", "timeout", "max-failed-times", "disable-udp",
	"filter", "exclude-filter", "exclude-type", "expected-status", "hidden", "icon",
	"strategy", "interface-name", "routing-mark",
};

static const char *const provider_ours[] = { "type", "behavior", "format", "path",
					     "payload" };
static const char *const provider_mihomo[] = { "url", "proxy", "interval", "size-limit",
					       "header" };

static const struct key_set tun_keys = KEYS(tun_ours, tun_mihomo);
static const struct key_set proxy_net_keys = KEYS(proxy_net_ours, proxy_mihomo);
static const struct key_set proxy_redirect_keys = KEYS(proxy_redirect_ours, proxy_mihomo);
static const struct key_set group_keys = KEYS(group_ours, group_mihomo);
static const struct key_set provider_keys = KEYS(provider_ours, provider_mihomo);

static bool in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, list[i]))
			return true;
	return false;
}

/* A key the caller's if-chain did not take: a warning when mihomo knows it,
 * else an error naming the closest known key. what: "tun", "proxy \"x\"". */
static int other_key(struct loader *ld, const struct kv *e, const char *what,
		     const struct key_set *ks)
{
	struct conf_pos pos = node_pos(ld, e->key);
	char q[80], q2[80];
	struct suggest sg;
	const char *best;

	if (in_list(e->name, ks->mihomo, ks->n_mihomo))
		return warn_at(ld, pos, "%s: %s is not used by tun2socks; ignored", what,
			       qs(q, e->name));
	suggest_init(&sg, e->name, strlen(e->name));
	suggest_add_list(&sg, ks->ours, ks->n_ours);
	suggest_add_list(&sg, ks->mihomo, ks->n_mihomo);
	best = suggest_best(&sg);
	if (best)
		return fail_at(ld, pos, "%s: unknown key %s (did you mean %s?)", what,
			       qs(q, e->name), qs(q2, best));
	return fail_at(ld, pos, "%s: unknown key %s", what, qs(q, e->name));
}

static int warn_ignored(struct loader *ld, const struct kv *e, const char *where)
{
	char q[80];

	return warn_at(ld, node_pos(ld, e->key), "%s%s%s is not used by tun2socks; ignored",
		       where, *where ? " " : "", qs(q, e->name));
}

/* --- values with structure ----------------------------------------------------- */

/* "a.b.c.d/len" or "v6/len"; host bits may be set. */
static int get_cidr(struct loader *ld, yaml_node_t *n, int family, const char *what,
		    struct config_cidr *out)
{
	const char *v, *slash;
	char addr[64], q[80];
	unsigned prefix = 0, max = family == AF_INET ? 32 : 128;
	size_t alen, i;
	int r = get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	slash = strchr(v, '/');
	alen = slash ? (size_t)(slash - v) : 0;
	if (!slash || alen == 0 || alen >= sizeof(addr) || !slash[1] || strlen(slash + 1) > 3)
		goto bad;
	for (i = 1; slash[i]; i++) {
		if (slash[i] < '0' || slash[i] > '9')
			goto bad;
		prefix = prefix * 10 + (unsigned)(slash[i] - '0');
	}
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(family, addr, out->addr) != 1)
		goto bad;
	if (prefix > max)
		return fail_at(ld, scalar_pos_at(ld, n, alen + 1),
			       "%s: prefix length %u is longer than %u in %s", what, prefix,
			       max, qnode(q, n));
	out->text = ld_strndup(ld, v, n->data.scalar.length);
	if (!out->text)
		return fail_oom(ld);
	out->pos = node_pos(ld, n);
	out->family = family;
	out->prefix = prefix;
	return 0;
bad:
	return fail_at(ld, node_pos(ld, n), "%s: expected an %s CIDR like %s, got %s", what,
		       family == AF_INET ? "IPv4" : "IPv6",
		       family == AF_INET ? "198.18.0.1/16" : "fdfe:dcba:9876::1/64", qnode(q, n));
}

/* A list of CIDRs (a single string allowed, as mihomo does). */
static int get_cidr_list(struct loader *ld, yaml_node_t *n, int family, const char *what,
			 struct config_cidr **out, size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = get_list(ld, n, what, true, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = ld_alloc(ld, c * sizeof(**out));
	if (!*out)
		return fail_oom(ld);
	for (size_t i = 0; i < c; i++) {
		yaml_node_t *it = list_item(ld, n, items, i);
		int fam = family;

		if (fam == 0) /* either family, by the text */
			fam = it->type == YAML_SCALAR_NODE &&
					      memchr(it->data.scalar.value, ':', it->data.scalar.length)
				      ? AF_INET6
				      : AF_INET;
		r = get_cidr(ld, it, fam, what, &(*out)[i]);
		if (r < 0)
			return r;
	}
	*count = c;
	return 0;
}

/* A list of user ids (a single number allowed). */
static int get_uid_list(struct loader *ld, yaml_node_t *n, const char *what, uint32_t **out,
			size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = get_list(ld, n, what, true, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = ld_alloc(ld, c * sizeof(**out));
	if (!*out)
		return fail_oom(ld);
	for (size_t i = 0; i < c; i++) {
		unsigned long long v;

		r = get_uint(ld, list_item(ld, n, items, i), what, 0, 0xffffffffu, &v);
		if (r < 0)
			return r;
		(*out)[i] = (uint32_t)v;
	}
	*count = c;
	return 0;
}

/* A list of non-empty strings with their positions. */
static int get_str_list(struct loader *ld, yaml_node_t *n, const char *what,
			struct config_str **out, size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = get_list(ld, n, what, false, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = ld_alloc(ld, c * sizeof(**out));
	if (!*out)
		return fail_oom(ld);
	for (size_t i = 0; i < c; i++) {
		yaml_node_t *it = node_at(ld, items[i]);

		r = get_nonempty(ld, it, what, &(*out)[i].text);
		if (r < 0)
			return r;
		(*out)[i].pos = node_pos(ld, it);
	}
	*count = c;
	return 0;
}

static int check_ifname(struct loader *ld, yaml_node_t *n, const char *what, const char *s)
{
	char q[80];
	size_t len = strlen(s);

	if (len == 0 || len > CONFIG_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, "..") ||
	    strpbrk(s, "/: \t"))
		return fail_at(ld, node_pos(ld, n),
			       "%s: expected an interface name (1-%d bytes, no '/', ':' or spaces), got %s",
			       what, CONFIG_IFNAME_MAX, qs(q, s));
	return 0;
}

/* Runs proxy_url_parse() on "socks5://<text>" so host names, IP literals
 * and ports follow the same rules as --proxy URLs. text_off is where text
 * starts in the node's value, for error columns. */
static int check_authority(struct loader *ld, yaml_node_t *n, const char *what,
			   const char *text, size_t text_off, struct proxy_url *u)
{
	static const char prefix[] = "socks5://";
	char url[600], e[160], q[80];
	const char *bad = strpbrk(text, "@/?#");
	unsigned long col;
	char *end;

	if (bad)
		return fail_at(ld, scalar_pos_at(ld, n, text_off + (size_t)(bad - text)),
			       "%s: invalid character '%c' in %s", what, *bad, qs(q, text));
	if (strlen(text) > sizeof(url) - sizeof(prefix) - 1)
		return fail_at(ld, node_pos(ld, n), "%s: host name too long", what);
	snprintf(url, sizeof(url), "%s%s", prefix, text);
	if (proxy_url_parse(url, u, e, sizeof(e)) == 0)
		return 0;
	/* "column N: reason", N 1-based in url. */
	col = strtoul(e + 7, &end, 10);
	if (strncmp(e, "column ", 7) || strncmp(end, ": ", 2) || col == 0)
		return fail_at(ld, node_pos(ld, n), "%s: %s in %s", what, e, qs(q, text));
	col = col > sizeof(prefix) - 1 ? col - sizeof(prefix) : 0;
	return fail_at(ld, scalar_pos_at(ld, n, text_off + col), "%s: %s in %s", what,
		       end + 2, qs(q, text));
}

/* "server:" of a proxy: a host name or an IP literal without brackets. */
static int check_server(struct loader *ld, yaml_node_t *n, const char *what, const char *host)
{
	char url[320], q[80];
	struct proxy_url u;

	if (strpbrk(host, "[]"))
		return fail_at(ld, node_pos(ld, n),
			       "%s: write an IPv6 address without brackets, got %s", what, qs(q, host));
	if (strlen(host) > 255)
		return fail_at(ld, node_pos(ld, n), "%s: host name longer than 255 bytes", what);
	if (!strchr(host, ':'))
		return check_authority(ld, n, what, host, 0, &u);
	snprintf(url, sizeof(url), "socks5://[%s]", host);
	if (proxy_url_parse(url, &u, NULL, 0) == 0)
		return 0;
	return fail_at(ld, node_pos(ld, n), "%s: invalid IPv6 address %s", what, qs(q, host));
}

/* --- sections -------------------------------------------------------------------- */

static int tun_key(struct loader *ld, struct config_tun *t, const struct kv *e)
{
	const char *k = e->name;
	unsigned long long v = 0;
	int r;

	if (!strcmp(k, "enable"))
		return get_bool(ld, e->val, "tun.enable", &t->enable);
	if (!strcmp(k, "device")) {
		r = get_str(ld, e->val, "tun.device", &t->device);
		if (r == 0 && t->device)
			r = check_ifname(ld, e->val, "tun.device", t->device);
		return r;
	}
	if (!strcmp(k, "mtu")) {
		r = get_uint(ld, e->val, "tun.mtu", CONFIG_MTU_MIN, CONFIG_MTU_MAX, &v);
		t->mtu = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "inet4-address"))
		return get_cidr_list(ld, e->val, AF_INET, "tun.inet4-address", &t->inet4,
				     &t->n_inet4);
	if (!strcmp(k, "inet6-address"))
		return get_cidr_list(ld, e->val, AF_INET6, "tun.inet6-address", &t->inet6,
				     &t->n_inet6);
	if (!strcmp(k, "auto-route")) {
		t->has_auto_route = true;
		return get_bool(ld, e->val, "tun.auto-route", &t->auto_route);
	}
	if (!strcmp(k, "strict-route")) {
		t->has_strict_route = true;
		return get_bool(ld, e->val, "tun.strict-route", &t->strict_route);
	}
	if (!strcmp(k, "dns-hijack")) {
		t->has_dns_hijack = true;
		return get_str_list(ld, e->val, "tun.dns-hijack", &t->dns_hijack, &t->n_dns_hijack);
	}
	if (!strcmp(k, "iproute2-table-index") || !strcmp(k, "iproute2-rule-index")) {
		bool table = !strcmp(k, "iproute2-table-index");

		r = get_uint(ld, e->val, table ? "tun.iproute2-table-index" : "tun.iproute2-rule-index",
			     1, table ? 0xffffffffu : 32755, &v);
		*(table ? &t->table_index : &t->rule_index) = (unsigned)v;
		return r;
	}
	if (!strcmp(k, "route-address"))
		return get_cidr_list(ld, e->val, 0, "tun.route-address", &t->route_address,
				     &t->n_route_address);
	if (!strcmp(k, "route-exclude-address"))
		return get_cidr_list(ld, e->val, 0, "tun.route-exclude-address",
				     &t->route_exclude_address, &t->n_route_exclude_address);
	if (!strcmp(k, "include-uid"))
		return get_uid_list(ld, e->val, "tun.include-uid", &t->include_uid, &t->n_include_uid);
	if (!strcmp(k, "exclude-uid"))
		return get_uid_list(ld, e->val, "tun.exclude-uid", &t->exclude_uid, &t->n_exclude_uid);
	return other_key(ld, e, "tun", &tun_keys);
}

static int load_tun(struct loader *ld, yaml_node_t *n)
{
	struct config_tun *t = &ld->cfg->tun;
	struct kv *e = NULL;
	size_t count;
	int r = map_entries(ld, n, "tun", &e, &count);

	t->present = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = recover(ld, tun_key(ld, t, &e[i]));
	free(e);
	return r;
}

static bool is_encrypted_dns(const char *t)
{
	static const char *const schemes[] = { "https://", "tls://", "quic://", "h3://" };

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncasecmp(t, schemes[i], strlen(schemes[i])))
			return true;
	return false;
}

/* One nameserver entry, checked by the resolver's own parser. */
static int check_nameserver(struct loader *ld, const struct config_str *s)
{
	static const char *const reasons[] = {
		"only udp:// and tcp:// are supported",
		"port must be 1-65535",
		"expected IP, IP:port or [IPv6]:port",
	};
	char csv[256], e[256], q[80];
	const char *why;
	bool tcp;
	int r;

	if (strchr(s->text, ','))
		return fail_at(ld, s->pos, "dns.nameserver: one server per list entry, got %s",
			       qs(q, s->text));
	/* The resolver's message quotes the entry: keep it short enough for
	 * e, and say so ourselves otherwise. */
	if (strlen(s->text) > 100)
		return fail_at(ld, s->pos, "dns.nameserver: %s: entry too long", qs(q, s->text));
	r = resolver_parse_servers(s->text, csv, sizeof(csv), &tcp, e, sizeof(e));
	if (r == 0)
		return 0;
	/* "--dns-server: cannot parse '<entry>': <why>": keep the why, which
	 * is one of a few fixed texts (the entry is quoted by us). */
	why = "expected IP, IP:port, [IPv6]:port, udp://IP[:port] or tcp://IP[:port]";
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		size_t el = strlen(e), rl = strlen(reasons[i]);

		if (el >= rl && !strcmp(e + el - rl, reasons[i]))
			why = reasons[i];
	}
	return fail_at(ld, s->pos, "dns.nameserver: %s: %s", qs(q, s->text), why);
}

/* dns.nameserver: every entry checked; encrypted ones dropped with a
 * warning. */
static int dns_nameservers(struct loader *ld, struct config_dns *d, yaml_node_t *n)
{
	size_t kept = 0;
	char q[80];
	int r = get_str_list(ld, n, "dns.nameserver", &d->nameservers, &d->n_nameservers);

	for (size_t j = 0; r == 0 && j < d->n_nameservers; j++) {
		/* Encrypted DNS, common in Clash configs: skipped with a
		 * warning so the rest of the file works. */
		if (is_encrypted_dns(d->nameservers[j].text)) {
			r = warn_at(ld, d->nameservers[j].pos,
				    "dns.nameserver: %s: DNS over HTTPS/TLS/QUIC is not supported; "
				    "entry skipped",
				    qs(q, d->nameservers[j].text));
			continue;
		}
		r = recover(ld, check_nameserver(ld, &d->nameservers[j]));
		d->nameservers[kept++] = d->nameservers[j];
	}
	if (r == 0 && kept == 0 && d->n_nameservers > 0)
		r = fail_at(ld, node_pos(ld, n),
			    "dns.nameserver: no usable server (plain udp:// or tcp:// needed)");
	d->n_nameservers = kept;
	return r;
}

static int dns_key(struct loader *ld, struct config_dns *d, const struct kv *e)
{
	static const char *const modes[] = { "redir-host", "fake-ip", "normal" };
	const char *k = e->name;
	unsigned long long v = 0;
	int mode = 0, r;

	if (!strcmp(k, "enable"))
		return get_bool(ld, e->val, "dns.enable", &d->enable);
	if (!strcmp(k, "enhanced-mode")) {
		r = get_enum(ld, e->val, "dns.enhanced-mode", modes, 3,
			     "fake-ip, redir-host or normal", &mode);
		d->mode = (enum config_dns_mode)mode;
		return r;
	}
	if (!strcmp(k, "nameserver"))
		return dns_nameservers(ld, d, e->val);
	if (!strcmp(k, "fake-ip-range")) {
		d->has_fake_ip_range = !is_null(e->val);
		return d->has_fake_ip_range ? get_cidr(ld, e->val, AF_INET, "dns.fake-ip-range",
						       &d->fake_ip_range)
					    : 0;
	}
	if (!strcmp(k, "fake-ip-range6")) {
		d->has_fake_ip_range6 = !is_null(e->val);
		return d->has_fake_ip_range6 ? get_cidr(ld, e->val, AF_INET6,
							"dns.fake-ip-range6", &d->fake_ip_range6)
					     : 0;
	}
	if (!strcmp(k, "fake-ip-filter"))
		return get_str_list(ld, e->val, "dns.fake-ip-filter", &d->fake_ip_filter,
				    &d->n_fake_ip_filter);
	if (!strcmp(k, "fake-ip-ttl")) {
		r = get_uint(ld, e->val, "dns.fake-ip-ttl", 1, 86400, &v);
		d->fake_ip_ttl = (unsigned)v;
		return r;
	}
	return warn_ignored(ld, e, "dns:");
}

static int load_dns(struct loader *ld, yaml_node_t *n)
{
	struct config_dns *d = &ld->cfg->dns;
	struct kv *e = NULL;
	size_t count;
	int r = map_entries(ld, n, "dns", &e, &count);

	d->present = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = recover(ld, dns_key(ld, d, &e[i]));
	free(e);
	return r;
}

static bool reserved_name(const char *s)
{
	return !strcmp(s, "DIRECT") || !strcmp(s, "REJECT") || !strcmp(s, "REJECT-DROP");
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* "name" of a proxy or group map: required, non-empty, not reserved. */
static int get_entry_name(struct loader *ld, yaml_node_t *item, const struct kv *e,
			  size_t count, const char *what, const char **name,
			  struct conf_pos *pos)
{
	char q[80];
	int r;

	for (size_t i = 0; i < count; i++) {
		if (strcmp(e[i].name, "name"))
			continue;
		r = get_nonempty(ld, e[i].val, what, name);
		*pos = node_pos(ld, e[i].val);
		if (r == 0 && reserved_name(*name))
			r = fail_at(ld, *pos, "%s: the name %s is reserved", what, qs(q, *name));
		/* A rejected name is not kept for the entry (see load_proxies). */
		if (r < 0)
			*name = NULL;
		return r;
	}
	return fail_at(ld, node_pos(ld, item), "%s: missing \"name\"", what);
}

static yaml_node_t *find_key(const struct kv *e, size_t count, const char *key)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(e[i].name, key))
			return e[i].val;
	return NULL;
}

static int resolve_path(struct loader *ld, const char *path, const char **out)
{
	size_t dl = path[0] == '/' ? 0 : strlen(ld->base_dir), pl = strlen(path);
	char *s = ld_alloc(ld, dl + pl + 1);

	if (!s)
		return fail_oom(ld);
	memcpy(s, ld->base_dir, dl);
	memcpy(s + dl, path, pl);
	*out = s;
	return 0;
}

/* 0 when r is 0 and no error was recorded since before, else an error:
 * after an entry whose keys were each looked at, recovering from their
 * errors, the checks across keys are not worth making. */
static int errors_since(const struct loader *ld, size_t before, int r)
{
	return r == 0 && ld->n_errors != before ? -EINVAL : r;
}

/* What a proxy's keys leave for the checks across them. */
struct proxy_keys {
	yaml_node_t *server, *to;
	const char *sni, *servername;
	struct conf_pos skip_cert_verify; /* of the key */
};

/* One key of a socks5/http/redirect proxy. */
static int proxy_key(struct loader *ld, struct config_proxy *p, const struct kv *e,
		     const char *what, struct proxy_keys *pk)
{
	bool net = p->type != CONFIG_PROXY_REDIRECT;
	const char *k = e->name, *ca = NULL;
	unsigned long long v = 0;
	char w[256];
	bool udp;
	int r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "name") || !strcmp(k, "type"))
		return 0;
	if (!net && !strcmp(k, "to")) {
		pk->to = e->val;
		return get_nonempty(ld, e->val, w, &p->to_host);
	}
	if (!net)
		return other_key(ld, e, what, &proxy_redirect_keys);
	if (!strcmp(k, "server")) {
		pk->server = e->val;
		return get_nonempty(ld, e->val, w, &p->server);
	}
	if (!strcmp(k, "port")) {
		r = get_uint(ld, e->val, w, 1, 65535, &v);
		p->port = (uint16_t)v;
		return r;
	}
	if (!strcmp(k, "username"))
		return get_str(ld, e->val, w, &p->username);
	if (!strcmp(k, "password"))
		return get_str(ld, e->val, w, &p->password);
	if (!strcmp(k, "tls"))
		return get_bool(ld, e->val, w, &p->tls);
	if (!strcmp(k, "skip-cert-verify")) {
		pk->skip_cert_verify = node_pos(ld, e->key);
		return get_bool(ld, e->val, w, &p->skip_cert_verify);
	}
	if (!strcmp(k, "sni"))
		return get_str(ld, e->val, w, &pk->sni);
	if (!strcmp(k, "servername"))
		return get_str(ld, e->val, w, &pk->servername);
	if (!strcmp(k, "ca")) {
		r = get_str(ld, e->val, w, &ca);
		if (r == 0 && ca && *ca)
			r = resolve_path(ld, ca, &p->ca);
		return r;
	}
	if (!strcmp(k, "udp")) {
		r = get_bool(ld, e->val, w, &udp);
		if (r == 0 && p->type == CONFIG_PROXY_SOCKS5)
			p->udp = udp;
		else if (r == 0 && udp)
			r = warn_at(ld, node_pos(ld, e->key),
				    "%s: HTTP proxies carry no UDP; \"udp\" ignored", what);
		return r;
	}
	return other_key(ld, e, what, &proxy_net_keys);
}

/* mihomo decodes a proxy's keys case-insensitively and reads '_' as '-'
 * (its structure decoder's key replacer), so "Skip_Cert_Verify" is
 * skip-cert-verify there: here too. Returns the known spelling k stands
 * for, or k itself when it stands for none (then reported as written). */
static const char *proxy_key_canon(const char *k, const struct key_set *ks, char *buf,
				   size_t cap)
{
	size_t n = strlen(k);

	if (n >= cap)
		return k;
	for (size_t i = 0; i <= n; i++)
		buf[i] = k[i] == '_' ? '-' : (char)tolower((unsigned char)k[i]);
	if (strcmp(buf, k) != 0 && (in_list(buf, ks->ours, ks->n_ours) ||
				    in_list(buf, ks->mihomo, ks->n_mihomo)))
		return buf;
	return k;
}

/* The keys of a socks5/http/redirect proxy after name and type: each one,
 * then -EINVAL if any was wrong. */
static int load_proxy_keys(struct loader *ld, struct config_proxy *p, const struct kv *e,
			   size_t count, const char *what, struct proxy_keys *pk)
{
	const struct key_set *ks = p->type == CONFIG_PROXY_REDIRECT ? &proxy_redirect_keys
								    : &proxy_net_keys;
	size_t before = ld->n_errors;
	char canon[64];
	int r = 0;

	for (size_t i = 0; r == 0 && i < count; i++) {
		struct kv k = e[i];

		k.name = proxy_key_canon(e[i].name, ks, canon, sizeof(canon));
		r = recover(ld, proxy_key(ld, p, &k, what, pk));
	}
	r = errors_since(ld, before, r);
	if (r < 0)
		return r;
	if (pk->sni && pk->servername && strcmp(pk->sni, pk->servername))
		r = warn_at(ld, p->pos, "%s: both \"sni\" and \"servername\" given; using sni", what);
	p->sni = pk->sni && *pk->sni ? pk->sni : pk->servername && *pk->servername ? pk->servername
										  : NULL;
	return r;
}

/* "to: host:port" of a redirect. */
static int check_redirect(struct loader *ld, struct config_proxy *p, yaml_node_t *to_node,
			  const char *what)
{
	const char *t = p->to_host;
	struct proxy_url u;
	char w[200], q[80];
	bool has_port;
	int r;

	if (!to_node)
		return fail_at(ld, p->pos, "%s: redirect needs \"to: host:port\"", what);
	/* A port is required: proxy_url would default it. */
	has_port = t[0] == '[' ? strstr(t, "]:") != NULL : strchr(t, ':') != NULL;
	if (!has_port)
		return fail_at(ld, node_pos(ld, to_node),
			       "%s: to: expected host:port or [IPv6]:port, got %s", what, qs(q, t));
	snprintf(w, sizeof(w), "%s: to", what);
	r = check_authority(ld, to_node, w, t, 0, &u);
	if (r < 0)
		return r;
	p->to_host = ld_strndup(ld, u.host, strlen(u.host));
	p->to_port = u.port;
	return p->to_host ? 0 : fail_oom(ld);
}

/* server, port and credentials of a socks5 or http proxy. */
static int check_net_proxy(struct loader *ld, struct config_proxy *p, yaml_node_t *server_node,
			   const char *what)
{
	char w[200];
	int r;

	if (!server_node || !p->port)
		return fail_at(ld, p->pos, "%s: %s needs \"server\" and \"port\"", what,
			       p->type_name);
	snprintf(w, sizeof(w), "%s: server", what);
	r = check_server(ld, server_node, w, p->server);
	if (r < 0)
		return r;
	if (p->type == CONFIG_PROXY_SOCKS5) {
		/* RFC 1929: both present, 1-255 bytes each. */
		size_t ul = p->username ? strlen(p->username) : 0;
		size_t pl = p->password ? strlen(p->password) : 0;

		if ((ul || pl) && (!ul || !pl || ul > 255 || pl > 255))
			return fail_at(ld, p->pos, "%s: socks5 authentication needs a username and a password of 1-255 bytes each",
				       what);
	}
	if (p->username && !*p->username)
		p->username = NULL;
	if (p->password && !*p->password)
		p->password = NULL;
	if (p->password && !p->username)
		return fail_at(ld, p->pos, "%s: \"password\" without \"username\"", what);
	return 0;
}

/* The type of a proxy; 1 for a type we cannot speak (kept, with a
 * warning, so a rule naming it can say why it cannot be used). */
static int proxy_type(struct loader *ld, struct config_proxy *p, yaml_node_t *tn,
		      const char *what)
{
	char q[80];
	int r = get_nonempty(ld, tn, "type", &p->type_name);

	if (r < 0)
		return r;
	if (eq_nocase(p->type_name, "socks5")) {
		p->type = CONFIG_PROXY_SOCKS5;
		p->udp = true;
	} else if (eq_nocase(p->type_name, "http")) {
		p->type = CONFIG_PROXY_HTTP;
	} else if (eq_nocase(p->type_name, "redirect")) {
		p->type = CONFIG_PROXY_REDIRECT;
	} else {
		p->type = CONFIG_PROXY_UNSUPPORTED;
		r = warn_at(ld, node_pos(ld, tn), "%s: type %s is not supported (only socks5, http and redirect); rules using it will fail",
			    what, qs(q, p->type_name));
		return r < 0 ? r : 1;
	}
	return 0;
}

static int load_proxy(struct loader *ld, yaml_node_t *item, size_t idx, struct config_proxy *p)
{
	struct proxy_keys pk = { 0 };
	yaml_node_t *tn;
	struct kv *e = NULL;
	char what[160], q[80];
	size_t count;
	int r;

	snprintf(what, sizeof(what), "proxies[%zu]", idx);
	if (!is_null(item) && item->type != YAML_MAPPING_NODE)
		return fail_at(ld, node_pos(ld, item), "%s: expected a mapping, got %s", what,
			       kind_name(item));
	r = map_entries(ld, item, what, &e, &count);
	if (r < 0)
		goto out;
	r = get_entry_name(ld, item, e, count, what, &p->name, &p->pos);
	if (r < 0)
		goto out;
	snprintf(what, sizeof(what), "proxy %s", qs(q, p->name));
	tn = find_key(e, count, "type");
	if (!tn) {
		r = fail_at(ld, p->pos, "%s: missing \"type\"", what);
		goto out;
	}
	r = proxy_type(ld, p, tn, what);
	if (r != 0) {
		r = r > 0 ? 0 : r;
		goto out;
	}
	r = load_proxy_keys(ld, p, e, count, what, &pk);
	if (r < 0)
		goto out;
	if (p->type == CONFIG_PROXY_REDIRECT) {
		r = check_redirect(ld, p, pk.to, what);
		goto out;
	}
	r = check_net_proxy(ld, p, pk.server, what);
	/* Here rather than when the router builds, so that it comes in file
	 * order with the other warnings. */
	if (r == 0 && p->tls && p->skip_cert_verify)
		r = warn_at(ld, pk.skip_cert_verify,
			    "%s: skip-cert-verify is on: the TLS connection to %s is NOT "
			    "authenticated, anyone on the path can read and change it",
			    what, p->server);
out:
	free(e);
	return r;
}

static int load_proxies(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items;
	size_t count;
	int r = get_list(ld, n, "proxies", false, &items, &count);

	if (r < 0)
		ld->names_partial = true;
	if (r < 0 || count == 0)
		return r;
	cfg->proxies = ld_alloc(ld, count * sizeof(*cfg->proxies));
	if (!cfg->proxies)
		return fail_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		struct config_proxy *p = &cfg->proxies[cfg->n_proxies];

		r = load_proxy(ld, node_at(ld, items[i]), i, p);
		/* A broken proxy keeps its name, so that rules and groups
		 * naming it are not reported as well; without one, its slot
		 * is reused. */
		if (r == 0 || p->name) {
			cfg->n_proxies++;
		} else {
			memset(p, 0, sizeof(*p));
			ld->names_partial = true;
		}
		r = recover(ld, r);
	}
	return r;
}

/* A group's keys: members are names here (resolve_groups() fills kind and
 * index); default-selected is kept for resolve_groups() too. */
struct group_keys {
	const char **selected;
	struct conf_pos *selected_pos;
	bool uses_providers;
};

static int group_members(struct loader *ld, struct config_group *g, yaml_node_t *n,
			 const char *what)
{
	struct config_str *m;
	size_t count;
	int r = get_str_list(ld, n, what, &m, &count);

	if (r < 0 || count == 0)
		return r;
	g->members = ld_alloc(ld, count * sizeof(*g->members));
	if (!g->members)
		return fail_oom(ld);
	for (size_t j = 0; j < count; j++)
		g->members[j] = (struct config_member){ .name = m[j].text, .pos = m[j].pos };
	g->n_members = count;
	return 0;
}

static int group_key(struct loader *ld, struct config_group *g, const struct kv *e,
		     const char *what, struct group_keys *gk)
{
	const char *k = e->name;
	char w[200], q[80];
	bool b;
	int r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "name") || !strcmp(k, "type"))
		return 0;
	if (!strcmp(k, "proxies"))
		return group_members(ld, g, e->val, w);
	if (!strcmp(k, "default-selected")) {
		*gk->selected_pos = node_pos(ld, e->val);
		return get_str(ld, e->val, w, gk->selected);
	}
	if (!strcmp(k, "use")) {
		gk->uses_providers = true;
		return warn_at(ld, node_pos(ld, e->key),
			       "%s: proxy-providers are not supported; \"use\" ignored", what);
	}
	if (!strcmp(k, "include-all") || !strcmp(k, "include-all-proxies") ||
	    !strcmp(k, "include-all-providers")) {
		r = get_bool(ld, e->val, w, &b);
		if (r == 0 && b)
			r = warn_at(ld, node_pos(ld, e->key),
				    "%s: %s is not supported; list the members under \"proxies\"",
				    what, qs(q, k));
		return r;
	}
	return other_key(ld, e, what, &group_keys);
}

static int load_group(struct loader *ld, yaml_node_t *item, size_t idx, struct config_group *g,
		      const char **selected, struct conf_pos *selected_pos)
{
	static const char *const types[] = { "select", "url-test", "fallback", "load-balance",
					     "relay" };
	struct group_keys gk = { selected, selected_pos, false };
	yaml_node_t *tn;
	struct kv *e = NULL;
	char what[160], w[200], q[80];
	size_t count, before = ld->n_errors;
	int type = 0, r;

	snprintf(what, sizeof(what), "proxy-groups[%zu]", idx);
	if (!is_null(item) && item->type != YAML_MAPPING_NODE)
		return fail_at(ld, node_pos(ld, item), "%s: expected a mapping, got %s", what,
			       kind_name(item));
	r = map_entries(ld, item, what, &e, &count);
	if (r < 0)
		goto out;
	r = get_entry_name(ld, item, e, count, what, &g->name, &g->pos);
	if (r < 0)
		goto out;
	snprintf(what, sizeof(what), "proxy group %s", qs(q, g->name));
	tn = find_key(e, count, "type");
	if (!tn) {
		r = fail_at(ld, g->pos, "%s: missing \"type\"", what);
		goto out;
	}
	snprintf(w, sizeof(w), "%s: type", what);
	r = get_enum(ld, tn, w, types, 5,
		     "select, url-test, fallback, load-balance or relay", &type);
	if (r < 0)
		goto out;
	g->type = (enum config_group_type)type;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = recover(ld, group_key(ld, g, &e[i], what, &gk));
	r = errors_since(ld, before, r);
	if (r == 0 && g->n_members == 0)
		r = fail_at(ld, g->pos, "%s: no members (expected a \"proxies\" list%s)", what,
			    gk.uses_providers ? "; proxy-providers are not supported" : "");
out:
	free(e);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->pos->line != y->pos->line)
		return x->pos->line < y->pos->line ? -1 : 1;
	return x->pos->col < y->pos->col ? -1 : x->pos->col > y->pos->col;
}

static const struct name_ent *find_name(const struct config_arena *a, const char *name)
{
	size_t lo = 0, hi = a->n_names;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, a->names[mid].name);

		if (c == 0)
			return &a->names[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Proxies and groups share one namespace; names are unique in it. */
static int index_names(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	struct config_arena *a = cfg->arena_;
	size_t n = cfg->n_proxies + cfg->n_groups, k = 0;
	char q[80];
	int r = 0;

	if (n == 0)
		return 0;
	a->names = ld_alloc(ld, n * sizeof(*a->names));
	if (!a->names)
		return fail_oom(ld);
	for (size_t i = 0; i < cfg->n_proxies; i++)
		a->names[k++] = (struct name_ent){ cfg->proxies[i].name, CONFIG_TARGET_PROXY, i,
						   &cfg->proxies[i].pos };
	for (size_t i = 0; i < cfg->n_groups; i++)
		a->names[k++] = (struct name_ent){ cfg->groups[i].name, CONFIG_TARGET_GROUP, i,
						   &cfg->groups[i].pos };
	qsort(a->names, n, sizeof(*a->names), name_cmp);
	a->n_names = n;
	for (size_t i = 1; r == 0 && i < n; i++) {
		if (strcmp(a->names[i - 1].name, a->names[i].name))
			continue;
		r = recover(ld, fail_at(ld, *a->names[i].pos,
					"duplicate name %s (first defined at line %d)",
					qs(q, a->names[i].name), a->names[i - 1].pos->line));
	}
	return r;
}

/* Group i's members -> kinds and indexes, and the selected member. */
static int resolve_members(struct loader *ld, size_t i, const char *selected,
			   const struct conf_pos *selected_pos)
{
	struct config_group *g = &ld->cfg->groups[i];
	char q[80], q2[80], q3[80];
	size_t j;
	int r = 0;

	for (j = 0; r == 0 && j < g->n_members; j++) {
		struct config_member *m = &g->members[j];
		const struct name_ent *ne;

		if (!strcmp(m->name, "DIRECT")) {
			m->kind = CONFIG_TARGET_DIRECT;
		} else if (!strcmp(m->name, "REJECT")) {
			m->kind = CONFIG_TARGET_REJECT;
		} else if (!strcmp(m->name, "REJECT-DROP")) {
			m->kind = CONFIG_TARGET_REJECT_DROP;
		} else if ((ne = find_name(ld->cfg->arena_, m->name))) {
			m->kind = ne->kind;
			m->index = ne->index;
		} else if (!ld->names_partial) {
			r = recover(ld, fail_at(ld, m->pos,
						"proxy group %s: unknown member %s (expected a proxy, a proxy group, DIRECT, REJECT or REJECT-DROP)",
						qs(q, g->name), qs(q2, m->name)));
		}
	}
	g->selected = 0;
	/* A group kept for its name after an error may have no members. */
	if (r < 0 || !selected || g->n_members == 0)
		return r;
	for (j = 0; j < g->n_members; j++)
		if (!strcmp(g->members[j].name, selected))
			break;
	if (j < g->n_members) {
		g->selected = j;
		return 0;
	}
	return warn_at(ld, *selected_pos,
		       "proxy group %s: default-selected %s is not a member; using %s",
		       qs(q, g->name), qs(q2, selected), qs(q3, g->members[0].name));
}

/* A group that reaches itself: the first cycle found is an error. Iterative
 * DFS (white 0, on stack 1, done 2). */
static int check_cycles(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	size_t ng = cfg->n_groups, depth = 0;
	unsigned char *state = calloc(ng ? ng : 1, 1);
	struct frame { size_t g, next; } *stack = malloc((ng ? ng : 1) * sizeof(*stack));
	char q[80], path[400];
	int r = 0;

	if (!state || !stack) {
		r = fail_oom(ld);
		goto out;
	}
	for (size_t root = 0; root < ng; root++) {
		if (state[root])
			continue;
		state[root] = 1;
		stack[0] = (struct frame){ root, 0 };
		depth = 1;
		while (depth) {
			struct frame *f = &stack[depth - 1];
			const struct config_group *g = &cfg->groups[f->g];
			const struct config_member *m;
			size_t o = 0, k;

			if (f->next == g->n_members) {
				state[f->g] = 2;
				depth--;
				continue;
			}
			m = &g->members[f->next++];
			if (m->kind != CONFIG_TARGET_GROUP || state[m->index] == 2)
				continue;
			if (state[m->index] == 0) {
				state[m->index] = 1;
				stack[depth++] = (struct frame){ m->index, 0 };
				continue;
			}
			/* Back edge: the cycle is the stack from m's group up. */
			for (k = 0; stack[k].g != m->index; k++)
				;
			for (; k < depth && o < sizeof(path) - 100; k++)
				o += (size_t)snprintf(path + o, sizeof(path) - o, "%s -> ",
						      qs(q, cfg->groups[stack[k].g].name));
			if (k < depth)
				o += (size_t)snprintf(path + o, sizeof(path) - o, "... -> ");
			snprintf(path + o, sizeof(path) - o, "%s", qs(q, m->name));
			r = fail_at(ld, m->pos, "proxy group cycle: %s", path);
			goto out;
		}
	}
out:
	free(state);
	free(stack);
	return r;
}

/* Strategies we do not implement: where their traffic goes instead. */
static int warn_strategies(struct loader *ld)
{
	char q[80], q2[80];
	int r = 0;

	for (size_t i = 0; r == 0 && i < ld->cfg->n_groups; i++) {
		const struct config_group *g = &ld->cfg->groups[i];

		if (g->n_members == 0)
			continue;
		if (g->type == CONFIG_GROUP_URL_TEST || g->type == CONFIG_GROUP_FALLBACK ||
		    g->type == CONFIG_GROUP_LOAD_BALANCE)
			r = warn_at(ld, g->pos,
				    "proxy group %s (%s): health checks are not implemented; traffic goes to %s",
				    qs(q, g->name), config_group_type_name(g->type),
				    qs(q2, g->members[g->selected].name));
		else if (g->type == CONFIG_GROUP_RELAY)
			r = warn_at(ld, g->pos,
				    "proxy group %s (relay): proxy chains are not implemented; traffic goes to %s only",
				    qs(q, g->name), qs(q2, g->members[g->selected].name));
	}
	return r;
}

/* Group members -> kinds and indexes; no cycles; the selected member. */
static int resolve_groups(struct loader *ld, const char **selected,
			  const struct conf_pos *selected_pos)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ld->cfg->n_groups; i++)
		r = recover(ld, resolve_members(ld, i, selected[i], &selected_pos[i]));
	if (r == 0)
		r = check_cycles(ld);
	if (r == 0)
		r = warn_strategies(ld);
	return r;
}

static int load_groups(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items = NULL;
	const char **selected = NULL;
	struct conf_pos *selected_pos = NULL;
	size_t count = 0;
	int r = 0;

	/* Names are indexed even when the list is broken: rules need them. */
	if (n)
		r = get_list(ld, n, "proxy-groups", false, &items, &count);
	if (r < 0)
		ld->names_partial = true;
	r = recover(ld, r);
	if (r == 0 && count) {
		cfg->groups = ld_alloc(ld, count * sizeof(*cfg->groups));
		selected = calloc(count, sizeof(*selected));
		selected_pos = calloc(count, sizeof(*selected_pos));
		if (!cfg->groups || !selected || !selected_pos)
			r = fail_oom(ld);
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		size_t k = cfg->n_groups;
		struct config_group *g = &cfg->groups[k];

		r = load_group(ld, node_at(ld, items[i]), i, g, &selected[k], &selected_pos[k]);
		/* As for proxies: a broken group keeps its name if it has one. */
		if (r == 0 || g->name) {
			cfg->n_groups++;
		} else {
			memset(g, 0, sizeof(*g));
			selected[k] = NULL;
			ld->names_partial = true;
		}
		r = recover(ld, r);
	}
	if (r == 0)
		r = index_names(ld);
	if (r == 0)
		r = resolve_groups(ld, selected, selected_pos);
	free(selected);
	free(selected_pos);
	return r;
}

static bool has_provider(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_rule_providers; i++)
		if (!strcmp(cfg->rule_providers[i].name, name))
			return true;
	return false;
}

/* Every RULE-SET in s, its AND/OR/NOT operands included, names a rule
 * provider. */
static int check_rule_sets(struct loader *ld, const struct rule_spec *s)
{
	char q[80];
	int r = 0;

	if (s->type == RULE_RULE_SET && !ld->providers_partial && !has_provider(ld->cfg, s->str))
		r = fail_at(ld, s->payload_pos, "unknown rule-set %s", qs(q, s->str));
	for (size_t i = 0; r == 0 && i < s->n_sub; i++)
		r = check_rule_sets(ld, &s->sub[i]);
	return r;
}

/* A rule line as the router will read it (syntax, rule-set names, target),
 * so that a bad line is reported with the file's other errors and the load
 * goes on; the router parses the lines again to build the rule engine. */
static int check_rule(struct loader *ld, const struct config_str *line)
{
	struct config_target t;
	struct rule_spec spec;
	struct conf_err e;
	char msg[300];
	int r = rules_parse_line(line->text, strlen(line->text), &line->pos, &spec, &e);

	if (r == -ENOMEM)
		return fail_oom(ld);
	if (r < 0)
		return add_err(ld, &e);
	r = check_rule_sets(ld, &spec);
	if (r == 0) {
		r = config_resolve_target(ld->cfg, spec.target, &t, msg, sizeof(msg));
		/* Not said again: a group that failed to load (-EINVAL) or a
		 * cycle (-ELOOP) was reported where it is written, and a name
		 * may be missing because its entry failed to load. */
		if (r == -EINVAL || r == -ELOOP || (r == -ENOENT && ld->names_partial))
			r = 0;
		else if (r < 0)
			r = fail_at(ld, spec.target_pos, "%s", msg);
	}
	rules_spec_free(&spec);
	return r;
}

static int load_rule_line(struct loader *ld, yaml_node_t *it, struct config_str *out)
{
	int r;

	if (it->type != YAML_SCALAR_NODE || is_null(it))
		return fail_at(ld, node_pos(ld, it),
			       "rules: expected a rule line like DOMAIN-SUFFIX,example.com,DIRECT, got %s",
			       is_null(it) ? "nothing" : kind_name(it));
	r = get_nonempty(ld, it, "rules", &out->text);
	if (r < 0)
		return r;
	out->pos = node_pos(ld, it);
	return check_rule(ld, out);
}

static int load_rules(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	yaml_node_item_t *items;
	size_t count;
	int r = get_list(ld, n, "rules", false, &items, &count);

	if (r < 0 || count == 0)
		return r;
	cfg->rules = ld_alloc(ld, count * sizeof(*cfg->rules));
	if (!cfg->rules)
		return fail_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		r = load_rule_line(ld, node_at(ld, items[i]), &cfg->rules[cfg->n_rules]);
		/* A bad line is not kept: the config is not used anyway. */
		if (r == 0)
			cfg->n_rules++;
		r = recover(ld, r);
	}
	return r;
}

/* What a rule provider's keys leave for the checks across them. */
struct provider_keys {
	yaml_node_t *path, *payload;
	bool has_type, has_behavior;
};

static int provider_key(struct loader *ld, struct config_rule_provider *rp, const struct kv *e,
			const char *what, struct provider_keys *pk)
{
	static const char *const types[] = { "file", "inline", "http" };
	static const char *const behaviors[] = { "domain", "ipcidr", "classical" };
	static const char *const formats[] = { "yaml", "text", "mrs" };
	const char *k = e->name;
	char w[200];
	int v = 0, r;

	snprintf(w, sizeof(w), "%s: %s", what, k);
	if (!strcmp(k, "type")) {
		pk->has_type = true;
		r = get_enum(ld, e->val, w, types, 3, "file, http or inline", &v);
		if (r == 0 && v == 2)
			r = fail_at(ld, node_pos(ld, e->val),
				    "%s: only type: file is supported; download the list and point path at it",
				    what);
		rp->type = (enum config_rp_type)v;
		return r;
	}
	if (!strcmp(k, "behavior")) {
		pk->has_behavior = true;
		r = get_enum(ld, e->val, w, behaviors, 3, "domain, ipcidr or classical", &v);
		rp->behavior = (enum config_rp_behavior)v;
		return r;
	}
	if (!strcmp(k, "format")) {
		if (is_null(e->val))
			return 0;
		r = get_enum(ld, e->val, w, formats, 3, "yaml or text", &v);
		if (r == 0 && v == 2)
			r = fail_at(ld, node_pos(ld, e->val),
				    "%s: format mrs (binary) is not supported; convert the list to yaml or text",
				    what);
		rp->format = (enum config_rp_format)v;
		return r;
	}
	if (!strcmp(k, "path")) {
		pk->path = e->val;
		return 0;
	}
	if (!strcmp(k, "payload")) {
		pk->payload = e->val;
		return 0;
	}
	return other_key(ld, e, what, &provider_keys);
}

/* path (type file) or payload (type inline). */
static int provider_source(struct loader *ld, struct config_rule_provider *rp,
			   const struct provider_keys *pk, const char *what)
{
	const char *path;
	char w[200];
	int r;

	if (rp->type == CONFIG_RP_FILE) {
		if (!pk->path)
			return fail_at(ld, rp->pos, "%s: type file needs \"path\"", what);
		snprintf(w, sizeof(w), "%s: path", what);
		r = get_nonempty(ld, pk->path, w, &path);
		if (r == 0)
			r = resolve_path(ld, path, &rp->path);
		rp->path_pos = node_pos(ld, pk->path);
		if (r == 0 && pk->payload)
			r = warn_at(ld, node_pos(ld, pk->payload),
				    "%s: \"payload\" is only read for type inline; ignored", what);
		return r;
	}
	if (!pk->payload)
		return fail_at(ld, rp->pos, "%s: type inline needs \"payload\"", what);
	snprintf(w, sizeof(w), "%s: payload", what);
	r = get_str_list(ld, pk->payload, w, &rp->payload, &rp->n_payload);
	if (r == 0 && pk->path)
		r = warn_at(ld, node_pos(ld, pk->path),
			    "%s: \"path\" is not read for type inline; ignored", what);
	return r;
}

static int load_rule_provider(struct loader *ld, const struct kv *pe,
			      struct config_rule_provider *rp)
{
	struct provider_keys pk = { 0 };
	struct kv *e = NULL;
	char what[160], q[80];
	size_t count, before = ld->n_errors;
	int r;

	rp->name = pe->name;
	rp->pos = node_pos(ld, pe->key);
	snprintf(what, sizeof(what), "rule-providers: %s", qs(q, rp->name));
	if (pe->val->type != YAML_MAPPING_NODE)
		return fail_at(ld, node_pos(ld, pe->val), "%s: expected a mapping, got %s", what,
			       is_null(pe->val) ? "nothing" : kind_name(pe->val));
	r = map_entries(ld, pe->val, what, &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++)
		r = recover(ld, provider_key(ld, rp, &e[i], what, &pk));
	r = errors_since(ld, before, r);
	if (r == 0 && (!pk.has_type || !pk.has_behavior))
		r = fail_at(ld, rp->pos, "%s: missing \"%s\"", what,
			    pk.has_type ? "behavior" : "type");
	if (r == 0)
		r = provider_source(ld, rp, &pk, what);
	free(e);
	return r;
}

static int load_rule_providers(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct kv *e = NULL;
	size_t count;
	int r = map_entries(ld, n, "rule-providers", &e, &count);

	if (r < 0)
		ld->providers_partial = true;
	if (r < 0 || count == 0)
		goto out;
	cfg->rule_providers = ld_alloc(ld, count * sizeof(*cfg->rule_providers));
	if (!cfg->rule_providers) {
		r = fail_oom(ld);
		goto out;
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		/* The name outlives e: copy it. */
		struct kv pe = e[i];

		pe.name = ld_strndup(ld, e[i].name, strlen(e[i].name));
		if (!pe.name) {
			r = fail_oom(ld);
			goto out;
		}
		/* Kept even when broken: RULE-SET lines name it. */
		r = recover(ld, load_rule_provider(ld, &pe, &cfg->rule_providers[i]));
		cfg->n_rule_providers++;
	}
out:
	free(e);
	return r;
}

/* The sections of the top-level mapping, loaded after its plain keys. */
struct sections {
	yaml_node_t *tun, *dns, *proxies, *groups, *rules, *providers;
};

static int root_key(struct loader *ld, const struct kv *e, struct sections *sec)
{
	static const char *const levels[] = { "silent", "error", "warning", "info", "debug" };
	struct config *cfg = ld->cfg;
	const char *k = e->name;
	yaml_node_t *val = e->val;
	unsigned long long v = 0;
	int lvl = 0, r = 0;
	char q[80];

	if (!strcmp(k, "log-level")) {
		r = get_enum(ld, val, k, levels, 5, "silent, error, warning, info or debug", &lvl);
		cfg->log_level = (enum config_log_level)lvl;
		cfg->has_log_level = true;
	} else if (!strcmp(k, "interface-name")) {
		r = get_str(ld, val, k, &cfg->interface_name);
		if (r == 0 && cfg->interface_name)
			r = check_ifname(ld, val, k, cfg->interface_name);
	} else if (!strcmp(k, "routing-mark")) {
		cfg->has_routing_mark = !is_null(val);
		if (cfg->has_routing_mark) {
			r = get_uint(ld, val, k, 0, 0xffffffffULL, &v);
			cfg->routing_mark = (uint32_t)v;
		}
	} else if (!strcmp(k, "ipv6")) {
		r = get_bool(ld, val, k, &cfg->ipv6);
	} else if (!strcmp(k, "mode")) {
		/* Clash's global/direct modes bypass the rules. */
		if (val->type == YAML_SCALAR_NODE && !is_null(val) &&
		    !eq_nocase((const char *)val->data.scalar.value, "rule"))
			r = warn_at(ld, node_pos(ld, val),
				    "mode %s is not supported; rules are always applied", qnode(q, val));
	} else if (!strcmp(k, "tun")) {
		sec->tun = val;
	} else if (!strcmp(k, "dns")) {
		sec->dns = val;
	} else if (!strcmp(k, "proxies")) {
		sec->proxies = val;
	} else if (!strcmp(k, "proxy-groups")) {
		sec->groups = val;
	} else if (!strcmp(k, "rules")) {
		sec->rules = val;
	} else if (!strcmp(k, "rule-providers")) {
		sec->providers = val;
	} else {
		r = warn_ignored(ld, e, "");
	}
	return r;
}

/* The top-level mapping: plain keys in document order, then the sections
 * in dependency order (groups need proxies, rules need both and the rule
 * providers). An error in one section does not stop the next. */
static int load_root(struct loader *ld, yaml_node_t *root)
{
	struct sections sec = { 0 };
	struct kv *e = NULL;
	size_t count;
	int r;

	if (root->type != YAML_MAPPING_NODE && !is_null(root))
		return fail_at(ld, node_pos(ld, root), "expected a mapping of keys at the top level, got %s",
			       kind_name(root));
	r = map_entries(ld, root, "config", &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++)
		r = recover(ld, root_key(ld, &e[i], &sec));
	free(e);
	if (r == 0 && sec.tun)
		r = recover(ld, load_tun(ld, sec.tun));
	if (r == 0 && sec.dns)
		r = recover(ld, load_dns(ld, sec.dns));
	if (r == 0 && sec.proxies)
		r = recover(ld, load_proxies(ld, sec.proxies));
	if (r == 0)
		r = recover(ld, load_groups(ld, sec.groups));
	if (r == 0 && sec.providers)
		r = recover(ld, load_rule_providers(ld, sec.providers));
	if (r == 0 && sec.rules)
		r = recover(ld, load_rules(ld, sec.rules));
	return r;
}

/* A tab in the indentation of the line libyaml stopped at: 0 with *pos at
 * the tab, else -ENOENT. */
static int tab_indent_pos(const struct loader *ld, const yaml_mark_t *m, struct conf_pos *pos)
{
	size_t start, off;

	if (m->line >= ld->n_lines)
		return -ENOENT;
	start = ld->line_starts[m->line];
	if (conf_err_indent_tab(ld->buf + start, ld->len - start, &off) < 0)
		return -ENOENT;
	*pos = byte_pos(ld, start + off);
	return 0;
}

/* libyaml's error, at its mark (reader errors give a byte offset). */
static int yaml_fail(struct loader *ld, const yaml_parser_t *p)
{
	struct conf_pos pos;
	size_t off;
	char ctx[160] = "";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return fail_oom(ld);
	case YAML_READER_ERROR:
		off = p->problem_offset + ld->bom; /* the BOM was not given to libyaml */
		pos = byte_pos(ld, off < ld->len ? off : ld->len);
		if (p->problem_value != -1)
			return fail_at(ld, pos, "YAML: %s (byte 0x%02x)",
				       p->problem ? p->problem : "cannot read input",
				       (unsigned)p->problem_value & 0xff);
		return fail_at(ld, pos, "YAML: %s", p->problem ? p->problem : "cannot read input");
	default:
		pos = mark_pos(ld, &p->problem_mark);
		if (tab_indent_pos(ld, &p->problem_mark, &pos) == 0)
			return fail_at(ld, pos, "YAML syntax error: tab used for indentation "
				       "(YAML allows only spaces)");
		if (p->context) {
			struct conf_pos c = mark_pos(ld, &p->context_mark);

			snprintf(ctx, sizeof(ctx), " (%s at line %d, column %d)", p->context, c.line,
				 c.col);
		}
		return fail_at(ld, pos, "YAML syntax error: %s%s",
			       p->problem ? p->problem : "unknown error", ctx);
	}
}

/* Only the first document is used, as in Clash; but what follows must
 * parse (an indentation slip can end the first document early, which
 * would otherwise drop the rest of the file silently), and a second
 * document is worth a warning. */
static int check_rest(struct loader *ld, yaml_parser_t *p)
{
	yaml_document_t next;
	yaml_node_t *root;
	int r = 0;

	if (!yaml_parser_load(p, &next))
		return yaml_fail(ld, p);
	root = yaml_document_get_root_node(&next);
	if (root)
		r = warn_at(ld, node_pos(ld, root),
			    "only the first YAML document is read; this one and any after it are ignored");
	yaml_document_delete(&next);
	return r;
}

static int set_base_dir(struct loader *ld, const char *name)
{
	const char *slash = strrchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) + 1 : 0;

	ld->base_dir = ld_strndup(ld, name, n);
	return ld->base_dir ? 0 : fail_oom(ld);
}

static void file_err(struct conf_err_list *errs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An error about the whole file (no line), outside the loader. */
static void file_err(struct conf_err_list *errs, const char *path, const char *fmt, ...)
{
	struct conf_err e;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_err_set(&e, &(struct conf_pos){ path, 0, 0 }, "%s", msg);
	if (errs)
		conf_err_list_add(errs, &e);
}

int config_load_buf(const char *buf, size_t len, const char *name, struct config **out,
		    struct conf_err_list *errs)
{
	struct loader ld = { .errs = errs, .buf = buf, .len = len };
	yaml_parser_t parser;
	bool have_parser = false, have_doc = false;
	struct config *cfg;
	yaml_node_t *root;
	int r;

	*out = NULL;
	if (errs)
		conf_err_list_clear(errs);
	if (!name)
		name = "<input>";
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->arena_ = calloc(1, sizeof(*cfg->arena_)))) {
		free(cfg);
		file_err(errs, name, "out of memory");
		return -ENOMEM;
	}
	ld.cfg = cfg;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		ld.bom = 3;
	cfg->file = name; /* for messages until the copy exists */
	cfg->file = ld_strndup(&ld, name, strlen(name));
	if (!cfg->file) {
		cfg->file = name;
		r = fail_oom(&ld);
		goto out;
	}
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->ipv6 = true;
	cfg->dns.mode = CONFIG_DNS_REAL_IP;
	ld.budget = CONFIG_BUDGET_BASE;
	if (len < ((size_t)-1 - CONFIG_BUDGET_BASE) / 4)
		ld.budget += len * 4;
	r = set_base_dir(&ld, name);
	if (r < 0)
		goto out;
	if (index_lines(&ld) < 0) {
		r = fail_oom(&ld);
		goto out;
	}

	if (!yaml_parser_initialize(&parser)) {
		r = fail_oom(&ld);
		goto out;
	}
	have_parser = true;
	/* UTF-8 only: UTF-16 input would make every byte column wrong. With
	 * the encoding set, libyaml 0.2.5 takes a BOM for a character of
	 * line 1 (which then ends the top mapping at line 2, silently), so
	 * the BOM is skipped here instead. */
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf + ld.bom, len - ld.bom);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	if (!yaml_parser_load(&parser, &ld.doc)) {
		r = yaml_fail(&ld, &parser);
		goto out;
	}
	have_doc = true;
	r = check_rest(&ld, &parser);
	if (r < 0)
		goto out;
	root = yaml_document_get_root_node(&ld.doc);
	r = root ? load_root(&ld, root) : load_groups(&ld, NULL);
	if (r == 0 && ld.n_errors)
		r = -EINVAL;
	sort_warnings(cfg);
	if (r == 0 && ld.warn_dropped)
		r = warn_summary(&ld);
out:
	if (have_doc)
		yaml_document_delete(&ld.doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(ld.line_starts);
	if (r < 0) {
		/* errs keeps its own copies of the file name. */
		config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int config_load(const char *path, struct config **out, struct conf_err_list *errs)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r;

	*out = NULL;
	if (errs)
		conf_err_list_clear(errs);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		file_err(errs, path, "cannot open: %s", strerror(-r));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			if (cap >= CONFIG_FILE_MAX) {
				r = -EFBIG;
				file_err(errs, path, "file larger than %d MiB", CONFIG_FILE_MAX >> 20);
				goto out;
			}
			nb = realloc(buf, nc);
			if (!nb) {
				r = -ENOMEM;
				file_err(errs, path, "out of memory");
				goto out;
			}
			buf = nb;
			cap = nc;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			file_err(errs, path, "cannot read: %s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = config_load_buf(buf, len, path, out, errs);
out:
	free(buf);
	close(fd);
	return r;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->warnings);
	arena_free(cfg->arena_);
	free(cfg);
}

void config_warning_format(const struct config_warning *w, char *buf, size_t len)
{
	const char *file = w->pos.file ? w->pos.file : "<input>";

	if (!len)
		return;
	if (w->pos.line > 0 && w->pos.col > 0)
		snprintf(buf, len, "%s:%d:%d: warning: %s", file, w->pos.line, w->pos.col, w->msg);
	else if (w->pos.line > 0)
		snprintf(buf, len, "%s:%d: warning: %s", file, w->pos.line, w->msg);
	else
		snprintf(buf, len, "%s: warning: %s", file, w->msg);
}

/* --- targets ------------------------------------------------------------------ */

int config_resolve_target(const struct config *cfg, const char *name,
			  struct config_target *out, char *msg, size_t msglen)
{
	const struct config_group *via = NULL;
	const struct name_ent *ne;
	enum config_target_kind kind;
	size_t index, hops = 0;
	char q[80], q2[80], q3[80];

	memset(out, 0, sizeof(*out));
	if (msg && msglen)
		msg[0] = '\0';
	if (!strcmp(name, "DIRECT")) {
		out->kind = CONFIG_TARGET_DIRECT;
		return 0;
	}
	if (!strcmp(name, "REJECT")) {
		out->kind = CONFIG_TARGET_REJECT;
		return 0;
	}
	if (!strcmp(name, "REJECT-DROP")) {
		out->kind = CONFIG_TARGET_REJECT_DROP;
		return 0;
	}
	ne = find_name(cfg->arena_, name);
	if (!ne) {
		if (msg && msglen)
			snprintf(msg, msglen, "unknown proxy or proxy group %s", qs(q, name));
		return -ENOENT;
	}
	kind = ne->kind;
	index = ne->index;
	/* The loader refused cycles; the hop bound is belt and braces. */
	while (kind == CONFIG_TARGET_GROUP && hops++ <= cfg->n_groups) {
		const struct config_group *g = &cfg->groups[index];
		const struct config_member *m;

		/* Only while loading: a group kept for its name after an
		 * error (the loader reports that error itself). */
		if (g->n_members == 0) {
			if (msg && msglen)
				snprintf(msg, msglen, "proxy group %s has errors", qs(q, g->name));
			return -EINVAL;
		}
		m = &g->members[g->selected];
		via = g;
		kind = m->kind;
		index = m->index;
	}
	if (kind == CONFIG_TARGET_GROUP) {
		if (msg && msglen)
			snprintf(msg, msglen, "proxy group %s loops", qs(q, name));
		return -ELOOP;
	}
	out->kind = kind;
	if (kind != CONFIG_TARGET_PROXY)
		return 0;
	out->proxy = &cfg->proxies[index];
	if (out->proxy->type != CONFIG_PROXY_UNSUPPORTED)
		return 0;
	if (msg && msglen && via)
		snprintf(msg, msglen, "proxy %s has unsupported type %s (selected through proxy group %s)",
			 qs(q, out->proxy->name), qs(q2, out->proxy->type_name), qs(q3, via->name));
	else if (msg && msglen)
		snprintf(msg, msglen, "proxy %s has unsupported type %s", qs(q, out->proxy->name),
			 qs(q2, out->proxy->type_name));
	return -ENOTSUP;
}

const char *config_group_type_name(enum config_group_type t)
{
	switch (t) {
	case CONFIG_GROUP_SELECT:
		return "select";
	case CONFIG_GROUP_URL_TEST:
		return "url-test";
	case CONFIG_GROUP_FALLBACK:
		return "fallback";
	case CONFIG_GROUP_LOAD_BALANCE:
		return "load-balance";
	case CONFIG_GROUP_RELAY:
		return "relay";
	}
	return "unknown";
}

const char *config_proxy_type_name(const struct config_proxy *p)
{
	switch (p->type) {
	case CONFIG_PROXY_SOCKS5:
		return "socks5";
	case CONFIG_PROXY_HTTP:
		return "http";
	case CONFIG_PROXY_REDIRECT:
		return "redirect";
	case CONFIG_PROXY_UNSUPPORTED:
		break;
	}
	return p->type_name;
}
