/* config_sniffer: the sniffer section, as mihomo's parseSniffer reads it:
 *
 *   sniffer:
 *     enable: true
 *     force-dns-mapping: true     # sniff flows real-ip named (default true)
 *     parse-pure-ip: true         # sniff flows with no name (default true)
 *     override-destination: true  # the name becomes the target (default)
 *     sniff:
 *       TLS:  { ports: [443, 8443] }                 # default 443
 *       HTTP: { ports: [80, 8080-8880], override-destination: false }
 *       QUIC: { ports: [443] }                       # default 443
 *     force-domain: [+.example.com]  # also sniff flows with these names
 *     skip-domain: [Mijia Cloud]     # sniffed names not to use
 *     skip-src-address: [10.0.0.0/8] # flows from / to these: not sniffed
 *     skip-dst-address: [192.0.2.0/24]
 *
 * Domain patterns are checked when the daemon builds its sniffer (the
 * pattern syntax lives with the matcher in resolver/).
 */
#include "config/config_sniffer.h"
#include "config/config_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const proto_names[CONFIG_SNIFF_N] = { "TLS", "HTTP", "QUIC" };
static const uint16_t proto_default_port[CONFIG_SNIFF_N] = { 443, 80, 443 };

void config_sniffer_defaults(struct config_sniffer *s)
{
	memset(s, 0, sizeof(*s));
	s->force_dns_mapping = true;
	s->parse_pure_ip = true;
	s->override_destination = true;
}

/* "443", "8080-8880", or several of them comma-separated. */
static int port_text(struct loader *ld, yaml_node_t *n, const char *t,
		     struct config_port_range *out, size_t cap, size_t *count)
{
	const char *p = t;
	char q[80];

	while (*p) {
		char *end;
		unsigned long lo, hi;

		while (*p == ' ')
			p++;
		lo = strtoul(p, &end, 10);
		if (end == p || lo < 1 || lo > 65535)
			goto bad;
		hi = lo;
		p = end;
		if (*p == '-') {
			hi = strtoul(p + 1, &end, 10);
			if (end == p + 1 || hi < lo || hi > 65535)
				goto bad;
			p = end;
		}
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
		if (*count == cap)
			return loader_fail_at(ld, loader_node_pos(ld, n),
					      "sniffer: too many port ranges");
		out[*count].lo = (uint16_t)lo;
		out[(*count)++].hi = (uint16_t)hi;
	}
	return 0;
bad:
	return loader_fail_at(ld, loader_node_pos(ld, n),
			      "sniffer: ports: expected a port or a range like 8080-8880, got %s",
			      config_quote(q, t));
}

static int proto_ports(struct loader *ld, yaml_node_t *n, struct config_sniff_proto *sp)
{
	yaml_node_item_t *items;
	size_t count, cap = 64;
	int r = loader_get_list(ld, n, "sniffer.sniff.ports", true, &items, &count);

	if (r < 0)
		return r;
	sp->ports = loader_alloc(ld, cap * sizeof(*sp->ports));
	if (sp->ports == NULL)
		return loader_oom(ld);
	for (size_t i = 0; r == 0 && i < count; i++) {
		yaml_node_t *it = loader_list_item(ld, n, items, i);
		const char *t;

		r = loader_get_scalar(ld, it, "sniffer.sniff.ports", &t);
		if (r == 0)
			r = port_text(ld, it, t, sp->ports, cap, &sp->n_ports);
	}
	return r;
}

static int sniff_entry(struct loader *ld, const struct loader_kv *pe, bool *has_override)
{
	struct config_sniffer *s = &ld->cfg->sniffer;
	struct loader_kv *e = NULL;
	size_t count;
	int which = -1, r;
	char q[80];

	for (int i = 0; i < CONFIG_SNIFF_N; i++)
		if (loader_eq_nocase(pe->name, proto_names[i]))
			which = i;
	if (which < 0)
		return loader_fail_at(ld, loader_node_pos(ld, pe->key),
				      "sniffer.sniff: unknown protocol %s (TLS, HTTP or QUIC)",
				      config_quote(q, pe->name));
	s->proto[which].on = true;
	if (loader_is_null(pe->val))
		return 0;
	r = loader_map_entries(ld, pe->val, "sniffer.sniff", &e, &count);
	for (size_t i = 0; r == 0 && i < count; i++) {
		if (!strcmp(e[i].name, "ports")) {
			r = loader_recover(ld, proto_ports(ld, e[i].val, &s->proto[which]));
		} else if (!strcmp(e[i].name, "override-destination")) {
			has_override[which] = true;
			r = loader_get_bool(ld, e[i].val, "sniffer.sniff.override-destination",
					    &s->proto[which].override_destination);
		} else {
			r = loader_fail_at(ld, loader_node_pos(ld, e[i].key),
					   "sniffer.sniff.%s: unknown key %s (ports or "
					   "override-destination)",
					   proto_names[which], config_quote(q, e[i].name));
		}
		r = loader_recover(ld, r);
	}
	free(e);
	return r;
}

static int sniffer_key(struct loader *ld, const struct loader_kv *e, bool *has_override)
{
	struct config_sniffer *s = &ld->cfg->sniffer;
	const char *k = e->name;
	struct loader_kv *pe = NULL;
	size_t count;
	int r;

	if (!strcmp(k, "enable"))
		return loader_get_bool(ld, e->val, "sniffer.enable", &s->enable);
	if (!strcmp(k, "force-dns-mapping"))
		return loader_get_bool(ld, e->val, "sniffer.force-dns-mapping",
				       &s->force_dns_mapping);
	if (!strcmp(k, "parse-pure-ip"))
		return loader_get_bool(ld, e->val, "sniffer.parse-pure-ip", &s->parse_pure_ip);
	if (!strcmp(k, "override-destination"))
		return loader_get_bool(ld, e->val, "sniffer.override-destination",
				       &s->override_destination);
	if (!strcmp(k, "force-domain"))
		return loader_get_str_list(ld, e->val, "sniffer.force-domain", &s->force_domain,
					   &s->n_force_domain);
	if (!strcmp(k, "skip-domain"))
		return loader_get_str_list(ld, e->val, "sniffer.skip-domain", &s->skip_domain,
					   &s->n_skip_domain);
	if (!strcmp(k, "sniff")) {
		if (loader_is_null(e->val))
			return 0;
		r = loader_map_entries(ld, e->val, "sniffer.sniff", &pe, &count);
		for (size_t i = 0; r == 0 && i < count; i++)
			r = loader_recover(ld, sniff_entry(ld, &pe[i], has_override));
		free(pe);
		return r;
	}
	if (!strcmp(k, "skip-src-address"))
		return config_get_cidr_list(ld, e->val, 0, "sniffer.skip-src-address", &s->skip_src,
					    &s->n_skip_src);
	if (!strcmp(k, "skip-dst-address"))
		return config_get_cidr_list(ld, e->val, 0, "sniffer.skip-dst-address", &s->skip_dst,
					    &s->n_skip_dst);
	/* the old sniffing and port-whitelist */
	return loader_warn_ignored(ld, e, "sniffer:");
}

int config_sniffer_load(struct loader *ld, yaml_node_t *n)
{
	struct config_sniffer *s = &ld->cfg->sniffer;
	bool has_override[CONFIG_SNIFF_N] = { false };
	struct loader_kv *e = NULL;
	size_t count;
	int r = loader_map_entries(ld, n, "sniffer", &e, &count);

	s->present = true;
	for (size_t i = 0; r == 0 && i < count; i++)
		r = loader_recover(ld, sniffer_key(ld, &e[i], has_override));
	free(e);
	for (int i = 0; r == 0 && i < CONFIG_SNIFF_N; i++) {
		struct config_sniff_proto *sp = &s->proto[i];

		if (!sp->on)
			continue;
		if (!has_override[i])
			sp->override_destination = s->override_destination;
		if (sp->n_ports == 0) {
			if (sp->ports == NULL)
				sp->ports = loader_alloc(ld, sizeof(*sp->ports));
			if (sp->ports == NULL)
				return loader_oom(ld);
			sp->ports[0].lo = sp->ports[0].hi = proto_default_port[i];
			sp->n_ports = 1;
		}
	}
	return r;
}
