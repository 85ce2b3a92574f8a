/* file_read: a whole file into one malloc'd buffer. Blocking: call it on a
 * worker thread or where the loop may wait (start, stop, the config
 * loader). */
#ifndef T2S_BASE_FILE_READ_H
#define T2S_BASE_FILE_READ_H

#include <stddef.h>

#include "tun2socks/base/must_check.h"

/* Reads path into *out (malloc'd, the caller frees; not NUL-terminated)
 * and its length into *len, both cleared first. max: the largest file
 * taken, 0 for no bound. 0, or -errno: -EISDIR for a directory, -EFBIG
 * above max, -ENOMEM. */
T2S_MUST_CHECK int file_read_all(const char *path, size_t max, char **out, size_t *len);

#endif
