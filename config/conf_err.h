/* conf_err: one configuration error, located in its file.
 *
 * Every parser of user-written text (config YAML, rule lines, rule-set
 * files) reports through this one struct, so `tun2socks check` prints every
 * error the same way: "file:line:column: message". Lines and columns are
 * 1-based, as editors count them; column counts bytes. A conf_err_list
 * collects the errors of a loader that goes on after the ones it can.
 */
#ifndef T2S_CONF_ERR_H
#define T2S_CONF_ERR_H

#include <stddef.h>

struct conf_pos {
	const char *file; /* borrowed; NULL prints as "<input>" */
	int line;         /* 1-based; 0: unknown */
	int col;          /* 1-based; 0: unknown */
};

struct conf_err {
	char file[256];
	int line;
	int col;
	char msg[512]; /* what was expected, quoting the offending text */
};

enum { CONF_ERR_LIST_MAX = 20 };

/* Every error of one file's load, so that `tun2socks check` lists them all
 * as a compiler does rather than stopping at the first. Kept in file order
 * (line, then column; errors without a line after the others, each group in
 * the order reported) and bounded: the CONF_ERR_LIST_MAX earliest in the
 * file are kept, the rest only counted. */
struct conf_err_list {
	struct conf_err v[CONF_ERR_LIST_MAX];
	size_t n;     /* kept */
	size_t total; /* reported, kept or not */
};

void conf_err_list_clear(struct conf_err_list *l);

/* Adds a copy of e. */
void conf_err_list_add(struct conf_err_list *l, const struct conf_err *e);

/* The lines that print the list: each kept error as conf_err_format()
 * writes it, then "and N more errors" when some were not kept. */
size_t conf_err_list_lines(const struct conf_err_list *l);

/* Line i (< conf_err_list_lines()) into buf (always NUL-terminated). */
void conf_err_list_line(const struct conf_err_list *l, size_t i, char *buf, size_t len);

/* Fills err (if not NULL) from pos and a printf-style message; returns
 * -EINVAL so callers can `return conf_err_set(...)`. */
int conf_err_set(struct conf_err *err, const struct conf_pos *pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "file:line:column: message" into buf (always NUL-terminated). */
void conf_err_format(const struct conf_err *err, char *buf, size_t len);

/* s[0, len) for a message, into buf (cap >= 9): at most 80 bytes then
 * "...", control bytes as \xNN, so an error stays one printable line
 * whatever the input holds. Always NUL-terminated. */
void conf_err_quote(char *buf, size_t cap, const char *s, size_t len);

/* Where a tab sits among the blanks that start line[0, len) (the line ends
 * at len or its first '\n' or '\r'): YAML forbids tabs in indentation and
 * libyaml says only "found character that cannot start any token", so a
 * YAML error on such a line is named for what it is. 0 with *off the tab's
 * offset in line, or -ENOENT. */
int conf_err_indent_tab(const char *line, size_t len, size_t *off);

#endif
