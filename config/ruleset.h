/* ruleset: rule-provider files (mihomo "rule-providers:" of type file).
 *
 * Formats: YAML (a mapping whose "payload:" key holds a list of strings;
 * other keys are ignored), text (one entry per line; blank lines and
 * lines starting with '#' skipped; surrounding blanks and a CR dropped)
 * and mrs (mihomo's zstd-compressed binary form of domain and ipcidr sets,
 * ruleset_mrs.h; its entries have no line: notes name the file only).
 * Behaviours, as mihomo reads them:
 *   domain     "x.com" that name only; "+.x.com" x.com and every name
 *              under it; ".x.com" every name under x.com, not x.com;
 *              "*" is one whole label at any position ("*.x.com" matches
 *              a.x.com, not x.com nor a.b.x.com). Names are lower-cased,
 *              lose one trailing dot and follow rules_domain_norm().
 *   ipcidr     "address/length", IPv4 or IPv6, host bits masked.
 *   classical  rule lines without target (rules_parse_entry()):
 *              "DOMAIN-SUFFIX,x.com", "IP-CIDR,1.2.3.0/24,no-resolve",
 *              AND/OR/NOT too; no RULE-SET, no MATCH.
 * An invalid entry is skipped, as mihomo skips it (lists from public
 * repositories carry the odd "*m-team*" or a classical line with a
 * target, and one such line must not drop the other thousands): it is
 * counted (ruleset_skipped) and noted with file:line:column inside the
 * rule-set file and why (ruleset_note), for the caller to warn about.
 * Fields after a classical entry's payload other than no-resolve and src
 * (a target, as in "DOMAIN,x.com,DIRECT") are ignored with a note, as
 * mihomo ignores them. What stops a load: a file that cannot be read, YAML
 * that does not parse or has no payload list, out of memory. Line and
 * column are 1-based, the column in bytes.
 *
 * A loaded set is immutable; the rule engine copies what it needs, so a
 * set may be freed once the engines built from it exist.
 */
#ifndef T2S_RULESET_H
#define T2S_RULESET_H

#include <stddef.h>

#include "config/conf_err.h"
#include "config/rules_parse.h"

enum ruleset_behavior { RULESET_DOMAIN = 1, RULESET_IPCIDR, RULESET_CLASSICAL };
enum ruleset_format { RULESET_YAML = 1, RULESET_TEXT, RULESET_MRS };

/* Kinds of a domain pattern (bits). */
enum { RULESET_MATCH_SELF = 1, RULESET_MATCH_SUB = 2 };

/* Notes kept per set; the rest are only counted. */
enum { RULESET_WARN_MAX = 5 };

struct ruleset;

/* "domain" / "ipcidr" / "classical"; "yaml" / "text" / "mrs" (mihomo's names, as
 * written there: lower case). 0 or -EINVAL (out untouched). */
int ruleset_behavior_from_name(const char *s, enum ruleset_behavior *out);
int ruleset_format_from_name(const char *s, enum ruleset_format *out);

/* Reads path (as given: the caller resolves it against the config
 * directory) and parses it. A file that cannot be read is reported at pos
 * (the provider's place in the config), naming the path and strerror.
 * *out is cleared first. 0, -EINVAL (err filled), -ENOMEM or -errno of
 * the read. */
int ruleset_load_file(const char *name, enum ruleset_behavior behavior, enum ruleset_format format,
		      const char *path, const struct conf_pos *pos, struct ruleset **out,
		      struct conf_err *err);

/* The same from memory: buf[0, len) (need not be NUL-terminated); file is
 * the name errors carry. Returns 0, -EINVAL (err filled) or -ENOMEM. */
int ruleset_load_buffer(const char *name, enum ruleset_behavior behavior,
			enum ruleset_format format, const char *file, const char *buf, size_t len,
			struct ruleset **out, struct conf_err *err);

void ruleset_free(struct ruleset *rs);

const char *ruleset_name(const struct ruleset *rs);
enum ruleset_behavior ruleset_behavior(const struct ruleset *rs);
size_t ruleset_count(const struct ruleset *rs);

/* Entry i (< ruleset_count) of a domain set: the name without its "+." or
 * "." marker (NUL-terminated, *len bytes) and its RULESET_MATCH_* kind. */
const char *ruleset_domain(const struct ruleset *rs, size_t i, size_t *len, unsigned *kind);
/* Entry i of an ipcidr set. */
const struct rule_cidr *ruleset_cidr(const struct ruleset *rs, size_t i);
/* Entry i of a classical set (target NULL). */
const struct rule_spec *ruleset_rule(const struct ruleset *rs, size_t i);

/* Bad entries skipped. */
size_t ruleset_skipped(const struct ruleset *rs);
/* Notes: one per skipped entry ("...; entry skipped") and per ignored
 * field, in file order; count them all, keep the first RULESET_WARN_MAX
 * (ruleset_note(i) is NULL past those). */
size_t ruleset_note_count(const struct ruleset *rs);
const struct conf_err *ruleset_note(const struct ruleset *rs, size_t i);

#endif
