/* resolvconf: /etc/resolv.conf pointed at the TUN while the daemon runs
 * with auto-route, where systemd-resolved is not the system's resolver
 * (resolved.h is for that), and put back byte for byte when it stops
 * (docs/design.md §13, "The system resolver").
 *
 * The file is rewritten in place (same inode): its owner and mode stay,
 * a bind mount over it (`ip netns exec`) or a symlink to it (resolvconf,
 * NetworkManager) keeps pointing at it. Before that, its bytes are saved
 * to a backup file (synced), which restore writes back, in place too, and
 * removes. A file that no longer starts with RESOLVCONF_MARK was rewritten
 * by someone else meanwhile (a network manager): it is left as they wrote
 * it and the backup kept. Blocking; called at start and stop, like
 * autoroute.
 */
#ifndef T2S_RESOLVCONF_H
#define T2S_RESOLVCONF_H

#include <stddef.h>

#include "tun2socks/base/must_check.h"

#define RESOLVCONF_MARK "# tun2socks auto-route:"

/* A resolv.conf text into out[cap]: the line head (ending in a newline),
 * one nameserver line per servers[i], then the search, domain and options
 * lines of host (a resolv.conf text, or NULL), which say how the resolver
 * behaves rather than where it asks. 0, or -ENOBUFS. Pure. */
int resolvconf_text(const char *head, const char *host, const char *const *servers, size_t n,
		    char *out, size_t cap);

/* Saves the bytes of path to backup (a new file, synced), then writes
 * text[0, len) over path in place. 0, or -errno with err (path is then as
 * it was, and so is backup unless it was written). */
T2S_MUST_CHECK int resolvconf_point(const char *path, const char *backup, const char *text,
				    size_t len, char *err, size_t errlen);

/* Writes backup's bytes back over path if path still starts with
 * RESOLVCONF_MARK (or already holds them), then removes backup. 0 put
 * back (or nothing to do: no backup), 1 left alone (someone else's text:
 * backup kept, err says where), or -errno with err. */
int resolvconf_restore(const char *path, const char *backup, char *err, size_t errlen);

#endif
