/* loader: the walk over libyaml's node tree that loading the config
 * takes, shared by the modules that load its sections (config_load.c,
 * config_proxies, config_rules): the context, errors and warnings at
 * file:line:column, typed access to the nodes (scalars, booleans,
 * integers, enums, lists, mappings with "<<" merges) and unknown keys.
 * Private to config/; loader.c states the invariants.
 *
 * A function that finds an error in the file records it and returns
 * -EINVAL; loader_recover() says whether the load goes on with the next
 * key, entry or rule (it does unless the load must stop: ld->fatal).
 */
#ifndef T2S_LOADER_H
#define T2S_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "config/config.h"

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
	int depth;              /* 1: a proxy-provider's file (no providers of its own) */
	const char *buf;
	size_t len;
	size_t bom;          /* 3 if buf starts with a UTF-8 BOM, else 0 */
	size_t *line_starts; /* byte offset of each line, libyaml's breaks */
	size_t n_lines;
	yaml_document_t doc;
	bool have_doc;
	const char *base_dir; /* "" or ending in '/' */
	size_t budget;
	size_t warn_cap;
	size_t warn_dropped;
};

/* One key of a mapping after "<<" merges; own keys first. */
struct loader_kv {
	const char *name;
	yaml_node_t *key, *val;
	size_t order;
	bool own;
};

/* Keys of the proxies, proxy-groups, rule-providers and tun mappings.
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

struct loader_keys {
	const char *const *ours;
	size_t n_ours;
	const char *const *mihomo; /* known to mihomo, unused by us */
	size_t n_mihomo;
};

/* (one initializer, one line) */
/* clang-format off */
#define LOADER_KEYS(ours, mihomo) \
	{ ours, sizeof(ours) / sizeof(ours[0]), mihomo, sizeof(mihomo) / sizeof(mihomo[0]) }
/* clang-format on */

/* --- setup ----------------------------------------------------------------- */

/* Sets up *ld to load buf[0, len) into cfg: cfg->file becomes a copy of
 * name. Errors are recorded in errs (may be NULL); loader_done() follows
 * whatever this returns. */
int loader_init(struct loader *ld, struct config *cfg, const char *name, const char *buf,
		size_t len, struct conf_err_list *errs);

/* Parses the text into ld->doc; *root is its top node (NULL for an empty
 * document). */
int loader_parse(struct loader *ld, yaml_node_t **root);

/* Ends the load that returned r: -EINVAL if any error was recorded, the
 * warnings in file order; frees what the walk held (not the config). */
int loader_done(struct loader *ld, int r);

/* --- errors and memory ----------------------------------------------------- */

/* Records e; -EINVAL. */
int loader_add_err(struct loader *ld, const struct conf_err *e);

/* Records "out of memory" and stops the load; -ENOMEM. */
int loader_oom(struct loader *ld);

/* After a recorded error: 0 to go on with the next key, entry or rule, or r
 * when the load must stop. */
int loader_recover(const struct loader *ld, int r);

/* 0 when r is 0 and no error was recorded since before, else an error:
 * after an entry whose keys were each looked at, recovering from their
 * errors, the checks across keys are not worth making. */
int loader_errors_since(const struct loader *ld, size_t before, int r);

/* Records an error at pos; -EINVAL. */
int loader_fail_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keeps a warning at pos in the config (past a bound, only counts it);
 * 0, or -ENOMEM. */
int loader_warn_at(struct loader *ld, struct conf_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* n zeroed bytes in the config's arena, or NULL (the caller reports). */
void *loader_alloc(struct loader *ld, size_t n);

/* s[0, n) and a NUL in the config's arena, or NULL. */
char *loader_strndup(struct loader *ld, const char *s, size_t n);

/* *out: path in the arena, a relative one prefixed with the directory of
 * the config file. */
int loader_resolve_path(struct loader *ld, const char *path, const char **out);

/* --- positions and messages ------------------------------------------------ */

/* Where a scalar's text starts: past an anchor or tag (the mark is at
 * those) and, when quoted, past the quote. Other nodes: their mark. */
struct conf_pos loader_node_pos(const struct loader *ld, const yaml_node_t *n);

/* Position of byte off of a scalar's value: exact when the value is
 * written as is on one line (no escapes, no folding), else the start. */
struct conf_pos loader_scalar_pos_at(const struct loader *ld, const yaml_node_t *n, size_t off);

/* A scalar node's value as config_quote() quotes text. */
const char *loader_quote_node(char out[80], const yaml_node_t *n);

/* "a mapping", "a list" or "a scalar", for messages. */
const char *loader_kind_name(const yaml_node_t *n);

/* --- node access ----------------------------------------------------------- */

/* The node with index i in the document, or NULL. */
yaml_node_t *loader_node(struct loader *ld, yaml_node_item_t i);

/* A plain null scalar: "", "~", "null", "Null" or "NULL". */
bool loader_is_null(const yaml_node_t *n);

/* A scalar's text; "what" names the key for messages. */
int loader_get_scalar(struct loader *ld, yaml_node_t *n, const char *what, const char **out);

/* A string value copied into the arena; NULL for null ("key:" alone). */
int loader_get_str(struct loader *ld, yaml_node_t *n, const char *what, const char **out);

/* Like loader_get_str, but null and "" are errors. */
int loader_get_nonempty(struct loader *ld, yaml_node_t *n, const char *what, const char **out);

/* A YAML 1.1 boolean, as go-yaml reads one into a bool. */
int loader_get_bool(struct loader *ld, yaml_node_t *n, const char *what, bool *out);
/* The same or the word `word` (e.g. "auto"): *out 1, 0, or -1 for word. */
int loader_get_bool_or(struct loader *ld, yaml_node_t *n, const char *what, const char *word,
		       int *out);

/* mihomo's expected-status at n: "*" (none kept), or statuses and ranges
 * joined by "/", at most 8, appended to lo/hi at *count. 0 or an error. */
int loader_get_statuses(struct loader *ld, yaml_node_t *n, const char *what, uint16_t lo[8],
			uint16_t hi[8], size_t *count);

int loader_get_uint(struct loader *ld, yaml_node_t *n, const char *what, unsigned long long min,
		    unsigned long long max, unsigned long long *out);

/* One of names[] (exactly as written); *out is its index. expect is the
 * list for the message, e.g. "fake-ip, redir-host or normal". */
int loader_get_enum(struct loader *ld, yaml_node_t *n, const char *what, const char *const *names,
		    size_t count, const char *expect, int *out);

/* The items of a list. A null value is an empty list; with single, a
 * scalar counts as a list of one (mihomo's leniency for some keys). */
int loader_get_list(struct loader *ld, yaml_node_t *n, const char *what, bool single,
		    yaml_node_item_t **items, size_t *count);

/* Item i of a list loader_get_list() returned items for (list itself
 * for a single scalar). */
yaml_node_t *loader_list_item(struct loader *ld, yaml_node_t *list, yaml_node_item_t *items,
			      size_t i);

/* A list of non-empty strings with their positions. */
int loader_get_str_list(struct loader *ld, yaml_node_t *n, const char *what,
			struct config_str **out, size_t *count);

/* The keys of a mapping in document order, "<<" merges applied, a
 * duplicate key an error. The caller frees *out. */
int loader_map_entries(struct loader *ld, yaml_node_t *map, const char *what,
		       struct loader_kv **out, size_t *count);

/* --- keys ------------------------------------------------------------------ */

/* k is one of list[0, n). */
bool loader_in_list(const char *k, const char *const *list, size_t n);

/* A key the caller's if-chain did not take: a warning when mihomo knows it,
 * else an error naming the closest known key. what: "tun", "proxy \"x\"". */
int loader_other_key(struct loader *ld, const struct loader_kv *e, const char *what,
		     const struct loader_keys *ks);

/* A warning that key e is not used; where ("dns:") prefixes it. */
int loader_warn_ignored(struct loader *ld, const struct loader_kv *e, const char *where);

/* a equals b, ASCII letters compared case-insensitively. */
bool loader_eq_nocase(const char *a, const char *b);

#endif
