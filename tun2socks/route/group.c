/* group: see group.h and docs/design.md §18. */
#include "tun2socks/route/group.h"

#include <ctype.h>
#include <errno.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tun2socks/base/hash.h"

/* A dead or never-checked member's delay, as mihomo counts it. */
#define GROUP_NO_DELAY 0xffffu
/* Consistent hashing tries this many buckets before any alive member. */
#define GROUP_LB_RETRIES 3

struct group_member {
	char *name;
	int target;
	bool checked, alive;
	unsigned delay_ms;
	uint64_t checked_ms;
	char error[96];
};

struct group {
	char *name;
	enum config_group_type type;
	enum config_lb_strategy strategy;
	struct group_member *m;
	size_t n;
	size_t selected; /* select: the member switched to */
	size_t fast;     /* url-test: the member in use */
	size_t rr;       /* round-robin: the next member to try */
	char *url;
	unsigned interval_s, timeout_ms, tolerance_ms;
	bool lazy, disable_udp;
	uint16_t expected_lo[8], expected_hi[8];
	size_t n_expected;
	uint64_t used_ms;
	/* max-failed-times: connections through the group that failed since
	 * failed_ms, within timeout_ms (group_table_dial) */
	unsigned max_failed, failed;
	uint64_t failed_ms;
	bool chain_broken; /* relay: a member we cannot speak was left out */
};

struct group_table {
	int base;
	struct group *g;
	size_t n;
};

/* ---- build --------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

int group_table_build(const struct config *cfg, int base, group_target_fn target, void *arg,
		      struct group_table **out)
{
	struct group_table *t;
	size_t n = cfg ? cfg->n_groups : 0;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->base = base;
	if (n > 0) {
		t->g = calloc(n, sizeof(*t->g));
		if (t->g == NULL)
			goto oom;
	}
	for (size_t i = 0; i < n; i++) {
		const struct config_group *cg = &cfg->groups[i];
		struct group *g = &t->g[i];

		t->n++;
		g->name = dup_str(cg->name);
		g->url = dup_str(cg->url ? cg->url : CONFIG_GROUP_TEST_URL);
		if (g->name == NULL || g->url == NULL)
			goto oom;
		g->type = cg->type;
		g->strategy = cg->strategy;
		g->interval_s = cg->type == CONFIG_GROUP_SELECT || cg->type == CONFIG_GROUP_RELAY
					? 0
					: cg->interval;
		g->timeout_ms = cg->timeout_ms;
		g->max_failed = cg->max_failed_times ? cg->max_failed_times : 5;
		g->tolerance_ms = cg->tolerance_ms;
		g->lazy = cg->lazy;
		g->disable_udp = cg->disable_udp;
		g->n_expected = cg->n_expected;
		memcpy(g->expected_lo, cg->expected_lo, sizeof(g->expected_lo));
		memcpy(g->expected_hi, cg->expected_hi, sizeof(g->expected_hi));
		if (cg->n_members > 0) {
			g->m = calloc(cg->n_members, sizeof(*g->m));
			if (g->m == NULL)
				goto oom;
		}
		for (size_t j = 0; j < cg->n_members; j++) {
			int tg = target(arg, &cg->members[j]);
			struct group_member *m = &g->m[g->n];

			if (tg < 0) {
				g->chain_broken = true;
				continue;
			}
			if (j == cg->selected)
				g->selected = g->fast = g->n;
			m->name = dup_str(cg->members[j].name);
			if (m->name == NULL)
				goto oom;
			m->target = tg;
			m->alive = true;
			m->delay_ms = GROUP_NO_DELAY;
			g->n++;
		}
	}
	*out = t;
	return 0;
oom:
	group_table_free(t);
	return -ENOMEM;
}

void group_table_free(struct group_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = 0; j < t->g[i].n; j++)
			free(t->g[i].m[j].name);
		free(t->g[i].m);
		free(t->g[i].name);
		free(t->g[i].url);
	}
	free(t->g);
	free(t);
}

size_t group_table_count(const struct group_table *t)
{
	return t ? t->n : 0;
}

int group_table_find(const struct group_table *t, const char *name)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (strcmp(t->g[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

static int member_find(const struct group *g, const char *name)
{
	for (size_t j = 0; j < g->n; j++)
		if (strcmp(g->m[j].name, name) == 0)
			return (int)j;
	return -ENOENT;
}

/* ---- url-test ------------------------------------------------------------------------ */

static unsigned member_delay(const struct group_member *m)
{
	return m->checked && m->alive ? m->delay_ms : GROUP_NO_DELAY;
}

/* mihomo's fast(): the fastest alive member (the first as a start, alive
 * or not), adopted only if the one in use died or is slower by more than
 * the tolerance, so traffic does not flap between close members. */
static void urltest_update(struct group *g)
{
	size_t fast = 0;
	unsigned best;
	const struct group_member *cur;

	if (g->n == 0)
		return;
	best = member_delay(&g->m[0]);
	for (size_t j = 1; j < g->n; j++) {
		if (!g->m[j].alive)
			continue;
		if (member_delay(&g->m[j]) < best) {
			best = member_delay(&g->m[j]);
			fast = j;
		}
	}
	cur = g->fast < g->n ? &g->m[g->fast] : NULL;
	if (cur == NULL || !cur->alive || member_delay(cur) > best + g->tolerance_ms)
		g->fast = fast;
}

void group_table_inherit(struct group_table *t, const struct group_table *old)
{
	for (size_t i = 0; t && old && i < t->n; i++) {
		struct group *g = &t->g[i];
		int oi = group_table_find(old, g->name);
		const struct group *o;
		int k;

		if (oi < 0 || old->g[oi].type != g->type)
			continue;
		o = &old->g[oi];
		for (size_t j = 0; j < g->n; j++) {
			struct group_member *m = &g->m[j];

			k = member_find(o, m->name);
			if (k < 0)
				continue;
			m->checked = o->m[k].checked;
			m->alive = o->m[k].alive;
			m->delay_ms = o->m[k].delay_ms;
			m->checked_ms = o->m[k].checked_ms;
			memcpy(m->error, o->m[k].error, sizeof(m->error));
		}
		if (o->n > 0 && g->type == CONFIG_GROUP_SELECT &&
		    (k = member_find(g, o->m[o->selected].name)) >= 0)
			g->selected = (size_t)k;
		if (o->n > 0 && g->type == CONFIG_GROUP_URL_TEST &&
		    (k = member_find(g, o->m[o->fast].name)) >= 0)
			g->fast = (size_t)k;
		g->used_ms = o->used_ms;
		urltest_update(g);
	}
}

/* ---- picking ------------------------------------------------------------------------- */

static int pick_rec(struct group_table *t, int target, const struct group_pick *p, bool touch,
		    size_t depth);

/* Whether member m can be taken under p's leaf filter. */
static bool member_ok(struct group_table *t, const struct group_member *m,
		      const struct group_pick *p, size_t depth)
{
	if (p->leaf_ok == NULL)
		return true;
	return pick_rec(t, m->target, p, false, depth + 1) >= 0;
}

static int first_ok(struct group_table *t, const struct group *g, const struct group_pick *p,
		    size_t depth, bool alive_only)
{
	for (size_t j = 0; j < g->n; j++)
		if ((!alive_only || g->m[j].alive) && member_ok(t, &g->m[j], p, depth))
			return (int)j;
	return -ENOENT;
}

/* The part of a name that identifies its owner: its registrable domain
 * by the public-suffix list (libpsl's built-in copy), as mihomo keys on
 * eTLD+1, so a site's names stay on one member; the address when there is
 * no name. buf holds the lower-cased name. */
static void lb_key(const struct group_pick *p, char *buf, size_t cap, const void **key, size_t *len)
{
	const char *reg;
	size_t n = 0;

	if (p->domain == NULL || p->domain[0] == '\0') {
		*key = p->addr;
		*len = p->addr ? p->addr_len : 0;
		return;
	}
	for (const char *c = p->domain; *c && n < cap - 1; c++)
		buf[n++] = (char)tolower((unsigned char)*c);
	if (n > 0 && buf[n - 1] == '.')
		n--;
	buf[n] = '\0';
	reg = psl_registrable_domain(psl_builtin(), buf);
	*key = reg ? reg : buf;
	*len = strlen(*key);
}

/* Lamping and Veach's jump consistent hash: key -> [0, buckets). */
static size_t jump_hash(uint64_t key, size_t buckets)
{
	int64_t b = -1, j = 0;

	while (j < (int64_t)buckets) {
		b = j;
		key = key * 2862933555777941757ULL + 1;
		j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
	}
	return (size_t)b;
}

static int lb_choose(struct group_table *t, struct group *g, const struct group_pick *p,
		     size_t depth)
{
	if (g->strategy == CONFIG_LB_ROUND_ROBIN) {
		for (size_t i = 0; i < g->n; i++) {
			size_t j = (g->rr + i) % g->n;

			if (g->m[j].alive && member_ok(t, &g->m[j], p, depth)) {
				g->rr = j + 1;
				return (int)j;
			}
		}
	} else {
		char name[256];
		const void *key;
		size_t len;
		uint64_t h;

		lb_key(p, name, sizeof(name), &key, &len);
		h = hash_fnv1a(key, len, HASH_FNV1A_BASIS);
		h = h << 32 | hash_fnv1a(key, len, HASH_FNV1A_BASIS ^ 0x5bd1e995u);
		for (int i = 0; i < GROUP_LB_RETRIES; i++, h++) {
			size_t j = jump_hash(h, g->n);

			if (g->m[j].alive && member_ok(t, &g->m[j], p, depth))
				return (int)j;
		}
		int j = first_ok(t, g, p, depth, true);

		if (j >= 0)
			return j;
	}
	return first_ok(t, g, p, depth, false);
}

static int group_choose(struct group_table *t, struct group *g, const struct group_pick *p,
			size_t depth)
{
	int j;

	if (g->n == 0)
		return -ENOENT;
	switch (g->type) {
	case CONFIG_GROUP_URL_TEST:
		if (member_ok(t, &g->m[g->fast], p, depth))
			return (int)g->fast;
		j = first_ok(t, g, p, depth, true);
		return j >= 0 ? j : first_ok(t, g, p, depth, false);
	case CONFIG_GROUP_FALLBACK:
		j = first_ok(t, g, p, depth, true);
		return j >= 0 ? j : first_ok(t, g, p, depth, false);
	case CONFIG_GROUP_LOAD_BALANCE:
		return lb_choose(t, g, p, depth);
	case CONFIG_GROUP_SELECT:
	case CONFIG_GROUP_RELAY:
	default:
		if (member_ok(t, &g->m[g->selected], p, depth))
			return (int)g->selected;
		return first_ok(t, g, p, depth, false);
	}
}

static int pick_rec(struct group_table *t, int target, const struct group_pick *p, bool touch,
		    size_t depth)
{
	struct group *g;
	int j;

	/* The loader refuses cycles; the depth bound is belt and braces. */
	if (depth > t->n)
		return -ELOOP;
	if (target < t->base)
		return p->leaf_ok == NULL || p->leaf_ok(p->leaf_arg, target) ? target : -ENOENT;
	if ((size_t)(target - t->base) >= t->n)
		return -ENOENT;
	g = &t->g[target - t->base];
	if (p->udp && (g->disable_udp || (g->type == CONFIG_GROUP_RELAY && g->n > 1)))
		return -EPERM;
	if (touch && p->now_ms)
		g->used_ms = p->now_ms;
	if (!touch && g->type == CONFIG_GROUP_LOAD_BALANCE &&
	    g->strategy == CONFIG_LB_ROUND_ROBIN) {
		/* A peek must not move the cursor. */
		size_t rr = g->rr;

		j = lb_choose(t, g, p, depth);
		g->rr = rr;
	} else {
		j = group_choose(t, g, p, depth);
	}
	if (j < 0)
		return j;
	return pick_rec(t, g->m[j].target, p, touch, depth + 1);
}

int group_table_pick(struct group_table *t, int target, const struct group_pick *p)
{
	if (t == NULL)
		return target;
	return pick_rec(t, target, p, !p->peek, 0);
}

static bool always_rec(const struct group_table *t, int target,
		       bool (*leaf_ok)(void *arg, int leaf), void *arg, size_t depth)
{
	const struct group *g;

	if (target < t->base)
		return leaf_ok(arg, target);
	if ((size_t)(target - t->base) >= t->n || depth > t->n)
		return false;
	g = &t->g[target - t->base];
	if (g->disable_udp || (g->type == CONFIG_GROUP_RELAY && g->n > 1))
		return false; /* a chain carries no UDP (docs/design.md §18) */
	/* An empty group routes DIRECT. */
	if (g->n == 0)
		return true;
	for (size_t j = 0; j < g->n; j++)
		if (!always_rec(t, g->m[j].target, leaf_ok, arg, depth + 1))
			return false;
	return true;
}

bool group_table_always(const struct group_table *t, int target,
			bool (*leaf_ok)(void *arg, int leaf), void *arg)
{
	if (t == NULL)
		return leaf_ok(arg, target);
	return always_rec(t, target, leaf_ok, arg, 0);
}

size_t group_table_path(struct group_table *t, int target, const struct group_pick *p,
			size_t *groups, size_t cap)
{
	size_t n = 0;

	for (size_t depth = 0; t && target >= t->base && (size_t)(target - t->base) < t->n &&
			       depth <= t->n && n < cap;
	     depth++) {
		struct group *g = &t->g[target - t->base];
		size_t rr = g->rr; /* a peek: the cursor stays */
		int j;

		groups[n++] = (size_t)(target - t->base);
		j = group_choose(t, g, p, depth);
		g->rr = rr;
		if (j < 0)
			break;
		target = g->m[j].target;
	}
	return n;
}

int group_table_chain(struct group_table *t, int target, const struct group_pick *p, int *leaves,
		      size_t cap)
{
	struct group *g;
	size_t n = 0;

	if (t == NULL || target < t->base || (size_t)(target - t->base) >= t->n)
		return -ENOENT;
	g = &t->g[target - t->base];
	if (g->type != CONFIG_GROUP_RELAY)
		return -ENOENT;
	if (g->chain_broken)
		return -ENOTSUP;
	if (!p->peek && p->now_ms)
		g->used_ms = p->now_ms;
	for (size_t j = 0; j < g->n; j++) {
		int leaf = pick_rec(t, g->m[j].target, p, !p->peek, 1);

		if (leaf == -ENOENT)
			continue; /* an empty group: mihomo's COMPATIBLE, left out */
		if (leaf < 0)
			return leaf;
		if (n == cap)
			return -E2BIG;
		leaves[n++] = leaf;
	}
	return (int)n;
}

const char *group_table_target_name(const struct group_table *t, int target)
{
	if (t == NULL || target < t->base || (size_t)(target - t->base) >= t->n)
		return NULL;
	return t->g[target - t->base].name;
}

int group_table_select(struct group_table *t, const char *group, const char *member)
{
	int gi = group_table_find(t, group), k;

	if (gi < 0)
		return -ENOENT;
	if (t->g[gi].type != CONFIG_GROUP_SELECT)
		return -EPERM;
	k = member_find(&t->g[gi], member);
	if (k < 0)
		return -ENOENT;
	t->g[gi].selected = (size_t)k;
	return 0;
}

void group_table_report(struct group_table *t, size_t g, size_t m, bool alive, unsigned delay_ms,
			const char *error, uint64_t now_ms)
{
	struct group_member *mb;

	if (t == NULL || g >= t->n || m >= t->g[g].n)
		return;
	mb = &t->g[g].m[m];
	mb->checked = true;
	mb->alive = alive;
	mb->delay_ms = alive ? delay_ms : GROUP_NO_DELAY;
	mb->checked_ms = now_ms;
	snprintf(mb->error, sizeof(mb->error), "%s", alive || error == NULL ? "" : error);
	if (t->g[g].type == CONFIG_GROUP_URL_TEST)
		urltest_update(&t->g[g]);
}

int group_table_info(const struct group_table *t, size_t g, struct group_info *out)
{
	const struct group *gr;

	memset(out, 0, sizeof(*out));
	if (t == NULL || g >= t->n)
		return -ENOENT;
	gr = &t->g[g];
	out->name = gr->name;
	out->type = gr->type;
	out->strategy = gr->strategy;
	out->n_members = gr->n;
	out->url = gr->url;
	out->interval_s = gr->interval_s;
	out->timeout_ms = gr->timeout_ms;
	out->lazy = gr->lazy;
	out->used_ms = gr->used_ms;
	switch (gr->type) {
	case CONFIG_GROUP_URL_TEST:
		out->now = gr->fast;
		break;
	case CONFIG_GROUP_FALLBACK:
	case CONFIG_GROUP_LOAD_BALANCE:
		out->now = 0;
		for (size_t j = 0; j < gr->n; j++)
			if (gr->m[j].alive) {
				out->now = j;
				break;
			}
		break;
	default:
		out->now = gr->selected;
	}
	return 0;
}

int group_table_member(const struct group_table *t, size_t g, size_t m,
		       struct group_member_info *out)
{
	const struct group_member *mb;

	memset(out, 0, sizeof(*out));
	if (t == NULL || g >= t->n || m >= t->g[g].n)
		return -ENOENT;
	mb = &t->g[g].m[m];
	out->name = mb->name;
	out->target = mb->target;
	out->checked = mb->checked;
	out->alive = mb->alive;
	out->delay_ms = mb->checked && mb->alive ? mb->delay_ms : 0;
	out->checked_ms = mb->checked_ms;
	out->error = mb->error;
	return 0;
}

bool group_table_status_ok(const struct group_table *t, size_t g, long code)
{
	const struct group *gr;

	if (t == NULL || g >= t->n)
		return true;
	gr = &t->g[g];
	if (gr->n_expected == 0)
		return true;
	for (size_t i = 0; i < gr->n_expected; i++)
		if (code >= gr->expected_lo[i] && code <= gr->expected_hi[i])
			return true;
	return false;
}

bool group_table_dial(struct group_table *t, size_t gi, int status, uint64_t now_ms)
{
	struct group *g;

	if (gi >= t->n)
		return false;
	g = &t->g[gi];
	if (g->interval_s == 0)
		return false; /* select, relay: mihomo counts none */
	if (status == 0) {
		g->failed = 0;
		return false;
	}
	if (status == -ECONNREFUSED) {
		g->failed = 0;
		return true;
	}
	/* mihomo's onDialFailed: the first failure opens a window of
	 * `timeout`; a failure after it closes the window and counts
	 * nothing (the next one opens a new one). */
	if (++g->failed == 1) {
		g->failed_ms = now_ms;
		return false;
	}
	if (now_ms - g->failed_ms > g->timeout_ms) {
		g->failed = 0;
		return false;
	}
	if (g->failed < g->max_failed)
		return false;
	g->failed = 0;
	return true;
}
