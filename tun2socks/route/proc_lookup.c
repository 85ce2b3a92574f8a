/* proc_lookup: the portable half (see proc_lookup.h): argument checks and
 * the result cache in front of the platform lookup.
 *
 * The cache is direct-mapped: a key hashes to one slot, and a newer result
 * for another key simply replaces it. Negative results are not cached: the
 * socket of a flow's first packet may appear in the tables a moment
 * later, and a miss is cheap (no /proc scan on Linux). */
#define _POSIX_C_SOURCE 200809L

#include "tun2socks/route/proc_lookup_impl.h"

#include "tun2socks/base/hash.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

enum { PROC_CACHE_SLOTS = 64 };

struct proc_cache_ent {
	bool used;
	struct proc_key key;
	uint64_t expires_ms;
	struct proc_info info;
};

struct proc_lookup {
	struct proc_platform *plat;
	unsigned cache_ms;
	struct proc_cache_ent cache[PROC_CACHE_SLOTS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The key's bytes hashed (the struct has no padding). */
static size_t key_slot(const struct proc_key *k)
{
	return hash_fnv1a(k, sizeof(*k), HASH_FNV1A_BASIS) % PROC_CACHE_SLOTS;
}

static int make_key(int proto, const struct sockaddr *src, struct proc_key *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -EINVAL;
	k->proto = (uint8_t)proto;
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)src;

		k->family = AF_INET;
		k->port = ntohs(s4->sin_port);
		memcpy(k->addr, &s4->sin_addr, 4);
	} else if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)src;

		k->port = ntohs(s6->sin6_port);
		if (!memcmp(s6->sin6_addr.s6_addr, mapped, sizeof(mapped))) {
			k->family = AF_INET;
			memcpy(k->addr, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			k->family = AF_INET6;
			memcpy(k->addr, s6->sin6_addr.s6_addr, 16);
		}
	} else {
		return -EINVAL;
	}
	return k->port ? 0 : -EINVAL;
}

struct proc_lookup *proc_lookup_create(unsigned cache_ms)
{
	return proc_lookup_create_fd(cache_ms, -1);
}

struct proc_lookup *proc_lookup_create_fd(unsigned cache_ms, int diag_fd)
{
	struct proc_lookup *pl = calloc(1, sizeof(*pl));
	int r;

	if (!pl) {
		if (diag_fd >= 0)
			close(diag_fd);
		return NULL;
	}
	r = proc_platform_create(&pl->plat, diag_fd);
	if (r < 0) {
		free(pl);
		errno = -r;
		return NULL;
	}
	pl->cache_ms = cache_ms;
	return pl;
}

void proc_lookup_destroy(struct proc_lookup *pl)
{
	if (!pl)
		return;
	proc_platform_destroy(pl->plat);
	free(pl);
}

int proc_lookup_find(struct proc_lookup *pl, int proto, const struct sockaddr *src,
		     struct proc_info *out)
{
	struct proc_cache_ent *e;
	struct proc_key k;
	uint64_t now;
	int r;

	memset(out, 0, sizeof(*out));
	r = make_key(proto, src, &k);
	if (r < 0)
		return r;
	e = &pl->cache[key_slot(&k)];
	now = pl->cache_ms ? now_ms() : 0;
	if (pl->cache_ms && e->used && now < e->expires_ms && !memcmp(&e->key, &k, sizeof(k))) {
		*out = e->info;
		return 0;
	}
	r = proc_platform_find(pl->plat, &k, out);
	if (r < 0) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	if (pl->cache_ms) {
		e->used = true;
		e->key = k;
		e->expires_ms = now + pl->cache_ms;
		e->info = *out;
	}
	return 0;
}

bool proc_basename(const char *path, char *name, size_t cap)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n == 0 || cap == 0)
		return false;
	if (n >= cap)
		n = cap - 1;
	memcpy(name, b, n);
	name[n] = '\0';
	return true;
}
