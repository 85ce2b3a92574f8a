/* dns_dot: DNS over TLS (dns_dot.h): an upstream_cfg for the server with
 * TLS and the upstream_plain connector, and dns_socks over it. */
#include "resolver/dns_dot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dns_socks.h"
#include "tun2socks/upstream/tls.h"
#include "tun2socks/upstream/upstream.h"

struct dns_dot {
	struct upstream_cfg up;
	struct dns_socks *ds;
	char desc[1400];
};

int dns_dot_create(uv_loop_t *loop, const struct sock_opts *sock, const char *server,
		   const char *ca_file, unsigned timeout_ms, struct dns_dot **out, char *err,
		   size_t errlen)
{
	struct upstream_spec spec = {
		.proto = &upstream_plain, .port = 853, .tls = true, .resolve = true
	};
	char host[300], *colon;
	struct sockaddr_storage ss;
	struct dns_dot *d;
	int r;

	*out = NULL;
	if (snprintf(host, sizeof(host), "%s", server) >= (int)sizeof(host)) {
		snprintf(err, errlen, "tls://%s: name too long", server);
		return -EINVAL;
	}
	if (host[0] == '[') { /* [v6] or [v6]:port */
		char *rb = strchr(host, ']');

		if (rb == NULL) {
			snprintf(err, errlen, "tls://%s: expected [IPv6]:PORT", server);
			return -EINVAL;
		}
		*rb = '\0';
		if (rb[1] == ':')
			spec.port = (uint16_t)strtoul(rb + 2, NULL, 10);
		memmove(host, host + 1, strlen(host + 1) + 1);
	} else if ((colon = strchr(host, ':')) != NULL) {
		spec.port = (uint16_t)strtoul(colon + 1, NULL, 10);
		*colon = '\0';
	}
	if (host[0] == '\0' || spec.port == 0) {
		snprintf(err, errlen, "tls://%s: expected HOST[:PORT]", server);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	spec.host = host;
	spec.ca_file = ca_file && ca_file[0] ? ca_file : NULL;
	r = upstream_cfg_init(&d->up, &spec, err, errlen);
	if (r == 0) {
		ss = d->up.server;
		r = dns_socks_create(loop, &d->up, sock, &ss, timeout_ms, &d->ds);
		if (r < 0)
			snprintf(err, errlen, "%s", strerror(-r));
	}
	if (r < 0) {
		dns_dot_destroy(d);
		return r;
	}
	snprintf(d->desc, sizeof(d->desc), "%s (%s)", d->up.server_str,
		 tls_cfg_ca_path(d->up.tls_ctx));
	*out = d;
	return 0;
}

int dns_dot_send(void *dot, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_dot *d = dot;

	return dns_socks_send(d->ds, query, cb, arg);
}

const char *dns_dot_describe(const struct dns_dot *d)
{
	return d->desc;
}

void dns_dot_shutdown(struct dns_dot *d)
{
	if (d != NULL)
		dns_socks_shutdown(d->ds);
}

void dns_dot_destroy(struct dns_dot *d)
{
	if (d == NULL)
		return;
	dns_socks_destroy(d->ds);
	upstream_cfg_free(&d->up);
	free(d);
}
