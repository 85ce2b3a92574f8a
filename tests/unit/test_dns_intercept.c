/* dns_intercept: fake-ip and real-ip answers, forwarding, names for flows.
 *
 * dns_intercept_query() is driven directly on a libuv loop with a fake
 * forwarder: its send() keeps a copy of the upstream query and the
 * callback, and the test completes each one later with a reply built by
 * the c-ares record API (as c-ares would hand it over), with an error
 * status, or with -ECANCELED. Answers are read back with ares_dns_parse;
 * only header bits c-ares cannot show (QR, RA, TC) are read as bytes.
 * dns_intercept_udp() gets a real lwIP stack whose output is captured, so
 * the answer's addresses and ports are checked on the packet itself.
 *
 * Every scenario ends with every forwarded query completed, shutdown, the
 * loop run dry and uv_loop_close() == 0; the ASan build catches leaks.
 */
#include "lwip/pbuf.h"

#include "resolver/dns_intercept.h"
#include "resolver/dns_hosts.h"
#include "resolver/dns_msg.h"
#include "lwip-port/stack.h"
#include "lwip_helper.h"
#include "test.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define T_A ARES_REC_TYPE_A
#define T_AAAA ARES_REC_TYPE_AAAA
#define T_PTR ARES_REC_TYPE_PTR
#define T_MX ARES_REC_TYPE_MX
#define T_TXT ARES_REC_TYPE_TXT
#define T_HTTPS ARES_REC_TYPE_HTTPS

#define FLAG_QR 0x80 /* header byte 2 */
#define FLAG_TC 0x02 /* header byte 2 */
#define FLAG_RA 0x80 /* header byte 3 */

static const uint8_t net6_default[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 1 };

/* ---- fake forwarder ---------------------------------------------------- */

enum { FWD_MAX = 64 };

struct fwd_call {
	ares_dns_record_t *query; /* our copy: the caller keeps its own */
	resolver_cb cb;
	void *arg;
};

struct fwd {
	struct fwd_call c[FWD_MAX];
	size_t n;
	unsigned sends; /* every send() call, failed ones too */
	int fail;       /* send() returns this when < 0 */
};

static int fwd_send(void *ctx, const struct ares_dns_record *query, resolver_cb cb, void *arg)
{
	struct fwd *f = ctx;

	f->sends++;
	if (f->fail < 0)
		return f->fail;
	if (f->n == FWD_MAX)
		return -ENOBUFS;
	f->c[f->n].query = ares_dns_record_duplicate(query);
	if (f->c[f->n].query == NULL)
		return -ENOMEM;
	f->c[f->n].cb = cb;
	f->c[f->n].arg = arg;
	f->n++;
	return 0;
}

/* Completes forwarded query i as the resolver would (later, from the
 * loop's point of view: never inside send()). */
static void fwd_complete(struct fwd *f, size_t i, int status, const ares_dns_record_t *reply)
{
	struct fwd_call c;

	if (i >= f->n) {
		T_CHECK(i < f->n);
		return;
	}
	c = f->c[i];
	memmove(&f->c[i], &f->c[i + 1], (f->n - i - 1) * sizeof(f->c[0]));
	f->n--;
	c.cb(c.arg, status, reply);
	ares_dns_record_destroy(c.query);
}

static const char *fwd_qname(const struct fwd *f, size_t i)
{
	const char *name = NULL;

	if (i >= f->n || ares_dns_record_query_cnt(f->c[i].query) != 1 ||
	    ares_dns_record_query_get(f->c[i].query, 0, &name, NULL, NULL) != ARES_SUCCESS)
		return NULL;
	return name;
}

static int fwd_qtype(const struct fwd *f, size_t i)
{
	ares_dns_rec_type_t t = 0;

	if (i >= f->n ||
	    ares_dns_record_query_get(f->c[i].query, 0, NULL, &t, NULL) != ARES_SUCCESS)
		return -1;
	return (int)t;
}

/* ---- the requester's later() -------------------------------------------- */

struct later {
	int calls, nulls;
	size_t len;
	uint8_t msg[DNS_MSG_TCP_MAX];
};
static struct later lt;

static void later_fn(void *arg, const uint8_t *msg, size_t len)
{
	struct later *l = arg;

	l->calls++;
	if (msg == NULL) {
		l->nulls++;
		l->len = 0;
		return;
	}
	T_CHECK(len > 0 && len <= sizeof(l->msg));
	l->len = len <= sizeof(l->msg) ? len : 0;
	memcpy(l->msg, msg, l->len);
}

/* ---- environment ----------------------------------------------------------- */

struct env {
	uv_loop_t loop;
	struct fwd fwd;
	struct dns_intercept *di;
	char err[256];
};

static struct dns_intercept_config fake_cfg(void)
{
	struct dns_intercept_config c = {
		.mode = DNS_MODE_FAKE_IP,
		.has4 = true,
		.net4 = { 198, 18, 0, 0 },
		.prefix4 = 15,
		.has6 = true,
		.prefix6 = 64,
	};

	memcpy(c.net6, net6_default, 16);
	return c;
}

/* The forwarder's own-query check env_init installs (NULL: none). */
static bool (*own_hook)(void *ctx, const struct sockaddr *src, uint16_t id, const char *name,
			uint16_t qtype);

static bool env_init(struct env *e, const struct dns_intercept_config *cfg, struct stack *st)
{
	struct dns_forwarder fw = { .send = fwd_send, .ctx = &e->fwd, .is_own = own_hook };
	int r;

	memset(e, 0, sizeof(*e));
	memset(&lt, 0, sizeof(lt));
	T_EQ_INT(uv_loop_init(&e->loop), 0);
	r = dns_intercept_create(&e->loop, st, cfg, &fw, &e->di, e->err, sizeof(e->err));
	T_EQ_INT(r, 0);
	T_CHECK(e->di != NULL);
	if (e->di == NULL) {
		fprintf(stderr, "dns_intercept_create: %s\n", e->err);
		uv_loop_close(&e->loop);
		return false;
	}
	return true;
}

/* Every forwarded query must have been completed by the test. */
static void env_done(struct env *e)
{
	T_EQ_INT(e->fwd.n, 0);
	while (e->fwd.n > 0)
		fwd_complete(&e->fwd, 0, -ECANCELED, NULL);
	dns_intercept_shutdown(e->di);
	dns_intercept_shutdown(e->di); /* idempotent */
	uv_run(&e->loop, UV_RUN_DEFAULT);
	dns_intercept_destroy(e->di);
	T_EQ_INT(uv_loop_close(&e->loop), 0);
}

/* ---- messages -------------------------------------------------------------- */

static size_t rec_write(ares_dns_record_t *rec, uint8_t *buf, size_t cap)
{
	unsigned char *wire = NULL;
	size_t len = 0;

	if (rec == NULL)
		return 0;
	if (ares_dns_write(rec, &wire, &len) != ARES_SUCCESS || len > cap)
		len = 0;
	else
		memcpy(buf, wire, len);
	ares_free_string(wire);
	ares_dns_record_destroy(rec);
	return len;
}

static void add_opt(ares_dns_record_t *rec, unsigned short udp, unsigned char version)
{
	ares_dns_rr_t *rr = NULL;

	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ADDITIONAL, "", ARES_REC_TYPE_OPT,
			       ARES_CLASS_IN, 0);
	ares_dns_rr_set_u16(rr, ARES_RR_OPT_UDP_SIZE, udp);
	ares_dns_rr_set_u8(rr, ARES_RR_OPT_VERSION, version);
	ares_dns_rr_set_u16(rr, ARES_RR_OPT_FLAGS, 0);
}

/* A client query with RD; udp == 0: no EDNS. */
static size_t mk_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, int qtype,
		       unsigned short udp)
{
	ares_dns_record_t *rec = NULL;

	if (ares_dns_record_create(&rec, id, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR) !=
	    ARES_SUCCESS)
		return 0;
	ares_dns_record_query_add(rec, name, (ares_dns_rec_type_t)qtype, ARES_CLASS_IN);
	if (udp)
		add_opt(rec, udp, 0);
	return rec_write(rec, buf, cap);
}

static uint8_t out[DNS_MSG_TCP_MAX];

/* Asks di; a synchronous answer lands in out. */
static int ask_edns(struct env *e, uint16_t id, const char *name, int qtype, unsigned short udp)
{
	uint8_t q[600];
	size_t n = mk_query(q, sizeof(q), id, name, qtype, udp);

	T_CHECK(n > 0);
	return dns_intercept_query(e->di, q, n, 0, out, sizeof(out), later_fn, &lt);
}

static int ask(struct env *e, uint16_t id, const char *name, int qtype)
{
	return ask_edns(e, id, name, qtype, 0);
}

/* An upstream reply as c-ares would hand it to the callback. */
static ares_dns_record_t *reply_new(uint16_t id, const char *qname, int qtype, int rcode)
{
	ares_dns_record_t *r = NULL;

	if (ares_dns_record_create(&r, id, ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA,
				   ARES_OPCODE_QUERY, (ares_dns_rcode_t)rcode) != ARES_SUCCESS)
		return NULL;
	ares_dns_record_query_add(r, qname, (ares_dns_rec_type_t)qtype, ARES_CLASS_IN);
	return r;
}

static ares_dns_rr_t *rr_add(ares_dns_record_t *r, ares_dns_section_t sect, const char *owner,
			     int type, unsigned ttl)
{
	ares_dns_rr_t *rr = NULL;

	T_EQ_INT(ares_dns_record_rr_add(&rr, r, sect, owner, (ares_dns_rec_type_t)type,
					ARES_CLASS_IN, ttl),
		 ARES_SUCCESS);
	return rr;
}

static void add_a(ares_dns_record_t *r, const char *owner, const char *ip, unsigned ttl)
{
	struct in_addr a;

	inet_pton(AF_INET, ip, &a);
	ares_dns_rr_set_addr(rr_add(r, ARES_SECTION_ANSWER, owner, T_A, ttl), ARES_RR_A_ADDR, &a);
}

static void add_aaaa(ares_dns_record_t *r, const char *owner, const char *ip, unsigned ttl)
{
	struct ares_in6_addr a;

	inet_pton(AF_INET6, ip, &a);
	ares_dns_rr_set_addr6(rr_add(r, ARES_SECTION_ANSWER, owner, T_AAAA, ttl), ARES_RR_AAAA_ADDR,
			      &a);
}

static void add_cname(ares_dns_record_t *r, const char *owner, const char *target, unsigned ttl)
{
	ares_dns_rr_set_str(rr_add(r, ARES_SECTION_ANSWER, owner, ARES_REC_TYPE_CNAME, ttl),
			    ARES_RR_CNAME_CNAME, target);
}

static ares_dns_record_t *parse_back(const uint8_t *buf, size_t len)
{
	ares_dns_record_t *rec = NULL;

	if (len == 0 || ares_dns_parse(buf, len, 0, &rec) != ARES_SUCCESS)
		return NULL;
	return rec;
}

static bool has_opt(const ares_dns_record_t *rec)
{
	size_t n = ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL);

	for (size_t i = 0; i < n; i++)
		if (ares_dns_rr_get_type(ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL,
								      i)) == ARES_REC_TYPE_OPT)
			return true;
	return false;
}

static const ares_dns_rr_t *an(const ares_dns_record_t *rec, size_t i)
{
	return ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, i);
}

/* Checks an answer: header bytes (ID, QR, RA, RD echoed, rcode), the echoed
 * question exactly as given (qname NULL: no question) and the answer
 * count. Returns the parsed record (caller destroys) or NULL. */
#define CHECK_ANSWER(msg, len, id, qname, qtype, rcode, ancount) \
	check_answer(__LINE__, msg, len, id, qname, qtype, rcode, ancount)
static ares_dns_record_t *check_answer(int line, const uint8_t *msg, long len, uint16_t id,
				       const char *qname, int qtype, int rcode, size_t ancount)
{
	int before = test_failed_;
	ares_dns_record_t *rec = NULL;
	const char *name = NULL;
	ares_dns_rec_type_t type = 0;

	T_CHECK(len >= 12);
	if (len < 12)
		goto out;
	T_EQ_INT(msg[0] << 8 | msg[1], id);
	T_CHECK(msg[2] & FLAG_QR);
	T_CHECK(msg[2] & 0x01); /* RD echoed: every query here sets it */
	T_CHECK(msg[3] & FLAG_RA);
	rec = parse_back(msg, (size_t)len);
	T_CHECK(rec != NULL);
	if (rec == NULL)
		goto out;
	T_EQ_INT(ares_dns_record_get_rcode(rec), rcode);
	if (qname == NULL) {
		T_EQ_INT(ares_dns_record_query_cnt(rec), 0);
	} else {
		T_EQ_INT(ares_dns_record_query_cnt(rec), 1);
		ares_dns_record_query_get(rec, 0, &name, &type, NULL);
		T_EQ_STR(name, qname);
		T_EQ_INT(type, qtype);
	}
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), ancount);
out:
	if (test_failed_ != before)
		fprintf(stderr, "  (answer checked at line %d)\n", line);
	return rec;
}

/* The address of answer i (A or AAAA) into a; returns its length, 0 if
 * answer i is neither. */
static size_t answer_addr(const ares_dns_record_t *rec, size_t i, uint8_t a[16], unsigned *ttl)
{
	const ares_dns_rr_t *rr = an(rec, i);

	memset(a, 0, 16);
	if (rr == NULL)
		return 0;
	if (ttl)
		*ttl = ares_dns_rr_get_ttl(rr);
	if (ares_dns_rr_get_type(rr) == T_A) {
		memcpy(a, ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR), 4);
		return 4;
	}
	if (ares_dns_rr_get_type(rr) == T_AAAA) {
		memcpy(a, ares_dns_rr_get_addr6(rr, ARES_RR_AAAA_ADDR), 16);
		return 16;
	}
	return 0;
}

/* Asks for name's fake A (alen 4) or AAAA (16) address; checks the answer
 * and returns true with the address in a. */
static bool fake_addr(struct env *e, uint16_t id, const char *name, size_t alen, uint8_t a[16])
{
	int qt = alen == 4 ? T_A : T_AAAA;
	int n = ask(e, id, name, qt);
	ares_dns_record_t *rec = CHECK_ANSWER(out, n, id, name, qt, ARES_RCODE_NOERROR, 1);
	size_t got = 0;

	if (rec != NULL) {
		got = answer_addr(rec, 0, a, NULL);
		ares_dns_record_destroy(rec);
	}
	T_EQ_INT(got, alen);
	return got == alen;
}

static void ptr_name4(const uint8_t a[4], char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
}

static void ptr_name6(const uint8_t a[16], char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;

	for (int i = 15; i >= 0 && k + 4 < cap; i--) {
		buf[k++] = hex[a[i] & 0xf];
		buf[k++] = '.';
		buf[k++] = hex[a[i] >> 4];
		buf[k++] = '.';
	}
	snprintf(buf + k, cap - k, "ip6.arpa");
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

static ip_addr_t ip_str(const char *s)
{
	uint8_t a[16];

	if (strchr(s, ':')) {
		inet_pton(AF_INET6, s, a);
		return ip_of(a, 16);
	}
	inet_pton(AF_INET, s, a);
	return ip_of(a, 4);
}

/* dns_intercept_flow_name into name; checks the name is cleared first. */
static int flow_name(struct env *e, const ip_addr_t *ip, char name[256], bool *pinned)
{
	memset(name, 'X', 256);
	*pinned = true;
	int r = dns_intercept_flow_name(e ? e->di : NULL, ip, name, 256, pinned);
	if (r != 0)
		T_EQ_INT(name[0], '\0');
	return r;
}

static bool in_default4(const uint8_t a[4])
{
	/* 198.18.0.0/15, not the network address */
	return a[0] == 198 && (a[1] & 0xfe) == 18 && !(a[1] == 18 && a[2] == 0 && a[3] == 0);
}

static bool in_default6(const uint8_t a[16])
{
	static const uint8_t zero[8];

	return memcmp(a, net6_default, 8) == 0 && memcmp(a + 8, zero, 8) != 0;
}

/* ---- fake-ip answers ------------------------------------------------------- */

static void test_fake_a_aaaa(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	uint8_t a[16], b[16], c[16], a6[16], b6[16];
	ares_dns_record_t *rec;
	unsigned ttl = 0;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	T_EQ_INT(dns_intercept_mode(e.di), DNS_MODE_FAKE_IP);

	n = ask(&e, 0x1234, "www.example.com", T_A);
	rec = CHECK_ANSWER(out, n, 0x1234, "www.example.com", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		const ares_dns_rr_t *rr = an(rec, 0);

		T_EQ_INT(answer_addr(rec, 0, a, &ttl), 4);
		T_CHECK(in_default4(a));
		T_EQ_INT(ttl, 1);
		T_EQ_INT(ares_dns_rr_get_class(rr), ARES_CLASS_IN);
		T_EQ_STR(ares_dns_rr_get_name(rr), "www.example.com");
		T_CHECK(!has_opt(rec)); /* the query had no EDNS */
		ares_dns_record_destroy(rec);
	}

	/* Same name, any case: same address; the question is echoed in the
	 * client's case (DNS 0x20). With EDNS, the answer carries OPT. */
	n = ask_edns(&e, 0x1235, "WWW.Example.COM", T_A, 1232);
	rec = CHECK_ANSWER(out, n, 0x1235, "WWW.Example.COM", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, b, &ttl), 4);
		T_EQ_MEM(a, b, 4);
		T_EQ_INT(ttl, 1);
		T_CHECK(has_opt(rec));
		ares_dns_record_destroy(rec);
	}
	T_CHECK(fake_addr(&e, 0x1236, "www.example.com", 4, b));
	T_EQ_MEM(a, b, 4);

	/* Another name: another address. */
	T_CHECK(fake_addr(&e, 0x1237, "other.example.com", 4, c));
	T_CHECK(in_default4(c));
	T_CHECK(memcmp(a, c, 4) != 0);

	/* AAAA from the v6 pool, TTL 1, stable. */
	n = ask(&e, 0x2000, "www.example.com", T_AAAA);
	rec = CHECK_ANSWER(out, n, 0x2000, "www.example.com", T_AAAA, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, a6, &ttl), 16);
		T_CHECK(in_default6(a6));
		T_EQ_INT(ttl, 1);
		ares_dns_record_destroy(rec);
	}
	T_CHECK(fake_addr(&e, 0x2001, "Www.Example.Com", 16, b6));
	T_EQ_MEM(a6, b6, 16);
	T_CHECK(fake_addr(&e, 0x2002, "other.example.com", 16, b6));
	T_CHECK(in_default6(b6));
	T_CHECK(memcmp(a6, b6, 16) != 0);

	/* Nothing went upstream. */
	T_EQ_INT(e.fwd.sends, 0);
	T_EQ_INT(lt.calls, 0);
	T_EQ_INT(dns_intercept_stats(e.di)->answered_fake, 7);
	T_EQ_INT(dns_intercept_stats(e.di)->queries, 7);
	T_EQ_INT(dns_intercept_stats(e.di)->forwarded, 0);
	env_done(&e);
}

/* A family without a pool answers NODATA (NOERROR, no records), locally;
 * fake_ttl is honoured. */
static void test_no_pool_nodata(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	uint8_t a[16];
	unsigned ttl = 0;
	int n;

	cfg.has6 = false;
	cfg.fake_ttl = 30;
	if (!env_init(&e, &cfg, NULL))
		return;
	n = ask(&e, 9, "v6only.example", T_AAAA);
	rec = CHECK_ANSWER(out, n, 9, "v6only.example", T_AAAA, ARES_RCODE_NOERROR, 0);
	ares_dns_record_destroy(rec);
	n = ask(&e, 10, "v6only.example", T_A);
	rec = CHECK_ANSWER(out, n, 10, "v6only.example", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, a, &ttl), 4);
		T_EQ_INT(ttl, 30);
		ares_dns_record_destroy(rec);
	}
	T_EQ_INT(e.fwd.sends, 0);
	env_done(&e);

	cfg = fake_cfg();
	cfg.has4 = false;
	if (!env_init(&e, &cfg, NULL))
		return;
	n = ask(&e, 11, "v4only.example", T_A);
	rec = CHECK_ANSWER(out, n, 11, "v4only.example", T_A, ARES_RCODE_NOERROR, 0);
	ares_dns_record_destroy(rec);
	T_CHECK(fake_addr(&e, 12, "v4only.example", 16, a));
	T_CHECK(in_default6(a));
	T_EQ_INT(e.fwd.sends, 0);
	env_done(&e);
}

static void test_ptr(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	static const uint8_t unmapped4[4] = { 198, 19, 255, 254 };
	static const uint8_t unmapped6[16] = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0,    1,
					       0,    0,    0,    0,    0,    0,    0xff, 0xff };
	struct env e;
	uint8_t a[16], a6[16];
	char rev[128], upper[128];
	ares_dns_record_t *rec;
	unsigned ttl = 0;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	T_CHECK(fake_addr(&e, 1, "mapped.example", 4, a));
	T_CHECK(fake_addr(&e, 2, "six.example", 16, a6));

	/* PTR of a mapped fake address: the name, TTL 1, answered here. */
	ptr_name4(a, rev, sizeof(rev));
	n = ask(&e, 77, rev, T_PTR);
	rec = CHECK_ANSWER(out, n, 77, rev, T_PTR, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(ares_dns_rr_get_type(an(rec, 0)), T_PTR);
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_PTR_DNAME), "mapped.example");
		T_EQ_INT(ares_dns_rr_get_ttl(an(rec, 0)), 1);
		ares_dns_record_destroy(rec);
	}
	/* Reverse names are case-insensitive. */
	snprintf(upper, sizeof(upper), "%s", rev);
	memcpy(strstr(upper, "in-addr.arpa"), "IN-ADDR.ARPA", 12);
	n = ask(&e, 78, upper, T_PTR);
	rec = CHECK_ANSWER(out, n, 78, upper, T_PTR, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_PTR_DNAME), "mapped.example");
		ares_dns_record_destroy(rec);
	}
	ptr_name6(a6, rev, sizeof(rev));
	n = ask(&e, 79, rev, T_PTR);
	rec = CHECK_ANSWER(out, n, 79, rev, T_PTR, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_PTR_DNAME), "six.example");
		ares_dns_record_destroy(rec);
	}

	/* In the range, mapped to nothing: NXDOMAIN, locally. */
	ptr_name4(unmapped4, rev, sizeof(rev));
	n = ask(&e, 80, rev, T_PTR);
	rec = CHECK_ANSWER(out, n, 80, rev, T_PTR, ARES_RCODE_NXDOMAIN, 0);
	ares_dns_record_destroy(rec);
	ptr_name6(unmapped6, rev, sizeof(rev));
	n = ask(&e, 81, rev, T_PTR);
	rec = CHECK_ANSWER(out, n, 81, rev, T_PTR, ARES_RCODE_NXDOMAIN, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(e.fwd.sends, 0);
	T_EQ_INT(dns_intercept_stats(e.di)->answered_ptr, 5);

	/* Outside the range: forwarded, the upstream's answer relayed with
	 * the client's ID. */
	T_EQ_INT(ask(&e, 82, "8.8.8.8.in-addr.arpa", T_PTR), -EINPROGRESS);
	T_EQ_INT(e.fwd.n, 1);
	T_EQ_STR(fwd_qname(&e.fwd, 0), "8.8.8.8.in-addr.arpa");
	T_EQ_INT(fwd_qtype(&e.fwd, 0), T_PTR);
	rec = reply_new(0xbeef, "8.8.8.8.in-addr.arpa", T_PTR, ARES_RCODE_NOERROR);
	ares_dns_rr_set_str(rr_add(rec, ARES_SECTION_ANSWER, "8.8.8.8.in-addr.arpa", T_PTR, 600),
			    ARES_RR_PTR_DNAME, "dns.google");
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(lt.calls, 1);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 82, "8.8.8.8.in-addr.arpa", T_PTR,
			   ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_PTR_DNAME), "dns.google");
		T_EQ_INT(ares_dns_rr_get_ttl(an(rec, 0)), 600);
		ares_dns_record_destroy(rec);
	}
	/* A PTR name that is no reverse address: forwarded too. */
	T_EQ_INT(ask(&e, 83, "_dns-sd._udp.example", T_PTR), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	(void)ttl;
	env_done(&e);
}

/* ---- the fake-ip filter ------------------------------------------------------ */

static void test_filter(void)
{
	static const char *const user[] = { "+.corp.example", "*.wild.test", NULL };
	static const struct {
		const char *name;
		int qtype;
		bool forwarded;
	} cases[] = {
		{ "localhost", T_A, true },
		{ "printer.lan", T_A, true },
		{ "Printer.LAN", T_AAAA, true },
		{ "nas.local", T_A, true },
		{ "time.windows.com", T_A, true },
		{ "pool.ntp.org", T_AAAA, true },
		{ "corp.example", T_A, true },
		{ "a.b.corp.example", T_AAAA, true },
		{ "x.wild.test", T_A, true },
		{ "x.y.wild.test", T_A, false }, /* '*' is one label */
		{ "wild.test", T_A, false },
		{ "notcorp.example", T_A, false },
		{ "lan.example", T_A, false },
	};
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	uint8_t a[16];
	char name[256];
	bool pinned;
	unsigned sends = 0;

	cfg.filter = user;
	if (!env_init(&e, &cfg, NULL))
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = ask(&e, (uint16_t)(100 + i), cases[i].name, cases[i].qtype);

		if (cases[i].forwarded) {
			T_EQ_INT(n, -EINPROGRESS);
			T_EQ_INT(e.fwd.sends, ++sends);
			T_EQ_INT(e.fwd.n, 1);
			/* Upstream gets the lower-cased question, RD, EDNS. */
			if (e.fwd.n == 1) {
				char low[64];
				size_t k;

				for (k = 0; cases[i].name[k]; k++)
					low[k] = (char)(cases[i].name[k] |
							(cases[i].name[k] >= 'A' &&
									 cases[i].name[k] <= 'Z'
								 ? 0x20
								 : 0));
				low[k] = '\0';
				T_EQ_STR(fwd_qname(&e.fwd, 0), low);
				T_EQ_INT(fwd_qtype(&e.fwd, 0), cases[i].qtype);
				T_CHECK(ares_dns_record_get_flags(e.fwd.c[0].query) & ARES_FLAG_RD);
				T_CHECK(has_opt(e.fwd.c[0].query));
				rec = reply_new(0x7777, low, cases[i].qtype, ARES_RCODE_NXDOMAIN);
				fwd_complete(&e.fwd, 0, 0, rec);
				ares_dns_record_destroy(rec);
				T_EQ_INT(lt.calls, (int)sends);
				rec = CHECK_ANSWER(lt.msg, (long)lt.len, 100 + i, cases[i].name,
						   cases[i].qtype, ARES_RCODE_NXDOMAIN, 0);
				ares_dns_record_destroy(rec);
			}
		} else {
			rec = CHECK_ANSWER(out, n, 100 + i, cases[i].name, cases[i].qtype,
					   ARES_RCODE_NOERROR, 1);
			if (rec != NULL) {
				T_EQ_INT(answer_addr(rec, 0, a, NULL), 4);
				T_CHECK(in_default4(a));
				ares_dns_record_destroy(rec);
			}
			T_EQ_INT(e.fwd.sends, sends);
		}
		if (test_failed_)
			fprintf(stderr, "  (case %s)\n", cases[i].name);
	}

	/* A filtered name's real answer is relayed and remembered, so a flow
	 * to the real address still carries the name. */
	T_EQ_INT(ask(&e, 0x3003, "printer.lan", T_A), -EINPROGRESS);
	rec = reply_new(0x9000, "printer.lan", T_A, ARES_RCODE_NOERROR);
	add_a(rec, "printer.lan", "192.168.1.10", 300);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x3003, "printer.lan", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		unsigned ttl = 0;

		T_EQ_INT(answer_addr(rec, 0, a, &ttl), 4);
		T_EQ_MEM(a, "\xc0\xa8\x01\x0a", 4);
		T_EQ_INT(ttl, 300);
		ares_dns_record_destroy(rec);
	}
	ip_addr_t real = ip_str("192.168.1.10");
	T_EQ_INT(flow_name(&e, &real, name, &pinned), 0);
	T_EQ_STR(name, "printer.lan");
	T_CHECK(!pinned);
	env_done(&e);
}

/* fake-ip-filter-mode: whitelist: only the listed names get fake answers,
 * and the built-in list does not apply. */
static void test_filter_whitelist(void)
{
	static const char *const user[] = { "+.fake.example", NULL };
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	uint8_t a[16];
	int n;

	cfg.filter = user;
	cfg.filter_whitelist = true;
	if (!env_init(&e, &cfg, NULL))
		return;
	n = ask(&e, 1, "www.fake.example", T_A);
	rec = CHECK_ANSWER(out, n, 1, "www.fake.example", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, a, NULL), 4);
		T_CHECK(in_default4(a));
		ares_dns_record_destroy(rec);
	}
	T_EQ_INT(e.fwd.sends, 0);
	T_EQ_INT(ask(&e, 2, "other.example", T_A), -EINPROGRESS);
	T_EQ_INT(e.fwd.sends, 1);
	/* not listed: a real answer (the built-in list plays no part) */
	T_EQ_INT(ask(&e, 3, "x.fake.example.lan", T_A), -EINPROGRESS);
	T_EQ_INT(e.fwd.sends, 2);
	while (e.fwd.n > 0)
		fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	env_done(&e);
}

/* hosts: answered before the fake pool and the upstream, in both modes;
 * the addresses are remembered so flows to them carry the name. */
static void test_hosts(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct dns_hosts *h = NULL;
	struct env e;
	ares_dns_record_t *rec;
	uint8_t a[16];
	char name[256];
	bool pinned;
	unsigned ttl = 0;
	int n;

	T_EQ_INT(dns_hosts_create(&h), 0);
	T_EQ_INT(dns_hosts_add(h, "router.home", "192.168.7.1"), 0);
	T_EQ_INT(dns_hosts_add(h, "router.home", "192.168.7.2"), 0);
	T_EQ_INT(dns_hosts_add(h, "+.v6only.test", "2001:db8::5"), 0);
	cfg.hosts = h;
	for (int mode = 0; mode < 2; mode++) {
		cfg.mode = mode == 0 ? DNS_MODE_FAKE_IP : DNS_MODE_REAL_IP;
		if (!env_init(&e, &cfg, NULL))
			break;
		n = ask(&e, 1, "Router.Home", T_A);
		rec = CHECK_ANSWER(out, n, 1, "Router.Home", T_A, ARES_RCODE_NOERROR, 2);
		if (rec != NULL) {
			T_EQ_INT(answer_addr(rec, 0, a, &ttl), 4);
			T_EQ_MEM(a, "\xc0\xa8\x07\x01", 4);
			T_EQ_INT(ttl, 10);
			ares_dns_record_destroy(rec);
		}
		/* no IPv6 address in the table: NODATA, not the pool */
		n = ask(&e, 2, "router.home", T_AAAA);
		rec = CHECK_ANSWER(out, n, 2, "router.home", T_AAAA, ARES_RCODE_NOERROR, 0);
		if (rec != NULL)
			ares_dns_record_destroy(rec);
		n = ask(&e, 3, "a.v6only.test", T_AAAA);
		rec = CHECK_ANSWER(out, n, 3, "a.v6only.test", T_AAAA, ARES_RCODE_NOERROR, 1);
		if (rec != NULL)
			ares_dns_record_destroy(rec);
		T_EQ_INT(e.fwd.sends, 0);
		ip_addr_t real = ip_str("192.168.7.2");
		T_EQ_INT(flow_name(&e, &real, name, &pinned), 0);
		T_EQ_STR(name, "router.home");
		T_CHECK(!pinned);
		env_done(&e);
	}
	dns_hosts_destroy(h);
}

static void test_create_errors(void)
{
	static const char *const bad[] = { "good.example", "bad..pattern", NULL };
	static const uint8_t only[1][4] = { { 198, 18, 0, 0 } };
	struct dns_intercept_config cfg = fake_cfg();
	struct dns_forwarder fw = { .send = fwd_send, .ctx = NULL };
	struct dns_intercept *di = (struct dns_intercept *)&di;
	uv_loop_t loop;
	char err[256];

	T_EQ_INT(uv_loop_init(&loop), 0);
	cfg.filter = bad;
	T_EQ_INT(dns_intercept_create(&loop, NULL, &cfg, &fw, &di, err, sizeof(err)), -EINVAL);
	T_CHECK(di == NULL);
	T_EQ_STR(err, "--fake-ip-filter: bad pattern 'bad..pattern'");

	/* A /32 whose only address is excluded: no usable address. */
	cfg = fake_cfg();
	cfg.has6 = false;
	cfg.prefix4 = 32;
	cfg.exclude4 = only;
	cfg.n_exclude4 = 1;
	di = (struct dns_intercept *)&di;
	T_EQ_INT(dns_intercept_create(&loop, NULL, &cfg, &fw, &di, err, sizeof(err)), -EINVAL);
	T_CHECK(di == NULL);
	T_EQ_STR(err, "--fake-ip-range: no usable address in the range");

	/* Mode off: no interceptor at all, and every entry point says "not
	 * mine" to NULL. */
	cfg = fake_cfg();
	cfg.mode = DNS_MODE_OFF;
	di = (struct dns_intercept *)&di;
	T_EQ_INT(dns_intercept_create(&loop, NULL, &cfg, &fw, &di, err, sizeof(err)), 0);
	T_CHECK(di == NULL);
	T_EQ_INT(dns_intercept_mode(NULL), DNS_MODE_OFF);
	T_CHECK(!dns_intercept_wants_tcp(NULL, 53));
	ip_addr_t ip = ip_str("198.18.0.5");
	char name[256];
	bool pinned;
	T_EQ_INT(flow_name(NULL, &ip, name, &pinned), -ENOENT);
	T_CHECK(!pinned);
	dns_intercept_flow_done(NULL, &ip);
	dns_intercept_shutdown(NULL);
	dns_intercept_destroy(NULL);
	T_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- forwarding -------------------------------------------------------------------- */

static void test_forward_mx_txt(void)
{
	static const char txt[] = "v=spf1 include:_spf.example.org -all";
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	ares_dns_rr_t *rr;

	if (!env_init(&e, &cfg, NULL))
		return;

	/* MX with EDNS. The upstream reply has c-ares' own ID and an OPT of
	 * its own: the client gets its ID and our OPT (1232). */
	T_EQ_INT(ask_edns(&e, 0x4242, "example.org", T_MX, 4096), -EINPROGRESS);
	T_EQ_INT(e.fwd.n, 1);
	T_EQ_STR(fwd_qname(&e.fwd, 0), "example.org");
	T_EQ_INT(fwd_qtype(&e.fwd, 0), T_MX);
	rec = reply_new(0x9999, "example.org", T_MX, ARES_RCODE_NOERROR);
	rr = rr_add(rec, ARES_SECTION_ANSWER, "example.org", T_MX, 3600);
	ares_dns_rr_set_u16(rr, ARES_RR_MX_PREFERENCE, 10);
	ares_dns_rr_set_str(rr, ARES_RR_MX_EXCHANGE, "mail.example.org");
	add_opt(rec, 4096, 0);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(lt.calls, 1);
	T_EQ_INT(lt.nulls, 0);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x4242, "example.org", T_MX, ARES_RCODE_NOERROR,
			   1);
	if (rec != NULL) {
		const ares_dns_rr_t *opt = NULL;

		T_EQ_INT(ares_dns_rr_get_type(an(rec, 0)), T_MX);
		T_EQ_INT(ares_dns_rr_get_u16(an(rec, 0), ARES_RR_MX_PREFERENCE), 10);
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_MX_EXCHANGE), "mail.example.org");
		T_EQ_INT(ares_dns_rr_get_ttl(an(rec, 0)), 3600);
		for (size_t i = 0; i < ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL); i++)
			if (ares_dns_rr_get_type(ares_dns_record_rr_get_const(
				    rec, ARES_SECTION_ADDITIONAL, i)) == ARES_REC_TYPE_OPT)
				opt = ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL, i);
		T_CHECK(opt != NULL);
		if (opt != NULL)
			T_EQ_INT(ares_dns_rr_get_u16(opt, ARES_RR_OPT_UDP_SIZE),
				 DNS_MSG_EDNS_UDP_SIZE);
		ares_dns_record_destroy(rec);
	}

	/* TXT without EDNS, question in mixed case: echoed as sent, no
	 * OPT. */
	T_EQ_INT(ask(&e, 7, "Example.ORG", T_TXT), -EINPROGRESS);
	T_EQ_STR(fwd_qname(&e.fwd, 0), "example.org");
	rec = reply_new(0x1, "example.org", T_TXT, ARES_RCODE_NOERROR);
	rr = rr_add(rec, ARES_SECTION_ANSWER, "example.org", T_TXT, 300);
	ares_dns_rr_add_abin(rr, ARES_RR_TXT_DATA, (const unsigned char *)txt, strlen(txt));
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(lt.calls, 2);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 7, "Example.ORG", T_TXT, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		size_t len = 0;
		const unsigned char *d = NULL;

		T_EQ_INT(ares_dns_rr_get_abin_cnt(an(rec, 0), ARES_RR_TXT_DATA), 1);
		d = ares_dns_rr_get_abin(an(rec, 0), ARES_RR_TXT_DATA, 0, &len);
		T_EQ_INT(len, strlen(txt));
		T_CHECK(d != NULL && memcmp(d, txt, strlen(txt)) == 0);
		T_CHECK(!has_opt(rec));
		ares_dns_record_destroy(rec);
	}

	/* Over UDP without EDNS (max_msg 0: the client's limit, 512), a
	 * larger answer goes back truncated, for a retry over TCP. */
	T_EQ_INT(ask(&e, 8, "big.example.org", T_TXT), -EINPROGRESS);
	rec = reply_new(0x2, "big.example.org", T_TXT, ARES_RCODE_NOERROR);
	for (int i = 0; i < 4; i++) {
		unsigned char chunk[200];

		memset(chunk, 'a' + i, sizeof(chunk));
		rr = rr_add(rec, ARES_SECTION_ANSWER, "big.example.org", T_TXT, 300);
		ares_dns_rr_add_abin(rr, ARES_RR_TXT_DATA, chunk, sizeof(chunk));
	}
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(lt.calls, 3);
	T_CHECK(lt.len <= 512);
	T_CHECK(lt.len >= 12 && (lt.msg[2] & FLAG_TC));
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 8, "big.example.org", T_TXT, ARES_RCODE_NOERROR,
			   0);
	ares_dns_record_destroy(rec);

	/* The upstream's rcode passes through. */
	T_EQ_INT(ask(&e, 9, "nx.example.org", T_MX), -EINPROGRESS);
	rec = reply_new(0x3, "nx.example.org", T_MX, ARES_RCODE_NXDOMAIN);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 9, "nx.example.org", T_MX, ARES_RCODE_NXDOMAIN, 0);
	ares_dns_record_destroy(rec);

	/* A reply to another question is not relayed: SERVFAIL. */
	T_EQ_INT(ask(&e, 10, "asked.example.org", T_MX), -EINPROGRESS);
	rec = reply_new(0x4, "other.example.org", T_MX, ARES_RCODE_NOERROR);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 10, "asked.example.org", T_MX, ARES_RCODE_SERVFAIL,
			   0);
	ares_dns_record_destroy(rec);

	/* Two in flight, completed out of order: each answer to its own
	 * client ID. */
	T_EQ_INT(ask(&e, 11, "one.example.org", T_MX), -EINPROGRESS);
	T_EQ_INT(ask(&e, 12, "two.example.org", T_TXT), -EINPROGRESS);
	T_EQ_INT(e.fwd.n, 2);
	rec = reply_new(0x5, "two.example.org", T_TXT, ARES_RCODE_NXDOMAIN);
	fwd_complete(&e.fwd, 1, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 12, "two.example.org", T_TXT, ARES_RCODE_NXDOMAIN,
			   0);
	ares_dns_record_destroy(rec);
	rec = reply_new(0x6, "one.example.org", T_MX, ARES_RCODE_NXDOMAIN);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 11, "one.example.org", T_MX, ARES_RCODE_NXDOMAIN,
			   0);
	ares_dns_record_destroy(rec);

	T_EQ_INT(lt.calls, 7);
	T_EQ_INT(dns_intercept_stats(e.di)->forwarded, 7);
	T_EQ_INT(dns_intercept_stats(e.di)->servfail, 1);
	env_done(&e);
}

static void test_forward_errors(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	uint8_t q[512];
	size_t qn;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	/* The forwarder reports failure later: SERVFAIL to the client. */
	T_EQ_INT(ask(&e, 0x51, "svc.example", T_HTTPS), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	T_EQ_INT(lt.calls, 1);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x51, "svc.example", T_HTTPS, ARES_RCODE_SERVFAIL,
			   0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(ask(&e, 0x52, "Svc.Example", T_MX), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ECONNREFUSED, NULL);
	T_EQ_INT(lt.calls, 2);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x52, "Svc.Example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);

	/* send() fails at once: SERVFAIL returned synchronously, later()
	 * never called, nothing left pending. */
	e.fwd.fail = -ECONNREFUSED;
	n = ask(&e, 0x53, "svc.example", T_TXT);
	rec = CHECK_ANSWER(out, n, 0x53, "svc.example", T_TXT, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(e.fwd.n, 0);
	T_EQ_INT(lt.calls, 2);
	e.fwd.fail = 0;

	/* Without a later() there is nowhere to send a forwarded answer:
	 * SERVFAIL at once, nothing sent. */
	qn = mk_query(q, sizeof(q), 0x54, "svc.example", T_MX, 0);
	unsigned sends = e.fwd.sends;
	n = dns_intercept_query(e.di, q, qn, 0, out, sizeof(out), NULL, NULL);
	rec = CHECK_ANSWER(out, n, 0x54, "svc.example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(e.fwd.sends, sends);

	/* Cancelled (shutdown): later() lets go with NULL. */
	T_EQ_INT(ask(&e, 0x55, "svc.example", T_MX), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ECANCELED, NULL);
	T_EQ_INT(lt.calls, 3);
	T_EQ_INT(lt.nulls, 1);
	T_EQ_INT(lt.len, 0);

	T_EQ_INT(dns_intercept_stats(e.di)->servfail, 4);

	/* After shutdown nothing is forwarded any more. */
	dns_intercept_shutdown(e.di);
	sends = e.fwd.sends;
	n = ask(&e, 0x56, "svc.example", T_MX);
	rec = CHECK_ANSWER(out, n, 0x56, "svc.example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(e.fwd.sends, sends);
	/* Fake answers still work. */
	uint8_t a[16];
	T_CHECK(fake_addr(&e, 0x57, "late.example", 4, a));
	env_done(&e);
}

/* Asks di as client src:sport (to 192.0.2.53:53). */
static int ask_from(struct env *e, const char *src, uint16_t sport, uint16_t id, const char *name,
		    int qtype)
{
	struct dns_client cl = {
		.src = ip_str(src), .dst = ip_str("192.0.2.53"), .sport = sport, .dport = 53
	};
	uint8_t q[600];
	size_t n = mk_query(q, sizeof(q), id, name, qtype, 0);

	T_CHECK(n > 0);
	return dns_intercept_query_from(e->di, &cl, q, n, 0, out, sizeof(out), later_fn, &lt);
}

/* Forwarded queries waiting for the upstream are capped per client and
 * in total: the excess gets SERVFAIL at once and is counted; the room
 * comes back as answers arrive. */
static void test_pending_caps(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	int n;

	cfg.max_pending = 8;
	cfg.max_pending_client = 3;
	if (!env_init(&e, &cfg, NULL))
		return;
	for (uint16_t i = 0; i < 3; i++)
		T_EQ_INT(ask_from(&e, "10.0.0.1", 1000, i, "mx.example", T_MX), -EINPROGRESS);
	n = ask_from(&e, "10.0.0.1", 1000, 3, "mx.example", T_MX);
	rec = CHECK_ANSWER(out, n, 3, "mx.example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(dns_intercept_stats(e.di)->capped, 1);
	/* Other clients are not held back by 10.0.0.1 (IPv6 ones too). */
	for (uint16_t i = 0; i < 3; i++)
		T_EQ_INT(ask_from(&e, "fd00::2", 1000, i, "mx.example", T_MX), -EINPROGRESS);
	T_EQ_INT(ask_from(&e, "10.0.0.3", 1000, 0, "mx.example", T_MX), -EINPROGRESS);
	T_EQ_INT(ask_from(&e, "10.0.0.3", 1000, 1, "mx.example", T_MX), -EINPROGRESS);
	T_EQ_INT(dns_intercept_pending(e.di), 8);
	/* The total: a new client, and one of unknown address, get SERVFAIL. */
	n = ask_from(&e, "10.0.0.4", 1000, 7, "mx.example", T_MX);
	rec = CHECK_ANSWER(out, n, 7, "mx.example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	n = ask(&e, 8, "mx.example", T_MX);
	rec = CHECK_ANSWER(out, n, 8, "mx.example", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(dns_intercept_stats(e.di)->capped, 3);
	/* Fake answers need no upstream: never capped. */
	uint8_t a[16];
	T_CHECK(fake_addr(&e, 9, "capped.example", 4, a));
	/* One answer of 10.0.0.1 frees one place, for it or anyone. */
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	T_EQ_INT(dns_intercept_pending(e.di), 7);
	T_EQ_INT(ask_from(&e, "10.0.0.1", 1000, 10, "mx.example", T_MX), -EINPROGRESS);
	while (e.fwd.n > 0)
		fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	T_EQ_INT(dns_intercept_pending(e.di), 0);
	T_EQ_INT(lt.calls, 9);
	/* Everything given back: 10.0.0.1 has its 3 places again. */
	for (uint16_t i = 0; i < 3; i++)
		T_EQ_INT(ask_from(&e, "10.0.0.1", 1000, i, "mx.example", T_MX), -EINPROGRESS);
	while (e.fwd.n > 0)
		fwd_complete(&e.fwd, 0, -ECANCELED, NULL);
	T_EQ_INT(dns_intercept_pending(e.di), 0);
	env_done(&e);
}

/* A query the forwarder says is its own (come back into the TUN): our
 * own query 0x4242 for loop.test, or anything from port 5353 (c-ares'
 * socket). */
static bool own_test(void *ctx, const struct sockaddr *src, uint16_t id, const char *name,
		     uint16_t qtype)
{
	(void)ctx;
	(void)qtype;
	if (src != NULL && src->sa_family == AF_INET &&
	    ntohs(((const struct sockaddr_in *)src)->sin_port) == 5353)
		return true;
	return id == 0x4242 && strcmp(name, "loop.test") == 0;
}

/* Our own query come back is answered SERVFAIL at once and never
 * forwarded again (nor answered with a fake address); a client's query
 * with the same ID for another name is served as usual. */
static void test_loop(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	ares_dns_record_t *rec;
	int n;

	own_hook = own_test;
	if (!env_init(&e, &cfg, NULL)) {
		own_hook = NULL;
		return;
	}
	own_hook = NULL;
	n = ask_from(&e, "198.18.0.1", 40000, 0x4242, "loop.test", T_MX);
	rec = CHECK_ANSWER(out, n, 0x4242, "loop.test", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(e.fwd.sends, 0);
	/* A DIRECT name's lookup from c-ares' socket: no fake address. */
	n = ask_from(&e, "198.18.0.1", 5353, 0x1111, "printer.example", T_A);
	rec = CHECK_ANSWER(out, n, 0x1111, "printer.example", T_A, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(dns_intercept_stats(e.di)->looped, 2);
	/* Again: still SERVFAIL (the warning is logged once). */
	n = ask_from(&e, "198.18.0.1", 40001, 0x4242, "loop.test", T_MX);
	rec = CHECK_ANSWER(out, n, 0x4242, "loop.test", T_MX, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_EQ_INT(dns_intercept_stats(e.di)->looped, 3);
	T_EQ_INT(e.fwd.sends, 0);
	/* Same ID, another name: a client's, forwarded. */
	T_EQ_INT(ask_from(&e, "10.0.0.1", 40000, 0x4242, "mx.example", T_MX), -EINPROGRESS);
	T_EQ_INT(e.fwd.sends, 1);
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	/* Without a client (the fuzzer's entry point) nothing is checked. */
	T_EQ_INT(ask(&e, 0x4242, "loop.test", T_MX), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	T_EQ_INT(dns_intercept_stats(e.di)->looped, 3);
	env_done(&e);
}

/* Queries dns_msg.h says to drop, or to answer FORMERR/NOTIMP/REFUSED/
 * BADVERS, get exactly that, and nothing goes upstream. */
static void test_malformed(void)
{
	static const uint8_t good[] = {
		0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 3,    'w',  'w',  'w',  7,    'e',  'x',  'a',  'm',  'p',
		'l',  'e',  3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01,
	};
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	uint8_t q[600];
	ares_dns_record_t *rec;
	size_t qn;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	/* Sanity: the well-formed one is answered. */
	n = dns_intercept_query(e.di, good, sizeof(good), 0, out, sizeof(out), later_fn, &lt);
	rec = CHECK_ANSWER(out, n, 0xabcd, "www.example.com", T_A, ARES_RCODE_NOERROR, 1);
	ares_dns_record_destroy(rec);

	/* Shorter than a header: dropped. */
	T_EQ_INT(dns_intercept_query(e.di, good, 11, 0, out, sizeof(out), later_fn, &lt), 0);
	T_EQ_INT(dns_intercept_query(e.di, good, 0, 0, out, sizeof(out), later_fn, &lt), 0);
	/* A response (QR=1): dropped, never answered. */
	memcpy(q, good, sizeof(good));
	q[2] |= 0x80;
	T_EQ_INT(dns_intercept_query(e.di, q, sizeof(good), 0, out, sizeof(out), later_fn, &lt), 0);

	/* Opcode STATUS (2): NOTIMP, ID and opcode echoed. */
	memcpy(q, good, sizeof(good));
	q[2] = (uint8_t)(2 << 3) | 0x01;
	n = dns_intercept_query(e.di, q, sizeof(good), 0, out, sizeof(out), later_fn, &lt);
	T_CHECK(n >= 12);
	if (n >= 12) {
		T_EQ_INT(out[0] << 8 | out[1], 0xabcd);
		T_CHECK(out[2] & FLAG_QR);
		T_EQ_INT((out[2] >> 3) & 0xf, 2);
		T_EQ_INT(out[3] & 0xf, ARES_RCODE_NOTIMP);
	}

	/* Two questions announced, one present: FORMERR. */
	memcpy(q, good, sizeof(good));
	q[5] = 2;
	n = dns_intercept_query(e.di, q, sizeof(good), 0, out, sizeof(out), later_fn, &lt);
	T_CHECK(n >= 12);
	if (n >= 12) {
		T_EQ_INT(out[0] << 8 | out[1], 0xabcd);
		T_CHECK(out[2] & FLAG_QR);
		T_EQ_INT(out[3] & 0xf, ARES_RCODE_FORMERR);
	}
	/* Truncated question: FORMERR. */
	n = dns_intercept_query(e.di, good, sizeof(good) - 3, 0, out, sizeof(out), later_fn, &lt);
	T_CHECK(n >= 12);
	if (n >= 12)
		T_EQ_INT(out[3] & 0xf, ARES_RCODE_FORMERR);

	/* A name c-ares could not echo ('!'): REFUSED with the header. */
	memcpy(q, good, sizeof(good));
	q[14] = '!';
	n = dns_intercept_query(e.di, q, sizeof(good), 0, out, sizeof(out), later_fn, &lt);
	T_CHECK(n >= 12);
	if (n >= 12) {
		T_EQ_INT(out[0] << 8 | out[1], 0xabcd);
		T_EQ_INT(out[3] & 0xf, ARES_RCODE_REFUSED);
	}

	/* EDNS version 1: BADVERS (extended rcode 16, in the OPT). */
	ares_dns_record_t *qr = NULL;
	ares_dns_record_create(&qr, 0x66, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	ares_dns_record_query_add(qr, "v1.example", T_A, ARES_CLASS_IN);
	add_opt(qr, 1232, 1);
	qn = rec_write(qr, q, sizeof(q));
	n = dns_intercept_query(e.di, q, qn, 0, out, sizeof(out), later_fn, &lt);
	rec = CHECK_ANSWER(out, n, 0x66, "v1.example", T_A, DNS_MSG_RCODE_BADVERS, 0);
	if (rec != NULL) {
		T_CHECK(has_opt(rec));
		ares_dns_record_destroy(rec);
	}

	T_EQ_INT(e.fwd.sends, 0);
	T_EQ_INT(lt.calls, 0);
	T_EQ_INT(dns_intercept_stats(e.di)->dropped, 3);
	T_EQ_INT(dns_intercept_stats(e.di)->malformed, 5);
	T_EQ_INT(dns_intercept_stats(e.di)->queries, 9);
	env_done(&e);
}

/* ---- real-ip ------------------------------------------------------------------- */

static void test_realip(void)
{
	struct dns_intercept_config cfg = { .mode = DNS_MODE_REAL_IP };
	struct env e;
	ares_dns_record_t *rec;
	char name[256];
	bool pinned;
	ip_addr_t ip;

	if (!env_init(&e, &cfg, NULL))
		return;
	T_EQ_INT(dns_intercept_mode(e.di), DNS_MODE_REAL_IP);

	ip = ip_str("93.184.216.34");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	T_CHECK(!pinned);

	/* A is forwarded; the reply's CNAME chain leads to the address, which
	 * is then remembered under the QUESTION name. An A record of an
	 * unrelated owner in the same reply is not. */
	T_EQ_INT(ask(&e, 0x1111, "WWW.example.com", T_A), -EINPROGRESS);
	T_EQ_STR(fwd_qname(&e.fwd, 0), "www.example.com");
	rec = reply_new(0xaaaa, "www.example.com", T_A, ARES_RCODE_NOERROR);
	add_cname(rec, "www.example.com", "edge.cdn.test", 300);
	add_cname(rec, "edge.cdn.test", "e1.cdn.test", 60);
	add_a(rec, "e1.cdn.test", "93.184.216.34", 20);
	add_a(rec, "unrelated.test", "6.6.6.6", 20);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x1111, "WWW.example.com", T_A, ARES_RCODE_NOERROR,
			   4);
	ares_dns_record_destroy(rec);
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "www.example.com");
	T_CHECK(!pinned); /* real addresses are never pinned */
	ip = ip_str("6.6.6.6");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);

	/* AAAA, directly owned by the question. */
	T_EQ_INT(ask(&e, 0x1112, "v6.Example.com", T_AAAA), -EINPROGRESS);
	rec = reply_new(0xbbbb, "v6.example.com", T_AAAA, ARES_RCODE_NOERROR);
	add_aaaa(rec, "v6.example.com", "2001:db8::1", 300);
	add_aaaa(rec, "v6.example.com", "2001:db8::2", 300);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x1112, "v6.Example.com", T_AAAA,
			   ARES_RCODE_NOERROR, 2);
	ares_dns_record_destroy(rec);
	ip = ip_str("2001:db8::1");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "v6.example.com");
	ip = ip_str("2001:db8::2");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "v6.example.com");
	/* The v4 address with the same leading bytes is another address. */
	ip = ip_str("32.1.13.184");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);

	/* A newer answer for the same address replaces the name. */
	T_EQ_INT(ask(&e, 0x1113, "shared.example", T_A), -EINPROGRESS);
	rec = reply_new(0xcccc, "shared.example", T_A, ARES_RCODE_NOERROR);
	add_a(rec, "shared.example", "93.184.216.34", 20);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	ip = ip_str("93.184.216.34");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "shared.example");

	/* Not learned: addresses in an NXDOMAIN reply, in the reply to an MX
	 * question, or in a reply that could not be relayed. */
	T_EQ_INT(ask(&e, 0x1114, "nx.example", T_A), -EINPROGRESS);
	rec = reply_new(0xdddd, "nx.example", T_A, ARES_RCODE_NXDOMAIN);
	add_a(rec, "nx.example", "7.7.7.7", 20);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(ask(&e, 0x1115, "mx.example", T_MX), -EINPROGRESS);
	rec = reply_new(0xeeee, "mx.example", T_MX, ARES_RCODE_NOERROR);
	add_a(rec, "mx.example", "8.8.4.4", 20);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(ask(&e, 0x1116, "asked.example", T_A), -EINPROGRESS);
	rec = reply_new(0xffff, "other.example", T_A, ARES_RCODE_NOERROR);
	add_a(rec, "other.example", "9.9.9.9", 20);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	rec = CHECK_ANSWER(lt.msg, (long)lt.len, 0x1116, "asked.example", T_A, ARES_RCODE_SERVFAIL,
			   0);
	ares_dns_record_destroy(rec);
	ip = ip_str("7.7.7.7");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	ip = ip_str("8.8.4.4");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	ip = ip_str("9.9.9.9");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);

	/* No fake pool in real-ip: the default fake range means nothing,
	 * and PTR of such an address goes upstream. */
	ip = ip_str("198.18.0.5");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	T_EQ_INT(ask(&e, 0x1117, "5.0.18.198.in-addr.arpa", T_PTR), -EINPROGRESS);
	fwd_complete(&e.fwd, 0, -ETIMEDOUT, NULL);
	T_EQ_INT(dns_intercept_stats(e.di)->answered_fake, 0);
	T_EQ_INT(dns_intercept_stats(e.di)->forwarded, 7);
	env_done(&e);
}

/* ---- flow names in fake-ip ------------------------------------------------------ */

static void test_flow_name_fake(void)
{
	struct dns_intercept_config cfg = fake_cfg();
	struct env e;
	uint8_t a[16], a6[16];
	char name[256];
	bool pinned;
	ip_addr_t ip;

	if (!env_init(&e, &cfg, NULL))
		return;
	T_CHECK(fake_addr(&e, 1, "Flow.Example", 4, a));
	T_CHECK(fake_addr(&e, 2, "flow6.example", 16, a6));

	ip = ip_of(a, 4);
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "flow.example");
	T_CHECK(pinned);
	dns_intercept_flow_done(e.di, &ip);
	ip = ip_of(a6, 16);
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_EQ_STR(name, "flow6.example");
	T_CHECK(pinned);
	dns_intercept_flow_done(e.di, &ip);

	/* In the range but mapped to nothing: stale, never to be connected
	 * to as such. */
	ip = ip_str("198.19.0.77");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ESTALE);
	T_CHECK(!pinned);
	ip = ip_str("fdfe:dcba:9876:1::abcd");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ESTALE);
	T_CHECK(!pinned);
	/* Outside: no name, connect to the address itself. */
	ip = ip_str("8.8.8.8");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	T_CHECK(!pinned);
	ip = ip_str("2001:db8::1");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);
	ip = ip_str("198.20.0.1");
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), -ENOENT);

	/* A cap smaller than the name: truncated, still terminated. */
	char small[8];
	ip = ip_of(a, 4);
	T_EQ_INT(dns_intercept_flow_name(e.di, &ip, small, sizeof(small), &pinned), 0);
	T_EQ_STR(small, "flow.ex");
	if (pinned)
		dns_intercept_flow_done(e.di, &ip);
	env_done(&e);
}

/* A /29 holds 6 usable addresses (.1-.6). A flow pins its address: the
 * pool reassigns the others to new names and never that one, until the
 * flow is done. */
static void test_pinning(void)
{
	struct dns_intercept_config cfg = {
		.mode = DNS_MODE_FAKE_IP,
		.has4 = true,
		.net4 = { 198, 51, 100, 0 },
		.prefix4 = 29,
	};
	struct env e;
	uint8_t addr[6][16], a[16];
	char nm[32], name[256];
	bool pinned, seen;
	ip_addr_t ip0, ip;
	ares_dns_record_t *rec;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	for (int i = 0; i < 6; i++) {
		snprintf(nm, sizeof(nm), "p%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)i, nm, 4, addr[i]));
		T_CHECK(memcmp(addr[i], "\xc6\x33\x64", 3) == 0 && addr[i][3] >= 1 &&
			addr[i][3] <= 6);
		for (int k = 0; k < i; k++)
			T_CHECK(memcmp(addr[i], addr[k], 4) != 0);
	}
	ip0 = ip_of(addr[0], 4);
	T_EQ_INT(flow_name(&e, &ip0, name, &pinned), 0);
	T_EQ_STR(name, "p0.test");
	T_CHECK(pinned);

	/* 30 more names cycle through the 5 other addresses. */
	for (int i = 0; i < 30; i++) {
		snprintf(nm, sizeof(nm), "q%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)(100 + i), nm, 4, a));
		T_CHECK(memcmp(a, addr[0], 4) != 0);
		T_CHECK(a[3] >= 1 && a[3] <= 6);
	}
	/* An older name lost its address: asking again reassigns one. */
	ip = ip_of(addr[1], 4);
	T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
	T_CHECK(strcmp(name, "p1.test") != 0);
	if (pinned)
		dns_intercept_flow_done(e.di, &ip);
	/* The pinned one still means p0, for PTR too. */
	char rev[64];
	ptr_name4(addr[0], rev, sizeof(rev));
	n = ask(&e, 200, rev, T_PTR);
	rec = CHECK_ANSWER(out, n, 200, rev, T_PTR, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_STR(ares_dns_rr_get_str(an(rec, 0), ARES_RR_PTR_DNAME), "p0.test");
		ares_dns_record_destroy(rec);
	}
	T_CHECK(fake_addr(&e, 201, "p0.test", 4, a));
	T_EQ_MEM(a, addr[0], 4);

	/* Two flows: two pins; one done leaves it pinned. */
	T_EQ_INT(flow_name(&e, &ip0, name, &pinned), 0);
	T_CHECK(pinned);
	dns_intercept_flow_done(e.di, &ip0);
	for (int i = 0; i < 12; i++) {
		snprintf(nm, sizeof(nm), "r%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)(300 + i), nm, 4, a));
		T_CHECK(memcmp(a, addr[0], 4) != 0);
	}
	dns_intercept_flow_done(e.di, &ip0);

	/* Unpinned: within 6 new names the address goes to one of them. */
	seen = false;
	for (int i = 0; i < 6; i++) {
		snprintf(nm, sizeof(nm), "s%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)(400 + i), nm, 4, a));
		if (memcmp(a, addr[0], 4) == 0) {
			seen = true;
			T_EQ_INT(flow_name(&e, &ip0, name, &pinned), 0);
			T_EQ_STR(name, nm);
			if (pinned)
				dns_intercept_flow_done(e.di, &ip0);
		}
	}
	T_CHECK(seen);

	/* Every address pinned: a new name cannot be mapped (SERVFAIL), a
	 * mapped one still answers. */
	for (int i = 0; i < 6; i++) {
		uint8_t b[4] = { 198, 51, 100, (uint8_t)(i + 1) };

		ip = ip_of(b, 4);
		T_EQ_INT(flow_name(&e, &ip, name, &pinned), 0);
		T_CHECK(pinned);
	}
	n = ask(&e, 500, "nomore.test", T_A);
	rec = CHECK_ANSWER(out, n, 500, "nomore.test", T_A, ARES_RCODE_SERVFAIL, 0);
	ares_dns_record_destroy(rec);
	T_CHECK(fake_addr(&e, 501, "s5.test", 4, a));
	for (int i = 0; i < 6; i++) {
		uint8_t b[4] = { 198, 51, 100, (uint8_t)(i + 1) };

		ip = ip_of(b, 4);
		dns_intercept_flow_done(e.di, &ip);
	}
	T_CHECK(fake_addr(&e, 502, "nomore.test", 4, a));
	T_EQ_INT(e.fwd.sends, 0);
	env_done(&e);
}

/* With a minimum age, a /29 whose 6 addresses were all handed out just
 * now answers a new name SERVFAIL (counted) instead of reassigning a
 * fresh answer; the names it holds keep their addresses. The loop's clock
 * (uv_now) stands still while the loop does not run. */
static void test_pool_min_age(void)
{
	struct dns_intercept_config cfg = {
		.mode = DNS_MODE_FAKE_IP,
		.has4 = true,
		.net4 = { 198, 51, 100, 0 },
		.prefix4 = 29,
		.fake_min_age = 60,
	};
	struct env e;
	uint8_t addr[6][16], a[16];
	char nm[32];
	ares_dns_record_t *rec;
	int n;

	if (!env_init(&e, &cfg, NULL))
		return;
	for (int i = 0; i < 6; i++) {
		snprintf(nm, sizeof(nm), "p%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)i, nm, 4, addr[i]));
	}
	for (int i = 0; i < 3; i++) {
		n = ask(&e, (uint16_t)(10 + i), "late.test", T_A);
		rec = CHECK_ANSWER(out, n, 10 + i, "late.test", T_A, ARES_RCODE_SERVFAIL, 0);
		ares_dns_record_destroy(rec);
	}
	T_EQ_INT(dns_intercept_stats(e.di)->pool_busy, 3);
	for (int i = 0; i < 6; i++) {
		snprintf(nm, sizeof(nm), "p%d.test", i);
		T_CHECK(fake_addr(&e, (uint16_t)(20 + i), nm, 4, a));
		T_EQ_MEM(a, addr[i], 4);
	}
	T_EQ_INT(e.fwd.sends, 0);
	env_done(&e);
}

/* ---- UDP through a real stack --------------------------------------------------- */

static int refuse_tcp(void *arg, struct tcp_pcb *pcb)
{
	(void)arg;
	(void)pcb;
	return -ECONNREFUSED;
}

static struct pbuf *payload_of(const uint8_t *msg, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);

	T_CHECK(p != NULL);
	if (p != NULL)
		pbuf_take(p, msg, (u16_t)len);
	return p;
}

/* The captured packet k: checks it is UDP from from:fport to to:tport and
 * returns its DNS payload (NULL otherwise). */
static const uint8_t *captured_udp(int k, const ip_addr_t *from, uint16_t fport,
				   const ip_addr_t *to, uint16_t tport, size_t *len)
{
	const uint8_t *p = cap_pkt[k], *u;
	size_t ih;

	*len = 0;
	if (k >= cap_n)
		return NULL;
	if (IP_IS_V6(to)) {
		ih = 40;
		T_EQ_INT(p[0] >> 4, 6);
		T_EQ_INT(p[6], 17);
		T_EQ_MEM(p + 8, ip_2_ip6(from)->addr, 16);
		T_EQ_MEM(p + 24, ip_2_ip6(to)->addr, 16);
	} else {
		ih = 20;
		T_EQ_INT(p[0], 0x45);
		T_EQ_INT(p[9], 17);
		T_EQ_MEM(p + 12, &ip_2_ip4(from)->addr, 4);
		T_EQ_MEM(p + 16, &ip_2_ip4(to)->addr, 4);
	}
	u = p + ih;
	T_EQ_INT(u[0] << 8 | u[1], fport);
	T_EQ_INT(u[2] << 8 | u[3], tport);
	T_EQ_INT(u[4] << 8 | u[5], cap_len[k] - ih);
	*len = cap_len[k] - ih - 8;
	return u + 8;
}

static void test_udp(void)
{
	static const struct stack_cbs cbs = { .output = lh_output, .tcp_accept = refuse_tcp };
	struct dns_intercept_config cfg = fake_cfg();
	struct stack *st = NULL;
	struct stack_usage use;
	struct env e;
	ip_addr_t cli4 = ip_str("198.18.0.1"), srv4 = ip_str("8.8.8.8");
	ip_addr_t cli6 = ip_str("fdfe:dcba:9876::1"), srv6 = ip_str("2001:4860:4860::8888");
	ares_dns_record_t *rec;
	const uint8_t *ans;
	uint8_t q[600], a[16];
	struct pbuf *p;
	size_t qn, alen;

	T_EQ_INT(stack_create(1500, &cbs, NULL, &st), 0);
	if (st == NULL)
		return;
	if (!env_init(&e, &cfg, st)) {
		stack_destroy(st);
		return;
	}
	T_CHECK(dns_intercept_wants_tcp(e.di, 53));
	T_CHECK(!dns_intercept_wants_tcp(e.di, 853));
	cap_n = 0;

	/* A fake answer goes back at once, from the address the client
	 * asked (any address: interception is by port). */
	qn = mk_query(q, sizeof(q), 0x0a0a, "udp.example", T_A, 0);
	p = payload_of(q, qn);
	T_CHECK(dns_intercept_udp(e.di, &cli4, 40000, &srv4, 53, p));
	T_EQ_INT(cap_n, 1);
	ans = captured_udp(0, &srv4, 53, &cli4, 40000, &alen);
	rec = CHECK_ANSWER(ans, (long)alen, 0x0a0a, "udp.example", T_A, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, a, NULL), 4);
		T_CHECK(in_default4(a));
		ares_dns_record_destroy(rec);
	}

	/* Over IPv6. */
	qn = mk_query(q, sizeof(q), 0x0b0b, "udp.example", T_AAAA, 0);
	p = payload_of(q, qn);
	T_CHECK(dns_intercept_udp(e.di, &cli6, 40001, &srv6, 53, p));
	T_EQ_INT(cap_n, 2);
	ans = captured_udp(1, &srv6, 53, &cli6, 40001, &alen);
	rec = CHECK_ANSWER(ans, (long)alen, 0x0b0b, "udp.example", T_AAAA, ARES_RCODE_NOERROR, 1);
	if (rec != NULL) {
		T_EQ_INT(answer_addr(rec, 0, a, NULL), 16);
		T_CHECK(in_default6(a));
		ares_dns_record_destroy(rec);
	}

	/* Forwarded: nothing yet; the answer leaves when the forwarder
	 * completes, still to the right client port. */
	qn = mk_query(q, sizeof(q), 0x0c0c, "mail.example", T_MX, 0);
	p = payload_of(q, qn);
	T_CHECK(dns_intercept_udp(e.di, &cli4, 40002, &srv4, 53, p));
	T_EQ_INT(cap_n, 2);
	T_EQ_INT(e.fwd.n, 1);
	rec = reply_new(0x1, "mail.example", T_MX, ARES_RCODE_NXDOMAIN);
	fwd_complete(&e.fwd, 0, 0, rec);
	ares_dns_record_destroy(rec);
	T_EQ_INT(cap_n, 3);
	ans = captured_udp(2, &srv4, 53, &cli4, 40002, &alen);
	rec = CHECK_ANSWER(ans, (long)alen, 0x0c0c, "mail.example", T_MX, ARES_RCODE_NXDOMAIN, 0);
	ares_dns_record_destroy(rec);

	/* Cancelled: nothing sent, nothing leaked. */
	qn = mk_query(q, sizeof(q), 0x0d0d, "mail.example", T_MX, 0);
	p = payload_of(q, qn);
	T_CHECK(dns_intercept_udp(e.di, &cli6, 40003, &srv6, 53, p));
	fwd_complete(&e.fwd, 0, -ECANCELED, NULL);
	T_EQ_INT(cap_n, 3);

	/* A response sent to port 53: consumed and dropped, no answer. */
	qn = mk_query(q, sizeof(q), 0x0e0e, "x.example", T_A, 0);
	q[2] |= 0x80;
	p = payload_of(q, qn);
	T_CHECK(dns_intercept_udp(e.di, &cli4, 40004, &srv4, 53, p));
	T_EQ_INT(cap_n, 3);

	/* Larger than any query we take: consumed, dropped. */
	static uint8_t big[5000];
	qn = mk_query(big, sizeof(big), 0x0f0f, "x.example", T_A, 0);
	p = payload_of(big, sizeof(big));
	T_CHECK(dns_intercept_udp(e.di, &cli4, 40005, &srv4, 53, p));
	T_EQ_INT(cap_n, 3);
	T_EQ_INT(dns_intercept_stats(e.di)->dropped, 2);

	/* Not port 53: not ours, the payload stays the caller's. */
	qn = mk_query(q, sizeof(q), 0x1010, "x.example", T_A, 0);
	p = payload_of(q, qn);
	T_CHECK(!dns_intercept_udp(e.di, &cli4, 40006, &srv4, 5353, p));
	T_CHECK(!dns_intercept_udp(e.di, &cli4, 40006, &srv4, 853, p));
	T_CHECK(!dns_intercept_udp(NULL, &cli4, 40006, &srv4, 53, p)); /* mode off */
	T_EQ_INT(p->ref, 1);
	T_EQ_MEM(p->payload, q, qn);
	pbuf_free(p);
	T_EQ_INT(cap_n, 3);

	env_done(&e);
	stack_destroy(st);
	/* Every payload pbuf and answer went back to lwIP. */
	stack_usage(&use);
	T_EQ_INT(use.pool_used, 0);
	T_EQ_INT(use.heap_used, 0);
}

int main(void)
{
	T_RUN(test_fake_a_aaaa);
	T_RUN(test_no_pool_nodata);
	T_RUN(test_ptr);
	T_RUN(test_filter);
	T_RUN(test_filter_whitelist);
	T_RUN(test_hosts);
	T_RUN(test_create_errors);
	T_RUN(test_forward_mx_txt);
	T_RUN(test_forward_errors);
	T_RUN(test_pending_caps);
	T_RUN(test_loop);
	T_RUN(test_malformed);
	T_RUN(test_realip);
	T_RUN(test_flow_name_fake);
	T_RUN(test_pinning);
	T_RUN(test_pool_min_age);
	T_RUN(test_udp);
	return test_summary();
}
