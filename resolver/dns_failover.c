/* dns_failover: encrypted servers in turn (dns_failover.h). */
#include "resolver/dns_failover.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tun2socks/base/log.h"

struct dns_failover {
	dns_failover_send_fn send[DNS_FAILOVER_MAX];
	void *ctx[DNS_FAILOVER_MAX];
	size_t n;
	size_t cur; /* the server that answered last */
	bool batch; /* every server at once */
};

/* A query asked of every server at once. */
struct fo_batch {
	resolver_cb cb;
	void *arg;
	size_t pending;             /* servers still to answer */
	bool done;                  /* cb ran */
	int last_err;               /* the last failure, for when all failed */
	ares_dns_record_t *refused; /* the last SERVFAIL/REFUSED reply, or NULL */
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

/* SERVFAIL and REFUSED say the server could not answer: another may
 * (mihomo's batchExchange counts them as failures). */
static bool batch_good(const struct ares_dns_record *reply)
{
	ares_dns_rcode_t rc = ares_dns_record_get_rcode(reply);

	return rc != ARES_RCODE_SERVFAIL && rc != ARES_RCODE_REFUSED;
}

static void batch_done(void *arg, int status, const struct ares_dns_record *reply)
{
	struct fo_batch *b = arg;

	b->pending--;
	if (!b->done && status == 0 && reply != NULL && batch_good(reply)) {
		b->done = true;
		b->cb(b->arg, 0, reply);
	} else if (!b->done && status == 0 && reply != NULL) {
		ares_dns_record_destroy(b->refused);
		b->refused = ares_dns_record_duplicate(reply);
	} else if (!b->done) {
		b->last_err = status ? status : -EBADMSG;
	}
	if (b->pending > 0)
		return;
	if (!b->done)
		b->cb(b->arg, b->refused ? 0 : b->last_err, b->refused);
	ares_dns_record_destroy(b->refused);
	free(b);
}

static int batch_send(struct dns_failover *fo, const struct ares_dns_record *query, resolver_cb cb,
		      void *arg)
{
	struct fo_batch *b = calloc(1, sizeof(*b));
	int r = -EHOSTUNREACH;

	if (b == NULL)
		return -ENOMEM;
	b->cb = cb;
	b->arg = arg;
	for (size_t i = 0; i < fo->n; i++) {
		int k = fo->send[i](fo->ctx[i], query, batch_done, b);

		if (k == 0)
			b->pending++;
		else
			r = k;
	}
	if (b->pending == 0) {
		free(b);
		return r;
	}
	b->last_err = r == -EHOSTUNREACH ? -EIO : r;
	return 0;
}

int dns_failover_create_batch(const dns_failover_send_fn *send, void *const *ctx, size_t n,
			      struct dns_failover **out)
{
	int r = dns_failover_create(send, ctx, n, out);

	if (r == 0)
		(*out)->batch = true;
	return r;
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
	struct fo_req *q;
	int r;

	if (fo->batch)
		return batch_send(fo, query, cb, arg);
	q = calloc(1, sizeof(*q));
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
