/* rule_regex: the regular expressions of DOMAIN-REGEX, PROCESS-NAME-REGEX
 * and PROCESS-PATH-REGEX, through PCRE2 (JIT where the machine has it).
 *
 * mihomo compiles these with regexp2 (.NET syntax) and IgnoreCase; Clash
 * lists are written for Go's RE2 or for regexp2. PCRE2 reads both
 * dialects' common ground: \d, \w, (?i), (?:...), lazy quantifiers,
 * lookarounds, and a '-' after a range in a class ("[a-z0-9-_.]") as a
 * literal, where POSIX ERE refused or misread them. Patterns and subjects
 * are UTF-8; a subject that is not valid UTF-8 still matches byte-wise
 * where it is (PCRE2_MATCH_INVALID_UTF). Matching is bounded (a match
 * limit), so a pathological pattern fails to match instead of spinning:
 * RE2 never backtracks, PCRE2 does.
 *
 * Pure: no I/O, no globals. A compiled regex keeps its own match data, so
 * it is matched from one thread at a time (the loop thread owns the rule
 * engine, docs/design.md §2).
 */
#ifndef T2S_RULE_REGEX_H
#define T2S_RULE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct rule_regex;

/* Compiles src[0, len), case-insensitive. *out cleared first. 0, -ENOMEM,
 * or -EINVAL with why (if whylen > 0) saying what is wrong and where. */
int rule_regex_compile(const char *src, size_t len, struct rule_regex **out, char *why,
		       size_t whylen);

/* Whether s[0, len) holds a match (search, not anchored). */
bool rule_regex_match(const struct rule_regex *re, const char *s, size_t len);

void rule_regex_free(struct rule_regex *re);

#endif
