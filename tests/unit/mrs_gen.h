/* A writer of mihomo's mrs rule sets, for tests: written from the layout
 * in config/ruleset_mrs.h (mihomo's DomainTrie.NewDomainSet and WriteBin),
 * independently of the decoder. Header-only, test use only. */
#ifndef T2S_TEST_MRS_GEN_H
#define T2S_TEST_MRS_GEN_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct mrs_buf {
	uint8_t *p;
	size_t len, cap;
};

static void mrs_put(struct mrs_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void mrs_put64(struct mrs_buf *b, uint64_t v)
{
	uint8_t x[8];

	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (56 - 8 * i));
	mrs_put(b, x, 8);
}

static void mrs_setbit(uint64_t **bm, size_t *words, size_t i, int v)
{
	while (i / 64 >= *words) {
		*bm = realloc(*bm, (*words + 1) * 8);
		if (!*bm)
			abort();
		(*bm)[(*words)++] = 0;
	}
	(*bm)[i / 64] |= (uint64_t)v << (i % 64);
}

static int mrs_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header, then body[0, n), zstd-compressed into *out. */
static size_t mrs_finish(uint8_t behavior, uint64_t count, const struct mrs_buf *body,
			 uint8_t **out)
{
	struct mrs_buf raw = { 0 };
	size_t cap, n;

	mrs_put(&raw, "MRS\x01", 4);
	mrs_put(&raw, &behavior, 1);
	mrs_put64(&raw, count);
	mrs_put64(&raw, 3); /* extra: reserved, skipped by readers */
	mrs_put(&raw, "xyz", 3);
	mrs_put(&raw, body->p, body->len);
	cap = ZSTD_compressBound(raw.len);
	*out = malloc(cap);
	if (!*out)
		abort();
	n = ZSTD_compress(*out, cap, raw.p, raw.len, 3);
	if (ZSTD_isError(n))
		abort();
	free(raw.p);
	return n;
}

/* A domain set from mihomo DomainSet keys ("x.com", "+.x.com",
 * "*.x.com"); duplicates allowed. Returns the file's size. */
static size_t mrs_gen_domains(const char *const *keys, size_t n, uint8_t **out)
{
	char **rev = calloc(n ? n : 1, sizeof(*rev));
	struct {
		size_t s, e, col;
	} *q = NULL;
	size_t nq = 0, capq = 0, lidx = 0, m = 0, nl = 0, nb = 0;
	uint64_t *leaves = NULL, *bm = NULL;
	struct mrs_buf labels = { 0 }, body = { 0 };
	uint8_t v = 1;
	size_t sz;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(keys[i]);

		rev[i] = malloc(l + 1);
		for (size_t j = 0; j < l; j++)
			rev[i][j] = keys[i][l - 1 - j];
		rev[i][l] = '\0';
	}
	qsort(rev, n, sizeof(*rev), mrs_strcmp);
	for (size_t i = 0; i < n; i++) /* drop duplicates */
		if (m == 0 || strcmp(rev[m - 1], rev[i]) != 0)
			rev[m++] = rev[i];
		else
			free(rev[i]);
#define PUSHQ(S, E, C)                                               \
	do {                                                         \
		if (nq == capq) {                                    \
			capq = capq ? capq * 2 : 16;                 \
			q = realloc(q, capq * sizeof(*q));           \
		}                                                    \
		q[nq].s = (S), q[nq].e = (E), q[nq].col = (C), nq++; \
	} while (0)
	PUSHQ(0, m, 0);
	for (size_t i = 0; i < nq; i++) {
		size_t s = q[i].s, e = q[i].e, col = q[i].col;

		if (s < e && col == strlen(rev[s])) {
			s++;
			mrs_setbit(&leaves, &nl, i, 1);
		}
		for (size_t j = s; j < e;) {
			size_t frm = j;

			while (j < e && rev[j][col] == rev[frm][col])
				j++;
			PUSHQ(frm, j, col + 1);
			mrs_put(&labels, &rev[frm][col], 1);
			mrs_setbit(&bm, &nb, lidx++, 0);
		}
		mrs_setbit(&bm, &nb, lidx++, 1);
	}
#undef PUSHQ
	mrs_setbit(&leaves, &nl, 0, 0);
	mrs_put(&body, &v, 1);
	mrs_put64(&body, nl);
	for (size_t i = 0; i < nl; i++)
		mrs_put64(&body, leaves[i]);
	mrs_put64(&body, nb);
	for (size_t i = 0; i < nb; i++)
		mrs_put64(&body, bm[i]);
	mrs_put64(&body, labels.len);
	mrs_put(&body, labels.p, labels.len);
	sz = mrs_finish(0, m, &body, out);
	for (size_t i = 0; i < m; i++)
		free(rev[i]);
	free(rev);
	free(q);
	free(leaves);
	free(bm);
	free(labels.p);
	free(body.p);
	return sz;
}

/* An ipcidr set from n ranges: from[i] .. to[i], 16 bytes each (IPv4 as
 * ::ffff:a.b.c.d). */
static size_t mrs_gen_ranges(const uint8_t (*from)[16], const uint8_t (*to)[16], size_t n,
			     uint8_t **out)
{
	struct mrs_buf body = { 0 };
	uint8_t v = 1;
	size_t sz;

	mrs_put(&body, &v, 1);
	mrs_put64(&body, n);
	for (size_t i = 0; i < n; i++) {
		mrs_put(&body, from[i], 16);
		mrs_put(&body, to[i], 16);
	}
	sz = mrs_finish(1, n, &body, out);
	free(body.p);
	return sz;
}

#endif
