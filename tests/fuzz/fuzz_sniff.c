/* Fuzz target for sniff (TLS SNI, HTTP Host) and sniff_quic.
 *
 * Checked: a name returned is well formed (sniff_copy_name accepts it
 * again, no IP literal); once the whole input gives a name, every prefix
 * of it says SNIFF_NEED_MORE or gives the same name (so a ClientHello cut
 * at any TCP segment boundary is read the same); the QUIC sniffer never
 * reads outside the datagram however its lengths lie, fed the input whole
 * and cut in two datagrams.
 *
 * libFuzzer supplies main() in fuzz builds; elsewhere the standalone
 * driver replays the corpus.
 */
#include "resolver/sniff.h"
#include "resolver/sniff_quic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define PREFIX_SCAN_MAX 2000

typedef int (*sniff_fn)(const uint8_t *, size_t, char *, size_t);

static void check_name(const char *name)
{
	char again[SNIFF_NAME_MAX];

	CHECK(sniff_copy_name(name, strlen(name), again, sizeof(again)) == 0);
	CHECK(strcmp(again, name) == 0);
}

static void fuzz_stream(sniff_fn fn, const uint8_t *data, size_t size)
{
	char name[SNIFF_NAME_MAX], p[SNIFF_NAME_MAX];
	int r = fn(data, size, name, sizeof(name));

	CHECK(r == 0 || r == SNIFF_NEED_MORE || r == -EINVAL || r == -ENOENT);
	if (r != 0) {
		CHECK(name[0] == '\0');
		return;
	}
	check_name(name);
	for (size_t k = 0; k < size && k < PREFIX_SCAN_MAX; k++) {
		int rp = fn(data, k, p, sizeof(p));

		CHECK(rp == SNIFF_NEED_MORE || (rp == 0 && strcmp(p, name) == 0));
	}
}

static void fuzz_quic(const uint8_t *data, size_t size)
{
	static struct sniff_quic q;
	char name[SNIFF_NAME_MAX];
	size_t cut = size ? data[0] * size / 256 : 0;
	int r;

	sniff_quic_init(&q);
	r = sniff_quic(&q, data, size, name, sizeof(name));
	CHECK(r == 0 || r == SNIFF_NEED_MORE || r == -EINVAL || r == -ENOENT);
	if (r == 0)
		check_name(name);
	sniff_quic_init(&q);
	r = sniff_quic(&q, data, cut, name, sizeof(name));
	if (r == SNIFF_NEED_MORE)
		r = sniff_quic(&q, data + cut, size - cut, name, sizeof(name));
	if (r == 0)
		check_name(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream(sniff_tls, data, size);
	fuzz_stream(sniff_http, data, size);
	fuzz_quic(data, size);
	return 0;
}
