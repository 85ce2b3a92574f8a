/* config_sniffer: the sniffer section (mihomo's keys): which protocols are
 * sniffed on which ports, and for which flows (docs/design.md §21).
 */
#ifndef T2S_CONFIG_SNIFFER_H
#define T2S_CONFIG_SNIFFER_H

#include "config/loader.h"

/* sniffer: n is its value. */
int config_sniffer_load(struct loader *ld, yaml_node_t *n);

/* A list of CIDRs (family 0: either, by the text) with file:line:col
 * errors; config_load.c's, shared with this section. */
int config_get_cidr_list(struct loader *ld, yaml_node_t *n, int family, const char *what,
			 struct config_cidr **out, size_t *count);

/* mihomo's defaults, before the section is read. */
void config_sniffer_defaults(struct config_sniffer *s);

#endif
