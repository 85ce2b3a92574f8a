/* Unit tests for replacing a file whole (tun2socks/base/file_atomic.c). */
#include "tun2socks/base/file_atomic.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

/* The whole content of path, NUL-terminated, in buf; its length or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return (long)n;
}

/* Files in dir (the temporary ones must never stay). */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void test_create_and_replace(void)
{
	char path[128], buf[64];
	struct stat st;

	snprintf(path, sizeof(path), "%s/state", dir);
	T_EQ_INT(file_atomic_write(path, "first\n", 6, 0600), 0);
	T_EQ_INT(slurp(path, buf, sizeof(buf)), 6);
	T_EQ_STR(buf, "first\n");
	T_EQ_INT(stat(path, &st), 0);
	T_EQ_INT(st.st_mode & 0777, 0600);
	/* replaced whole, shorter: nothing of the old content stays */
	T_EQ_INT(file_atomic_write(path, "2", 1, 0600), 0);
	T_EQ_INT(slurp(path, buf, sizeof(buf)), 1);
	T_EQ_STR(buf, "2");
	/* empty is a content too */
	T_EQ_INT(file_atomic_write(path, "", 0, 0600), 0);
	T_EQ_INT(slurp(path, buf, sizeof(buf)), 0);
	T_EQ_INT(entries(), 1);
	T_EQ_INT(unlink(path), 0);
}

static void test_failures_leave_nothing(void)
{
	char path[128], buf[64], *longp;

	/* a missing directory: the error, no file anywhere */
	snprintf(path, sizeof(path), "%s/missing/state", dir);
	T_EQ_INT(file_atomic_write(path, "x", 1, 0600), -ENOENT);
	T_EQ_INT(entries(), 0);
	/* renaming over a directory fails: the temporary file is removed
	 * and the directory is untouched */
	snprintf(path, sizeof(path), "%s/sub", dir);
	T_EQ_INT(mkdir(path, 0700), 0);
	T_EQ_INT(file_atomic_write(path, "x", 1, 0600), -EISDIR);
	T_EQ_INT(entries(), 1);
	T_EQ_INT(slurp(path, buf, sizeof(buf)) <= 0, 1);
	T_EQ_INT(rmdir(path), 0);
	/* a path with no room for the temporary name's suffix */
	longp = malloc(PATH_MAX);
	T_CHECK(longp != NULL);
	if (longp) {
		memset(longp, 'a', PATH_MAX - 1);
		longp[PATH_MAX - 1] = '\0';
		T_EQ_INT(file_atomic_write(longp, "x", 1, 0600), -ENAMETOOLONG);
		free(longp);
	}
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/t2s-file-atomic-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_create_and_replace);
	T_RUN(test_failures_leave_nothing);
	rmdir(dir);
	return test_summary();
}
