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
