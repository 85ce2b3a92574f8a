/* rule: the compiled rule engine. Picks the first rule of a Clash
 * (mihomo) rules list that matches a flow.
 *
 * Built once from the parsed rules (config/rule_spec.h) and the loaded rule
 * sets (ruleset.h), then immutable: a reload builds a new engine while
 * flows still hold the old one. The refcount is a plain int: take and drop
 * references on the loop thread only.
 *
 * Semantics (mihomo's), in rule order, the first rule that matches wins:
 *  - Domain rules test the flow's domain (lower-cased, one trailing dot
 *    dropped; a malformed name, e.g. with an empty label or over 253
 *    bytes, counts as no domain). DOMAIN-SUFFIX,x matches x and names
 *    ending in ".x"; DOMAIN-KEYWORD a substring; DOMAIN-REGEX a PCRE2
 *    search (config/rule_regex.h); DOMAIN-WILDCARD a glob over the name;
 *    GEOSITE a list of GeoSite.dat (route/geo.h) as a domain set.
 *  - PASS targets and SUB-RULE lines: docs/design.md §16.
 *  - IP rules (IP-CIDR*, ipcidr sets, IP entries of classical sets) test
 *    the destination address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 *    are tested as IPv4, in queries only. A flow with neither address nor
 *    domain has nothing to test: IP rules fail.
 *  - Resolution: for a flow with a domain but no address (fake-ip), an IP
 *    rule without no-resolve needs the domain's addresses. The first rule
 *    (in order) that needs them is the resolution point: rules before it
 *    see no address (their no-resolve IP tests fail), the rule at that
 *    point and all after it see the resolved list (an IP test matches if
 *    any address in the list does; an empty list, i.e. failed resolution,
 *    matches nothing). A rule needs them when its verdict is decided by
 *    reaching such a test: a top-level IP-CIDR; a RULE-SET (without
 *    no-resolve) none of whose other entries matches and that holds such
 *    an entry; AND/OR/NOT evaluated left to right with short-circuit (as
 *    mihomo does), reaching such an operand.
 *    Since resolution is asynchronous, rule_match() then returns
 *    RULE_NEED_RESOLVE and the caller runs it again with the addresses in
 *    query.resolved. It never does so when an earlier rule already wins.
 *  - A RULE-SET matches when any of its entries does; no-resolve on the
 *    RULE-SET line applies to every entry.
 *  - PROCESS-NAME / PROCESS-PATH (ASCII case-insensitive, as mihomo's
 *    EqualFold) and UID need the owning process, which costs the caller a
 *    lookup: the engine asks query.proc_fn once per query, and only when it
 *    reaches such a test in a rule that could still win. Unknown process
 *    information fails those tests.
 *  - SRC-IP-CIDR / SRC-PORT test the flow's source; DST-PORT its
 *    destination port; NETWORK its protocol; MATCH always matches.
 *  - No rule matches (no MATCH, or it was unreachable): RULE_DEFAULT with
 *    the default target given at build time.
 *
 * Compiled: the winner is the minimum index among rules whose predicate
 * holds, so each kind of test lives in an index that yields its minimum
 * matching rule index (domains in a label trie, addresses in path-
 * compressed binary tries, ports as sorted segments, networks as two
 * numbers); keyword, regex, process and AND/OR/NOT rules are evaluated in
 * order, only while their index is below the best found so far.
 */
#ifndef T2S_RULE_H
#define T2S_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf_err.h"
#include "config/rule_spec.h"
#include "config/ruleset.h"

struct rule_engine;

/* family 0: none; 4: bytes[0..3]; 6: bytes[0..15]. Network order. */
struct rule_addr {
	uint8_t family;
	uint8_t bytes[16];
};

/* The process owning a flow, as the lookup callback fills it. Strings are
 * borrowed from the callback's owner and must outlive the query; NULL or
 * has_uid false: unknown. */
struct rule_proc {
	const char *name;
	const char *path;
	uint32_t uid;
	bool has_uid;
};

struct rule_query;
/* Fills *out (cleared before the call). Its return value is ignored: on
 * failure leave *out cleared. */
typedef void (*rule_proc_fn)(void *arg, const struct rule_query *q, struct rule_proc *out);

/* Zero it, fill what is known, and keep it for the re-run after
 * RULE_NEED_RESOLVE: the process cache (proc_done, proc) travels with it,
 * so the lookup happens at most once per query. */
#define RULE_IN_TYPE_TUN "TUN"
#define RULE_IN_NAME_TUN "DEFAULT-TUN"

struct rule_query {
	enum rule_net network;
	const char *domain;   /* NULL: none */
	struct rule_addr dst; /* family 0 for a fake-ip flow */
	uint16_t dst_port;
	struct rule_addr src;
	uint16_t src_port;
	uint16_t in_port; /* IN-PORT: the inbound's port; 0 for the TUN */
	uint8_t dscp;     /* DSCP: 0 for the TUN, as mihomo (tproxy UDP only) */
	/* IN-TYPE, IN-USER, IN-NAME (docs/design.md §16): the inbound's type,
	 * user and name. NULL: the TUN, which is mihomo's "TUN" inbound named
	 * "DEFAULT-TUN" (the top-level tun: section) and has no user. */
	const char *in_type;
	const char *in_user;
	const char *in_name;
	/* The domain's addresses, after RULE_NEED_RESOLVE. */
	bool has_resolved;
	const struct rule_addr *resolved;
	size_t n_resolved;
	/* For targets the build's maybe_pass_fn named: whether target is a
	 * pass now (the group picks PASS); the rule is then skipped. NULL:
	 * never. */
	bool (*pass_now)(void *arg, int target);
	void *pass_arg;
	/* Process lookup; proc_fn NULL: always unknown. */
	rule_proc_fn proc_fn;
	void *proc_arg;
	bool proc_done; /* written by rule_match */
	struct rule_proc proc;
};

enum rule_verdict {
	RULE_MATCHED = 0,  /* result: the winning rule */
	RULE_DEFAULT,      /* nothing matched: result.target is the default */
	RULE_NEED_RESOLVE, /* result.rule: the rule that needs the addresses */
};

struct rule_result {
	uint32_t rule;       /* index in the list given to the build; UINT32_MAX
			      * for RULE_DEFAULT */
	int target;          /* target id; the default for RULE_DEFAULT */
	const char *text;    /* the rule as written (engine-owned); NULL for
			      * RULE_DEFAULT */
	struct conf_pos pos; /* where it was written (file engine-owned) */
};

/* Target name -> small id (>= 0), or < 0 if unknown. */
typedef int (*rule_target_fn)(void *arg, const char *name);
/* Rule-set name -> loaded set, or NULL if unknown. */
typedef const struct ruleset *(*rule_set_fn)(void *arg, const char *name);

struct geo;

struct rule_build_opts {
	rule_target_fn target_fn;
	void *target_arg;
	rule_set_fn set_fn;
	void *set_arg;
	int default_target; /* when no rule matches */
	/* GEOIP, IP-ASN, GEOSITE data (tun2socks/route/geo.h); NULL: such
	 * rules fail the build (except GEOIP,lan). It must outlive the
	 * engine. */
	struct geo *geo;
	/* Whether a target (of target_fn) is a pass: a rule naming it never
	 * wins, the next rule decides (mihomo's PASS; and for UDP, proxies
	 * that cannot carry UDP), though reaching it may still need the
	 * addresses (the resolution point). NULL: none is. */
	bool (*pass_fn)(void *target_arg, int target);
	/* Whether a target may be a pass at match time (a proxy group with a
	 * PASS member, docs/design.md §18): rules naming it ask the query's
	 * pass_now() when they hold. NULL: none may. */
	bool (*maybe_pass_fn)(void *target_arg, int target);
	/* The rules of sub-rules list name (SUB-RULE lines), parsed with
	 * targets, into *specs (borrowed for the build); 0 or -ENOENT. NULL:
	 * no list exists. */
	int (*sub_fn)(void *set_arg, const char *name, const struct rule_spec **specs, size_t *n);
};

/* Compiles specs[0, n) (each with a target) in order. Unknown targets and
 * rule sets fail the build at the rule's position ("unknown target 'Foo'",
 * "unknown rule-set 'x'"). The engine copies what it keeps: specs and sets
 * may be freed afterwards. *out is cleared first; on success it holds one
 * reference. 0, -EINVAL (err filled) or -ENOMEM. */
int rule_engine_build(const struct rule_spec *specs, size_t n, const struct rule_build_opts *opts,
		      struct rule_engine **out, struct conf_err *err);

struct rule_engine *rule_engine_ref(struct rule_engine *e);
/* Frees the engine with its last reference. NULL is a no-op. */
void rule_engine_unref(struct rule_engine *e);

size_t rule_engine_count(const struct rule_engine *e);

/* Decides q (see the semantics above). Writes only q->proc_done and
 * q->proc. Returns an enum rule_verdict and fills *out. */
int rule_match(const struct rule_engine *e, struct rule_query *q, struct rule_result *out);

#endif
