/* geo: see geo.h. */
#include "tun2socks/route/geo.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <geodata.pb-c.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kinds of country database (mihomo component/mmdb). */
enum { KIND_MAXMIND, KIND_SING, KIND_META };

struct geo {
	char *dir;
	bool geodata_mode;
	MMDB_s db[2]; /* GEO_COUNTRY, GEO_ASN */
	bool open[2];
	int country_kind;
	/* GeoSite.dat / GeoIP.dat, unpacked by the first rule that names a
	 * list and kept until geo_release_lists: a config names dozens. */
	T2s__Geodata__GeoSiteList *sites;
	T2s__Geodata__GeoIPList *ips;
	bool lenient;     /* a missing file is noted, not an error */
	unsigned missing; /* 1 << GEO_F_*: needed and not there */
	unsigned used;    /* 1 << GEO_F_*: needed and read */
	int64_t mtime[GEO_F_COUNT];
	char *path[GEO_F_COUNT]; /* where each used file was found */
};

static const char *const names_country[] = { "Country.mmdb", "geoip.db", "geoip.metadb" };
static const char *const names_asn[] = { "ASN.mmdb" };
static const char *const names_geoip[] = { "GeoIP.dat" };
static const char *const names_geosite[] = { "GeoSite.dat" };

static const char *const *file_names(int f, size_t *n)
{
	switch (f) {
	case GEO_F_MMDB:
		*n = 3;
		return names_country;
	case GEO_F_ASN:
		*n = 1;
		return names_asn;
	case GEO_F_GEOIP:
		*n = 1;
		return names_geoip;
	default:
		*n = 1;
		return names_geosite;
	}
}

const char *geo_file_name(int f)
{
	/* mihomo names a downloaded mmdb geoip.metadb (its default geox-url
	 * mmdb is a Meta-geoip0 database). */
	size_t n;
	const char *const *names = file_names(f, &n);

	return names[n - 1];
}

int geo_create(const char *dir, bool geodata_mode, struct geo **out)
{
	struct geo *g;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	{
		/* "" or ending in '/', whatever the caller gave. */
		size_t n = dir ? strlen(dir) : 0;

		g->dir = malloc(n + 2);
		if (g->dir)
			snprintf(g->dir, n + 2, "%s%s", n ? dir : "",
				 n && dir[n - 1] != '/' ? "/" : "");
	}
	if (!g->dir) {
		free(g);
		return -ENOMEM;
	}
	g->geodata_mode = geodata_mode;
	*out = g;
	return 0;
}

void geo_release_lists(struct geo *g)
{
	if (!g)
		return;
	if (g->sites)
		t2s__geodata__geo_site_list__free_unpacked(g->sites, NULL);
	if (g->ips)
		t2s__geodata__geo_iplist__free_unpacked(g->ips, NULL);
	g->sites = NULL;
	g->ips = NULL;
}

void geo_free(struct geo *g)
{
	if (!g)
		return;
	geo_release_lists(g);
	for (int i = 0; i < 2; i++)
		if (g->open[i])
			MMDB_close(&g->db[i]);
	for (int i = 0; i < GEO_F_COUNT; i++)
		free(g->path[i]);
	free(g->dir);
	free(g);
}

bool geo_geodata_mode(const struct geo *g)
{
	return g->geodata_mode;
}

/* dir + the first file in dir named one of names (case ignored, as mihomo
 * looks them up): 0; else dir + names[n - 1] (what a download is called)
 * and -ENOENT. */
static int find_in(const char *dir, const char *const *names, size_t n, char *out, size_t cap)
{
	DIR *d = opendir(dir[0] ? dir : ".");
	struct dirent *e;

	snprintf(out, cap, "%s%s", dir, names[n - 1]);
	if (!d)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		rewinddir(d);
		while ((e = readdir(d)) != NULL)
			if (strcasecmp(e->d_name, names[i]) == 0) {
				snprintf(out, cap, "%s%s", dir, e->d_name);
				closedir(d);
				return 0;
			}
	}
	closedir(d);
	return -ENOENT;
}

int geo_file_path(const char *dir, int f, char *out, size_t cap)
{
	size_t n;
	const char *const *names = file_names(f, &n);

	return find_in(dir ? dir : "", names, n, out, cap);
}

static int find_file(struct geo *g, int f, char *out, size_t cap)
{
	struct stat st;
	int r = geo_file_path(g->dir, f, out, cap);

	if (r == 0) {
		g->used |= 1u << f;
		if (!g->path[f])
			g->path[f] = strdup(out);
		if (stat(out, &st) == 0)
			g->mtime[f] = (int64_t)st.st_mtime;
	}
	return r;
}

void geo_set_lenient(struct geo *g, bool lenient)
{
	g->lenient = lenient;
}

unsigned geo_missing(const struct geo *g)
{
	return g ? g->missing : 0;
}

unsigned geo_used(const struct geo *g)
{
	return g ? g->used : 0;
}

int64_t geo_mtime(const struct geo *g, int f)
{
	return g && f >= 0 && f < GEO_F_COUNT ? g->mtime[f] : 0;
}

const char *geo_dir(const struct geo *g)
{
	return g->dir;
}

const char *geo_path(const struct geo *g, int f)
{
	return g && f >= 0 && f < GEO_F_COUNT && g->path[f] ? g->path[f] : "";
}

int geo_open(struct geo *g, int kind, char *why, size_t whylen)
{
	int f = kind == GEO_COUNTRY ? GEO_F_MMDB : GEO_F_ASN;
	char path[4096];
	int s;

	if (g->open[kind])
		return 0;
	if (find_file(g, f, path, sizeof(path)) < 0 && g->lenient) {
		g->missing |= 1u << f;
		return 0;
	}
	s = MMDB_open(path, MMDB_MODE_MMAP, &g->db[kind]);
	if (s != MMDB_SUCCESS) {
		int err = s == MMDB_IO_ERROR ? errno : 0;

		snprintf(why, whylen, "cannot open the %s database '%s': %s%s%s",
			 kind == GEO_COUNTRY ? "GEOIP" : "IP-ASN", path, MMDB_strerror(s),
			 err ? ": " : "", err ? strerror(err) : "");
		return err ? -err : -EINVAL;
	}
	g->open[kind] = true;
	if (kind == GEO_COUNTRY) {
		const char *t = g->db[kind].metadata.database_type;

		g->country_kind = !t                          ? KIND_MAXMIND
				  : !strcmp(t, "sing-geoip")  ? KIND_SING
				  : !strcmp(t, "Meta-geoip0") ? KIND_META
							      : KIND_MAXMIND;
	}
	return 0;
}

static MMDB_lookup_result_s lookup(const MMDB_s *db, int family, const uint8_t *addr)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	const struct sockaddr *sa = (const struct sockaddr *)&s6;
	int err = 0;

	if (family == 4) {
		memcpy(&s4.sin_addr, addr, 4);
		sa = (const struct sockaddr *)&s4;
	} else {
		memcpy(&s6.sin6_addr, addr, 16);
	}
	return MMDB_lookup_sockaddr((MMDB_s *)db, sa, &err);
}

/* A UTF-8 string value equal to code, ASCII case ignored. */
static bool code_is(const MMDB_entry_data_s *d, const char *code)
{
	size_t n = strlen(code);

	return d->has_data && d->type == MMDB_DATA_TYPE_UTF8_STRING && d->data_size == n &&
	       strncasecmp(d->utf8_string, code, n) == 0;
}

bool geo_ip_country(const struct geo *g, int family, const uint8_t *addr, const char *code)
{
	MMDB_lookup_result_s r;
	MMDB_entry_data_s d;

	if (!g->open[GEO_COUNTRY] || (family != 4 && family != 6))
		return false;
	r = lookup(&g->db[GEO_COUNTRY], family, addr);
	if (!r.found_entry)
		return false;
	switch (g->country_kind) {
	case KIND_SING:
		return MMDB_get_value(&r.entry, &d, NULL) == MMDB_SUCCESS && code_is(&d, code);
	case KIND_META:
		if (MMDB_get_value(&r.entry, &d, NULL) != MMDB_SUCCESS || !d.has_data)
			return false;
		if (d.type != MMDB_DATA_TYPE_ARRAY)
			return code_is(&d, code);
		for (unsigned i = 0; i < d.data_size && i < 64; i++) {
			MMDB_entry_data_s x;
			char idx[8];

			snprintf(idx, sizeof(idx), "%u", i);
			if (MMDB_get_value(&r.entry, &x, idx, NULL) == MMDB_SUCCESS &&
			    code_is(&x, code))
				return true;
		}
		return false;
	default:
		return MMDB_get_value(&r.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
		       code_is(&d, code);
	}
}

int geo_ip_asn(const struct geo *g, int family, const uint8_t *addr, uint32_t *asn)
{
	MMDB_lookup_result_s r;
	MMDB_entry_data_s d;

	*asn = 0;
	if (!g->open[GEO_ASN] || (family != 4 && family != 6))
		return -ENOENT;
	r = lookup(&g->db[GEO_ASN], family, addr);
	if (!r.found_entry)
		return -ENOENT;
	if (MMDB_get_value(&r.entry, &d, "autonomous_system_number", NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UINT32) {
		*asn = d.uint32;
		return 0;
	}
	/* ipinfo's free database: "asn": "AS13335". */
	if (MMDB_get_value(&r.entry, &d, "asn", NULL) == MMDB_SUCCESS && d.has_data &&
	    d.type == MMDB_DATA_TYPE_UTF8_STRING && d.data_size > 2 && d.data_size < 14) {
		uint64_t v = 0;

		for (uint32_t i = 2; i < d.data_size; i++) {
			if (d.utf8_string[i] < '0' || d.utf8_string[i] > '9')
				return -ENOENT;
			v = v * 10 + (uint64_t)(d.utf8_string[i] - '0');
		}
		if (v > UINT32_MAX)
			return -ENOENT;
		*asn = (uint32_t)v;
		return 0;
	}
	return -ENOENT;
}

/* --- the .dat files ----------------------------------------------------------- */

/* "name@attr" / "name@!attr" into its parts (name in out). */
static void split_code(const char *code, char *name, size_t cap, const char **attr, bool *negate)
{
	const char *at = strchr(code, '@');
	size_t n = at ? (size_t)(at - code) : strlen(code);

	snprintf(name, cap, "%.*s", (int)(n < cap ? n : cap - 1), code);
	*attr = NULL;
	*negate = false;
	if (at) {
		*attr = at + 1;
		if (**attr == '!') {
			*negate = true;
			(*attr)++;
		}
	}
}

static bool has_attr(const T2s__Geodata__Domain *d, const char *attr)
{
	for (size_t i = 0; i < d->n_attribute; i++)
		if (d->attribute[i]->key && strcasecmp(d->attribute[i]->key, attr) == 0)
			return true;
	return false;
}

/* The entries of list code in l (see geo_site). */
static int site_walk(const T2s__Geodata__GeoSiteList *l, const char *code, geo_site_fn cb,
		     void *arg, char *why, size_t whylen)
{
	char name[128];
	const char *attr;
	bool negate, found = false;
	int r = 0;

	split_code(code, name, sizeof(name), &attr, &negate);
	for (size_t i = 0; r == 0 && i < l->n_entry; i++) {
		const T2s__Geodata__GeoSite *s = l->entry[i];

		if (!s->country_code || strcasecmp(s->country_code, name) != 0)
			continue;
		found = true;
		for (size_t k = 0; r == 0 && k < s->n_domain; k++) {
			const T2s__Geodata__Domain *d = s->domain[k];

			if (attr && has_attr(d, attr) == negate)
				continue;
			if (d->type < 0 || d->type > 3 || !d->value)
				continue;
			r = cb(arg, (int)d->type, d->value);
		}
	}
	if (r == 0 && !found) {
		snprintf(why, whylen, "no list '%s' in the GeoSite data", name);
		return -ENOENT;
	}
	return r;
}

int geo_site_parse(const uint8_t *buf, size_t len, const char *code, geo_site_fn cb, void *arg,
		   char *why, size_t whylen)
{
	T2s__Geodata__GeoSiteList *l = t2s__geodata__geo_site_list__unpack(NULL, len, buf);
	int r;

	if (!l) {
		snprintf(why, whylen, "not a GeoSite list (protobuf did not parse)");
		return -EINVAL;
	}
	r = site_walk(l, code, cb, arg, why, whylen);
	t2s__geodata__geo_site_list__free_unpacked(l, NULL);
	return r;
}

static int ip_walk(const T2s__Geodata__GeoIPList *l, const char *code, geo_cidr_fn cb, void *arg,
		   char *why, size_t whylen)
{
	bool found = false;
	int r = 0;

	for (size_t i = 0; r == 0 && i < l->n_entry; i++) {
		const T2s__Geodata__GeoIP *e = l->entry[i];

		if (!e->country_code || strcasecmp(e->country_code, code) != 0)
			continue;
		found = true;
		/* reverse_match (everything but the list) is v2ray's; mihomo's
		 * files do not use it. */
		for (size_t k = 0; r == 0 && k < e->n_cidr; k++) {
			const T2s__Geodata__CIDR *c = e->cidr[k];
			uint8_t a[16] = { 0 };

			if (c->ip.len == 4 && c->prefix <= 32) {
				memcpy(a, c->ip.data, 4);
				r = cb(arg, 4, a, c->prefix);
			} else if (c->ip.len == 16 && c->prefix <= 128) {
				memcpy(a, c->ip.data, 16);
				r = cb(arg, 6, a, c->prefix);
			}
		}
	}
	if (r == 0 && !found) {
		snprintf(why, whylen, "no list '%s' in the GeoIP data", code);
		return -ENOENT;
	}
	return r;
}

int geo_ip_parse(const uint8_t *buf, size_t len, const char *code, geo_cidr_fn cb, void *arg,
		 char *why, size_t whylen)
{
	T2s__Geodata__GeoIPList *l = t2s__geodata__geo_iplist__unpack(NULL, len, buf);
	int r;

	if (!l) {
		snprintf(why, whylen, "not a GeoIP list (protobuf did not parse)");
		return -EINVAL;
	}
	r = ip_walk(l, code, cb, arg, why, whylen);
	t2s__geodata__geo_iplist__free_unpacked(l, NULL);
	return r;
}

/* The file as a read-only mapping. */
static int map_file(const char *path, const uint8_t **buf, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		r = -errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		r = -EINVAL;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			r = -errno;
		} else {
			*buf = p;
			*len = (size_t)st.st_size;
		}
	}
	close(fd);
	return r;
}

/* File f (its name's case ignored) in dir, mapped. Lenient and missing:
 * 0 with *buf NULL. */
static int map_named(struct geo *g, int f, const char *what, const uint8_t **buf, size_t *len,
		     char *why, size_t whylen)
{
	char path[4096];
	int r;

	*buf = NULL;
	*len = 0;
	if (find_file(g, f, path, sizeof(path)) < 0 && g->lenient) {
		g->missing |= 1u << f;
		return 0;
	}
	r = map_file(path, buf, len);
	if (r < 0)
		snprintf(why, whylen, "cannot read the %s data '%s': %s", what, path,
			 r == -EINVAL ? "not a regular file with data" : strerror(-r));
	return r;
}

int geo_site(struct geo *g, const char *code, geo_site_fn cb, void *arg, char *why, size_t whylen)
{
	const uint8_t *buf;
	size_t len;
	int r;

	if (!g->sites) {
		r = map_named(g, GEO_F_GEOSITE, "GEOSITE", &buf, &len, why, whylen);
		if (r < 0 || buf == NULL)
			return r;
		g->sites = t2s__geodata__geo_site_list__unpack(NULL, len, buf);
		munmap((void *)buf, len);
		if (!g->sites) {
			snprintf(why, whylen,
				 "GeoSite.dat is not a GeoSite list (protobuf did not parse)");
			return -EINVAL;
		}
	}
	return site_walk(g->sites, code, cb, arg, why, whylen);
}

int geo_ip_cidrs(struct geo *g, const char *code, geo_cidr_fn cb, void *arg, char *why,
		 size_t whylen)
{
	const uint8_t *buf;
	size_t len;
	int r;

	if (!g->ips) {
		r = map_named(g, GEO_F_GEOIP, "GEOIP", &buf, &len, why, whylen);
		if (r < 0 || buf == NULL)
			return r;
		g->ips = t2s__geodata__geo_iplist__unpack(NULL, len, buf);
		munmap((void *)buf, len);
		if (!g->ips) {
			snprintf(why, whylen,
				 "GeoIP.dat is not a GeoIP list (protobuf did not parse)");
			return -EINVAL;
		}
	}
	return ip_walk(g->ips, code, cb, arg, why, whylen);
}

int geo_file_check(int f, const char *path, char *why, size_t whylen)
{
	const uint8_t *buf;
	size_t len;
	int r;

	if (f == GEO_F_MMDB || f == GEO_F_ASN) {
		MMDB_s db;
		int s = MMDB_open(path, MMDB_MODE_MMAP, &db);

		if (s != MMDB_SUCCESS) {
			snprintf(why, whylen, "not a MaxMind database: %s", MMDB_strerror(s));
			return -EINVAL;
		}
		MMDB_close(&db);
		return 0;
	}
	r = map_file(path, &buf, &len);
	if (r < 0) {
		snprintf(why, whylen, "cannot read it: %s", r == -EINVAL ? "empty" : strerror(-r));
		return r;
	}
	if (f == GEO_F_GEOIP) {
		T2s__Geodata__GeoIPList *l = t2s__geodata__geo_iplist__unpack(NULL, len, buf);

		r = l ? 0 : -EINVAL;
		if (l)
			t2s__geodata__geo_iplist__free_unpacked(l, NULL);
	} else {
		T2s__Geodata__GeoSiteList *l = t2s__geodata__geo_site_list__unpack(NULL, len, buf);

		r = l ? 0 : -EINVAL;
		if (l)
			t2s__geodata__geo_site_list__free_unpacked(l, NULL);
	}
	munmap((void *)buf, len);
	if (r < 0)
		snprintf(why, whylen, "not a %s list (protobuf did not parse)",
			 f == GEO_F_GEOIP ? "GeoIP" : "GeoSite");
	return r;
}
