/* HTTP CONNECT wire codec (RFC 9110 section 9.3.6, RFC 9112 framing,
 * Basic proxy authentication RFC 7617).
 *
 * Pure: buffer in, buffer out. No I/O, no allocation, no globals, so the
 * connector (upstream_http) owns every byte and the fuzzer drives every
 * function directly. Conventions follow socks5.h: builders return
 * the bytes written, -ENOBUFS or -EINVAL; the response parser returns the
 * bytes consumed, 0 for "need more" or a negative errno; out-params are
 * cleared first, also on failure.
 *
 * The request is exactly:
 *   CONNECT <authority> HTTP/1.1\r\n
 *   Host: <authority>\r\n
 *   [Proxy-Authorization: Basic base64(user ":" pass)\r\n]
 *   \r\n
 * with <authority> "name:port", "1.2.3.4:port" or "[v6]:port" (RFC 5952
 * text). No User-Agent or other header: nothing a proxy needs, and fewer
 * bytes to fingerprint the client by.
 */
#ifndef T2S_HTTP_H
#define T2S_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "tun2socks/upstream/socks5.h"

enum {
	/* Longest request (255-byte name, 255-byte user and password) with
	 * its NUL: 1265 bytes; rounded up. */
	HTTP_CONNECT_MAX = 1280,
	/* Longest response header block we accept, blank line included. A
	 * CONNECT reply is a status line and a few fields; 16 KiB is what
	 * common proxies allow for their own request headers. */
	HTTP_HEADER_MAX = 16384,
	HTTP_REASON_MAX = 96, /* kept reason-phrase, NUL included */
};

/* Builds the CONNECT request for target into buf and NUL-terminates it;
 * returns its length without the NUL (> 0), -ENOBUFS when cap cannot hold
 * request and NUL, or -EINVAL for:
 *  - a target breaking the socks5_addr invariant, or a domain name with a
 *    byte outside an RFC 3986 reg-name (letters, digits, "-._~!$&'()*+,;=";
 *    '%' is refused too): names can come from the network (sniffed SNI,
 *    fake-ip), and anything else could split the request line;
 *  - user (when not NULL) or pass longer than 255 bytes, or a user holding
 *    ':' (RFC 7617 cannot encode it).
 * user NULL means no Proxy-Authorization; pass NULL then is ignored, and
 * with a user it reads as "". */
int http_connect_build(char *buf, size_t cap, const struct socks5_addr *target, const char *user,
		       const char *pass);

struct http_response {
	int status; /* 100..999 */
	int minor;  /* the x of HTTP/1.x */
	/* The reason-phrase for messages: printable ASCII kept, a tab as a
	 * space, any other byte as '?', truncated, trailing spaces dropped;
	 * "" when the server sent none. */
	char reason[HTTP_REASON_MAX];
};

/* Parses one response header block (status line, fields, blank line) at
 * the start of buf. Returns its length (> 0; what follows is body or, for
 * a 2xx CONNECT reply, tunnel data), 0 when more bytes are needed, or:
 *   -EPROTO    the bytes do not start with "HTTP/1." (not an HTTP/1.x
 *              response: garbage, TLS, SOCKS...); detected from the first
 *              wrong byte on;
 *   -EBADMSG   a malformed status line ("HTTP/1.x SP 3DIGIT [SP reason]")
 *              or field line, a NUL, or a CR not followed by LF;
 *   -EMSGSIZE  no blank line within the first HTTP_HEADER_MAX bytes.
 * Lines end in CRLF or a bare LF. The reason-phrase may be missing, with or
 * without the SP before it. Field lines need a token name and a ':'; their
 * values are not interpreted: after a 2xx reply to CONNECT, Content-Length
 * and Transfer-Encoding are meaningless (RFC 9110 9.3.6) and after any
 * other status the connection is dropped unread. obs-fold continuation
 * lines are skipped; whitespace before the first field is refused (RFC
 * 9112 2.2). Every prefix of a valid block returns 0; bytes past the
 * returned length are never looked at. out is filled only on success. */
int http_response_parse(const uint8_t *buf, size_t len, struct http_response *out);

/* Status -> 0 (2xx) or a negative errno a relay can act on: 401/403/407
 * -EACCES, 404 -EHOSTUNREACH, 405/501 -EOPNOTSUPP, 408/504 -ETIMEDOUT,
 * 1xx/3xx -EPROTO (not a tunnel), any other 4xx/5xx -ECONNREFUSED. */
int http_status_to_errno(int status);

#endif
