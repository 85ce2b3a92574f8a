/* Unit tests for reading a file whole (tun2socks/base/file_read.c). */
#include "tun2socks/base/file_read.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	T_CHECK(f != NULL);
	if (f == NULL)
		return;
	T_EQ_INT(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_whole(void)
{
	char path[128], *buf, *big;
	size_t len, n = 3 * 4096 + 7; /* past the first buffer and its doubling */

	snprintf(path, sizeof(path), "%s/f", dir);
	put(path, "abc\n", 4);
	T_EQ_INT(file_read_all(path, 0, &buf, &len), 0);
	T_EQ_INT(len, 4);
	T_CHECK(buf != NULL && memcmp(buf, "abc\n", 4) == 0);
	free(buf);
	/* empty */
	put(path, "", 0);
	T_EQ_INT(file_read_all(path, 0, &buf, &len), 0);
	T_EQ_INT(len, 0);
	free(buf);
	/* bigger than the size hint would need: all of it, in order */
	big = malloc(n);
	T_CHECK(big != NULL);
	if (big == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	put(path, big, n);
	T_EQ_INT(file_read_all(path, n, &buf, &len), 0);
	T_EQ_INT(len, n);
	T_CHECK(buf != NULL && memcmp(buf, big, n) == 0);
	free(buf);
	/* one byte over the bound */
	T_EQ_INT(file_read_all(path, n - 1, &buf, &len), -EFBIG);
	T_CHECK(buf == NULL && len == 0);
	free(big);
	T_EQ_INT(unlink(path), 0);
}

static void test_errors(void)
{
	char path[128], *buf = (char *)1;
	size_t len = 1;

	snprintf(path, sizeof(path), "%s/none", dir);
	T_EQ_INT(file_read_all(path, 0, &buf, &len), -ENOENT);
	T_CHECK(buf == NULL && len == 0);
	T_EQ_INT(file_read_all(dir, 0, &buf, &len), -EISDIR);
	/* /proc files say size 0 and have content */
	T_EQ_INT(file_read_all("/proc/self/stat", 0, &buf, &len), 0);
	T_CHECK(len > 0);
	free(buf);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/t2s-file-read-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_whole);
	T_RUN(test_errors);
	rmdir(dir);
	return test_summary();
}
