/* nameservers: the DNS server list syntax (nameservers.h). */
#include "config/nameservers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

enum {
	NAMESERVERS_PORT = 53,
	NAMESERVERS_ENTRY_MAX = 128, /* one server entry, text form */
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

/* "53" -> 53; anything but 1..65535 in plain decimal -> -1. */
static long parse_port(const char *s)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	return v == 0 ? -1 : v;
}

/* One entry (already trimmed, NUL-terminated, scheme kept) -> "ip:port" or
 * "[ip6]:port" appended to csv at *used. */
static int parse_entry(char *tok, char *csv, size_t cap, size_t *used, bool *tcp, char *err,
		       size_t errlen)
{
	char shown[NAMESERVERS_ENTRY_MAX];
	unsigned char addr[16];
	char *host = tok, *port = NULL, *end;
	long portnum = NAMESERVERS_PORT;
	int family, n;

	snprintf(shown, sizeof(shown), "%s", tok);
	if (strncasecmp(host, "udp://", 6) == 0) {
		host += 6;
	} else if (strncasecmp(host, "tcp://", 6) == 0) {
		host += 6;
		*tcp = true;
	} else if (strstr(host, "://") != NULL) {
		set_err(err, errlen, "--dns-server: cannot parse '%s': %s", shown,
			"only udp:// and tcp:// are supported");
		return -EINVAL;
	}

	if (host[0] == '[') {
		host++;
		end = strchr(host, ']');
		if (end == NULL)
			goto bad_addr;
		*end = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			goto bad_addr;
		family = AF_INET6;
	} else {
		end = strchr(host, ':');
		if (end != NULL && strchr(end + 1, ':') == NULL) {
			*end = '\0';
			port = end + 1;
			family = AF_INET;
		} else {
			/* No colon: IPv4; several: a bare IPv6 address, which
			 * cannot carry a port without brackets. */
			family = end == NULL ? AF_INET : AF_INET6;
		}
	}
	if (inet_pton(family, host, addr) != 1)
		goto bad_addr;
	if (port != NULL) {
		portnum = parse_port(port);
		if (portnum < 0) {
			set_err(err, errlen, "--dns-server: cannot parse '%s': %s", shown,
				"port must be 1-65535");
			return -EINVAL;
		}
	}

	n = snprintf(csv + *used, cap - *used, "%s%s%s%s:%ld", *used > 0 ? "," : "",
		     family == AF_INET6 ? "[" : "", host, family == AF_INET6 ? "]" : "", portnum);
	if (n < 0 || (size_t)n >= cap - *used)
		return -ENOBUFS;
	*used += (size_t)n;
	return 0;

bad_addr:
	set_err(err, errlen, "--dns-server: cannot parse '%s': %s", shown,
		"expected IP, IP:port or [IPv6]:port");
	return -EINVAL;
}

int nameservers_parse(const char *servers, char *csv, size_t cap, bool *tcp, char *err,
		      size_t errlen)
{
	char tok[NAMESERVERS_ENTRY_MAX];
	const char *p, *comma, *b, *e;
	size_t used = 0, len;
	int ret = 0;

	if (cap > 0)
		csv[0] = '\0';
	*tcp = false;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (cap == 0)
		return -ENOBUFS;

	for (p = servers;; p = comma + 1) {
		comma = strchr(p, ',');
		e = comma != NULL ? comma : p + strlen(p);
		b = p;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		len = (size_t)(e - b);
		if (len == 0) {
			set_err(err, errlen, "--dns-server: cannot parse '%s'%s", servers,
				": empty entry");
			ret = -EINVAL;
			goto out;
		}
		if (len >= sizeof(tok)) {
			set_err(err, errlen, "--dns-server: cannot parse '%s'%s", servers,
				": entry too long");
			ret = -EINVAL;
			goto out;
		}
		memcpy(tok, b, len);
		tok[len] = '\0';
		ret = parse_entry(tok, csv, cap, &used, tcp, err, errlen);
		if (ret < 0)
			goto out;
		if (comma == NULL)
			break;
	}
out:
	if (ret < 0) {
		csv[0] = '\0';
		*tcp = false;
	}
	return ret;
}
