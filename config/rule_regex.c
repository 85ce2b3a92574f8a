/* rule_regex: see rule_regex.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "config/rule_regex.h"

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

/* Backtracking steps and nesting one match may take: far above what a
 * domain or path needs, small enough to end a catastrophic pattern in
 * milliseconds. */
enum { MATCH_LIMIT = 200000, DEPTH_LIMIT = 5000 };

struct rule_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
};

int rule_regex_compile(const char *src, size_t len, struct rule_regex **out, char *why,
		       size_t whylen)
{
	struct rule_regex *re;
	PCRE2_SIZE off = 0;
	int ec = 0, r = -ENOMEM;

	*out = NULL;
	re = calloc(1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	re->code = pcre2_compile((PCRE2_SPTR)src, len,
				 PCRE2_CASELESS | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &off,
				 NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[160];

		if (ec == PCRE2_ERROR_HEAPLIMIT || ec == PCRE2_ERROR_NOMEMORY)
			goto out;
		pcre2_get_error_message(ec, msg, sizeof(msg));
		if (whylen > 0)
			snprintf(why, whylen, "%s at offset %zu", (const char *)msg, (size_t)off);
		r = -EINVAL;
		goto out;
	}
	/* JIT is an optimisation: without it (no executable memory, an
	 * unsupported CPU) the interpreter gives the same answers. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->md = pcre2_match_data_create(1, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->md || !re->mctx)
		goto out;
	pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
	*out = re;
	re = NULL;
	r = 0;
out:
	rule_regex_free(re);
	return r;
}

bool rule_regex_match(const struct rule_regex *re, const char *s, size_t len)
{
	return pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, re->mctx) >= 0;
}

void rule_regex_free(struct rule_regex *re)
{
	if (!re)
		return;
	pcre2_match_context_free(re->mctx);
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
}
