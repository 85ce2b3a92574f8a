/* DNS message codec for the interceptor: client queries in, answers out.
 *
 * Pure: buffer in, buffer out, no I/O, no globals. Every record is parsed
 * and written by the c-ares record API (ares_dns_parse / ares_dns_write);
 * the only bytes touched here directly are the fixed 12-byte header (read
 * when c-ares refuses the message, so FORMERR/NOTIMP can still echo the ID,
 * and patched after writing for the flag bits c-ares 1.34 has no setter for)
 * and the 2-byte TCP length prefix.
 *
 * Conventions shared by every function here:
 *  - Builders copy the message into the caller's buffer out (capacity
 *    outcap) and return the bytes written (> 0); -ENOBUFS when outcap is too
 *    small (out is then unspecified), -EINVAL for arguments that cannot be
 *    encoded, -ENOMEM when c-ares cannot allocate. Nothing is left for the
 *    caller to free. To send over TCP, build into out + 2 and put
 *    dns_msg_tcp_prefix() in front.
 *  - max_msg is the most the client accepts (dns_msg_udp_limit() for UDP,
 *    65535 for TCP). An answer that would exceed it is replaced by the same
 *    header with TC set, the question and (with EDNS) an OPT RR, and no
 *    records: RFC 2181 9 and RFC 6891 7 -- the client retries over TCP.
 *  - Names are c-ares presentation form: labels joined by '.', no trailing
 *    dot, "" for the root. c-ares writes a question or owner name only if
 *    every byte is a letter, digit, '-', '_', '/' or '*' (its host name
 *    set), so queries for any other name are refused at parsing and
 *    struct dns_query.name never holds an escape; replies whose owner names
 *    c-ares cannot write back fail to rewrite (-EBADMSG). Other names in
 *    RDATA (PTR, CNAME targets...) may hold \. and \DDD escapes.
 *  - Answers echo the client's ID, opcode, RD and CD, set QR and RA, and
 *    carry an OPT RR exactly when the query did (RFC 6891 6.1.1).
 *  - Out-params are cleared first, also on failure.
 */
#ifndef T2S_DNS_MSG_H
#define T2S_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ares_dns_record; /* <ares.h>: ares_dns_record_t */

enum {
	DNS_MSG_NAME_MAX = 256,       /* struct dns_query.name, NUL included */
	DNS_MSG_UDP_MIN = 512,        /* RFC 1035 limit without EDNS */
	DNS_MSG_EDNS_UDP_SIZE = 1232, /* what we advertise and honour at most
				       * (DNS flag day 2020: no IP fragments) */
	DNS_MSG_TCP_MAX = 65535,
	DNS_MSG_RCODE_BADVERS = 16, /* RFC 6891; shares 16 with ARES_RCODE_BADSIG */
	DNS_MSG_CNAME_MAX = 16,     /* CNAME hops followed by answer_addrs */
};

/* What the interceptor needs from a client query. */
struct dns_query {
	uint16_t id;
	uint16_t flags;              /* ARES_FLAG_* bits as received (RD, CD, AD...) */
	uint8_t opcode;              /* 0..15 as received */
	bool has_question;           /* name/qtype/qclass are valid */
	char name[DNS_MSG_NAME_MAX]; /* lower-cased, see "Names" above */
	/* Bit i set: name[i] was upper case in the query. Answers echo the
	 * question as sent, since DNS 0x20 clients (dnsmasq, unbound with
	 * use-caps-for-id) discard an answer whose question case differs.
	 * All zero (a hand-made query) echoes the lower-case name. */
	uint8_t name_upper[DNS_MSG_NAME_MAX / 8];
	uint16_t qtype; /* ARES_REC_TYPE_* or any other type number */
	uint16_t qclass;
	bool has_edns;          /* the query carried an OPT RR */
	uint16_t edns_udp_size; /* as sent; only meaningful with has_edns */
	uint16_t edns_flags;    /* OPT flags as sent, 0x8000 = DO */
};

/* Parses a client query. Returns
 *   0                  a query to answer: exactly one question, opcode
 *                      QUERY, QR=0, no answer/authority records, at most
 *                      one OPT (owner root, version 0);
 *   -EINVAL            drop silently: shorter than a header, or QR=1 (a
 *                      response: answering it could start a loop between
 *                      two servers; BIND and unbound drop these too);
 *   -EOPNOTSUPP        answer NOTIMP: opcode other than QUERY;
 *   -EBADMSG           answer FORMERR: anything else malformed;
 *   -EPROTONOSUPPORT   answer BADVERS: EDNS version above 0;
 *   -EILSEQ            answer REFUSED: the name holds a byte outside the
 *                      host name set above (c-ares could not echo it);
 *   -ENOMEM.
 * On every error but -EINVAL and -ENOMEM, *q holds the header (id, flags,
 * opcode) and, where it was readable, the question and EDNS fields, so
 * dns_msg_build_error(q, dns_msg_error_rcode(err), ...) answers it. */
int dns_msg_parse_query(const uint8_t *buf, size_t len, struct dns_query *q);

/* The rcode to answer a dns_msg_parse_query() error with, or -1 to drop. */
int dns_msg_error_rcode(int parse_err);

/* The largest UDP answer the client takes: 512 without EDNS, else its
 * advertised size clamped to [512, DNS_MSG_EDNS_UDP_SIZE]. */
size_t dns_msg_udp_limit(const struct dns_query *q);

/* NOERROR answer to an A (4-byte addresses) or AAAA (16-byte) question with
 * n_addrs addresses packed in addrs, owner = the question name, class IN.
 * -EINVAL for any other qtype or a query without question. n_addrs == 0
 * gives the same message as dns_msg_build_nodata(). */
int dns_msg_build_addr(const struct dns_query *q, const uint8_t *addrs, size_t n_addrs,
		       uint32_t ttl, uint8_t *out, size_t outcap, size_t max_msg);

/* NOERROR answer to a PTR question: one PTR RR pointing at target (a name
 * in the presentation form above, trailing dot optional). */
int dns_msg_build_ptr(const struct dns_query *q, const char *target, uint32_t ttl, uint8_t *out,
		      size_t outcap, size_t max_msg);

/* Answer with no records and rcode (ARES_RCODE_* or DNS_MSG_RCODE_BADVERS):
 * FORMERR, SERVFAIL (upstream timeout), NXDOMAIN, NOTIMP, REFUSED...
 * Echoes the question if q has one. An extended rcode (> 15) needs an OPT
 * RR and so a query with EDNS, else -EINVAL. Such answers always fit 512
 * bytes, hence no max_msg. */
int dns_msg_build_error(const struct dns_query *q, int rcode, uint8_t *out, size_t outcap);

/* Empty NOERROR answer (NODATA), e.g. AAAA while the IPv6 pool is off. No
 * SOA is added: there is no zone to name, and stub resolvers simply ask
 * again, which costs a loop turn here. */
int dns_msg_build_nodata(const struct dns_query *q, uint8_t *out, size_t outcap);

/* The record to hand to ares_send_dnsrec() for forwarding q upstream:
 * q's question (lower case; c-ares applies its own 0x20 if configured),
 * RD, the client's CD and AD, and an OPT RR advertising
 * DNS_MSG_EDNS_UDP_SIZE with the client's DO bit, whatever the client sent:
 * upstream answers then rarely need TCP, and dns_msg_rewrite_*() fits the
 * reply to the client. Caller frees with ares_dns_record_destroy(). Returns
 * 0, -EINVAL (no question) or -ENOMEM; *out is NULL on failure. */
int dns_msg_upstream_query(const struct dns_query *q, struct ares_dns_record **out);

/* Fits an upstream reply to q for the client:
 *  - ID, RD and CD of the client; the question name in the client's case;
 *  - ipv4hint and ipv6hint removed from every SVCB/HTTPS RR (and from its
 *    mandatory list), so a client cannot connect to an address that
 *    bypasses the fake pool or the real-ip address -> domain map; AD is
 *    cleared when something was removed, the RRset no longer being the
 *    signed one. alpn, port, ech and the rest are kept;
 *  - the upstream OPT replaced by ours when the client used EDNS, dropped
 *    when it did not;
 *  - truncated (TC) when larger than max_msg.
 * -EBADMSG when reply is not a response to q's question or cannot be
 * written back (caller answers SERVFAIL). The record variant leaves reply
 * untouched (c-ares owns the one it hands to the ares_send_dnsrec()
 * callback). */
int dns_msg_rewrite_reply(const struct dns_query *q, const uint8_t *reply, size_t len, uint8_t *out,
			  size_t outcap, size_t max_msg);
int dns_msg_rewrite_record(const struct dns_query *q, const struct ares_dns_record *reply,
			   uint8_t *out, size_t outcap, size_t max_msg);

/* Called once per address for the real-ip reverse map. qname is the
 * question name (lower case); addr is 4 or 16 bytes (addrlen); ttl is the
 * lowest TTL on the path from qname to the address, CNAMEs included. */
typedef void dns_msg_addr_cb(void *arg, const char *qname, const uint8_t *addr, size_t addrlen,
			     uint32_t ttl);

/* Reports each class-IN A/AAAA answer owned by the question name or by a
 * name the answer section's CNAME chain leads to from it (at most
 * DNS_MSG_CNAME_MAX hops, which also ends loops). Records of other owners
 * are ignored: a server could otherwise plant a mapping for any domain.
 * Returns how many were reported (0 for an rcode other than NOERROR or a
 * question name longer than DNS_MSG_NAME_MAX - 1), or -EBADMSG when reply
 * is not a parseable response. cb may be NULL (count only). */
int dns_msg_answer_addrs(const uint8_t *reply, size_t len, dns_msg_addr_cb *cb, void *arg);
int dns_msg_record_addrs(const struct ares_dns_record *reply, dns_msg_addr_cb *cb, void *arg);

/* "d.c.b.a.in-addr.arpa" -> 4 bytes a.b.c.d, returns 4; the 32-nibble
 * "....ip6.arpa" form -> 16 bytes, returns 16. Case-insensitive, trailing
 * dot optional; anything else (fewer or more labels, leading zeros,
 * non-digits, RFC 2317 classless names) -EINVAL. out is zeroed first. */
int dns_msg_ptr_name_to_addr(const char *name, uint8_t out[16]);

/* TCP framing (RFC 1035 4.2.2, RFC 7766): finds the first message in a
 * stream buffer. Returns the bytes it occupies including the 2-byte prefix
 * (> 0) and points *msg / *msglen at the message; 0 when more bytes are
 * needed; -EBADMSG for a zero length prefix (the stream cannot be framed
 * any further: close it). */
int dns_msg_tcp_frame(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msglen);

/* Writes the 2-byte prefix for a msglen-byte message: returns 2, or
 * -EMSGSIZE for 0 or more than 65535 bytes. */
int dns_msg_tcp_prefix(size_t msglen, uint8_t out[2]);

#endif
