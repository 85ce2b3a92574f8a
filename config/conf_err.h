/* conf_err: one configuration error, located in its file.
 *
 * Every parser of user-written text (config YAML, rule lines, rule-set
 * files) reports through this one struct, so `tun2socks check` prints every
 * error the same way: "file:line:column: message". Lines and columns are
 * 1-based, as editors count them; column counts bytes.
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

/* Fills err (if not NULL) from pos and a printf-style message; returns
 * -EINVAL so callers can `return conf_err_set(...)`. */
int conf_err_set(struct conf_err *err, const struct conf_pos *pos,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

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
