/* Unit tests for resolvconf (tun2socks/system/resolvconf.c): the text
 * that points resolv.conf at the TUN, and the file saved, rewritten in
 * place and put back byte for byte. */
#include "tun2socks/system/resolvconf.h"
#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_text(void)
{
	const char *servers[2] = { "198.18.0.2", "fdfe:dcba:9876::2" };
	const char *host = "# from DHCP\nnameserver 10.0.0.1\nsearch lan corp\n"
			   "options timeout:2\ndomain lan\nsortlist 10.0.0.0\nsearchx no";
	char out[512];

	T_EQ_INT(resolvconf_text(RESOLVCONF_MARK " x\n", host, servers, 2, out, sizeof(out)), 0);
	T_EQ_STR(out, RESOLVCONF_MARK " x\nnameserver 198.18.0.2\nnameserver fdfe:dcba:9876::2\n"
				      "search lan corp\noptions timeout:2\ndomain lan\n");
	T_EQ_INT(resolvconf_text("h\n", NULL, servers, 1, out, sizeof(out)), 0);
	T_EQ_STR(out, "h\nnameserver 198.18.0.2\n");
	T_EQ_INT(resolvconf_text("h\n", host, servers, 2, out, 20), -ENOBUFS);
}

static void put_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	T_CHECK(f != NULL);
	if (f) {
		T_EQ_INT(fwrite(text, 1, len, f), len);
		fclose(f);
	}
}

static size_t get_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap, f);
		fclose(f);
	}
	return n;
}

static void test_point_restore(void)
{
	char dir[] = "/tmp/t2s-resolvconf-XXXXXX", path[64], backup[64], buf[256];
	/* no final newline, a NUL byte, CRLF: put back exactly */
	static const char orig[] = "nameserver 10.0.0.1\r\nsearch lan\n\0x";
	const char *ours = RESOLVCONF_MARK " test\nnameserver 198.18.0.2\n";
	struct stat before, after;
	char err[600];

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	snprintf(backup, sizeof(backup), "%s/tun0.resolv.conf", dir);
	put_file(path, orig, sizeof(orig) - 1);
	chmod(path, 0640);
	T_EQ_INT(stat(path, &before), 0);

	T_EQ_INT(resolvconf_point(path, backup, ours, strlen(ours), err, sizeof(err)), 0);
	T_EQ_INT(get_file(path, buf, sizeof(buf)), strlen(ours));
	T_CHECK(memcmp(buf, ours, strlen(ours)) == 0);
	T_EQ_INT(get_file(backup, buf, sizeof(buf)), sizeof(orig) - 1);
	T_CHECK(memcmp(buf, orig, sizeof(orig) - 1) == 0);
	T_EQ_INT(stat(path, &after), 0);
	T_EQ_INT(after.st_ino, before.st_ino); /* in place */
	T_EQ_INT(after.st_mode, before.st_mode);

	T_EQ_INT(resolvconf_restore(path, backup, err, sizeof(err)), 0);
	T_EQ_INT(get_file(path, buf, sizeof(buf)), sizeof(orig) - 1);
	T_CHECK(memcmp(buf, orig, sizeof(orig) - 1) == 0);
	T_CHECK(access(backup, F_OK) != 0);
	/* nothing saved: nothing to do */
	T_EQ_INT(resolvconf_restore(path, backup, err, sizeof(err)), 0);

	/* another program rewrote it meanwhile: theirs stays, the backup too */
	T_EQ_INT(resolvconf_point(path, backup, ours, strlen(ours), err, sizeof(err)), 0);
	put_file(path, "nameserver 10.9.9.9\n", 20);
	T_EQ_INT(resolvconf_restore(path, backup, err, sizeof(err)), 1);
	T_CHECK(strstr(err, "rewritten by another program") != NULL);
	T_EQ_INT(get_file(path, buf, sizeof(buf)), 20);
	T_CHECK(access(backup, F_OK) == 0);
	/* killed between saving and writing: the file is as saved */
	put_file(path, orig, sizeof(orig) - 1);
	T_EQ_INT(resolvconf_restore(path, backup, err, sizeof(err)), 0);
	T_CHECK(access(backup, F_OK) != 0);

	/* no file to point: an error, nothing saved */
	unlink(path);
	T_EQ_INT(resolvconf_point(path, backup, ours, strlen(ours), err, sizeof(err)), -ENOENT);
	T_CHECK(access(backup, F_OK) != 0);
	rmdir(dir);
}

int main(void)
{
	T_RUN(test_text);
	T_RUN(test_point_restore);
	return test_summary();
}
