/* Proxy URL parser: "scheme://[user[:pass]@]host[:port][/]".
 *
 * Pure and strict: a config mistake is reported with its column (1-based,
 * in bytes, as conf_err counts) rather than guessed at, because a guessed proxy address sends traffic
 * somewhere the user did not mean.
 */
#ifndef T2S_PROXY_URL_H
#define T2S_PROXY_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proxy_scheme { PROXY_SOCKS5 = 1, PROXY_HTTP, PROXY_HTTPS };

struct proxy_url {
	enum proxy_scheme scheme;
	char host[256]; /* hostname or IP literal, IPv6 without brackets */
	uint16_t port;  /* defaults: socks5 1080, http 80, https 443 */
	bool has_auth;
	char user[256], pass[256]; /* percent-decoded, never hold a NUL */
};

/* Parses s into out (cleared first, and left cleared on error).
 *
 * Schemes (case-insensitive): socks5 and socks5h (both PROXY_SOCKS5; the
 * "h" remote-resolution hint is not recorded), http, https.
 * Host: a DNS name (letters, digits, '-', '_', '.', labels of 1..63 bytes,
 * an optional trailing '.'), a dotted-quad IPv4 address, or an IPv6 address
 * in brackets. A name whose last label starts with a digit must be a strict
 * dotted quad (no "1.2.3", "010.0.0.1", "0x7f.1"): resolvers read those
 * forms as other addresses than the user probably meant.
 * Port: 1-65535, decimal; "host:" with no digits is an error.
 * Userinfo: ends at the last '@' of the authority and is percent-decoded
 * ("%40" is '@'); '@', '/', '?', '#', spaces and control characters must be
 * percent-encoded, and ':' in the user name (a raw '@' before the last is
 * an error at its column, naming the last one);
 * other bytes, UTF-8 included, are taken as written. "%00" is refused (the
 * fields are C strings); other encoded bytes are kept, since RFC 1929
 * credentials are arbitrary octets. User and password are at most 255
 * bytes decoded; for socks5 both are required and non-empty (RFC 1929),
 * for http(s) the password may be omitted.
 * Nothing may follow the authority except one "/".
 *
 * Returns 0 or -EINVAL. On error writes one line to err (if errlen > 0):
 * "column N: what was expected", N 1-based (s[0] is column 1). Messages never quote the userinfo, so
 * they are safe to log.
 */
int proxy_url_parse(const char *s, struct proxy_url *out, char *err, size_t errlen);

/* The fix for a URL whose user name or password holds a raw '@': s with
 * every '@' before the last one of the authority written as %40, into out
 * (len bytes, always terminated when len > 0). Returns 0 when that URL
 * parses, -ENOENT when s has no such mistake or the fix would not parse,
 * -ENOSPC when out is too small. Unlike the parser's messages this echoes
 * the credentials: it is for the user who typed them, not for logs. */
int proxy_url_suggest(const char *s, char *out, size_t len);

/* "socks5", "http", "https", or "unknown". Static storage. */
const char *proxy_scheme_name(enum proxy_scheme s);

#endif
