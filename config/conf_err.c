/* conf_err: see conf_err.h. */
#include "conf_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int conf_err_set(struct conf_err *err, const struct conf_pos *pos,
		 const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -EINVAL;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s",
		 pos && pos->file ? pos->file : "<input>");
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
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line,
			 err->col, err->msg);
	else if (err->line > 0)
		snprintf(buf, len, "%s:%d: %s", err->file, err->line, err->msg);
	else
		snprintf(buf, len, "%s: %s", err->file, err->msg);
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
