/* libFuzzer target for mrs rule sets (config/ruleset_mrs.c).
 *
 * Fuzzing compressed bytes would mostly exercise zstd's frame checks, so
 * the input is the decompressed stream after the header: the first byte
 * picks the behaviour (domain or ipcidr), the rest is the body; the target
 * writes the header, compresses and loads it. The input as it is is also
 * loaded as a file, for the zstd and header paths. Checks, beyond
 * sanitizer cleanliness: a load gives a set or -EINVAL with no set and a
 * message; every entry is well formed (names normalised, prefixes
 * masked); notes are printable.
 */
#include "config/ruleset.h"
#include "config/rules_parse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static void check_set(const struct ruleset *rs)
{
	for (size_t i = 0; i < ruleset_count(rs); i++) {
		if (ruleset_behavior(rs) == RULESET_DOMAIN) {
			char out[RULES_DOMAIN_MAX + 1];
			const char *pat, *why;
			unsigned kind;
			size_t len, n;

			pat = ruleset_domain(rs, i, &len, &kind);
			CHECK(kind >= 1 && kind <= 3 && strlen(pat) == len);
			CHECK(rules_domain_norm(pat, len, true, out, &n, &why) == 0 &&
			      strcmp(out, pat) == 0);
		} else {
			const struct rule_cidr *c = ruleset_cidr(rs, i);

			CHECK(c->family == 4 || c->family == 6);
			CHECK(c->plen <= (c->family == 4 ? 32 : 128));
			for (unsigned b = c->plen; b < 128; b++)
				CHECK(!(c->addr[b / 8] & (0x80u >> (b % 8))));
		}
	}
	for (size_t i = 0; i < ruleset_note_count(rs) && ruleset_note(rs, i); i++)
		for (const char *c = ruleset_note(rs, i)->msg; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void load(enum ruleset_behavior b, const void *buf, size_t len)
{
	struct ruleset *rs = (struct ruleset *)1;
	struct conf_err err;
	int r = ruleset_load_buffer("s", b, RULESET_MRS, "f", buf, len, &rs, &err);

	if (r != 0) {
		CHECK(r == -EINVAL || r == -ENOMEM);
		CHECK(rs == NULL);
		CHECK(err.msg[0] != '\0');
		return;
	}
	CHECK(ruleset_behavior(rs) == b);
	check_set(rs);
	ruleset_free(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ruleset_behavior b;
	uint8_t *raw, *comp;
	size_t cap, n;

	if (size < 1 || size > 65536)
		return 0;
	b = data[0] % 2 ? RULESET_IPCIDR : RULESET_DOMAIN;
	load(b, data + 1, size - 1);
	raw = malloc(size + 20);
	CHECK(raw != NULL);
	memcpy(raw, "MRS\x01", 4);
	raw[4] = b == RULESET_DOMAIN ? 0 : 1;
	memset(raw + 5, 0, 16); /* count, extra length */
	memcpy(raw + 21, data + 1, size - 1);
	cap = ZSTD_compressBound(size + 20);
	comp = malloc(cap);
	CHECK(comp != NULL);
	n = ZSTD_compress(comp, cap, raw, size + 20, 1);
	CHECK(!ZSTD_isError(n));
	load(b, comp, n);
	free(raw);
	free(comp);
	return 0;
}
