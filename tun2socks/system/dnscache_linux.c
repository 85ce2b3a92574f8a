/* nscd's hosts cache emptied through its socket (dnscache.h). The request
 * is glibc's nscd protocol (nscd/nscd-client.h): a header of three 32-bit
 * host-order integers, version 2, type INVALIDATE (10) and the key's
 * length with its NUL, then the key "hosts"; nscd answers one int32, 0 on
 * success. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "tun2socks/system/dnscache.h"

#define DNSCACHE_NSCD_SOCKET "/var/run/nscd/socket"

enum { NSCD_VERSION = 2, NSCD_INVALIDATE = 10 };

/* Writes all of buf, or -errno. */
static int dnscache_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One invalidation over a new connection: 1 done, 0 no nscd, -errno. */
static int dnscache_nscd_once(char *err, size_t errlen)
{
	static const char key[] = "hosts";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	int32_t req[3] = { NSCD_VERSION, NSCD_INVALIDATE, (int32_t)sizeof(key) };
	int32_t result = -1;
	char msg[sizeof(req) + sizeof(key)];
	ssize_t got;
	int fd, r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", DNSCACHE_NSCD_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "nscd: socket: %s", strerror(-r));
		return r;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		snprintf(err, errlen, "nscd: setsockopt: %s", strerror(-r));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		/* no socket, or one nobody listens on: no nscd runs */
		if (r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR) {
			r = 0;
			goto out;
		}
		snprintf(err, errlen, "nscd: connect %s: %s", DNSCACHE_NSCD_SOCKET, strerror(-r));
		goto out;
	}
	/* Header and key in one write, as glibc's client sends them: nscd
	 * reads the key as soon as the header is in, without waiting for
	 * it, and drops a request whose key is not there yet. */
	memcpy(msg, req, sizeof(req));
	memcpy(msg + sizeof(req), key, sizeof(key));
	r = dnscache_write_all(fd, msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, errlen, "nscd: sending the invalidation: %s", strerror(-r));
		goto out;
	}
	do
		got = read(fd, &result, sizeof(result));
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(result) || result != 0) {
		r = got < 0 ? -errno : -EPROTO;
		snprintf(err, errlen, "nscd: no confirmation of the invalidation (%s)",
			 got < 0                          ? strerror(errno)
			 : got == (ssize_t)sizeof(result) ? "refused: not root?"
							  : "short answer");
		goto out;
	}
	r = 1;
out:
	close(fd);
	return r;
}

int dnscache_flush(char *what, size_t whatlen, char *err, size_t errlen)
{
	int r;

	if (what && whatlen)
		what[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	r = dnscache_nscd_once(err, errlen);
	if (r > 0)
		snprintf(what, whatlen, "nscd's hosts cache");
	return r;
}
