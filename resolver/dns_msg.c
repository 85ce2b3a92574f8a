#include "resolver/dns_msg.h"

#include <ares.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Fixed header layout (RFC 1035 4.1.1; AD/CD from RFC 4035), used only
 * where c-ares cannot help: reading a header it refused to parse, and
 * setting bits it has no setter for after ares_dns_write(). */
#define HDR_LEN 12
#define HDR_QR 0x8000
#define HDR_OPCODE 0x7800
#define HDR_OPCODE_SHIFT 11
#define HDR_AA 0x0400
#define HDR_TC 0x0200
#define HDR_RD 0x0100
#define HDR_RA 0x0080
#define HDR_AD 0x0020
#define HDR_CD 0x0010

#define EDNS_DO 0x8000

/* SvcParamKeys (RFC 9460 14.3.2). */
#define SVCB_MANDATORY 0
#define SVCB_IPV4HINT 4
#define SVCB_IPV6HINT 6

/* Client flags an answer echoes (RFC 1035 RD; RFC 4035 3.2.2 CD). */
#define ECHO_FLAGS (ARES_FLAG_RD | ARES_FLAG_CD)

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int status_err(ares_status_t st)
{
	return st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
}

/* Header flag bits -> ARES_FLAG_*, the form struct dns_query keeps. */
static uint16_t flags_from_hdr(uint16_t raw)
{
	uint16_t f = 0;

	if (raw & HDR_QR)
		f |= ARES_FLAG_QR;
	if (raw & HDR_AA)
		f |= ARES_FLAG_AA;
	if (raw & HDR_TC)
		f |= ARES_FLAG_TC;
	if (raw & HDR_RD)
		f |= ARES_FLAG_RD;
	if (raw & HDR_RA)
		f |= ARES_FLAG_RA;
	if (raw & HDR_AD)
		f |= ARES_FLAG_AD;
	if (raw & HDR_CD)
		f |= ARES_FLAG_CD;
	return f;
}

/* Sets the header bits in mask to those of val in a written message. */
static void hdr_patch(uint8_t *msg, uint16_t mask, uint16_t val)
{
	uint16_t raw = (uint16_t)((be16(msg + 2) & ~mask) | (val & mask));

	msg[2] = (uint8_t)(raw >> 8);
	msg[3] = (uint8_t)raw;
}

/* What c-ares accepts in a written question or owner name (its
 * ares_is_hostnamech(), not public API). */
static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '/' || c == '*';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality (RFC 4343): c-ares escapes every other
 * byte the same way on both sides, so comparing presentation forms works. */
static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

/* q's question name in the case the client sent it. */
static void name_echo(const struct dns_query *q, char out[DNS_MSG_NAME_MAX])
{
	size_t i;

	for (i = 0; i < DNS_MSG_NAME_MAX - 1 && q->name[i]; i++) {
		char c = q->name[i];

		if ((q->name_upper[i / 8] >> (i % 8) & 1) && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[i] = c;
	}
	out[i] = '\0';
}

/* c-ares creates records only for the opcodes it knows; others are written
 * as QUERY and patched afterwards. */
static ares_dns_opcode_t opcode_for_ares(uint8_t opcode)
{
	switch (opcode) {
	case ARES_OPCODE_QUERY:
	case ARES_OPCODE_IQUERY:
	case ARES_OPCODE_STATUS:
	case ARES_OPCODE_NOTIFY:
	case ARES_OPCODE_UPDATE:
		return (ares_dns_opcode_t)opcode;
	default:
		return ARES_OPCODE_QUERY;
	}
}

static const ares_dns_rr_t *opt_find(const ares_dns_record_t *rec)
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

/* Appends an OPT RR (owner root, version 0, no options). */
static int opt_add(ares_dns_record_t *rec, uint16_t udp_size, uint8_t version, uint16_t flags)
{
	ares_dns_rr_t *rr = NULL;
	ares_status_t st;

	st = ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ADDITIONAL, "", ARES_REC_TYPE_OPT,
				    ARES_CLASS_IN, 0);
	if (st == ARES_SUCCESS)
		st = ares_dns_rr_set_u16(rr, ARES_RR_OPT_UDP_SIZE, udp_size);
	if (st == ARES_SUCCESS)
		st = ares_dns_rr_set_u8(rr, ARES_RR_OPT_VERSION, version);
	if (st == ARES_SUCCESS)
		st = ares_dns_rr_set_u16(rr, ARES_RR_OPT_FLAGS, flags);
	return st == ARES_SUCCESS ? 0 : status_err(st);
}

/* A response to q without records: header, question (if any), OPT (if the
 * client used EDNS). *echo gets the question name as the client wrote it,
 * the owner for answer records. */
static int answer_new(const struct dns_query *q, int rcode, ares_dns_record_t **out,
		      char echo[DNS_MSG_NAME_MAX])
{
	ares_dns_record_t *rec = NULL;
	uint16_t flags = ARES_FLAG_QR | ARES_FLAG_RA | (q->flags & ECHO_FLAGS);
	ares_status_t st;
	int r;

	*out = NULL;
	echo[0] = '\0';
	if (memchr(q->name, '\0', sizeof(q->name)) == NULL)
		return -EINVAL;
	st = ares_dns_record_create(&rec, q->id, flags, opcode_for_ares(q->opcode),
				    (ares_dns_rcode_t)rcode);
	if (st != ARES_SUCCESS)
		return status_err(st);
	if (q->has_question) {
		name_echo(q, echo);
		st = ares_dns_record_query_add(rec, echo, (ares_dns_rec_type_t)q->qtype,
					       (ares_dns_class_t)q->qclass);
		if (st != ARES_SUCCESS) {
			r = status_err(st);
			goto out;
		}
	}
	if (q->has_edns) {
		r = opt_add(rec, DNS_MSG_EDNS_UDP_SIZE, 0, q->edns_flags & EDNS_DO);
		if (r < 0)
			goto out;
	}
	*out = rec;
	rec = NULL;
	r = 0;
out:
	ares_dns_record_destroy(rec);
	return r;
}

/* rec reduced to what a truncated answer keeps: the header with TC, the
 * question and the OPT RR without its options. */
static int truncated_new(const ares_dns_record_t *rec, ares_dns_record_t **out)
{
	ares_dns_record_t *t = NULL;
	const ares_dns_rr_t *opt;
	ares_status_t st;
	size_t i;
	int r;

	*out = NULL;
	st = ares_dns_record_create(
		&t, ares_dns_record_get_id(rec), ares_dns_record_get_flags(rec) | ARES_FLAG_TC,
		ares_dns_record_get_opcode(rec), ares_dns_record_get_rcode(rec));
	if (st != ARES_SUCCESS)
		return status_err(st);
	for (i = 0; i < ares_dns_record_query_cnt(rec); i++) {
		const char *name;
		ares_dns_rec_type_t type;
		ares_dns_class_t qclass;

		st = ares_dns_record_query_get(rec, i, &name, &type, &qclass);
		if (st == ARES_SUCCESS)
			st = ares_dns_record_query_add(t, name, type, qclass);
		if (st != ARES_SUCCESS) {
			r = status_err(st);
			goto out;
		}
	}
	opt = opt_find(rec);
	if (opt) {
		r = opt_add(t, ares_dns_rr_get_u16(opt, ARES_RR_OPT_UDP_SIZE),
			    ares_dns_rr_get_u8(opt, ARES_RR_OPT_VERSION),
			    ares_dns_rr_get_u16(opt, ARES_RR_OPT_FLAGS));
		if (r < 0)
			goto out;
	}
	*out = t;
	t = NULL;
	r = 0;
out:
	ares_dns_record_destroy(t);
	return r;
}

/* Writes rec into out, truncated if it exceeds max_msg, then sets the
 * header bits in mask to val. */
static int finish(const ares_dns_record_t *rec, uint8_t *out, size_t outcap, size_t max_msg,
		  uint16_t mask, uint16_t val)
{
	ares_dns_record_t *t = NULL;
	unsigned char *wire = NULL;
	size_t wlen = 0;
	ares_status_t st;
	int r;

	if (max_msg > DNS_MSG_TCP_MAX)
		max_msg = DNS_MSG_TCP_MAX;
	st = ares_dns_write(rec, &wire, &wlen);
	if (st != ARES_SUCCESS) {
		r = status_err(st);
		goto out;
	}
	if (wlen > max_msg) {
		ares_free_string(wire);
		wire = NULL;
		r = truncated_new(rec, &t);
		if (r < 0)
			goto out;
		st = ares_dns_write(t, &wire, &wlen);
		if (st != ARES_SUCCESS) {
			r = status_err(st);
			goto out;
		}
		if (wlen > max_msg) {
			r = -EMSGSIZE;
			goto out;
		}
	}
	if (wlen < HDR_LEN) { /* cannot happen: c-ares always writes one */
		r = -EINVAL;
		goto out;
	}
	if (wlen > outcap) {
		r = -ENOBUFS;
		goto out;
	}
	memcpy(out, wire, wlen);
	hdr_patch(out, mask, val);
	r = (int)wlen;
out:
	ares_free_string(wire);
	ares_dns_record_destroy(t);
	return r;
}

/* The opcode bits, for finish(): see opcode_for_ares(). */
static uint16_t opcode_bits(const struct dns_query *q)
{
	return (uint16_t)((q->opcode & 0xf) << HDR_OPCODE_SHIFT);
}

int dns_msg_parse_query(const uint8_t *buf, size_t len, struct dns_query *q)
{
	ares_dns_record_t *rec = NULL;
	ares_dns_rec_type_t qtype;
	ares_dns_class_t qclass;
	const char *name = NULL;
	ares_status_t st;
	uint16_t raw;
	size_t i, n;
	int r, edns_err = 0;

	if (q)
		memset(q, 0, sizeof(*q));
	if (!buf || !q || len < HDR_LEN)
		return -EINVAL;
	raw = be16(buf + 2);
	if (raw & HDR_QR)
		return -EINVAL;
	q->id = be16(buf);
	q->flags = flags_from_hdr(raw);
	q->opcode = (uint8_t)((raw & HDR_OPCODE) >> HDR_OPCODE_SHIFT);
	/* RFC 1035 4.1.1: NOTIMP for kinds of query we do not support; checked
	 * before the body, whose layout depends on the opcode (UPDATE). */
	if (q->opcode != ARES_OPCODE_QUERY)
		return -EOPNOTSUPP;

	/* c-ares rejects QDCOUNT != 1, bad names, compression loops and
	 * forward pointers, counts beyond the data, duplicate OPT RRs. */
	st = ares_dns_parse(buf, len, 0, &rec);
	if (st != ARES_SUCCESS)
		return st == ARES_ENOMEM ? -ENOMEM : -EBADMSG;

	/* EDNS and the question first, so that even a FORMERR answer carries
	 * them. */
	n = ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL);
	for (i = 0; i < n; i++) {
		const ares_dns_rr_t *rr =
			ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL, i);

		if (ares_dns_rr_get_type(rr) != ARES_REC_TYPE_OPT)
			continue;
		q->has_edns = true;
		q->edns_udp_size = ares_dns_rr_get_u16(rr, ARES_RR_OPT_UDP_SIZE);
		q->edns_flags = ares_dns_rr_get_u16(rr, ARES_RR_OPT_FLAGS);
		/* RFC 6891 6.1.2: the owner MUST be the root. */
		if (ares_dns_rr_get_name(rr)[0] != '\0')
			edns_err = -EBADMSG;
		else if (ares_dns_rr_get_u8(rr, ARES_RR_OPT_VERSION) != 0)
			edns_err = -EPROTONOSUPPORT;
	}

	st = ares_dns_record_query_get(rec, 0, &name, &qtype, &qclass);
	if (st != ARES_SUCCESS) {
		r = -EBADMSG;
		goto out;
	}
	/* c-ares writes question and owner names only if every byte is a
	 * host name character: a name with any other byte could not even be
	 * echoed in an answer. (Its presentation form holds no escape then,
	 * and fits name[] since c-ares parses at most 255 characters.) */
	n = strlen(name);
	if (n >= sizeof(q->name)) {
		r = -EILSEQ;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!host_char(name[i])) {
			memset(q->name, 0, sizeof(q->name));
			memset(q->name_upper, 0, sizeof(q->name_upper));
			r = -EILSEQ;
			goto out;
		}
		if (name[i] >= 'A' && name[i] <= 'Z')
			q->name_upper[i / 8] |= (uint8_t)(1u << (i % 8));
		q->name[i] = lower(name[i]);
	}
	q->qtype = (uint16_t)qtype;
	q->qclass = (uint16_t)qclass;
	q->has_question = true;
	if (edns_err) {
		r = edns_err;
		goto out;
	}

	/* A query carries its question and nothing to answer with: records
	 * in answer or authority make it something else (unbound and BIND
	 * answer FORMERR too). */
	if (ares_dns_record_rr_cnt(rec, ARES_SECTION_ANSWER) != 0 ||
	    ares_dns_record_rr_cnt(rec, ARES_SECTION_AUTHORITY) != 0) {
		r = -EBADMSG;
		goto out;
	}
	r = 0;
out:
	ares_dns_record_destroy(rec);
	return r;
}

int dns_msg_error_rcode(int parse_err)
{
	switch (parse_err) {
	case -EBADMSG:
		return ARES_RCODE_FORMERR;
	case -EOPNOTSUPP:
		return ARES_RCODE_NOTIMP;
	case -EPROTONOSUPPORT:
		return DNS_MSG_RCODE_BADVERS;
	case -EILSEQ:
		return ARES_RCODE_REFUSED;
	default:
		return -1;
	}
}

size_t dns_msg_udp_limit(const struct dns_query *q)
{
	if (!q || !q->has_edns || q->edns_udp_size <= DNS_MSG_UDP_MIN)
		return DNS_MSG_UDP_MIN;
	if (q->edns_udp_size > DNS_MSG_EDNS_UDP_SIZE)
		return DNS_MSG_EDNS_UDP_SIZE;
	return q->edns_udp_size;
}

int dns_msg_build_addr(const struct dns_query *q, const uint8_t *addrs, size_t n_addrs,
		       uint32_t ttl, uint8_t *out, size_t outcap, size_t max_msg)
{
	char echo[DNS_MSG_NAME_MAX];
	ares_dns_record_t *rec = NULL;
	size_t alen, i;
	int r;

	if (!q || !out || !q->has_question || (n_addrs && !addrs))
		return -EINVAL;
	if (q->qtype == ARES_REC_TYPE_A)
		alen = 4;
	else if (q->qtype == ARES_REC_TYPE_AAAA)
		alen = 16;
	else
		return -EINVAL;
	/* Even a 64 KiB TCP answer holds fewer than 4096 A records. */
	if (n_addrs > DNS_MSG_TCP_MAX / 16)
		return -EINVAL;

	r = answer_new(q, ARES_RCODE_NOERROR, &rec, echo);
	if (r < 0)
		goto out;
	for (i = 0; i < n_addrs; i++) {
		const uint8_t *a = addrs + i * alen;
		ares_dns_rr_t *rr = NULL;
		ares_status_t st;

		st = ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, echo,
					    (ares_dns_rec_type_t)q->qtype, ARES_CLASS_IN, ttl);
		if (st == ARES_SUCCESS && alen == 4) {
			struct in_addr in;

			memcpy(&in, a, 4);
			st = ares_dns_rr_set_addr(rr, ARES_RR_A_ADDR, &in);
		} else if (st == ARES_SUCCESS) {
			struct ares_in6_addr in6;

			memcpy(&in6, a, 16);
			st = ares_dns_rr_set_addr6(rr, ARES_RR_AAAA_ADDR, &in6);
		}
		if (st != ARES_SUCCESS) {
			r = status_err(st);
			goto out;
		}
	}
	r = finish(rec, out, outcap, max_msg, HDR_OPCODE, opcode_bits(q));
out:
	ares_dns_record_destroy(rec);
	return r;
}

int dns_msg_build_ptr(const struct dns_query *q, const char *target, uint32_t ttl, uint8_t *out,
		      size_t outcap, size_t max_msg)
{
	char echo[DNS_MSG_NAME_MAX];
	ares_dns_record_t *rec = NULL;
	ares_dns_rr_t *rr = NULL;
	ares_status_t st;
	int r;

	if (!q || !out || !target || !q->has_question || q->qtype != ARES_REC_TYPE_PTR)
		return -EINVAL;
	r = answer_new(q, ARES_RCODE_NOERROR, &rec, echo);
	if (r < 0)
		goto out;
	st = ares_dns_record_rr_add(&rr, rec, ARES_SECTION_ANSWER, echo, ARES_REC_TYPE_PTR,
				    ARES_CLASS_IN, ttl);
	if (st == ARES_SUCCESS)
		st = ares_dns_rr_set_str(rr, ARES_RR_PTR_DNAME, target);
	if (st != ARES_SUCCESS) {
		r = status_err(st);
		goto out;
	}
	/* A bad target name only shows when written: -EINVAL from finish. */
	r = finish(rec, out, outcap, max_msg, HDR_OPCODE, opcode_bits(q));
out:
	ares_dns_record_destroy(rec);
	return r;
}

int dns_msg_build_error(const struct dns_query *q, int rcode, uint8_t *out, size_t outcap)
{
	char echo[DNS_MSG_NAME_MAX];
	ares_dns_record_t *rec = NULL;
	int r;

	if (!q || !out || rcode < 0 || rcode > 0xfff)
		return -EINVAL;
	/* Bits above the header's 4 travel in the OPT RR (RFC 6891 6.1.3);
	 * c-ares would write SERVFAIL instead. */
	if (rcode > 15 && !q->has_edns)
		return -EINVAL;
	r = answer_new(q, rcode, &rec, echo);
	if (r < 0)
		goto out;
	r = finish(rec, out, outcap, DNS_MSG_TCP_MAX, HDR_OPCODE, opcode_bits(q));
out:
	ares_dns_record_destroy(rec);
	return r;
}

int dns_msg_build_nodata(const struct dns_query *q, uint8_t *out, size_t outcap)
{
	return dns_msg_build_error(q, ARES_RCODE_NOERROR, out, outcap);
}

int dns_msg_upstream_query(const struct dns_query *q, struct ares_dns_record **out)
{
	ares_dns_record_t *rec = NULL;
	uint16_t flags;
	ares_status_t st;
	int r;

	if (out)
		*out = NULL;
	if (!q || !out || !q->has_question || memchr(q->name, '\0', sizeof(q->name)) == NULL)
		return -EINVAL;
	flags = ARES_FLAG_RD | (q->flags & (ARES_FLAG_CD | ARES_FLAG_AD));
	st = ares_dns_record_create(&rec, 0, flags, ARES_OPCODE_QUERY, ARES_RCODE_NOERROR);
	if (st != ARES_SUCCESS)
		return status_err(st);
	st = ares_dns_record_query_add(rec, q->name, (ares_dns_rec_type_t)q->qtype,
				       (ares_dns_class_t)q->qclass);
	if (st != ARES_SUCCESS) {
		r = status_err(st);
		goto out;
	}
	r = opt_add(rec, DNS_MSG_EDNS_UDP_SIZE, 0, q->has_edns ? (q->edns_flags & EDNS_DO) : 0);
	if (r < 0)
		goto out;
	*out = rec;
	rec = NULL;
out:
	ares_dns_record_destroy(rec);
	return r;
}

/* Drops ipv4hint/ipv6hint from one SVCB/HTTPS RR and from its mandatory
 * list (RFC 9460 8: a client must treat an RR whose mandatory keys are
 * missing as malformed). Returns 1 if something was removed, 0, -ENOMEM. */
static int svcb_strip(ares_dns_rr_t *rr, ares_dns_rr_key_t key)
{
	const unsigned char *val = NULL;
	unsigned char *keep = NULL;
	size_t vlen = 0, i, n = 0;
	bool removed = false;
	ares_status_t st;
	int r;

	if (ares_dns_rr_del_opt_byid(rr, key, SVCB_IPV4HINT) == ARES_SUCCESS)
		removed = true;
	if (ares_dns_rr_del_opt_byid(rr, key, SVCB_IPV6HINT) == ARES_SUCCESS)
		removed = true;
	if (!removed)
		return 0;
	/* An odd length is the upstream's malformation: leave it alone. */
	if (!ares_dns_rr_get_opt_byid(rr, key, SVCB_MANDATORY, &val, &vlen) || !val || vlen % 2)
		return 1;
	keep = malloc(vlen ? vlen : 1);
	if (!keep)
		return -ENOMEM;
	for (i = 0; i + 1 < vlen; i += 2) {
		uint16_t k = be16(val + i);

		if (k == SVCB_IPV4HINT || k == SVCB_IPV6HINT)
			continue;
		keep[n++] = val[i];
		keep[n++] = val[i + 1];
	}
	/* val points into rr: not used past this point. */
	if (n == vlen)
		st = ARES_SUCCESS;
	else if (n == 0) /* an empty mandatory list is itself malformed */
		st = ares_dns_rr_del_opt_byid(rr, key, SVCB_MANDATORY);
	else
		st = ares_dns_rr_set_opt(rr, key, SVCB_MANDATORY, keep, n);
	r = st == ARES_SUCCESS ? 1 : status_err(st);
	free(keep);
	return r;
}

/* Strips hints in every section; returns 1 if any RR changed, 0, -errno. */
static int strip_hints(ares_dns_record_t *rec)
{
	static const ares_dns_section_t sects[] = {
		ARES_SECTION_ANSWER,
		ARES_SECTION_AUTHORITY,
		ARES_SECTION_ADDITIONAL,
	};
	int changed = 0;
	size_t s, i;

	for (s = 0; s < sizeof(sects) / sizeof(sects[0]); s++) {
		size_t n = ares_dns_record_rr_cnt(rec, sects[s]);

		for (i = 0; i < n; i++) {
			ares_dns_rr_t *rr = ares_dns_record_rr_get(rec, sects[s], i);
			ares_dns_rr_key_t key;
			int r;

			switch (ares_dns_rr_get_type(rr)) {
			case ARES_REC_TYPE_SVCB:
				key = ARES_RR_SVCB_PARAMS;
				break;
			case ARES_REC_TYPE_HTTPS:
				key = ARES_RR_HTTPS_PARAMS;
				break;
			default:
				continue;
			}
			r = svcb_strip(rr, key);
			if (r < 0)
				return r;
			changed |= r;
		}
	}
	return changed;
}

/* dns_msg_rewrite_*() on a record of our own, which it modifies. */
static bool opt_outside_additional(const ares_dns_record_t *rec)
{
	static const ares_dns_section_t sections[] = { ARES_SECTION_ANSWER,
						       ARES_SECTION_AUTHORITY };

	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
		for (size_t i = 0; i < ares_dns_record_rr_cnt(rec, sections[s]); i++)
			if (ares_dns_rr_get_type(ares_dns_record_rr_get_const(
				    rec, sections[s], i)) == ARES_REC_TYPE_OPT)
				return true;
	return false;
}

static int rewrite_owned(const struct dns_query *q, ares_dns_record_t *rec, uint8_t *out,
			 size_t outcap, size_t max_msg)
{
	char echo[DNS_MSG_NAME_MAX];
	const char *name = NULL;
	ares_dns_rec_type_t qtype;
	ares_dns_class_t qclass;
	ares_status_t st;
	uint16_t mask, val;
	size_t i;
	int r;

	if (!(ares_dns_record_get_flags(rec) & ARES_FLAG_QR) ||
	    ares_dns_record_get_opcode(rec) != ARES_OPCODE_QUERY ||
	    ares_dns_record_query_cnt(rec) != 1)
		return -EBADMSG;
	st = ares_dns_record_query_get(rec, 0, &name, &qtype, &qclass);
	if (st != ARES_SUCCESS || !name_eq(name, q->name) || qtype != q->qtype ||
	    qclass != q->qclass)
		return -EBADMSG;
	/* An OPT RR belongs in the additional section only (RFC 6891
	 * 6.1.1). Elsewhere it is malformed, and c-ares reads its extended
	 * RCODE differently depending on how the record came to be, so the
	 * same reply could leave as NOERROR or SERVFAIL: refuse it. */
	if (opt_outside_additional(rec))
		return -EBADMSG;

	ares_dns_record_set_id(rec, q->id);
	name_echo(q, echo);
	st = ares_dns_record_query_set_name(rec, 0, echo);
	if (st != ARES_SUCCESS)
		return status_err(st);

	r = strip_hints(rec);
	if (r < 0)
		return r;
	mask = HDR_RD | HDR_CD | (r ? HDR_AD : 0);
	val = (q->flags & ARES_FLAG_RD ? HDR_RD : 0) | (q->flags & ARES_FLAG_CD ? HDR_CD : 0);

	/* The upstream's OPT speaks for the hop to it (its UDP size, its
	 * cookie); the client gets ours, or none if it sent none. */
	for (i = ares_dns_record_rr_cnt(rec, ARES_SECTION_ADDITIONAL); i-- > 0;) {
		const ares_dns_rr_t *rr =
			ares_dns_record_rr_get_const(rec, ARES_SECTION_ADDITIONAL, i);

		if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_OPT)
			ares_dns_record_rr_del(rec, ARES_SECTION_ADDITIONAL, i);
	}
	if (q->has_edns) {
		r = opt_add(rec, DNS_MSG_EDNS_UDP_SIZE, 0, q->edns_flags & EDNS_DO);
		if (r < 0)
			return r;
	}
	/* c-ares writes back only what it parsed with host name characters
	 * in every owner name: anything else is the upstream's oddity. */
	r = finish(rec, out, outcap, max_msg, mask, val);
	return r == -EINVAL ? -EBADMSG : r;
}

int dns_msg_rewrite_reply(const struct dns_query *q, const uint8_t *reply, size_t len, uint8_t *out,
			  size_t outcap, size_t max_msg)
{
	ares_dns_record_t *rec = NULL;
	ares_status_t st;
	int r;

	if (!q || !reply || !out || !q->has_question ||
	    memchr(q->name, '\0', sizeof(q->name)) == NULL)
		return -EINVAL;
	st = ares_dns_parse(reply, len, 0, &rec);
	if (st != ARES_SUCCESS)
		return st == ARES_ENOMEM ? -ENOMEM : -EBADMSG;
	r = rewrite_owned(q, rec, out, outcap, max_msg);
	ares_dns_record_destroy(rec);
	return r;
}

int dns_msg_rewrite_record(const struct dns_query *q, const struct ares_dns_record *reply,
			   uint8_t *out, size_t outcap, size_t max_msg)
{
	ares_dns_record_t *rec;
	int r;

	if (!q || !reply || !out || !q->has_question ||
	    memchr(q->name, '\0', sizeof(q->name)) == NULL)
		return -EINVAL;
	rec = ares_dns_record_duplicate(reply);
	if (!rec)
		return -ENOMEM;
	r = rewrite_owned(q, rec, out, outcap, max_msg);
	ares_dns_record_destroy(rec);
	return r;
}

/* RFC 2181 8: a TTL with the top bit set counts as zero. */
static uint32_t ttl_norm(unsigned int ttl)
{
	return ttl > 0x7fffffffu ? 0 : (uint32_t)ttl;
}

int dns_msg_record_addrs(const struct ares_dns_record *reply, dns_msg_addr_cb *cb, void *arg)
{
	const char *chain[DNS_MSG_CNAME_MAX + 1];
	uint32_t chain_ttl[DNS_MSG_CNAME_MAX + 1];
	char qname[DNS_MSG_NAME_MAX];
	const char *name = NULL;
	size_t n_chain = 1, n_an, i, k, len;
	int count = 0;

	if (!reply)
		return -EINVAL;
	if (!(ares_dns_record_get_flags(reply) & ARES_FLAG_QR) ||
	    ares_dns_record_query_cnt(reply) != 1 ||
	    ares_dns_record_query_get(reply, 0, &name, NULL, NULL) != ARES_SUCCESS)
		return -EBADMSG;
	if (ares_dns_record_get_rcode(reply) != ARES_RCODE_NOERROR)
		return 0;
	len = strlen(name);
	if (len >= sizeof(qname)) /* no host name: nothing to map */
		return 0;
	for (i = 0; i <= len; i++)
		qname[i] = lower(name[i]);

	n_an = ares_dns_record_rr_cnt(reply, ARES_SECTION_ANSWER);
	chain[0] = name;
	chain_ttl[0] = UINT32_MAX;
	/* Follow CNAMEs hop by hop from the question: only names reached
	 * this way belong to what the client asked for. */
	while (n_chain <= DNS_MSG_CNAME_MAX) {
		const char *target = NULL;
		uint32_t ttl = 0;

		for (i = 0; i < n_an && !target; i++) {
			const ares_dns_rr_t *rr =
				ares_dns_record_rr_get_const(reply, ARES_SECTION_ANSWER, i);

			if (ares_dns_rr_get_type(rr) == ARES_REC_TYPE_CNAME &&
			    ares_dns_rr_get_class(rr) == ARES_CLASS_IN &&
			    name_eq(ares_dns_rr_get_name(rr), chain[n_chain - 1])) {
				target = ares_dns_rr_get_str(rr, ARES_RR_CNAME_CNAME);
				ttl = ttl_norm(ares_dns_rr_get_ttl(rr));
			}
		}
		/* A loop just repeats names until the hop bound ends it. */
		if (!target)
			break;
		chain[n_chain] = target;
		chain_ttl[n_chain] = ttl < chain_ttl[n_chain - 1] ? ttl : chain_ttl[n_chain - 1];
		n_chain++;
	}

	for (i = 0; i < n_an; i++) {
		const ares_dns_rr_t *rr =
			ares_dns_record_rr_get_const(reply, ARES_SECTION_ANSWER, i);
		ares_dns_rec_type_t type = ares_dns_rr_get_type(rr);
		const void *addr;
		size_t alen;
		uint32_t ttl;

		if ((type != ARES_REC_TYPE_A && type != ARES_REC_TYPE_AAAA) ||
		    ares_dns_rr_get_class(rr) != ARES_CLASS_IN)
			continue;
		for (k = 0; k < n_chain && !name_eq(ares_dns_rr_get_name(rr), chain[k]); k++)
			;
		if (k == n_chain)
			continue;
		if (type == ARES_REC_TYPE_A) {
			addr = ares_dns_rr_get_addr(rr, ARES_RR_A_ADDR);
			alen = 4;
		} else {
			addr = ares_dns_rr_get_addr6(rr, ARES_RR_AAAA_ADDR);
			alen = 16;
		}
		if (!addr)
			continue;
		ttl = ttl_norm(ares_dns_rr_get_ttl(rr));
		if (chain_ttl[k] < ttl)
			ttl = chain_ttl[k];
		if (cb) {
			uint8_t a[16];

			memcpy(a, addr, alen);
			cb(arg, qname, a, alen, ttl);
		}
		count++;
	}
	return count;
}

int dns_msg_answer_addrs(const uint8_t *reply, size_t len, dns_msg_addr_cb *cb, void *arg)
{
	ares_dns_record_t *rec = NULL;
	ares_status_t st;
	int r;

	if (!reply)
		return -EINVAL;
	st = ares_dns_parse(reply, len, 0, &rec);
	if (st != ARES_SUCCESS)
		return st == ARES_ENOMEM ? -ENOMEM : -EBADMSG;
	r = dns_msg_record_addrs(rec, cb, arg);
	ares_dns_record_destroy(rec);
	return r;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* true if the n bytes of s end with suffix, ASCII case-insensitively. */
static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix), i;

	if (n < m)
		return false;
	for (i = 0; i < m; i++)
		if (lower(s[n - m + i]) != suffix[i])
			return false;
	return true;
}

/* "d.c.b.a" (n bytes) -> out[0..3]: four decimal labels in 0..255 without
 * leading zeros, reversed. */
static int ptr_v4(const char *s, size_t n, uint8_t out[16])
{
	size_t pos = 0;
	int label;

	for (label = 3; label >= 0; label--) {
		unsigned v = 0, digits = 0;

		while (pos < n && s[pos] >= '0' && s[pos] <= '9') {
			if (digits == 1 && v == 0) /* leading zero */
				return -EINVAL;
			v = v * 10 + (unsigned)(s[pos] - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
			pos++;
		}
		if (digits == 0)
			return -EINVAL;
		out[label] = (uint8_t)v;
		if (label > 0) {
			if (pos >= n || s[pos] != '.')
				return -EINVAL;
			pos++;
		}
	}
	return pos == n ? 4 : -EINVAL;
}

/* 32 single-nibble labels, least significant first. */
static int ptr_v6(const char *s, size_t n, uint8_t out[16])
{
	int i;

	if (n != 32 * 2 - 1)
		return -EINVAL;
	for (i = 0; i < 32; i++) {
		int v = hexval(s[2 * i]), p = 31 - i;

		if (v < 0 || (i < 31 && s[2 * i + 1] != '.'))
			return -EINVAL;
		out[p / 2] |= (uint8_t)(p % 2 ? v : v << 4);
	}
	return 16;
}

int dns_msg_ptr_name_to_addr(const char *name, uint8_t out[16])
{
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
	size_t n = 0;
	int r;

	if (out)
		memset(out, 0, 16);
	if (!name || !out)
		return -EINVAL;
	/* The longest valid name is the ip6.arpa one: 72 bytes and a dot. */
	while (n <= 80 && name[n])
		n++;
	if (n > 80)
		return -EINVAL;
	if (n && name[n - 1] == '.')
		n--;
	if (ends_with(name, n, v4))
		r = ptr_v4(name, n - (sizeof(v4) - 1), out);
	else if (ends_with(name, n, v6))
		r = ptr_v6(name, n - (sizeof(v6) - 1), out);
	else
		r = -EINVAL;
	if (r < 0)
		memset(out, 0, 16);
	return r;
}

int dns_msg_tcp_frame(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msglen)
{
	size_t n;

	if (msg)
		*msg = NULL;
	if (msglen)
		*msglen = 0;
	if (!msg || !msglen || (!buf && len))
		return -EINVAL;
	if (len < 2)
		return 0;
	n = be16(buf);
	if (n == 0)
		return -EBADMSG;
	if (len - 2 < n)
		return 0;
	*msg = buf + 2;
	*msglen = n;
	return (int)(n + 2);
}

int dns_msg_tcp_prefix(size_t msglen, uint8_t out[2])
{
	if (!out || msglen == 0 || msglen > DNS_MSG_TCP_MAX)
		return -EMSGSIZE;
	out[0] = (uint8_t)(msglen >> 8);
	out[1] = (uint8_t)msglen;
	return 2;
}
