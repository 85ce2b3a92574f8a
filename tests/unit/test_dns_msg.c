/* Unit tests for the DNS message codec (resolver/dns_msg.c).
 *
 * Well-formed queries and upstream replies are made with the c-ares record
 * API, as a client library would; malformed ones are spelled out in bytes.
 * Every answer is read back with ares_dns_parse, never by byte offsets,
 * except for the header bits c-ares cannot represent.
 */
#include "resolver/dns_msg.h"
#include "test.h"

#include <ares.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OPT_DO 0x8000

/* Writes rec into buf (and destroys it); returns the length, 0 on error. */
static size_t rec_write(ares_dns_record_t *rec, uint8_t *buf, size_t cap)
{
	unsigned char *wire = NULL;
	size_t len = 0;

	if (ares_dns_write(rec, &wire, &len) != ARES_SUCCESS || len > cap) {
		ares_dns_record_destroy(rec);
		ares_free_string(wire);
		return 0;
	}
	memcpy(buf, wire, len);
	ares_free_string(wire);
	ares_dns_record_destroy(rec);
	return len;
}

static void add_opt(ares_dns_record_t *rec, unsigned short udp, unsigned char version,
		    unsigned short flags)
{
	ares_dns_rr_t *rr = NULL;

	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ADDITIONAL, "", ARES_REC_TYPE_OPT,
			       ARES_CLASS_IN, 0);
	ares_dns_rr_set_u16(rr, ARES_RR_OPT_UDP_SIZE, udp);
	ares_dns_rr_set_u8(rr, ARES_RR_OPT_VERSION, version);
	ares_dns_rr_set_u16(rr, ARES_RR_OPT_FLAGS, flags);
}

/* A client query; udp == 0 means no EDNS. */
static size_t mk_query(uint8_t *buf, size_t cap, unsigned short id, unsigned short flags,
		       const char *name, int qtype, unsigned short udp, unsigned short edns_flags)
{
	ares_dns_record_t *rec = NULL;

	if (ares_dns_record_create(&rec, id, flags, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR) !=
	    ARES_SUCCESS)
		return 0;
	ares_dns_record_query_add(rec, name, (ares_dns_rec_type_t)qtype, ARES_CLASS_IN);
	if (udp)
		add_opt(rec, udp, 0, edns_flags);
	return rec_write(rec, buf, cap);
}

/* Parses a query made by mk_query into q; 0 on success. */
static int mk_parsed(struct dns_query *q, unsigned short id, unsigned short flags, const char *name,
		     int qtype, unsigned short udp, unsigned short edns_flags)
{
	uint8_t buf[600];
	size_t n = mk_query(buf, sizeof(buf), id, flags, name, qtype, udp, edns_flags);

	return n ? dns_msg_parse_query(buf, n, q) : -1;
}

static ares_dns_record_t *parse_back(const uint8_t *buf, int len)
{
	ares_dns_record_t *rec = NULL;

	if (len <= 0 || ares_dns_parse(buf, (size_t)len, 0, &rec) != ARES_SUCCESS)
		return NULL;
	return rec;
}

static const char *qname_of(const ares_dns_record_t *rec)
{
	const char *name = NULL;

	if (ares_dns_record_query_cnt(rec) != 1 ||
	    ares_dns_record_query_get(rec, 0, &name, NULL, NULL) != ARES_SUCCESS)
		return NULL;
	return name;
}

static const ares_dns_rr_t *opt_of(const ares_dns_record_t *rec)
{
	size_t i, n = ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL);

	for (i = 0; i < n; i++) {
		const ares_dns_rr_t *rr =
			ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL, i);
		if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_OPT)
			return rr;
	}
	return NULL;
}

/* --- parsing queries --------------------------------------------------------- */

/* What glibc sends for "WwW.Example.COM" A: RD, no EDNS. */
static const uint8_t q_glibc_a[] = {
	0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 3,    'W',  'w',  'W',  7,    'E',  'x',  'a',  'm',  'p',
	'l',  'e',  3,    'C',  'O',  'M',  0,    0x00, 0x01, 0x00, 0x01,
};

static void test_parse_a(void)
{
	struct dns_query q;

	T_EQ_INT(dns_msg_parse_query(q_glibc_a, sizeof(q_glibc_a), &q), 0);
	T_EQ_INT(q.id, 0xabcd);
	T_EQ_INT(q.flags, ARES_FLAG_RD);
	T_EQ_INT(q.opcode, 0);
	T_CHECK(q.has_question);
	T_EQ_STR(q.name, "www.example.com");
	T_EQ_INT(q.qtype, ARES_REC_TYPE_A);
	T_EQ_INT(q.qclass, ARES_CLASS_IN);
	T_CHECK(!q.has_edns);
	T_EQ_INT(dns_msg_udp_limit(&q), 512);
	/* "WwW.Example.COM": upper case at 0, 2, 4, 12, 13, 14. */
	T_EQ_INT(q.name_upper[0], 0x15);
	T_EQ_INT(q.name_upper[1], 0x70);
}

static void test_parse_aaaa_edns(void)
{
	struct dns_query q;

	T_EQ_INT(mk_parsed(&q, 7, ARES_FLAG_RD | ARES_FLAG_AD, "Host.Example.", 28, 4096, OPT_DO),
		 0);
	T_EQ_STR(q.name, "host.example");
	T_EQ_INT(q.qtype, ARES_REC_TYPE_AAAA);
	T_EQ_INT(q.flags, ARES_FLAG_RD | ARES_FLAG_AD);
	T_CHECK(q.has_edns);
	T_EQ_INT(q.edns_udp_size, 4096);
	T_EQ_INT(q.edns_flags, OPT_DO);
	T_EQ_INT(dns_msg_udp_limit(&q), DNS_MSG_EDNS_UDP_SIZE);

	/* RFC 6891 6.2.3: sizes under 512 count as 512. */
	T_EQ_INT(mk_parsed(&q, 7, 0, "a.b", 28, 100, 0), 0);
	T_EQ_INT(dns_msg_udp_limit(&q), 512);
	T_EQ_INT(mk_parsed(&q, 7, 0, "a.b", 28, 800, 0), 0);
	T_EQ_INT(dns_msg_udp_limit(&q), 800);
}

static void test_parse_ptr_mx_root(void)
{
	struct dns_query q;

	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_RD, "4.3.2.1.IN-ADDR.arpa", 12, 0, 0), 0);
	T_EQ_STR(q.name, "4.3.2.1.in-addr.arpa");
	T_EQ_INT(q.qtype, ARES_REC_TYPE_PTR);
	T_EQ_INT(mk_parsed(&q, 2, ARES_FLAG_RD, "example.org", 15, 1232, 0), 0);
	T_EQ_STR(q.name, "example.org");
	T_EQ_INT(q.qtype, ARES_REC_TYPE_MX);
	T_CHECK(q.has_edns);
	/* A type c-ares does not know (DNSKEY) is still a query. */
	T_EQ_INT(mk_parsed(&q, 3, 0, "example.org", 48, 0, 0), 0);
	T_EQ_INT(q.qtype, 48);
	/* The root: "" (priming query for NS). */
	T_EQ_INT(mk_parsed(&q, 4, 0, ".", 2, 0, 0), 0);
	T_EQ_STR(q.name, "");
	T_CHECK(q.has_question);
}

/* Only names c-ares can write back into an answer are served: a label
 * holding '.', a binary byte or '!' is refused; '_', '*', '/' are fine. */
static void test_parse_odd_names(void)
{
	static const char *const ok[] = { "_sip._tcp.example.com", "*.wild.test",
					  "0/25.2.0.192.in-addr.arpa", "x-y.test" };
	static const uint8_t head[] = { 0, 9, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	static const char *const bad[] = { "A.b\x01", "a!b",  "a b",
					   "a@b",     "a\\b", "\xc3\xa9t\xc3\xa9" };
	uint8_t buf[700];
	struct dns_query q;
	size_t n, i, l;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		T_EQ_INT(mk_parsed(&q, 1, 0, ok[i], 1, 0, 0), 0);
		T_EQ_STR(q.name, ok[i]);
	}
	/* Raw labels: c-ares itself would not write these into a query. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, head, sizeof(head));
		n = sizeof(head);
		l = strlen(bad[i]);
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, bad[i], l);
		n += l;
		buf[n++] = 0;
		buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
		T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EILSEQ);
		T_EQ_INT(q.id, 9);
		T_CHECK(!q.has_question);
		T_EQ_STR(q.name, "");
	}
	T_EQ_INT(dns_msg_error_rcode(-EILSEQ), ARES_RCODE_REFUSED);

	/* 4 labels of 60 bytes 0x01: 243 wire bytes, 963 escaped characters. */
	n = sizeof(head);
	for (l = 0; l < 4; l++) {
		buf[n++] = 60;
		for (i = 0; i < 60; i++)
			buf[n++] = 1;
	}
	buf[n++] = 0;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EILSEQ);
}

static void test_parse_truncated(void)
{
	uint8_t buf[600];
	struct dns_query q;
	size_t n =
		mk_query(buf, sizeof(buf), 0x4242, ARES_FLAG_RD, "mail.example.net", 15, 1232, 0);
	size_t k;

	T_CHECK(n > 12);
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), 0);
	for (k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan sees over-reads */
		int r;

		memcpy(copy, buf, k);
		r = dns_msg_parse_query(k ? copy : NULL, k, &q);
		if (k < 12) {
			T_EQ_INT(r, -EINVAL);
			T_EQ_INT(q.id, 0);
		} else {
			T_EQ_INT(r, -EBADMSG);
			T_EQ_INT(q.id, 0x4242);
			T_EQ_INT(dns_msg_error_rcode(r), ARES_RCODE_FORMERR);
		}
		free(copy);
	}
	T_EQ_INT(dns_msg_parse_query(buf, n, NULL), -EINVAL);
}

static void test_parse_counts(void)
{
	uint8_t buf[128];
	struct dns_query q;

	/* QDCOUNT 0. */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[5] = 0;
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EBADMSG);
	T_EQ_INT(q.id, 0xabcd);
	T_CHECK(!q.has_question);

	/* QDCOUNT 2 with the second question present (a pointer to the first). */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[5] = 2;
	{
		static const uint8_t q2[] = { 0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01 };
		memcpy(buf + sizeof(q_glibc_a), q2, sizeof(q2));
	}
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a) + 6, &q), -EBADMSG);
	T_EQ_INT(q.id, 0xabcd);

	/* An answer record in a query. */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[7] = 1;
	{
		static const uint8_t an[] = {
			0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4
		};
		memcpy(buf + sizeof(q_glibc_a), an, sizeof(an));
		T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a) + sizeof(an), &q), -EBADMSG);
		T_CHECK(q.has_question); /* FORMERR can echo it */
		T_EQ_STR(q.name, "www.example.com");
		/* ... and in authority. */
		buf[7] = 0;
		buf[9] = 1;
		T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a) + sizeof(an), &q), -EBADMSG);
	}
}

static void test_parse_header_rejects(void)
{
	uint8_t buf[64];
	struct dns_query q;
	uint8_t op;

	/* QR set: a response, dropped. */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[2] |= 0x80;
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EINVAL);
	T_EQ_INT(dns_msg_error_rcode(-EINVAL), -1);

	/* Every opcode but QUERY: NOTIMP, header kept for the answer. */
	for (op = 1; op < 16; op++) {
		memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
		buf[2] = (uint8_t)((buf[2] & 0x87) | op << 3);
		T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EOPNOTSUPP);
		T_EQ_INT(q.opcode, op);
		T_EQ_INT(q.id, 0xabcd);
		T_EQ_INT(q.flags, ARES_FLAG_RD);
	}
	T_EQ_INT(dns_msg_error_rcode(-EOPNOTSUPP), ARES_RCODE_NOTIMP);
}

static void test_parse_bad_names(void)
{
	uint8_t buf[400];
	struct dns_query q;
	size_t n, i;

	static const uint8_t head[] = { 0, 5, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0 };

	/* Label length 64 (bits 01: reserved). */
	memcpy(buf, head, 12);
	n = 12;
	buf[n++] = 64;
	for (i = 0; i < 64; i++)
		buf[n++] = 'a';
	buf[n++] = 0;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);
	T_EQ_INT(q.id, 5);

	/* Five 63-byte labels: 320 bytes, over the 255 limit. */
	n = 12;
	for (i = 0; i < 5; i++) {
		buf[n++] = 63;
		memset(buf + n, 'a', 63);
		n += 63;
	}
	buf[n++] = 0;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);

	/* Compression pointer to itself. */
	n = 12;
	buf[n++] = 0xc0, buf[n++] = 12;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);

	/* Two labels pointing at each other: "a" -> ptr 17 ; at 17: "b" -> ptr 12. */
	n = 12;
	buf[n++] = 1, buf[n++] = 'a', buf[n++] = 0xc0, buf[n++] = 17;
	buf[n++] = 0; /* pad */
	buf[n++] = 1, buf[n++] = 'b', buf[n++] = 0xc0, buf[n++] = 12;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);

	/* Pointer beyond the message. */
	n = 12;
	buf[n++] = 0xc1, buf[n++] = 0xff;
	buf[n++] = 0, buf[n++] = 1, buf[n++] = 0, buf[n++] = 1;
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);
}

static void test_parse_edns_rules(void)
{
	uint8_t buf[600];
	struct dns_query q;
	ares_dns_record_t *rec = NULL;
	size_t n;

	/* Version 1: BADVERS, with the question and EDNS filled in. */
	ares_dns_record_create(&rec, 77, ARES_FLAG_RD, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	ares_dns_record_query_add(rec, "example.com", ARES_REC_TYPE_A, ARES_CLASS_IN);
	add_opt(rec, 1400, 1, 0);
	n = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EPROTONOSUPPORT);
	T_CHECK(q.has_question);
	T_CHECK(q.has_edns);
	T_EQ_INT(dns_msg_error_rcode(-EPROTONOSUPPORT), DNS_MSG_RCODE_BADVERS);

	/* OPT owned by a name other than the root. */
	ares_dns_record_create(&rec, 78, 0, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	ares_dns_record_query_add(rec, "example.com", ARES_REC_TYPE_A, ARES_CLASS_IN);
	{
		ares_dns_rr_t *rr = NULL;
		ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ADDITIONAL, "x", ARES_REC_TYPE_OPT,
				       ARES_CLASS_IN, 0);
		ares_dns_rr_set_u16(rr, ARES_RR_OPT_UDP_SIZE, 1232);
		ares_dns_rr_set_u8(rr, ARES_RR_OPT_VERSION, 0);
		ares_dns_rr_set_u16(rr, ARES_RR_OPT_FLAGS, 0);
	}
	n = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);

	/* Two OPT RRs. */
	ares_dns_record_create(&rec, 79, 0, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	ares_dns_record_query_add(rec, "example.com", ARES_REC_TYPE_A, ARES_CLASS_IN);
	add_opt(rec, 1232, 0, 0);
	add_opt(rec, 1232, 0, 0);
	n = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_parse_query(buf, n, &q), -EBADMSG);
	T_EQ_INT(q.id, 79);
}

/* --- building answers --------------------------------------------------------- */

static void test_build_a(void)
{
	static const uint8_t addrs[] = { 198, 18, 0, 1, 198, 18, 0, 2 };
	uint8_t out[512];
	struct dns_query q;
	ares_dns_record_t *rec;
	const ares_dns_rr_t *rr;
	int n;

	T_EQ_INT(dns_msg_parse_query(q_glibc_a, sizeof(q_glibc_a), &q), 0);
	n = dns_msg_build_addr(&q, addrs, 2, 5, out, sizeof(out), 512);
	T_CHECK(n > 0);
	rec = parse_back(out, n);
	T_CHECK(rec != NULL);
	if (!rec)
		return;
	T_EQ_INT(ares_dns_record_get_id(rec), 0xabcd);
	T_EQ_INT(ares_dns_record_get_flags(rec), ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA);
	T_EQ_INT(ares_dns_record_get_opcode(rec), ARES_OPCODE_QUERY);
	T_EQ_INT(ares_dns_record_get_rcode(rec), ARES_RCODE_NOERROR);
	/* The question exactly as the client wrote it (DNS 0x20). */
	T_EQ_STR(qname_of(rec), "WwW.Example.COM");
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 2);
	T_CHECK(opt_of(rec) == NULL);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, 1);
	T_EQ_INT(ares_dns_rr_get_type(rr), ARES_REC_TYPE_A);
	T_EQ_INT(ares_dns_rr_get_class(rr), ARES_CLASS_IN);
	T_EQ_INT(ares_dns_rr_get_ttl(rr), 5);
	T_EQ_STR(ares_dns_rr_get_name(rr), "WwW.Example.COM");
	T_EQ_MEM(ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR), addrs + 4, 4);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, 0);
	T_EQ_MEM(ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR), addrs, 4);
	ares_dns_record_destroy(rec);

	/* Wrong type for the question, no question, too small a buffer. */
	q.qtype = ARES_REC_TYPE_MX;
	T_EQ_INT(dns_msg_build_addr(&q, addrs, 1, 5, out, sizeof(out), 512), -EINVAL);
	q.qtype = ARES_REC_TYPE_A;
	T_EQ_INT(dns_msg_build_addr(&q, addrs, 1, 5, out, 20, 512), -ENOBUFS);
	q.has_question = false;
	T_EQ_INT(dns_msg_build_addr(&q, addrs, 1, 5, out, sizeof(out), 512), -EINVAL);
}

static void test_build_aaaa_edns(void)
{
	uint8_t addr[16] = { 0xfd, 0x00, 0xbe, 0xef };
	uint8_t out[512];
	struct dns_query q;
	ares_dns_record_t *rec;
	const ares_dns_rr_t *rr, *opt;
	int n;

	addr[15] = 7;
	T_EQ_INT(mk_parsed(&q, 0x0102, ARES_FLAG_RD | ARES_FLAG_CD, "v6.test", 28, 1232, OPT_DO),
		 0);
	n = dns_msg_build_addr(&q, addr, 1, 1, out, sizeof(out), dns_msg_udp_limit(&q));
	rec = parse_back(out, n);
	T_CHECK(rec != NULL);
	if (!rec)
		return;
	T_EQ_INT(ares_dns_record_get_id(rec), 0x0102);
	T_EQ_INT(ares_dns_record_get_flags(rec),
		 ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA | ARES_FLAG_CD);
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 1);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, 0);
	T_EQ_INT(ares_dns_rr_get_type(rr), ARES_REC_TYPE_AAAA);
	T_EQ_INT(ares_dns_rr_get_ttl(rr), 1);
	T_EQ_MEM(ares_dns_rr_get_addr6(rr, ARES_RR_AAAA_ADDR), addr, 16);
	opt = opt_of(rec);
	T_CHECK(opt != NULL);
	if (opt) {
		T_EQ_INT(ares_dns_rr_get_u16(opt, ARES_RR_OPT_UDP_SIZE), DNS_MSG_EDNS_UDP_SIZE);
		T_EQ_INT(ares_dns_rr_get_u16(opt, ARES_RR_OPT_FLAGS), OPT_DO);
	}
	ares_dns_record_destroy(rec);

	/* An RD=0 query gets RD=0 back. */
	T_EQ_INT(mk_parsed(&q, 3, 0, "v6.test", 28, 0, 0), 0);
	n = dns_msg_build_addr(&q, addr, 1, 1, out, sizeof(out), 512);
	rec = parse_back(out, n);
	T_CHECK(rec && ares_dns_record_get_flags(rec) == (ARES_FLAG_QR | ARES_FLAG_RA));
	ares_dns_record_destroy(rec);
}

static void test_build_truncates(void)
{
	uint8_t addrs[4 * 60];
	uint8_t out[2048];
	struct dns_query q;
	ares_dns_record_t *rec;
	int n, i;

	for (i = 0; i < 60; i++) {
		addrs[4 * i] = 10;
		addrs[4 * i + 1] = 0;
		addrs[4 * i + 2] = 0;
		addrs[4 * i + 3] = (uint8_t)i;
	}
	/* 60 A records: about 1 KB, over 512 without EDNS. */
	T_EQ_INT(mk_parsed(&q, 9, ARES_FLAG_RD, "many.test", 1, 0, 0), 0);
	n = dns_msg_build_addr(&q, addrs, 60, 30, out, sizeof(out), 512);
	T_CHECK(n > 0 && n <= 512);
	rec = parse_back(out, n);
	T_CHECK(rec != NULL);
	if (rec) {
		T_CHECK(ares_dns_record_get_flags(rec) & ARES_FLAG_TC);
		T_CHECK(ares_dns_record_get_flags(rec) & ARES_FLAG_RD);
		T_EQ_INT(ares_dns_record_get_id(rec), 9);
		T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 0);
		T_EQ_STR(qname_of(rec), "many.test");
		ares_dns_record_destroy(rec);
	}
	/* Over TCP it all fits. */
	n = dns_msg_build_addr(&q, addrs, 60, 30, out, sizeof(out), DNS_MSG_TCP_MAX);
	T_CHECK(n > 512);
	rec = parse_back(out, n);
	T_CHECK(rec && !(ares_dns_record_get_flags(rec) & ARES_FLAG_TC));
	T_CHECK(rec && ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 60);
	ares_dns_record_destroy(rec);

	/* With EDNS the truncated answer keeps its OPT RR. */
	T_EQ_INT(mk_parsed(&q, 10, ARES_FLAG_RD, "many.test", 1, 512, 0), 0);
	n = dns_msg_build_addr(&q, addrs, 60, 30, out, sizeof(out), dns_msg_udp_limit(&q));
	rec = parse_back(out, n);
	T_CHECK(rec && (ares_dns_record_get_flags(rec) & ARES_FLAG_TC));
	T_CHECK(rec && opt_of(rec) != NULL);
	ares_dns_record_destroy(rec);

	/* A limit not even the question fits in. */
	T_EQ_INT(dns_msg_build_addr(&q, addrs, 60, 30, out, sizeof(out), 20), -EMSGSIZE);
}

static void test_build_ptr(void)
{
	uint8_t out[512];
	struct dns_query q;
	ares_dns_record_t *rec;
	const ares_dns_rr_t *rr;
	int n;

	T_EQ_INT(mk_parsed(&q, 0x77, ARES_FLAG_RD, "1.0.18.198.in-addr.arpa", 12, 0, 0), 0);
	n = dns_msg_build_ptr(&q, "www.example.com.", 3, out, sizeof(out), 512);
	rec = parse_back(out, n);
	T_CHECK(rec != NULL);
	if (!rec)
		return;
	T_EQ_INT(ares_dns_record_get_id(rec), 0x77);
	T_EQ_STR(qname_of(rec), "1.0.18.198.in-addr.arpa");
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 1);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, 0);
	T_EQ_INT(ares_dns_rr_get_type(rr), ARES_REC_TYPE_PTR);
	T_EQ_INT(ares_dns_rr_get_ttl(rr), 3);
	T_EQ_STR(ares_dns_rr_get_name(rr), "1.0.18.198.in-addr.arpa");
	T_EQ_STR(ares_dns_rr_get_str(rr, ARES_RR_PTR_DNAME), "www.example.com");
	ares_dns_record_destroy(rec);

	/* Not a PTR question; a target that is no name. */
	T_EQ_INT(dns_msg_build_ptr(&q, "a..b", 3, out, sizeof(out), 512), -EINVAL);
	q.qtype = ARES_REC_TYPE_A;
	T_EQ_INT(dns_msg_build_ptr(&q, "x.y", 3, out, sizeof(out), 512), -EINVAL);
}

static void test_build_errors(void)
{
	static const int rcodes[] = { ARES_RCODE_FORMERR, ARES_RCODE_SERVFAIL, ARES_RCODE_NXDOMAIN,
				      ARES_RCODE_NOTIMP, ARES_RCODE_REFUSED };
	uint8_t out[512], buf[64];
	struct dns_query q;
	ares_dns_record_t *rec;
	size_t i;
	int n;

	T_EQ_INT(mk_parsed(&q, 0x5151, ARES_FLAG_RD, "Err.Test", 16, 0, 0), 0);
	for (i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		n = dns_msg_build_error(&q, rcodes[i], out, sizeof(out));
		rec = parse_back(out, n);
		T_CHECK(rec != NULL);
		if (!rec)
			continue;
		T_EQ_INT(ares_dns_record_get_rcode(rec), rcodes[i]);
		T_EQ_INT(ares_dns_record_get_id(rec), 0x5151);
		T_EQ_INT(ares_dns_record_get_flags(rec),
			 ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA);
		T_EQ_STR(qname_of(rec), "Err.Test");
		T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 0);
		ares_dns_record_destroy(rec);
	}

	/* NODATA. */
	n = dns_msg_build_nodata(&q, out, sizeof(out));
	rec = parse_back(out, n);
	T_CHECK(rec && ares_dns_record_get_rcode(rec) == ARES_RCODE_NOERROR);
	T_CHECK(rec && ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 0);
	T_CHECK(rec && qname_of(rec) && strcmp(qname_of(rec), "Err.Test") == 0);
	ares_dns_record_destroy(rec);

	/* FORMERR to a header-only query: no question. (c-ares cannot parse
	 * a message without question, so read the header bytes.) */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[5] = 0;
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EBADMSG);
	n = dns_msg_build_error(&q, ARES_RCODE_FORMERR, out, sizeof(out));
	T_EQ_INT(n, 12);
	T_EQ_INT(out[0], 0xab);
	T_EQ_INT(out[1], 0xcd);
	T_EQ_INT(out[2], 0x81); /* QR, opcode 0, RD */
	T_EQ_INT(out[3], 0x81); /* RA, FORMERR */
	T_EQ_INT(out[5], 0);    /* QDCOUNT */

	/* NOTIMP echoes the opcode, even one c-ares has no name for. */
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[2] = (uint8_t)(buf[2] | 15 << 3);
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EOPNOTSUPP);
	n = dns_msg_build_error(&q, dns_msg_error_rcode(-EOPNOTSUPP), out, sizeof(out));
	T_EQ_INT(n, 12);
	T_EQ_INT(out[2], 0x80 | 15 << 3 | 0x01);
	T_EQ_INT(out[3] & 0x0f, ARES_RCODE_NOTIMP);
	memcpy(buf, q_glibc_a, sizeof(q_glibc_a));
	buf[2] = (uint8_t)(buf[2] | ARES_OPCODE_UPDATE << 3);
	T_EQ_INT(dns_msg_parse_query(buf, sizeof(q_glibc_a), &q), -EOPNOTSUPP);
	n = dns_msg_build_error(&q, ARES_RCODE_NOTIMP, out, sizeof(out));
	T_EQ_INT(n, 12);
	T_EQ_INT((out[2] >> 3) & 0xf, ARES_OPCODE_UPDATE);

	/* BADVERS travels in the OPT RR, which we answer with version 0. */
	T_EQ_INT(mk_parsed(&q, 0x99, 0, "x.test", 1, 1232, 0), 0);
	n = dns_msg_build_error(&q, DNS_MSG_RCODE_BADVERS, out, sizeof(out));
	rec = parse_back(out, n);
	T_CHECK(rec && ares_dns_record_get_rcode(rec) == 16);
	T_CHECK(rec && opt_of(rec) && ares_dns_rr_get_u8(opt_of(rec), ARES_RR_OPT_VERSION) == 0);
	ares_dns_record_destroy(rec);
	q.has_edns = false;
	T_EQ_INT(dns_msg_build_error(&q, DNS_MSG_RCODE_BADVERS, out, sizeof(out)), -EINVAL);
	T_EQ_INT(dns_msg_build_error(&q, -1, out, sizeof(out)), -EINVAL);
	T_EQ_INT(dns_msg_build_error(NULL, 2, out, sizeof(out)), -EINVAL);
	T_EQ_INT(dns_msg_build_error(&q, 2, out, 11), -ENOBUFS);
}

static void test_upstream_query(void)
{
	uint8_t buf[600];
	struct dns_query q, back;
	struct ares_dns_record *rec = NULL;
	const ares_dns_rr_t *opt;
	size_t n;

	T_EQ_INT(mk_parsed(&q, 0x1111, 0, "Fwd.Example.COM", ARES_REC_TYPE_MX, 0, 0), 0);
	T_EQ_INT(dns_msg_upstream_query(&q, &rec), 0);
	T_CHECK(rec != NULL);
	if (!rec)
		return;
	T_EQ_INT(ares_dns_record_get_flags(rec), ARES_FLAG_RD);
	opt = opt_of(rec);
	T_CHECK(opt && ares_dns_rr_get_u16(opt, ARES_RR_OPT_UDP_SIZE) == DNS_MSG_EDNS_UDP_SIZE);
	n = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_parse_query(buf, n, &back), 0);
	T_EQ_STR(back.name, "fwd.example.com");
	T_EQ_INT(back.qtype, ARES_REC_TYPE_MX);
	T_CHECK(back.has_edns);
	T_EQ_INT(back.edns_flags, 0);

	/* DO and CD go upstream. */
	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_CD, "a.test", 1, 4096, OPT_DO), 0);
	T_EQ_INT(dns_msg_upstream_query(&q, &rec), 0);
	n = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_parse_query(buf, n, &back), 0);
	T_EQ_INT(back.edns_flags, OPT_DO);
	T_EQ_INT(back.flags, ARES_FLAG_RD | ARES_FLAG_CD);

	q.has_question = false;
	T_EQ_INT(dns_msg_upstream_query(&q, &rec), -EINVAL);
	T_CHECK(rec == NULL);
}

/* --- upstream replies --------------------------------------------------------- */

static void https_params(ares_dns_rr_t *rr, ares_dns_rr_key_t key, bool hints)
{
	static const unsigned char mandatory[] = { 0, 1, 0, 4 };
	static const unsigned char alpn[] = { 2, 'h', '2', 2, 'h', '3' };
	static const unsigned char v4[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const unsigned char ech[] = { 0, 4, 0xfe, 0x0d, 0, 0 };

	if (hints)
		ares_dns_rr_set_opt(rr, key, 0, mandatory, sizeof(mandatory));
	ares_dns_rr_set_opt(rr, key, 1, alpn, sizeof(alpn));
	if (hints)
		ares_dns_rr_set_opt(rr, key, 4, v4, sizeof(v4));
	ares_dns_rr_set_opt(rr, key, 5, ech, sizeof(ech));
	if (hints)
		ares_dns_rr_set_opt(rr, key, 6, v6, sizeof(v6));
}

/* An upstream reply to "example.com" HTTPS, as c-ares would hand it over. */
static size_t mk_https_reply(uint8_t *buf, size_t cap, const char *qname, bool hints, bool with_opt)
{
	ares_dns_record_t *rec = NULL;
	ares_dns_rr_t *rr = NULL;

	ares_dns_record_create(&rec, 0x2222,
			       ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA | ARES_FLAG_AD,
			       ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	ares_dns_record_query_add(rec, qname, ARES_REC_TYPE_HTTPS, ARES_CLASS_IN);
	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, qname, ARES_REC_TYPE_HTTPS,
			       ARES_CLASS_IN, 300);
	ares_dns_rr_set_u16(rr, ARES_RR_HTTPS_PRIORITY, 1);
	ares_dns_rr_set_str(rr, ARES_RR_HTTPS_TARGET, "");
	https_params(rr, ARES_RR_HTTPS_PARAMS, hints);
	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ADDITIONAL, "svc.example.com",
			       ARES_REC_TYPE_SVCB, ARES_CLASS_IN, 300);
	ares_dns_rr_set_u16(rr, ARES_RR_SVCB_PRIORITY, 1);
	ares_dns_rr_set_str(rr, ARES_RR_SVCB_TARGET, "svc.example.net");
	https_params(rr, ARES_RR_SVCB_PARAMS, hints);
	if (with_opt) {
		static const unsigned char cookie[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
		add_opt(rec, 4096, 0, 0);
		ares_dns_rr_set_opt(
			ares_dns_record_rr_get(
				rec, ARES_SECTION_ADDITIONAL,
				ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL) - 1),
			ARES_RR_OPT_OPTIONS, ARES_OPT_PARAM_COOKIE, cookie, sizeof(cookie));
	}
	return rec_write(rec, buf, cap);
}

static void check_stripped(const ares_dns_rr_t *rr, ares_dns_rr_key_t key)
{
	const unsigned char *val = NULL;
	size_t len = 0;

	T_CHECK(!ares_dns_rr_get_opt_byid(rr, key, 4, NULL, NULL));
	T_CHECK(!ares_dns_rr_get_opt_byid(rr, key, 6, NULL, NULL));
	T_CHECK(ares_dns_rr_get_opt_byid(rr, key, 1, &val, &len));
	T_EQ_INT(len, 6);
	T_CHECK(ares_dns_rr_get_opt_byid(rr, key, 5, NULL, NULL));
	/* mandatory keeps alpn, loses ipv4hint. */
	T_CHECK(ares_dns_rr_get_opt_byid(rr, key, 0, &val, &len));
	T_EQ_INT(len, 2);
	if (len == 2)
		T_CHECK(val[0] == 0 && val[1] == 1);
}

static void test_rewrite_https(void)
{
	uint8_t reply[1024], out[1024];
	struct dns_query q;
	ares_dns_record_t *rec, *in;
	const ares_dns_rr_t *rr;
	size_t len;
	int n;

	len = mk_https_reply(reply, sizeof(reply), "example.com", true, true);
	T_CHECK(len > 0);
	T_EQ_INT(mk_parsed(&q, 0xbeef, ARES_FLAG_RD, "ExAmple.com", 65, 1232, 0), 0);
	n = dns_msg_rewrite_reply(&q, reply, len, out, sizeof(out), 1232);
	rec = parse_back(out, n);
	T_CHECK(rec != NULL);
	if (!rec)
		return;
	T_EQ_INT(ares_dns_record_get_id(rec), 0xbeef);
	T_EQ_STR(qname_of(rec), "ExAmple.com");
	/* AD gone: the RRset is no longer the signed one. */
	T_EQ_INT(ares_dns_record_get_flags(rec), ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA);
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER), 1);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ANSWER, 0);
	T_EQ_INT(ares_dns_rr_get_type(rr), ARES_REC_TYPE_HTTPS);
	T_EQ_INT(ares_dns_rr_get_u16(rr, ARES_RR_HTTPS_PRIORITY), 1);
	T_EQ_INT(ares_dns_rr_get_ttl(rr), 300);
	check_stripped(rr, ARES_RR_HTTPS_PARAMS);
	/* The SVCB in additional too; and one OPT, ours, without the cookie. */
	T_EQ_INT(ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL), 2);
	rr = ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL, 0);
	T_EQ_INT(ares_dns_rr_get_type(rr), ARES_REC_TYPE_SVCB);
	check_stripped(rr, ARES_RR_SVCB_PARAMS);
	rr = opt_of(rec);
	T_CHECK(rr && ares_dns_rr_get_u16(rr, ARES_RR_OPT_UDP_SIZE) == DNS_MSG_EDNS_UDP_SIZE);
	T_CHECK(rr && ares_dns_rr_get_opt_cnt(rr, ARES_RR_OPT_OPTIONS) == 0);
	ares_dns_record_destroy(rec);

	/* A client without EDNS gets no OPT; RD=0 is echoed. */
	T_EQ_INT(mk_parsed(&q, 0xbeef, 0, "example.com", 65, 0, 0), 0);
	n = dns_msg_rewrite_reply(&q, reply, len, out, sizeof(out), 65535);
	rec = parse_back(out, n);
	T_CHECK(rec && opt_of(rec) == NULL);
	T_CHECK(rec && !(ares_dns_record_get_flags(rec) & ARES_FLAG_RD));
	ares_dns_record_destroy(rec);

	/* Nothing to strip: AD stays. */
	len = mk_https_reply(reply, sizeof(reply), "example.com", false, false);
	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_RD, "example.com", 65, 0, 0), 0);
	n = dns_msg_rewrite_reply(&q, reply, len, out, sizeof(out), 512);
	rec = parse_back(out, n);
	T_CHECK(rec && (ares_dns_record_get_flags(rec) & ARES_FLAG_AD));
	ares_dns_record_destroy(rec);

	/* The record variant, and TC when the client's limit is hit. */
	len = mk_https_reply(reply, sizeof(reply), "example.com", true, true);
	in = parse_back(reply, (int)len);
	T_EQ_INT(mk_parsed(&q, 0x4444, ARES_FLAG_RD, "example.com", 65, 0, 0), 0);
	n = dns_msg_rewrite_record(&q, in, out, sizeof(out), 512);
	rec = parse_back(out, n);
	T_CHECK(rec && ares_dns_record_get_id(rec) == 0x4444);
	T_CHECK(rec && ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 1);
	ares_dns_record_destroy(rec);
	n = dns_msg_rewrite_record(&q, in, out, sizeof(out), 60);
	rec = parse_back(out, n);
	T_CHECK(rec && (ares_dns_record_get_flags(rec) & ARES_FLAG_TC));
	T_CHECK(rec && ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) == 0);
	T_CHECK(rec && ares_dns_record_get_id(rec) == 0x4444);
	ares_dns_record_destroy(rec);
	/* The input record is left alone. */
	T_EQ_INT(ares_dns_record_get_id(in), 0x2222);
	ares_dns_record_destroy(in);
}

static void test_rewrite_rejects(void)
{
	uint8_t reply[1024], out[1024];
	struct dns_query q;
	size_t len;

	len = mk_https_reply(reply, sizeof(reply), "example.com", true, false);
	/* Another question. */
	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_RD, "example.org", 65, 0, 0), 0);
	T_EQ_INT(dns_msg_rewrite_reply(&q, reply, len, out, sizeof(out), 512), -EBADMSG);
	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_RD, "example.com", 1, 0, 0), 0);
	T_EQ_INT(dns_msg_rewrite_reply(&q, reply, len, out, sizeof(out), 512), -EBADMSG);
	/* Not a response (QR=0): a client query fed back. */
	T_EQ_INT(dns_msg_rewrite_reply(&q, q_glibc_a, sizeof(q_glibc_a), out, sizeof(out), 512),
		 -EBADMSG);
	/* QR=0 with the right question: still not a reply. */
	{
		ares_dns_record_t *rec = NULL;
		uint8_t qbuf[512];
		size_t qlen;

		ares_dns_record_create(&rec, 3, ARES_FLAG_RD, ARES_OPCODE_QUERY,
				       ARES_RCODE_NOERROR);
		ares_dns_record_query_add(rec, "example.com", ARES_REC_TYPE_A, ARES_CLASS_IN);
		qlen = rec_write(rec, qbuf, sizeof(qbuf));
		T_EQ_INT(dns_msg_rewrite_reply(&q, qbuf, qlen, out, sizeof(out), 512), -EBADMSG);
	}
	/* Garbage. */
	T_EQ_INT(dns_msg_rewrite_reply(&q, reply, 5, out, sizeof(out), 512), -EBADMSG);
	/* Too small an output buffer. */
	T_EQ_INT(mk_parsed(&q, 1, ARES_FLAG_RD, "example.com", 65, 0, 0), 0);
	T_EQ_INT(dns_msg_rewrite_reply(&q, reply, len, out, 40, 512), -ENOBUFS);
}

/* --- address extraction -------------------------------------------------------- */

struct seen {
	int n;
	char qname[8][DNS_MSG_NAME_MAX];
	uint8_t addr[8][16];
	size_t alen[8];
	uint32_t ttl[8];
};

static void seen_cb(void *arg, const char *qname, const uint8_t *addr, size_t addrlen, uint32_t ttl)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return;
	strcpy(s->qname[s->n], qname);
	memcpy(s->addr[s->n], addr, addrlen);
	s->alen[s->n] = addrlen;
	s->ttl[s->n] = ttl;
	s->n++;
}

static void add_cname(ares_dns_record_t *rec, const char *owner, const char *target, unsigned ttl)
{
	ares_dns_rr_t *rr = NULL;

	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, owner, ARES_REC_TYPE_CNAME,
			       ARES_CLASS_IN, ttl);
	ares_dns_rr_set_str(rr, ARES_RR_CNAME_CNAME, target);
}

static void add_a(ares_dns_record_t *rec, const char *owner, uint8_t last, unsigned ttl)
{
	ares_dns_rr_t *rr = NULL;
	struct in_addr in;
	uint8_t a[4] = { 203, 0, 113, last };

	memcpy(&in, a, 4);
	ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, owner, ARES_REC_TYPE_A, ARES_CLASS_IN,
			       ttl);
	ares_dns_rr_set_addr(rr, ARES_RR_A_ADDR, &in);
}

static ares_dns_record_t *mk_reply(const char *qname, int qtype, int rcode)
{
	ares_dns_record_t *rec = NULL;

	ares_dns_record_create(&rec, 5, ARES_FLAG_QR | ARES_FLAG_RD | ARES_FLAG_RA,
			       ARES_OPCODE_QUERY, (ares_dns_rcode_t)rcode);
	ares_dns_record_query_add(rec, qname, (ares_dns_rec_type_t)qtype, ARES_CLASS_IN);
	return rec;
}

static void test_answer_addrs_chain(void)
{
	uint8_t buf[1024];
	struct seen s;
	ares_dns_record_t *rec;
	size_t len;

	rec = mk_reply("WWW.example.com", ARES_REC_TYPE_A, ARES_RCODE_NOERROR);
	add_cname(rec, "www.Example.com", "a.cdn.net", 300);
	add_a(rec, "evil.example", 66, 300); /* unrelated owner */
	add_cname(rec, "a.cdn.net", "b.cdn.net", 60);
	add_a(rec, "b.cdn.net", 1, 120);
	add_cname(rec, "other.net", "b.cdn.net", 10); /* not on the path */
	add_a(rec, "B.cdn.net", 2, 30);
	len = rec_write(rec, buf, sizeof(buf));
	memset(&s, 0, sizeof(s));
	T_EQ_INT(dns_msg_answer_addrs(buf, len, seen_cb, &s), 2);
	T_EQ_INT(s.n, 2);
	T_EQ_STR(s.qname[0], "www.example.com");
	T_EQ_STR(s.qname[1], "www.example.com");
	T_EQ_INT(s.alen[0], 4);
	T_EQ_INT(s.addr[0][3], 1);
	T_EQ_INT(s.addr[1][3], 2);
	T_EQ_INT(s.ttl[0], 60); /* the 60 s CNAME bounds the 120 s A */
	T_EQ_INT(s.ttl[1], 30);
	T_EQ_INT(dns_msg_answer_addrs(buf, len, NULL, NULL), 2);

	/* A direct AAAA answer. */
	rec = mk_reply("v6.test", ARES_REC_TYPE_AAAA, ARES_RCODE_NOERROR);
	{
		ares_dns_rr_t *rr = NULL;
		struct ares_in6_addr in6;
		memset(&in6, 0, sizeof(in6));
		in6._S6_un._S6_u8[0] = 0x20;
		in6._S6_un._S6_u8[15] = 9;
		ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, "v6.test", ARES_REC_TYPE_AAAA,
				       ARES_CLASS_IN, 0x80000000u);
		ares_dns_rr_set_addr6(rr, ARES_RR_AAAA_ADDR, &in6);
	}
	len = rec_write(rec, buf, sizeof(buf));
	memset(&s, 0, sizeof(s));
	T_EQ_INT(dns_msg_answer_addrs(buf, len, seen_cb, &s), 1);
	T_EQ_INT(s.alen[0], 16);
	T_EQ_INT(s.addr[0][15], 9);
	T_EQ_INT(s.ttl[0], 0); /* RFC 2181 8: top bit set counts as 0 */

	/* A CNAME loop ends; addresses of names on it still count. */
	rec = mk_reply("loop.test", ARES_REC_TYPE_A, ARES_RCODE_NOERROR);
	add_cname(rec, "loop.test", "x.test", 100);
	add_cname(rec, "x.test", "loop.test", 100);
	add_a(rec, "x.test", 7, 100);
	len = rec_write(rec, buf, sizeof(buf));
	memset(&s, 0, sizeof(s));
	T_EQ_INT(dns_msg_answer_addrs(buf, len, seen_cb, &s), 1);
	T_EQ_STR(s.qname[0], "loop.test");

	/* The chain is followed DNS_MSG_CNAME_MAX hops, not further. */
	rec = mk_reply("c0.test", ARES_REC_TYPE_A, ARES_RCODE_NOERROR);
	{
		char a[16], b[16];
		int i;
		for (i = 0; i <= DNS_MSG_CNAME_MAX; i++) {
			snprintf(a, sizeof(a), "c%d.test", i);
			snprintf(b, sizeof(b), "c%d.test", i + 1);
			add_cname(rec, a, b, 100);
		}
		snprintf(a, sizeof(a), "c%d.test", DNS_MSG_CNAME_MAX);
		add_a(rec, a, 1, 100);
		snprintf(a, sizeof(a), "c%d.test", DNS_MSG_CNAME_MAX + 1);
		add_a(rec, a, 2, 100);
	}
	len = rec_write(rec, buf, sizeof(buf));
	memset(&s, 0, sizeof(s));
	T_EQ_INT(dns_msg_answer_addrs(buf, len, seen_cb, &s), 1);
	T_EQ_INT(s.addr[0][3], 1);

	/* NXDOMAIN: nothing; a query instead of a reply: -EBADMSG. */
	rec = mk_reply("gone.test", ARES_REC_TYPE_A, ARES_RCODE_NXDOMAIN);
	add_a(rec, "gone.test", 1, 100);
	len = rec_write(rec, buf, sizeof(buf));
	T_EQ_INT(dns_msg_answer_addrs(buf, len, seen_cb, &s), 0);
	T_EQ_INT(dns_msg_answer_addrs(q_glibc_a, sizeof(q_glibc_a), NULL, NULL), -EBADMSG);
	T_EQ_INT(dns_msg_answer_addrs(buf, 3, NULL, NULL), -EBADMSG);

	/* The record variant. */
	rec = mk_reply("r.test", ARES_REC_TYPE_A, ARES_RCODE_NOERROR);
	add_a(rec, "r.test", 4, 100);
	T_EQ_INT(dns_msg_record_addrs(rec, NULL, NULL), 1);
	ares_dns_record_destroy(rec);
}

/* --- reverse names --------------------------------------------------------------- */

static void test_ptr_names(void)
{
	static const uint8_t v6[16] = { 0x43, 0x21, 0, 0, 0,    1,    0,    2,
					0,    3,    0, 4, 0x05, 0x67, 0x89, 0xab };
	static const char *const junk[] = {
		"",
		"example.com",
		"in-addr.arpa",
		".in-addr.arpa",
		"1.2.3.in-addr.arpa",
		"1.1.1.1.1.in-addr.arpa",
		"256.1.1.1.in-addr.arpa",
		"01.1.1.1.in-addr.arpa",
		"1.1.1.1000.in-addr.arpa",
		"a.1.1.1.in-addr.arpa",
		"-1.1.1.1.in-addr.arpa",
		"1..1.1.in-addr.arpa",
		"1.1.1.1in-addr.arpa",
		"1.1.1.1.in-addr.arpa.com",
		"0/25.2.0.192.in-addr.arpa",
		"1.1.1.1.in-addr.arpa..",
		/* 31 nibbles, a two-char label, a non-hex nibble */
		"a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
		"ba.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
		"g.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.5.ip6.arpa",
		"b-a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
	};
	uint8_t out[16];
	size_t i;

	T_EQ_INT(dns_msg_ptr_name_to_addr("4.3.2.1.in-addr.arpa", out), 4);
	T_EQ_MEM(out, "\x01\x02\x03\x04", 4);
	T_EQ_INT(dns_msg_ptr_name_to_addr("255.0.18.198.IN-ADDR.ARPA.", out), 4);
	T_EQ_MEM(out, "\xc6\x12\x00\xff", 4);
	T_EQ_INT(out[4], 0);
	/* RFC 3596 2.5's example, in both cases. */
	T_EQ_INT(dns_msg_ptr_name_to_addr(
			 "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa",
			 out),
		 16);
	T_EQ_MEM(out, v6, 16);
	T_EQ_INT(
		dns_msg_ptr_name_to_addr(
			"B.A.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.IP6.ARPA.",
			out),
		16);
	T_EQ_MEM(out, v6, 16);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int r = dns_msg_ptr_name_to_addr(junk[i], out);
		if (r != -EINVAL)
			fprintf(stderr, "  accepted \"%s\"\n", junk[i]);
		T_EQ_INT(r, -EINVAL);
		T_EQ_MEM(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	}
	T_EQ_INT(dns_msg_ptr_name_to_addr(NULL, out), -EINVAL);
}

/* --- TCP framing ----------------------------------------------------------------- */

static void test_tcp_frame(void)
{
	/* Two messages back to back: 3 bytes "abc", then 2 bytes "de". */
	static const uint8_t stream[] = { 0, 3, 'a', 'b', 'c', 0, 2, 'd', 'e' };
	const uint8_t *msg;
	size_t msglen, split;
	uint8_t pre[2];

	/* Bytes arrive in two pieces split anywhere; the reader keeps what it
	 * has and asks again after each piece. */
	for (split = 0; split <= sizeof(stream); split++) {
		size_t have = split, off = 0;
		int got = 0, r;

		for (int round = 0; round < 2; round++) {
			while ((r = dns_msg_tcp_frame(stream + off, have - off, &msg, &msglen)) >
			       0) {
				if (got == 0) {
					T_EQ_INT(msglen, 3);
					T_EQ_MEM(msg, "abc", 3);
				} else {
					T_EQ_INT(msglen, 2);
					T_EQ_MEM(msg, "de", 2);
				}
				T_EQ_INT(r, (int)msglen + 2);
				off += (size_t)r;
				got++;
			}
			T_EQ_INT(r, 0);
			T_CHECK(msg == NULL && msglen == 0);
			have = sizeof(stream);
		}
		T_EQ_INT(got, 2);
		T_EQ_INT(off, sizeof(stream));
	}

	T_EQ_INT(dns_msg_tcp_frame((const uint8_t *)"\0\0abc", 5, &msg, &msglen), -EBADMSG);
	T_EQ_INT(dns_msg_tcp_frame(NULL, 0, &msg, &msglen), 0);
	T_EQ_INT(dns_msg_tcp_frame((const uint8_t *)"\xff\xff", 2, &msg, &msglen), 0);

	T_EQ_INT(dns_msg_tcp_prefix(300, pre), 2);
	T_EQ_INT(pre[0], 1);
	T_EQ_INT(pre[1], 44);
	T_EQ_INT(dns_msg_tcp_prefix(65535, pre), 2);
	T_EQ_INT(dns_msg_tcp_prefix(0, pre), -EMSGSIZE);
	T_EQ_INT(dns_msg_tcp_prefix(65536, pre), -EMSGSIZE);
}

int main(void)
{
	T_RUN(test_parse_a);
	T_RUN(test_parse_aaaa_edns);
	T_RUN(test_parse_ptr_mx_root);
	T_RUN(test_parse_odd_names);
	T_RUN(test_parse_truncated);
	T_RUN(test_parse_counts);
	T_RUN(test_parse_header_rejects);
	T_RUN(test_parse_bad_names);
	T_RUN(test_parse_edns_rules);
	T_RUN(test_build_a);
	T_RUN(test_build_aaaa_edns);
	T_RUN(test_build_truncates);
	T_RUN(test_build_ptr);
	T_RUN(test_build_errors);
	T_RUN(test_upstream_query);
	T_RUN(test_rewrite_https);
	T_RUN(test_rewrite_rejects);
	T_RUN(test_answer_addrs_chain);
	T_RUN(test_ptr_names);
	T_RUN(test_tcp_frame);
	return test_summary();
}
