/* prefix: IP prefixes and the set arithmetic auto-route needs (the routes
 * of our table are route-address minus route-exclude-address minus the
 * proxy servers). Pure: no I/O, portable. A prefix always has its host
 * bits cleared. */
#ifndef T2S_PREFIX_H
#define T2S_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;    /* 0..32 or 0..128 */
	uint8_t addr[16];
};

/* "a.b.c.d/n", "x::y/n", or a bare address (a host prefix). Host bits set
 * in the text are an error unless loose (mihomo writes "198.18.0.1/16").
 * 0 or -EINVAL. */
int prefix_parse(const char *s, bool loose, struct prefix *out);

/* "198.18.0.0/15", "::/0" into buf (at least PREFIX_STRLEN bytes). */
enum { PREFIX_STRLEN = 50 };
void prefix_format(const struct prefix *p, char *buf, size_t cap);

/* A prefix from an address: len bits of addr kept, the rest cleared. */
void prefix_make(struct prefix *p, int family, const void *addr, unsigned len);

/* The default route of a family: 0.0.0.0/0 or ::/0. */
void prefix_any(struct prefix *p, int family);

unsigned prefix_max_len(int family);

/* The address next to addr (len 4 or 16 bytes) on a subnet of prefix
 * bits, in place: the next one, or the previous one when the next would
 * be all ones in the last byte or in a short host part (a broadcast
 * address), or wrap. Only the last byte moves. The daemon's DNS address
 * beside the TUN's own (198.18.0.2 for 198.18.0.1/15). */
void prefix_neighbour(uint8_t *addr, size_t len, unsigned prefix);

/* Whether inner (same family) lies within outer. */
bool prefix_contains(const struct prefix *outer, const struct prefix *inner);
bool prefix_overlaps(const struct prefix *a, const struct prefix *b);
bool prefix_equal(const struct prefix *a, const struct prefix *b);

/* Every prefix of in[] of the given family, minus every prefix of ex[] of
 * that family (entries of the other family are skipped in both), as the
 * fewest disjoint prefixes, in address order, into out[cap]. Returns how
 * many, or -ENOBUFS when cap is too small. Each exclusion of length L
 * inside an input of length l costs at most L - l prefixes. */
int prefix_subtract(int family, const struct prefix *in, size_t n_in, const struct prefix *ex,
		    size_t n_ex, struct prefix *out, size_t cap);

#endif
