/* config_rules: the rules and rule-providers sections of the config.
 *
 * Rule lines are kept as text with their positions for the router, which
 * parses them again to build the rule engine; here each is parsed once so
 * that a bad line, an unknown rule-set or target is reported with the
 * file's other errors. Rule-provider files are not opened: their paths
 * are resolved against the config's directory.
 */
#ifndef T2S_CONFIG_RULES_H
#define T2S_CONFIG_RULES_H

#include "config/loader.h"

/* rules: n is its value. Runs after the proxies, groups and rule
 * providers, whose names the lines use. */
int config_rules_load(struct loader *ld, yaml_node_t *n);

/* sub-rules: n is its value, a mapping of names to lists of rule lines
 * (mihomo's); SUB-RULE,(CONDITION),NAME hands a flow to list NAME. Runs
 * after the rule providers, before the rules. */
int config_rules_load_sub(struct loader *ld, yaml_node_t *n);

/* rule-providers: n is its value (a mapping of names). A broken provider
 * is kept, so that RULE-SET lines naming it are not reported as well. */
int config_rules_load_providers(struct loader *ld, yaml_node_t *n);

/* dns.fake-ip-filter, after loading its strings: each pattern in the form
 * the fake-ip filter takes (IDN labels to punycode); a pattern that can
 * match no name (mihomo reads '?' and other characters literally, and a
 * DNS name never holds them) is dropped with a warning, as mihomo loads
 * it and it never matches. "rule-set:" and "geosite:" entries are kept as
 * written, for the router. */
int config_rules_fake_filter(struct loader *ld, struct config_dns *d);

#endif
