/* Unit tests for the geodata behind GEOIP, IP-ASN and GEOSITE
 * (tun2socks/route/geo.c), on files tests/data/geo_gen.py writes from the
 * formats' documentation: the three kinds of country database, the ASN
 * database, GeoSite.dat with attributes, GeoIP.dat (geodata-mode), file
 * names in any case, and the errors for missing or damaged files. */
#include "tun2socks/route/geo.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static bool gen(const char *args)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd %s && python3 %s/tests/data/geo_gen.py %s", dir,
		 T2S_SOURCE_DIR, args);
	if (system(cmd) == 0)
		return true;
	fprintf(stderr, "  failed: %s\n", cmd);
	T_CHECK(0);
	return false;
}

static void clean(void)
{
	char cmd[200];

	snprintf(cmd, sizeof(cmd), "rm -f %s/*", dir);
	T_EQ_INT(system(cmd), 0);
}

static bool in(struct geo *g, const char *ip, const char *code)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return geo_ip_country(g, 4, a, code);
	T_CHECK(inet_pton(AF_INET6, ip, a) == 1);
	return geo_ip_country(g, 6, a, code);
}

static struct geo *open_country(void)
{
	struct geo *g = NULL;
	char why[600] = "";

	T_EQ_INT(geo_create(dir, false, &g), 0);
	if (g && geo_open(g, GEO_COUNTRY, why, sizeof(why)) != 0) {
		fprintf(stderr, "  %s\n", why);
		T_CHECK(0);
	}
	return g;
}

static void test_country_kinds(void)
{
	struct geo *g;
	char why[600];

	/* GeoLite2-Country: {country: {iso_code: "CN"}}; codes compare
	 * without case. The file's name is matched without case too. */
	if (!gen("country COUNTRY.MMDB maxmind 1.0.0.0/8=cn 2001:db8::/32=jp"))
		return;
	g = open_country();
	T_CHECK(in(g, "1.2.3.4", "cn"));
	T_CHECK(!in(g, "1.2.3.4", "jp"));
	T_CHECK(in(g, "2001:db8::5", "jp"));
	T_CHECK(!in(g, "9.9.9.9", "cn"));
	geo_free(g);
	clean();
	/* sing-geoip: the code itself. */
	gen("country geoip.db sing 10.0.0.0/8=us");
	g = open_country();
	T_CHECK(in(g, "10.1.1.1", "us"));
	T_CHECK(!in(g, "11.1.1.1", "us"));
	geo_free(g);
	clean();
	/* Meta-geoip0: a code or a list of codes. */
	gen("country geoip.metadb meta 10.0.0.0/8=us,cn 11.0.0.0/8=hk");
	g = open_country();
	T_CHECK(in(g, "10.1.1.1", "us") && in(g, "10.1.1.1", "cn"));
	T_CHECK(in(g, "11.0.0.1", "hk") && !in(g, "11.0.0.1", "cn"));
	geo_free(g);
	clean();
	/* No database: the error names the file mihomo would download
	 * (geoip.metadb). */
	T_EQ_INT(geo_create(dir, false, &g), 0);
	T_CHECK(geo_open(g, GEO_COUNTRY, why, sizeof(why)) < 0);
	T_CHECK(strstr(why, "cannot open the GEOIP database") && strstr(why, "geoip.metadb"));
	geo_free(g);
	/* A damaged one. */
	{
		char p[200];
		FILE *f;

		snprintf(p, sizeof(p), "%s/Country.mmdb", dir);
		f = fopen(p, "w");
		fputs("not a database", f);
		fclose(f);
	}
	T_EQ_INT(geo_create(dir, false, &g), 0);
	T_CHECK(geo_open(g, GEO_COUNTRY, why, sizeof(why)) < 0);
	T_CHECK(strstr(why, "Country.mmdb") != NULL);
	geo_free(g);
	clean();
}

/* Downloads (docs/design.md §16): which files are missing, where one
 * goes, whether a download parses. */
static void test_download_support(void)
{
	struct geo *g = NULL;
	char why[600] = "", path[300], want[300], d[80];
	FILE *f;

	snprintf(d, sizeof(d), "%s/", dir); /* geo_file_path wants the '/' */

	/* lenient: the missing files are noted, nothing fails */
	T_EQ_INT(geo_create(dir, false, &g), 0);
	geo_set_lenient(g, true);
	T_EQ_INT(geo_open(g, GEO_COUNTRY, why, sizeof(why)), 0);
	T_EQ_INT(geo_open(g, GEO_ASN, why, sizeof(why)), 0);
	T_EQ_INT(geo_site(g, "cn", NULL, NULL, why, sizeof(why)), 0);
	T_EQ_INT(geo_missing(g), (1u << GEO_F_MMDB) | (1u << GEO_F_ASN) | (1u << GEO_F_GEOSITE));
	T_EQ_INT(geo_used(g), 0);
	geo_free(g);
	/* where a download of each goes */
	T_EQ_INT(geo_file_path(d, GEO_F_MMDB, path, sizeof(path)), -ENOENT);
	snprintf(want, sizeof(want), "%sgeoip.metadb", d);
	T_EQ_STR(path, want);
	T_EQ_STR(geo_file_name(GEO_F_ASN), "ASN.mmdb");
	T_EQ_STR(geo_file_name(GEO_F_GEOIP), "GeoIP.dat");
	T_EQ_STR(geo_file_name(GEO_F_GEOSITE), "GeoSite.dat");
	/* an existing one, any case, is used in place */
	if (!gen("country country.MMDB maxmind 10.0.0.0/8=us"))
		return;
	T_EQ_INT(geo_file_path(d, GEO_F_MMDB, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%scountry.MMDB", d);
	T_EQ_STR(path, want);
	T_EQ_INT(geo_file_check(GEO_F_MMDB, path, why, sizeof(why)), 0);
	T_EQ_INT(geo_create(dir, false, &g), 0);
	T_EQ_INT(geo_open(g, GEO_COUNTRY, why, sizeof(why)), 0);
	T_EQ_INT(geo_used(g), 1u << GEO_F_MMDB);
	T_EQ_STR(geo_path(g, GEO_F_MMDB), want);
	T_CHECK(geo_mtime(g, GEO_F_MMDB) > 0);
	geo_free(g);
	/* a download that does not parse is refused */
	if (!gen("geosite GeoSite.dat CN=domain:cn"))
		return;
	snprintf(path, sizeof(path), "%sGeoSite.dat", d);
	T_EQ_INT(geo_file_check(GEO_F_GEOSITE, path, why, sizeof(why)), 0);
	T_CHECK(geo_file_check(GEO_F_MMDB, path, why, sizeof(why)) < 0);
	T_CHECK(strstr(why, "not a MaxMind database") != NULL);
	snprintf(path, sizeof(path), "%sjunk", d);
	f = fopen(path, "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs("\xff\xff\xff not protobuf", f);
		fclose(f);
	}
	T_CHECK(geo_file_check(GEO_F_GEOSITE, path, why, sizeof(why)) < 0);
	T_CHECK(geo_file_check(GEO_F_GEOIP, path, why, sizeof(why)) < 0);
	clean();
}

static void test_asn(void)
{
	struct geo *g = NULL;
	char why[600];
	uint8_t a[16];
	uint32_t asn;

	if (!gen("asn ASN.mmdb 1.0.0.0/24=13335:Cloudflare 2606:4700::/32=13335:Cloudflare"))
		return;
	T_EQ_INT(geo_create(dir, false, &g), 0);
	T_EQ_INT(geo_open(g, GEO_ASN, why, sizeof(why)), 0);
	inet_pton(AF_INET, "1.0.0.1", a);
	T_EQ_INT(geo_ip_asn(g, 4, a, &asn), 0);
	T_EQ_INT(asn, 13335);
	inet_pton(AF_INET6, "2606:4700::1", a);
	T_EQ_INT(geo_ip_asn(g, 6, a, &asn), 0);
	inet_pton(AF_INET, "8.8.8.8", a);
	T_EQ_INT(geo_ip_asn(g, 4, a, &asn), -ENOENT);
	geo_free(g);
	clean();
}

struct seen {
	char v[16][80];
	int t[16];
	int n;
};

static int collect(void *arg, int type, const char *value)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->v[s->n], sizeof(s->v[0]), "%s", value);
		s->t[s->n++] = type;
	}
	return 0;
}

static int collect_cidr(void *arg, int family, const uint8_t *addr, unsigned plen)
{
	struct seen *s = arg;
	char a[64];

	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	if (s->n < 16)
		snprintf(s->v[s->n++], sizeof(s->v[0]), "%s/%u", a, plen);
	return 0;
}

static void test_site(void)
{
	struct geo *g = NULL;
	struct seen s;
	char why[600];

	if (!gen("geosite GeoSite.dat 'GOOGLE=domain:google.com' 'GOOGLE=full:www.google.cn@cn' "
		 "'GOOGLE=plain:gstatic' 'GOOGLE=regex:^ggpht\\.' 'CN=domain:cn'"))
		return;
	T_EQ_INT(geo_create(dir, false, &g), 0);
	memset(&s, 0, sizeof(s));
	T_EQ_INT(geo_site(g, "google", collect, &s, why, sizeof(why)), 0);
	T_EQ_INT(s.n, 4);
	T_EQ_STR(s.v[0], "google.com");
	T_EQ_INT(s.t[0], GEO_SITE_DOMAIN);
	T_EQ_INT(s.t[1], GEO_SITE_FULL);
	T_EQ_INT(s.t[2], GEO_SITE_PLAIN);
	T_EQ_INT(s.t[3], GEO_SITE_REGEX);
	memset(&s, 0, sizeof(s));
	T_EQ_INT(geo_site(g, "google@cn", collect, &s, why, sizeof(why)), 0);
	T_EQ_INT(s.n, 1);
	T_EQ_STR(s.v[0], "www.google.cn");
	memset(&s, 0, sizeof(s));
	T_EQ_INT(geo_site(g, "google@!cn", collect, &s, why, sizeof(why)), 0);
	T_EQ_INT(s.n, 3);
	T_EQ_INT(geo_site(g, "nope", collect, &s, why, sizeof(why)), -ENOENT);
	T_EQ_STR(why, "no list 'nope' in the GeoSite data");
	geo_free(g);
	clean();
	T_EQ_INT(geo_create(dir, false, &g), 0);
	T_EQ_INT(geo_site(g, "cn", collect, &s, why, sizeof(why)), -ENOENT);
	T_CHECK(strstr(why, "cannot read the GEOSITE data") && strstr(why, "GeoSite.dat"));
	geo_free(g);
	/* Not a protobuf. */
	T_EQ_INT(geo_site_parse((const uint8_t *)"\xff\xff\xff", 3, "cn", collect, &s, why,
				sizeof(why)),
		 -EINVAL);
}

static void test_geoip_dat(void)
{
	struct geo *g = NULL;
	struct seen s;
	char why[600];

	if (!gen("geoip geoip.dat CN=1.0.0.0/8 CN=2001:db8::/32 US=8.8.8.0/24"))
		return;
	T_EQ_INT(geo_create(dir, true, &g), 0);
	T_CHECK(geo_geodata_mode(g));
	memset(&s, 0, sizeof(s));
	T_EQ_INT(geo_ip_cidrs(g, "cn", collect_cidr, &s, why, sizeof(why)), 0);
	T_EQ_INT(s.n, 2);
	T_EQ_STR(s.v[0], "1.0.0.0/8");
	T_EQ_STR(s.v[1], "2001:db8::/32");
	T_EQ_INT(geo_ip_cidrs(g, "jp", collect_cidr, &s, why, sizeof(why)), -ENOENT);
	geo_free(g);
	clean();
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/t2s-geo-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_country_kinds);
	T_RUN(test_asn);
	T_RUN(test_download_support);
	T_RUN(test_site);
	T_RUN(test_geoip_dat);
	rmdir(dir);
	return test_summary();
}
