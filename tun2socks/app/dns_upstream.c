/* dns_upstream: the upstream side of forwarded DNS, swapped at a reload
 * (dns_upstream.h). */
#include "tun2socks/app/dns_upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "resolver/dns_doh.h"
#include "resolver/dns_dot.h"
#include "resolver/dns_failover.h"
#include "resolver/dns_policy.h"
#include "resolver/resolver.h"
#include "tun2socks/base/log.h"
#include "tun2socks/route/router_gen.h"

enum up_state {
	UP_LIVE,    /* the current set */
	UP_RETIRED, /* replaced: answering what it holds */
	UP_SHUT,    /* shut down: freed once nothing calls back into it */
};

/* One build of the settings. */
struct up_set {
	struct dns_upstream *u;
	enum up_state state;
	struct sock_opts sock; /* the encrypted forwarders point at it */
	struct resolver *boot; /* default-nameserver, or NULL */
	bool boot_owned;       /* else the caller's c-ares (a reload) */
	struct dns_dot *dot[DNS_FAILOVER_MAX];
	struct dns_doh *doh[DNS_FAILOVER_MAX];
	size_t n_dot, n_doh;
	struct dns_failover *group; /* over dot[] and doh[] when several */
	struct dns_policy *policy;  /* or NULL */
	struct router_gen *gen;     /* its lists' engines (a reference), or NULL */
	dns_failover_send_fn send;  /* the set's entry */
	void *ctx;
	unsigned inflight; /* queries sent through it still to call back */
	uint64_t retired_at;
	uv_timer_t timer; /* retirement steps */
	struct up_set *next;
};

struct dns_upstream {
	uv_loop_t *loop;
	struct resolver *main;
	unsigned timeout_ms;
	struct up_set *cur;
	struct up_set *retired; /* list */
};

/* One query through the trampoline. */
struct up_req {
	struct up_set *s;
	resolver_cb cb;
	void *arg;
};

static int main_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	return resolver_send(ctx, query, cb, arg);
}

static int policy_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	return dns_policy_send(ctx, query, cb, arg);
}

/* "a,b,c" of a config list into buf; false when it does not fit. */
static bool join(const struct config_str *l, size_t n, char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", l[i].text);

		if (k < 0 || (size_t)k >= cap - off)
			return false;
		off += (size_t)k;
	}
	return true;
}

static bool lists_entry(void *arg, size_t i, const char *name)
{
	return router_gen_dns_policy(arg, i, name);
}

static bool lists_fallback_name(void *arg, const char *name)
{
	return router_gen_fallback_name(arg, name);
}

static bool lists_fallback_ip(void *arg, int family, const uint8_t *addr)
{
	return router_gen_fallback_ip(arg, family, addr);
}

/* A key that names geosite lists or rule-sets: the generation's engine. */
static bool key_named(const char *k)
{
	return !strncasecmp(k, "geosite:", 8) || !strncasecmp(k, "rule-set:", 9);
}

/* nameserver-policy and fallback (docs/design.md §23) in front of the
 * set's main forwarder, or none. */
static int set_policy(struct up_set *s, const struct dns_upstream_config *cfg)
{
	const struct config_dns *cd = cfg->conf;
	struct dns_policy_entry *ents = NULL;
	struct dns_policy_cidr *cidrs = NULL;
	const char **doms = NULL;
	char(*bufs)[2048] = NULL, fb[1024], err[256] = "";
	struct dns_policy_config pc = { .main_send = s->send,
					.main_ctx = s->ctx,
					.own = cfg->main,
					.sock = s->sock,
					.ca_file = cfg->dns->dot_ca[0] ? cfg->dns->dot_ca : NULL,
					.timeout_ms = cfg->timeout_ms,
					.boot = s->boot,
					.lists = { .entry = lists_entry,
						   .fallback_name = lists_fallback_name,
						   .fallback_ip = lists_fallback_ip,
						   .has_fallback_ip = cd && cd->fallback_geoip,
						   .arg = s->gen } };
	int r = -ENOMEM;

	if (cd == NULL || (cd->n_ns_policy == 0 && cd->n_fallback == 0))
		return 0;
	ents = calloc(cd->n_ns_policy + 1, sizeof(*ents));
	bufs = calloc(cd->n_ns_policy + 1, sizeof(*bufs));
	cidrs = calloc(cd->n_fallback_ipcidr + 1, sizeof(*cidrs));
	doms = calloc(cd->n_fallback_domain + 1, sizeof(*doms));
	if (!ents || !bufs || !cidrs || !doms)
		goto out;
	r = -EINVAL;
	for (size_t i = 0; i < cd->n_ns_policy; i++) {
		/* plain and encrypted servers alike: a list asked at once */
		if (!join(cd->ns_policy[i].servers, cd->ns_policy[i].n_servers, bufs[i],
			  sizeof(bufs[i]))) {
			snprintf(err, sizeof(err), "dns.nameserver-policy: too many servers");
			goto out;
		}
		ents[i].patterns =
			key_named(cd->ns_policy[i].key.text) ? NULL : cd->ns_policy[i].key.text;
		ents[i].servers = bufs[i];
	}
	pc.entries = ents;
	pc.n_entries = cd->n_ns_policy;
	if (cd->n_fallback > 0) {
		if (!join(cd->fallback, cd->n_fallback, fb, sizeof(fb))) {
			snprintf(err, sizeof(err), "dns.fallback: too many servers");
			goto out;
		}
		pc.fallback = fb;
		for (size_t i = 0; i < cd->n_fallback_ipcidr; i++) {
			cidrs[i].family = cd->fallback_ipcidr[i].family;
			memcpy(cidrs[i].addr, cd->fallback_ipcidr[i].addr, 16);
			cidrs[i].prefix = cd->fallback_ipcidr[i].prefix;
		}
		pc.fallback_cidrs = cidrs;
		pc.n_fallback_cidrs = cd->n_fallback_ipcidr;
		for (size_t i = 0; i < cd->n_fallback_domain; i++)
			doms[i] = cd->fallback_domain[i].text;
		pc.fallback_domains = doms;
		pc.n_fallback_domains = cd->n_fallback_domain;
	}
	r = dns_policy_create(s->u->loop, &pc, &s->policy, err, sizeof(err));
	if (r == 0) {
		log_info("dns: %zu nameserver-policy entries%s", cd->n_ns_policy,
			 pc.fallback ? ", a fallback" : "");
		s->send = policy_send;
		s->ctx = s->policy;
	}
out:
	if (r < 0)
		log_error("dns: %s", err[0] ? err : strerror(-r));
	free(ents);
	free(bufs);
	free(cidrs);
	free(doms);
	return r;
}

/* The encrypted nameservers (docs/design.md §24): one forwarder each, a
 * batch over them when several; none: the plain ones (c-ares). */
static int set_encrypted(struct up_set *s, const struct dns_upstream_config *cfg)
{
	const struct options_dns *dc = cfg->dns;
	const char *ca = dc->dot_ca[0] ? dc->dot_ca : NULL;
	dns_failover_send_fn sends[DNS_FAILOVER_MAX];
	void *ctxs[DNS_FAILOVER_MAX];
	char list[512], err[512] = "";
	char *save = NULL, *t;
	size_t n = 0;
	int r = 0;

	snprintf(list, sizeof(list), "%s", dc->dot);
	for (t = strtok_r(list, ",", &save); t != NULL && r == 0; t = strtok_r(NULL, ",", &save)) {
		if (n == DNS_FAILOVER_MAX) {
			log_warn("dns: more than %d encrypted servers: tls://%s not used",
				 DNS_FAILOVER_MAX, t);
			break;
		}
		r = dns_dot_create(s->u->loop, &s->sock, t, ca, cfg->timeout_ms, s->boot,
				   &s->dot[s->n_dot], err, sizeof(err));
		if (r < 0) {
			log_error("dns: tls://%s: %s", t, err[0] ? err : strerror(-r));
			return r;
		}
		log_info("dns: DNS over TLS to %s", dns_dot_describe(s->dot[s->n_dot]));
		sends[n] = dns_dot_send;
		ctxs[n++] = s->dot[s->n_dot++];
	}
	/* dns.doh: the https:// URLs, separated by spaces */
	snprintf(list, sizeof(list), "%s", dc->doh);
	save = NULL;
	for (t = strtok_r(list, " ", &save); t != NULL && r == 0; t = strtok_r(NULL, " ", &save)) {
		if (n == DNS_FAILOVER_MAX) {
			log_warn("dns: more than %d encrypted servers: %s not used",
				 DNS_FAILOVER_MAX, t);
			break;
		}
		r = dns_doh_create(s->u->loop, &s->sock, t, ca, cfg->timeout_ms, s->boot,
				   &s->doh[s->n_doh]);
		if (r < 0) {
			log_error("dns: cannot set up DNS over HTTPS to %s: %s", t, strerror(-r));
			return r;
		}
		log_info("dns: DNS over HTTPS to %s", t);
		sends[n] = dns_doh_send;
		ctxs[n++] = s->doh[s->n_doh++];
	}
	if (n == 0) {
		s->send = main_send;
		s->ctx = cfg->main;
	} else if (n == 1) {
		s->send = sends[0];
		s->ctx = ctxs[0];
	} else {
		r = dns_failover_create_batch(sends, ctxs, n, &s->group);
		if (r < 0)
			return r;
		log_info("dns: %zu encrypted servers asked at once", n);
		s->send = dns_failover_send;
		s->ctx = s->group;
	}
	return 0;
}

/* Its parts' queries end with -ECANCELED (through the trampoline). */
static void set_shutdown(struct up_set *s)
{
	dns_policy_shutdown(s->policy);
	for (size_t i = 0; i < s->n_doh; i++)
		dns_doh_shutdown(s->doh[i]);
	for (size_t i = 0; i < s->n_dot; i++)
		dns_dot_shutdown(s->dot[i]);
	if (s->boot && s->boot_owned)
		resolver_shutdown(s->boot);
}

/* The parts (shut down before); the set itself goes with its timer. */
static void set_destroy_parts(struct up_set *s)
{
	dns_policy_destroy(s->policy);
	s->policy = NULL;
	for (size_t i = 0; i < s->n_doh; i++)
		dns_doh_destroy(s->doh[i]);
	for (size_t i = 0; i < s->n_dot; i++)
		dns_dot_destroy(s->dot[i]);
	s->n_doh = s->n_dot = 0;
	dns_failover_destroy(s->group);
	s->group = NULL;
	if (s->boot && s->boot_owned)
		resolver_destroy(s->boot);
	s->boot = NULL;
	router_gen_unref(s->gen);
	s->gen = NULL;
}

static void set_free(uv_handle_t *h)
{
	free(h->data);
}

static void set_tick(uv_timer_t *t);

/* reload: built while the loop runs, so an encrypted server's host name
 * is never looked up by the system's blocking resolver: without
 * default-nameserver the caller's c-ares looks it up, on the loop. */
static int set_build(struct dns_upstream *u, const struct dns_upstream_config *cfg, bool reload,
		     struct up_set **out)
{
	struct up_set *s = calloc(1, sizeof(*s));
	int r;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->u = u;
	s->sock = cfg->sock;
	/* held for the set's life: a reload swaps the router's first */
	s->gen = cfg->gen ? router_gen_ref((struct router_gen *)cfg->gen) : NULL;
	r = uv_timer_init(u->loop, &s->timer);
	if (r < 0) {
		free(s);
		return r;
	}
	s->timer.data = s;
	/* default-nameserver answers the encrypted servers' own names */
	if (cfg->dns->default_ns[0]) {
		struct resolver_config rc = { .servers = cfg->dns->default_ns, .sock = s->sock };
		char err[256] = "";

		r = resolver_create(u->loop, &rc, &s->boot, err, sizeof(err));
		if (r < 0)
			log_error("dns.default-nameserver: %s", err[0] ? err : strerror(-r));
		s->boot_owned = true;
	} else if (reload) {
		s->boot = cfg->main;
	}
	if (r == 0)
		r = set_encrypted(s, cfg);
	if (r == 0)
		r = set_policy(s, cfg);
	if (r < 0) {
		set_shutdown(s);
		set_destroy_parts(s);
		uv_close((uv_handle_t *)&s->timer, set_free);
		return r;
	}
	*out = s;
	return 0;
}

/* Grace for a retired set's queries: three encrypted-query deadlines
 * cover a main answer, a fallback ask and c-ares' tries. */
static uint64_t grace_ms(const struct dns_upstream *u)
{
	return 3ull * (u->timeout_ms ? u->timeout_ms : 4000);
}

/* A retired set: shut down once idle or its grace is over; freed once
 * nothing calls back into it (the shared c-ares' queries end by their own
 * timeout). */
static void set_tick(uv_timer_t *t)
{
	struct up_set *s = t->data, **pp;
	struct dns_upstream *u = s->u;

	if (s->state == UP_RETIRED &&
	    (s->inflight == 0 || uv_now(u->loop) - s->retired_at >= grace_ms(u))) {
		if (s->inflight > 0)
			log_warn("dns: %u queries of the replaced DNS servers unanswered after "
				 "%llu ms: SERVFAIL",
				 s->inflight, (unsigned long long)grace_ms(u));
		s->state = UP_SHUT;
		set_shutdown(s);
	}
	if (s->state == UP_SHUT && s->inflight == 0) {
		for (pp = &u->retired; *pp != NULL; pp = &(*pp)->next)
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		set_destroy_parts(s);
		uv_close((uv_handle_t *)&s->timer, set_free);
		log_info("dns: replaced DNS servers freed");
		return;
	}
	uv_timer_start(&s->timer, set_tick, 500, 0);
}

static void up_done(void *arg, int status, const struct ares_dns_record *reply)
{
	struct up_req *q = arg;
	struct up_set *s = q->s;

	s->inflight--;
	q->cb(q->arg, status, reply);
	free(q);
	/* Not from inside the forwarder's callback: on the timer. */
	if (s->state != UP_LIVE && s->inflight == 0 && !uv_is_closing((uv_handle_t *)&s->timer))
		uv_timer_start(&s->timer, set_tick, 0, 0);
}

static int up_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_upstream *u = ctx;
	struct up_set *s = u->cur;
	struct up_req *q;
	int r;

	if (s == NULL)
		return -ESHUTDOWN;
	q = malloc(sizeof(*q));
	if (q == NULL)
		return -ENOMEM;
	*q = (struct up_req){ .s = s, .cb = cb, .arg = arg };
	r = s->send(s->ctx, query, up_done, q);
	if (r < 0) {
		free(q);
		return r;
	}
	s->inflight++;
	return 0;
}

/* c-ares' queries coming back are a loop whichever set sent them. */
static bool up_is_own(void *ctx, const struct sockaddr *src, uint16_t id, const char *name,
		      uint16_t qtype)
{
	struct dns_upstream *u = ctx;

	if (u->main && resolver_is_own_query(u->main, src, id, name, qtype))
		return true;
	if (u->cur && u->cur->policy && dns_policy_is_own(u->cur->policy, src, id, name, qtype))
		return true;
	for (struct up_set *s = u->retired; s != NULL; s = s->next)
		if (s->state == UP_RETIRED && s->policy &&
		    dns_policy_is_own(s->policy, src, id, name, qtype))
			return true;
	return false;
}

int dns_upstream_create(uv_loop_t *loop, const struct dns_upstream_config *cfg,
			struct dns_upstream **out)
{
	struct dns_upstream *u = calloc(1, sizeof(*u));
	int r;

	*out = NULL;
	if (u == NULL)
		return -ENOMEM;
	u->loop = loop;
	u->main = cfg->main;
	u->timeout_ms = cfg->timeout_ms;
	r = set_build(u, cfg, false, &u->cur);
	if (r < 0) {
		free(u);
		return r;
	}
	*out = u;
	return 0;
}

int dns_upstream_reload(struct dns_upstream *u, const struct dns_upstream_config *cfg)
{
	struct up_set *s, *old = u->cur;
	int r = set_build(u, cfg, true, &s);

	if (r < 0) {
		log_error("reload: the new DNS settings did not build: keeping the running ones");
		return r;
	}
	u->cur = s;
	if (old != NULL) {
		old->state = UP_RETIRED;
		old->retired_at = uv_now(u->loop);
		old->next = u->retired;
		u->retired = old;
		uv_timer_start(&old->timer, set_tick, 0, 0);
	}
	return 0;
}

struct dns_forwarder dns_upstream_forwarder(struct dns_upstream *u)
{
	return (struct dns_forwarder){
		.send = up_send, .ctx = u, .is_own = up_is_own, .own_ctx = u
	};
}

unsigned dns_upstream_retired(const struct dns_upstream *u)
{
	unsigned n = 0;

	for (const struct up_set *s = u->retired; s != NULL; s = s->next)
		n++;
	return n;
}

void dns_upstream_shutdown(struct dns_upstream *u)
{
	if (u == NULL)
		return;
	if (u->cur != NULL) {
		u->cur->state = UP_SHUT;
		u->cur->next = u->retired;
		u->retired = u->cur;
		u->cur = NULL;
	}
	for (struct up_set *s = u->retired; s != NULL; s = s->next) {
		s->state = UP_SHUT;
		set_shutdown(s);
		if (!uv_is_closing((uv_handle_t *)&s->timer))
			uv_close((uv_handle_t *)&s->timer, NULL);
	}
}

void dns_upstream_destroy(struct dns_upstream *u)
{
	struct up_set *s, *next;

	if (u == NULL)
		return;
	dns_upstream_shutdown(u);
	for (s = u->retired; s != NULL; s = next) {
		next = s->next;
		set_destroy_parts(s);
		free(s);
	}
	free(u);
}
