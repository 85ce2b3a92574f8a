/* upstream: building a struct upstream_cfg (see upstream.h), the same way
 * for --proxy URLs and for config proxies. */
#include "tun2socks/upstream/upstream.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "tun2socks/upstream/tls.h"

int upstream_cfg_init(struct upstream_cfg *u, const struct upstream_spec *s, char *err,
		      size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->proto = s->proto;
	/* "host:port" for logs, brackets around IPv6 literals. */
	snprintf(u->server_str, sizeof(u->server_str), strchr(s->host, ':') ? "[%s]:%u" : "%s:%u",
		 s->host, s->port);
	u->pipelining = s->pipelining == UPSTREAM_PIPELINING_ON;
	u->pipelining_auto =
		s->pipelining == UPSTREAM_PIPELINING_AUTO && s->proto == &upstream_socks5;
	if (s->user != NULL) {
		u->has_auth = true;
		snprintf(u->user, sizeof(u->user), "%s", s->user);
		snprintf(u->pass, sizeof(u->pass), "%s", s->pass ? s->pass : "");
	}
	if (s->tls) {
		struct tls_opts o = {
			.server_name = s->sni ? s->sni : s->host,
			.ca_file = s->ca_file,
			.skip_verify = s->skip_cert_verify,
		};

		u->tls = true;
		u->skip_cert_verify = s->skip_cert_verify;
		snprintf(u->sni, sizeof(u->sni), "%s", o.server_name);
		snprintf(u->ca_file, sizeof(u->ca_file), "%s", s->ca_file ? s->ca_file : "");
		if (tls_cfg_create(&o, &u->tls_ctx, err, errlen) < 0)
			return -EINVAL;
	}
	if (s->resolve) {
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
		struct addrinfo *res = NULL;
		char port[8];
		int r;

		snprintf(port, sizeof(port), "%u", s->port);
		r = getaddrinfo(s->host, port, &hints, &res);
		if (r != 0 || res == NULL) {
			snprintf(err, errlen, "cannot resolve '%s': %s", s->host,
				 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
			upstream_cfg_free(u);
			return -EHOSTUNREACH;
		}
		memcpy(&u->server, res->ai_addr, res->ai_addrlen);
		u->server_len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	return 0;
}

void upstream_cfg_free(struct upstream_cfg *u)
{
	tls_cfg_free(u->tls_ctx);
	u->tls_ctx = NULL;
}
