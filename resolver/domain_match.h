/* Domain pattern set with Clash / mihomo fake-ip-filter syntax.
 *
 * Used as the fake-ip filter (names that get real DNS answers) and meant to
 * be reused by the rule engine. Pure: no I/O, no globals, no clock.
 *
 * Pattern syntax (mihomo component/trie semantics):
 *   example.com       exactly that name
 *   *.example.com     '*' is one whole label, any position: matches
 *                     a.example.com, not example.com nor a.b.example.com;
 *                     "time.*.com", "ntp.*", "+.stun.*.*" are all valid
 *   .example.com      any subdomain (one or more labels more), not the
 *                     name itself
 *   +.example.com     the name itself and any subdomain
 * A set matches a domain when at least one of its patterns does.
 *
 * Names (patterns after their "+." / "." marker, and tested domains) are
 * ASCII case-insensitive, lose one trailing '.', and must be well formed:
 * 1..253 bytes, labels of 1..63 bytes from [A-Za-z0-9_-] ('*' as a whole
 * label in patterns only). A malformed pattern is refused with -EINVAL; a
 * malformed domain matches nothing (including "*"), so junk from the wire
 * never reaches a wildcard.
 */
#ifndef T2S_DOMAIN_MATCH_H
#define T2S_DOMAIN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include "tun2socks/base/must_check.h"

struct domain_match;

/* An empty set in *out (cleared first). 0 or -ENOMEM. */
T2S_MUST_CHECK int domain_match_create(struct domain_match **out);

/* Adds one pattern. 0, -EINVAL for a malformed pattern, -ENOMEM. Adding a
 * pattern twice is harmless. On any error the set matches exactly what it
 * matched before the call. */
T2S_MUST_CHECK int domain_match_add(struct domain_match *m, const char *pattern);

/* Whether domain matches any pattern. A walk of a label trie: per label at
 * most two branches (the literal label and '*'), each trie node visited at
 * most once, so the pattern list is never scanned (see domain_match.c). */
bool domain_match_test(const struct domain_match *m, const char *domain);

void domain_match_destroy(struct domain_match *m);

/* The daemon's default fake-ip filter (NULL-terminated): names whose real
 * address matters to the client (LAN and mDNS names, NTP, STUN and OS
 * connectivity checks). Every entry is a valid pattern. */
extern const char *const domain_match_fakeip_defaults[];

#endif
