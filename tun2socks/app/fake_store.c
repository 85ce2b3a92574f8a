/* fake_store: store-fake-ip (fake_store.h). */
#include "tun2socks/app/fake_store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolver/dns_intercept.h"
#include "tun2socks/base/file_atomic.h"
#include "tun2socks/base/log.h"

/* A file larger than this is not a pool we saved (2 x 65 536 mappings of
 * at most 270 bytes). */
#define FAKE_STORE_MAX (64u << 20)

struct fake_store {
	uv_loop_t *loop;
	struct dns_intercept *di;
	char *path;
	uv_timer_t timer;
	uv_work_t work;
	bool busy;     /* a write on a worker */
	bool stopping; /* fake_store_stop ran */
	bool closed;   /* the timer's close callback ran */
	char *text;    /* what the worker writes */
	size_t len;
	int write_err;  /* the worker's result */
	uint64_t saved; /* dns_intercept_fake_changes() at the last save */
};

static int store_read(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	int fd, r = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > FAKE_STORE_MAX) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = off;
	return 0;
}

static void store_free(struct fake_store *s)
{
	free(s->text);
	free(s->path);
	free(s);
}

/* The final save, on the loop thread: the daemon is stopping anyway. */
static void store_final(struct fake_store *s)
{
	char *text = NULL;
	size_t len = 0;
	int r = dns_intercept_fake_save(s->di, &text, &len);

	if (r == 0)
		r = file_atomic_write(s->path, text, len, 0600);
	if (r < 0)
		log_warn("store-fake-ip: cannot save %s: %s", s->path, strerror(-r));
	else
		log_info("store-fake-ip: saved to %s", s->path);
	free(text);
}

static void store_on_closed(uv_handle_t *h)
{
	struct fake_store *s = h->data;

	s->closed = true;
	if (!s->busy)
		store_free(s);
}

static void store_work(uv_work_t *w)
{
	struct fake_store *s = w->data;

	s->write_err = file_atomic_write(s->path, s->text, s->len, 0600);
}

static void store_after_work(uv_work_t *w, int status)
{
	struct fake_store *s = w->data;

	s->busy = false;
	free(s->text);
	s->text = NULL;
	if (status == 0 && s->write_err < 0)
		log_warn("store-fake-ip: cannot save %s: %s", s->path, strerror(-s->write_err));
	if (s->stopping) {
		/* After the write that was in flight, so nothing older lands
		 * on top of the last state. The timer is closed already. */
		store_final(s);
		if (s->closed)
			store_free(s);
	}
}

static void store_on_timer(uv_timer_t *t)
{
	struct fake_store *s = t->data;
	uint64_t changes = dns_intercept_fake_changes(s->di);
	int r;

	if (s->busy || changes == s->saved)
		return;
	r = dns_intercept_fake_save(s->di, &s->text, &s->len);
	if (r < 0) {
		log_warn("store-fake-ip: %s", strerror(-r));
		return;
	}
	s->saved = changes;
	s->work.data = s;
	r = uv_queue_work(s->loop, &s->work, store_work, store_after_work);
	if (r < 0) {
		log_warn("store-fake-ip: %s", uv_strerror(r));
		free(s->text);
		s->text = NULL;
		return;
	}
	s->busy = true;
}

int fake_store_start(uv_loop_t *loop, struct dns_intercept *di, const char *path,
		     struct fake_store **out)
{
	struct fake_store *s;
	char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->path = strdup(path);
	if (s->path == NULL) {
		free(s);
		return -ENOMEM;
	}
	s->loop = loop;
	s->di = di;
	r = store_read(path, &text, &len);
	if (r == 0)
		r = dns_intercept_fake_restore(di, text, len);
	free(text);
	if (r == 0)
		log_info("store-fake-ip: restored the fake pool from %s", path);
	else if (r == -ENOENT)
		log_info("store-fake-ip: no %s yet: the fake pool starts empty", path);
	else if (r == -ESTALE)
		log_warn("store-fake-ip: %s was saved for another fake-ip range: the fake pool "
			 "starts empty",
			 path);
	else
		log_warn("store-fake-ip: cannot restore %s (%s): the fake pool starts empty", path,
			 strerror(-r));
	s->saved = dns_intercept_fake_changes(di);
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, store_on_timer, FAKE_STORE_PERIOD_MS, FAKE_STORE_PERIOD_MS);
	uv_unref((uv_handle_t *)&s->timer);
	*out = s;
	return 0;
}

void fake_store_stop(struct fake_store *s)
{
	if (s == NULL)
		return;
	s->stopping = true;
	uv_timer_stop(&s->timer);
	if (!s->busy)
		store_final(s);
	uv_close((uv_handle_t *)&s->timer, store_on_closed);
}
