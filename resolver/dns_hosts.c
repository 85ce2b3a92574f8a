/* dns_hosts: the hosts table (dns_hosts.h). Exact names in a hash table
 * (FNV: the keys are the config's and the system's, a name from the
 * network only picks a chain of them); patterns in a list, each with a
 * domain_match of its own. */
#include "resolver/dns_hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/domain_match.h"
#include "tun2socks/base/hash.h"

enum { NAME_MAX_LEN = 253, BUCKETS = 1024 };

struct hosts_entry {
	struct hosts_entry *next; /* chain, or the pattern list */
	uint32_t hash;
	struct domain_match *pattern; /* NULL: an exact name */
	bool from_etc;                /* made by dns_hosts_parse_etc */
	struct dns_hosts_addrs addrs;
	char *alias; /* lower case, or NULL: addrs */
	char name[]; /* lower case, no trailing dot */
};

struct dns_hosts {
	struct hosts_entry *buckets[BUCKETS];
	struct hosts_entry *patterns, **patterns_tail;
	size_t count;
};

int dns_hosts_create(struct dns_hosts **out)
{
	struct dns_hosts *h = calloc(1, sizeof(*h));

	*out = h;
	if (h == NULL)
		return -ENOMEM;
	h->patterns_tail = &h->patterns;
	return 0;
}

static void entry_free(struct hosts_entry *e)
{
	if (e->pattern)
		domain_match_destroy(e->pattern);
	free(e->alias);
	free(e);
}

void dns_hosts_destroy(struct dns_hosts *h)
{
	struct hosts_entry *e, *next;

	if (h == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		for (e = h->buckets[i]; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	for (e = h->patterns; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(h);
}

/* Lower case, no trailing dot; 1..253 bytes of [a-z0-9_-.*+]. */
static int norm(const char *in, char *out, size_t *len)
{
	size_t n = strnlen(in, NAME_MAX_LEN + 2);

	if (n > 0 && in[n - 1] == '.' && n > 1)
		n--;
	if (n == 0 || n > NAME_MAX_LEN)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.' || c == '*' || c == '+'))
			return -EINVAL;
		out[i] = c;
	}
	out[n] = '\0';
	*len = n;
	return 0;
}

static struct hosts_entry *exact_find(const struct dns_hosts *h, const char *name, size_t len,
				      uint32_t hash)
{
	struct hosts_entry *e = h->buckets[hash % BUCKETS];

	for (; e; e = e->next)
		if (e->hash == hash && strcmp(e->name, name) == 0)
			return e;
	(void)len;
	return NULL;
}

static struct hosts_entry *pattern_find(const struct dns_hosts *h, const char *name)
{
	for (struct hosts_entry *e = h->patterns; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static int entry_put(struct hosts_entry *e, const char *addr)
{
	struct dns_hosts_addrs *a = &e->addrs;
	uint8_t b[16];

	if (inet_pton(AF_INET, addr, b) == 1) {
		for (unsigned i = 0; i < a->n4; i++)
			if (memcmp(a->a4[i], b, 4) == 0)
				return 0;
		if (a->n4 == DNS_HOSTS_MAX)
			return -ENOSPC;
		memcpy(a->a4[a->n4++], b, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, b) == 1) {
		for (unsigned i = 0; i < a->n6; i++)
			if (memcmp(a->a6[i], b, 16) == 0)
				return 0;
		if (a->n6 == DNS_HOSTS_MAX)
			return -ENOSPC;
		memcpy(a->a6[a->n6++], b, 16);
		return 0;
	}
	return -EINVAL;
}

/* The entry for name, made if new (*made). */
static int entry_get(struct dns_hosts *h, const char *raw, struct hosts_entry **out, bool *made)
{
	char name[NAME_MAX_LEN + 1];
	struct hosts_entry *e;
	bool pat;
	size_t len;
	uint32_t hash;
	int r;

	*out = NULL;
	*made = false;
	r = norm(raw, name, &len);
	if (r < 0)
		return r;
	pat = strchr(name, '*') != NULL || name[0] == '+' || name[0] == '.';
	hash = hash_fnv1a(name, len, HASH_FNV1A_BASIS);
	e = pat ? pattern_find(h, name) : exact_find(h, name, len, hash);
	if (e != NULL) {
		*out = e;
		return 0;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return -ENOMEM;
	memcpy(e->name, name, len + 1);
	e->hash = hash;
	if (pat) {
		r = domain_match_create(&e->pattern);
		if (r == 0)
			r = domain_match_add(e->pattern, name);
		if (r < 0) {
			entry_free(e);
			return r;
		}
	} else if (strchr(name, '+') != NULL) {
		free(e);
		return -EINVAL;
	}
	*out = e;
	*made = true;
	return 0;
}

static void entry_link(struct dns_hosts *h, struct hosts_entry *e)
{
	if (e->pattern) {
		*h->patterns_tail = e;
		h->patterns_tail = &e->next;
	} else {
		e->next = h->buckets[e->hash % BUCKETS];
		h->buckets[e->hash % BUCKETS] = e;
	}
	h->count++;
}

int dns_hosts_add(struct dns_hosts *h, const char *name, const char *addr)
{
	struct hosts_entry *e;
	bool made;
	int r = entry_get(h, name, &e, &made);

	if (r < 0)
		return r;
	r = e->alias ? -EEXIST : entry_put(e, addr);
	if (made) {
		if (r == 0)
			entry_link(h, e);
		else
			entry_free(e);
	}
	return r;
}

int dns_hosts_add_alias(struct dns_hosts *h, const char *name, const char *target)
{
	char t[NAME_MAX_LEN + 1];
	struct hosts_entry *e;
	size_t len;
	bool made;
	int r = norm(target, t, &len);

	if (r == 0 && (strpbrk(t, "*+") != NULL || t[0] == '.'))
		r = -EINVAL;
	if (r == 0)
		r = entry_get(h, name, &e, &made);
	if (r < 0)
		return r;
	if (!made) /* addresses or an alias already */
		return -EEXIST;
	e->alias = strdup(t);
	if (e->alias == NULL) {
		entry_free(e);
		return -ENOMEM;
	}
	entry_link(h, e);
	return 0;
}

int dns_hosts_parse_etc(struct dns_hosts *h, const char *text, size_t len, size_t *skipped)
{
	size_t pos = 0, skip = 0;

	while (pos < len) {
		char line[1024], *tok[34], *save = NULL, *t;
		size_t n = 0, ntok = 0;

		while (pos < len && text[pos] != '\n') {
			if (n + 1 < sizeof(line))
				line[n++] = text[pos];
			pos++;
		}
		pos++;
		line[n] = '\0';
		if ((t = strchr(line, '#')) != NULL)
			*t = '\0';
		for (t = strtok_r(line, " \t\r", &save); t && ntok < 34;
		     t = strtok_r(NULL, " \t\r", &save))
			tok[ntok++] = t;
		if (ntok == 0)
			continue;
		if (ntok < 2) {
			skip++;
			continue;
		}
		for (size_t i = 1; i < ntok; i++) {
			struct hosts_entry *e;
			bool made;
			int r;

			/* /etc/hosts holds names only: no patterns from it */
			if (strpbrk(tok[i], "*+") != NULL || tok[i][0] == '.') {
				skip++;
				continue;
			}
			r = entry_get(h, tok[i], &e, &made);
			if (r == -ENOMEM)
				return r;
			if (r < 0) {
				skip++;
				continue;
			}
			/* A name from the config keeps its own addresses. */
			if (!made && (e->alias || (e->addrs.n4 + e->addrs.n6 > 0 && !e->from_etc)))
				continue;
			r = entry_put(e, tok[0]);
			if (made && r == 0) {
				e->from_etc = true;
				entry_link(h, e);
			} else if (made) {
				entry_free(e);
			}
			if (r == -EINVAL) {
				skip++;
				break;
			}
		}
	}
	if (skipped)
		*skipped = skip;
	return 0;
}

/* An exact name first, then the patterns in order. */
static const struct hosts_entry *entry_find(const struct dns_hosts *h, const char *n, size_t len)
{
	const struct hosts_entry *e = exact_find(h, n, len, hash_fnv1a(n, len, HASH_FNV1A_BASIS));

	for (const struct hosts_entry *p = h->patterns; e == NULL && p; p = p->next)
		if (domain_match_test(p->pattern, n))
			e = p;
	return e;
}

int dns_hosts_find(const struct dns_hosts *h, const char *name, struct dns_hosts_addrs *out)
{
	char n[NAME_MAX_LEN + 1];
	const struct hosts_entry *e;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (h == NULL || norm(name, n, &len) < 0 || strpbrk(n, "*+") != NULL)
		return -ENOENT;
	e = entry_find(h, n, len);
	if (e == NULL)
		return -ENOENT;
	for (int hop = 0; e->alias != NULL; hop++) {
		const struct hosts_entry *next =
			hop < DNS_HOSTS_MAX ? entry_find(h, e->alias, strlen(e->alias)) : NULL;

		if (next == NULL) {
			snprintf(out->alias, sizeof(out->alias), "%s", e->alias);
			return 0;
		}
		e = next;
	}
	*out = e->addrs;
	return 0;
}

size_t dns_hosts_count(const struct dns_hosts *h)
{
	return h ? h->count : 0;
}
