/* sniff: the name a connection's first bytes carry, for routing flows
 * to a bare address by name (docs/design.md §21).
 *
 * Pure codecs, buffer in, name out: no I/O, no allocation, no clock.
 * Each returns 0 with the name in out (NUL-terminated, a well-formed host
 * name, never an IP literal), SNIFF_NEED_MORE when buf is a prefix of what
 * it looks for (feed it again once more bytes came), or -EINVAL (not this
 * protocol, or malformed), -ENOENT (this protocol, but no name in it).
 *
 * - TLS: a ClientHello's server_name, its handshake message reassembled
 *   across records (and so across TCP segments) up to SNIFF_TLS_MAX bytes.
 * - HTTP/1: the Host header of a request (port dropped).
 * - QUIC: sniff_quic.h (decrypts the client's Initial packets).
 */
#ifndef T2S_SNIFF_H
#define T2S_SNIFF_H

#include <stddef.h>
#include <stdint.h>

#define SNIFF_NEED_MORE 1
/* The largest ClientHello handshake message we reassemble; mihomo bounds
 * its read-ahead at 64 KiB, real ClientHellos (post-quantum key shares,
 * padding) stay under 4 KiB. */
#define SNIFF_TLS_MAX 16384
/* Bytes of an HTTP request head we look at for the Host header. */
#define SNIFF_HTTP_MAX 8192
/* Longest name we return, with its NUL. */
#define SNIFF_NAME_MAX 256

int sniff_tls(const uint8_t *buf, size_t len, char *out, size_t cap);
int sniff_http(const uint8_t *buf, size_t len, char *out, size_t cap);

/* A whole ClientHello handshake message (type, 24-bit length, body), as
 * TLS records carry it and QUIC's CRYPTO frames do. 0, -EINVAL, -ENOENT. */
int sniff_client_hello(const uint8_t *msg, size_t len, char *out, size_t cap);

/* 0 when name[0, len) is a host name we route by: 1..253 bytes of labels
 * of [A-Za-z0-9_-] (1..63 bytes each), one trailing dot dropped, not an
 * IPv4 literal; copied into out. Else -EINVAL. */
int sniff_copy_name(const char *name, size_t len, char *out, size_t cap);

#endif
