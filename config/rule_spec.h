/* rule_spec: a Clash rule as plain data, what config/rules_parse makes of
 * a rule line or a rule-set entry and what the rule engine
 * (tun2socks/route/rule.h) compiles. The syntax and the payload forms are
 * rules_parse.h's; this header is the shape both sides share. */
#ifndef T2S_RULE_SPEC_H
#define T2S_RULE_SPEC_H

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
	RULE_DOMAIN_WILDCARD, /* '*' any run of bytes, '?' one byte */
	RULE_PROCESS_NAME_REGEX,
	RULE_PROCESS_PATH_REGEX,
	RULE_IP_SUFFIX, /* cidr: the address's last plen bits, unmasked */
	RULE_SRC_IP_SUFFIX,
	RULE_IN_PORT, /* ranges */
	RULE_DSCP,    /* ranges, 0..63 */
	RULE_GEOIP,   /* str: country code, lower case, or "lan" */
	RULE_SRC_GEOIP,
	RULE_IP_ASN, /* asn */
	RULE_SRC_IP_ASN,
	RULE_GEOSITE,  /* str: list name, lower case, optional "@attr" */
	RULE_SUB_RULE, /* sub[0]: the condition; target: a sub-rules name */
	RULE_IN_TYPE,  /* str: inbound types, '/'-separated, upper case */
	RULE_IN_USER,  /* str: inbound user names, '/'-separated */
	RULE_IN_NAME,  /* str: inbound names, '/'-separated */
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
	struct rule_cidr cidr;     /* IP-CIDR, SRC-IP-CIDR, *IP-SUFFIX */
	uint32_t asn;              /* IP-ASN, SRC-IP-ASN */
	struct rule_range *ranges; /* ports, UID: in the order written */
	size_t n_ranges;
	struct rule_spec *sub; /* AND / OR / NOT operands, in order */
	size_t n_sub;
	char *target; /* NULL unless parsed with a target */
	/* A rule-set entry with fields we ignore (a target, as mihomo
	 * ignores it): the first starts at byte ignored_off of the text. */
	bool ignored;
	size_t ignored_off;
	char *text;          /* the whole rule, trimmed; NULL in operands */
	struct conf_pos pos; /* of the type name */
	struct conf_pos payload_pos;
	struct conf_pos target_pos;
};

/* Frees what a spec owns (not the struct itself) and clears it. */
void rule_spec_free(struct rule_spec *spec);

#endif
