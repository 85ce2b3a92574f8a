/* stream: a non-blocking byte stream, the one interface between layers of
 * an upstream connection: a socket (sock_stream), TLS over a stream
 * (tls_conn_io), the proxy connectors stepped over either, and the
 * upstream connection a relay reads and writes (upstream_conn_io).
 *
 * read and write are required. The other operations are optional (NULL)
 * and exist so that a caller never needs to know which layer it holds:
 * use them through the stream_*() helpers below, which supply the
 * behaviour of a plain socket when a layer leaves them out.
 */
#ifndef T2S_STREAM_H
#define T2S_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* What a layer stepped over a stream (a TLS handshake, a proxy handshake)
 * returns: the readiness it waits for, or that it is done. Failures are a
 * negative errno instead. As a mask (stream_wants) READ and WRITE may be
 * combined. */
enum stream_step {
	STREAM_WANT_READ = 1,
	STREAM_WANT_WRITE = 2,
	STREAM_DONE = 3,
};

/* read/write/writev return bytes moved, 0 for EOF (read), -EAGAIN when
 * the stream would block, or -errno. ctx is the layer's own state. */
struct stream {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
	/* Gathers iov in one call (a socket's writev). NULL: write() each
	 * piece in turn, stopping at the first short write. */
	ssize_t (*writev)(void *ctx, const struct iovec *iov, int cnt);
	/* After -EAGAIN: a mask of STREAM_WANT_READ / _WRITE the LOWER
	 * transport must become before the blocked call can progress. A TLS
	 * read may need the socket writable and a write readable. NULL: 0,
	 * the obvious readiness (readable for read, writable for write). */
	int (*wants)(void *ctx);
	/* Bytes the layer already holds and read() returns without the
	 * socket becoming readable (decrypted TLS, bytes that came with a
	 * proxy's reply); a poller must read them, no event announces them.
	 * NULL: 0. */
	size_t (*pending)(void *ctx);
	/* Ends our direction (FIN; over TLS close_notify first, best
	 * effort). Reading on is allowed. 0 or -errno. NULL: nothing. */
	int (*shutdown)(void *ctx);
};

static inline ssize_t stream_writev(const struct stream *s, const struct iovec *iov, int cnt)
{
	ssize_t total = 0, n;

	if (s->writev != NULL)
		return s->writev(s->ctx, iov, cnt);
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		n = s->write(s->ctx, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			return total > 0 ? total : n;
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}

static inline int stream_wants(const struct stream *s)
{
	return s->wants != NULL ? s->wants(s->ctx) : 0;
}

static inline size_t stream_pending(const struct stream *s)
{
	return s->pending != NULL ? s->pending(s->ctx) : 0;
}

static inline int stream_shutdown(const struct stream *s)
{
	return s->shutdown != NULL ? s->shutdown(s->ctx) : 0;
}

#endif
