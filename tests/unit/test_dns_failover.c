/* Unit tests for dns_failover: the next server after a failure, the one
 * that answered asked first afterwards, errors when every one failed. */
#include "resolver/dns_failover.h"
#include "test.h"

#include <ares.h>
#include <errno.h>
#include <string.h>

/* A forwarder whose queries are completed by the test (later, as the
 * contract says), with a result set per server. */
struct fake {
	int result;   /* status to complete with; send fails when refuse */
	int refuse;   /* send's own return when nonzero */
	unsigned got; /* queries received */
	resolver_cb cb;
	void *arg;
};

static int fake_send(void *ctx, const struct ares_dns_record *q, resolver_cb cb, void *arg)
{
	struct fake *f = ctx;

	(void)q;
	if (f->refuse)
		return f->refuse;
	f->got++;
	f->cb = cb;
	f->arg = arg;
	return 0;
}

/* Completes the query f holds, if any. */
static void fake_finish(struct fake *f, const ares_dns_record_t *reply)
{
	resolver_cb cb = f->cb;

	if (cb == NULL)
		return;
	f->cb = NULL;
	cb(f->arg, f->result, f->result == 0 ? reply : NULL);
}

struct outcome {
	int calls;
	int status;
};

static void on_done(void *arg, int status, const struct ares_dns_record *reply)
{
	struct outcome *o = arg;

	(void)reply;
	o->calls++;
	o->status = status;
}

static void test_failover(void)
{
	struct fake f[3] = { { .result = -ETIMEDOUT }, { .result = 0 }, { .result = 0 } };
	dns_failover_send_fn sends[3] = { fake_send, fake_send, fake_send };
	void *ctxs[3] = { &f[0], &f[1], &f[2] };
	struct dns_failover *fo = NULL;
	ares_dns_record_t *q = NULL;
	struct outcome o = { 0 };

	T_EQ_INT(ares_dns_record_create(&q, 1, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR),
		 ARES_SUCCESS);
	T_EQ_INT(ares_dns_record_query_add(q, "a.test", ARES_REC_TYPE_A, ARES_CLASS_IN),
		 ARES_SUCCESS);
	T_EQ_INT(dns_failover_create(sends, ctxs, 0, &fo), -EINVAL);
	T_EQ_INT(dns_failover_create(sends, ctxs, 3, &fo), 0);
	if (fo == NULL || q == NULL)
		return;
	/* the first times out: the second is asked and answers */
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	T_EQ_INT(f[0].got, 1);
	fake_finish(&f[0], q);
	T_EQ_INT(o.calls, 0);
	T_EQ_INT(f[1].got, 1);
	fake_finish(&f[1], q);
	T_EQ_INT(o.calls, 1);
	T_EQ_INT(o.status, 0);
	/* the second is asked first now */
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	T_EQ_INT(f[0].got, 1);
	T_EQ_INT(f[1].got, 2);
	fake_finish(&f[1], q);
	T_EQ_INT(o.calls, 2);
	/* every one fails (one refusing at once): the last error, once */
	f[1].result = -EIO;
	f[2].refuse = -ENOTCONN;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	fake_finish(&f[1], q);
	T_EQ_INT(f[0].got, 2); /* 2 refused, so 0 is next */
	T_EQ_INT(o.calls, 2);
	fake_finish(&f[0], q);
	T_EQ_INT(o.calls, 3);
	T_EQ_INT(o.status, -ETIMEDOUT);
	/* cancelled (shutdown) is not failed over */
	f[1].result = -ECANCELED;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	fake_finish(&f[1], q);
	T_EQ_INT(o.calls, 4);
	T_EQ_INT(o.status, -ECANCELED);
	T_EQ_INT(f[2].got, 0);
	/* all refusing at once: send fails, no callback */
	f[0].refuse = f[1].refuse = -ENOTCONN;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), -ENOTCONN);
	T_EQ_INT(o.calls, 4);
	dns_failover_destroy(fo);
	ares_dns_record_destroy(q);
}

/* At once: every server asked; a SERVFAIL reply and an error do not
 * count, the first good answer does, later ones are dropped; all failing
 * gives the SERVFAIL reply. */
static void test_batch(void)
{
	struct fake f[3] = { { .result = 0 }, { .result = -ETIMEDOUT }, { .result = 0 } };
	dns_failover_send_fn sends[3] = { fake_send, fake_send, fake_send };
	void *ctxs[3] = { &f[0], &f[1], &f[2] };
	struct dns_failover *fo = NULL;
	ares_dns_record_t *q = NULL, *bad = NULL;
	struct outcome o = { 0 };

	T_EQ_INT(ares_dns_record_create(&q, 1, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR),
		 ARES_SUCCESS);
	T_EQ_INT(ares_dns_record_query_add(q, "a.test", ARES_REC_TYPE_A, ARES_CLASS_IN),
		 ARES_SUCCESS);
	T_EQ_INT(ares_dns_record_create(&bad, 1, ARES_FLAG_QR, ARES_OPCODE_QUERY,
					ARES_RCODE_SERVFAIL),
		 ARES_SUCCESS);
	T_EQ_INT(ares_dns_record_query_add(bad, "a.test", ARES_REC_TYPE_A, ARES_CLASS_IN),
		 ARES_SUCCESS);
	T_EQ_INT(dns_failover_create_batch(sends, ctxs, 3, &fo), 0);
	if (fo == NULL || q == NULL || bad == NULL)
		return;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	T_EQ_INT(f[0].got + f[1].got + f[2].got, 3); /* all at once */
	fake_finish(&f[0], bad);                     /* SERVFAIL: not the answer */
	fake_finish(&f[1], NULL);                    /* timeout */
	T_EQ_INT(o.calls, 0);
	fake_finish(&f[2], q); /* the good one */
	T_EQ_INT(o.calls, 1);
	T_EQ_INT(o.status, 0);
	/* the first good answer wins; the late one is dropped */
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	fake_finish(&f[2], q);
	T_EQ_INT(o.calls, 2);
	fake_finish(&f[0], q);
	fake_finish(&f[1], NULL);
	T_EQ_INT(o.calls, 2);
	/* every one failing: the SERVFAIL reply, once */
	f[2].result = -EIO;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	fake_finish(&f[0], bad);
	fake_finish(&f[1], NULL);
	fake_finish(&f[2], NULL);
	T_EQ_INT(o.calls, 3);
	T_EQ_INT(o.status, 0);
	/* only errors: the last error */
	f[0].result = -ETIMEDOUT;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), 0);
	fake_finish(&f[0], NULL);
	fake_finish(&f[1], NULL);
	fake_finish(&f[2], NULL);
	T_EQ_INT(o.calls, 4);
	T_EQ_INT(o.status, -EIO);
	/* all refusing at once: send fails, no callback */
	f[0].refuse = f[1].refuse = f[2].refuse = -ENOTCONN;
	T_EQ_INT(dns_failover_send(fo, q, on_done, &o), -ENOTCONN);
	T_EQ_INT(o.calls, 4);
	dns_failover_destroy(fo);
	ares_dns_record_destroy(q);
	ares_dns_record_destroy(bad);
}

int main(void)
{
	T_RUN(test_failover);
	T_RUN(test_batch);
	return test_summary();
}
