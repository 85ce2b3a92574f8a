/* Fake-IP pool: domain <-> fake address mappings for DNS answers.
 *
 * An A/AAAA query is answered with an address from a configured range; a
 * later flow to that address is sent upstream by name. Pure: no I/O, no
 * globals, the time only from the caller's clock; one loop thread owns an
 * instance.
 *
 * Each family (IPv4, IPv6) is an independent pool with its own range, cap
 * and LRU order; a name can hold one address in each.
 *
 * Allocation: fresh addresses are handed out in range order (skipping the
 * excluded ones) until the pool holds `cap` mappings; after that a new name
 * takes the address of the least recently used unpinned mapping, whose old
 * name is forgotten. A mapping is used by fakeip_lookup*() of its name,
 * fakeip_domain*() of its address, and the unpin that leaves it unpinned.
 * A pinned mapping (a live flow uses it) is never reassigned, so a flow's
 * address keeps meaning the same name for the flow's whole life.
 *
 * Minimum age: with min_age_ms and a clock, a mapping is reassigned only
 * once it has gone unused for min_age_ms; when even the least recently
 * used one is younger, the lookup fails with -EAGAIN rather than hand a
 * client's recent answer to another name. A client that caches an answer
 * for less than the minimum age always reaches the name it asked for.
 * Without it (0, or no clock) a client that keeps an answer longer than it
 * takes `cap` other names to be asked connects to an address that now
 * means another name.
 */
#ifndef T2S_FAKEIP_H
#define T2S_FAKEIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "tun2socks/base/must_check.h"

enum { FAKEIP_DEFAULT_MAX_ENTRIES = 65536 };

struct fakeip;

struct fakeip_config {
	/* Ranges as network + prefix length; host bits of net are ignored.
	 * At least one family must be present. */
	bool has4;
	uint8_t net4[4];
	uint8_t prefix4; /* 0..32 */
	bool has6;
	uint8_t net6[16];
	uint8_t prefix6; /* 0..128 */
	/* Never handed out (the TUN's own addresses, ...); entries outside
	 * the range are ignored, duplicates allowed. Copied by create. Also
	 * never handed out, without being listed: the network address (host
	 * part 0) of an IPv4 range up to /30 and of an IPv6 range up to /126
	 * (subnet-router anycast), and the broadcast of that IPv4 range. */
	const uint8_t (*exclude4)[4];
	size_t n_exclude4;
	const uint8_t (*exclude6)[16];
	size_t n_exclude6;
	/* Mappings kept per family (the memory bound, ~100 bytes each):
	 * min(max_entries, usable addresses); 0 means
	 * min(FAKEIP_DEFAULT_MAX_ENTRIES, usable addresses). */
	uint32_t max_entries;
	/* Key of the name hash. Names come from the network: pass random bytes
	 * so nobody can pick names that share one hash chain. */
	uint8_t hash_key[16];
	/* A mapping is reassigned only after going unused this long, by
	 * now_ms(clock_arg) (any monotonic milliseconds). 0 or now_ms NULL:
	 * reassigned as soon as it is the least recently used. */
	uint64_t min_age_ms;
	uint64_t (*now_ms)(void *clock_arg);
	void *clock_arg;
};

/* *out cleared first. 0, -EINVAL (no family, prefix out of range, a range
 * without a usable address), -ENOMEM. Nothing is allocated per address. */
T2S_MUST_CHECK int fakeip_create(const struct fakeip_config *cfg, struct fakeip **out);

void fakeip_destroy(struct fakeip *f);

/* The fake address of domain, allocated if it has none (see above).
 * domain: ASCII case-insensitive, one trailing '.' ignored; 1..253 bytes of
 * printable ASCII without space, labels of 1..63 bytes (escapes such as
 * "\032" from a DNS name decoder are kept as written). out is cleared first.
 * 0, -EINVAL (malformed name), -EAFNOSUPPORT (family not configured),
 * -ENOSPC (no fresh address and every mapping pinned), -EAGAIN (no fresh
 * address and no unpinned mapping unused for the minimum age), -ENOMEM. */
int fakeip_lookup4(struct fakeip *f, const char *domain, uint8_t out[4]);
int fakeip_lookup6(struct fakeip *f, const char *domain, uint8_t out[16]);

/* Like lookup, but never allocates and does not count as a use:
 * 0, -ENOENT (no mapping), -EINVAL, -EAFNOSUPPORT. out cleared first. */
int fakeip_find4(const struct fakeip *f, const char *domain, uint8_t out[4]);
int fakeip_find6(const struct fakeip *f, const char *domain, uint8_t out[16]);

/* The domain (lower case, no trailing dot) an address maps to, or NULL.
 * Counts as a use. The string lives until its mapping is reassigned: for a
 * pinned address, at least until it is unpinned; otherwise copy it before
 * the next lookup of a new name. */
const char *fakeip_domain4(struct fakeip *f, const uint8_t a[4]);
const char *fakeip_domain6(struct fakeip *f, const uint8_t a[16]);

/* Like fakeip_domain*, without counting as a use (logging, checks). */
const char *fakeip_peek4(const struct fakeip *f, const uint8_t a[4]);
const char *fakeip_peek6(const struct fakeip *f, const uint8_t a[16]);

/* Whether a lies in the configured range at all (mapped or not, excluded
 * or not): a flow to such an address without a mapping is stale and must
 * not be sent to the address itself. */
bool fakeip_contains4(const struct fakeip *f, const uint8_t a[4]);
bool fakeip_contains6(const struct fakeip *f, const uint8_t a[16]);

/* A live flow pins its address (a count: one pin per flow) so the mapping
 * is never reassigned under it, and unpins it when the flow ends.
 * pin: 0, -ENOENT (not a current mapping), -EOVERFLOW.
 * unpin: 0, -ENOENT (not a current mapping or not pinned). */
int fakeip_pin4(struct fakeip *f, const uint8_t a[4]);
int fakeip_unpin4(struct fakeip *f, const uint8_t a[4]);
int fakeip_pin6(struct fakeip *f, const uint8_t a[16]);
int fakeip_unpin6(struct fakeip *f, const uint8_t a[16]);

/* Current mappings, both families. */
size_t fakeip_count(const struct fakeip *f);

/* Persistence (store-fake-ip; docs/design.md §22). fakeip_save writes
 * every mapping as text into *out (malloc'd, NUL-terminated, *len bytes
 * without the NUL), the range, cap and exclusions first, mappings least
 * recently used first. fakeip_restore loads such a text into an empty
 * pool made with the same range, cap and exclusions: 0; -ESTALE when
 * the pool is configured otherwise (the text describes another range);
 * -EINVAL for a malformed or inconsistent text (a torn write included);
 * -EBUSY when the pool is not empty; -ENOMEM. On any error the pool is
 * left empty. Restored mappings count as used now and are not pinned.
 * fakeip_changes counts the mappings made so far (a save is due when it
 * moved). */
T2S_MUST_CHECK int fakeip_save(const struct fakeip *f, char **out, size_t *len);
T2S_MUST_CHECK int fakeip_restore(struct fakeip *f, const char *buf, size_t len);
uint64_t fakeip_changes(const struct fakeip *f);

#endif
