/* libFuzzer target for the SOCKS5 codec.
 *
 * Beyond "no crash, no sanitizer report", it checks the contracts the
 * upstream state machine relies on, and aborts when one breaks:
 *  - a stream parser's answer only ever moves forward as bytes arrive:
 *    0 (need more) for every prefix, then one fixed answer for all longer
 *    inputs, and a consumed length never exceeds the input;
 *  - whatever a parser accepts, the builders encode back to the same bytes;
 *  - builders never write past cap and report the length they wrote.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "tun2socks/upstream/socks5.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* Longest stream message is a reply with a 255-byte name; look a little
 * beyond it so "extra bytes are not consumed" is exercised too. */
#define PREFIX_SCAN_MAX 300

enum parser { P_METHOD_NONE, P_METHOD_UP, P_AUTH_REPLY, P_REPLY };

static int run_parser(enum parser which, const uint8_t *buf, size_t len, struct socks5_reply *rep)
{
	uint8_t m;
	int r;

	switch (which) {
	case P_METHOD_NONE:
	case P_METHOD_UP:
		r = socks5_method_parse(buf, len, which == P_METHOD_UP, &m);
		CHECK(r == 2 || r == 0 || r == -EPROTO || r == -ENOTSUP);
		CHECK(r == 2 ? m == buf[1] : m == 0);
		CHECK(r != 2 || m == SOCKS5_METHOD_NONE ||
		      (m == SOCKS5_METHOD_USERPASS && which == P_METHOD_UP));
		return r;
	case P_AUTH_REPLY:
		r = socks5_auth_reply_parse(buf, len);
		CHECK(r == 2 || r == 0 || r == -EPROTO || r == -EACCES);
		return r;
	default:
		r = socks5_reply_parse(buf, len, rep);
		CHECK(r == 0 || r == -EPROTO || (r >= 8 && r <= 262));
		return r;
	}
}

/* The addr invariant from socks5.h, and its text form fits. */
static void check_addr(const struct socks5_addr *a)
{
	char text[SOCKS5_ADDR_STR_MAX], small[12];

	CHECK(a->atyp == SOCKS5_ATYP_IPV4 || a->atyp == SOCKS5_ATYP_IPV6 ||
	      a->atyp == SOCKS5_ATYP_DOMAIN);
	if (a->atyp == SOCKS5_ATYP_DOMAIN) {
		CHECK(a->domain_len >= 1);
		CHECK(strlen(a->u.domain) == a->domain_len);
	}
	socks5_addr_str(a, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text));
	/* Escaping leaves no byte a log line could be split or spoofed by. */
	for (const char *p = text; *p; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f);
	socks5_addr_str(a, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
	CHECK(strncmp(small, text, strlen(small)) == 0);
}

static void fuzz_stream(enum parser which, const uint8_t *data, size_t size)
{
	size_t scan = size < PREFIX_SCAN_MAX ? size : PREFIX_SCAN_MAX;
	struct socks5_reply rep;
	int final = 0;

	for (size_t k = 0; k <= scan; k++) {
		int r = run_parser(which, data, k, &rep);

		CHECK(r <= (int)k);
		if (final == 0)
			final = r;
		else
			CHECK(r == final);
		if (r > 0 && which == P_REPLY) {
			uint8_t buf[SOCKS5_REQUEST_MAX];

			check_addr(&rep.bnd);
			CHECK(rep.rep == data[1]);
			/* A reply has the request layout with REP for CMD. */
			CHECK(socks5_request_build(buf, sizeof(buf), SOCKS5_CMD_CONNECT,
						   &rep.bnd) == r);
			CHECK(memcmp(buf + 3, data + 3, (size_t)r - 3) == 0);
			CHECK(socks5_request_build(buf, (size_t)r - 1, SOCKS5_CMD_CONNECT,
						   &rep.bnd) == -ENOBUFS);
		}
		if (r == 0 && which == P_REPLY)
			CHECK(rep.rep == 0 && rep.bnd.atyp == 0);
	}
	/* Past the scan window nothing may change either. */
	if (size > scan)
		CHECK(run_parser(which, data, size, &rep) == final);
}

static void fuzz_udp(const uint8_t *data, size_t size)
{
	struct socks5_addr a;
	uint8_t frag = 0xaa, buf[SOCKS5_UDP_HEADER_MAX];
	int r = socks5_udp_header_parse(data, size, &a, &frag);

	CHECK(r == -EPROTO || (r >= 8 && (size_t)r <= size));
	if (r < 0) {
		CHECK(frag == 0 && a.atyp == 0);
		return;
	}
	check_addr(&a);
	CHECK(frag == data[2]);
	CHECK(socks5_udp_header_build(buf, sizeof(buf), &a) == r);
	CHECK(buf[2] == 0 && memcmp(buf + 3, data + 3, (size_t)r - 3) == 0);
	/* Any shorter datagram is a truncated header. */
	CHECK(socks5_udp_header_parse(data, (size_t)r - 1, &a, &frag) == -EPROTO);
}

/* Builders fed from the input: exact lengths, no writes past cap. */
static void fuzz_builders(const uint8_t *data, size_t size)
{
	char user[300], pass[300];
	uint8_t out[SOCKS5_AUTH_MAX + 8];
	struct socks5_addr a;
	const uint8_t *nul;
	size_t ul, pl, cap;
	int r;

	if (size < 2)
		return;
	cap = data[0] | (size_t)data[1] << 8;
	cap %= sizeof(out) + 1;
	data += 2;
	size -= 2;

	/* Split the rest at its first NUL into user and password. */
	ul = size < 299 ? size : 299;
	nul = memchr(data, 0, ul);
	if (nul)
		ul = (size_t)(nul - data);
	memcpy(user, data, ul);
	user[ul] = '\0';
	pl = size > ul ? size - ul - 1 : 0;
	pl = pl < 299 ? pl : 299;
	memcpy(pass, data + (size - pl), pl);
	pass[pl] = '\0';
	pl = strlen(pass);

	memset(out, 0xee, sizeof(out));
	r = socks5_auth_build(out, cap, user, pass);
	if (ul < 1 || ul > 255 || pl < 1 || pl > 255) {
		CHECK(r == -EINVAL);
	} else if (cap < 3 + ul + pl) {
		CHECK(r == -ENOBUFS);
	} else {
		CHECK(r == (int)(3 + ul + pl));
		CHECK(out[0] == 1 && out[1] == ul && out[2 + ul] == pl);
		CHECK(memcmp(out + 2, user, ul) == 0 && memcmp(out + 3 + ul, pass, pl) == 0);
	}
	for (size_t i = cap; i < sizeof(out); i++)
		CHECK(out[i] == 0xee);

	r = socks5_addr_from_domain(&a, user, (uint16_t)cap);
	CHECK(r == ((ul >= 1 && ul <= 255) ? 0 : -EINVAL));
	if (r == 0) {
		struct socks5_reply rep;

		check_addr(&a);
		r = socks5_request_build(out, cap, SOCKS5_CMD_CONNECT, &a);
		CHECK(r == (cap < 7 + ul ? -ENOBUFS : (int)(7 + ul)));
		if (r > 0) {
			CHECK(socks5_reply_parse(out, (size_t)r, &rep) == r);
			CHECK(rep.bnd.port == a.port && memcmp(&rep.bnd, &a, sizeof(a)) == 0);
		}
	}
	for (size_t i = cap; i < sizeof(out); i++)
		CHECK(out[i] == 0xee);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)socks5_rep_str(size ? data[0] : 0);
	CHECK(socks5_rep_to_errno(size ? data[0] : 0) <= 0);

	fuzz_stream(P_METHOD_NONE, data, size);
	fuzz_stream(P_METHOD_UP, data, size);
	fuzz_stream(P_AUTH_REPLY, data, size);
	fuzz_stream(P_REPLY, data, size);
	fuzz_udp(data, size);
	fuzz_builders(data, size);
	return 0;
}
