/* sniffer: the sniffing policy (sniffer.h). */
#include "resolver/sniffer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "resolver/domain_match.h"

struct sniffer {
	bool force_dns_mapping, parse_pure_ip;
	struct config_sniff_proto proto[CONFIG_SNIFF_N];
	struct config_port_range *ports[CONFIG_SNIFF_N]; /* copies */
	struct domain_match *force, *skip;               /* NULL: empty */
	struct config_cidr *skip_src, *skip_dst;         /* copies */
	size_t n_skip_src, n_skip_dst;
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
	if (r == 0 && c->n_skip_src + c->n_skip_dst > 0) {
		s->skip_src = calloc(c->n_skip_src + 1, sizeof(*s->skip_src));
		s->skip_dst = calloc(c->n_skip_dst + 1, sizeof(*s->skip_dst));
		if (s->skip_src == NULL || s->skip_dst == NULL) {
			r = -ENOMEM;
		} else {
			if (c->n_skip_src > 0)
				memcpy(s->skip_src, c->skip_src,
				       c->n_skip_src * sizeof(*s->skip_src));
			if (c->n_skip_dst > 0)
				memcpy(s->skip_dst, c->skip_dst,
				       c->n_skip_dst * sizeof(*s->skip_dst));
			s->n_skip_src = c->n_skip_src;
			s->n_skip_dst = c->n_skip_dst;
		}
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
	free(s->skip_src);
	free(s->skip_dst);
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

static bool cidr_has(const struct config_cidr *c, const uint8_t *a, size_t alen)
{
	unsigned full = c->prefix / 8, rem = c->prefix % 8;

	if ((c->family == AF_INET ? 4u : 16u) != alen || memcmp(a, c->addr, full) != 0)
		return false;
	return rem == 0 || ((a[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}

bool sniffer_skips(const struct sniffer *s, const uint8_t *src, const uint8_t *dst, size_t alen)
{
	for (size_t i = 0; s != NULL && i < s->n_skip_src; i++)
		if (cidr_has(&s->skip_src[i], src, alen))
			return true;
	for (size_t i = 0; s != NULL && i < s->n_skip_dst; i++)
		if (cidr_has(&s->skip_dst[i], dst, alen))
			return true;
	return false;
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
