/* group: proxy groups at run time (docs/design.md §18).
 *
 * A struct group_table belongs to one router generation and holds each
 * config group's members as target ids (the router's leaf ids below
 * `base`, other groups at base + their index) and what changes while it
 * runs: the member a select group is switched to, the last health check
 * of every member, the url-test's fastest member, the round-robin cursor
 * and when the group was last used. Flows ask group_table_pick() which leaf
 * a group stands for now; the health checker (health.h) reports through
 * group_table_report(); an API switches a select group with
 * group_table_select(). Everything runs on the loop thread.
 *
 * Picking follows mihomo: select -> the selected member; url-test -> the
 * fastest alive member, kept until another is faster by more than
 * `tolerance`; fallback -> the first alive member; load-balance ->
 * consistent-hashing (a jump hash of the destination's registrable
 * domain by the public-suffix list, or its address, over the members,
 * skipping dead ones) or
 * round-robin over the alive members. A member is alive until a check
 * fails; with none alive every type picks its first member.
 */
#ifndef T2S_GROUP_H
#define T2S_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "tun2socks/base/must_check.h"

struct group_table;

/* A config member -> its target id (leaf < base, group base + index), or
 * < 0 to leave the member out. */
typedef int (*group_target_fn)(void *arg, const struct config_member *m);

/* The table for cfg's groups (cfg may be NULL: none). Copies what it
 * keeps. *out cleared first; 0 or -errno. */
T2S_MUST_CHECK int group_table_build(const struct config *cfg, int base, group_target_fn target,
				     void *arg, struct group_table **out);
void group_table_free(struct group_table *t);

/* Keeps what the user and the checks decided across a reload: select
 * groups keep the member switched to, members keep their last check, both
 * matched by group and member name. */
void group_table_inherit(struct group_table *t, const struct group_table *old);

size_t group_table_count(const struct group_table *t);
/* The group's index, or -ENOENT. */
int group_table_find(const struct group_table *t, const char *name);

/* What a flow needs to pick: the load-balance key, the time (for lazy
 * checks) and, for UDP, which leaves can carry it. */
struct group_pick {
	const char *domain;                   /* or NULL */
	const uint8_t *addr;                  /* the destination address when no domain */
	size_t addr_len;                      /* 4 or 16 */
	uint64_t now_ms;                      /* marks the groups passed through as used */
	bool udp;                             /* a disable-udp group: -EPERM */
	bool peek;                            /* move no round-robin cursor (a health check) */
	bool (*leaf_ok)(void *arg, int leaf); /* NULL: every leaf */
	void *leaf_arg;
};

/* The leaf target that target (a leaf or a group) stands for now;
 * leaf_ok (if set) narrows every group to the members whose leaf it
 * accepts. Returns the leaf; -ENOENT when there is none (an empty group,
 * leaf_ok accepting none), -EPERM (udp through a disable-udp group). */
int group_table_pick(struct group_table *t, int target, const struct group_pick *p);
/* Whether every choice of members leads from target to a leaf leaf_ok
 * accepts, through no disable-udp group: rules naming a group that may
 * pick a leaf that cannot carry UDP are left out of the UDP rules. */
bool group_table_always(const struct group_table *t, int target,
			bool (*leaf_ok)(void *arg, int leaf), void *arg);
/* The groups from target down to the leaf they pick now, target first,
 * as indexes into groups[0..cap) (a peek: nothing moves). Returns how
 * many (0 when target is a leaf). */
size_t group_table_path(struct group_table *t, int target, const struct group_pick *p,
			size_t *groups, size_t cap);
/* A relay group's chain (mihomo's relay): each member, groups resolved
 * to the leaf they pick now, in order, into leaves[0..cap). Returns how
 * many; -ENOENT (target is not a relay group), -ENOTSUP (a member was of
 * a type we cannot speak: the chain cannot be built), -E2BIG (more than
 * cap). The caller leaves out DIRECT members, as mihomo does. */
int group_table_chain(struct group_table *t, int target, const struct group_pick *p, int *leaves,
		      size_t cap);
/* The group's name when target is a group, else NULL. */
const char *group_table_target_name(const struct group_table *t, int target);

/* Switches select group `group` to member `member`. 0, -ENOENT (no such
 * group or member) or -EPERM (the group is not a select group). */
int group_table_select(struct group_table *t, const char *group, const char *member);

/* A finished check of member m of group g: delay_ms, or dead (alive
 * false; error says why). Recomputes the group's pick. */
void group_table_report(struct group_table *t, size_t g, size_t m, bool alive, unsigned delay_ms,
			const char *error, uint64_t now_ms);

/* A connection through group g (the rule's target; a url-test, fallback
 * or load-balance group) to a proxy it picked: status 0 when it opened,
 * else -errno. Returns true when g should be checked now, as mihomo's
 * max-failed-times does (docs/design.md §18): at once on -ECONNREFUSED;
 * else when `max-failed-times` (default 5) failures came within `timeout`
 * of the first. A success clears the count. */
bool group_table_dial(struct group_table *t, size_t g, int status, uint64_t now_ms);

/* Whether a check's HTTP status counts as alive for group g
 * ("expected-status"; without one, any). */
bool group_table_status_ok(const struct group_table *t, size_t g, long code);

struct group_info {
	const char *name;
	enum config_group_type type;
	enum config_lb_strategy strategy;
	size_t n_members;
	size_t now;          /* the member picked now (load-balance: the
			      * first alive one) */
	const char *url;     /* health-check settings */
	unsigned interval_s; /* 0 for select: never checked */
	unsigned timeout_ms;
	bool lazy;
	uint64_t used_ms; /* last pick through it, 0 if never */
};

struct group_member_info {
	const char *name;
	int target;        /* leaf or group target id */
	bool checked;      /* a check finished */
	bool alive;        /* true until a check fails */
	unsigned delay_ms; /* of the last good check */
	uint64_t checked_ms;
	const char *error; /* of the last failed check, or "" */
};

/* 0 or -ENOENT (no such index). */
int group_table_info(const struct group_table *t, size_t g, struct group_info *out);
int group_table_member(const struct group_table *t, size_t g, size_t m,
		       struct group_member_info *out);

#endif
