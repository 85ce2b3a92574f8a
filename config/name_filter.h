/* name_filter: mihomo's `filter` / `exclude-filter` of proxy groups and
 * providers: regexes on proxy names, several joined by a backquote
 * ("HK|香港`US"), a name matching any of them matches. PCRE2 with UTF and
 * JIT, close to Go's RE2 for what such filters use ((?i), \d, classes).
 */
#ifndef T2S_NAME_FILTER_H
#define T2S_NAME_FILTER_H

#include <stdbool.h>
#include <stddef.h>

struct name_filter;

/* 0 with *out set, -EINVAL with err saying which regex and why, -ENOMEM. */
int name_filter_compile(const char *text, struct name_filter **out, char *err, size_t errlen);
bool name_filter_match(const struct name_filter *f, const char *name);
void name_filter_free(struct name_filter *f);

#endif
