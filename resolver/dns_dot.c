/* dns_dot: DNS over TLS (dns_dot.h): an upstream_cfg for the server with
 * TLS and the upstream_plain connector, and dns_pipe over it (one kept
 * connection, queries pipelined). */
#include "resolver/dns_dot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "resolver/dns_boot.h"
#include "resolver/dns_pipe.h"
#include "tun2socks/base/log.h"
#include "tun2socks/upstream/tls.h"
#include "tun2socks/upstream/upstream.h"

struct dns_dot {
	struct upstream_cfg up;
	struct dns_pipe *ds; /* NULL until the server's address is known */
	uv_loop_t *loop;
	const struct sock_opts *sock;
	unsigned timeout_ms;
	uint16_t port;
	struct dns_boot *boot; /* the name's lookup through default-nameserver */
	int boot_err;          /* it failed: sends fail with this */
	char desc[1400];
};

static int dot_connect(struct dns_dot *d)
{
	struct sockaddr_storage ss = d->up.server;
	int r = dns_pipe_create(d->loop, &d->up, d->sock, &ss, d->timeout_ms, &d->ds);

	snprintf(d->desc, sizeof(d->desc), "%s (%s)", d->up.server_str,
		 tls_cfg_ca_path(d->up.tls_ctx));
	return r;
}

/* default-nameserver answered for the server's name (§24). */
static void dot_booted(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	struct dns_dot *d = arg;
	int r = status;

	d->boot = NULL;
	if (r == 0 && n > 0) {
		d->up.server = addrs[0];
		if (addrs[0].ss_family == AF_INET) {
			((struct sockaddr_in *)&d->up.server)->sin_port = htons(d->port);
			d->up.server_len = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&d->up.server)->sin6_port = htons(d->port);
			d->up.server_len = sizeof(struct sockaddr_in6);
		}
		r = dot_connect(d);
	} else if (r == 0) {
		r = -ENOENT;
	}
	if (r < 0) {
		d->boot_err = -EHOSTUNREACH;
		if (r != -ECANCELED)
			log_error("dns: tls://%s: cannot resolve it through default-nameserver: %s",
				  d->up.server_str, strerror(-r));
		return;
	}
	log_info("dns: DNS over TLS to %s (its name through default-nameserver)", d->desc);
}

int dns_dot_create(uv_loop_t *loop, const struct sock_opts *sock, const char *server,
		   const char *ca_file, unsigned timeout_ms, struct resolver *boot,
		   struct dns_dot **out, char *err, size_t errlen)
{
	struct upstream_spec spec = {
		.proto = &upstream_plain, .port = 853, .tls = true, .resolve = true
	};
	char host[300], *colon;
	struct dns_dot *d;
	uint8_t tmp[16];
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
	d->loop = loop;
	d->sock = sock;
	d->timeout_ms = timeout_ms;
	d->port = spec.port;
	spec.host = host;
	spec.ca_file = ca_file && ca_file[0] ? ca_file : NULL;
	/* A name with default-nameserver: looked up on the loop (§24). */
	if (boot != NULL && inet_pton(AF_INET, host, tmp) != 1 &&
	    inet_pton(AF_INET6, host, tmp) != 1)
		spec.resolve = false;
	r = upstream_cfg_init(&d->up, &spec, err, errlen);
	if (r == 0 && spec.resolve) {
		r = dot_connect(d);
		if (r < 0)
			snprintf(err, errlen, "%s", strerror(-r));
	} else if (r == 0) {
		snprintf(d->desc, sizeof(d->desc), "%s (%s; resolving through default-nameserver)",
			 d->up.server_str, tls_cfg_ca_path(d->up.tls_ctx));
		r = dns_boot_start(boot, host, dot_booted, d, &d->boot);
		if (r < 0)
			snprintf(err, errlen, "cannot look up %s: %s", host, strerror(-r));
	}
	if (r < 0) {
		dns_dot_destroy(d);
		return r;
	}
	*out = d;
	return 0;
}

int dns_dot_send(void *dot, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_dot *d = dot;

	/* Before default-nameserver answered: SERVFAIL (§24). */
	if (d->ds == NULL)
		return d->boot_err ? d->boot_err : -ENOTCONN;
	return dns_pipe_send(d->ds, query, cb, arg);
}

const char *dns_dot_describe(const struct dns_dot *d)
{
	return d->desc;
}

void dns_dot_shutdown(struct dns_dot *d)
{
	if (d == NULL)
		return;
	dns_boot_cancel(d->boot);
	d->boot = NULL;
	if (d->boot_err == 0)
		d->boot_err = -ESHUTDOWN;
	dns_pipe_shutdown(d->ds);
}

void dns_dot_destroy(struct dns_dot *d)
{
	if (d == NULL)
		return;
	dns_boot_cancel(d->boot);
	dns_pipe_destroy(d->ds);
	upstream_cfg_free(&d->up);
	free(d);
}
