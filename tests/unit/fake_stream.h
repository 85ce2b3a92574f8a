/* A scripted byte stream (struct stream) for connector tests and fuzzers:
 * `rx` is what the peer sends, released `chunk` bytes per read (0: all at
 * once), then EOF (or -EAGAIN forever when rx is NULL); writes land in
 * `tx` (what does not fit is counted in tx_len, not kept), after
 * `stall_writes` -EAGAINs, at most `write_max` bytes each (0: all), or
 * fail with `write_err`. Header-only: tests and fuzz targets include it. */
#ifndef T2S_FAKE_STREAM_H
#define T2S_FAKE_STREAM_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "tun2socks/base/stream.h"

struct fake_stream {
	const uint8_t *rx;
	size_t rx_len, rx_off, chunk;
	int reads, writes; /* read() and write() calls so far */
	uint8_t tx[4096];
	size_t tx_len;
	int write_err;
	int stall_writes;
	size_t write_max;
};

static inline ssize_t fake_stream_read(void *ctx, void *buf, size_t len)
{
	struct fake_stream *f = ctx;
	size_t n = f->rx_len - f->rx_off;

	f->reads++;
	if (n == 0)
		return f->rx == NULL ? -EAGAIN : 0;
	if (f->chunk && n > f->chunk)
		n = f->chunk;
	if (n > len)
		n = len;
	memcpy(buf, f->rx + f->rx_off, n);
	f->rx_off += n;
	return (ssize_t)n;
}

static inline ssize_t fake_stream_write(void *ctx, const void *buf, size_t len)
{
	struct fake_stream *f = ctx;

	f->writes++;
	if (f->write_err)
		return f->write_err;
	if (f->stall_writes > 0) {
		f->stall_writes--;
		return -EAGAIN;
	}
	if (f->write_max && len > f->write_max)
		len = f->write_max;
	if (f->tx_len < sizeof(f->tx))
		memcpy(f->tx + f->tx_len, buf,
		       len < sizeof(f->tx) - f->tx_len ? len : sizeof(f->tx) - f->tx_len);
	f->tx_len += len;
	return (ssize_t)len;
}

static inline struct stream fake_stream_io(struct fake_stream *f)
{
	return (struct stream){ .read = fake_stream_read, .write = fake_stream_write, .ctx = f };
}

#endif
