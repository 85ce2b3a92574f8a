/* fake_store: store-fake-ip, the fake pool kept across restarts
 * (docs/design.md §22).
 *
 * At start the pool is restored from the file if it was saved with the
 * same range (else it starts empty, with a note why). While running, the
 * pool is saved every FAKE_STORE_PERIOD_MS when it made new mappings: the
 * text is made on the loop (a memory walk) and written by a libuv worker
 * (temporary file, fsync, rename), so the loop never waits on the disk.
 * At stop it is saved once more.
 */
#ifndef T2S_FAKE_STORE_H
#define T2S_FAKE_STORE_H

#include <uv.h>

struct dns_intercept;
struct fake_store;

#define FAKE_STORE_PERIOD_MS 60000

/* Restores the pool of di from path and starts the periodic saves. 0 (a
 * missing, stale or broken file is only logged), or -ENOMEM. */
int fake_store_start(uv_loop_t *loop, struct dns_intercept *di, const char *path,
		     struct fake_store **out);

/* The last save (at once, or once a write in flight ended: the loop must
 * run on until its handles close, as at every shutdown); frees s then. */
void fake_store_stop(struct fake_store *s);

#endif
