/* file_atomic: replace a file's contents so that a reader sees the old
 * file or the new one, never half of either. Blocking: call it on a
 * worker thread or where the loop may wait (start, stop). */
#ifndef T2S_BASE_FILE_ATOMIC_H
#define T2S_BASE_FILE_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

#include "tun2socks/base/must_check.h"

/* Writes data[0, len) to "<path>.tmp.<pid>" (created with mode), fsyncs
 * and closes it, then renames it over path; on any failure the temporary
 * file is removed and path is left as it was. 0 or -errno
 * (-ENAMETOOLONG for a path too long for the temporary name). */
T2S_MUST_CHECK int file_atomic_write(const char *path, const void *data, size_t len, mode_t mode);

#endif
