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
	struct conf_err *err;
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

static int fail_oom(struct loader *ld)
{
	conf_err_set(ld->err, &(struct conf_pos){ ld->cfg->file, 0, 0 }, "out of memory");
	return -ENOMEM;
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
	if (ld->budget < n)
		return conf_err_set(ld->err, &(struct conf_pos){ ld->cfg->file, 0, 0 },
				    "configuration too large once YAML aliases are expanded");
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
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	return conf_err_set(ld->err, &pos, "%s", msg);
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

					r = fail_at(ld, node_pos(ld, v[j].key),
						    "%s: duplicate key %s (first at line %d)",
						    what, qs(q, v[j].name), first.line);
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
		r = get_cidr(ld, list_item(ld, n, items, i), family, what, &(*out)[i]);
		if (r < 0)
			return r;
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
	/* "column N: reason", N counted in url. */
	col = strtoul(e + 7, &end, 10);
	if (strncmp(e, "column ", 7) || strncmp(end, ": ", 2))
		return fail_at(ld, node_pos(ld, n), "%s: %s in %s", what, e, qs(q, text));
	col = col >= sizeof(prefix) - 1 ? col - (sizeof(prefix) - 1) : 0;
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

static int load_tun(struct loader *ld, yaml_node_t *n)
{
	struct config_tun *t = &ld->cfg->tun;
	unsigned long long v = 0;
	struct kv *e = NULL;
	size_t count;
	int r = map_entries(ld, n, "tun", &e, &count);

	t->present = true;
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		if (!strcmp(k, "enable")) {
			r = get_bool(ld, e[i].val, "tun.enable", &t->enable);
		} else if (!strcmp(k, "device")) {
			r = get_str(ld, e[i].val, "tun.device", &t->device);
			if (r == 0 && t->device)
				r = check_ifname(ld, e[i].val, "tun.device", t->device);
		} else if (!strcmp(k, "mtu")) {
			r = get_uint(ld, e[i].val, "tun.mtu", CONFIG_MTU_MIN, CONFIG_MTU_MAX, &v);
			t->mtu = (unsigned)v;
		} else if (!strcmp(k, "inet4-address")) {
			r = get_cidr_list(ld, e[i].val, AF_INET, "tun.inet4-address", &t->inet4,
					  &t->n_inet4);
		} else if (!strcmp(k, "inet6-address")) {
			r = get_cidr_list(ld, e[i].val, AF_INET6, "tun.inet6-address", &t->inet6,
					  &t->n_inet6);
		} else {
			r = warn_ignored(ld, &e[i], "tun:");
		}
	}
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

static int load_dns(struct loader *ld, yaml_node_t *n)
{
	static const char *const modes[] = { "redir-host", "fake-ip", "normal" };
	struct config_dns *d = &ld->cfg->dns;
	unsigned long long v = 0;
	struct kv *e = NULL;
	size_t count;
	int mode = 0, r = map_entries(ld, n, "dns", &e, &count);

	d->present = true;
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		if (!strcmp(k, "enable")) {
			r = get_bool(ld, e[i].val, "dns.enable", &d->enable);
		} else if (!strcmp(k, "enhanced-mode")) {
			r = get_enum(ld, e[i].val, "dns.enhanced-mode", modes, 3,
				     "fake-ip, redir-host or normal", &mode);
			d->mode = (enum config_dns_mode)mode;
		} else if (!strcmp(k, "nameserver")) {
			size_t kept = 0;

			r = get_str_list(ld, e[i].val, "dns.nameserver", &d->nameservers,
					 &d->n_nameservers);
			for (size_t j = 0; r == 0 && j < d->n_nameservers; j++) {
				char q[80];

				/* Encrypted DNS, common in Clash configs: skipped
				 * with a warning so the rest of the file works. */
				if (is_encrypted_dns(d->nameservers[j].text)) {
					r = warn_at(ld, d->nameservers[j].pos,
						    "dns.nameserver: %s: DNS over HTTPS/TLS/QUIC is "
						    "not supported; entry skipped",
						    qs(q, d->nameservers[j].text));
					continue;
				}
				r = check_nameserver(ld, &d->nameservers[j]);
				d->nameservers[kept++] = d->nameservers[j];
			}
			if (r == 0 && kept == 0 && d->n_nameservers > 0)
				r = fail_at(ld, node_pos(ld, e[i].val),
					    "dns.nameserver: no usable server (plain udp:// or tcp:// "
					    "needed)");
			d->n_nameservers = kept;
		} else if (!strcmp(k, "fake-ip-range")) {
			d->has_fake_ip_range = !is_null(e[i].val);
			if (d->has_fake_ip_range)
				r = get_cidr(ld, e[i].val, AF_INET, "dns.fake-ip-range",
					     &d->fake_ip_range);
		} else if (!strcmp(k, "fake-ip-range6")) {
			d->has_fake_ip_range6 = !is_null(e[i].val);
			if (d->has_fake_ip_range6)
				r = get_cidr(ld, e[i].val, AF_INET6, "dns.fake-ip-range6",
					     &d->fake_ip_range6);
		} else if (!strcmp(k, "fake-ip-filter")) {
			r = get_str_list(ld, e[i].val, "dns.fake-ip-filter", &d->fake_ip_filter,
					 &d->n_fake_ip_filter);
		} else if (!strcmp(k, "fake-ip-ttl")) {
			r = get_uint(ld, e[i].val, "dns.fake-ip-ttl", 1, 86400, &v);
			d->fake_ip_ttl = (unsigned)v;
		} else if (!strcmp(k, "fake-ip-min-age")) {
			r = get_uint(ld, e[i].val, "dns.fake-ip-min-age", 0, 86400, &v);
			d->has_fake_ip_min_age = r == 0;
			d->fake_ip_min_age = (unsigned)v;
		} else {
			r = warn_ignored(ld, &e[i], "dns:");
		}
	}
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
		if (r < 0)
			return r;
		*pos = node_pos(ld, e[i].val);
		if (reserved_name(*name))
			return fail_at(ld, *pos, "%s: the name %s is reserved", what, qs(q, *name));
		return 0;
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

/* The keys of a socks5/http/redirect proxy after name and type. */
static int load_proxy_keys(struct loader *ld, struct config_proxy *p, const struct kv *e,
			   size_t count, const char *what, yaml_node_t **server_node,
			   yaml_node_t **to_node)
{
	bool net = p->type != CONFIG_PROXY_REDIRECT;
	const char *sni = NULL, *servername = NULL, *ca = NULL;
	unsigned long long v = 0;
	char w[256], q[80];
	int r = 0;

	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;
		yaml_node_t *val = e[i].val;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "name") || !strcmp(k, "type")) {
			continue;
		} else if (net && !strcmp(k, "server")) {
			r = get_nonempty(ld, val, w, &p->server);
			*server_node = val;
		} else if (net && !strcmp(k, "port")) {
			r = get_uint(ld, val, w, 1, 65535, &v);
			p->port = (uint16_t)v;
		} else if (net && !strcmp(k, "username")) {
			r = get_str(ld, val, w, &p->username);
		} else if (net && !strcmp(k, "password")) {
			r = get_str(ld, val, w, &p->password);
		} else if (net && !strcmp(k, "tls")) {
			r = get_bool(ld, val, w, &p->tls);
		} else if (net && !strcmp(k, "skip-cert-verify")) {
			r = get_bool(ld, val, w, &p->skip_cert_verify);
		} else if (net && !strcmp(k, "sni")) {
			r = get_str(ld, val, w, &sni);
		} else if (net && !strcmp(k, "servername")) {
			r = get_str(ld, val, w, &servername);
		} else if (net && !strcmp(k, "ca")) {
			r = get_str(ld, val, w, &ca);
			if (r == 0 && ca && *ca)
				r = resolve_path(ld, ca, &p->ca);
		} else if (net && !strcmp(k, "udp")) {
			bool udp;

			r = get_bool(ld, val, w, &udp);
			if (r == 0 && p->type == CONFIG_PROXY_SOCKS5)
				p->udp = udp;
			else if (r == 0 && udp)
				r = warn_at(ld, node_pos(ld, e[i].key),
					    "%s: HTTP proxies carry no UDP; \"udp\" ignored", what);
		} else if (!net && !strcmp(k, "to")) {
			r = get_nonempty(ld, val, w, &p->to_host);
			*to_node = val;
		} else {
			r = warn_at(ld, node_pos(ld, e[i].key), "%s: %s is not used by tun2socks; ignored",
				    what, qs(q, k));
		}
	}
	if (r < 0)
		return r;
	if (sni && servername && strcmp(sni, servername))
		r = warn_at(ld, p->pos, "%s: both \"sni\" and \"servername\" given; using sni", what);
	p->sni = sni && *sni ? sni : servername && *servername ? servername : NULL;
	return r;
}

static int load_proxy(struct loader *ld, yaml_node_t *item, size_t idx, struct config_proxy *p)
{
	yaml_node_t *server_node = NULL, *to_node = NULL;
	yaml_node_t *tn;
	struct kv *e = NULL;
	char what[160], w[200], q[80];
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
	r = get_nonempty(ld, tn, "type", &p->type_name);
	if (r < 0)
		goto out;
	if (eq_nocase(p->type_name, "socks5")) {
		p->type = CONFIG_PROXY_SOCKS5;
		p->udp = true;
	} else if (eq_nocase(p->type_name, "http")) {
		p->type = CONFIG_PROXY_HTTP;
	} else if (eq_nocase(p->type_name, "redirect")) {
		p->type = CONFIG_PROXY_REDIRECT;
	} else {
		/* Kept so a rule naming it can say why it cannot be used. */
		p->type = CONFIG_PROXY_UNSUPPORTED;
		r = warn_at(ld, node_pos(ld, tn), "%s: type %s is not supported (only socks5, http and redirect); rules using it will fail",
			    what, qs(q, p->type_name));
		goto out;
	}

	r = load_proxy_keys(ld, p, e, count, what, &server_node, &to_node);
	if (r < 0)
		goto out;
	if (p->type == CONFIG_PROXY_REDIRECT) {
		struct proxy_url u;
		const char *t = p->to_host;
		bool has_port;

		if (!to_node) {
			r = fail_at(ld, p->pos, "%s: redirect needs \"to: host:port\"", what);
			goto out;
		}
		/* A port is required: proxy_url would default it. */
		has_port = t[0] == '[' ? strstr(t, "]:") != NULL : strchr(t, ':') != NULL;
		if (!has_port) {
			r = fail_at(ld, node_pos(ld, to_node),
				    "%s: to: expected host:port or [IPv6]:port, got %s", what, qs(q, t));
			goto out;
		}
		snprintf(w, sizeof(w), "%s: to", what);
		r = check_authority(ld, to_node, w, t, 0, &u);
		if (r < 0)
			goto out;
		p->to_host = ld_strndup(ld, u.host, strlen(u.host));
		p->to_port = u.port;
		if (!p->to_host)
			r = fail_oom(ld);
		goto out;
	}
	if (!server_node || !p->port) {
		r = fail_at(ld, p->pos, "%s: %s needs \"server\" and \"port\"", what, p->type_name);
		goto out;
	}
	snprintf(w, sizeof(w), "%s: server", what);
	r = check_server(ld, server_node, w, p->server);
	if (r < 0)
		goto out;
	if (p->type == CONFIG_PROXY_SOCKS5) {
		/* RFC 1929: both present, 1-255 bytes each. */
		size_t ul = p->username ? strlen(p->username) : 0;
		size_t pl = p->password ? strlen(p->password) : 0;

		if ((ul || pl) && (!ul || !pl || ul > 255 || pl > 255)) {
			r = fail_at(ld, p->pos, "%s: socks5 authentication needs a username and a password of 1-255 bytes each",
				    what);
			goto out;
		}
	}
	if (p->username && !*p->username)
		p->username = NULL;
	if (p->password && !*p->password)
		p->password = NULL;
	if (p->password && !p->username)
		r = fail_at(ld, p->pos, "%s: \"password\" without \"username\"", what);
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

	if (r < 0 || count == 0)
		return r;
	cfg->proxies = ld_alloc(ld, count * sizeof(*cfg->proxies));
	if (!cfg->proxies)
		return fail_oom(ld);
	for (size_t i = 0; i < count; i++) {
		r = load_proxy(ld, node_at(ld, items[i]), i, &cfg->proxies[i]);
		if (r < 0)
			return r;
		cfg->n_proxies++;
	}
	return 0;
}

/* Members are names here; resolve_groups() fills kind and index. */
static int load_group(struct loader *ld, yaml_node_t *item, size_t idx, struct config_group *g,
		      const char **selected, struct conf_pos *selected_pos)
{
	static const char *const types[] = { "select", "url-test", "fallback", "load-balance",
					     "relay" };
	yaml_node_t *tn;
	struct kv *e = NULL;
	char what[160], w[200], q[80];
	bool uses_providers = false, b;
	size_t count;
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

	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "name") || !strcmp(k, "type")) {
			continue;
		} else if (!strcmp(k, "proxies")) {
			struct config_str *m;
			size_t n;

			r = get_str_list(ld, e[i].val, w, &m, &n);
			if (r < 0 || n == 0)
				continue;
			g->members = ld_alloc(ld, n * sizeof(*g->members));
			if (!g->members) {
				r = fail_oom(ld);
				continue;
			}
			for (size_t j = 0; j < n; j++)
				g->members[j] = (struct config_member){ .name = m[j].text,
									.pos = m[j].pos };
			g->n_members = n;
		} else if (!strcmp(k, "default-selected")) {
			r = get_str(ld, e[i].val, w, selected);
			*selected_pos = node_pos(ld, e[i].val);
		} else if (!strcmp(k, "use")) {
			uses_providers = true;
			r = warn_at(ld, node_pos(ld, e[i].key),
				    "%s: proxy-providers are not supported; \"use\" ignored", what);
		} else if (!strcmp(k, "include-all") || !strcmp(k, "include-all-proxies") ||
			   !strcmp(k, "include-all-providers")) {
			r = get_bool(ld, e[i].val, w, &b);
			if (r == 0 && b)
				r = warn_at(ld, node_pos(ld, e[i].key),
					    "%s: %s is not supported; list the members under \"proxies\"",
					    what, qs(q, k));
		} else {
			r = warn_at(ld, node_pos(ld, e[i].key), "%s: %s is not used by tun2socks; ignored",
				    what, qs(q, k));
		}
	}
	if (r == 0 && g->n_members == 0)
		r = fail_at(ld, g->pos, "%s: no members (expected a \"proxies\" list%s)", what,
			    uses_providers ? "; proxy-providers are not supported" : "");
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
	for (size_t i = 1; i < n; i++) {
		if (strcmp(a->names[i - 1].name, a->names[i].name))
			continue;
		return fail_at(ld, *a->names[i].pos, "duplicate name %s (first defined at line %d)",
			       qs(q, a->names[i].name), a->names[i - 1].pos->line);
	}
	a->n_names = n;
	return 0;
}

/* Group members -> kinds and indexes; no cycles; the selected member. */
static int resolve_groups(struct loader *ld, const char **selected,
			  const struct conf_pos *selected_pos)
{
	struct config *cfg = ld->cfg;
	size_t ng = cfg->n_groups, depth = 0;
	unsigned char *state = NULL;
	struct frame { size_t g, next; } *stack = NULL;
	char q[80], q2[80], q3[80];
	int r = 0;

	for (size_t i = 0; i < ng; i++) {
		struct config_group *g = &cfg->groups[i];

		for (size_t j = 0; j < g->n_members; j++) {
			struct config_member *m = &g->members[j];
			const struct name_ent *ne;

			if (!strcmp(m->name, "DIRECT")) {
				m->kind = CONFIG_TARGET_DIRECT;
			} else if (!strcmp(m->name, "REJECT")) {
				m->kind = CONFIG_TARGET_REJECT;
			} else if (!strcmp(m->name, "REJECT-DROP")) {
				m->kind = CONFIG_TARGET_REJECT_DROP;
			} else if ((ne = find_name(cfg->arena_, m->name))) {
				m->kind = ne->kind;
				m->index = ne->index;
			} else {
				return fail_at(ld, m->pos,
					       "proxy group %s: unknown member %s (expected a proxy, a proxy group, DIRECT, REJECT or REJECT-DROP)",
					       qs(q, g->name), qs(q2, m->name));
			}
		}
		g->selected = 0;
		if (selected[i]) {
			size_t j;

			for (j = 0; j < g->n_members; j++)
				if (!strcmp(g->members[j].name, selected[i]))
					break;
			if (j < g->n_members) {
				g->selected = j;
			} else {
				r = warn_at(ld, selected_pos[i],
					    "proxy group %s: default-selected %s is not a member; using %s",
					    qs(q, g->name), qs(q2, selected[i]),
					    qs(q3, g->members[0].name));
				if (r < 0)
					return r;
			}
		}
	}

	/* Cycle check: iterative DFS (white 0, on stack 1, done 2). */
	state = calloc(ng ? ng : 1, 1);
	stack = malloc((ng ? ng : 1) * sizeof(*stack));
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
			{
				char path[400];
				size_t o = 0, s;

				for (s = 0; stack[s].g != m->index; s++)
					;
				for (; s < depth && o < sizeof(path) - 100; s++)
					o += (size_t)snprintf(path + o, sizeof(path) - o, "%s -> ",
							      qs(q, cfg->groups[stack[s].g].name));
				if (s < depth)
					o += (size_t)snprintf(path + o, sizeof(path) - o,
							      "... -> ");
				snprintf(path + o, sizeof(path) - o, "%s", qs(q, m->name));
				r = fail_at(ld, m->pos, "proxy group cycle: %s", path);
				goto out;
			}
		}
	}

	for (size_t i = 0; i < ng; i++) {
		const struct config_group *g = &cfg->groups[i];
		const char *first = g->members[g->selected].name;

		if (g->type == CONFIG_GROUP_URL_TEST || g->type == CONFIG_GROUP_FALLBACK ||
		    g->type == CONFIG_GROUP_LOAD_BALANCE)
			r = warn_at(ld, g->pos,
				    "proxy group %s (%s): health checks are not implemented; traffic goes to %s",
				    qs(q, g->name), config_group_type_name(g->type), qs(q2, first));
		else if (g->type == CONFIG_GROUP_RELAY)
			r = warn_at(ld, g->pos,
				    "proxy group %s (relay): proxy chains are not implemented; traffic goes to %s only",
				    qs(q, g->name), qs(q2, first));
		if (r < 0)
			break;
	}
out:
	free(state);
	free(stack);
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

	if (n) {
		r = get_list(ld, n, "proxy-groups", false, &items, &count);
		if (r < 0)
			return r;
	}
	if (count) {
		cfg->groups = ld_alloc(ld, count * sizeof(*cfg->groups));
		selected = calloc(count, sizeof(*selected));
		selected_pos = calloc(count, sizeof(*selected_pos));
		if (!cfg->groups || !selected || !selected_pos) {
			r = fail_oom(ld);
			goto out;
		}
	}
	for (size_t i = 0; i < count; i++) {
		r = load_group(ld, node_at(ld, items[i]), i, &cfg->groups[i], &selected[i],
			       &selected_pos[i]);
		if (r < 0)
			goto out;
		cfg->n_groups++;
	}
	r = index_names(ld);
	if (r == 0)
		r = resolve_groups(ld, selected, selected_pos);
out:
	free(selected);
	free(selected_pos);
	return r;
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
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *it = node_at(ld, items[i]);

		if (it->type != YAML_SCALAR_NODE || is_null(it))
			return fail_at(ld, node_pos(ld, it),
				       "rules: expected a rule line like DOMAIN-SUFFIX,example.com,DIRECT, got %s",
				       is_null(it) ? "nothing" : kind_name(it));
		r = get_nonempty(ld, it, "rules", &cfg->rules[i].text);
		if (r < 0)
			return r;
		cfg->rules[i].pos = node_pos(ld, it);
		cfg->n_rules++;
	}
	return 0;
}

static int load_rule_provider(struct loader *ld, const struct kv *pe,
			      struct config_rule_provider *rp)
{
	static const char *const types[] = { "file", "inline", "http" };
	static const char *const behaviors[] = { "domain", "ipcidr", "classical" };
	static const char *const formats[] = { "yaml", "text", "mrs" };
	const yaml_node_t *path_node = NULL, *payload_node = NULL;
	bool has_type = false, has_behavior = false;
	struct kv *e = NULL;
	char what[160], w[200], q[80];
	size_t count;
	int v = 0, r;

	rp->name = pe->name;
	rp->pos = node_pos(ld, pe->key);
	snprintf(what, sizeof(what), "rule-providers: %s", qs(q, rp->name));
	if (pe->val->type != YAML_MAPPING_NODE)
		return fail_at(ld, node_pos(ld, pe->val), "%s: expected a mapping, got %s", what,
			       is_null(pe->val) ? "nothing" : kind_name(pe->val));
	r = map_entries(ld, pe->val, what, &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;

		snprintf(w, sizeof(w), "%s: %s", what, k);
		if (!strcmp(k, "type")) {
			r = get_enum(ld, e[i].val, w, types, 3, "file, http or inline", &v);
			if (r == 0 && v == 2)
				r = fail_at(ld, node_pos(ld, e[i].val),
					    "%s: only type: file is supported; download the list and point path at it",
					    what);
			rp->type = (enum config_rp_type)v;
			has_type = true;
		} else if (!strcmp(k, "behavior")) {
			r = get_enum(ld, e[i].val, w, behaviors, 3, "domain, ipcidr or classical",
				     &v);
			rp->behavior = (enum config_rp_behavior)v;
			has_behavior = true;
		} else if (!strcmp(k, "format")) {
			if (is_null(e[i].val))
				continue;
			r = get_enum(ld, e[i].val, w, formats, 3, "yaml or text", &v);
			if (r == 0 && v == 2)
				r = fail_at(ld, node_pos(ld, e[i].val),
					    "%s: format mrs (binary) is not supported; convert the list to yaml or text",
					    what);
			rp->format = (enum config_rp_format)v;
		} else if (!strcmp(k, "path")) {
			path_node = e[i].val;
		} else if (!strcmp(k, "payload")) {
			payload_node = e[i].val;
		} else {
			r = warn_at(ld, node_pos(ld, e[i].key), "%s: %s is not used by tun2socks; ignored",
				    what, qs(q, k));
		}
	}
	if (r < 0)
		goto out;
	if (!has_type || !has_behavior) {
		r = fail_at(ld, rp->pos, "%s: missing \"%s\"", what,
			    has_type ? "behavior" : "type");
		goto out;
	}
	if (rp->type == CONFIG_RP_FILE) {
		const char *path;

		if (!path_node) {
			r = fail_at(ld, rp->pos, "%s: type file needs \"path\"", what);
			goto out;
		}
		snprintf(w, sizeof(w), "%s: path", what);
		r = get_nonempty(ld, (yaml_node_t *)path_node, w, &path);
		if (r == 0)
			r = resolve_path(ld, path, &rp->path);
		rp->path_pos = node_pos(ld, path_node);
		if (r == 0 && payload_node)
			r = warn_at(ld, node_pos(ld, payload_node),
				    "%s: \"payload\" is only read for type inline; ignored", what);
	} else {
		if (!payload_node) {
			r = fail_at(ld, rp->pos, "%s: type inline needs \"payload\"", what);
			goto out;
		}
		snprintf(w, sizeof(w), "%s: payload", what);
		r = get_str_list(ld, (yaml_node_t *)payload_node, w, &rp->payload, &rp->n_payload);
		if (r == 0 && path_node)
			r = warn_at(ld, node_pos(ld, path_node),
				    "%s: \"path\" is not read for type inline; ignored", what);
	}
out:
	free(e);
	return r;
}

static int load_rule_providers(struct loader *ld, yaml_node_t *n)
{
	struct config *cfg = ld->cfg;
	struct kv *e = NULL;
	size_t count;
	int r = map_entries(ld, n, "rule-providers", &e, &count);

	if (r < 0 || count == 0)
		goto out;
	cfg->rule_providers = ld_alloc(ld, count * sizeof(*cfg->rule_providers));
	if (!cfg->rule_providers) {
		r = fail_oom(ld);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		/* The name outlives e: copy it. */
		struct kv pe = e[i];

		pe.name = ld_strndup(ld, e[i].name, strlen(e[i].name));
		if (!pe.name) {
			r = fail_oom(ld);
			goto out;
		}
		r = load_rule_provider(ld, &pe, &cfg->rule_providers[i]);
		if (r < 0)
			goto out;
		cfg->n_rule_providers++;
	}
out:
	free(e);
	return r;
}

/* The top-level mapping: plain keys in document order, then the sections
 * in dependency order (groups need proxies). */
static int load_root(struct loader *ld, yaml_node_t *root)
{
	static const char *const levels[] = { "silent", "error", "warning", "info", "debug" };
	struct config *cfg = ld->cfg;
	yaml_node_t *tun = NULL, *dns = NULL, *proxies = NULL, *groups = NULL, *rules = NULL,
		    *providers = NULL;
	unsigned long long v = 0;
	struct kv *e = NULL;
	size_t count;
	char q[80];
	int lvl = 0, r;

	if (root->type != YAML_MAPPING_NODE && !is_null(root))
		return fail_at(ld, node_pos(ld, root), "expected a mapping of keys at the top level, got %s",
			       kind_name(root));
	r = map_entries(ld, root, "config", &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++) {
		const char *k = e[i].name;
		yaml_node_t *val = e[i].val;

		if (!strcmp(k, "log-level")) {
			r = get_enum(ld, val, k, levels, 5, "silent, error, warning, info or debug",
				     &lvl);
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
					    "mode %s is not supported; rules are always applied",
					    qnode(q, val));
		} else if (!strcmp(k, "tun")) {
			tun = val;
		} else if (!strcmp(k, "dns")) {
			dns = val;
		} else if (!strcmp(k, "proxies")) {
			proxies = val;
		} else if (!strcmp(k, "proxy-groups")) {
			groups = val;
		} else if (!strcmp(k, "rules")) {
			rules = val;
		} else if (!strcmp(k, "rule-providers")) {
			providers = val;
		} else {
			r = warn_ignored(ld, &e[i], "");
		}
	}
	free(e);
	if (r == 0 && tun)
		r = load_tun(ld, tun);
	if (r == 0 && dns)
		r = load_dns(ld, dns);
	if (r == 0 && proxies)
		r = load_proxies(ld, proxies);
	if (r == 0)
		r = load_groups(ld, groups);
	if (r == 0 && providers)
		r = load_rule_providers(ld, providers);
	if (r == 0 && rules)
		r = load_rules(ld, rules);
	return r;
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

int config_load_buf(const char *buf, size_t len, const char *name, struct config **out,
		    struct conf_err *err)
{
	struct loader ld = { .err = err, .buf = buf, .len = len };
	yaml_parser_t parser;
	bool have_parser = false, have_doc = false;
	struct config *cfg;
	yaml_node_t *root;
	int r;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!name)
		name = "<input>";
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->arena_ = calloc(1, sizeof(*cfg->arena_)))) {
		free(cfg);
		conf_err_set(err, &(struct conf_pos){ name, 0, 0 }, "out of memory");
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
	if (r == 0 && ld.warn_dropped)
		r = warn_summary(&ld);
out:
	if (have_doc)
		yaml_document_delete(&ld.doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	free(ld.line_starts);
	if (r < 0) {
		/* err keeps its own copy of the file name. */
		config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

int config_load(const char *path, struct config **out, struct conf_err *err)
{
	struct conf_pos pos = { path, 0, 0 };
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		conf_err_set(err, &pos, "cannot open: %s", strerror(-r));
		return r;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			char *nb;

			if (cap >= CONFIG_FILE_MAX) {
				r = -EFBIG;
				conf_err_set(err, &pos, "file larger than %d MiB", CONFIG_FILE_MAX >> 20);
				goto out;
			}
			nb = realloc(buf, nc);
			if (!nb) {
				r = -ENOMEM;
				conf_err_set(err, &pos, "out of memory");
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
			conf_err_set(err, &pos, "cannot read: %s", strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = config_load_buf(buf, len, path, out, err);
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
		const struct config_member *m = &g->members[g->selected];

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
