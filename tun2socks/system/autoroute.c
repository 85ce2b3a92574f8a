/* autoroute: state file, lock, leftovers and the plan applied in order
 * (autoroute.h). Files in the state directory, per TUN name:
 *   <tun>.lock   flock()ed by the live daemon for its whole life: the
 *                kernel drops the lock when the process dies, however it
 *                dies, so a free lock means a daemon that is gone;
 *   <tun>.state  route_state.h's text, written (to a temporary file,
 *                then renamed) before the first change.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* O_CLOEXEC, dirfd */
#endif

#include "tun2socks/system/autoroute.h"
#include "tun2socks/system/dnscache.h"
#include "tun2socks/base/errtext.h"
#include "tun2socks/base/file_atomic.h"
#include "tun2socks/base/file_read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tun2socks/system/autoroute_impl.h"
#include "tun2socks/system/resolvconf.h"
#include "tun2socks/system/resolved.h"
#include "tun2socks/system/sysdns.h"
#include "tun2socks/system/route_state.h"

/* A state file is a few lines per route: anything larger is not ours. */
enum { AUTOROUTE_STATE_MAX = 64u << 20 };

struct autoroute {
	struct autoroute_os *os;
	struct route_plan plan;
	size_t applied;        /* plan.obj[0..applied) are in the kernel */
	struct route_state st; /* what the state file says but the objects */
	char state_path[512], lock_path[512], resolv_backup[520];
	int lock_fd;
	autoroute_note_fn note;
	void *note_arg;
};

static void notef(autoroute_note_fn note, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void notef(autoroute_note_fn note, void *arg, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (note == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(arg, line);
}

static int paths(const char *dir, const char *tun, char *state, char *lock, size_t cap)
{
	int a = snprintf(state, cap, "%s/%s.state", dir, tun);
	int b = snprintf(lock, cap, "%s/%s.lock", dir, tun);

	return a < 0 || b < 0 || (size_t)a >= cap || (size_t)b >= cap ? -ENAMETOOLONG : 0;
}

/* Opens and locks <tun>.lock: the fd, -EWOULDBLOCK when a live daemon
 * holds it, or -errno. */
static int lock_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644), r;

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Writes the state file: a temporary file, synced, renamed over it. */
static int write_state(const char *path, const struct route_state *st)
{
	char *text;
	size_t len;
	int r = route_state_format(st, &text, &len);

	if (r < 0)
		return r;
	r = file_atomic_write(path, text, len, 0644);
	free(text);
	return r;
}

/* Removes objects [0..n) in reverse; what is already gone is no error. */
static int undo(struct autoroute_os *os, const struct route_obj *obj, size_t n,
		autoroute_note_fn note, void *arg, size_t *gone)
{
	int failed = 0;

	for (size_t i = n; i-- > 0;) {
		char kerr[160] = "", line[ROUTE_TEXT_MAX];
		int r = autoroute_os_change(os, false, &obj[i], kerr, sizeof(kerr));

		if (r == -ENOENT || r == -ESRCH || r == -ENODEV) {
			if (gone)
				(*gone)++;
			continue;
		}
		if (r < 0) {
			route_text_format(&obj[i], line, sizeof(line));
			notef(note, arg, "cannot remove '%s': %s%s%s", line, strerror(-r),
			      kerr[0] ? ": " : "", kerr);
			failed = r;
		}
	}
	return failed;
}

/* What a gone daemon left in systemd-resolved: the TUN's DNS settings, if
 * the link is still there under its name (a persistent TUN; resolved
 * forgets a link that goes), and answers it cached from us. */
static void clean_resolved(const struct route_state *st, autoroute_note_fn note, void *arg)
{
	char name[IF_NAMESIZE], err[256];

	if (if_indextoname(st->resolved_link, name) && strcmp(name, st->tun) == 0) {
		if (resolved_link_revert(st->resolved_link, err, sizeof(err)) < 0)
			notef(note, arg, "%s", err);
		else
			notef(note, arg, "systemd-resolved: %s's DNS settings reverted", st->tun);
	}
	if (resolved_flush(err, sizeof(err)) < 0)
		notef(note, arg, "%s", err);
	else
		notef(note, arg, "systemd-resolved: cache flushed");
}

/* <dir>/<tun>.resolv.conf beside <dir>/<tun>.state: what /etc/resolv.conf
 * held before. */
static void backup_path(const char *state_path, char *out, size_t cap)
{
	size_t n = strlen(state_path);

	if (n > 6 && strcmp(state_path + n - 6, ".state") == 0)
		n -= 6;
	snprintf(out, cap, "%.*s.resolv.conf", (int)n, state_path);
}

/* /etc/resolv.conf as it was before a gone daemon pointed it at its TUN. */
static void clean_resolv_conf(const char *state_path, autoroute_note_fn note, void *arg)
{
	char backup[520], err[600] = "", what[64];
	int r;

	backup_path(state_path, backup, sizeof(backup));
	r = resolvconf_restore(SYSDNS_RESOLV_CONF, backup, err, sizeof(err));
	if (r != 0)
		notef(note, arg, "%s", err);
	else
		notef(note, arg, SYSDNS_RESOLV_CONF " put back as it was");
	if (dnscache_flush(what, sizeof(what), err, sizeof(err)) > 0)
		notef(note, arg, "%s flushed", what);
	else if (err[0])
		notef(note, arg, "%s", err);
}

/* Cleans the state file at path, whose lock the caller holds. */
static int clean_one(struct autoroute_os *os, const char *state_path, const char *lock_path,
		     uint64_t netns, autoroute_note_fn note, void *arg)
{
	struct route_state st;
	char *text, err[200];
	size_t len, gone = 0;
	int r = file_read_all(state_path, AUTOROUTE_STATE_MAX, &text, &len);

	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		notef(note, arg, "%s: %s", state_path, strerror(-r));
		return r;
	}
	r = route_state_parse(text, len, &st, err, sizeof(err));
	free(text);
	if (r < 0) {
		notef(note, arg, "%s: %s; left alone", state_path, err);
		return r;
	}
	if (st.netns && netns && st.netns != netns) {
		notef(note, arg, "%s: from another network namespace; left alone", state_path);
		route_state_free(&st);
		return -EXDEV;
	}
	if (st.resolved_link)
		clean_resolved(&st, note, arg);
	if (st.resolv_conf)
		clean_resolv_conf(state_path, note, arg);
	r = undo(os, st.obj, st.n, note, arg, &gone);
	if (r == 0) {
		notef(note, arg,
		      "removed what tun2socks (pid %lu, %s) left: %zu rules and routes "
		      "(%zu already gone)",
		      st.pid, st.tun, st.n - gone, gone);
		unlink(state_path);
		unlink(lock_path);
	}
	route_state_free(&st);
	return r;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Every state file of dir (tun's only, if given) whose daemon is gone.
 * busy (if not NULL) gets the first one whose daemon lives. */
static int clean_dir(struct autoroute_os *os, const char *dir, const char *tun, const char *mine,
		     autoroute_note_fn note, void *arg, char *busy, size_t busylen, int *cleaned)
{
	uint64_t netns = autoroute_os_netns();
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	*cleaned = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL) {
		char name[256], state[512], lock[512];
		int fd, r;

		if (!ends_with(e->d_name, ".state") || strlen(e->d_name) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(e->d_name) - 6), e->d_name);
		if (tun && strcmp(name, tun) != 0)
			continue;
		if (paths(dir, name, state, lock, sizeof(state)) < 0)
			continue;
		if (mine && strcmp(name, mine) == 0) {
			/* Ours: the caller holds its lock already. */
			r = clean_one(os, state, lock, netns, note, arg);
			if (r == 0)
				(*cleaned)++;
			continue;
		}
		fd = lock_open(lock);
		if (fd == -EWOULDBLOCK) {
			if (busy && !busy[0])
				snprintf(busy, busylen, "%s", name);
			ret = -EBUSY;
			continue;
		}
		if (fd < 0)
			continue;
		r = clean_one(os, state, lock, netns, note, arg);
		if (r == 0)
			(*cleaned)++;
		close(fd);
	}
	closedir(d);
	return ret;
}

/* The pid a state file names, for messages; 0 if unreadable. */
static unsigned long state_pid(const char *path)
{
	struct route_state st;
	unsigned long pid = 0;
	char *text;
	size_t len;

	if (file_read_all(path, AUTOROUTE_STATE_MAX, &text, &len) < 0)
		return 0;
	if (route_state_parse(text, len, &st, NULL, 0) == 0) {
		pid = st.pid;
		route_state_free(&st);
	}
	free(text);
	return pid;
}

int autoroute_cleanup(const char *dir, const char *tun, autoroute_note_fn note, void *arg,
		      char *err, size_t errlen)
{
	struct autoroute_os *os;
	char busy[256] = "";
	int r, cleaned = 0;

	if (dir == NULL)
		dir = AUTOROUTE_STATE_DIR;
	r = autoroute_os_open(&os);
	if (r < 0) {
		errtext_set(err, errlen,
			    r == -ENOTSUP ? "auto-route is not supported on this platform"
					  : "cannot open a routing socket: %s",
			    strerror(-r));
		return r;
	}
	r = clean_dir(os, dir, tun, NULL, note, arg, busy, sizeof(busy), &cleaned);
	autoroute_os_close(os);
	if (r == -EBUSY) {
		char state[512], lock[512];

		paths(dir, busy, state, lock, sizeof(state));
		errtext_set(err, errlen,
			    "tun2socks (pid %lu) still runs with TUN %s: stop it (SIGTERM), it "
			    "restores the routing itself",
			    state_pid(state), busy);
		return r;
	}
	if (r < 0) {
		errtext_set(err, errlen, "%s: %s", dir, strerror(-r));
		return r;
	}
	return cleaned;
}

/* Whether a daemon holds the lock at path (a shared lock cannot be had
 * while it holds its exclusive one). Never creates the file. */
static bool lock_held(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		held = errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static void status_one(struct autoroute_os *os, const char *state, const char *lock,
		       const char *name, uint64_t netns, autoroute_status_fn fn, void *arg)
{
	struct autoroute_status as = { .state_path = state };
	struct route_state st = { 0 };
	bool *present = NULL;
	char *text = NULL, err[200] = "";
	size_t len;
	int r;

	snprintf(as.tun, sizeof(as.tun), "%.15s", name);
	as.running = lock_held(lock);
	r = file_read_all(state, AUTOROUTE_STATE_MAX, &text, &len);
	if (r == 0)
		r = route_state_parse(text, len, &st, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-r));
	free(text);
	if (r < 0) {
		as.error = err;
		fn(arg, &as);
		return;
	}
	as.pid = st.pid;
	as.pid_alive = st.pid > 0 && (kill((pid_t)st.pid, 0) == 0 || errno == EPERM);
	as.other_netns = st.netns && netns && st.netns != netns;
	as.table = st.table;
	as.rule_index = st.rule_index;
	as.resolved_link = st.resolved_link;
	as.resolv_conf = st.resolv_conf;
	as.obj = st.obj;
	as.n = st.n;
	as.tun_up = -ENODEV;
	present = calloc(st.n ? st.n : 1, sizeof(*present));
	if (present == NULL) {
		as.error = "out of memory";
	} else if (!as.other_netns) {
		as.tun_up = autoroute_os_link_up(st.tun);
		r = autoroute_os_present(os, st.obj, st.n, present);
		if (r < 0) {
			snprintf(err, sizeof(err), "cannot list rules and routes: %s",
				 strerror(-r));
			as.error = err;
		}
		for (size_t i = 0; i < st.n; i++)
			as.n_present += present[i];
	}
	as.present = present;
	fn(arg, &as);
	free(present);
	route_state_free(&st);
}

int autoroute_status(const char *dir, const char *tun, autoroute_status_fn fn, void *arg)
{
	struct autoroute_os *os;
	uint64_t netns = autoroute_os_netns();
	struct dirent *e;
	DIR *d;
	int r, n = 0;

	if (dir == NULL)
		dir = AUTOROUTE_STATE_DIR;
	r = autoroute_os_open(&os);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (d == NULL) {
		r = errno == ENOENT ? 0 : -errno;
		autoroute_os_close(os);
		return r;
	}
	while ((e = readdir(d)) != NULL) {
		char name[256], state[512], lock[512];

		if (!ends_with(e->d_name, ".state") || strlen(e->d_name) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(e->d_name) - 6), e->d_name);
		if ((tun && strcmp(name, tun) != 0) ||
		    paths(dir, name, state, lock, sizeof(state)) < 0)
			continue;
		status_one(os, state, lock, name, netns, fn, arg);
		n++;
	}
	closedir(d);
	autoroute_os_close(os);
	return n;
}

const char *autoroute_state_dir(void)
{
	return autoroute_os_state_dir();
}

int autoroute_route_oif(const struct prefix *dst, uint32_t mark, uint32_t bind_ifindex,
			uint32_t *oif)
{
	struct autoroute_os *os;
	int r = autoroute_os_open(&os);

	*oif = 0;
	if (r < 0)
		return r;
	r = autoroute_os_route_oif(os, dst, mark, bind_ifindex, oif);
	autoroute_os_close(os);
	return r;
}

const struct route_plan *autoroute_plan(const struct autoroute *ar)
{
	return &ar->plan;
}

static bool obj_equal(const struct route_obj *a, const struct route_obj *b)
{
	char ta[ROUTE_TEXT_MAX], tb[ROUTE_TEXT_MAX];

	if (a->kind != b->kind)
		return false;
	route_text_format(a, ta, sizeof(ta));
	route_text_format(b, tb, sizeof(tb));
	return strcmp(ta, tb) == 0;
}

static bool obj_in(const struct route_obj *o, const struct route_obj *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (obj_equal(o, &set[i]))
			return true;
	return false;
}

/* Writes the state file listing obj[0..n). */
static int write_objs(struct autoroute *ar, const struct route_obj *obj, size_t n)
{
	struct route_state st = ar->st;

	st.obj = (struct route_obj *)obj;
	st.n = n;
	return write_state(ar->state_path, &st);
}

int autoroute_replan(struct autoroute *ar, const struct route_plan_cfg *cfg, size_t *added,
		     size_t *removed, char *err, size_t errlen)
{
	struct route_plan next = { 0 };
	struct route_obj *both = NULL;
	size_t n_both, n_new = 0, n_gone = 0, done = 0;
	char what[ROUTE_TEXT_MAX], kerr[160];
	int r;

	*added = *removed = 0;
	r = autoroute_os_plan(ar->os, cfg, &next, err, errlen);
	if (r < 0)
		return r;
	/* The state file lists the old plan and what the new one adds, in
	 * the order they may be in the kernel. */
	both = calloc(ar->plan.n + next.n + 1, sizeof(*both));
	if (both == NULL) {
		r = -ENOMEM;
		errtext_set(err, errlen, "auto-route: out of memory");
		goto out;
	}
	memcpy(both, ar->plan.obj, ar->plan.n * sizeof(*both));
	n_both = ar->plan.n;
	for (size_t i = 0; i < next.n; i++)
		if (!obj_in(&next.obj[i], ar->plan.obj, ar->plan.n))
			both[n_both++] = next.obj[i];
	n_new = n_both - ar->plan.n;
	for (size_t i = 0; i < ar->plan.n; i++)
		n_gone += !obj_in(&ar->plan.obj[i], next.obj, next.n);
	if (n_new == 0 && n_gone == 0)
		goto out;
	r = write_objs(ar, both, n_both);
	if (r < 0) {
		errtext_set(err, errlen, "auto-route: cannot write %s: %s", ar->state_path,
			    strerror(-r));
		goto out;
	}
	for (; done < n_new; done++) {
		const struct route_obj *o = &both[ar->plan.n + done];

		kerr[0] = '\0';
		r = autoroute_os_change(ar->os, true, o, kerr, sizeof(kerr));
		if (r < 0) {
			route_text_format(o, what, sizeof(what));
			errtext_set(err, errlen, "auto-route: adding '%s': %s%s%s%s", what,
				    strerror(-r), kerr[0] ? " (" : "", kerr, kerr[0] ? ")" : "");
			(void)undo(ar->os, both + ar->plan.n, done, ar->note, ar->note_arg, NULL);
			(void)write_objs(ar, ar->plan.obj, ar->plan.n);
			goto out;
		}
	}
	/* Then what the new plan drops, in reverse. */
	for (size_t i = ar->plan.n; i-- > 0;) {
		const struct route_obj *o = &ar->plan.obj[i];

		if (obj_in(o, next.obj, next.n))
			continue;
		r = autoroute_os_change(ar->os, false, o, kerr, sizeof(kerr));
		if (r < 0 && r != -ENOENT && r != -ESRCH) {
			route_text_format(o, what, sizeof(what));
			notef(ar->note, ar->note_arg, "cannot remove '%s': %s", what, strerror(-r));
		}
	}
	r = write_objs(ar, next.obj, next.n);
	if (r < 0) /* the file still lists a superset: cleanup stays right */
		notef(ar->note, ar->note_arg, "cannot rewrite %s: %s", ar->state_path,
		      strerror(-r));
	route_plan_free(&ar->plan);
	ar->plan = next;
	ar->applied = next.n;
	memset(&next, 0, sizeof(next));
	*added = n_new;
	*removed = n_gone;
	r = 0;
out:
	free(both);
	route_plan_free(&next);
	return r;
}

int autoroute_set_resolved_link(struct autoroute *ar, uint32_t ifindex)
{
	ar->st.resolved_link = ifindex;
	return write_objs(ar, ar->plan.obj, ar->applied);
}

int autoroute_set_resolv_conf(struct autoroute *ar, bool on)
{
	ar->st.resolv_conf = on;
	return write_objs(ar, ar->plan.obj, ar->applied);
}

const char *autoroute_resolv_backup(const struct autoroute *ar)
{
	return ar->resolv_backup;
}

void autoroute_stop(struct autoroute *ar)
{
	if (ar == NULL)
		return;
	if (ar->os && undo(ar->os, ar->plan.obj, ar->applied, ar->note, ar->note_arg, NULL) == 0 &&
	    ar->state_path[0]) {
		unlink(ar->state_path);
		unlink(ar->lock_path);
	} else if (ar->applied > 0) {
		notef(ar->note, ar->note_arg, "%s kept: `tun2socks cleanup` retries",
		      ar->state_path);
	}
	if (ar->lock_fd >= 0)
		close(ar->lock_fd);
	autoroute_os_close(ar->os);
	route_plan_free(&ar->plan);
	free(ar);
}

int autoroute_start(const struct autoroute_cfg *cfg, struct autoroute **out, char *err,
		    size_t errlen)
{
	const struct route_plan_cfg *pc = &cfg->plan;
	const char *dir = cfg->state_dir ? cfg->state_dir : AUTOROUTE_STATE_DIR;
	struct route_state st = { 0 };
	struct autoroute *ar;
	char what[ROUTE_TEXT_MAX], kerr[160];
	int r, cleaned;

	*out = NULL;
	ar = calloc(1, sizeof(*ar));
	if (ar == NULL)
		return -ENOMEM;
	ar->lock_fd = -1;
	ar->note = cfg->note;
	ar->note_arg = cfg->note_arg;
	r = autoroute_os_open(&ar->os);
	if (r < 0) {
		errtext_set(err, errlen,
			    r == -ENOTSUP ? "auto-route is not supported on this platform"
					  : "auto-route: cannot open a routing socket: %s",
			    strerror(-r));
		goto fail;
	}
	r = autoroute_os_plan(ar->os, pc, &ar->plan, err, errlen);
	if (r < 0)
		goto fail;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		errtext_set(err, errlen, "auto-route: cannot create %s: %s", dir, strerror(-r));
		goto fail;
	}
	r = paths(dir, pc->tun_name, ar->state_path, ar->lock_path, sizeof(ar->state_path));
	if (r < 0) {
		errtext_set(err, errlen, "auto-route: state directory name too long");
		goto fail;
	}
	r = lock_open(ar->lock_path);
	if (r < 0) {
		if (r == -EWOULDBLOCK) {
			errtext_set(
				err, errlen,
				"auto-route: tun2socks (pid %lu) already runs with TUN %s (%s): "
				"stop "
				"it first, or give this one another --tun",
				state_pid(ar->state_path), pc->tun_name, ar->state_path);
			r = -EBUSY;
		} else {
			errtext_set(err, errlen, "auto-route: %s: %s", ar->lock_path, strerror(-r));
		}
		ar->state_path[0] = '\0';
		goto fail;
	}
	ar->lock_fd = r;
	backup_path(ar->state_path, ar->resolv_backup, sizeof(ar->resolv_backup));
	/* What daemons that are gone left behind, ours first. */
	(void)clean_dir(ar->os, dir, NULL, pc->tun_name, cfg->note, cfg->note_arg, NULL, 0,
			&cleaned);
	r = autoroute_os_in_use(ar->os, pc->table, pc->rule_index, pc->rule_index + ROUTE_PLAN_SPAN,
				what, sizeof(what));
	if (r == -EEXIST) {
		errtext_set(err, errlen,
			    "auto-route: table %u or rule priorities %u-%u are in use ('%s'): is "
			    "another tun2socks, mihomo or sing-box running? Choose others with "
			    "--iproute2-table-index / --iproute2-rule-index, or remove it "
			    "(`tun2socks cleanup` removes what a tun2socks left)",
			    pc->table, pc->rule_index, pc->rule_index + ROUTE_PLAN_SPAN, what);
		goto fail_unlock;
	}
	if (r < 0) {
		errtext_set(err, errlen, "auto-route: cannot list rules and routes: %s",
			    strerror(-r));
		goto fail_unlock;
	}
	st.pid = (unsigned long)getpid();
	st.netns = autoroute_os_netns();
	snprintf(st.tun, sizeof(st.tun), "%s", pc->tun_name);
	st.table = pc->table;
	st.rule_index = pc->rule_index;
	ar->st = st;
	st.obj = ar->plan.obj;
	st.n = ar->plan.n;
	r = write_state(ar->state_path, &st);
	if (r < 0) {
		errtext_set(err, errlen, "auto-route: cannot write %s: %s", ar->state_path,
			    strerror(-r));
		goto fail_unlock;
	}
	for (; ar->applied < ar->plan.n; ar->applied++) {
		const struct route_obj *o = &ar->plan.obj[ar->applied];

		kerr[0] = '\0';
		r = autoroute_os_change(ar->os, true, o, kerr, sizeof(kerr));
		if (r < 0) {
			route_text_format(o, what, sizeof(what));
			errtext_set(err, errlen, "auto-route: adding '%s': %s%s%s%s", what,
				    strerror(-r), kerr[0] ? " (" : "", kerr, kerr[0] ? ")" : "");
			goto fail_undo;
		}
	}
	*out = ar;
	return 0;

fail_undo:
	if (undo(ar->os, ar->plan.obj, ar->applied, ar->note, ar->note_arg, NULL) == 0)
		unlink(ar->state_path);
	else
		ar->lock_path[0] = '\0'; /* the state file stays for cleanup */
fail_unlock:
	if (ar->lock_path[0])
		unlink(ar->lock_path);
	close(ar->lock_fd);
fail:
	autoroute_os_close(ar->os);
	route_plan_free(&ar->plan);
	free(ar);
	return r;
}
