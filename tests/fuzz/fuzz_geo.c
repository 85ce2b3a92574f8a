/* libFuzzer target for the geodata readers (tun2socks/route/geo.c).
 *
 * The first byte picks the reader: 0 GeoSite.dat (lists "a", "cn",
 * "cn@ads", "cn@!ads"), 1 GeoIP.dat ("cn"), 2 a country MaxMind DB, 3 an
 * ASN one; the rest is the file. The databases go through a file, as
 * libmaxminddb opens only files, then a few addresses of both families are
 * looked up. Checks, beyond sanitizer cleanliness: every reader answers 0
 * or -errno with a printable reason, every value handed out is a C
 * string, every prefix length fits its family.
 */
#include "tun2socks/route/geo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* libmaxminddb before 1.12.0 leaks its metadata's entry list when
 * MMDB_open refuses a file with corrupt metadata (upstream commit 77e547e,
 * "fix: memory leak in MMDB_open()"; Debian 12 ships 1.7.1): about 4.6 KB
 * per refused file, i.e. per reload with a damaged database. Not ours to
 * fix; leaks anywhere else are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

static int on_site(void *arg, int type, const char *value)
{
	(void)arg;
	CHECK(type >= GEO_SITE_PLAIN && type <= GEO_SITE_FULL);
	CHECK(strlen(value) < (1u << 20));
	return 0;
}

static int on_cidr(void *arg, int family, const uint8_t *addr, unsigned plen)
{
	(void)arg;
	(void)addr;
	CHECK((family == 4 && plen <= 32) || (family == 6 && plen <= 128));
	return 0;
}

static void check_why(int r, const char *why)
{
	CHECK(r <= 0);
	if (r < 0)
		for (const char *c = why; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

/* The scratch directory the MaxMind readers open their file in; removed
 * at exit (each input's file is unlinked after it). */
static char scratch[64];

static void scratch_remove(void)
{
	(void)rmdir(scratch);
}

static void lookups(const uint8_t *data, size_t size, int kind)
{
	static const uint8_t addrs[][16] = {
		{ 1, 2, 3, 4 },
		{ 10, 0, 0, 1 },
		{ 0 },
		{ 255, 255, 255, 255 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	};
	char path[128], why[600] = "";
	struct geo *g;
	FILE *f;
	int r;

	if (!scratch[0]) {
		snprintf(scratch, sizeof(scratch), "/tmp/t2s-fuzz-geo-XXXXXX");
		CHECK(mkdtemp(scratch) != NULL);
		CHECK(atexit(scratch_remove) == 0);
	}
	snprintf(path, sizeof(path), "%s/%s", scratch,
		 kind == GEO_COUNTRY ? "Country.mmdb" : "ASN.mmdb");
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(data, 1, size, f) == size);
	CHECK(fclose(f) == 0);
	CHECK(geo_create(scratch, false, &g) == 0);
	r = geo_open(g, kind, why, sizeof(why));
	check_why(r, why);
	for (size_t i = 0; r == 0 && i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		int family = i == 4 ? 6 : 4;
		uint32_t asn;

		if (kind == GEO_COUNTRY) {
			(void)geo_ip_country(g, family, addrs[i], "cn");
			(void)geo_ip_country(g, family, addrs[i], "us");
		} else {
			int a = geo_ip_asn(g, family, addrs[i], &asn);

			CHECK(a == 0 || a == -ENOENT);
		}
	}
	geo_free(g);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const codes[] = { "a", "cn", "cn@ads", "cn@!ads" };
	char why[600] = "";

	if (size < 1 || size > 65536)
		return 0;
	switch (data[0] % 4) {
	case 0:
		for (size_t i = 0; i < 4; i++) {
			why[0] = '\0';
			check_why(geo_site_parse(data + 1, size - 1, codes[i], on_site, NULL, why,
						 sizeof(why)),
				  why);
		}
		break;
	case 1:
		check_why(geo_ip_parse(data + 1, size - 1, "cn", on_cidr, NULL, why, sizeof(why)),
			  why);
		break;
	default:
		lookups(data + 1, size - 1, data[0] % 4 == 2 ? GEO_COUNTRY : GEO_ASN);
		break;
	}
	return 0;
}
