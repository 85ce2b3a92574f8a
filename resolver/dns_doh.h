/* dns_doh: a DNS forwarder over HTTPS (RFC 8484; docs/design.md §21).
 *
 * Each query is POSTed as application/dns-message to the server's URL
 * through http_client (libcurl on the loop: HTTP/2 by ALPN where the
 * server offers it, HTTP/1.1 otherwise, connections reused between
 * queries), and the body of a 200 answer is the reply. Certificates are
 * checked against ca_file or the system's CAs. It implements struct
 * dns_forwarder: dns_doh_send has resolver_send()'s contract (on 0 the
 * callback runs exactly once, later, from the loop).
 */
#ifndef T2S_DNS_DOH_H
#define T2S_DNS_DOH_H

#include <uv.h>

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

struct dns_doh;
struct sock_opts;

/* url: https://HOST[:PORT]/PATH (a #fragment, mihomo's options, is
 * dropped); ca_file NULL for the system's; timeout_ms per query; boot:
 * default-nameserver's resolver for the server's name (looked up on the
 * loop, sends failing until it answered), NULL: the system's, now. 0,
 * -EINVAL (not an https:// URL), -ENOMEM. */
T2S_MUST_CHECK int dns_doh_create(uv_loop_t *loop, const struct sock_opts *so, const char *url,
				  const char *ca_file, unsigned timeout_ms, struct resolver *boot,
				  struct dns_doh **out);
T2S_MUST_CHECK int dns_doh_send(void *doh, const struct ares_dns_record *query, resolver_cb cb,
				void *arg);
/* Completes every query with -ECANCELED, closes the client's handles. */
void dns_doh_shutdown(struct dns_doh *d);
void dns_doh_destroy(struct dns_doh *d);

#endif
