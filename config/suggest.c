/* suggest: see suggest.h. */
#include "config/suggest.h"

#include <string.h>

/* ASCII only: <ctype.h> depends on the locale. */
static char fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t suggest_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Three rows of the edit matrix: the one two back is what a swap of
	 * adjacent bytes reaches. */
	size_t rows[3][SUGGEST_WORD_MAX + 1];
	size_t *pp = rows[0], *p = rows[1], *c = rows[2], *t;

	if (alen > SUGGEST_WORD_MAX || blen > SUGGEST_WORD_MAX)
		return SUGGEST_WORD_MAX + 1;
	for (size_t j = 0; j <= blen; j++)
		p[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		c[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			size_t v = min3(p[j] + 1, c[j - 1] + 1, p[j - 1] + cost);

			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			c[j] = v;
		}
		t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[blen];
}

void suggest_init(struct suggest *s, const char *word, size_t len)
{
	s->word = word;
	s->len = len;
	s->best = NULL;
	s->best_dist = 0;
}

void suggest_add(struct suggest *s, const char *cand)
{
	size_t limit = s->len / 3 > 1 ? s->len / 3 : 1;
	size_t d = suggest_distance(s->word, s->len, cand, strlen(cand));

	/* An empty word has nothing to correct. */
	if (s->len > 0 && d <= limit && (!s->best || d < s->best_dist)) {
		s->best = cand;
		s->best_dist = d;
	}
}

void suggest_add_list(struct suggest *s, const char *const *cands, size_t n)
{
	for (size_t i = 0; i < n; i++)
		suggest_add(s, cands[i]);
}

const char *suggest_best(const struct suggest *s)
{
	return s->best;
}
