/* Fuzz target for http and the upstream_http connector.
 *
 * The input is a proxy's response stream. Checked: the parser's result is
 * the same for every prefix once decided, and 0 before; what it returns
 * on success is well-formed (status range, log-safe reason); the connector
 * fed the stream all at once and in small pieces (sizes from the input)
 * ends the same way, at the same byte, with the same message, and its
 * leftover is exactly the stream bytes after the header. The request
 * builder is driven with names and credentials cut from the input.
 *
 * libFuzzer supplies main() in fuzz builds; elsewhere the standalone
 * driver replays the corpus.
 */
#include "tun2socks/upstream/http.h"
#include "tun2socks/upstream/upstream.h"
#include "../unit/fake_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* Prefixes checked one by one (quadratic), then only the whole input. */
#define PREFIX_SCAN_MAX 600

static void check_response(const struct http_response *r)
{
	size_t n = strlen(r->reason);

	CHECK(r->status >= 100 && r->status <= 999);
	CHECK(r->minor >= 0 && r->minor <= 9);
	CHECK(n < sizeof(r->reason));
	CHECK(n == 0 || r->reason[n - 1] != ' ');
	for (size_t i = 0; i < n; i++)
		CHECK(r->reason[i] >= 0x20 && r->reason[i] < 0x7f);
}

static void fuzz_parser(const uint8_t *data, size_t size)
{
	size_t scan = size < PREFIX_SCAN_MAX ? size : PREFIX_SCAN_MAX;
	struct http_response r;
	int final = http_response_parse(data, size, &r);

	CHECK(final == 0 || final == -EPROTO || final == -EBADMSG || final == -EMSGSIZE ||
	      (final > 0 && (size_t) final <= size && final <= HTTP_HEADER_MAX));
	if (final > 0) {
		check_response(&r);
		/* it ends in LF, and every status-line byte was "HTTP/1." ... */
		CHECK(data[final - 1] == '\n');
		CHECK(memcmp(data, "HTTP/1.", 7) == 0);
		CHECK(http_status_to_errno(r.status) <= 0);
	} else {
		CHECK(r.status == 0 && r.reason[0] == '\0');
	}
	if (final == -EMSGSIZE)
		CHECK(size > HTTP_HEADER_MAX);

	for (size_t k = 0; k <= scan; k++) {
		int p = http_response_parse(data, k, &r);

		if (final > 0)
			CHECK(p == ((size_t) final <= k ? final : 0));
		else
			CHECK(p == 0 || p == final);
	}
}

struct outcome {
	int r;
	size_t header_end; /* stream offset where tunnel data starts, if DONE */
	char err[256];
};

static void run_connector(const uint8_t *data, size_t size, size_t chunk, void *st,
			  const struct upstream_cfg *cfg, struct outcome *o)
{
	struct fake_stream f = { .rx = data, .rx_len = size, .chunk = chunk };
	struct stream io = { .read = fake_stream_read, .write = fake_stream_write, .ctx = &f };
	struct socks5_addr t;
	const uint8_t *extra;
	size_t n;

	socks5_addr_from_domain(&t, "fuzz.test", 443);
	upstream_http.init(st, cfg, &t);
	/* the first step sends the request and polls without reading (the
	 * response needs the proxy to reach the target first) */
	o->r = upstream_http.step(st, &io);
	CHECK(o->r == STREAM_WANT_READ && f.reads == 0);
	CHECK(f.tx_len > 0);
	/* the fake never blocks: the next step ends it */
	o->r = upstream_http.step(st, &io);
	CHECK(o->r == STREAM_DONE || o->r < 0);
	n = upstream_http.leftover(st, &extra);
	o->header_end = 0;
	if (o->r == STREAM_DONE) {
		CHECK(n <= f.rx_off);
		o->header_end = f.rx_off - n;
		CHECK(n == 0 || memcmp(extra, data + o->header_end, n) == 0);
	} else {
		CHECK(n == 0);
	}
	snprintf(o->err, sizeof(o->err), "%s", upstream_http.error(st));
}

static void fuzz_connector(const uint8_t *data, size_t size)
{
	static struct upstream_cfg cfg;
	struct outcome whole, split;
	void *st = malloc(upstream_http.state_size);
	size_t chunk = size ? (size_t)(data[size - 1] % 61) + 1 : 1;

	CHECK(st);
	cfg.proto = &upstream_http;
	run_connector(data, size, 0, st, &cfg, &whole);
	run_connector(data, size, chunk, st, &cfg, &split);
	CHECK(whole.r == split.r);
	CHECK(whole.header_end == split.header_end);
	CHECK(strcmp(whole.err, split.err) == 0);
	/* a header block ends in LF */
	if (whole.r == STREAM_DONE)
		CHECK(whole.header_end >= 1 && data[whole.header_end - 1] == '\n');
	/* what the one-shot parser says about a stream without 1xx */
	if (size >= 10 && memcmp(data, "HTTP/1.", 7) == 0 && data[9] != '1') {
		struct http_response r;
		int p = http_response_parse(data, size, &r);

		if (p > 0 && http_status_to_errno(r.status) == 0)
			CHECK(whole.r == STREAM_DONE && whole.header_end == (size_t)p);
		else if (p > 0)
			CHECK(whole.r == http_status_to_errno(r.status));
		else if (p < 0)
			CHECK(whole.r < 0);
	}
	free(st);
}

/* Names and credentials cut from the input at NULs. */
static void fuzz_builder(const uint8_t *data, size_t size)
{
	char name[300], user[300], pass[300], out[HTTP_CONNECT_MAX];
	char *parts[3] = { name, user, pass };
	struct socks5_addr a;
	size_t off = 0;
	int r;

	for (int i = 0; i < 3; i++) {
		size_t n = 0;

		while (off < size && data[off] && n < 299)
			parts[i][n++] = (char)data[off++];
		parts[i][n] = '\0';
		off++;
	}
	if (socks5_addr_from_domain(&a, name, 8080) != 0)
		return;
	r = http_connect_build(out, sizeof(out), &a, user[0] ? user : NULL, pass);
	CHECK(r == -EINVAL || (r > 0 && r < HTTP_CONNECT_MAX));
	if (r < 0)
		return;
	CHECK(strlen(out) == (size_t)r);
	CHECK(memcmp(out, "CONNECT ", 8) == 0);
	CHECK(memcmp(out + r - 4, "\r\n\r\n", 4) == 0);
	/* CR and LF only as line ends: nothing injected */
	for (int i = 0; i < r; i++) {
		if (out[i] == '\r')
			CHECK(out[i + 1] == '\n');
		if (out[i] == '\n')
			CHECK(i > 0 && out[i - 1] == '\r');
		CHECK(out[i] >= 0x20 || out[i] == '\r' || out[i] == '\n');
	}
	/* exact size: one byte less is -ENOBUFS */
	CHECK(http_connect_build(out, (size_t)r, &a, user[0] ? user : NULL, pass) == -ENOBUFS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parser(data, size);
	fuzz_connector(data, size);
	fuzz_builder(data, size);
	return 0;
}
