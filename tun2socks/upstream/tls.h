/* tls: a TLS client (mbedTLS 3.6) as a layer under any connector.
 *
 * A tls_cfg is built once per configured upstream (CA chain, RNG, the name
 * to verify) and shared by all its connections. A tls_conn wraps the
 * connected, non-blocking stream of one connection and offers the
 * decrypted stream as another stream, so an HTTPS proxy is upstream_http
 * stepped over tls_conn_io(), and SOCKS5 over TLS the same with
 * upstream_socks5. upstream_conn (upstream_conn.h) is the one user in the
 * daemon:
 *
 *     conn = tls_conn_create(cfg->tls_ctx, &sock_io);
 *     tls_conn_handshake(conn)  until STREAM_DONE (poll as it says)
 *     io = tls_conn_io(conn);
 *     cfg->proto->step(state, &io)  until STREAM_DONE
 *     relay through io; stream_shutdown(&io); tls_conn_free(conn)
 *
 * Non-blocking rules the caller must keep:
 *  - After -EAGAIN from the io's read or write, tls_conn_wants() (the
 *    io's stream_wants()) says what the LOWER stream must become before
 *    that call can progress: a TLS read may need the socket writable (an
 *    alert to flush) and a write may need it readable. Poll for what it
 *    says, not for the obvious.
 *  - After a successful read, tls_conn_pending() (stream_pending()) bytes
 *    are already decrypted inside the layer: read them even though the
 *    socket is not readable (it may never become so again).
 *  - After -EAGAIN from write, the next write must offer at least the
 *    bytes offered before, starting with the same bytes: they are already
 *    sealed in a TLS record that is waiting to be sent. (A relay that
 *    retries its unsent data keeps this naturally.)
 * Everything runs on the loop thread: no locks; a tls_cfg must outlive its
 * connections.
 */
#ifndef T2S_TLS_H
#define T2S_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "tun2socks/base/stream.h"

struct tls_cfg;
struct tls_conn;

struct tls_opts {
	/* The proxy host as the user wrote it. A DNS name is sent as SNI and
	 * verified against the certificate by mbedTLS. An IP literal (IPv6
	 * with or without brackets) is not sent (RFC 6066 3 forbids IPs in
	 * SNI) and is checked against the certificate's iPAddress SANs, or
	 * its CN when it has no SAN, like mbedTLS checks names. 1..255 bytes. */
	const char *server_name;
	/* PEM (or DER) CA bundle; NULL or "" to use the first of
	 * /etc/ssl/certs/ca-certificates.crt (Debian), /etc/pki/tls/certs/
	 * ca-bundle.crt (Red Hat), /etc/ssl/cert.pem (macOS, Alpine). */
	const char *ca_file;
	/* Accept any certificate. The caller warns loudly; nothing is
	 * loaded and nothing verified, but the name still goes in SNI. */
	bool skip_verify;
};

/* Builds the shared client context: initialises PSA crypto (process-wide,
 * idempotent, needed by TLS 1.3; never torn down here because other
 * contexts may use it), seeds a CTR-DRBG from the platform entropy, loads
 * the CA bundle, and allows TLS 1.2 and 1.3. Returns 0, or -EINVAL (bad
 * server name), -ENOENT (no CA bundle), -EIO (unreadable or empty CA file,
 * no entropy), -ENOMEM; the reason is written to err (if errlen > 0), e.g.
 * "CA file /x.pem: X509 - Read/write of file failed". *out is NULL on
 * error. */
int tls_cfg_create(const struct tls_opts *opts, struct tls_cfg **out, char *err, size_t errlen);
void tls_cfg_free(struct tls_cfg *cfg);
/* The CA bundle that was loaded (for the startup log); "" with
 * skip_verify. */
const char *tls_cfg_ca_path(const struct tls_cfg *cfg);
/* The first system CA bundle that exists, or NULL. */
const char *tls_system_ca_path(void);

/* A client connection over lower (copied; lower->ctx must outlive the
 * connection). NULL when memory runs out. */
struct tls_conn *tls_conn_create(struct tls_cfg *cfg, const struct stream *lower);

/* Advances the handshake: STREAM_WANT_READ / _WANT_WRITE (the lower
 * stream must become readable / writable), STREAM_DONE, or a negative
 * errno with the reason in tls_conn_error(): -EACCES certificate rejected
 * ("certificate verify failed: The certificate is not correctly signed by
 * the trusted CA"), -ECONNRESET the proxy hung up, -EPROTO any other TLS
 * failure, or the lower stream's own -errno. Failures are sticky. */
int tls_conn_handshake(struct tls_conn *c);

/* Human reason of the failure; "" while there is none. */
const char *tls_conn_error(const struct tls_conn *c);

/* The stream inside the tunnel; valid for the connection's lifetime.
 * read: bytes (> 0), 0 once the proxy sent close_notify, -EAGAIN, or
 * -errno; an EOF of the lower stream without close_notify (a possible
 * truncation) is -ECONNRESET. write: bytes (> 0, at most one TLS record),
 * -EAGAIN, or -errno. Both fail with -ENOTCONN before the handshake is
 * done. Errors are sticky and described by tls_conn_error(). No writev
 * (one record per write); wants and pending are tls_conn_wants() and
 * tls_conn_pending(); shutdown is tls_conn_close() (best effort) and then
 * the lower stream's shutdown. */
struct stream tls_conn_io(struct tls_conn *c);

/* What the last -EAGAIN of the handshake, the io's read and the io's write
 * (each remembered until that call next succeeds) waits for: a mask of
 * STREAM_WANT_READ and STREAM_WANT_WRITE, 0 when nothing waits. */
int tls_conn_wants(const struct tls_conn *c);

/* Decrypted bytes buffered in the layer, readable without lower I/O.
 * mbedTLS reads a stream one record at a time, so nothing else can hide
 * in it. */
size_t tls_conn_pending(const struct tls_conn *c);

/* "TLSv1.2" / "TLSv1.3" once the handshake is done, else "". */
const char *tls_conn_version(const struct tls_conn *c);

/* Sends close_notify (after any record a blocked write left sealed):
 * 0 when it is on the wire, STREAM_WANT_WRITE (in practice; or _READ) to
 * call again when the lower stream is so, or a negative errno. Writes fail
 * with -EPIPE from the first call on. 0 at once when the
 * handshake never finished or the connection failed. Reading on after it
 * is allowed (the proxy may still send, then its own close_notify). */
int tls_conn_close(struct tls_conn *c);

/* Frees the connection; the lower stream is the caller's to close. */
void tls_conn_free(struct tls_conn *c);

#endif
