/* libFuzzer target for the domain pattern set (resolver/domain_match.c).
 *
 * Input: lines separated by '\n'. Every line but the last is a pattern,
 * the last line is a domain. Checks, beyond sanitizer cleanliness:
 *  - domain_match_add() accepts a pattern exactly when a naive reference
 *    parser does, and refuses with -EINVAL otherwise;
 *  - domain_match_test() agrees with a naive matcher (compare label by
 *    label, pattern by pattern) for the domain, for every suffix of it at a
 *    label boundary, and for every input line used as a domain.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "resolver/domain_match.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

enum { MAX_LINES = 64, MAX_INPUT = 8192 };

/* --- naive reference ---------------------------------------------------- */

enum ref_kind { REF_EXACT, REF_SUB, REF_BOTH };

struct ref_name {
	int n;
	char label[128][64];
};

struct ref_pat {
	enum ref_kind kind;
	struct ref_name name;
};

static bool ref_char_ok(char c, bool star_label)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       star_label;
}

/* Lower-cases, drops one trailing dot, splits at dots; false if malformed
 * (empty name or label, label > 63, name > 253, a byte outside
 * [a-z0-9_-] unless star allows a label that is exactly "*"). */
static bool ref_split(const char *s, bool star, struct ref_name *out)
{
	size_t len = strlen(s);
	const char *p, *end;

	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	out->n = 0;
	for (p = s, end = s + len; p <= end;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = dot ? (size_t)(dot - p) : (size_t)(end - p);
		char *lab;

		if (l == 0 || l > 63)
			return false;
		lab = out->label[out->n++];
		for (size_t i = 0; i < l; i++) {
			char c = p[i];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (!ref_char_ok(c, star && l == 1 && c == '*'))
				return false;
			lab[i] = c;
		}
		lab[l] = '\0';
		if (!dot)
			break;
		p = dot + 1;
	}
	return true;
}

static bool ref_parse(const char *p, struct ref_pat *out)
{
	out->kind = REF_EXACT;
	if (p[0] == '+' && p[1] == '.') {
		out->kind = REF_BOTH;
		p += 2;
	} else if (p[0] == '.') {
		out->kind = REF_SUB;
		p++;
	}
	return ref_split(p, true, &out->name);
}

static bool ref_match(const struct ref_pat *pats, int np, const char *domain)
{
	static struct ref_name d;

	if (!ref_split(domain, false, &d))
		return false;
	for (int k = 0; k < np; k++) {
		const struct ref_pat *p = &pats[k];
		int m = p->name.n, i;

		if ((p->kind == REF_EXACT && d.n != m) || (p->kind == REF_SUB && d.n <= m) ||
		    (p->kind == REF_BOTH && d.n < m))
			continue;
		for (i = 1; i <= m; i++) {
			const char *pl = p->name.label[m - i];

			if (strcmp(pl, "*") != 0 && strcmp(pl, d.label[d.n - i]) != 0)
				break;
		}
		if (i > m)
			return true;
	}
	return false;
}

/* --- target ------------------------------------------------------------ */

static void check_domain(const struct domain_match *m, const struct ref_pat *pats, int np,
			 const char *domain)
{
	CHECK(domain_match_test(m, domain) == ref_match(pats, np, domain));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[MAX_INPUT + 1];
	static struct ref_pat pats[MAX_LINES];
	char *lines[MAX_LINES + 1];
	struct domain_match *m = NULL;
	int n_lines = 0, np = 0;

	if (size > MAX_INPUT)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	/* Lines end at '\n'; an embedded NUL ends a line's C string early,
	 * for both implementations alike. */
	for (char *p = buf;;) {
		char *nl = memchr(p, '\n', (size_t)(buf + size - p));

		lines[n_lines++] = p;
		if (!nl || n_lines == MAX_LINES + 1)
			break;
		*nl = '\0';
		p = nl + 1;
	}

	CHECK(domain_match_create(&m) == 0 && m);
	for (int i = 0; i + 1 < n_lines; i++) {
		int r = domain_match_add(m, lines[i]);
		bool ok = ref_parse(lines[i], &pats[np]);

		CHECK(r == 0 || r == -EINVAL);
		CHECK((r == 0) == ok);
		if (ok)
			np++;
	}

	const char *domain = lines[n_lines - 1];

	check_domain(m, pats, np, domain);
	for (const char *p = domain; (p = strchr(p, '.')) != NULL; p++)
		check_domain(m, pats, np, p + 1);
	for (int i = 0; i + 1 < n_lines; i++)
		check_domain(m, pats, np, lines[i]);
	domain_match_destroy(m);
	return 0;
}
