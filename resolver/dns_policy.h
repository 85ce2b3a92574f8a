/* dns_policy: which upstream answers a forwarded query (docs/design.md
 * §23), as mihomo's nameserver-policy and fallback choose:
 *
 *   1. the first nameserver-policy entry whose patterns match the name;
 *   2. a name matching fallback-filter.domain: the fallback servers;
 *   3. the main servers; with fallback and fallback-filter.ipcidr, an
 *      answer holding an address in those ranges (a poisoned answer) is
 *      asked again of the fallback servers, whose answer counts.
 *
 * Each entry and the fallback get a resolver of their own (a c-ares
 * channel, the daemon's socket options), or a DNS-over-TLS or -HTTPS
 * forwarder (dns_dot, dns_doh); the main one is the caller's.
 * dns_policy_send has resolver_send's contract and is a dns_forwarder.
 */
#ifndef T2S_DNS_POLICY_H
#define T2S_DNS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

struct dns_policy;
struct sockaddr;

struct dns_policy_entry {
	/* domain_match patterns, comma-separated; NULL: the entry's names
	 * are those dns_policy_lists.entry says (geosite:, rule-set:) */
	const char *patterns;
	/* comma-separated: resolver_config.servers entries (sharing one
	 * c-ares channel), "tls://HOST[:PORT]" (DNS over TLS) and
	 * "https://..." (DNS over HTTPS) servers; several of these are asked
	 * at once, the first good answer taken (dns_failover batch) */
	const char *servers;
};

struct dns_policy_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned prefix;
};

/* The keys that name geosite lists and rule-sets, answered by the rule
 * engine's side (the app's current generation); any may be NULL. */
struct dns_policy_lists {
	/* entry i (an entry with patterns NULL) holds name */
	bool (*entry)(void *arg, size_t i, const char *name);
	/* fallback-filter.geosite holds name: the fallback answers it */
	bool (*fallback_name)(void *arg, const char *name);
	/* fallback-filter.geoip: an answer's address (family AF_INET or
	 * AF_INET6) that sends the query to the fallback */
	bool (*fallback_ip)(void *arg, int family, const uint8_t *addr);
	bool has_fallback_ip; /* fallback_ip is configured */
	void *arg;
};

struct dns_policy_config {
	/* the main servers: a forwarder (resolver_send semantics), not owned */
	int (*main_send)(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg);
	void *main_ctx;
	struct resolver *own; /* the c-ares resolver for is_own, or NULL */
	const struct dns_policy_entry *entries;
	size_t n_entries;
	const char *fallback; /* servers, or NULL */
	const char *const *fallback_domains;
	size_t n_fallback_domains;
	const struct dns_policy_cidr *fallback_cidrs;
	size_t n_fallback_cidrs;
	struct sock_opts sock;
	const char *ca_file;   /* encrypted entries' CAs; NULL: the system's */
	unsigned timeout_ms;   /* encrypted entries, per query */
	struct resolver *boot; /* encrypted entries' names (default-nameserver), or NULL */
	struct dns_policy_lists lists;
};

/* 0, -EINVAL (a bad pattern or server list, said in err), -ENOMEM. */
T2S_MUST_CHECK int dns_policy_create(uv_loop_t *loop, const struct dns_policy_config *cfg,
				     struct dns_policy **out, char *err, size_t errlen);

T2S_MUST_CHECK int dns_policy_send(void *policy, const struct ares_dns_record *query,
				   resolver_cb cb, void *arg);

/* resolver_is_own_query over every resolver of the policy and own. */
bool dns_policy_is_own(void *policy, const struct sockaddr *src, uint16_t id, const char *name,
		       uint16_t qtype);

/* Shuts down the policy's own resolvers (pending queries end with
 * -ECANCELED); destroy frees once their handles closed. */
void dns_policy_shutdown(struct dns_policy *p);
void dns_policy_destroy(struct dns_policy *p);

#endif
