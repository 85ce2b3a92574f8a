/* ruleset_mrs: see ruleset_mrs.h. */
#include "config/ruleset_mrs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum { KEY_MAX = 512 };

/* The whole zstd stream (frames back to back) into *out, at most
 * MRS_MAX_BODY bytes. */
static int inflate_all(const void *buf, size_t len, uint8_t **out, size_t *out_len,
		       const char **why)
{
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer in = { buf, len, 0 };
	uint8_t *b = NULL;
	size_t cap = 0, n = 0, ret = 1;
	int r = -ENOMEM;

	*out = NULL;
	*out_len = 0;
	if (!ds)
		return -ENOMEM;
	ZSTD_initDStream(ds);
	while (in.pos < in.size || ret != 0) {
		ZSTD_outBuffer ob;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			uint8_t *g;

			if (cap >= MRS_MAX_BODY) {
				*why = "decompressed data too large";
				r = -EINVAL;
				goto out;
			}
			if (ncap > MRS_MAX_BODY)
				ncap = MRS_MAX_BODY;
			g = realloc(b, ncap);
			if (!g)
				goto out;
			b = g;
			cap = ncap;
		}
		ob = (ZSTD_outBuffer){ b + n, cap - n, 0 };
		ret = ZSTD_decompressStream(ds, &ob, &in);
		if (ZSTD_isError(ret)) {
			*why = "not a zstd stream (or a damaged one)";
			r = -EINVAL;
			goto out;
		}
		n += ob.pos;
		if (in.pos == in.size && ob.pos == 0 && ret != 0) {
			*why = "truncated zstd stream";
			r = -EINVAL;
			goto out;
		}
	}
	*out = b;
	*out_len = n;
	b = NULL;
	r = 0;
out:
	free(b);
	ZSTD_freeDStream(ds);
	return r;
}

/* A reader over the decompressed body. */
struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int take(struct rd *r, void *dst, size_t n)
{
	if (r->len - r->off < n)
		return -EINVAL;
	if (dst)
		memcpy(dst, r->p + r->off, n);
	r->off += n;
	return 0;
}

static int take_u64(struct rd *r, uint64_t *v)
{
	uint8_t b[8];

	if (take(r, b, 8))
		return -EINVAL;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v = *v << 8 | b[i];
	return 0;
}

/* An int64 length of elem-byte elements, 1.. and no more than remain. */
static int take_len(struct rd *r, size_t elem, size_t *n)
{
	uint64_t v;

	if (take_u64(r, &v) || v < 1 || v > (r->len - r->off) / elem)
		return -EINVAL;
	*n = (size_t)v;
	return 0;
}

static bool bit(const uint64_t *bm, size_t words, size_t i)
{
	return i / 64 < words && (bm[i / 64] >> (i % 64)) & 1;
}

struct frame {
	size_t node, bm, klen;
};

/* Every key of the succinct trie, depth first (mihomo's DomainSet.keys). */
static int walk_domains(const uint64_t *leaves, size_t n_leaves, const uint64_t *bm, size_t n_bm,
			const uint8_t *labels, size_t n_labels, const struct mrs_sink *sink,
			const char **why)
{
	size_t bits = n_bm * 64, n_ones = 0, *ones = NULL, sp = 0;
	struct frame *st = NULL;
	char key[KEY_MAX], rev[KEY_MAX];
	int r = -ENOMEM;

	for (size_t i = 0; i < n_bm; i++)
		n_ones += (size_t)__builtin_popcountll(bm[i]);
	ones = malloc((n_ones ? n_ones : 1) * sizeof(*ones));
	st = malloc((KEY_MAX + 1) * sizeof(*st));
	if (!ones || !st)
		goto out;
	n_ones = 0;
	for (size_t i = 0; i < bits; i++)
		if (bit(bm, n_bm, i))
			ones[n_ones++] = i;
	st[sp++] = (struct frame){ 0, 0, 0 };
	if (bit(leaves, n_leaves, 0)) {
		*why = "empty name in the set";
		r = -EINVAL;
		goto out;
	}
	while (sp > 0) {
		struct frame *f = &st[sp - 1];
		size_t child, start;

		if (f->bm >= bits) {
			*why = "label bitmap ends inside a node";
			r = -EINVAL;
			goto out;
		}
		if (bit(bm, n_bm, f->bm)) {
			sp--; /* the node's labels are done */
			continue;
		}
		/* Label f->bm - node; it leads to node bm - node + 1, whose run
		 * starts after the bitmap's (child - 1)-th one. */
		if (f->bm - f->node >= n_labels || f->klen >= KEY_MAX - 1) {
			*why = f->klen >= KEY_MAX - 1 ? "name too long"
						      : "label index out of range";
			r = -EINVAL;
			goto out;
		}
		key[f->klen] = (char)labels[f->bm - f->node];
		child = f->bm - f->node + 1;
		f->bm++;
		if (child <= f->node || child - 1 >= n_ones) {
			*why = "bad trie structure";
			r = -EINVAL;
			goto out;
		}
		start = ones[child - 1] + 1;
		if (bit(leaves, n_leaves, child)) {
			size_t kl = f->klen + 1;

			for (size_t i = 0; i < kl; i++)
				rev[i] = key[kl - 1 - i];
			r = sink->domain(sink->arg, rev, kl);
			if (r)
				goto out;
		}
		if (sp > KEY_MAX) {
			*why = "name too long";
			r = -EINVAL;
			goto out;
		}
		st[sp] = (struct frame){ child, start, f->klen + 1 };
		sp++;
	}
	r = 0;
out:
	free(ones);
	free(st);
	return r;
}

static int decode_domains(struct rd *rd, const struct mrs_sink *sink, const char **why)
{
	uint64_t *leaves = NULL, *bm = NULL;
	size_t n_leaves, n_bm, n_labels;
	uint8_t version;
	int r = -EINVAL;

	*why = "truncated domain set";
	if (take(rd, &version, 1))
		return -EINVAL;
	if (version != 1) {
		*why = "unknown domain set version";
		return -EINVAL;
	}
	if (take_len(rd, 8, &n_leaves))
		return -EINVAL;
	leaves = malloc(n_leaves * 8);
	if (!leaves)
		return -ENOMEM;
	for (size_t i = 0; i < n_leaves; i++)
		if (take_u64(rd, &leaves[i]))
			goto out;
	if (take_len(rd, 8, &n_bm))
		goto out;
	bm = malloc(n_bm * 8);
	if (!bm) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_bm; i++)
		if (take_u64(rd, &bm[i]))
			goto out;
	if (take_len(rd, 1, &n_labels))
		goto out;
	r = walk_domains(leaves, n_leaves, bm, n_bm, rd->p + rd->off, n_labels, sink, why);
	rd->off += n_labels;
out:
	free(leaves);
	free(bm);
	return r;
}

typedef unsigned __int128 u128;

static u128 to_u128(const uint8_t *b)
{
	u128 v = 0;

	for (int i = 0; i < 16; i++)
		v = v << 8 | b[i];
	return v;
}

/* [from, to] (bits wide) as the fewest prefixes, largest first. */
static int range_cidrs(u128 from, u128 to, unsigned bits, const struct mrs_sink *sink)
{
	for (;;) {
		unsigned host = 0;
		struct rule_cidr c = { .family = bits == 32 ? 4 : 6 };
		int r;

		/* The largest aligned block at from that stays within to. */
		while (host < bits && !((from >> host) & 1)) {
			u128 mask = host + 1 >= 128 ? ~(u128)0 : ((u128)1 << (host + 1)) - 1;

			if ((from | mask) > to)
				break;
			host++;
		}
		c.plen = (uint8_t)(bits - host);
		for (unsigned i = 0; i < bits / 8; i++)
			c.addr[i] = (uint8_t)(from >> (bits - 8 - 8 * i));
		r = sink->cidr(sink->arg, &c);
		if (r)
			return r;
		if (host == bits)
			return 0; /* the whole space */
		{
			u128 next = from + ((u128)1 << host);

			if (next - 1 >= to || next == 0)
				return 0;
			from = next;
		}
	}
}

static int decode_cidrs(struct rd *rd, const struct mrs_sink *sink, const char **why)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t version, a[16], b[16];
	size_t n;
	int r;

	*why = "truncated ipcidr set";
	if (take(rd, &version, 1))
		return -EINVAL;
	if (version != 1) {
		*why = "unknown ipcidr set version";
		return -EINVAL;
	}
	if (take_len(rd, 32, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		bool v4;
		u128 from, to;

		if (take(rd, a, 16) || take(rd, b, 16))
			return -EINVAL;
		v4 = !memcmp(a, mapped, 12) && !memcmp(b, mapped, 12);
		from = to_u128(a);
		to = to_u128(b);
		if (v4) {
			from &= 0xffffffffu;
			to &= 0xffffffffu;
		}
		if (from > to || (!v4 && (!memcmp(a, mapped, 12) || !memcmp(b, mapped, 12)))) {
			*why = "bad address range";
			return -EINVAL;
		}
		r = range_cidrs(from, to, v4 ? 32 : 128, sink);
		if (r)
			return r;
	}
	return 0;
}

int ruleset_mrs_decode(const void *buf, size_t len, int behavior, const struct mrs_sink *sink,
		       uint64_t *count, const char **why)
{
	uint8_t *body = NULL, head[5];
	size_t blen;
	uint64_t extra;
	struct rd rd;
	int r;

	*count = 0;
	r = inflate_all(buf, len, &body, &blen, why);
	if (r)
		return r;
	rd = (struct rd){ body, blen, 0 };
	r = -EINVAL;
	if (take(&rd, head, 5) || memcmp(head, "MRS\x01", 4) != 0) {
		*why = "not an mrs file (no MRS v1 header)";
		goto out;
	}
	if (head[4] != behavior) {
		*why = head[4] == MRS_DOMAIN   ? "the file holds a domain set"
		       : head[4] == MRS_IPCIDR ? "the file holds an ipcidr set"
					       : "the file holds a set of an unknown behavior";
		goto out;
	}
	if (take_u64(&rd, count) || take_u64(&rd, &extra) || extra > blen - rd.off) {
		*why = "truncated header";
		goto out;
	}
	rd.off += (size_t)extra;
	r = behavior == MRS_DOMAIN ? decode_domains(&rd, sink, why) : decode_cidrs(&rd, sink, why);
out:
	free(body);
	return r;
}
