/* sniffer: which flows are sniffed, and what a sniffed name is used for,
 * with mihomo's semantics (component/sniffer; docs/design.md §21).
 *
 * Built once from the config's sniffer section at start. Pure: the codecs
 * (sniff.h, sniff_quic.h) do the reading; this says when to call them.
 */
#ifndef T2S_SNIFFER_H
#define T2S_SNIFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tun2socks/base/must_check.h"

struct config_sniffer;
struct sniffer;

enum {
	SNIFFER_TLS = 1,
	SNIFFER_HTTP = 2,
	SNIFFER_QUIC = 4,
};

/* NULL in *out when the section is absent or disabled (nothing sniffed).
 * 0, -EINVAL (a bad force-domain/skip-domain pattern, said in err), or
 * -ENOMEM. */
T2S_MUST_CHECK int sniffer_create(const struct config_sniffer *c, struct sniffer **out, char *err,
				  size_t errlen);
void sniffer_destroy(struct sniffer *s);

/* The protocols to try on a new flow (a mask of SNIFFER_*; 0: route it
 * as it is). domain: the name DNS gave its address, or NULL; fake: that
 * name came from the fake pool (not from a remembered real answer). A flow
 * is sniffed when it has no name and parse-pure-ip is on, when its name
 * was remembered from a real answer and force-dns-mapping is on, or when
 * its name matches force-domain; and only on the protocols' ports. */
unsigned sniffer_wants(const struct sniffer *s, bool udp, uint16_t port, const char *domain,
		       bool fake);

/* Whether a flow from src to dst (addresses of alen bytes, 4 or 16) is
 * never sniffed: src in skip-src-address or dst in skip-dst-address. */
bool sniffer_skips(const struct sniffer *s, const uint8_t *src, const uint8_t *dst, size_t alen);

/* Whether a sniffed name is used: not one of skip-domain. */
bool sniffer_accepts(const struct sniffer *s, const char *name);

/* Whether the name a protocol (one SNIFFER_* bit) found becomes the flow's
 * target (override-destination), rather than only what the rules see. */
bool sniffer_overrides(const struct sniffer *s, unsigned proto);

#endif
