/* dns_doh: DNS over HTTPS (dns_doh.h). */
#include "resolver/dns_doh.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "resolver/dns_boot.h"
#include "tun2socks/base/log.h"
#include "tun2socks/upstream/http_client.h"

struct dns_doh {
	uv_loop_t *loop;
	struct http_client *http; /* NULL after shutdown */
	char *url;
	char *ca_file; /* or NULL */
	char *resolve; /* "HOST:PORT:ADDRS" pinned at start, or NULL */
	unsigned timeout_ms;
	uint64_t warned_at;    /* uv_now() of the last failure warning, 0: none */
	struct dns_boot *boot; /* the name's lookup through default-nameserver */
	int boot_err;          /* it failed: sends fail with this */
	char host[300], port[8];
};

/* Pins host:port to the addresses for curl (CURLOPT_RESOLVE). */
static int doh_pin_addrs(struct dns_doh *d, const struct sockaddr_storage *addrs, size_t n)
{
	char buf[1024];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "%s:%s:", d->host, d->port);

	for (size_t i = 0; i < n && off < sizeof(buf) - 64; i++) {
		char a[INET6_ADDRSTRLEN];
		int af = addrs[i].ss_family;
		const void *p =
			af == AF_INET
				? (const void *)&((const struct sockaddr_in *)&addrs[i])->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)&addrs[i])
					  ->sin6_addr;

		if ((af != AF_INET && af != AF_INET6) || inet_ntop(af, p, a, sizeof(a)) == NULL ||
		    strstr(buf, a) != NULL)
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s%s%s",
					buf[off - 1] == ':' ? "" : ",", af == AF_INET6 ? "[" : "",
					a, af == AF_INET6 ? "]" : "");
	}
	if (buf[off - 1] == ':')
		return -ENOENT;
	free(d->resolve);
	d->resolve = strdup(buf);
	if (d->resolve == NULL)
		return -ENOMEM;
	log_info("dns: %s: %s pinned to %s", d->url, d->host,
		 buf + strlen(d->host) + strlen(d->port) + 2);
	return 0;
}

/* default-nameserver answered for the server's name (§24). */
static void doh_booted(void *arg, int status, const struct sockaddr_storage *addrs, size_t n)
{
	struct dns_doh *d = arg;
	int r = status == 0 ? doh_pin_addrs(d, addrs, n) : status;

	d->boot = NULL;
	if (r < 0) {
		d->boot_err = -EHOSTUNREACH;
		if (r != -ECANCELED)
			log_error("dns: %s: cannot resolve %s through default-nameserver: %s",
				  d->url, d->host, strerror(-r));
	}
}

struct doh_req {
	struct dns_doh *d;
	resolver_cb cb;
	void *arg;
};

/* The server's name resolved once, now (at start, before auto-route
 * sends the machine's DNS into the TUN), and pinned for curl: a lookup
 * per connection would ask the system's resolver, which may be us (a
 * loop). With boot (default-nameserver, as mihomo) it is looked up there
 * on the loop instead, and sends fail until it answered (§24). An IP
 * literal needs nothing. 0, -EHOSTUNREACH, -ENOMEM. */
static int doh_pin(struct dns_doh *d, struct resolver *boot)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct sockaddr_storage addrs[16];
	const char *h = d->url + 8, *end = h + strcspn(h, "/?#");
	const char *colon = memchr(h, ':', (size_t)(end - h));
	size_t n = 0;
	uint8_t tmp[16];
	int r;

	snprintf(d->port, sizeof(d->port), "443");
	if (*h == '[')
		return 0; /* an IPv6 literal */
	if (colon != NULL) {
		snprintf(d->port, sizeof(d->port), "%.*s", (int)(end - colon - 1), colon + 1);
		end = colon;
	}
	if ((size_t)(end - h) >= sizeof(d->host))
		return -EINVAL;
	memcpy(d->host, h, (size_t)(end - h));
	d->host[end - h] = '\0';
	if (inet_pton(AF_INET, d->host, tmp) == 1)
		return 0;
	if (boot != NULL)
		return dns_boot_start(boot, d->host, doh_booted, d, &d->boot);
	r = getaddrinfo(d->host, d->port, &hints, &res);
	if (r != 0) {
		log_error("dns: %s: cannot resolve %s: %s", d->url, d->host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL && n < sizeof(addrs) / sizeof(addrs[0]); ai = ai->ai_next) {
		if (ai->ai_addrlen <= sizeof(addrs[0]))
			memcpy(&addrs[n++], ai->ai_addr, ai->ai_addrlen);
	}
	freeaddrinfo(res);
	r = doh_pin_addrs(d, addrs, n);
	return r == -ENOENT ? -EHOSTUNREACH : r;
}

int dns_doh_create(uv_loop_t *loop, const struct sock_opts *so, const char *url,
		   const char *ca_file, unsigned timeout_ms, struct resolver *boot,
		   struct dns_doh **out)
{
	struct dns_doh *d;
	char *hash;
	int r;

	*out = NULL;
	if (strncasecmp(url, "https://", 8) != 0 || url[8] == '\0' || url[8] == '/')
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->loop = loop;
	d->timeout_ms = timeout_ms;
	d->url = strdup(url);
	d->ca_file = ca_file && ca_file[0] ? strdup(ca_file) : NULL;
	if (d->url == NULL || (ca_file && ca_file[0] && d->ca_file == NULL)) {
		dns_doh_destroy(d);
		return -ENOMEM;
	}
	hash = strchr(d->url, '#');
	if (hash != NULL)
		*hash = '\0';
	r = doh_pin(d, boot);
	if (r < 0) {
		dns_doh_destroy(d);
		return r;
	}
	r = http_client_create(loop, so, &d->http);
	if (r < 0) {
		dns_doh_destroy(d);
		return r;
	}
	*out = d;
	return 0;
}

static void doh_warn(struct dns_doh *d, const char *why)
{
	uint64_t now = uv_now(d->loop);

	log_debug("dns: %s: %s", d->url, why);
	if (d->warned_at != 0 && now - d->warned_at < 60000)
		return;
	d->warned_at = now ? now : 1;
	log_warn("dns: upstream %s: %s (answering SERVFAIL; said at most once a minute)", d->url,
		 why);
}

static void doh_done(void *arg, int status, const struct http_response *resp)
{
	struct doh_req *q = arg;
	ares_dns_record_t *rec = NULL;
	char why[300];

	if (status == 0 && resp->code != 200) {
		snprintf(why, sizeof(why), "HTTP status %ld", resp->code);
		doh_warn(q->d, why);
		status = -EIO;
	} else if (status < 0 && status != -ECANCELED) {
		doh_warn(q->d,
			 resp && resp->error && resp->error[0] ? resp->error : strerror(-status));
	}
	if (status == 0 &&
	    ares_dns_parse((const unsigned char *)resp->body, resp->len, 0, &rec) != ARES_SUCCESS) {
		doh_warn(q->d, "the answer is not a DNS message");
		status = -EBADMSG;
	}
	q->cb(q->arg, status, status == 0 ? rec : NULL);
	ares_dns_record_destroy(rec);
	free(q);
}

int dns_doh_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	static const char *const headers[] = { "Content-Type: application/dns-message",
					       "Accept: application/dns-message" };
	struct dns_doh *d = ctx;
	ares_dns_record_t *copy;
	unsigned char *wire = NULL;
	size_t wire_len = 0;
	struct doh_req *q;
	int r;

	if (d->http == NULL)
		return -ESHUTDOWN;
	if (d->boot != NULL || d->boot_err != 0) /* default-nameserver not answered (§24) */
		return d->boot_err ? d->boot_err : -ENOTCONN;
	/* RFC 8484 4.1: ID 0, so answers can be cached by HTTP. */
	copy = ares_dns_record_duplicate(query);
	if (copy == NULL || !ares_dns_record_set_id(copy, 0) ||
	    ares_dns_write(copy, &wire, &wire_len) != ARES_SUCCESS) {
		ares_dns_record_destroy(copy);
		return -ENOMEM;
	}
	ares_dns_record_destroy(copy);
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		ares_free_string(wire);
		return -ENOMEM;
	}
	q->d = d;
	q->cb = cb;
	q->arg = arg;
	r = http_client_request(d->http,
				&(struct http_request_opts){ .url = d->url,
							     .method = "POST",
							     .body = wire,
							     .body_len = wire_len,
							     .headers = headers,
							     .n_headers = 2,
							     .timeout_ms = d->timeout_ms,
							     .max_size = 65535,
							     .max_redirects = -1,
							     .ca_file = d->ca_file,
							     .resolve = d->resolve },
				doh_done, q, NULL);
	ares_free_string(wire);
	if (r < 0)
		free(q);
	return r;
}

void dns_doh_shutdown(struct dns_doh *d)
{
	if (d == NULL)
		return;
	dns_boot_cancel(d->boot);
	d->boot = NULL;
	if (d->http == NULL)
		return;
	http_client_destroy(d->http); /* callbacks run with -ECANCELED */
	d->http = NULL;
}

void dns_doh_destroy(struct dns_doh *d)
{
	if (d == NULL)
		return;
	dns_doh_shutdown(d);
	free(d->url);
	free(d->ca_file);
	free(d->resolve);
	free(d);
}
