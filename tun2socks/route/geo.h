/* geo: the geodata behind GEOIP, SRC-GEOIP, IP-ASN and GEOSITE rules, for
 * one router generation (docs/design.md §16).
 *
 * Files, found in dir (the config's directory, mihomo's home directory)
 * under mihomo's names, the case of the name ignored:
 *   GEOIP    Country.mmdb, geoip.db or geoip.metadb (MaxMind DB, through
 *            libmaxminddb, memory-mapped); with geodata-mode: GeoIP.dat
 *   IP-ASN   ASN.mmdb (GeoLite2-ASN or DB-IP's compatible database)
 *   GEOSITE  GeoSite.dat (v2ray's GeoSiteList protobuf, through protobuf-c)
 * Each is opened the first time a rule needs it and kept (mmdb) for the
 * lookups, or unpacked once (the .dat files) while the rules are built and
 * dropped after (geo_release_lists); a
 * missing or broken file is an error of the rule that needed it. Country
 * databases come in mihomo's three kinds, told apart by their metadata:
 * GeoLite2-Country ({country: {iso_code}}), sing-geoip (a code) and
 * Meta-geoip0 (a code or a list of codes); codes compare lower-cased.
 *
 * Built on the generation's worker thread, then only read (lookups on the
 * loop thread): no locks.
 */
#ifndef T2S_GEO_H
#define T2S_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct geo;

/* dir: where the files are ("" or ending in '/'; copied). *out cleared
 * first. 0 or -ENOMEM. */
int geo_create(const char *dir, bool geodata_mode, struct geo **out);
void geo_free(struct geo *g);

bool geo_geodata_mode(const struct geo *g);

/* The files (docs/design.md §16, "Downloads"): GEO_F_* indexes, and the
 * 1 << GEO_F_* bits of geo_missing / geo_used. */
enum { GEO_F_MMDB, GEO_F_ASN, GEO_F_GEOIP, GEO_F_GEOSITE, GEO_F_COUNT };
/* The name a download of f is written under (geoip.metadb, ASN.mmdb,
 * GeoIP.dat, GeoSite.dat). */
const char *geo_file_name(int f);
/* dir ("" or ending in '/') + the file f found there (name's case
 * ignored): 0; else dir + geo_file_name(f) and -ENOENT. */
int geo_file_path(const char *dir, int f, char *out, size_t cap);
/* Whether path holds a file of kind f that parses. 0, or -errno with why. */
int geo_file_check(int f, const char *path, char *why, size_t whylen);
/* Lenient: a missing file is noted (geo_missing) and its rules get no
 * data, instead of failing them; for finding every missing file at once. */
void geo_set_lenient(struct geo *g, bool lenient);
unsigned geo_missing(const struct geo *g);
/* The files the rules read, and each one's modification time then. */
unsigned geo_used(const struct geo *g);
int64_t geo_mtime(const struct geo *g, int f);
const char *geo_dir(const struct geo *g);
/* Where used file f was found ("" when not used). */
const char *geo_path(const struct geo *g, int f);

/* Opens the country (kind 0) or ASN (kind 1) database now. 0, or -errno
 * with why saying which file and what is wrong. */
enum { GEO_COUNTRY = 0, GEO_ASN = 1 };
int geo_open(struct geo *g, int kind, char *why, size_t whylen);

/* Whether the address (family 4 or 6, network order) is of country code
 * (lower case) in the opened country database. */
bool geo_ip_country(const struct geo *g, int family, const uint8_t *addr, const char *code);

/* The AS number of the address in the opened ASN database: 0, or -ENOENT. */
int geo_ip_asn(const struct geo *g, int family, const uint8_t *addr, uint32_t *asn);

/* GeoSite.dat's entries of list code (lower case; "name@attr" keeps the
 * entries with that attribute, "name@!attr" those without), as cb(type,
 * value) with type GEO_SITE_*. 0, -ENOENT (no such list: why says so),
 * -errno, or cb's nonzero return. */
enum { GEO_SITE_PLAIN = 0, GEO_SITE_REGEX = 1, GEO_SITE_DOMAIN = 2, GEO_SITE_FULL = 3 };
typedef int (*geo_site_fn)(void *arg, int type, const char *value);
int geo_site(struct geo *g, const char *code, geo_site_fn cb, void *arg, char *why, size_t whylen);

/* GeoIP.dat's prefixes of code (geodata-mode), as cb(family, addr, plen). */
typedef int (*geo_cidr_fn)(void *arg, int family, const uint8_t *addr, unsigned plen);
int geo_ip_cidrs(struct geo *g, const char *code, geo_cidr_fn cb, void *arg, char *why,
		 size_t whylen);

/* geo_site and geo_ip_cidrs unpack their file once and keep it for the
 * next rule; this drops it (the rules have copied what they need). The
 * databases stay open. */
void geo_release_lists(struct geo *g);

/* The same from a buffer: buf[0, len) is a whole GeoSite.dat (GeoIP.dat).
 * Pure, for the fuzz targets and tests. */
int geo_site_parse(const uint8_t *buf, size_t len, const char *code, geo_site_fn cb, void *arg,
		   char *why, size_t whylen);
int geo_ip_parse(const uint8_t *buf, size_t len, const char *code, geo_cidr_fn cb, void *arg,
		 char *why, size_t whylen);

#endif
