/* name_filter: see name_filter.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "config/name_filter.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct name_filter {
	pcre2_code **re;
	size_t n;
	pcre2_match_data *md;
};

void name_filter_free(struct name_filter *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		pcre2_code_free(f->re[i]);
	free(f->re);
	pcre2_match_data_free(f->md);
	free(f);
}

int name_filter_compile(const char *text, struct name_filter **out, char *err, size_t errlen)
{
	struct name_filter *f = calloc(1, sizeof(*f));
	size_t parts = 1;
	const char *s = text;
	int r = 0;

	*out = NULL;
	if (f == NULL)
		return -ENOMEM;
	for (const char *c = text; *c; c++)
		parts += *c == '`';
	f->re = calloc(parts, sizeof(*f->re));
	f->md = pcre2_match_data_create(1, NULL);
	if (f->re == NULL || f->md == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		const char *end = strchr(s, '`');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		PCRE2_SIZE off;
		int code;

		f->re[f->n] = pcre2_compile((PCRE2_SPTR)s, len, PCRE2_UTF, &code, &off, NULL);
		if (f->re[f->n] == NULL) {
			PCRE2_UCHAR msg[120];

			pcre2_get_error_message(code, msg, sizeof(msg));
			snprintf(err, errlen, "regex \"%.*s\" at offset %zu: %s", (int)len, s,
				 (size_t)off, (const char *)msg);
			r = -EINVAL;
			goto out;
		}
		/* JIT is a speed-up only: without it matching still works. */
		(void)pcre2_jit_compile(f->re[f->n], PCRE2_JIT_COMPLETE);
		f->n++;
		if (end == NULL)
			break;
		s = end + 1;
	}
out:
	if (r < 0) {
		name_filter_free(f);
		return r;
	}
	*out = f;
	return 0;
}

bool name_filter_match(const struct name_filter *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (pcre2_match(f->re[i], (PCRE2_SPTR)name, strlen(name), 0, 0, f->md, NULL) >= 0)
			return true;
	return false;
}
