/* SOCKS5 wire codec (RFC 1928, username/password auth RFC 1929).
 *
 * Pure: buffer in, buffer out. No I/O, no allocation, no globals, so the
 * upstream state machine owns every byte and the fuzzer can drive every
 * function directly.
 *
 * Conventions shared by all functions here:
 *  - Builders write into buf (capacity cap) and return the number of bytes
 *    written (> 0), -ENOBUFS when cap is too small (nothing useful written),
 *    or -EINVAL for arguments that cannot be encoded.
 *  - Stream parsers (method, auth reply, reply) return the bytes consumed
 *    (> 0) once a complete message is present, 0 when more bytes are
 *    needed, or a negative errno. Every prefix of a valid message returns 0;
 *    a prefix is rejected as soon as one of its bytes is already wrong, so
 *    a bad server is detected without waiting for bytes it may never send.
 *    Bytes past the returned length belong to the next protocol phase.
 *  - Out-params are cleared first, also on failure.
 *
 * struct socks5_addr invariant (kept by every parser and helper, checked by
 * every builder): for SOCKS5_ATYP_DOMAIN, domain_len is 1..255, the name
 * holds no NUL byte and u.domain[domain_len] == '\0', so u.domain is a
 * C string of exactly domain_len bytes.
 */
#ifndef T2S_SOCKS5_H
#define T2S_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SOCKS5_ATYP_IPV4 = 1, SOCKS5_ATYP_DOMAIN = 3, SOCKS5_ATYP_IPV6 = 4 };
enum { SOCKS5_CMD_CONNECT = 1, SOCKS5_CMD_BIND = 2, SOCKS5_CMD_UDP_ASSOCIATE = 3 };
enum { SOCKS5_METHOD_NONE = 0x00, SOCKS5_METHOD_USERPASS = 0x02, SOCKS5_METHOD_REJECT = 0xff };
enum {
	SOCKS5_REP_SUCCEEDED = 0x00,
	SOCKS5_REP_GENERAL_FAILURE = 0x01,
	SOCKS5_REP_NOT_ALLOWED = 0x02,
	SOCKS5_REP_NET_UNREACHABLE = 0x03,
	SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	SOCKS5_REP_CONN_REFUSED = 0x05,
	SOCKS5_REP_TTL_EXPIRED = 0x06,
	SOCKS5_REP_CMD_NOT_SUPPORTED = 0x07,
	SOCKS5_REP_ATYP_NOT_SUPPORTED = 0x08,
};

/* Upper bounds, for sizing stack buffers. */
enum {
	SOCKS5_GREETING_MAX = 4,         /* VER NMETHODS 0x00 0x02 */
	SOCKS5_AUTH_MAX = 3 + 255 + 255, /* VER ULEN UNAME PLEN PASSWD */
	SOCKS5_REQUEST_MAX = 4 + 1 + 255 + 2,
	SOCKS5_UDP_HEADER_MAX = 4 + 1 + 255 + 2,
	SOCKS5_ADDR_STR_MAX = 4 * 255 + 1 + 5 + 1, /* escaped name ':' port NUL */
};

struct socks5_addr {
	uint8_t atyp;       /* SOCKS5_ATYP_* */
	uint8_t domain_len; /* for DOMAIN: 1..255 */
	union {
		uint8_t v4[4];
		uint8_t v6[16];
		char domain[256]; /* NUL-terminated copy, see invariant above */
	} u;
	uint16_t port; /* host order */
};

struct socks5_reply {
	uint8_t rep; /* SOCKS5_REP_*; map with socks5_rep_to_errno() */
	struct socks5_addr bnd;
};

/* Method negotiation.
 *
 * Choice: with credentials configured we offer {NONE, USERPASS}, without
 * them {NONE}. Offering NONE alongside USERPASS keeps a server that needs no
 * authentication working when credentials are configured for another one;
 * the price is that such a server may skip authentication silently, which is
 * RFC 1928 behaviour and harmless to us (we are the client, the credentials
 * only open the server's door). What is NOT tolerated is a server choosing a
 * method we did not offer (USERPASS when we have no credentials, GSSAPI...):
 * socks5_method_parse() is given the offer and rejects that with -ENOTSUP.
 */
int socks5_greeting_build(uint8_t *buf, size_t cap, bool offer_userpass);

/* A greeting offering exactly `method` (NONE or USERPASS), for a pipelined
 * handshake whose later messages, sent with it, presume the server's
 * choice. Returns 3 or -ENOBUFS. */
int socks5_greeting_one_build(uint8_t *buf, size_t cap, uint8_t method);

/* Parses the server's METHOD selection (VER=5, METHOD). offered_userpass
 * must equal what was passed to socks5_greeting_build(). Returns 2, 0 (need
 * more), -EPROTO (wrong version), -ENOTSUP (0xFF: no acceptable method, or
 * a method we did not offer). *method_out gets the method on success and
 * is 0 otherwise. */
int socks5_method_parse(const uint8_t *buf, size_t len, bool offered_userpass, uint8_t *method_out);

/* RFC 1929 request; user and pass are C strings of 1..255 bytes each, else
 * -EINVAL. */
int socks5_auth_build(uint8_t *buf, size_t cap, const char *user, const char *pass);

/* RFC 1929 reply (VER=1, STATUS). Returns 2 when STATUS is 0, 0 (need more),
 * -EACCES for any other status, -EPROTO for a version other than 1. Some
 * servers answer with VER=5 (the SOCKS version) here; that is accepted, as
 * curl and proxychains do, since the message has a fixed size and cannot be
 * misframed by it. */
int socks5_auth_reply_parse(const uint8_t *buf, size_t len);

/* VER=5 CMD RSV=0 ATYP DST.ADDR DST.PORT. cmd is SOCKS5_CMD_*; dst must hold
 * the invariant above, else -EINVAL. */
int socks5_request_build(uint8_t *buf, size_t cap, uint8_t cmd, const struct socks5_addr *dst);

/* VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT. A well-formed reply with a non-zero
 * REP is still a success for the parser (returns its length); the caller
 * maps out->rep with socks5_rep_to_errno(). -EPROTO for a wrong version,
 * non-zero RSV, unknown ATYP, zero-length or NUL-holding domain. */
int socks5_reply_parse(const uint8_t *buf, size_t len, struct socks5_reply *out);

/* REP -> 0 or a negative errno a relay can act on: 0x01 -EIO, 0x02 -EACCES,
 * 0x03 -ENETUNREACH, 0x04 -EHOSTUNREACH, 0x05 -ECONNREFUSED, 0x06 -ETIMEDOUT,
 * 0x07 -EOPNOTSUPP, 0x08 -EAFNOSUPPORT, anything else -EPROTO. */
int socks5_rep_to_errno(uint8_t rep);
/* RFC 1928 text for REP, "unknown reply code" otherwise. Static storage. */
const char *socks5_rep_str(uint8_t rep);

/* UDP ASSOCIATE datagram header (RFC 1928 section 7): RSV(2)=0 FRAG ATYP
 * DST.ADDR DST.PORT, then data. We never fragment: FRAG is built as 0. */
int socks5_udp_header_build(uint8_t *buf, size_t cap, const struct socks5_addr *dst);
/* A datagram is always complete, so there is no "need more": returns the
 * header length (> 0; the payload starts there) or -EPROTO for a truncated
 * or malformed header (non-zero RSV included). *frag_out gets FRAG; a relay
 * that does not reassemble drops datagrams with FRAG != 0, as the RFC
 * allows. */
int socks5_udp_header_parse(const uint8_t *buf, size_t len, struct socks5_addr *out,
			    uint8_t *frag_out);

/* Fill a socks5_addr. name is a C string of 1..255 bytes, else -EINVAL (out
 * is then cleared). Names are opaque bytes to SOCKS5; no syntax check. */
int socks5_addr_from_domain(struct socks5_addr *out, const char *name, uint16_t port);
void socks5_addr_from_ipv4(struct socks5_addr *out, const uint8_t v4[4], uint16_t port);
void socks5_addr_from_ipv6(struct socks5_addr *out, const uint8_t v6[16], uint16_t port);

/* Formats "1.2.3.4:80", "[::1]:80" (RFC 5952 text) or "name:80" into buf,
 * truncating to cap - 1 bytes; returns buf. Domain bytes outside printable
 * ASCII, and '\\', are written as \xHH: names come from the network and end
 * up in log lines. SOCKS5_ADDR_STR_MAX always suffices. An address with an
 * unknown atyp formats as "?". */
const char *socks5_addr_str(const struct socks5_addr *a, char *buf, size_t cap);

#endif
