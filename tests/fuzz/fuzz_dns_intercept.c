/* libFuzzer target for DNS interception end to end (resolver/dns_intercept.c).
 *
 * Two interceptors live for the whole run on one loop, each with a fake
 * forwarder that keeps the forwarded query instead of sending it:
 *  - fake-ip with tiny pools (198.18.0.0/28 minus the "TUN" address .1,
 *    fdfe:dcba:9876:1::/124), so reuse, stale addresses and pinning come
 *    up within a few inputs;
 *  - real-ip with a 64-entry address -> name map.
 *
 * Input: [ctl] [len hi] [len lo] [query: len bytes] [reply: the rest]
 *   ctl bit 0     real-ip interceptor instead of fake-ip
 *   ctl bit 1     complete a forwarded query with an error status
 *                 (bits 2-3: -ETIMEDOUT, -ECONNREFUSED, -ECANCELED, -EIO)
 *                 instead of the reply
 *   ctl bit 4     make the reply's question the query's (name and type)
 *                 so that rewriting and learning get past the match
 *   ctl bit 5     TCP client (max_msg 65535) instead of UDP (0)
 *   ctl bits 6-7  address for dns_intercept_flow_name: the synchronous
 *                 answer's, one in the fake pools picked by the last byte,
 *                 the last 4/16 input bytes, or the reply's first A/AAAA
 * A reply that ares_dns_parse refuses completes with -EBADMSG, as the
 * resolver reports it.
 *
 * Beyond "no crash, no leak, no sanitizer report", aborts when a contract
 * breaks:
 *  - a synchronous answer echoes the ID with QR set and fits the client's
 *    limit; nothing is dropped but what dns_msg_parse_query says to drop;
 *  - a forwarded query carries the client's question; later() runs exactly
 *    once per forward, with NULL only for -ECANCELED, and the answer has
 *    the client's ID;
 *  - a fake A/AAAA answer is in the pool and flow_name gives the question
 *    name back; in real-ip mode, an accepted reply's last address for the
 *    question maps to the question name;
 *  - flow_name returns 0/-ENOENT/-ESTALE as the address's place (in a
 *    pool or not) allows, pins only fake addresses, and every pin is
 *    released again; nothing stays pending between inputs.
 */
#include "resolver/dns_intercept.h"
#include "resolver/dns_msg.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static const uint8_t net4[4] = { 198, 18, 0, 0 };
static const uint8_t net6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 1 };
static const uint8_t tun4[1][4] = { { 198, 18, 0, 1 } };
static const char *const user_filter[] = { "+.corp.example", "*.wild.test", NULL };

struct fwd {
	bool busy;
	ares_dns_record_t *query;
	resolver_cb cb;
	void *arg;
	unsigned sends;
};

struct later {
	int calls;
	bool null;
	size_t len;
	uint8_t msg[DNS_MSG_TCP_MAX];
};

static uv_loop_t loop;
static struct dns_intercept *fake_di, *real_di;
static struct fwd fake_fwd, real_fwd;
static struct later lt;
static uint8_t out[DNS_MSG_TCP_MAX];

static int fwd_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct fwd *f = ctx;

	f->sends++;
	/* One query per input at most: a second one would be a bug. */
	CHECK(!f->busy);
	f->query = ares_dns_record_duplicate(query);
	if (f->query == NULL)
		return -ENOMEM;
	f->busy = true;
	f->cb = cb;
	f->arg = arg;
	return 0;
}

static void later_fn(void *arg, const uint8_t *msg, size_t len)
{
	struct later *l = arg;

	l->calls++;
	l->null = msg == NULL;
	CHECK(msg == NULL ? len == 0 : len > 0 && len <= sizeof(l->msg));
	l->len = len;
	if (msg != NULL)
		memcpy(l->msg, msg, len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct dns_intercept_config fc = {
		.mode = DNS_MODE_FAKE_IP,
		.has4 = true,
		.prefix4 = 28,
		.has6 = true,
		.prefix6 = 124,
		.exclude4 = tun4,
		.n_exclude4 = 1,
		.filter = user_filter,
		.realip_max = 64,
	};
	struct dns_intercept_config rc = { .mode = DNS_MODE_REAL_IP, .realip_max = 64 };
	struct dns_forwarder ff = { .send = fwd_send, .ctx = &fake_fwd },
			     rf = { .send = fwd_send, .ctx = &real_fwd };
	char err[256];

	(void)argc;
	(void)argv;
	memcpy(fc.net4, net4, 4);
	memcpy(fc.net6, net6, 16);
	CHECK(uv_loop_init(&loop) == 0);
	CHECK(dns_intercept_create(&loop, NULL, &fc, &ff, &fake_di, err, sizeof(err)) == 0);
	CHECK(dns_intercept_create(&loop, NULL, &rc, &rf, &real_di, err, sizeof(err)) == 0);
	return 0;
}

static bool in_pool(const uint8_t *a, size_t alen)
{
	if (alen == 4)
		return memcmp(a, net4, 3) == 0 && (a[3] & 0xf0) == 0;
	return memcmp(a, net6, 15) == 0 && (a[15] & 0xf0) == 0;
}

static ip_addr_t ip_of(const uint8_t *a, size_t alen)
{
	ip_addr_t ip;

	if (alen == 4) {
		IP_ADDR4(&ip, a[0], a[1], a[2], a[3]);
	} else {
		ip_addr_set_zero_ip6(&ip);
		memcpy(ip_2_ip6(&ip)->addr, a, 16);
	}
	return ip;
}

/* The first A/AAAA answer of rec into a; its length or 0. */
static size_t first_addr(const ares_dns_record_t *rec, uint8_t a[16])
{
	size_t n = ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER);

	for (size_t i = 0; i < n; i++) {
		const ares_dns_rr_t *rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, i);

		if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_A) {
			memcpy(a, ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR), 4);
			return 4;
		}
		if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_AAAA) {
			memcpy(a, ares_dns_rr_get_addr6(rr, ARES_RR_AAAA_ADDR), 16);
			return 16;
		}
	}
	return 0;
}

/* flow_name on a, with the contract's checks; releases any pin. Returns
 * the result, the name in name. */
static int flow(struct dns_intercept *di, const uint8_t *a, size_t alen, char name[256])
{
	ip_addr_t ip = ip_of(a, alen);
	bool pinned = true;
	bool pool = di == fake_di && in_pool(a, alen);
	int r;

	memset(name, 'X', 256);
	r = dns_intercept_flow_name(di, &ip, name, 256, &pinned);
	if (r == 0) {
		size_t len = strnlen(name, 256);

		CHECK(len > 0 && len < 256);
		for (size_t i = 0; i < len; i++)
			CHECK(!(name[i] >= 'A' && name[i] <= 'Z'));
	} else {
		CHECK(name[0] == '\0');
		CHECK(!pinned);
	}
	if (pool) {
		CHECK(r == 0 || r == -ESTALE);
		CHECK(pinned == (r == 0));
	} else {
		CHECK(r == 0 || r == -ENOENT);
		CHECK(!pinned);
	}
	if (pinned)
		dns_intercept_flow_done(di, &ip);
	return r;
}

struct addr_last {
	uint8_t a[16];
	size_t alen;
	int n;
};

static void addr_cb(void *arg, const char *qname, const uint8_t *addr, size_t alen, uint32_t ttl)
{
	struct addr_last *l = arg;

	(void)qname;
	(void)ttl;
	memcpy(l->a, addr, alen);
	l->alen = alen;
	l->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_intercept *di;
	struct fwd *fw;
	struct dns_query q;
	const uint8_t *query, *reply;
	size_t qlen, rlen, max_msg, limit, alen = 0;
	uint8_t ctl, a[16];
	char name[256];
	int pr, n;
	bool forwarded = false;

	if (size < 3)
		return 0;
	ctl = data[0];
	qlen = (size_t)data[1] << 8 | data[2];
	if (qlen > size - 3)
		qlen = size - 3;
	query = data + 3;
	reply = query + qlen;
	rlen = size - 3 - qlen;
	di = (ctl & 1) ? real_di : fake_di;
	fw = (ctl & 1) ? &real_fwd : &fake_fwd;
	max_msg = (ctl & 0x20) ? DNS_MSG_TCP_MAX : 0;
	memset(&lt, 0, offsetof(struct later, msg));
	memset(a, 0, sizeof(a));

	pr = dns_msg_parse_query(query, qlen, &q);
	limit = max_msg ? max_msg : (pr == 0 ? dns_msg_udp_limit(&q) : DNS_MSG_UDP_MIN);
	if (limit < DNS_MSG_UDP_MIN)
		limit = DNS_MSG_UDP_MIN;

	n = dns_intercept_query(di, query, qlen, max_msg, out, sizeof(out), later_fn, &lt);
	CHECK(n == -EINPROGRESS || n >= 0);
	CHECK(lt.calls == 0);
	if (n == 0) {
		/* Only what dns_msg.h says to drop is dropped. */
		CHECK(pr == -EINVAL || pr == -ENOMEM);
		CHECK(!fw->busy);
	} else if (n > 0) {
		CHECK(!fw->busy);
		CHECK((size_t)n >= 12 && (size_t)n <= limit);
		CHECK(qlen >= 2 && out[0] == query[0] && out[1] == query[1]);
		CHECK(out[2] & 0x80);
		if (pr == 0 && di == fake_di && (out[3] & 0xf) == 0 &&
		    (q.qtype == ARES_REC_TYPE_A || q.qtype == ARES_REC_TYPE_AAAA)) {
			ares_dns_record_t *rec = NULL;

			/* A fake answer (or NODATA if it was truncated). */
			CHECK(ares_dns_parse(out, (size_t)n, 0, &rec) == ARES_SUCCESS);
			alen = first_addr(rec, a);
			ares_dns_record_destroy(rec);
			if (alen != 0) {
				CHECK(alen == (q.qtype == ARES_REC_TYPE_A ? 4u : 16u));
				CHECK(in_pool(a, alen));
				CHECK(!(alen == 4 && memcmp(a, tun4[0], 4) == 0));
				CHECK(flow(di, a, alen, name) == 0);
				CHECK(strcmp(name, q.name) == 0);
			}
		}
	} else {
		const char *fname = NULL;
		ares_dns_rec_type_t ftype = 0;
		ares_dns_record_t *rec = NULL;
		struct addr_last learned = { .n = 0 };
		int status = 0;

		forwarded = true;
		CHECK(pr == 0 && fw->busy);
		CHECK(ares_dns_record_query_get(fw->query, 0, &fname, &ftype, NULL) ==
		      ARES_SUCCESS);
		CHECK(strcmp(fname, q.name) == 0 && (int)ftype == q.qtype);
		if (ctl & 2) {
			static const int errs[] = { -ETIMEDOUT, -ECONNREFUSED, -ECANCELED, -EIO };

			status = errs[(ctl >> 2) & 3];
		} else if (ares_dns_parse(reply, rlen, 0, &rec) != ARES_SUCCESS) {
			status = -EBADMSG;
			rec = NULL;
		} else if ((ctl & 0x10) && ares_dns_record_query_cnt(rec) == 1) {
			ares_dns_record_query_set_name(rec, 0, q.name);
			ares_dns_record_query_set_type(rec, 0, (ares_dns_rec_type_t)q.qtype);
		}
		if (rec != NULL)
			dns_msg_record_addrs(rec, addr_cb, &learned);
		fw->busy = false;
		fw->cb(fw->arg, status, rec);
		ares_dns_record_destroy(fw->query);
		fw->query = NULL;

		CHECK(lt.calls == 1);
		CHECK(lt.null == (status == -ECANCELED));
		if (!lt.null) {
			CHECK(lt.len >= 12 && lt.len <= limit);
			CHECK(lt.msg[0] == query[0] && lt.msg[1] == query[1]);
			CHECK(lt.msg[2] & 0x80);
		}
		/* Learning (real-ip, and fake-ip filter names): a relayed
		 * NOERROR answer to A/AAAA maps the last address reported for
		 * the question to its name (earlier ones may have been evicted
		 * by the 64 cap). A fake-pool address stays the pool's. */
		if (rec != NULL && status == 0 && lt.len >= 12 &&
		    !(di == fake_di && in_pool(learned.a, learned.alen)) &&
		    (lt.msg[3] & 0xf) == 0 && ares_dns_record_get_rcode(rec) == 0 &&
		    (q.qtype == ARES_REC_TYPE_A || q.qtype == ARES_REC_TYPE_AAAA) &&
		    learned.n > 0 && q.name[0] != '\0') {
			CHECK(flow(di, learned.a, learned.alen, name) == 0);
			CHECK(strcmp(name, q.name) == 0);
		}
		if (rec != NULL && (ctl >> 6) == 3)
			alen = first_addr(rec, a);
		ares_dns_record_destroy(rec);
	}
	CHECK(!fw->busy);
	CHECK(lt.calls == (forwarded ? 1 : 0));

	/* One more flow, to an address the input picks. */
	switch (ctl >> 6) {
	case 0: /* the synchronous answer's, if any (else the pool's first) */
		if (alen == 0) {
			memcpy(a, net6, 16);
			a[15] = 2;
			alen = 16;
		}
		break;
	case 1: /* somewhere in a fake pool, mapped or not */
		if (size & 1) {
			memcpy(a, net4, 4);
			a[3] = data[size - 1] & 0x1f; /* half in, half out */
			alen = 4;
		} else {
			memcpy(a, net6, 16);
			a[15] = data[size - 1] & 0x1f;
			alen = 16;
		}
		break;
	case 2: /* anything */
		alen = size >= 16 + 3 && (data[size - 1] & 1) ? 16 : 4;
		if (size >= alen + 3)
			memcpy(a, data + size - alen, alen);
		break;
	default: /* the reply's first address, set above */
		if (alen == 0)
			alen = 4;
		break;
	}
	(void)flow(di, a, alen, name);
	(void)flow(di == fake_di ? real_di : fake_di, a, alen, name);

	/* The reaper's turn (it frees closed TCP clients: none here). */
	uv_run(&loop, UV_RUN_NOWAIT);
	return 0;
}
