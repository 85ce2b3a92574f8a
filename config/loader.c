/* loader: see loader.h.
 *
 * libyaml's document API builds the node tree; the section loaders walk it
 * with a fixed schema through the functions here. Invariants:
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
#include "config/loader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_impl.h"
#include "config/suggest.h"
#include "tun2socks/base/bsearch.h"

enum {
	CONFIG_WARN_MAX = 1000,       /* warnings kept; one more says how many were dropped */
	CONFIG_MERGE_DEPTH = 8,       /* nested "<<" merges */
	CONFIG_BUDGET_BASE = 1000000, /* node visits, plus 4 per input byte */
};

/* --- errors and memory ----------------------------------------------------- */

int loader_add_err(struct loader *ld, const struct conf_err *e)
{
	ld->n_errors++;
	if (ld->errs)
		conf_err_list_add(ld->errs, e);
	return -EINVAL;
}

int loader_oom(struct loader *ld)
{
	struct conf_err e;

	conf_err_set(&e, &(struct conf_pos){ ld->cfg->file, 0, 0 }, "out of memory");
	loader_add_err(ld, &e);
	ld->fatal = true;
	return -ENOMEM;
}

int loader_recover(const struct loader *ld, int r)
{
	return r == -EINVAL && !ld->fatal ? 0 : r;
}

int loader_errors_since(const struct loader *ld, size_t before, int r)
{
	return r == 0 && ld->n_errors != before ? -EINVAL : r;
}

void *loader_alloc(struct loader *ld, size_t n)
{
	return arena_alloc(&ld->cfg->priv_->arena, n);
}

char *loader_strndup(struct loader *ld, const char *s, size_t n)
{
	return arena_strndup(&ld->cfg->priv_->arena, s, n);
}

int loader_resolve_path(struct loader *ld, const char *path, const char **out)
{
	size_t dl = path[0] == '/' ? 0 : strlen(ld->base_dir), pl = strlen(path);
	char *s = loader_alloc(ld, dl + pl + 1);

	if (!s)
		return loader_oom(ld);
	memcpy(s, ld->base_dir, dl);
	memcpy(s + dl, path, pl);
	*out = s;
	return 0;
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
		return loader_add_err(ld, &e);
	}
	ld->budget -= n;
	return 0;
}

/* --- positions ------------------------------------------------------------- */

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

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static struct conf_pos byte_pos(const struct loader *ld, size_t off)
{
	/* Last line starting at or before off. */
	size_t line = bsearch_last_le(&off, ld->line_starts, ld->n_lines, sizeof(*ld->line_starts),
				      size_cmp);

	return (struct conf_pos){ ld->cfg->file, (int)(line + 1),
				  (int)(off - ld->line_starts[line] + 1) };
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

struct conf_pos loader_node_pos(const struct loader *ld, const yaml_node_t *n)
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

struct conf_pos loader_scalar_pos_at(const struct loader *ld, const yaml_node_t *n, size_t off)
{
	struct conf_pos p = loader_node_pos(ld, n);
	size_t s = mark_byte(ld, &n->start_mark), e = mark_byte(ld, &n->end_mark);
	size_t raw = n->data.scalar.length + (is_quoted(n) ? 2 : 0);

	if (n->type == YAML_SCALAR_NODE && e >= s && e - s == raw &&
	    n->start_mark.line == n->end_mark.line && off <= n->data.scalar.length)
		p.col += (int)off;
	return p;
}

/* --- messages -------------------------------------------------------------- */

const char *loader_quote_node(char out[80], const yaml_node_t *n)
{
	return config_quote_n(out, (const char *)n->data.scalar.value, n->data.scalar.length);
}

/* Quoted user text is escaped already; this keeps any slip from
 * breaking the one-line "file:line:col: message" form. */
static void one_line(char *msg)
{
	for (; *msg; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = ' ';
}

int loader_fail_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
{
	struct conf_err e;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	conf_err_set(&e, &pos, "%s", msg);
	return loader_add_err(ld, &e);
}

int loader_warn_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
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
			return loader_oom(ld);
		cfg->warnings = w;
		ld->warn_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	one_line(msg);
	s = loader_strndup(ld, msg, strlen(msg));
	if (!s)
		return loader_oom(ld);
	cfg->warnings[cfg->n_warnings++] = (struct config_warning){ pos, s };
	return 0;
}

/* After CONFIG_WARN_MAX warnings: one line saying how many were dropped,
 * in the spare slot loader_warn_at() keeps (the array holds warn_cap + 1). */
static int warn_summary(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	char msg[96];

	snprintf(msg, sizeof(msg), "%zu more warnings not shown", ld->warn_dropped);
	cfg->warnings[cfg->n_warnings].pos = (struct conf_pos){ cfg->file, 0, 0 };
	cfg->warnings[cfg->n_warnings].msg = loader_strndup(ld, msg, strlen(msg));
	if (!cfg->warnings[cfg->n_warnings].msg)
		return loader_oom(ld);
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

const char *loader_kind_name(const yaml_node_t *n)
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

/* --- node access ----------------------------------------------------------- */

yaml_node_t *loader_node(struct loader *ld, yaml_node_item_t i)
{
	return yaml_document_get_node(&ld->doc, i);
}

bool loader_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

int loader_get_scalar(struct loader *ld, yaml_node_t *n, const char *what, const char **out)
{
	*out = NULL;
	if (n->type != YAML_SCALAR_NODE)
		return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected a value, got %s",
				      what, loader_kind_name(n));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return loader_fail_at(ld, loader_node_pos(ld, n), "%s: NUL character not allowed",
				      what);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int loader_get_str(struct loader *ld, yaml_node_t *n, const char *what, const char **out)
{
	const char *v;
	int r;

	*out = NULL;
	if (loader_is_null(n))
		return 0;
	r = loader_get_scalar(ld, n, what, &v);
	if (r < 0)
		return r;
	*out = loader_strndup(ld, v, n->data.scalar.length);
	return *out ? 0 : loader_oom(ld);
}

int loader_get_nonempty(struct loader *ld, yaml_node_t *n, const char *what, const char **out)
{
	int r = loader_get_str(ld, n, what, out);

	if (r == 0 && (!*out || !**out))
		return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected a non-empty value",
				      what);
	return r;
}

/* A YAML 1.1 boolean word, as go-yaml reads one into a bool: 1, 0, or -1
 * for another word. */
static int loader_bool_word(const char *v)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
					   "YES",  "on",   "On",   "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
					  "NO",    "off",   "Off",   "OFF" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(v, yes[i]))
			return 1;
		if (!strcmp(v, no[i]))
			return 0;
	}
	return -1;
}

int loader_get_bool(struct loader *ld, yaml_node_t *n, const char *what, bool *out)
{
	char q[80];
	const char *v;
	int r = loader_get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	r = loader_bool_word(v);
	if (r >= 0) {
		*out = r == 1;
		return 0;
	}
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected true or false, got %s",
			      what, loader_quote_node(q, n));
}

int loader_get_bool_or(struct loader *ld, yaml_node_t *n, const char *what, const char *word,
		       int *out)
{
	char q[80];
	const char *v;
	int r = loader_get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	if (!strcmp(v, word)) {
		*out = -1;
		return 0;
	}
	r = loader_bool_word(v);
	if (r >= 0) {
		*out = r;
		return 0;
	}
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected true, false or %s, got %s",
			      what, word, loader_quote_node(q, n));
}

int loader_get_uint(struct loader *ld, yaml_node_t *n, const char *what, unsigned long long min,
		    unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10;
	const char *s;
	char q[80];
	size_t i = 0;
	bool ok;
	int r = loader_get_scalar(ld, n, what, &s);

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
		return loader_fail_at(ld, loader_node_pos(ld, n),
				      "%s: expected an integer from %llu to %llu, got %s", what,
				      min, max, loader_quote_node(q, n));
	*out = v;
	return 0;
}

int loader_get_enum(struct loader *ld, yaml_node_t *n, const char *what, const char *const *names,
		    size_t count, const char *expect, int *out)
{
	char q[80];
	const char *v;
	int r = loader_get_scalar(ld, n, what, &v);

	if (r < 0)
		return r;
	for (size_t i = 0; i < count; i++) {
		if (!strcmp(v, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected %s, got %s", what, expect,
			      loader_quote_node(q, n));
}

int loader_get_list(struct loader *ld, yaml_node_t *n, const char *what, bool single,
		    yaml_node_item_t **items, size_t *count)
{
	*items = NULL;
	*count = 0;
	if (loader_is_null(n))
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
	return loader_fail_at(ld, loader_node_pos(ld, n), "%s: expected a list, got %s", what,
			      loader_kind_name(n));
}

yaml_node_t *loader_list_item(struct loader *ld, yaml_node_t *list, yaml_node_item_t *items,
			      size_t i)
{
	return items ? loader_node(ld, items[i]) : list;
}

int loader_get_str_list(struct loader *ld, yaml_node_t *n, const char *what,
			struct config_str **out, size_t *count)
{
	yaml_node_item_t *items;
	size_t c;
	int r = loader_get_list(ld, n, what, false, &items, &c);

	*out = NULL;
	*count = 0;
	if (r < 0 || c == 0)
		return r;
	*out = loader_alloc(ld, c * sizeof(**out));
	if (!*out)
		return loader_oom(ld);
	for (size_t i = 0; i < c; i++) {
		yaml_node_t *it = loader_node(ld, items[i]);

		r = loader_get_nonempty(ld, it, what, &(*out)[i].text);
		if (r < 0)
			return r;
		(*out)[i].pos = loader_node_pos(ld, it);
	}
	*count = c;
	return 0;
}

static int kv_cmp(const void *a, const void *b)
{
	const struct loader_kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	if (x->own != y->own)
		return x->own ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int kv_order_cmp(const void *a, const void *b)
{
	const struct loader_kv *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* Appends the pairs of map (and of what it merges) to *v. */
static int collect_pairs(struct loader *ld, yaml_node_t *map, const char *what, bool own, int depth,
			 struct loader_kv **v, size_t *n, size_t *cap)
{
	yaml_node_pair_t *p;
	int r;

	if (depth > CONFIG_MERGE_DEPTH)
		return loader_fail_at(ld, loader_node_pos(ld, map),
				      "%s: \"<<\" merges nested too deep", what);
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = loader_node(ld, p->key), *val = loader_node(ld, p->value);
		const char *name;

		r = spend(ld, 1);
		if (r < 0)
			return r;
		if (!k || !val)
			return loader_fail_at(ld, loader_node_pos(ld, map), "%s: broken mapping",
					      what);
		if (k->type != YAML_SCALAR_NODE)
			return loader_fail_at(ld, loader_node_pos(ld, k),
					      "%s: expected a key name, got %s", what,
					      loader_kind_name(k));
		r = loader_get_scalar(ld, k, what, &name);
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
				return loader_fail_at(
					ld, loader_node_pos(ld, val),
					"%s: \"<<\" expects a mapping or a list of mappings", what);
			r = loader_get_list(ld, val, what, false, &items, &count);
			if (r < 0)
				return r;
			for (size_t i = 0; i < count; i++) {
				yaml_node_t *m = loader_node(ld, items[i]);

				if (!m || m->type != YAML_MAPPING_NODE)
					return loader_fail_at(ld, loader_node_pos(ld, m ? m : val),
							      "%s: \"<<\" expects a mapping or a "
							      "list of mappings",
							      what);
				r = collect_pairs(ld, m, what, false, depth + 1, v, n, cap);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			struct loader_kv *nv = realloc(*v, nc * sizeof(*nv));

			if (!nv)
				return loader_oom(ld);
			*v = nv;
			*cap = nc;
		}
		(*v)[*n] = (struct loader_kv){ name, k, val, *n, own };
		(*n)++;
	}
	return 0;
}

int loader_map_entries(struct loader *ld, yaml_node_t *map, const char *what,
		       struct loader_kv **out, size_t *count)
{
	struct loader_kv *v = NULL;
	size_t n = 0, cap = 0, i, j, k;
	int r;

	*out = NULL;
	*count = 0;
	if (loader_is_null(map))
		return 0;
	if (map->type != YAML_MAPPING_NODE)
		return loader_fail_at(ld, loader_node_pos(ld, map),
				      "%s: expected a mapping, got %s", what,
				      loader_kind_name(map));
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
					struct conf_pos first = loader_node_pos(ld, v[i].key);

					/* The first one is used: the rest of the
					 * file is still worth checking. */
					r = loader_recover(
						ld,
						loader_fail_at(
							ld, loader_node_pos(ld, v[j].key),
							"%s: duplicate key %s (first at line %d)",
							what, config_quote(q, v[j].name),
							first.line));
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

/* --- keys ------------------------------------------------------------------ */

bool loader_in_list(const char *k, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k, list[i]))
			return true;
	return false;
}

int loader_other_key(struct loader *ld, const struct loader_kv *e, const char *what,
		     const struct loader_keys *ks)
{
	struct conf_pos pos = loader_node_pos(ld, e->key);
	char q[80], q2[80];
	struct suggest sg;
	const char *best;

	if (loader_in_list(e->name, ks->mihomo, ks->n_mihomo))
		return loader_warn_at(ld, pos, "%s: %s is not used by tun2socks; ignored", what,
				      config_quote(q, e->name));
	suggest_init(&sg, e->name, strlen(e->name));
	suggest_add_list(&sg, ks->ours, ks->n_ours);
	suggest_add_list(&sg, ks->mihomo, ks->n_mihomo);
	best = suggest_best(&sg);
	if (best)
		return loader_fail_at(ld, pos, "%s: unknown key %s (did you mean %s?)", what,
				      config_quote(q, e->name), config_quote(q2, best));
	return loader_fail_at(ld, pos, "%s: unknown key %s", what, config_quote(q, e->name));
}

int loader_warn_ignored(struct loader *ld, const struct loader_kv *e, const char *where)
{
	char q[80];

	return loader_warn_at(ld, loader_node_pos(ld, e->key),
			      "%s%s%s is not used by tun2socks; ignored", where, *where ? " " : "",
			      config_quote(q, e->name));
}

bool loader_eq_nocase(const char *a, const char *b)
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

/* --- setup, parse, end ----------------------------------------------------- */

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
		return loader_oom(ld);
	case YAML_READER_ERROR:
		off = p->problem_offset + ld->bom; /* the BOM was not given to libyaml */
		pos = byte_pos(ld, off < ld->len ? off : ld->len);
		if (p->problem_value != -1)
			return loader_fail_at(ld, pos, "YAML: %s (byte 0x%02x)",
					      p->problem ? p->problem : "cannot read input",
					      (unsigned)p->problem_value & 0xff);
		return loader_fail_at(ld, pos, "YAML: %s",
				      p->problem ? p->problem : "cannot read input");
	default:
		pos = mark_pos(ld, &p->problem_mark);
		if (tab_indent_pos(ld, &p->problem_mark, &pos) == 0)
			return loader_fail_at(ld, pos,
					      "YAML syntax error: tab used for indentation "
					      "(YAML allows only spaces)");
		if (p->context) {
			struct conf_pos c = mark_pos(ld, &p->context_mark);

			snprintf(ctx, sizeof(ctx), " (%s at line %d, column %d)", p->context,
				 c.line, c.col);
		}
		return loader_fail_at(ld, pos, "YAML syntax error: %s%s",
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
		r = loader_warn_at(ld, loader_node_pos(ld, root),
				   "only the first YAML document is read; this one and any after "
				   "it are ignored");
	yaml_document_delete(&next);
	return r;
}

static int set_base_dir(struct loader *ld, const char *name)
{
	const char *slash = strrchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) + 1 : 0;

	ld->base_dir = loader_strndup(ld, name, n);
	ld->cfg->dir = ld->base_dir;
	return ld->base_dir ? 0 : loader_oom(ld);
}

int loader_init(struct loader *ld, struct config *cfg, const char *name, const char *buf,
		size_t len, struct conf_err_list *errs)
{
	int r;

	*ld = (struct loader){ .cfg = cfg, .errs = errs, .buf = buf, .len = len };
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		ld->bom = 3;
	cfg->file = name; /* for messages until the copy exists */
	cfg->file = loader_strndup(ld, name, strlen(name));
	if (!cfg->file) {
		cfg->file = name;
		return loader_oom(ld);
	}
	ld->budget = CONFIG_BUDGET_BASE;
	if (len < ((size_t)-1 - CONFIG_BUDGET_BASE) / 4)
		ld->budget += len * 4;
	r = set_base_dir(ld, name);
	if (r < 0)
		return r;
	if (index_lines(ld) < 0)
		return loader_oom(ld);
	return 0;
}

int loader_parse(struct loader *ld, yaml_node_t **root)
{
	yaml_parser_t parser;
	int r;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return loader_oom(ld);
	/* UTF-8 only: UTF-16 input would make every byte column wrong. With
	 * the encoding set, libyaml 0.2.5 takes a BOM for a character of
	 * line 1 (which then ends the top mapping at line 2, silently), so
	 * the BOM is skipped here instead. */
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld->buf + ld->bom,
				     ld->len - ld->bom);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	if (!yaml_parser_load(&parser, &ld->doc)) {
		r = yaml_fail(ld, &parser);
		goto out;
	}
	ld->have_doc = true;
	r = check_rest(ld, &parser);
	if (r == 0)
		*root = yaml_document_get_root_node(&ld->doc);
out:
	yaml_parser_delete(&parser);
	return r;
}

int loader_done(struct loader *ld, int r)
{
	if (r == 0 && ld->n_errors)
		r = -EINVAL;
	sort_warnings(ld->cfg);
	if (r == 0 && ld->warn_dropped)
		r = warn_summary(ld);
	if (ld->have_doc)
		yaml_document_delete(&ld->doc);
	free(ld->line_starts);
	return r;
}

int loader_get_statuses(struct loader *ld, yaml_node_t *n, const char *what, uint16_t lo_out[8],
			uint16_t hi_out[8], size_t *n_out)
{
	const char *s;
	int r = loader_get_scalar(ld, n, what, &s);

	if (r < 0 || !strcmp(s, "*"))
		return r;
	while (*s) {
		char *end;
		unsigned long lo = strtoul(s, &end, 10), hi = lo;

		if (end != s && *end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (end == s || (*end && *end != '/') || lo < 100 || hi > 599 || lo > hi ||
		    *n_out == 8)
			return loader_fail_at(ld, loader_node_pos(ld, n),
					      "%s: expected HTTP statuses like 204, 200/302 or "
					      "200-299 (at most 8), or *",
					      what);
		lo_out[*n_out] = (uint16_t)lo;
		hi_out[(*n_out)++] = (uint16_t)hi;
		s = *end ? end + 1 : end;
	}
	return 0;
}
