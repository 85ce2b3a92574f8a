/* conf_err: see conf_err.h. */
#include "config/conf_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int conf_err_set(struct conf_err *err, const struct conf_pos *pos, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", pos && pos->file ? pos->file : "<input>");
	err->line = pos ? pos->line : 0;
	err->col = pos ? pos->col : 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void conf_err_format(const struct conf_err *err, char *buf, size_t len)
{
	if (!len)
		return;
	if (err->line > 0 && err->col > 0)
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
	else if (err->line > 0)
		snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->msg);
	else
		snprintf(buf, len, "%s: %s", err->file, err->msg);
}

void conf_err_list_clear(struct conf_err_list *l)
{
	l->n = 0;
	l->total = 0;
}

/* a comes before b in the file. */
static int err_before(const struct conf_err *a, const struct conf_err *b)
{
	if ((a->line > 0) != (b->line > 0))
		return a->line > 0;
	if (a->line != b->line)
		return a->line < b->line;
	return a->col < b->col;
}

void conf_err_list_add(struct conf_err_list *l, const struct conf_err *e)
{
	size_t i;

	l->total++;
	/* Full: e replaces the last kept one if it comes before it. */
	if (l->n == CONF_ERR_LIST_MAX) {
		if (!err_before(e, &l->v[l->n - 1]))
			return;
		l->n--;
	}
	/* Insertion after every error not after e: stable. */
	for (i = l->n; i > 0 && err_before(e, &l->v[i - 1]); i--)
		l->v[i] = l->v[i - 1];
	l->v[i] = *e;
	l->n++;
}

size_t conf_err_list_lines(const struct conf_err_list *l)
{
	return l->n + (l->total > l->n);
}

void conf_err_list_line(const struct conf_err_list *l, size_t i, char *buf, size_t len)
{
	size_t more = l->total - l->n;

	if (!len)
		return;
	if (i < l->n)
		conf_err_format(&l->v[i], buf, len);
	else if (more)
		snprintf(buf, len, "and %zu more error%s", more, more == 1 ? "" : "s");
	else
		buf[0] = '\0';
}

void conf_err_quote(char *buf, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (size_t i = 0; i < len && n + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= 80) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
}

int conf_err_indent_tab(const char *line, size_t len, size_t *off)
{
	*off = 0;
	for (size_t i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++) {
		if (line[i] == '\t') {
			*off = i;
			return 0;
		}
	}
	return -ENOENT;
}
