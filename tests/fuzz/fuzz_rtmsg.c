/* libFuzzer target for the macOS routing-socket codec
 * (tun2socks/system/rtmsg.c).
 *
 * The input is what a read() on a PF_ROUTE socket, or a NET_RT_DUMP
 * sysctl, could return. Checks, beyond sanitizer cleanliness:
 *  - parsing walks forward and stops inside the buffer, at its end (0) or
 *    at a malformed message (-EBADMSG);
 *  - every route parsed with a destination builds again as a request
 *    (ADD through its gateway or interface, DELETE, GET) that parses back
 *    to the same destination and gateway;
 *  - an interface name is terminated.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "tun2socks/system/rtmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static void rebuild(const struct rtmsg_info *m)
{
	static const uint8_t types[] = { RTMSG_ADD, RTMSG_DELETE, RTMSG_GET };
	uint8_t buf[RTMSG_MAX_LEN];

	for (size_t t = 0; t < sizeof(types); t++) {
		struct rtmsg_req r = { .type = types[t], .seq = m->seq, .dst = m->dst };
		struct rtmsg_info back;
		size_t off = 0;
		int n;

		if (types[t] == RTMSG_ADD) {
			if (m->has_gw && m->gw.family == m->dst.family) {
				r.has_gw = true;
				r.gw = m->gw;
			} else if (m->gw_ifindex) {
				r.ifindex = m->gw_ifindex;
			} else {
				continue;
			}
		}
		if (types[t] == RTMSG_GET)
			r.scope = m->index;
		n = rtmsg_build(&r, buf, sizeof(buf));
		CHECK(n > 0 && (size_t)n <= sizeof(buf));
		CHECK(rtmsg_parse(buf, (size_t)n, &off, &back) == 1);
		CHECK(off == (size_t)n && back.known && back.type == types[t]);
		CHECK(back.has_dst && prefix_equal(&back.dst, &m->dst));
		if (r.has_gw)
			CHECK(back.has_gw && prefix_equal(&back.gw, &r.gw));
		else if (types[t] == RTMSG_ADD)
			CHECK(back.gw_ifindex == r.ifindex);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (;;) {
		struct rtmsg_info m;
		size_t before = off;
		int r = rtmsg_parse(data, size, &off, &m);

		if (r == 0) {
			CHECK(off >= size);
			break;
		}
		if (r < 0) {
			CHECK(r == -EBADMSG);
			break;
		}
		CHECK(r == 1 && off > before && off <= size);
		CHECK(memchr(m.ifname, '\0', sizeof(m.ifname)) != NULL);
		if (m.known && m.has_dst)
			rebuild(&m);
	}
	return 0;
}
