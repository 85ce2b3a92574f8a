/* dns_dot: a DNS forwarder over TLS (RFC 7858; docs/design.md §21): the
 * server reached directly with TLS (its certificate and name checked) and
 * no proxy handshake, one kept connection with queries pipelined by ID
 * (dns_pipe). It
 * implements struct dns_forwarder (dns_dot_send has resolver_send()'s
 * contract).
 */
#ifndef T2S_DNS_DOT_H
#define T2S_DNS_DOT_H

#include <stddef.h>

#include <uv.h>

#include "resolver/resolver.h"
#include "tun2socks/base/must_check.h"

struct dns_dot;
struct sock_opts;

/* server: "HOST", "HOST:PORT", "[IPv6]:PORT" (tls:// already dropped;
 * port 853 by default); a host name is resolved now (blocking: at start)
 * or, with boot (default-nameserver's resolver; the forwarder may be
 * destroyed before it), looked up through boot on the loop, sends
 * failing (SERVFAIL) until it answered. ca_file NULL for the system's
 * CAs. sock must outlive the forwarder.
 * 0, or -errno with the reason in err. */
T2S_MUST_CHECK int dns_dot_create(uv_loop_t *loop, const struct sock_opts *sock, const char *server,
				  const char *ca_file, unsigned timeout_ms, struct resolver *boot,
				  struct dns_dot **out, char *err, size_t errlen);
T2S_MUST_CHECK int dns_dot_send(void *dot, const struct ares_dns_record *query, resolver_cb cb,
				void *arg);
/* "ADDR:PORT (CA bundle)" for logs. */
const char *dns_dot_describe(const struct dns_dot *d);
void dns_dot_shutdown(struct dns_dot *d);
void dns_dot_destroy(struct dns_dot *d);

#endif
