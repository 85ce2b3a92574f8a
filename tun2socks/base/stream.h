/* stream: a non-blocking byte stream, the one interface between layers of
 * an upstream connection: a socket (sock_io_read/sock_io_write), TLS over
 * a stream (tls_conn_io), and the proxy connectors stepped over either. */
#ifndef T2S_STREAM_H
#define T2S_STREAM_H

#include <stddef.h>
#include <sys/types.h>

/* Both return bytes moved, 0 for EOF (read), -EAGAIN when the stream would
 * block, or -errno. ctx is the layer's own state. */
struct stream {
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

/* What a layer stepped over a stream (a TLS handshake, a proxy handshake)
 * returns: the readiness it waits for, or that it is done. Failures are a
 * negative errno instead. */
enum stream_step {
	STREAM_WANT_READ = 1,
	STREAM_WANT_WRITE = 2,
	STREAM_DONE = 3,
};

#endif
