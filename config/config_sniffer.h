/* config_sniffer: the sniffer section (mihomo's keys): which protocols are
 * sniffed on which ports, and for which flows (docs/design.md §17).
 */
#ifndef T2S_CONFIG_SNIFFER_H
#define T2S_CONFIG_SNIFFER_H

#include "config/loader.h"

/* sniffer: n is its value. */
int config_sniffer_load(struct loader *ld, yaml_node_t *n);

/* mihomo's defaults, before the section is read. */
void config_sniffer_defaults(struct config_sniffer *s);

#endif
