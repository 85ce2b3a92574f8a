/* sniffer: the sniffing policy (sniffer.h). */
#include "resolver/sniffer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "resolver/domain_match.h"

struct sniffer {
	bool force_dns_mapping, parse_pure_ip;
	struct config_sniff_proto proto[CONFIG_SNIFF_N];
	struct config_port_range *ports[CONFIG_SNIFF_N]; /* copies */
	struct domain_match *force, *skip;               /* NULL: empty */
};

static const unsigned proto_bit[CONFIG_SNIFF_N] = { SNIFFER_TLS, SNIFFER_HTTP, SNIFFER_QUIC };

static int patterns(const struct config_str *list, size_t n, const char *what,
		    struct domain_match **out, char *err, size_t errlen)
{
	int r;

	*out = NULL;
	if (n == 0)
		return 0;
	r = domain_match_create(out);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = domain_match_add(*out, list[i].text);
		/* "Mijia Cloud" (mihomo's own example): no sniffed name has a
		 * space (sniff_copy_name), so it can match nothing here. */
		if (r == -EINVAL && strchr(list[i].text, ' ') != NULL)
			r = 0;
		else if (r == -EINVAL)
			snprintf(err, errlen, "%s:%d:%d: sniffer.%s: bad domain pattern '%s'",
				 list[i].pos.file, list[i].pos.line, list[i].pos.col, what,
				 list[i].text);
	}
	return r;
}

int sniffer_create(const struct config_sniffer *c, struct sniffer **out, char *err, size_t errlen)
{
	struct sniffer *s;
	int r;

	*out = NULL;
	if (c == NULL || !c->present || !c->enable)
		return 0;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->force_dns_mapping = c->force_dns_mapping;
	s->parse_pure_ip = c->parse_pure_ip;
	r = 0;
	for (int i = 0; r == 0 && i < CONFIG_SNIFF_N; i++) {
		s->proto[i] = c->proto[i];
		s->proto[i].ports = NULL;
		if (!c->proto[i].on)
			continue;
		s->ports[i] = malloc(c->proto[i].n_ports * sizeof(*s->ports[i]) + 1);
		if (s->ports[i] == NULL)
			r = -ENOMEM;
		else
			for (size_t j = 0; j < c->proto[i].n_ports; j++)
				s->ports[i][j] = c->proto[i].ports[j];
	}
	if (r == 0)
		r = patterns(c->force_domain, c->n_force_domain, "force-domain", &s->force, err,
			     errlen);
	if (r == 0)
		r = patterns(c->skip_domain, c->n_skip_domain, "skip-domain", &s->skip, err,
			     errlen);
	if (r < 0) {
		sniffer_destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

void sniffer_destroy(struct sniffer *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < CONFIG_SNIFF_N; i++)
		free(s->ports[i]);
	if (s->force)
		domain_match_destroy(s->force);
	if (s->skip)
		domain_match_destroy(s->skip);
	free(s);
}

unsigned sniffer_wants(const struct sniffer *s, bool udp, uint16_t port, const char *domain,
		       bool fake)
{
	unsigned mask = 0;
	bool go;

	if (s == NULL)
		return 0;
	if (domain == NULL)
		go = s->parse_pure_ip;
	else
		go = (!fake && s->force_dns_mapping) ||
		     (s->force && domain_match_test(s->force, domain));
	if (!go)
		return 0;
	for (int i = 0; i < CONFIG_SNIFF_N; i++) {
		if (!s->proto[i].on || (i == CONFIG_SNIFF_QUIC) != udp)
			continue;
		for (size_t j = 0; j < s->proto[i].n_ports; j++)
			if (port >= s->ports[i][j].lo && port <= s->ports[i][j].hi)
				mask |= proto_bit[i];
	}
	return mask;
}

bool sniffer_accepts(const struct sniffer *s, const char *name)
{
	return s->skip == NULL || !domain_match_test(s->skip, name);
}

bool sniffer_overrides(const struct sniffer *s, unsigned proto)
{
	for (int i = 0; i < CONFIG_SNIFF_N; i++)
		if (proto_bit[i] == proto)
			return s->proto[i].override_destination;
	return false;
}
