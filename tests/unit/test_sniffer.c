/* Unit tests for sniffer: when a flow is sniffed (mihomo's shouldOverride
 * and port lists) and what the name is used for. */
#include "config/config.h"
#include "resolver/sniffer.h"
#include "test.h"

#include <errno.h>
#include <string.h>

static struct config *load(const char *y)
{
	struct config *cfg = NULL;

	if (config_load_buf(y, strlen(y), "t.yaml", &cfg, NULL) < 0)
		return NULL;
	return cfg;
}

static void test_wants(void)
{
	struct config *cfg =
		load("sniffer:\n"
		     "  enable: true\n"
		     "  parse-pure-ip: true\n"
		     "  force-dns-mapping: false\n"
		     "  sniff:\n"
		     "    TLS: {ports: [443, 8443]}\n"
		     "    HTTP: {ports: [80, 8080-8090], override-destination: false}\n"
		     "    QUIC: {}\n"
		     "  force-domain: [+.force.test]\n"
		     "  skip-domain: [+.skip.test, Mijia Cloud]\n"
		     "  skip-src-address: [10.9.0.0/16]\n"
		     "  skip-dst-address: [192.0.2.0/24, '2001:db8::/32']\n");
	struct sniffer *s = NULL;
	char err[256] = "";

	T_CHECK(cfg != NULL);
	if (!cfg)
		return;
	T_EQ_INT(sniffer_create(&cfg->sniffer, &s, err, sizeof(err)), 0);
	T_CHECK(s != NULL);
	/* no name: parse-pure-ip; by port and transport */
	T_EQ_INT(sniffer_wants(s, false, 443, NULL, false), SNIFFER_TLS);
	T_EQ_INT(sniffer_wants(s, false, 8085, NULL, false), SNIFFER_HTTP);
	T_EQ_INT(sniffer_wants(s, false, 22, NULL, false), 0);
	T_EQ_INT(sniffer_wants(s, true, 443, NULL, false), SNIFFER_QUIC);
	T_EQ_INT(sniffer_wants(s, true, 80, NULL, false), 0);
	/* a fake-ip name: only force-domain */
	T_EQ_INT(sniffer_wants(s, false, 443, "a.example", true), 0);
	T_EQ_INT(sniffer_wants(s, false, 443, "x.force.test", true), SNIFFER_TLS);
	/* a real-ip name with force-dns-mapping off */
	T_EQ_INT(sniffer_wants(s, false, 443, "a.example", false), 0);
	T_CHECK(sniffer_accepts(s, "a.example"));
	/* skip-src-address, skip-dst-address */
	T_CHECK(sniffer_skips(s, (const uint8_t *)"\x0a\x09\x01\x01",
			      (const uint8_t *)"\xcb\x00\x71\x01", 4));
	T_CHECK(sniffer_skips(s, (const uint8_t *)"\x0a\x08\x01\x01",
			      (const uint8_t *)"\xc0\x00\x02\x07", 4));
	T_CHECK(!sniffer_skips(s, (const uint8_t *)"\x0a\x08\x01\x01",
			       (const uint8_t *)"\xc0\x00\x03\x07", 4));
	T_CHECK(sniffer_skips(s, (const uint8_t *)"\xfd\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1",
			      (const uint8_t *)"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16));
	T_CHECK(!sniffer_accepts(s, "cdn.skip.test"));
	T_CHECK(sniffer_overrides(s, SNIFFER_TLS));
	T_CHECK(!sniffer_overrides(s, SNIFFER_HTTP));
	sniffer_destroy(s);
	config_free(cfg);

	/* defaults: force-dns-mapping on */
	cfg = load("sniffer: {enable: true, sniff: {TLS: {}}}\n");
	T_CHECK(cfg != NULL);
	if (!cfg)
		return;
	T_EQ_INT(sniffer_create(&cfg->sniffer, &s, err, sizeof(err)), 0);
	T_EQ_INT(sniffer_wants(s, false, 443, "a.example", false), SNIFFER_TLS);
	T_EQ_INT(sniffer_wants(s, false, 443, "a.example", true), 0);
	sniffer_destroy(s);
	config_free(cfg);
}

static void test_off_and_errors(void)
{
	struct config *cfg = load("sniffer: {enable: false, sniff: {TLS: {}}}\n");
	struct sniffer *s = (struct sniffer *)1;
	char err[256] = "";

	T_CHECK(cfg != NULL);
	if (!cfg)
		return;
	T_EQ_INT(sniffer_create(&cfg->sniffer, &s, err, sizeof(err)), 0);
	T_CHECK(s == NULL);
	T_EQ_INT(sniffer_wants(NULL, false, 443, NULL, false), 0);
	config_free(cfg);
	cfg = load("sniffer:\n  enable: true\n  force-domain: ['a..b']\n");
	T_CHECK(cfg != NULL);
	if (!cfg)
		return;
	T_EQ_INT(sniffer_create(&cfg->sniffer, &s, err, sizeof(err)), -EINVAL);
	T_CHECK(strstr(err, "t.yaml:3:") != NULL && strstr(err, "force-domain") != NULL);
	config_free(cfg);
}

int main(void)
{
	T_RUN(test_wants);
	T_RUN(test_off_and_errors);
	return test_summary();
}
