/* prefix: parsing, formatting and subtraction of IP prefixes (prefix.h). */
#include "tun2socks/system/prefix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

unsigned prefix_max_len(int family)
{
	return family == AF_INET ? 32 : 128;
}

static size_t prefix_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

void prefix_make(struct prefix *p, int family, const void *addr, unsigned len)
{
	uint8_t a[16];
	size_t n = prefix_bytes(family);

	/* addr may point into *p. */
	memcpy(a, addr, n);

	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)family;
	p->len = (uint8_t)len;
	for (size_t i = 0; i < n; i++) {
		unsigned bits = len > i * 8 ? len - (unsigned)i * 8 : 0;

		if (bits >= 8)
			p->addr[i] = a[i];
		else if (bits > 0)
			p->addr[i] = (uint8_t)(a[i] & (0xff00u >> bits));
	}
}

void prefix_any(struct prefix *p, int family)
{
	static const uint8_t zero[16];

	prefix_make(p, family, zero, 0);
}

int prefix_parse(const char *s, bool loose, struct prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	uint8_t addr[16];
	unsigned long len;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int family;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		return -EINVAL;
	len = prefix_max_len(family);
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return -EINVAL;
		len = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || len > prefix_max_len(family))
			return -EINVAL;
	}
	prefix_make(out, family, addr, (unsigned)len);
	if (!loose && memcmp(out->addr, addr, prefix_bytes(family)) != 0) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

void prefix_format(const struct prefix *p, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(p->family, p->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, cap, "%s/%u", a, p->len);
}

/* Whether a and b agree on their first len bits. */
static bool same_bits(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xff00u >> rest)) == 0;
}

bool prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       same_bits(outer->addr, inner->addr, outer->len);
}

bool prefix_overlaps(const struct prefix *a, const struct prefix *b)
{
	return prefix_contains(a, b) || prefix_contains(b, a);
}

bool prefix_equal(const struct prefix *a, const struct prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, prefix_bytes(a->family)) == 0;
}

static int prefix_cmp(const void *x, const void *y)
{
	const struct prefix *a = x, *b = y;
	int c = memcmp(a->addr, b->addr, sizeof(a->addr));

	return c ? c : (int)a->len - (int)b->len;
}

struct subtract {
	const struct prefix *ex;
	size_t n_ex;
	struct prefix *out;
	size_t cap, n;
	bool overflow;
};

/* p minus the exclusions: p itself when none overlaps it, nothing when one
 * covers it, else each half in turn (address order is kept). */
static void subtract_one(struct subtract *s, const struct prefix *p)
{
	bool overlap = false;
	struct prefix half;

	for (size_t i = 0; i < s->n_ex; i++) {
		if (prefix_contains(&s->ex[i], p))
			return;
		if (prefix_contains(p, &s->ex[i]))
			overlap = true;
	}
	if (!overlap) {
		if (s->n < s->cap)
			s->out[s->n++] = *p;
		else
			s->overflow = true;
		return;
	}
	/* An exclusion lies strictly inside p, so p->len < the maximum. */
	half = *p;
	half.len++;
	subtract_one(s, &half);
	half.addr[p->len / 8] |= (uint8_t)(0x80u >> (p->len % 8));
	subtract_one(s, &half);
}

int prefix_subtract(int family, const struct prefix *in, size_t n_in, const struct prefix *ex,
		    size_t n_ex, struct prefix *out, size_t cap)
{
	struct prefix *ins = NULL, *exs = NULL;
	struct subtract s = { .out = out, .cap = cap };
	size_t ni = 0, ne = 0;
	int ret;

	ins = malloc((n_in ? n_in : 1) * sizeof(*ins));
	exs = malloc((n_ex ? n_ex : 1) * sizeof(*exs));
	if (ins == NULL || exs == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_in; i++)
		if (in[i].family == family)
			ins[ni++] = in[i];
	for (size_t i = 0; i < n_ex; i++)
		if (ex[i].family == family)
			exs[ne++] = ex[i];
	/* Sorted by address then length, a prefix inside another comes
	 * after it: keeping only those outside the last one kept leaves
	 * disjoint inputs, so the outputs are disjoint too. */
	qsort(ins, ni, sizeof(*ins), prefix_cmp);
	s.ex = exs;
	s.n_ex = ne;
	for (size_t i = 0, last = 0; i < ni; i++) {
		if (i > 0 && prefix_contains(&ins[last], &ins[i]))
			continue;
		last = i;
		subtract_one(&s, &ins[i]);
	}
	ret = s.overflow ? -ENOBUFS : (int)s.n;
out:
	free(ins);
	free(exs);
	return ret;
}

void prefix_neighbour(uint8_t *a, size_t len, unsigned prefix)
{
	size_t i = len - 1;
	size_t host_bits = len * 8 > prefix ? len * 8 - prefix : 0;
	uint8_t last = a[i];

	/* A /31 or /32 (/127, /128) has no neighbour inside, and any other
	 * address is routed into the TUN as well (the default route), so
	 * staying near is only for the reader. */
	if (last >= 0xfe || (host_bits > 1 && host_bits < 8 &&
			     ((last + 1u) & ((1u << host_bits) - 1)) == (1u << host_bits) - 1))
		a[i] = (uint8_t)(last - 1);
	else
		a[i] = (uint8_t)(last + 1);
}
