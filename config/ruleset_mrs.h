/* ruleset_mrs: mihomo's binary rule-set format ("format: mrs"), decoded
 * into the entries a text list would hold.
 *
 * Layout (mihomo rules/provider/mrs_reader.go, component/trie
 * domain_set_bin.go, component/cidr ipcidr_set_bin.go), all of it one
 * zstd stream, integers big-endian:
 *   "MRS" 0x01 | behavior (0 domain, 1 ipcidr) | int64 count |
 *   int64 extra length, extra bytes | body
 * domain body: version 1 | int64 n, n x uint64 leaves | int64 n, n x
 *   uint64 label bitmap | int64 n, n bytes labels. A succinct trie over
 *   the names written backwards ("moc.elpmaxe"), breadth first: node k's
 *   labels are the 0 bits of its run in the bitmap, ended by a 1 bit;
 *   label i leads to node i + 1; bit k of leaves says a name ends at
 *   node k. Keys are mihomo's trie keys: "x.com" (that name), "*.x.com"
 *   ('*' one label), "+.x.com" (names under x.com, not x.com itself:
 *   mihomo's DomainSet.Has stops at '+' when more bytes follow).
 * ipcidr body: version 1 | int64 n | n x (16-byte from, 16-byte to),
 *   IPv4 as ::ffff:a.b.c.d; each range is cut into prefixes.
 *
 * Pure: buffer in, callbacks out. Sizes are checked against the data
 * (a count larger than what remains is an error), and the decompressed
 * body is capped, so a hostile file costs bounded memory and time.
 */
#ifndef T2S_RULESET_MRS_H
#define T2S_RULESET_MRS_H

#include <stddef.h>
#include <stdint.h>

#include "config/rules_parse.h"

enum { MRS_DOMAIN = 0, MRS_IPCIDR = 1 };

/* Largest decompressed body accepted: mihomo's biggest published sets
 * are a few MiB. */
#define MRS_MAX_BODY (256u << 20)

struct mrs_sink {
	/* A domain key as mihomo's text dump writes it ("+.x.com",
	 * "*.x.com", "x.com"), len bytes, not NUL-terminated. */
	int (*domain)(void *arg, const char *key, size_t len);
	int (*cidr)(void *arg, const struct rule_cidr *c);
	void *arg;
};

/* Decodes buf[0, len) (the file as read), expecting behavior (MRS_*).
 * Calls the sink per entry; a sink's nonzero return stops the decode
 * and is returned. *count: the count the header declares. 0, -ENOMEM,
 * or -EINVAL with why (static text) saying what is wrong. */
int ruleset_mrs_decode(const void *buf, size_t len, int behavior, const struct mrs_sink *sink,
		       uint64_t *count, const char **why);

#endif
