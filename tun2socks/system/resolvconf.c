/* resolvconf: /etc/resolv.conf pointed at the TUN and put back
 * (resolvconf.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* O_CLOEXEC */
#endif

#include "tun2socks/system/resolvconf.h"
#include "tun2socks/base/errtext.h"
#include "tun2socks/base/file_atomic.h"
#include "tun2socks/base/file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends text[0, len) to out[*used, cap), terminated. */
static int put(char *out, size_t cap, size_t *used, const char *text, size_t len)
{
	if (*used + len + 1 > cap)
		return -ENOBUFS;
	memcpy(out + *used, text, len);
	*used += len;
	out[*used] = '\0';
	return 0;
}

/* search, domain, options: how the resolver behaves, not where it asks */
static bool keep_line(const char *line, size_t len)
{
	static const char *const keys[] = { "search", "domain", "options" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t k = strlen(keys[i]);

		if (len > k && memcmp(line, keys[i], k) == 0 && (line[k] == ' ' || line[k] == '\t'))
			return true;
	}
	return false;
}

int resolvconf_text(const char *head, const char *host, const char *const *servers, size_t n,
		    char *out, size_t cap)
{
	size_t used = 0;
	int r;

	if (cap == 0)
		return -ENOBUFS;
	out[0] = '\0';
	r = put(out, cap, &used, head, strlen(head));
	for (size_t i = 0; i < n && r == 0; i++) {
		r = put(out, cap, &used, "nameserver ", 11);
		if (r == 0)
			r = put(out, cap, &used, servers[i], strlen(servers[i]));
		if (r == 0)
			r = put(out, cap, &used, "\n", 1);
	}
	for (const char *p = host; r == 0 && p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (keep_line(p, len)) {
			r = put(out, cap, &used, p, len);
			if (r == 0)
				r = put(out, cap, &used, "\n", 1);
		}
		p += len + (end != NULL);
	}
	return r;
}

enum { RESOLVCONF_MAX = 1 << 20 };

/* Writes data over path in place: truncated, written, synced. */
static int overwrite(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t off = 0;
	int r = 0;

	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int resolvconf_point(const char *path, const char *backup, const char *text, size_t len, char *err,
		     size_t errlen)
{
	char *orig = NULL;
	size_t olen;
	int r = file_read_all(path, RESOLVCONF_MAX, &orig, &olen);

	if (r < 0) {
		errtext_set(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	r = file_atomic_write(backup, orig, olen, 0600);
	if (r < 0) {
		errtext_set(err, errlen, "cannot save %s to %s: %s", path, backup, strerror(-r));
		goto out;
	}
	r = overwrite(path, text, len);
	if (r < 0) {
		errtext_set(err, errlen, "cannot write %s: %s", path, strerror(-r));
		/* half-written: the saved bytes back */
		if (overwrite(path, orig, olen) == 0)
			unlink(backup);
	}
out:
	free(orig);
	return r;
}

int resolvconf_restore(const char *path, const char *backup, char *err, size_t errlen)
{
	char *orig = NULL, *now = NULL;
	size_t olen, nlen, k = strlen(RESOLVCONF_MARK);
	int r = file_read_all(backup, RESOLVCONF_MAX, &orig, &olen);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		errtext_set(err, errlen, "cannot read %s: %s", backup, strerror(-r));
		return r;
	}
	r = file_read_all(path, RESOLVCONF_MAX, &now, &nlen);
	if (r < 0 && r != -ENOENT) {
		errtext_set(err, errlen, "cannot read %s: %s", path, strerror(-r));
		goto out;
	}
	if (r == 0 && nlen == olen && memcmp(now, orig, olen) == 0) {
		unlink(backup); /* already as it was */
		goto out;
	}
	if (r < 0 || nlen < k || memcmp(now, RESOLVCONF_MARK, k) != 0) {
		errtext_set(err, errlen,
			    "%s was rewritten by another program meanwhile: left as it is; what it "
			    "held before tun2socks is in %s",
			    path, backup);
		r = 1;
		goto out;
	}
	r = overwrite(path, orig, olen);
	if (r < 0)
		errtext_set(err, errlen, "cannot write %s back: %s", path, strerror(-r));
	else
		unlink(backup);
out:
	free(orig);
	free(now);
	return r;
}
