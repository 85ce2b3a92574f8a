/* dns_failover: encrypted servers in turn (dns_failover.h). */
#include "resolver/dns_failover.h"

#include <ares.h>
#include <errno.h>
#include <stdlib.h>

#include "tun2socks/base/log.h"

struct dns_failover {
	dns_failover_send_fn send[DNS_FAILOVER_MAX];
	void *ctx[DNS_FAILOVER_MAX];
	size_t n;
	size_t cur; /* the server that answered last */
};

struct fo_req {
	struct dns_failover *fo;
	ares_dns_record_t *query;
	resolver_cb cb;
	void *arg;
	size_t idx;   /* the server asked now */
	size_t tried; /* servers asked so far */
};

static void fo_done(void *arg, int status, const struct ares_dns_record *reply);

/* Asks the next servers until one takes the query: 0, or the last error. */
static int fo_try(struct fo_req *q)
{
	struct dns_failover *fo = q->fo;
	int r = -EHOSTUNREACH;

	while (q->tried < fo->n) {
		q->idx = (fo->cur + q->tried) % fo->n;
		q->tried++;
		r = fo->send[q->idx](fo->ctx[q->idx], q->query, fo_done, q);
		if (r == 0 || r == -ESHUTDOWN)
			return r;
	}
	return r;
}

static void fo_done(void *arg, int status, const struct ares_dns_record *reply)
{
	struct fo_req *q = arg;

	if (status == 0) {
		q->fo->cur = q->idx;
	} else if (status != -ECANCELED && q->tried < q->fo->n) {
		log_debug("dns: encrypted server %zu failed (%d): asking the next", q->idx, status);
		if (fo_try(q) == 0)
			return;
	}
	q->cb(q->arg, status, reply);
	ares_dns_record_destroy(q->query);
	free(q);
}

int dns_failover_create(const dns_failover_send_fn *send, void *const *ctx, size_t n,
			struct dns_failover **out)
{
	struct dns_failover *fo;

	*out = NULL;
	if (n == 0 || n > DNS_FAILOVER_MAX)
		return -EINVAL;
	fo = calloc(1, sizeof(*fo));
	if (fo == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		fo->send[i] = send[i];
		fo->ctx[i] = ctx[i];
	}
	fo->n = n;
	*out = fo;
	return 0;
}

int dns_failover_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct dns_failover *fo = ctx;
	struct fo_req *q = calloc(1, sizeof(*q));
	int r;

	if (q == NULL)
		return -ENOMEM;
	q->fo = fo;
	q->cb = cb;
	q->arg = arg;
	q->query = ares_dns_record_duplicate(query);
	if (q->query == NULL) {
		free(q);
		return -ENOMEM;
	}
	r = fo_try(q);
	if (r < 0) {
		ares_dns_record_destroy(q->query);
		free(q);
	}
	return r;
}

void dns_failover_destroy(struct dns_failover *fo)
{
	free(fo);
}
