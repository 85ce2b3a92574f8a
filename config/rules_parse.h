/* rules_parse: one Clash (mihomo) rule line into a plain struct.
 *
 * Line forms (type names case-insensitive, blanks around fields ignored):
 *   TYPE,PAYLOAD,TARGET[,no-resolve]        DOMAIN, IP-CIDR, DST-PORT, ...
 *   MATCH,TARGET
 *   AND,((SUB),(SUB)...),TARGET             also OR; NOT takes exactly one
 *   DOMAIN-REGEX,REGEX,TARGET               the regex may hold commas: the
 *                                           target is the last field
 * A SUB is "TYPE,PAYLOAD[,no-resolve]" (no target), itself possibly AND /
 * OR / NOT with nested parentheses (at most RULES_MAX_DEPTH levels). Rule
 * set entries (classical behaviour) use the same form as a SUB.
 *
 * Payloads:
 *   DOMAIN, DOMAIN-SUFFIX   a name: lower-cased, one trailing '.' dropped;
 *                           labels of [A-Za-z0-9_-] or bytes >= 0x80 (IDN
 *                           is taken as written, punycode is the user's
 *                           job), 1..63 bytes each, 253 in all
 *   DOMAIN-KEYWORD          any text, lower-cased
 *   DOMAIN-REGEX            POSIX ERE, case-insensitive (regcomp with
 *                           REG_EXTENDED | REG_ICASE | REG_NOSUB)
 *   IP-CIDR, IP-CIDR6,      "address/length", IPv4 or IPv6 under either
 *   SRC-IP-CIDR             name (as mihomo); host bits are masked off
 *   DST-PORT, SRC-PORT      "443", "8000-9000", "80/443/8000-8080"
 *   UID                     the same list syntax, 0..4294967295
 *   NETWORK                 TCP or UDP
 *   PROCESS-NAME, -PATH     any text, kept as written
 *   RULE-SET                a rule-provider name
 * "no-resolve" is accepted on IP-CIDR, IP-CIDR6 and RULE-SET only.
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

enum rule_type {
	RULE_DOMAIN = 1,
	RULE_DOMAIN_SUFFIX,
	RULE_DOMAIN_KEYWORD,
	RULE_DOMAIN_REGEX,
	RULE_IP_CIDR, /* IP-CIDR and IP-CIDR6 */
	RULE_SRC_IP_CIDR,
	RULE_DST_PORT,
	RULE_SRC_PORT,
	RULE_NETWORK,
	RULE_PROCESS_NAME,
	RULE_PROCESS_PATH,
	RULE_UID,
	RULE_RULE_SET,
	RULE_AND,
	RULE_OR,
	RULE_NOT,
	RULE_MATCH,
};

enum rule_net { RULE_NET_TCP = 1, RULE_NET_UDP = 2 };

enum { RULES_MAX_DEPTH = 16, RULES_DOMAIN_MAX = 253 };

/* A prefix, host bits cleared. family 4: addr[0..3] used, plen 0..32;
 * family 6: addr[0..15], plen 0..128. */
struct rule_cidr {
	uint8_t family;
	uint8_t plen;
	uint8_t addr[16];
};

/* Inclusive. */
struct rule_range {
	uint32_t lo, hi;
};

struct rule_spec {
	enum rule_type type;
	bool no_resolve;
	enum rule_net network;     /* RULE_NETWORK */
	char *str;                 /* domain, keyword, regex source, process
				    * name or path, rule-set name; else NULL */
	struct rule_cidr cidr;     /* IP-CIDR, SRC-IP-CIDR */
	struct rule_range *ranges; /* ports, UID: in the order written */
	size_t n_ranges;
	struct rule_spec *sub;     /* AND / OR / NOT operands, in order */
	size_t n_sub;
	char *target;              /* NULL unless parsed with a target */
	char *text;                /* the whole rule, trimmed; NULL in operands */
	struct conf_pos pos;       /* of the type name */
	struct conf_pos payload_pos;
	struct conf_pos target_pos;
};

/* Parses a rules: line "TYPE,PAYLOAD,TARGET[,...]" (len bytes of s, which
 * need not be NUL-terminated). pos: where s[0] is. out is cleared first;
 * on error it is left cleared and err (if not NULL) says why. Returns 0,
 * -EINVAL or -ENOMEM. */
int rules_parse_line(const char *s, size_t len, const struct conf_pos *pos,
		     struct rule_spec *out, struct conf_err *err);

/* A classical rule-set entry: as a rules: line without target; RULE-SET
 * and MATCH refused. Same contract as rules_parse_line. */
int rules_parse_entry(const char *s, size_t len, const struct conf_pos *pos,
		      struct rule_spec *out, struct conf_err *err);

/* Frees what a spec owns (not the struct itself) and clears it. */
void rules_spec_free(struct rule_spec *spec);

/* The canonical name of a type ("DOMAIN-SUFFIX"); static storage. */
const char *rules_type_name(enum rule_type type);

/* Shared with the rule-set loader. Each returns 0 or -EINVAL with *why (a
 * static string: what was expected). */

/* A name as DOMAIN takes it into out (at least RULES_DOMAIN_MAX + 1
 * bytes, NUL-terminated, lower case, trailing dot dropped). wildcard: a
 * label may be exactly "*" (rule-set domain patterns). */
int rules_domain_norm(const char *s, size_t len, bool wildcard, char *out,
		      size_t *out_len, const char **why);

/* "address/length" (blanks not allowed inside). */
int rules_cidr_parse(const char *s, size_t len, struct rule_cidr *out,
		     const char **why);

#endif
