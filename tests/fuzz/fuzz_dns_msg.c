/* libFuzzer target for the DNS message codec (resolver/dns_msg.c).
 *
 * Each input is tried as a client query, as an upstream reply, as a TCP
 * stream and as a reverse name. Beyond "no crash, no leak, no sanitizer
 * report" it aborts when a contract the interceptor relies on breaks:
 *  - parse_query's result is one of the documented codes; whatever it
 *    answers (error, NODATA, A/AAAA, PTR) is a response c-ares can read
 *    back, with the client's ID, opcode and question, within max_msg;
 *  - the query forwarded upstream parses back to the same question, and
 *    our own answer, seen as an upstream reply, rewrites and yields exactly
 *    the addresses put in;
 *  - a rewritten reply has the client's ID and question, no ipv4hint or
 *    ipv6hint left, an OPT RR exactly when the client sent one, fits
 *    max_msg, and the buffer and record variants agree byte for byte;
 *  - answer_addrs reports 4- or 16-byte addresses for a lower-case name;
 *  - TCP framing never points outside the input; a reverse name that
 *    parses prints back to itself.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "resolver/dns_msg.h"

#include <ares.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define OUT_CAP 70000

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

static void check_lower_name(const char *name)
{
	size_t n = strlen(name);

	CHECK(n < DNS_MSG_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(!(name[i] >= 'A' && name[i] <= 'Z'));
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

/* An answer to q in out[0..n): the header always, the rest via c-ares
 * whenever there is a question. Returns the parsed record or NULL. */
static ares_dns_record_t *check_answer(const struct dns_query *q, const uint8_t *out, int n,
				       size_t max_msg)
{
	ares_dns_record_t *rec = NULL;
	const char *name = NULL;
	ares_dns_rec_type_t type;
	ares_dns_class_t qclass;

	CHECK(n >= 12 && (size_t)n <= max_msg);
	CHECK((out[0] << 8 | out[1]) == q->id);
	CHECK(out[2] & 0x80); /* QR */
	CHECK(((out[2] >> 3) & 0xf) == q->opcode);
	CHECK(!!(out[2] & 0x01) == !!(q->flags & ARES_FLAG_RD));
	CHECK((out[4] << 8 | out[5]) == (q->has_question ? 1 : 0));
	if (!q->has_question)
		return NULL;
	CHECK(ares_dns_parse(out, (size_t)n, 0, &rec) == ARES_SUCCESS);
	CHECK(ares_dns_record_get_id(rec) == q->id);
	CHECK(ares_dns_record_query_get(rec, 0, &name, &type, &qclass) == ARES_SUCCESS);
	CHECK(name_eq(name, q->name));
	CHECK(type == q->qtype && qclass == q->qclass);
	CHECK(has_opt(rec) == q->has_edns);
	return rec;
}

struct addr_count {
	int calls;
};

static void addr_cb(void *arg, const char *qname, const uint8_t *addr, size_t addrlen, uint32_t ttl)
{
	struct addr_count *c = arg;

	check_lower_name(qname);
	CHECK(addrlen == 4 || addrlen == 16);
	CHECK(addr != NULL);
	CHECK(ttl <= 0x7fffffffu);
	c->calls++;
}

static void fuzz_query(const uint8_t *data, size_t size, uint8_t *out)
{
	struct dns_query q, back;
	ares_dns_record_t *rec;
	struct ares_dns_record *up = NULL;
	uint8_t addrs[16 * 8];
	size_t n_addrs, max_msg;
	int r, n, rcode;

	r = dns_msg_parse_query(data, size, &q);
	CHECK(r == 0 || r == -EINVAL || r == -EBADMSG || r == -EOPNOTSUPP ||
	      r == -EPROTONOSUPPORT || r == -EILSEQ || r == -ENOMEM);
	if (r == -EINVAL) {
		static const struct dns_query zero;

		CHECK(size < 12 || (data[2] & 0x80));
		CHECK(memcmp(&q, &zero, sizeof(q)) == 0);
		return;
	}
	if (r == -ENOMEM)
		return;
	CHECK(q.id == (data[0] << 8 | data[1]));
	CHECK(memchr(q.name, '\0', sizeof(q.name)) != NULL);
	check_lower_name(q.name);
	CHECK(r == 0 || r == -EOPNOTSUPP || q.opcode == 0);
	CHECK(r != 0 || q.has_question);

	rcode = dns_msg_error_rcode(r);
	CHECK((r == 0) == (rcode < 0));
	if (rcode >= 0) {
		n = dns_msg_build_error(&q, rcode, out, OUT_CAP);
		rec = check_answer(&q, out, n, 512);
		CHECK((out[3] & 0xf) == (rcode & 0xf));
		if (rec)
			CHECK((int)ares_dns_record_get_rcode(rec) == rcode);
		ares_dns_record_destroy(rec);
		return;
	}

	max_msg = dns_msg_udp_limit(&q);
	CHECK(max_msg >= 512 && max_msg <= DNS_MSG_EDNS_UDP_SIZE);

	n = dns_msg_build_error(&q, ARES_RCODE_SERVFAIL, out, OUT_CAP);
	ares_dns_record_destroy(check_answer(&q, out, n, 512));
	n = dns_msg_build_nodata(&q, out, OUT_CAP);
	rec = check_answer(&q, out, n, 512);
	CHECK(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 0);
	ares_dns_record_destroy(rec);
	/* Too small a buffer is refused, never overrun (ASan watches). */
	CHECK(dns_msg_build_nodata(&q, out, 11) == -ENOBUFS);

	/* The forwarded query reads back as the same question. */
	CHECK(dns_msg_upstream_query(&q, &up) == 0);
	{
		unsigned char *wire = NULL;
		size_t wlen = 0;

		CHECK(ares_dns_write(up, &wire, &wlen) == ARES_SUCCESS);
		CHECK(dns_msg_parse_query(wire, wlen, &back) == 0);
		CHECK(strcmp(back.name, q.name) == 0);
		CHECK(back.qtype == q.qtype && back.qclass == q.qclass);
		ares_free_string(wire);
		ares_dns_record_destroy(up);
	}

	/* Addresses from the input's own bytes; up to 8, so that some
	 * answers overflow a small max_msg and get truncated. */
	n_addrs = size % 9;
	for (size_t i = 0; i < sizeof(addrs); i++)
		addrs[i] = data[i % size];
	n = dns_msg_build_addr(&q, addrs, n_addrs, 60, out, OUT_CAP,
			       (size % 3) ? max_msg : 40 + size % 200);
	if (q.qtype != ARES_REC_TYPE_A && q.qtype != ARES_REC_TYPE_AAAA) {
		CHECK(n == -EINVAL);
	} else if (n == -EMSGSIZE) {
		CHECK(size % 3 == 0);
	} else {
		uint8_t reply[OUT_CAP];
		size_t alen = q.qtype == ARES_REC_TYPE_A ? 4 : 16, cnt;
		bool tc;
		struct addr_count c = { 0 };

		rec = check_answer(&q, out, n, (size % 3) ? max_msg : 40 + size % 200);
		tc = ares_dns_record_get_flags(rec) & ARES_FLAG_TC;
		cnt = ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER);
		CHECK(tc ? cnt == 0 : cnt == n_addrs);
		for (size_t i = 0; i < cnt; i++) {
			const ares_dns_rr_t *rr =
				ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, i);
			const void *a =
				alen == 4 ? (const void *)ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR)
					  : (const void *)ares_dns_rr_get_addr6(rr,
										ARES_RR_AAAA_ADDR);

			CHECK(a && memcmp(a, addrs + i * alen, alen) == 0);
			CHECK(ares_dns_rr_get_ttl(rr) == 60);
		}
		ares_dns_record_destroy(rec);

		/* Our answer as if it came from upstream: it rewrites, and
		 * the reverse map learns exactly the addresses in it. */
		memcpy(reply, out, (size_t)n);
		r = dns_msg_rewrite_reply(&q, reply, (size_t)n, out, OUT_CAP, DNS_MSG_TCP_MAX);
		CHECK(r > 0);
		r = dns_msg_answer_addrs(reply, (size_t)n, addr_cb, &c);
		CHECK(r == (int)cnt && c.calls == r);
	}

	n = dns_msg_build_ptr(&q, q.name, 5, out, OUT_CAP, max_msg);
	if (q.qtype == ARES_REC_TYPE_PTR) {
		rec = check_answer(&q, out, n, max_msg);
		CHECK(ares_dns_record_get_flags(rec) & ARES_FLAG_TC ||
		      ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 1);
		ares_dns_record_destroy(rec);
	} else {
		CHECK(n == -EINVAL);
	}
}

static bool svcb_key(const ares_dns_rr_t *rr, ares_dns_rr_key_t *key)
{
	if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_SVCB)
		*key = ARES_RR_SVCB_PARAMS;
	else if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_HTTPS)
		*key = ARES_RR_HTTPS_PARAMS;
	else
		return false;
	return true;
}

static bool has_hint(const ares_dns_rr_t *rr, ares_dns_rr_key_t key)
{
	return ares_dns_rr_get_opt_byid(rr, key, 4, NULL, NULL) ||
	       ares_dns_rr_get_opt_byid(rr, key, 6, NULL, NULL);
}

/* No SVCB/HTTPS RR in the rewritten rec carries an address hint; where the
 * upstream's RR had one (same position: answer and authority keep their
 * order), the mandatory list no longer names it either. */
static void check_no_hints(const ares_dns_record_t *rec, const ares_dns_record_t *in)
{
	bool tc = ares_dns_record_get_flags(rec) & ARES_FLAG_TC;

	for (int s = ARES_SECTION_ANSWER; s <= ARES_SECTION_ADDITIONAL; s++) {
		size_t n = ares_dns_record_rr_cnt(rec, (ares_dns_section_t)s);

		if (s != ARES_SECTION_ADDITIONAL && !tc)
			CHECK(n == ares_dns_record_rr_cnt(in, (ares_dns_section_t)s));
		for (size_t i = 0; i < n; i++) {
			const ares_dns_rr_t *rr =
				ares_dns_record_rr_get_const(rec, (ares_dns_section_t)s, i);
			const unsigned char *val = NULL;
			ares_dns_rr_key_t key;
			size_t len = 0;

			if (!svcb_key(rr, &key))
				continue;
			CHECK(!has_hint(rr, key));
			if (s == ARES_SECTION_ADDITIONAL ||
			    !has_hint(ares_dns_record_rr_get_const(in, (ares_dns_section_t)s, i),
				      key))
				continue;
			if (ares_dns_rr_get_opt_byid(rr, key, 0, &val, &len) && val && len % 2 == 0)
				for (size_t k = 0; k < len; k += 2)
					CHECK(!(val[k] == 0 &&
						(val[k + 1] == 4 || val[k + 1] == 6)));
		}
	}
}

static void fuzz_reply(const uint8_t *data, size_t size, uint8_t *out)
{
	static uint8_t out2[OUT_CAP];
	ares_dns_record_t *in = NULL, *rec = NULL;
	struct addr_count c = { 0 };
	struct dns_query q;
	const char *name = NULL;
	ares_dns_rec_type_t type;
	ares_dns_class_t qclass;
	size_t max_msg, len;
	int r, n, n2;

	r = dns_msg_answer_addrs(data, size, addr_cb, &c);
	CHECK(r == -EBADMSG || r == -ENOMEM || (r >= 0 && r == c.calls));

	if (ares_dns_parse(data, size, 0, &in) != ARES_SUCCESS)
		return;
	CHECK(dns_msg_record_addrs(in, NULL, NULL) == r);

	/* The client that asked: the reply's own question, in a case and
	 * with EDNS picked by the input. */
	memset(&q, 0, sizeof(q));
	if (ares_dns_record_query_get(in, 0, &name, &type, &qclass) != ARES_SUCCESS ||
	    (len = strlen(name)) >= sizeof(q.name))
		goto out;
	for (size_t i = 0; i < len; i++)
		q.name[i] = lower(name[i]);
	for (size_t i = 0; i < sizeof(q.name_upper); i++)
		q.name_upper[i] = data[i % size];
	q.id = 0x5a5a;
	q.flags = data[size - 1] & 1 ? ARES_FLAG_RD : ARES_FLAG_CD;
	q.has_question = true;
	q.qtype = (uint16_t)type;
	q.qclass = (uint16_t)qclass;
	q.has_edns = data[size - 1] & 2;
	q.edns_udp_size = 4096;
	static const size_t limits[] = { 512, 1232, 65535, 30, 100 };
	max_msg = limits[data[size / 2] % 5];

	n = dns_msg_rewrite_reply(&q, data, size, out, OUT_CAP, max_msg);
	CHECK(n > 0 || n == -EBADMSG || n == -EMSGSIZE || n == -ENOMEM);
	n2 = dns_msg_rewrite_record(&q, in, out2, OUT_CAP, max_msg);
	if (n > 0 && n2 > 0)
		CHECK(n == n2 && memcmp(out, out2, (size_t)n) == 0);
	if (n > 0) {
		CHECK((size_t)n <= max_msg);
		CHECK(ares_dns_parse(out, (size_t)n, 0, &rec) == ARES_SUCCESS);
		CHECK(ares_dns_record_get_id(rec) == q.id);
		CHECK(ares_dns_record_query_get(rec, 0, &name, NULL, NULL) == ARES_SUCCESS);
		CHECK(name_eq(name, q.name));
		CHECK(has_opt(rec) == q.has_edns);
		CHECK(!!(ares_dns_record_get_flags(rec) & ARES_FLAG_RD) ==
		      !!(q.flags & ARES_FLAG_RD));
		check_no_hints(rec, in);
	}

	/* Someone else's question never passes. */
	q.qtype ^= 1;
	CHECK(dns_msg_rewrite_reply(&q, data, size, out, OUT_CAP, max_msg) < 0);
out:
	ares_dns_record_destroy(rec);
	ares_dns_record_destroy(in);
}

static void fuzz_tcp(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	size_t msglen, off = 0;
	uint8_t pre[2];
	int r;

	while ((r = dns_msg_tcp_frame(data + off, size - off, &msg, &msglen)) > 0) {
		CHECK(msg == data + off + 2 && (size_t)r == msglen + 2);
		CHECK(off + (size_t)r <= size);
		CHECK(dns_msg_tcp_prefix(msglen, pre) == 2);
		CHECK(memcmp(pre, data + off, 2) == 0);
		off += (size_t)r;
	}
	CHECK(r == 0 || r == -EBADMSG);
	CHECK(msg == NULL && msglen == 0);
}

static void fuzz_ptr_name(const uint8_t *data, size_t size)
{
	char name[128], back[128];
	uint8_t a[16];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	int r, k;

	memcpy(name, data, n);
	name[n] = '\0';
	r = dns_msg_ptr_name_to_addr(name, a);
	CHECK(r == 4 || r == 16 || r == -EINVAL);
	if (r == 4) {
		snprintf(back, sizeof(back), "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	} else if (r == 16) {
		k = 0;
		for (int i = 15; i >= 0; i--)
			k += snprintf(back + k, sizeof(back) - (size_t)k, "%x.%x.", a[i] & 0xf,
				      a[i] >> 4);
		snprintf(back + k, sizeof(back) - (size_t)k, "ip6.arpa");
	} else {
		for (int i = 0; i < 16; i++)
			CHECK(a[i] == 0);
		return;
	}
	n = strlen(name);
	if (n && name[n - 1] == '.')
		name[--n] = '\0';
	CHECK(name_eq(name, back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[OUT_CAP];

	if (size == 0) {
		struct dns_query q;

		CHECK(dns_msg_parse_query(data, size, &q) == -EINVAL);
		return 0;
	}
	fuzz_query(data, size, out);
	fuzz_reply(data, size, out);
	fuzz_tcp(data, size);
	fuzz_ptr_name(data, size);
	return 0;
}
