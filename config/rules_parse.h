/* rules_parse: one Clash (mihomo) rule line into a plain struct.
 *
 * Line forms (type names case-insensitive, blanks around fields ignored):
 *   TYPE,PAYLOAD,TARGET[,no-resolve|src]    DOMAIN, IP-CIDR, DST-PORT, ...
 *   MATCH,TARGET
 *   AND,((SUB),(SUB)...),TARGET             also OR; NOT takes exactly one
 *   DOMAIN-REGEX,REGEX,TARGET               also PROCESS-NAME-REGEX and
 *                                           PROCESS-PATH-REGEX: the regex
 *                                           may hold commas, the target is
 *                                           the last field
 * A SUB is "TYPE,PAYLOAD[,no-resolve]" (no target), itself possibly AND /
 * OR / NOT with nested parentheses (at most RULES_MAX_DEPTH levels). Rule
 * set entries (classical behaviour) use the same form as a SUB, except
 * that fields after the payload other than no-resolve and src are ignored
 * (spec.ignored), as mihomo ignores them.
 *
 * Payloads:
 *   DOMAIN, DOMAIN-SUFFIX   a name: lower-cased, one trailing '.' dropped;
 *                           labels of [A-Za-z0-9_-], 1..63 bytes each, 253
 *                           in all; a label with bytes >= 0x80 becomes its
 *                           punycode A-label (libidn2, as mihomo does)
 *   DOMAIN-KEYWORD          any text, lower-cased, punycode as above
 *   DOMAIN-WILDCARD         a pattern, lower-cased: '*' any run, '?' one
 *                           byte, over the whole name
 *   DOMAIN-REGEX,           PCRE2, case-insensitive (rule_regex.h): the
 *   PROCESS-NAME-REGEX,     syntax mihomo's regexp2 and Go's RE2 share
 *   PROCESS-PATH-REGEX
 *   IP-CIDR, IP-CIDR6,      "address/length", IPv4 or IPv6 under either
 *   SRC-IP-CIDR             name (as mihomo); host bits are masked off
 *   IP-SUFFIX,              "address/length": the last length bits of the
 *   SRC-IP-SUFFIX           address, kept as written
 *   DST-PORT, SRC-PORT,     "443", "8000-9000", "80/443/8000-8080"
 *   IN-PORT
 *   DSCP                    the same list syntax, 0..63
 *   UID                     the same list syntax, 0..4294967295
 *   NETWORK                 TCP or UDP
 *   PROCESS-NAME, -PATH     any text, kept as written
 *   RULE-SET                a rule-provider name
 *   IN-TYPE, IN-USER,       names separated by '/', each trimmed, none
 *   IN-NAME                 empty; IN-TYPE's are mihomo's inbound types
 *                           (TUN, HTTP, SOCKS = SOCKS4/SOCKS5...),
 *                           upper-cased (docs/design.md §16)
 * "no-resolve" is accepted on IP-CIDR, IP-CIDR6, IP-SUFFIX and RULE-SET;
 * "src" on IP-CIDR and IP-SUFFIX (it makes them SRC-IP-CIDR and
 * SRC-IP-SUFFIX, as mihomo reads it).
 * MATCH is refused inside AND/OR/NOT and in rule sets; RULE-SET is refused
 * in rule sets (mihomo's limits).
 *
 * Errors go through conf_err at the column of the offending field (the
 * caller's pos is where the line's first byte sits), quoting it and saying
 * what was expected. Pure: no I/O, no globals.
 */
#ifndef T2S_RULES_PARSE_H
#define T2S_RULES_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/conf_err.h"
#include "config/rule_spec.h"

/* Parses a rules: line "TYPE,PAYLOAD,TARGET[,...]" (len bytes of s, which
 * need not be NUL-terminated). pos: where s[0] is. out is cleared first;
 * on error it is left cleared and err (if not NULL) says why. Returns 0,
 * -EINVAL or -ENOMEM. */
int rules_parse_line(const char *s, size_t len, const struct conf_pos *pos, struct rule_spec *out,
		     struct conf_err *err);

/* A classical rule-set entry: as a rules: line without target; RULE-SET
 * and MATCH refused. Same contract as rules_parse_line. */
int rules_parse_entry(const char *s, size_t len, const struct conf_pos *pos, struct rule_spec *out,
		      struct conf_err *err);

/* The canonical name of a type ("DOMAIN-SUFFIX"); static storage. */
const char *rules_type_name(enum rule_type type);

/* Shared with the rule-set loader. Each returns 0 or -EINVAL with *why (a
 * static string: what was expected). */

/* A name as DOMAIN takes it into out (at least RULES_DOMAIN_MAX + 1
 * bytes, NUL-terminated, lower case, trailing dot dropped). wildcard: a
 * label may be exactly "*" (rule-set domain patterns). */
int rules_domain_norm(const char *s, size_t len, bool wildcard, char *out, size_t *out_len,
		      const char **why);

/* "address/length" (blanks not allowed inside). */
int rules_cidr_parse(const char *s, size_t len, struct rule_cidr *out, const char **why);

#endif
