/* sysdns: upstream DNS servers for auto-route, and the self-loop check
 * (sysdns.h). */
#include "tun2socks/system/sysdns.h"
#include "tun2socks/base/errtext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

size_t sysdns_parse_resolv(const char *text, size_t len, struct prefix *out, size_t max)
{
	size_t pos = 0, n = 0;

	while (pos < len && n < max) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[256], *save = NULL, *k, *v, *pct;

		if (ll < sizeof(line)) {
			memcpy(line, text + pos, ll);
			line[ll] = '\0';
			k = strtok_r(line, " \t\r", &save);
			v = k ? strtok_r(NULL, " \t\r", &save) : NULL;
			/* a zone ("fe80::1%eth0") is not ours to reach */
			pct = v ? strchr(v, '%') : NULL;
			if (k && v && !pct && strcmp(k, "nameserver") == 0 && !strchr(v, '/') &&
			    prefix_parse(v, false, &out[n]) == 0)
				n++;
		}
		pos += ll + 1;
	}
	return n;
}

static bool is_loopback(const struct prefix *p)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (p->family == AF_INET)
		return p->addr[0] == 127;
	return memcmp(p->addr, lo6, 16) == 0;
}

/* The servers picked so far, so that one both files name is asked once. */
struct picked {
	struct prefix p[2 * SYSDNS_MAX];
	size_t n;
};

static int append(char *csv, size_t cap, size_t *used, struct picked *seen, const struct prefix *p)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	for (size_t i = 0; i < seen->n; i++)
		if (prefix_equal(&seen->p[i], p))
			return 0;
	if (seen->n < 2 * SYSDNS_MAX)
		seen->p[seen->n++] = *p;
	inet_ntop(p->family, p->addr, a, sizeof(a));
	n = snprintf(csv + *used, cap - *used, "%s%s", *used ? "," : "", a);
	if (n < 0 || (size_t)n >= cap - *used)
		return -ENOBUFS;
	*used += (size_t)n;
	return 0;
}

int sysdns_pick(const char *resolv, size_t rlen, const char *resolved, size_t dlen, char *csv,
		size_t cap, char *err, size_t errlen)
{
	struct prefix ns[SYSDNS_MAX], up[SYSDNS_MAX];
	size_t n = sysdns_parse_resolv(resolv, rlen, ns, SYSDNS_MAX), nu = 0, used = 0;
	char a[INET6_ADDRSTRLEN];
	struct picked seen = { .n = 0 };
	int r;

	if (cap == 0)
		return -ENOBUFS;
	csv[0] = '\0';
	if (resolved)
		nu = sysdns_parse_resolv(resolved, dlen, up, SYSDNS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!is_loopback(&ns[i])) {
			r = append(csv, cap, &used, &seen, &ns[i]);
			if (r < 0)
				return r;
			continue;
		}
		/* A local resolver: systemd-resolved's upstreams when it is
		 * the one, else we cannot know where it forwards. */
		size_t real = 0;

		for (size_t j = 0; j < nu; j++) {
			if (is_loopback(&up[j]))
				continue;
			r = append(csv, cap, &used, &seen, &up[j]);
			if (r < 0)
				return r;
			real++;
		}
		if (real == 0) {
			inet_ntop(ns[i].family, ns[i].addr, a, sizeof(a));
			errtext_set(err, errlen,
				    "auto-route: the system resolver is a local one (nameserver %s "
				    "in " SYSDNS_RESOLV_CONF
				    ") whose queries to its upstream would come back "
				    "to us: give that upstream with --dns-server or dns.nameserver",
				    a);
			csv[0] = '\0';
			return -ELOOP;
		}
	}
	if (used == 0) {
		errtext_set(err, errlen,
			    "auto-route: no nameserver in " SYSDNS_RESOLV_CONF
			    ": give the upstream DNS with --dns-server or dns.nameserver");
		return -ENOENT;
	}
	return 0;
}

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "re");

	*len = 0;
	if (f == NULL)
		return -errno;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return 0;
}

int sysdns_pick_system(char *csv, size_t cap, char *err, size_t errlen)
{
	static char resolv[16384], resolved[16384];
	size_t rlen, dlen;
	bool have_resolved;

	if (read_small(SYSDNS_RESOLV_CONF, resolv, sizeof(resolv), &rlen) < 0)
		rlen = 0;
	have_resolved = read_small(SYSDNS_RESOLVED_CONF, resolved, sizeof(resolved), &dlen) == 0;
	return sysdns_pick(resolv, rlen, have_resolved ? resolved : NULL, dlen, csv, cap, err,
			   errlen);
}

size_t sysdns_parse_csv(const char *csv, struct prefix *out, size_t max)
{
	const char *p = csv;
	size_t n = 0;

	while (*p && n < max) {
		const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
		char tok[80], *host = tok, *end;
		size_t len = (size_t)(e - p);

		if (len > 0 && len < sizeof(tok)) {
			memcpy(tok, p, len);
			tok[len] = '\0';
			if (tok[0] == '[') {
				host = tok + 1;
				end = strchr(host, ']');
			} else {
				end = strrchr(tok, ':');
			}
			if (end)
				*end = '\0';
			if (prefix_parse(host, false, &out[n]) == 0)
				n++;
		}
		p = comma ? comma + 1 : e;
	}
	return n;
}

bool sysdns_resolved_managed(const char *text, size_t len)
{
	static const char mark[] = "managed by man:systemd-resolved(8)";
	struct prefix ns[SYSDNS_MAX];
	size_t n, k = sizeof(mark) - 1;

	for (size_t i = 0; i + k <= len; i++)
		if (memcmp(text + i, mark, k) == 0)
			return true;
	n = sysdns_parse_resolv(text, len, ns, SYSDNS_MAX);
	for (size_t i = 0; i < n; i++)
		if (ns[i].family != AF_INET || ns[i].addr[0] != 127 || ns[i].addr[1] != 0 ||
		    ns[i].addr[2] != 0 || (ns[i].addr[3] != 53 && ns[i].addr[3] != 54))
			return false;
	return n > 0;
}
