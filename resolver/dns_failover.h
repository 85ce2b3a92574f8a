/* dns_failover: several DNS servers of one list (docs/design.md §24).
 *
 * In turn (dns_failover_create): a query goes to the server that answered
 * last; when it fails (timeout, refused certificate, closed connection)
 * it is asked of the next one, until each was tried once.
 *
 * At once (dns_failover_create_batch, mihomo's batchExchange): a query is
 * asked of every server together; the first answer that is neither an
 * error nor SERVFAIL/REFUSED is the answer, later ones are dropped; when
 * every server failed, the last SERVFAIL/REFUSED reply, else the last
 * error.
 *
 * It implements struct dns_forwarder (dns_failover_send has
 * resolver_send()'s contract).
 */
#ifndef T2S_DNS_FAILOVER_H
#define T2S_DNS_FAILOVER_H

#include <stddef.h>

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

enum { DNS_FAILOVER_MAX = 8 };

typedef int (*dns_failover_send_fn)(void *ctx, const struct ares_dns_record *query, resolver_cb cb,
				    void *arg);

struct dns_failover;

/* n (1..DNS_FAILOVER_MAX) forwarders, not owned: they outlive the
 * failover's queries (shut them down first: their -ECANCELED ends them).
 * 0, -EINVAL, -ENOMEM. */
T2S_MUST_CHECK int dns_failover_create(const dns_failover_send_fn *send, void *const *ctx, size_t n,
				       struct dns_failover **out);
/* The same servers asked at once (above). */
T2S_MUST_CHECK int dns_failover_create_batch(const dns_failover_send_fn *send, void *const *ctx,
					     size_t n, struct dns_failover **out);
T2S_MUST_CHECK int dns_failover_send(void *fo, const struct ares_dns_record *query, resolver_cb cb,
				     void *arg);
void dns_failover_destroy(struct dns_failover *fo);

#endif
