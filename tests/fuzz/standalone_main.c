/* Regression driver for the fuzz targets in builds without libFuzzer.
 *
 * Usage: fuzz_<name> [FILE|DIR]...
 * Feeds each FILE, and each regular file directly inside each DIR (sorted by
 * name, dotfiles skipped, not recursive), through LLVMFuzzerTestOneInput
 * once. With no argument it feeds one empty input, so every target is
 * compiled and exercised in every build. Each input sits in a buffer of
 * exactly its size so that ASan flags any over-read.
 *
 * A crash or a sanitizer report is the failure signal; the exit status is
 * non-zero only when an input cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional in the target; a weak reference is NULL when it is absent. */
#if defined(__APPLE__)
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak_import));
#else
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
#endif

static unsigned long inputs_run;

/* Reads all of f into a buffer of exactly its length; *out is NULL for an
 * empty file. Returns 0 or -errno. */
static int read_all(FILE *f, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL, *exact;
	size_t cap = 0, n = 0, got;

	*out = NULL;
	*len = 0;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nbuf = realloc(buf, ncap);

			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	if (n == 0) {
		free(buf);
		return 0;
	}
	exact = malloc(n);
	if (!exact) {
		free(buf);
		return -ENOMEM;
	}
	memcpy(exact, buf, n);
	free(buf);
	*out = exact;
	*len = n;
	return 0;
}

/* Runs one input file. Returns 0 or -errno. */
static int run_file(const char *path)
{
	static const uint8_t empty[1];
	uint8_t *data;
	size_t len;
	FILE *f;
	int err;

	f = fopen(path, "rb");
	if (!f) {
		err = -errno;
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return err;
	}
	err = read_all(f, &data, &len);
	fclose(f);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return err;
	}
	LLVMFuzzerTestOneInput(data ? data : empty, len);
	free(data);
	inputs_run++;
	return 0;
}

static int not_dotfile(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs every regular file directly inside dir. Returns 0 or -errno. */
static int run_dir(const char *dir)
{
	struct dirent **names;
	int n, i, err = 0;

	n = scandir(dir, &names, not_dotfile, alphasort);
	if (n < 0) {
		err = -errno;
		fprintf(stderr, "%s: %s\n", dir, strerror(-err));
		return err;
	}
	for (i = 0; i < n; i++) {
		size_t size = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(size);
		struct stat st;

		if (!path) {
			err = -ENOMEM;
		} else {
			snprintf(path, size, "%s/%s", dir, names[i]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				int r = run_file(path);

				if (r && !err)
					err = r;
			}
			free(path);
		}
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	static const uint8_t empty[1];
	const char *prog = argv[0];
	int i, err = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);

	if (argc < 2) {
		LLVMFuzzerTestOneInput(empty, 0);
		inputs_run++;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;
		int r;

		if (stat(argv[i], &st) != 0) {
			r = -errno;
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
		} else if (S_ISDIR(st.st_mode)) {
			r = run_dir(argv[i]);
		} else {
			r = run_file(argv[i]);
		}
		if (r && !err)
			err = r;
	}
	printf("%s: %lu inputs run%s\n", prog, inputs_run, err ? ", some could not be read" : "");
	return err ? 1 : 0;
}
