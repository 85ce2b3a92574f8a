/* router: turns the config (upstreams, groups, rules, rule sets) into
 * route decisions for flows (route.h).
 *
 * A struct router_gen is one generation: the upstreams with their resolved
 * addresses, the compiled rule engine and the target table. It is
 * immutable and refcounted; every flow holds the generation it was routed
 * by (route.hold), so a SIGHUP reload swaps in a new generation while live
 * flows keep theirs. A struct router_ctx is the live router: the current
 * generation plus what decisions need at run time (the resolver for IP
 * rules on names, the process lookup).
 */
#ifndef T2S_ROUTER_H
#define T2S_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/route/route.h"
#include "tun2socks/route/router_gen.h"
#include "tun2socks/base/must_check.h"

struct resolver;
struct proc_lookup;
struct router_ctx;
struct group_table;

T2S_MUST_CHECK int router_ctx_create(struct router_gen *first, struct resolver *resolver,
				     struct proc_lookup *procs, struct router_ctx **out);
/* Routes new flows by next (the context takes the reference). */
void router_ctx_swap(struct router_ctx *rc, struct router_gen *next);
size_t router_ctx_rule_count(const struct router_ctx *rc);

/* Clash's modes: rules (the default), everything to one proxy, or
 * everything DIRECT. For new flows; live ones keep their route. */
enum router_mode { ROUTER_MODE_RULE, ROUTER_MODE_GLOBAL, ROUTER_MODE_DIRECT };
void router_ctx_set_mode(struct router_ctx *rc, enum router_mode mode);
enum router_mode router_ctx_mode(const struct router_ctx *rc);
/* The generation new flows are routed by (borrowed: valid until the next
 * swap). */
const struct router_gen *router_ctx_current(const struct router_ctx *rc);
/* The current generation's proxy groups (route/group.h): list them with
 * group_table_info()/group_table_member(). Valid until the next swap; a
 * swap carries selections and check results over by name. */
struct group_table *router_ctx_groups(struct router_ctx *rc);
/* Switches select group `group` to `member` for new flows (PUT
 * /proxies/{name}). 0, -ENOENT (no such group or member), -EPERM (not a
 * select group). ROUTER_GLOBAL, when the config has no group of that
 * name, is the built-in selector mode global routes by (DIRECT, REJECT,
 * a proxy or a group; kept by name across reloads). */
int router_ctx_select(struct router_ctx *rc, const char *group, const char *member);
#define ROUTER_GLOBAL "GLOBAL"
/* The member the built-in GLOBAL uses now (its selection, or the default:
 * --proxy, shown as "proxy", else the first proxy, else DIRECT); NULL when
 * the config has a group called GLOBAL (it answers for itself).
 * *selected (may be NULL): it is a selection, not the default. */
const char *router_ctx_global(const struct router_ctx *rc, bool *selected);
/* Called when flows through group `name` failed max-failed-times (or
 * were refused): the daemon checks the group now (health.h). */
typedef void (*router_check_fn)(void *arg, const char *name);
void router_ctx_set_check(struct router_ctx *rc, router_check_fn fn, void *arg);
/* The interface flows use. */
struct route_ops router_ctx_ops(struct router_ctx *rc);
/* hosts: (docs/design.md §23): a flow whose name is in the table gets its
 * addresses before the rules, as mihomo fills them (IP rules, no-resolve
 * ones too, see them; nothing is resolved). NULL: none. Must outlive rc. */
struct dns_hosts;
void router_ctx_set_hosts(struct router_ctx *rc, const struct dns_hosts *hosts);
void router_ctx_destroy(struct router_ctx *rc);

/* `tun2socks match`: decides q with g alone, synchronously. Addresses for
 * IP rules come from resolve (getaddrinfo-like, may be NULL: nothing
 * resolves); the process from proc_name/proc_path (NULL: unknown). out's
 * hold is a reference on g (router_gen_unref it). 0 or -errno. */
typedef int (*router_resolve_fn)(const char *name, struct sockaddr_storage *addrs, size_t max);
int router_explain(struct router_gen *g, const struct route_query *q, const char *proc_name,
		   const char *proc_path, router_resolve_fn resolve, struct route *out);

#endif
