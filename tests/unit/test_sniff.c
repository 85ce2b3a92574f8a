/* Unit tests for sniff (TLS SNI, HTTP Host) and sniff_quic (QUIC Initial):
 * ClientHellos built here, cut at every byte and split over records; QUIC
 * Initials made by tests/integration/quic_initial.py with Python's own
 * cryptography (tests/unit/data/quic_*.hex), so our key derivation,
 * header protection and AEAD are checked against another implementation. */
#include "resolver/sniff.h"
#include "resolver/sniff_quic.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* A ClientHello handshake message naming sni (NULL: no server_name),
 * with pad bytes of padding extension. Returns its length. */
static size_t build_hello(uint8_t *m, const char *sni, size_t pad)
{
	size_t n = 4, ext_at, sl = sni ? strlen(sni) : 0;

	n += put16(m + n, 0x0303);
	memset(m + n, 0xab, 32); /* random */
	n += 32;
	m[n++] = 32; /* session id */
	memset(m + n, 0xcd, 32);
	n += 32;
	n += put16(m + n, 4);
	n += put16(m + n, 0x1301);
	n += put16(m + n, 0x1302);
	m[n++] = 1;
	m[n++] = 0;
	ext_at = n;
	n += 2;
	/* an unrelated extension first */
	n += put16(m + n, 43);
	n += put16(m + n, 3);
	m[n++] = 2;
	n += put16(m + n, 0x0304);
	if (sni) {
		n += put16(m + n, 0);
		n += put16(m + n, (unsigned)sl + 5);
		n += put16(m + n, (unsigned)sl + 3);
		m[n++] = 0;
		n += put16(m + n, (unsigned)sl);
		memcpy(m + n, sni, sl);
		n += sl;
	}
	if (pad) {
		n += put16(m + n, 21);
		n += put16(m + n, (unsigned)pad);
		memset(m + n, 0, pad);
		n += pad;
	}
	put16(m + ext_at, (unsigned)(n - ext_at - 2));
	m[0] = 1;
	m[1] = (uint8_t)((n - 4) >> 16);
	m[2] = (uint8_t)((n - 4) >> 8);
	m[3] = (uint8_t)(n - 4);
	return n;
}

/* The message in TLS records of at most frag bytes each. */
static size_t to_records(uint8_t *out, const uint8_t *m, size_t len, size_t frag)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off += frag) {
		size_t k = len - off < frag ? len - off : frag;

		out[n++] = 0x16;
		out[n++] = 3;
		out[n++] = 1;
		n += put16(out + n, (unsigned)k);
		memcpy(out + n, m + off, k);
		n += k;
	}
	return n;
}

static void test_tls_one_record(void)
{
	static uint8_t m[4096], rec[8192];
	char name[SNIFF_NAME_MAX];
	size_t ml = build_hello(m, "www.Example.com", 0);
	size_t rl = to_records(rec, m, ml, 16384);

	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), 0);
	T_EQ_STR(name, "www.Example.com");
	/* every prefix asks for more; never a wrong answer */
	for (size_t k = 0; k < rl; k++)
		T_EQ_INT(sniff_tls(rec, k, name, sizeof(name)), SNIFF_NEED_MORE);
	/* bytes after the ClientHello do not matter */
	memset(rec + rl, 0x17, 10);
	T_EQ_INT(sniff_tls(rec, rl + 10, name, sizeof(name)), 0);
}

/* A ClientHello padded past 1500 bytes, in several records: the
 * handshake message is reassembled. */
static void test_tls_many_records(void)
{
	static uint8_t m[8192], rec[16384];
	char name[SNIFF_NAME_MAX];
	size_t ml = build_hello(m, "padded.example.test", 2000);
	size_t rl = to_records(rec, m, ml, 700);
	int r;

	T_CHECK(ml > 1500);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), 0);
	T_EQ_STR(name, "padded.example.test");
	for (size_t k = 0; k < rl; k += 37) {
		r = sniff_tls(rec, k, name, sizeof(name));
		T_EQ_INT(r, SNIFF_NEED_MORE);
	}
}

static void test_tls_refused(void)
{
	static uint8_t m[4096], rec[8192];
	char name[SNIFF_NAME_MAX];
	size_t ml, rl;

	/* no server_name */
	ml = build_hello(m, NULL, 0);
	rl = to_records(rec, m, ml, 16384);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -ENOENT);
	T_EQ_STR(name, "");
	/* an address is no name */
	ml = build_hello(m, "192.0.2.1", 0);
	rl = to_records(rec, m, ml, 16384);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -EINVAL);
	/* junk in the name */
	ml = build_hello(m, "a b.example", 0);
	rl = to_records(rec, m, ml, 16384);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -EINVAL);
	/* not TLS, told from the first byte */
	T_EQ_INT(sniff_tls((const uint8_t *)"G", 1, name, sizeof(name)), -EINVAL);
	T_EQ_INT(sniff_tls((const uint8_t *)"SSH-2.0-x\r\n", 11, name, sizeof(name)), -EINVAL);
	/* an application-data record is not a handshake */
	rec[0] = 0x17;
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -EINVAL);
	/* a ServerHello (type 2) */
	ml = build_hello(m, "x.example", 0);
	m[0] = 2;
	rl = to_records(rec, m, ml, 16384);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -EINVAL);
	/* a handshake message larger than we reassemble */
	ml = build_hello(m, "x.example", 0);
	m[1] = 0x01; /* 64 KiB + */
	rl = to_records(rec, m, ml, 16384);
	T_EQ_INT(sniff_tls(rec, rl, name, sizeof(name)), -EINVAL);
	/* an extension length past the end */
	ml = build_hello(m, "x.example", 0);
	m[ml - 14] = 0xff;
	rl = to_records(rec, m, ml, 16384);
	T_CHECK(sniff_tls(rec, rl, name, sizeof(name)) < 0);
}

static void test_http(void)
{
	const char *req =
		"GET /index.html HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  Web.Example.Test:8080 "
		"\r\nAccept: */*\r\n\r\n";
	char name[SNIFF_NAME_MAX];
	size_t len = strlen(req), host_end = strstr(req, "\r\nAccept") - req;

	T_EQ_INT(sniff_http((const uint8_t *)req, len, name, sizeof(name)), 0);
	T_EQ_STR(name, "Web.Example.Test");
	for (size_t k = 0; k < len; k++) {
		int r = sniff_http((const uint8_t *)req, k, name, sizeof(name));

		T_EQ_INT(r, k <= host_end + 1 ? SNIFF_NEED_MORE : 0);
	}
	T_EQ_INT(sniff_http((const uint8_t *)"POST / HTTP/1.0\r\nHost: a.b\r\n", 29, name,
			    sizeof(name)),
		 0);
	T_EQ_STR(name, "a.b");
	/* no Host header */
	T_EQ_INT(sniff_http((const uint8_t *)"GET / HTTP/1.0\r\nX: y\r\n\r\n", 24, name,
			    sizeof(name)),
		 -ENOENT);
	/* an address in Host */
	T_EQ_INT(sniff_http((const uint8_t *)"GET / HTTP/1.1\r\nHost: 10.1.2.3:80\r\n", 35, name,
			    sizeof(name)),
		 -ENOENT);
	T_EQ_INT(sniff_http((const uint8_t *)"GET / HTTP/1.1\r\nHost: [::1]:80\r\n", 32, name,
			    sizeof(name)),
		 -ENOENT);
	/* not HTTP */
	T_EQ_INT(sniff_http((const uint8_t *)"\x16\x03\x01", 3, name, sizeof(name)), -EINVAL);
	T_EQ_INT(sniff_http((const uint8_t *)"GETX", 4, name, sizeof(name)), -EINVAL);
	T_EQ_INT(sniff_http((const uint8_t *)"GET / SMTP\r\n", 12, name, sizeof(name)), -EINVAL);
	T_EQ_INT(sniff_http((const uint8_t *)"PO", 2, name, sizeof(name)), SNIFF_NEED_MORE);
}

static size_t load_hex(const char *file, unsigned line, uint8_t *out, size_t cap)
{
	char path[512], buf[20000];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", T2S_TEST_DATA_DIR, file);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	for (unsigned i = 0; i <= line; i++)
		if (fgets(buf, sizeof(buf), f) == NULL) {
			fclose(f);
			return 0;
		}
	fclose(f);
	for (size_t i = 0; buf[i] && buf[i + 1] && buf[i] != '\n' && n < cap; i += 2) {
		unsigned v;

		if (sscanf(buf + i, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void test_quic_one_packet(void)
{
	static struct sniff_quic q;
	static uint8_t d[4096];
	char name[SNIFF_NAME_MAX];
	size_t n = load_hex("quic_v1.hex", 0, d, sizeof(d));

	T_CHECK(n >= 1200); /* clients pad their first datagram */
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d, n, name, sizeof(name)), 0);
	T_EQ_STR(name, "quic.example.test");
	/* one flipped ciphertext bit: authentication fails */
	d[n - 20] ^= 1;
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d, n, name, sizeof(name)), -EINVAL);
	d[n - 20] ^= 1;
	/* every truncation is refused, never misread */
	for (size_t k = 0; k < n; k += 7) {
		sniff_quic_init(&q);
		T_CHECK(sniff_quic(&q, d, k, name, sizeof(name)) < 0);
	}
	/* version 2 (RFC 9369): other salt, labels and packet type */
	n = load_hex("quic_v2.hex", 0, d, sizeof(d));
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d, n, name, sizeof(name)), 0);
	T_EQ_STR(name, "v2.example.test");
	/* a short-header packet, and a DNS query, are not Initials */
	d[0] = 0x40;
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d, n, name, sizeof(name)), -EINVAL);
}

/* A ClientHello over two Initials in two datagrams. */
static void test_quic_two_packets(void)
{
	static struct sniff_quic q;
	static uint8_t d1[4096], d2[4096];
	char name[SNIFF_NAME_MAX];
	size_t n1 = load_hex("quic_v1_split.hex", 0, d1, sizeof(d1));
	size_t n2 = load_hex("quic_v1_split.hex", 1, d2, sizeof(d2));

	T_CHECK(n1 > 0 && n2 > 0);
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d1, n1, name, sizeof(name)), SNIFF_NEED_MORE);
	T_EQ_INT(sniff_quic(&q, d2, n2, name, sizeof(name)), 0);
	T_EQ_STR(name, "split.example.test");
	/* the second half first: still gathered by offset */
	sniff_quic_init(&q);
	T_EQ_INT(sniff_quic(&q, d2, n2, name, sizeof(name)), SNIFF_NEED_MORE);
	T_EQ_INT(sniff_quic(&q, d1, n1, name, sizeof(name)), 0);
	T_EQ_STR(name, "split.example.test");
	/* both coalesced in one datagram */
	{
		static uint8_t both[8192];

		memcpy(both, d1, n1);
		memcpy(both + n1, d2, n2);
		sniff_quic_init(&q);
		T_EQ_INT(sniff_quic(&q, both, n1 + n2, name, sizeof(name)), 0);
	}
}

static void test_copy_name(void)
{
	char out[SNIFF_NAME_MAX];

	T_EQ_INT(sniff_copy_name("a.b.", 4, out, sizeof(out)), 0);
	T_EQ_STR(out, "a.b");
	T_EQ_INT(sniff_copy_name("a..b", 4, out, sizeof(out)), -EINVAL);
	T_EQ_INT(sniff_copy_name(".", 1, out, sizeof(out)), -EINVAL);
	T_EQ_INT(sniff_copy_name("1.2.3.4", 7, out, sizeof(out)), -EINVAL);
	T_EQ_INT(sniff_copy_name("1.2.3.com", 9, out, sizeof(out)), 0);
	T_EQ_INT(sniff_copy_name("abc", 3, out, 3), -EINVAL); /* no room for the NUL */
}

int main(void)
{
	T_RUN(test_tls_one_record);
	T_RUN(test_tls_many_records);
	T_RUN(test_tls_refused);
	T_RUN(test_http);
	T_RUN(test_quic_one_packet);
	T_RUN(test_quic_two_packets);
	T_RUN(test_copy_name);
	return test_summary();
}
