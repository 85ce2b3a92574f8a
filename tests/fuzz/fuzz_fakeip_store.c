/* Fuzz target for fakeip_restore (store-fake-ip's file, read at start).
 *
 * The input is the file. Checked: a refused file leaves the pool empty
 * and usable; an accepted one saves back to a text that restores into a
 * fresh pool and saves to the very same text (nothing invented, nothing
 * lost), and the pool keeps working: new names get addresses, every
 * restored name still finds its own.
 *
 * libFuzzer supplies main() in fuzz builds; elsewhere the standalone
 * driver replays the corpus.
 */
#include "resolver/fakeip.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static struct fakeip *pool(void)
{
	static const uint8_t ex4[1][4] = { { 10, 0, 0, 1 } };
	struct fakeip_config cfg = { 0 };
	struct fakeip *f = NULL;

	cfg.has4 = true;
	cfg.net4[0] = 10;
	cfg.prefix4 = 26;
	cfg.exclude4 = ex4;
	cfg.n_exclude4 = 1;
	cfg.has6 = true;
	cfg.net6[0] = 0xfd;
	cfg.prefix6 = 122;
	cfg.max_entries = 40;
	CHECK(fakeip_create(&cfg, &f) == 0);
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fakeip *f = pool(), *g;
	char *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;
	uint8_t a[4], b[4];
	int r = fakeip_restore(f, (const char *)data, size);

	if (r < 0) {
		CHECK(fakeip_count(f) == 0);
		CHECK(fakeip_lookup4(f, "after.example", a) == 0);
		fakeip_destroy(f);
		return 0;
	}
	CHECK(fakeip_save(f, &t1, &l1) == 0);
	g = pool();
	CHECK(fakeip_restore(g, t1, l1) == 0);
	CHECK(fakeip_save(g, &t2, &l2) == 0);
	CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0);
	CHECK(fakeip_count(f) == fakeip_count(g));
	/* the pool goes on: a new name, then an old one finds its address */
	if (fakeip_lookup4(f, "new-name.example", a) == 0) {
		const char *n = fakeip_peek4(f, a);

		CHECK(n != NULL && strcmp(n, "new-name.example") == 0);
		CHECK(fakeip_find4(f, "new-name.example", b) == 0 && memcmp(a, b, 4) == 0);
	}
	free(t1);
	free(t2);
	fakeip_destroy(g);
	fakeip_destroy(f);
	return 0;
}
