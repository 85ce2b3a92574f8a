/* libFuzzer target for the RTNETLINK codec (tun2socks/system/rtnl_msg.c)
 * and the text form of rules and routes (route_text.c).
 *
 * The input is what a recv() on a NETLINK_ROUTE socket could return.
 * Checks, beyond sanitizer cleanliness:
 *  - parsing walks forward and stops inside the buffer, at its end (0) or
 *    at a malformed message (-EBADMSG);
 *  - every rule and route parsed, built again as a request, parses back
 *    to the same struct (what the codec reads it can write);
 *  - its text form, when it parses, formats to the same text again (for
 *    interface names the kernel allows);
 *  - an ACK's message text is terminated.
 * No main here: libFuzzer supplies one, and the build links a standalone
 * driver for the plain regression run.
 */
#include "tun2socks/system/route_text.h"
#include "tun2socks/system/rtnl_msg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* What a build keeps of a parsed rule: the fields its action uses. */
static void normalize_rule(struct rtnl_rule *r)
{
	r->unknown = false;
	if (r->action != RTNL_ACT_TABLE)
		r->table = 0;
	if (r->action != RTNL_ACT_GOTO)
		r->goto_prio = 0;
	if (!r->has_fwmark)
		r->fwmask = 0;
	/* names are sent NUL-terminated: nothing after the first NUL */
	for (char *s = r->iif; s; s = s == r->iif ? r->oif : NULL) {
		size_t n = strnlen(s, 16);

		memset(s + n, 0, 16 - n);
	}
}

static void check_rule(const struct rtnl_rule *parsed)
{
	struct rtnl_rule r = *parsed;
	struct rtnl_reply back;
	uint8_t buf[512];
	size_t off = 0;
	int n;

	normalize_rule(&r);
	n = rtnl_rule_msg(RTNL_NEWRULE, 0, 1, &r, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(rtnl_parse_next(buf, (size_t)n, &off, &back) == 1);
	CHECK(back.kind == RTNL_REPLY_RULE && off == (size_t)n);
	CHECK(memcmp(&back.rule, &r, sizeof(r)) == 0);
}

static void check_route(const struct rtnl_route *parsed)
{
	struct rtnl_reply back;
	uint8_t buf[256];
	size_t off = 0;
	int n = rtnl_route_msg(RTNL_NEWROUTE, 0, 1, parsed, buf, sizeof(buf));

	CHECK(n > 0);
	CHECK(rtnl_parse_next(buf, (size_t)n, &off, &back) == 1);
	CHECK(back.kind == RTNL_REPLY_ROUTE && off == (size_t)n);
	CHECK(memcmp(&back.route, parsed, sizeof(*parsed)) == 0);
}

/* What the kernel allows in an interface name: no spaces, no '/' or ':'. */
static bool valid_name(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s > '~' || *s == '/' || *s == ':')
			return false;
	return true;
}

static void check_text(const struct route_obj *o)
{
	char a[ROUTE_TEXT_MAX], b[ROUTE_TEXT_MAX];
	struct route_obj again;

	route_text_format(o, a, sizeof(a));
	CHECK(memchr(a, '\0', sizeof(a)) != NULL);
	if (o->kind == ROUTE_OBJ_RULE && (!valid_name(o->rule.iif) || !valid_name(o->rule.oif)))
		return;
	if (route_text_parse(a, &again) != 0)
		return;
	route_text_format(&again, b, sizeof(b));
	CHECK(strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtnl_reply rep;
	size_t off = 0, prev;
	int r;

	for (;;) {
		prev = off;
		r = rtnl_parse_next(data, size, &off, &rep);
		CHECK(r == 1 || r == 0 || r == -EBADMSG);
		CHECK(off <= size);
		if (r != 1) {
			CHECK(off == prev);
			break;
		}
		CHECK(off > prev);
		if (rep.kind == RTNL_REPLY_ACK)
			CHECK(memchr(rep.ext_msg, '\0', sizeof(rep.ext_msg)) != NULL);
		if (rep.kind == RTNL_REPLY_RULE) {
			struct route_obj o = { .kind = ROUTE_OBJ_RULE, .rule = rep.rule };

			check_rule(&rep.rule);
			check_text(&o);
		}
		if (rep.kind == RTNL_REPLY_ROUTE) {
			struct route_obj o = { .kind = ROUTE_OBJ_ROUTE, .route = rep.route };

			check_route(&rep.route);
			strcpy(o.dev, "tun0");
			check_text(&o);
		}
	}
	/* The same bytes as a text line must not upset the text parser. */
	if (size < ROUTE_TEXT_MAX) {
		char line[ROUTE_TEXT_MAX];
		struct route_obj o;

		memcpy(line, data, size);
		line[size] = '\0';
		if (route_text_parse(line, &o) == 0)
			check_text(&o);
	}
	return 0;
}
