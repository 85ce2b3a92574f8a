/* resolved: systemd-resolved's per-link DNS over sd-bus (resolved.h). */
#include "tun2socks/system/resolved.h"
#include "tun2socks/base/errtext.h"
#include "tun2socks/system/sysdns.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define RESOLVE1 "org.freedesktop.resolve1"
#define RESOLVE1_PATH "/org/freedesktop/resolve1"
#define RESOLVE1_MANAGER "org.freedesktop.resolve1.Manager"
#define RESOLVE1_NO_SUCH_LINK "org.freedesktop.resolve1.NoSuchLink"

/* Per call: resolved answers at once unless it hangs. */
enum { RESOLVED_TIMEOUT_US = 5 * 1000 * 1000 };

static int bus_open(sd_bus **out, char *err, size_t errlen)
{
	int r = sd_bus_open_system(out);

	if (r < 0) {
		*out = NULL;
		errtext_set(err, errlen, "cannot reach the system bus: %s", strerror(-r));
	}
	return r;
}

/* The error's text: resolved's message, or errno's words. */
static void bus_err(char *err, size_t errlen, const char *what, const sd_bus_error *e, int r)
{
	errtext_set(err, errlen, "systemd-resolved: %s: %s", what,
		    e && e->message ? e->message : strerror(-r));
}

int resolved_present(char *why, size_t whylen)
{
	static char text[16384];
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	FILE *f = fopen(SYSDNS_RESOLV_CONF, "re");
	size_t len = 0;
	int owned = 0, r;

	if (f) {
		len = fread(text, 1, sizeof(text), f);
		fclose(f);
	}
	if (!sysdns_resolved_managed(text, len)) {
		errtext_set(why, whylen, SYSDNS_RESOLV_CONF " is not systemd-resolved's");
		return 0;
	}
	r = bus_open(&bus, why, whylen);
	if (r < 0)
		return 0;
	r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "NameHasOwner", &e, &reply, "s", RESOLVE1);
	if (r >= 0)
		r = sd_bus_message_read(reply, "b", &owned);
	if (r < 0)
		errtext_set(why, whylen, "cannot ask the system bus for " RESOLVE1 ": %s",
			    e.message ? e.message : strerror(-r));
	else if (!owned)
		errtext_set(why, whylen,
			    SYSDNS_RESOLV_CONF " is systemd-resolved's, but " RESOLVE1
					       " is not on the system bus");
	sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r >= 0 && owned ? 1 : 0;
}

/* One Manager method call whose arguments a filler appends; the reply is
 * dropped. */
typedef int (*fill_fn)(sd_bus_message *m, const void *arg);

static int call(sd_bus *bus, const char *method, fill_fn fill, const void *arg, sd_bus_error *e)
{
	sd_bus_message *m = NULL, *reply = NULL;
	int r = sd_bus_message_new_method_call(bus, &m, RESOLVE1, RESOLVE1_PATH, RESOLVE1_MANAGER,
					       method);

	if (r >= 0 && fill)
		r = fill(m, arg);
	if (r >= 0)
		r = sd_bus_call(bus, m, RESOLVED_TIMEOUT_US, e, &reply);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return r;
}

struct link_args {
	int32_t ifindex;
	const struct prefix *dns;
	size_t n;
	const char *value; /* "no" for the string settings */
	int flag;          /* SetLinkDefaultRoute */
};

static int fill_index(sd_bus_message *m, const void *arg)
{
	const struct link_args *a = arg;

	return sd_bus_message_append(m, "i", a->ifindex);
}

/* SetLinkDNS(i ifindex, a(iay) addresses) */
static int fill_dns(sd_bus_message *m, const void *arg)
{
	const struct link_args *a = arg;
	int r = sd_bus_message_append(m, "i", a->ifindex);

	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(iay)");
	for (size_t i = 0; r >= 0 && i < a->n; i++) {
		const struct prefix *p = &a->dns[i];
		int fam = p->family == AF_INET ? AF_INET : AF_INET6;

		r = sd_bus_message_open_container(m, 'r', "iay");
		if (r >= 0)
			r = sd_bus_message_append(m, "i", fam);
		if (r >= 0)
			r = sd_bus_message_append_array(m, 'y', p->addr, fam == AF_INET ? 4 : 16);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

/* SetLinkDomains(i ifindex, a(sb) domains): "." as a routing domain,
 * which resolvectl writes "~.". */
static int fill_domains(sd_bus_message *m, const void *arg)
{
	const struct link_args *a = arg;

	return sd_bus_message_append(m, "ia(sb)", a->ifindex, 1, ".", 1);
}

static int fill_bool(sd_bus_message *m, const void *arg)
{
	const struct link_args *a = arg;

	return sd_bus_message_append(m, "ib", a->ifindex, a->flag);
}

static int fill_string(sd_bus_message *m, const void *arg)
{
	const struct link_args *a = arg;

	return sd_bus_message_append(m, "is", a->ifindex, a->value);
}

int resolved_link_set(uint32_t ifindex, const struct prefix *dns, size_t n, char *err,
		      size_t errlen)
{
	static const char *const off[] = { "SetLinkLLMNR", "SetLinkMulticastDNS", "SetLinkDNSSEC",
					   "SetLinkDNSOverTLS" };
	struct link_args a = { .ifindex = (int32_t)ifindex, .dns = dns, .n = n, .flag = 1 };
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	const char *what = "SetLinkDNS";
	int r = bus_open(&bus, err, errlen);

	if (r < 0)
		return r;
	/* resolved learns the TUN from its own netlink socket: the link may
	 * not be known to it yet. */
	for (int tries = 0;; tries++) {
		r = call(bus, what, fill_dns, &a, &e);
		if (r >= 0 || !sd_bus_error_has_name(&e, RESOLVE1_NO_SUCH_LINK) || tries >= 20)
			break;
		sd_bus_error_free(&e);
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	if (r >= 0) {
		what = "SetLinkDomains";
		r = call(bus, what, fill_domains, &a, &e);
	}
	if (r >= 0) {
		what = "SetLinkDefaultRoute";
		r = call(bus, what, fill_bool, &a, &e);
	}
	a.value = "no";
	for (size_t i = 0; r >= 0 && i < sizeof(off) / sizeof(off[0]); i++) {
		what = off[i];
		r = call(bus, what, fill_string, &a, &e);
	}
	if (r < 0)
		bus_err(err, errlen, what, &e, r);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}

/* Whether resolved has a DNS scope on the link (its ScopesMask has
 * SD_RESOLVED_DNS, bit 0): it then sends queries there. 1, 0 or -errno. */
static int has_dns_scope(sd_bus *bus, int32_t ifindex, sd_bus_error *e)
{
	sd_bus_message *reply = NULL;
	const char *path;
	uint64_t mask = 0;
	int r = sd_bus_call_method(bus, RESOLVE1, RESOLVE1_PATH, RESOLVE1_MANAGER, "GetLink", e,
				   &reply, "i", ifindex);

	if (r >= 0)
		r = sd_bus_message_read(reply, "o", &path);
	if (r >= 0)
		r = sd_bus_get_property_trivial(bus, RESOLVE1, path,
						"org.freedesktop.resolve1.Link", "ScopesMask", e,
						't', &mask);
	sd_bus_message_unref(reply);
	return r < 0 ? r : (mask & 1) != 0;
}

int resolved_link_wait(uint32_t ifindex, unsigned timeout_ms, char *err, size_t errlen)
{
	struct link_args a = { .ifindex = (int32_t)ifindex, .flag = 1 };
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r = bus_open(&bus, err, errlen);

	if (r < 0)
		return r;
	for (unsigned waited = 0;; waited += 100) {
		r = has_dns_scope(bus, a.ifindex, &e);
		if (r != 0 || waited >= timeout_ms)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
		/* resolved weighs a link's scopes when it changes or is set,
		 * not when an address arrives: set it again */
		r = call(bus, "SetLinkDefaultRoute", fill_bool, &a, &e);
		if (r < 0)
			break;
	}
	if (r < 0)
		bus_err(err, errlen, "the TUN's link", &e, r);
	else if (r == 0)
		errtext_set(err, errlen,
			    "systemd-resolved: no DNS scope on the TUN's link after %u ms (is it "
			    "up, with an address?)",
			    timeout_ms);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : r == 0 ? -ETIMEDOUT : 0;
}

int resolved_link_revert(uint32_t ifindex, char *err, size_t errlen)
{
	struct link_args a = { .ifindex = (int32_t)ifindex };
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r = bus_open(&bus, err, errlen);

	if (r < 0)
		return r;
	r = call(bus, "RevertLink", fill_index, &a, &e);
	if (r < 0 && sd_bus_error_has_name(&e, RESOLVE1_NO_SUCH_LINK))
		r = 0;
	if (r < 0)
		bus_err(err, errlen, "RevertLink", &e, r);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}

int resolved_flush(char *err, size_t errlen)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r = bus_open(&bus, err, errlen);

	if (r < 0)
		return r;
	r = call(bus, "FlushCaches", NULL, NULL, &e);
	if (r < 0)
		bus_err(err, errlen, "FlushCaches", &e, r);
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? r : 0;
}
