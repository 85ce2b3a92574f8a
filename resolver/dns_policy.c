/* dns_policy: nameserver-policy and fallback (dns_policy.h). */
#include "resolver/dns_policy.h"

#include <ares.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resolver/dns_doh.h"
#include "resolver/dns_dot.h"
#include "resolver/dns_failover.h"
#include "resolver/dns_msg.h"
#include "resolver/domain_match.h"
#include "tun2socks/base/log.h"

/* An entry's servers: its plain ones share one c-ares channel, each
 * encrypted one is a forwarder; more than one of these are asked at once
 * through a dns_failover (docs/design.md §24). */
struct policy_entry {
	struct domain_match *m;
	struct resolver *r; /* the plain servers, or NULL */
	struct dns_dot *dot[DNS_FAILOVER_MAX];
	struct dns_doh *doh[DNS_FAILOVER_MAX];
	size_t n_dot, n_doh;
	struct dns_failover *fo; /* over them all when more than one */
	dns_failover_send_fn send;
	void *ctx;
	char *servers; /* for logs */
};

struct dns_policy {
	struct sock_opts sock; /* the encrypted entries' sockets use it */
	int (*main_send)(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg);
	void *main_ctx;
	struct resolver *own; /* or NULL */
	struct policy_entry *entries;
	size_t n_entries;
	struct resolver *fallback; /* or NULL */
	struct domain_match *fallback_domains;
	struct dns_policy_cidr *cidrs;
	size_t n_cidrs;
	struct dns_policy_lists lists;
};

/* A query asked of the main servers that may go on to the fallback. */
struct policy_req {
	struct dns_policy *p;
	ares_dns_record_t *query; /* a copy, for the second ask */
	resolver_cb cb;
	void *arg;
	bool poisoned;
};

static int make_resolver(uv_loop_t *loop, const char *servers, const struct sock_opts *sock,
			 struct resolver **out, char *err, size_t errlen)
{
	struct resolver_config rc = { .servers = servers, .sock = *sock };

	return resolver_create(loop, &rc, out, err, errlen);
}

static int policy_resolver_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb,
				void *arg)
{
	return resolver_send(ctx, query, cb, arg);
}

/* e->servers ("a,tls://b,https://c/..."): the plain ones in one resolver,
 * a forwarder for each encrypted one, a batch over them when several. */
static int entry_servers(uv_loop_t *loop, struct dns_policy *p, const struct dns_policy_config *cfg,
			 struct policy_entry *e, char *err, size_t errlen)
{
	dns_failover_send_fn sends[DNS_FAILOVER_MAX];
	void *ctxs[DNS_FAILOVER_MAX];
	char *list = strdup(e->servers), *plain = strdup(e->servers), *save = NULL, *t;
	size_t n = 0, off = 0;
	int r = list && plain ? 0 : -ENOMEM;

	for (t = r == 0 ? strtok_r(list, ",", &save) : NULL; r == 0 && t;
	     t = strtok_r(NULL, ",", &save)) {
		bool tls, https;

		while (*t == ' ')
			t++;
		tls = !strncasecmp(t, "tls://", 6);
		https = !strncasecmp(t, "https://", 8);
		if (!tls && !https) {
			off += (size_t)sprintf(plain + off, "%s%s", off ? "," : "", t);
			continue;
		}
		if (n == DNS_FAILOVER_MAX - 1) {
			log_warn("dns.nameserver-policy: %s: more than %d encrypted servers: "
				 "%s and later not used",
				 e->servers, DNS_FAILOVER_MAX - 1, t);
			break;
		}
		if (tls) {
			r = dns_dot_create(loop, &p->sock, t + 6, cfg->ca_file, cfg->timeout_ms,
					   cfg->boot, &e->dot[e->n_dot], err, errlen);
			sends[n] = dns_dot_send;
			ctxs[n] = e->dot[e->n_dot++];
		} else {
			r = dns_doh_create(loop, &p->sock, t, cfg->ca_file, cfg->timeout_ms,
					   cfg->boot, &e->doh[e->n_doh]);
			sends[n] = dns_doh_send;
			ctxs[n] = e->doh[e->n_doh++];
		}
		n++;
	}
	if (r == 0 && off > 0) {
		plain[off] = '\0';
		r = make_resolver(loop, plain, &cfg->sock, &e->r, err, errlen);
		sends[n] = policy_resolver_send;
		ctxs[n++] = e->r;
	}
	if (r == 0 && n == 0)
		r = -EINVAL;
	if (r == 0 && n == 1) {
		e->send = sends[0];
		e->ctx = ctxs[0];
	} else if (r == 0) {
		r = dns_failover_create_batch(sends, ctxs, n, &e->fo);
		e->send = dns_failover_send;
		e->ctx = e->fo;
	}
	free(list);
	free(plain);
	return r;
}

int dns_policy_create(uv_loop_t *loop, const struct dns_policy_config *cfg, struct dns_policy **out,
		      char *err, size_t errlen)
{
	struct dns_policy *p;
	int r = 0;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->main_send = cfg->main_send;
	p->main_ctx = cfg->main_ctx;
	p->own = cfg->own;
	p->sock = cfg->sock;
	p->lists = cfg->lists;
	p->entries = calloc(cfg->n_entries + 1, sizeof(*p->entries));
	p->cidrs = calloc(cfg->n_fallback_cidrs + 1, sizeof(*p->cidrs));
	if (p->entries == NULL || p->cidrs == NULL)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < cfg->n_entries; i++) {
		struct policy_entry *e = &p->entries[p->n_entries++];
		const char *src = cfg->entries[i].patterns ? cfg->entries[i].patterns : "";
		char *pats = strdup(src), *save = NULL, *t;

		e->servers = strdup(cfg->entries[i].servers);
		r = pats && e->servers ? 0 : -ENOMEM;
		if (r == 0 && cfg->entries[i].patterns != NULL)
			r = domain_match_create(&e->m);
		for (t = r == 0 ? strtok_r(pats, ",", &save) : NULL; r == 0 && t;
		     t = strtok_r(NULL, ",", &save)) {
			while (*t == ' ')
				t++;
			r = domain_match_add(e->m, t);
			if (r == -EINVAL)
				snprintf(err, errlen, "dns.nameserver-policy: bad pattern '%s'", t);
		}
		free(pats);
		if (r == 0)
			r = entry_servers(loop, p, cfg, e, err, errlen);
		if (r < 0 && err[0] == '\0')
			snprintf(err, errlen, "dns.nameserver-policy: %s: %s", e->servers,
				 strerror(-r));
	}
	if (r == 0 && cfg->fallback != NULL)
		r = make_resolver(loop, cfg->fallback, &cfg->sock, &p->fallback, err, errlen);
	if (r == 0 && cfg->n_fallback_domains > 0) {
		r = domain_match_create(&p->fallback_domains);
		for (size_t i = 0; r == 0 && i < cfg->n_fallback_domains; i++) {
			r = domain_match_add(p->fallback_domains, cfg->fallback_domains[i]);
			if (r == -EINVAL)
				snprintf(err, errlen,
					 "dns.fallback-filter.domain: bad pattern '%s'",
					 cfg->fallback_domains[i]);
		}
	}
	if (r == 0 && cfg->n_fallback_cidrs > 0) {
		memcpy(p->cidrs, cfg->fallback_cidrs, cfg->n_fallback_cidrs * sizeof(*p->cidrs));
		p->n_cidrs = cfg->n_fallback_cidrs;
	}
	if (r < 0) {
		dns_policy_shutdown(p);
		dns_policy_destroy(p);
		return r;
	}
	*out = p;
	return 0;
}

static bool cidr_has(const struct dns_policy_cidr *c, const uint8_t *a, size_t alen)
{
	unsigned full = c->prefix / 8, rem = c->prefix % 8;

	if ((c->family == AF_INET ? 4u : 16u) != alen)
		return false;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	return rem == 0 || ((a[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

static void note_addr(void *arg, const char *qname, const uint8_t *addr, size_t alen, uint32_t ttl)
{
	struct policy_req *req = arg;

	(void)qname;
	(void)ttl;
	for (size_t i = 0; i < req->p->n_cidrs; i++)
		if (cidr_has(&req->p->cidrs[i], addr, alen))
			req->poisoned = true;
	if (req->p->lists.fallback_ip &&
	    req->p->lists.fallback_ip(req->p->lists.arg, alen == 4 ? AF_INET : AF_INET6, addr))
		req->poisoned = true;
}

static void on_fallback(void *arg, int status, const struct ares_dns_record *reply)
{
	struct policy_req *req = arg;

	req->cb(req->arg, status, reply);
	ares_dns_record_destroy(req->query);
	free(req);
}

static void on_main(void *arg, int status, const struct ares_dns_record *reply)
{
	struct policy_req *req = arg;
	int r;

	if (status == 0 && reply != NULL)
		dns_msg_record_addrs(reply, note_addr, req);
	if (req->poisoned) {
		log_debug("dns: an answer in fallback-filter.ipcidr: asking the fallback");
		r = resolver_send(req->p->fallback, req->query, on_fallback, req);
		if (r == 0)
			return;
	}
	req->cb(req->arg, status, reply);
	ares_dns_record_destroy(req->query);
	free(req);
}

int dns_policy_send(void *policy, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_policy *p = policy;
	struct policy_req *req;
	const char *name = NULL;
	int r;

	if (ares_dns_record_query_get(query, 0, &name, NULL, NULL) != ARES_SUCCESS)
		name = NULL;
	for (size_t i = 0; name && i < p->n_entries; i++) {
		struct policy_entry *e = &p->entries[i];

		if (e->m ? !domain_match_test(e->m, name)
			 : !(p->lists.entry && p->lists.entry(p->lists.arg, i, name)))
			continue;
		return e->send(e->ctx, query, cb, arg);
	}
	if (p->fallback && name &&
	    ((p->fallback_domains && domain_match_test(p->fallback_domains, name)) ||
	     (p->lists.fallback_name && p->lists.fallback_name(p->lists.arg, name))))
		return resolver_send(p->fallback, query, cb, arg);
	if (p->fallback == NULL || (p->n_cidrs == 0 && !p->lists.has_fallback_ip))
		return p->main_send(p->main_ctx, query, cb, arg);
	req = calloc(1, sizeof(*req));
	if (req != NULL)
		req->query = ares_dns_record_duplicate(query);
	if (req == NULL || req->query == NULL) {
		free(req);
		return -ENOMEM;
	}
	req->p = p;
	req->cb = cb;
	req->arg = arg;
	r = p->main_send(p->main_ctx, query, on_main, req);
	if (r < 0) {
		ares_dns_record_destroy(req->query);
		free(req);
	}
	return r;
}

bool dns_policy_is_own(void *policy, const struct sockaddr *src, uint16_t id, const char *name,
		       uint16_t qtype)
{
	struct dns_policy *p = policy;

	if (p->own && resolver_is_own_query(p->own, src, id, name, qtype))
		return true;
	if (p->fallback && resolver_is_own_query(p->fallback, src, id, name, qtype))
		return true;
	for (size_t i = 0; i < p->n_entries; i++)
		if (p->entries[i].r && resolver_is_own_query(p->entries[i].r, src, id, name, qtype))
			return true;
	return false;
}

void dns_policy_shutdown(struct dns_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_entries; i++) {
		struct policy_entry *e = &p->entries[i];

		if (e->r)
			resolver_shutdown(e->r);
		for (size_t j = 0; j < e->n_dot; j++)
			dns_dot_shutdown(e->dot[j]);
		for (size_t j = 0; j < e->n_doh; j++)
			dns_doh_shutdown(e->doh[j]);
	}
	if (p->fallback)
		resolver_shutdown(p->fallback);
}

void dns_policy_destroy(struct dns_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_entries; i++) {
		struct policy_entry *e = &p->entries[i];

		if (e->r)
			resolver_destroy(e->r);
		for (size_t j = 0; j < e->n_dot; j++)
			dns_dot_destroy(e->dot[j]);
		for (size_t j = 0; j < e->n_doh; j++)
			dns_doh_destroy(e->doh[j]);
		dns_failover_destroy(e->fo);
		if (e->m)
			domain_match_destroy(e->m);
		free(e->servers);
	}
	if (p->fallback)
		resolver_destroy(p->fallback);
	if (p->fallback_domains)
		domain_match_destroy(p->fallback_domains);
	free(p->entries);
	free(p->cidrs);
	free(p);
}
