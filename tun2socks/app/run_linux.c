/* run: the supervisor on Linux (see run.h; docs/design.md §14).
 *
 * Three processes. The supervisor is the one the user started; it stays
 * in the host's namespaces and only waits. CMD's child (netns.h) makes the
 * namespaces and the TUN, hands the TUN over, and on the go becomes CMD.
 * The daemon's child runs daemon_run() on that TUN (the --tun-fd path), in
 * the host's network namespace, so its sockets to the proxy, DIRECT and
 * DNS use the host's network and never come back into the TUN. The
 * daemon keeps its own signals (SIGHUP reloads, SIGTERM stops) in a
 * process group of its own, out of reach of the terminal's ^C; the
 * supervisor passes signals on to CMD instead and stops the daemon when
 * CMD is gone.
 *
 * The supervisor waits in poll() on a signalfd (children, signals to pass
 * on), the handshake socket and the daemon's ready pipe, stepping through
 * enum run_state.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun2socks/app/run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tun2socks/app/daemon.h"
#include "tun2socks/app/generation.h"
#include "tun2socks/app/netns.h"
#include "tun2socks/base/log.h"

/* How long the daemon and CMD's leftovers get after SIGTERM before
 * SIGKILL, and how long after SIGKILL before the supervisor gives up. */
#define RUN_TERM_MS 5000
#define RUN_KILL_MS 2000
/* How often the leftovers are counted while they stop. */
#define RUN_SCAN_MS 50

enum run_state {
	RUN_SETUP, /* CMD's child makes the namespaces and the TUN */
	RUN_START, /* the daemon starts on the TUN */
	RUN_EXEC,  /* CMD's child was told to execute CMD */
	RUN_CMD,   /* CMD runs */
	RUN_STOP,  /* CMD is gone or never came: the rest stops */
};

static const char *const state_names[] = { "setup", "start", "exec", "cmd", "stop" };

struct run {
	const struct options *cli;
	struct options eff; /* the command line with the config applied */
	enum run_state state;
	pid_t self;
	pid_t cmd, daemon; /* 0 before the fork and once reaped */
	int cmd_wstatus;
	int sock;   /* the handshake with CMD's child, or -1 */
	int ready;  /* the daemon's ready pipe, read end, or -1 */
	int tun;    /* the TUN between the children, or -1 */
	int diag;   /* sock_diag in CMD's namespace, for the daemon, or -1 */
	int lfd[8]; /* --allow-host-port listeners inside, for the daemon */
	unsigned n_lfd;
	int sfd;          /* signalfd */
	sigset_t oldmask; /* as we were started: CMD's and the daemon's */
	bool have_ns;     /* CMD's network namespace, once it exists */
	dev_t ns_dev;
	ino_t ns_ino;
	int kill_step;     /* 0, 1: SIGTERM sent, 2: SIGKILL sent */
	uint64_t deadline; /* ms (CLOCK_MONOTONIC) of the next step, or 0 */
	int exit_code;     /* -1: CMD's exit status */
	char resolv[4096]; /* CMD's resolv.conf */
};

/* The signals passed on to CMD. */
static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static uint64_t run_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_set_state(struct run *r, enum run_state s)
{
	log_debug("run: %s -> %s", state_names[r->state], state_names[s]);
	r->state = s;
}

/* kill() for a process of ours: one that is gone already (ESRCH) is what
 * we wanted; anything else is worth a line at debug. */
static void run_kill(pid_t pid, int sig)
{
	if (pid > 0 && kill(pid, sig) < 0 && errno != ESRCH)
		log_debug("run: kill %d: %s", (int)pid, strerror(errno));
}

static void run_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- before the children ------------------------------------------------ */

static void run_print_line(void *arg, bool error, const char *line)
{
	(void)arg;
	if (error)
		log_error("%s", line);
}

/* The TUN and DNS settings the daemon will run by: the config file's,
 * unless the command line set them. Errors are printed here; warnings are
 * left to the daemon, which loads the file again. */
static int run_effective(struct run *r)
{
	struct generation_req req = { .cli = r->cli, .no_resolve = true };
	struct generation_diag diag;
	struct generation g;
	int rc;

	if (r->cli->config_path == NULL) {
		options_copy(&r->eff, r->cli);
		return 0;
	}
	rc = generation_load(&req, &g, &diag);
	if (rc < 0)
		generation_report(&g, &diag, rc, run_print_line, NULL);
	else
		options_copy(&r->eff, &g.opts);
	generation_free(&g);
	return rc;
}

/* CMD's resolv.conf text, or NULL for the host's (--dns off: port 53 is
 * relayed like any flow, so queries must go to real servers). */
static const char *run_make_resolv(struct run *r)
{
	char servers[2][64], host[4096];
	const char *list[2];
	size_t n, len = 0;
	FILE *f;

	if (r->eff.dns.mode == DNS_MODE_OFF) {
		log_info("run: --dns off: CMD keeps the host's resolv.conf");
		return NULL;
	}
	n = run_dns_servers(&r->eff.tun, servers, 2);
	for (size_t i = 0; i < n; i++)
		list[i] = servers[i];
	host[0] = '\0';
	f = fopen("/etc/resolv.conf", "re");
	if (f) {
		len = fread(host, 1, sizeof(host) - 1, f);
		host[len] = '\0';
		fclose(f);
	}
	if (run_resolv_conf(host, list, n, r->resolv, sizeof(r->resolv)) < 0 &&
	    run_resolv_conf(NULL, list, n, r->resolv, sizeof(r->resolv)) < 0)
		return NULL; /* cannot happen: 4 KiB hold two name servers */
	return r->resolv;
}

static long run_read_sysctl(const char *path)
{
	char buf[32] = "";
	long v = -1;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

/* The one error line for a failed setup step of CMD's child. */
static void run_report_setup(const struct netns_report *rep, bool userns)
{
	struct run_ns_facts f = {
		.err = rep->err,
		.userns = userns,
		.step = rep->step,
		.unprivileged_clone =
			(int)run_read_sysctl("/proc/sys/kernel/unprivileged_userns_clone"),
		.max_user_ns = run_read_sysctl("/proc/sys/user/max_user_namespaces"),
		.apparmor_restrict = (int)run_read_sysctl(
			"/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
	};
	char line[768];

	if (strcmp(rep->step, "unshare") == 0 || strncmp(rep->step, "write /proc/self/", 17) == 0 ||
	    strcmp(rep->step, "open /dev/net/tun") == 0) {
		run_ns_hint(&f, line, sizeof(line));
		log_error("run: %s", line);
		return;
	}
	log_error("run: cannot make CMD's namespace: %s%s%s: %s", rep->step,
		  rep->text[0] ? " " : "", rep->text, strerror(rep->err));
}

/* ---- the children ------------------------------------------------------- */

static int run_fork_cmd(struct run *r, const struct netns_config *nc)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_error("run: socketpair: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		log_error("run: fork: %s", strerror(e));
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		close(r->sfd);
		netns_child(nc, sv[1]);
	}
	close(sv[1]);
	r->sock = sv[0];
	r->cmd = pid;
	return 0;
}

/* The daemon's child: daemon_run() on the TUN, with the TUN settings CMD's
 * TUN was made with (given: a config reload cannot move them). Never
 * returns. */
static _Noreturn void run_daemon_child(struct run *r, int ready_w)
{
	struct options *cfg = malloc(sizeof(*cfg));
	int null, rc = RUN_EXIT_FAILED;

	/* A process group of its own: the terminal's ^C is CMD's, not ours
	 * (the supervisor stops us once CMD is gone). */
	if (setpgid(0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != r->self)
		_exit(RUN_EXIT_FAILED);
	close(r->sock);
	close(r->sfd);
	close(r->ready);
	/* Never read the terminal, nor stop when writing to it from the
	 * background (stty tostop). */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(RUN_EXIT_FAILED);
	close(null);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	if (cfg == NULL || sigprocmask(SIG_SETMASK, &r->oldmask, NULL) < 0)
		_exit(RUN_EXIT_FAILED);
	options_copy(cfg, r->cli);
	cfg->tun.fd = r->tun;
	cfg->tun.offload = 1; /* CMD's child made it with IFF_VNET_HDR */
	cfg->tun.mtu = r->eff.tun.mtu;
	cfg->tun.has_addr4 = r->eff.tun.has_addr4;
	memcpy(cfg->tun.addr4, r->eff.tun.addr4, 4);
	cfg->tun.prefix4 = r->eff.tun.prefix4;
	cfg->tun.has_addr6 = r->eff.tun.has_addr6;
	memcpy(cfg->tun.addr6, r->eff.tun.addr6, 16);
	cfg->tun.prefix6 = r->eff.tun.prefix6;
	cfg->given |= 1ull << OPT_MTU | 1ull << OPT_TUN_ADDR | 1ull << OPT_TUN_ADDR6;
	cfg->ready_fd = ready_w;
	cfg->proc_diag_fd = r->diag;
	for (unsigned i = 0; i < r->n_lfd; i++)
		cfg->host_port_fds[i] = r->lfd[i];
	rc = daemon_run(cfg);
	free(cfg);
	exit(rc);
}

static int run_fork_daemon(struct run *r)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("run: pipe: %s", strerror(errno));
		return -errno;
	}
	r->ready = p[0];
	pid = fork();
	if (pid < 0) {
		int e = errno;

		log_error("run: fork: %s", strerror(e));
		close(p[1]);
		return -e;
	}
	if (pid == 0)
		run_daemon_child(r, p[1]);
	close(p[1]);
	r->daemon = pid;
	/* The daemon holds the TUN now; ours would keep the device alive
	 * after it. */
	run_close(&r->tun);
	run_close(&r->diag);
	for (unsigned i = 0; i < r->n_lfd; i++)
		run_close(&r->lfd[i]);
	return 0;
}

/* Remembers CMD's network namespace, to find what CMD leaves behind.
 * Never our own: run_signal_ns() would then hit the host's processes. */
static void run_note_ns(struct run *r)
{
	char path[64];
	struct stat ns, self;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)r->cmd);
	if (stat(path, &ns) < 0 || stat("/proc/self/ns/net", &self) < 0) {
		log_warn("run: cannot tell CMD's namespace (%s): processes CMD leaves behind "
			 "will not be stopped",
			 strerror(errno));
		return;
	}
	if (ns.st_dev == self.st_dev && ns.st_ino == self.st_ino) {
		log_error("run: CMD's child is still in our network namespace");
		return;
	}
	r->have_ns = true;
	r->ns_dev = ns.st_dev;
	r->ns_ino = ns.st_ino;
}

/* Sends sig (0: none) to every process in CMD's network namespace: CMD's
 * background children outlive it, in a namespace whose TUN is gone. Only
 * processes made inside can be there (entering it takes privileges over
 * it). Returns how many there are. */
static int run_signal_ns(const struct run *r, int sig)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (!r->have_ns)
		return 0;
	d = opendir("/proc");
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300];
		struct stat st;
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || pid == r->self || pid == r->daemon)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		/* A zombie has no namespaces any more: it is gone for us. */
		if (stat(path, &st) < 0 || st.st_dev != r->ns_dev || st.st_ino != r->ns_ino)
			continue;
		n++;
		if (sig)
			run_kill((pid_t)pid, sig);
	}
	closedir(d);
	return n;
}

/* ---- stopping ------------------------------------------------------------ */

/* CMD is gone, or never came, or must go: SIGTERM to what is left (CMD,
 * its leftovers, the daemon), SIGKILL RUN_TERM_MS later. */
static void run_stop(struct run *r, bool stop_cmd)
{
	if (r->kill_step > 0)
		return;
	r->kill_step = 1;
	r->deadline = run_now_ms() + RUN_TERM_MS;
	if (stop_cmd)
		run_kill(r->cmd, r->state == RUN_CMD || r->state == RUN_EXEC ? SIGTERM : SIGKILL);
	run_kill(r->daemon, SIGTERM);
	run_signal_ns(r, SIGTERM);
}

static void run_deadline(struct run *r)
{
	if (r->kill_step == 1) {
		log_warn("run: still running %d s after SIGTERM: SIGKILL", RUN_TERM_MS / 1000);
		run_kill(r->cmd, SIGKILL);
		run_kill(r->daemon, SIGKILL);
		run_signal_ns(r, SIGKILL);
		r->kill_step = 2;
		r->deadline = run_now_ms() + RUN_KILL_MS;
		return;
	}
	log_error("run: processes outlive SIGKILL (stuck in the kernel?): giving up on them");
	r->have_ns = false;
	r->cmd = r->daemon = 0;
	r->deadline = 0;
}

/* Everything is gone. */
static bool run_done(const struct run *r)
{
	return r->state == RUN_STOP && r->cmd == 0 && r->daemon == 0 && run_signal_ns(r, 0) == 0;
}

/* ---- events -------------------------------------------------------------- */

static void run_on_cmd_exit(struct run *r, int wstatus)
{
	r->cmd = 0;
	r->cmd_wstatus = wstatus;
	if (r->state == RUN_CMD || r->state == RUN_EXEC) {
		log_debug("run: CMD ended, exit status %d", run_exit_status(wstatus));
		run_set_state(r, RUN_STOP);
		run_stop(r, false);
	}
	/* In SETUP the report (or its absence) on the socket says what
	 * happened; in START the child had a reason to die: run_stop. */
}

static void run_on_daemon_exit(struct run *r, int wstatus)
{
	r->daemon = 0;
	if (r->state == RUN_STOP && r->kill_step > 0) {
		if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) &&
		    !(WIFSIGNALED(wstatus) && r->kill_step == 2))
			log_warn("run: the daemon stopped with exit status %d",
				 run_exit_status(wstatus));
		return;
	}
	if (r->state == RUN_START)
		return; /* its ready pipe says the rest */
	log_error("run: the daemon stopped (exit status %d) while CMD ran: stopping CMD",
		  run_exit_status(wstatus));
	r->exit_code = RUN_EXIT_FAILED;
	run_stop(r, true);
}

static void run_reap(struct run *r)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		if (pid == r->cmd)
			run_on_cmd_exit(r, wstatus);
		else if (pid == r->daemon)
			run_on_daemon_exit(r, wstatus);
		/* else one of CMD's orphans: we are their subreaper */
	}
}

/* Before CMD runs, a signal ends run; afterwards it goes on to CMD. */
static void run_on_signal(struct run *r, const struct signalfd_siginfo *si)
{
	int sig = (int)si->ssi_signo;

	if (sig == SIGCHLD) {
		run_reap(r);
		return;
	}
	if (r->state == RUN_SETUP || r->state == RUN_START) {
		log_info("run: %s before CMD started: stopping", strsignal(sig));
		r->exit_code = 128 + sig;
		run_close(&r->sock);
		run_set_state(r, RUN_STOP);
		run_stop(r, true);
		return;
	}
	if (r->state == RUN_STOP) {
		if ((sig == SIGINT || sig == SIGTERM) && r->kill_step == 1)
			r->deadline = run_now_ms(); /* asked twice: SIGKILL now */
		return;
	}
	if (r->cmd > 0 && run_should_forward(si->ssi_code, (pid_t)si->ssi_pid, r->cmd)) {
		log_debug("run: passing %s on to CMD", strsignal(sig));
		run_kill(r->cmd, sig);
	}
}

static void run_on_setup(struct run *r, bool userns)
{
	struct netns_report rep;
	int rc = netns_recv_tun(r->sock, &r->tun, &rep);

	if (rc == -EPIPE) {
		log_error("run: the child making CMD's namespace ended without a word");
	} else if (rc < 0) {
		run_report_setup(&rep, userns);
	} else {
		r->diag = netns_recv_diag(r->sock);
		if (r->diag < 0)
			log_warn("run: no sock_diag socket in CMD's namespace: PROCESS-NAME rules "
				 "will not see CMD");
		for (r->n_lfd = 0; r->n_lfd < r->eff.n_host_ports && r->n_lfd < 8; r->n_lfd++)
			r->lfd[r->n_lfd] = netns_recv_listener(r->sock);
		run_note_ns(r);
		if (run_fork_daemon(r) == 0) {
			run_set_state(r, RUN_START);
			return;
		}
	}
	r->exit_code = RUN_EXIT_FAILED;
	run_close(&r->sock);
	run_set_state(r, RUN_STOP);
	run_stop(r, true);
}

static void run_on_ready(struct run *r)
{
	char c;
	ssize_t n;

	do
		n = read(r->ready, &c, 1);
	while (n < 0 && errno == EINTR);
	run_close(&r->ready);
	if (n == 1 && netns_go(r->sock) == 0) {
		log_info("run: CMD pid %d, daemon pid %d", (int)r->cmd, (int)r->daemon);
		run_set_state(r, RUN_EXEC);
		return;
	}
	if (n == 1)
		log_error("run: CMD's child went away");
	else
		log_error("run: the daemon did not start (its reason is above)");
	r->exit_code = RUN_EXIT_FAILED;
	run_close(&r->sock);
	run_set_state(r, RUN_STOP);
	run_stop(r, true);
}

static void run_on_exec(struct run *r)
{
	struct netns_report rep;
	int rc = netns_recv_exec(r->sock, &rep);

	run_close(&r->sock);
	if (rc == 0) {
		if (r->state == RUN_EXEC)
			run_set_state(r, RUN_CMD);
		return;
	}
	if (strcmp(rep.step, "execvp") == 0) {
		log_error("run: %s: %s", rep.text, strerror(rep.err));
		r->exit_code = rep.err == ENOENT ? RUN_EXIT_NOTFOUND : RUN_EXIT_NOEXEC;
	} else {
		log_error("run: cannot start CMD: %s %s: %s", rep.step, rep.text,
			  strerror(rep.err));
		r->exit_code = RUN_EXIT_FAILED;
	}
	if (r->state != RUN_STOP)
		run_set_state(r, RUN_STOP);
	run_stop(r, false);
}

/* ---- the loop -------------------------------------------------------------- */

static int run_loop(struct run *r, bool userns)
{
	while (!run_done(r)) {
		struct pollfd p[3];
		int n = 0, i_sock = -1, i_ready = -1, timeout = -1, rc;
		uint64_t now;

		p[n++] = (struct pollfd){ .fd = r->sfd, .events = POLLIN };
		/* Open in STOP only when CMD's child was told to go: its
		 * exec failure is yet to be read. */
		if (r->sock >= 0 && r->state != RUN_START) {
			i_sock = n;
			p[n++] = (struct pollfd){ .fd = r->sock, .events = POLLIN };
		}
		if (r->ready >= 0 && r->state == RUN_START) {
			i_ready = n;
			p[n++] = (struct pollfd){ .fd = r->ready, .events = POLLIN };
		}
		now = run_now_ms();
		if (r->deadline)
			timeout = r->deadline > now ? (int)(r->deadline - now) : 0;
		if (r->state == RUN_STOP && (timeout < 0 || timeout > RUN_SCAN_MS))
			timeout = RUN_SCAN_MS; /* leftovers are not our children */
		rc = poll(p, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR) {
			log_error("run: poll: %s", strerror(errno));
			return -errno;
		}
		if (rc > 0 && p[0].revents) {
			struct signalfd_siginfo si;

			while (read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				run_on_signal(r, &si);
		}
		/* The signals just read may have moved on (an abort closes
		 * the socket). */
		if (i_sock >= 0 && p[i_sock].revents && r->sock >= 0) {
			if (r->state == RUN_SETUP)
				run_on_setup(r, userns);
			else
				run_on_exec(r);
		}
		if (i_ready >= 0 && p[i_ready].revents && r->state == RUN_START)
			run_on_ready(r);
		if (r->deadline && run_now_ms() >= r->deadline)
			run_deadline(r);
	}
	return 0;
}

/* ---- run_main ------------------------------------------------------------ */

static int run_prepare(struct run *r, struct netns_config *nc)
{
	struct run_id_facts facts = {
		.ruid = getuid(),
		.euid = geteuid(),
		.rgid = getgid(),
		.sudo_uid = getenv("SUDO_UID"),
		.sudo_gid = getenv("SUDO_GID"),
	};
	struct run_ids ids;
	char err[256];

	if (run_effective(r) < 0)
		return -EINVAL;
	log_set_level(r->eff.log_level);
	if (run_check_options(&r->eff, err, sizeof(err)) < 0) {
		log_error("run: %s", err);
		return -EINVAL;
	}
	if (run_target_ids(&facts, &ids) < 0) {
		log_error("run: SUDO_UID/SUDO_GID are not numbers: who should CMD run as? (unset "
			  "both to run it as root)");
		return -EINVAL;
	}
	memset(nc, 0, sizeof(*nc));
	nc->tun = r->eff.tun;
	nc->tun.fd = -1;
	nc->tun.framing = -1;
	nc->tun.offload = 0;
	nc->userns = geteuid() != 0;
	nc->drop = ids.drop;
	nc->uid = ids.uid;
	nc->gid = ids.gid;
	nc->resolv = run_make_resolv(r);
	nc->argv = r->cli->run_argv;
	nc->sigmask = r->oldmask;
	nc->parent = r->self;
	nc->host_ports = r->eff.host_ports;
	nc->n_host_ports = r->eff.n_host_ports;
	return 0;
}

/* Signals arrive on the signalfd from here on; children put the mask back
 * (r->oldmask). SIGPIPE and SIGTTOU are only blocked, so that CMD keeps
 * the dispositions it was started with: a closed stderr must not kill the
 * supervisor, nor a line to the terminal stop it while CMD (a shell, say)
 * has the terminal's foreground (stty tostop). */
static int run_signals(struct run *r)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	r->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGTTOU);
	if (r->sfd < 0 || sigprocmask(SIG_BLOCK, &set, &r->oldmask) < 0) {
		log_error("run: cannot watch signals: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int run_main(const struct options *cli)
{
	struct netns_config nc;
	struct run *r = calloc(1, sizeof(*r));
	int ret = RUN_EXIT_FAILED;

	log_set_level(cli->log_level);
	if (r == NULL) {
		log_error("run: out of memory");
		return RUN_EXIT_FAILED;
	}
	r->cli = cli;
	r->self = getpid();
	r->sock = r->ready = r->tun = r->diag = r->sfd = -1;
	r->exit_code = -1;
	if (run_signals(r) < 0)
		goto out;
	if (run_prepare(r, &nc) < 0)
		goto out_mask;
	/* CMD's orphans come to us, so that none outlives run unnoticed. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_debug("run: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if (run_fork_cmd(r, &nc) < 0)
		goto out_mask;
	if (run_loop(r, nc.userns) < 0) {
		/* poll failed: take everything down the hard way */
		run_kill(r->cmd, SIGKILL);
		run_kill(r->daemon, SIGKILL);
		goto out_mask;
	}
	ret = r->exit_code >= 0 ? r->exit_code : run_exit_status(r->cmd_wstatus);
out_mask:
	run_close(&r->sock);
	run_close(&r->ready);
	run_close(&r->tun);
	run_close(&r->diag);
	for (unsigned i = 0; i < r->n_lfd; i++)
		run_close(&r->lfd[i]);
	if (sigprocmask(SIG_SETMASK, &r->oldmask, NULL) < 0)
		log_debug("run: sigprocmask: %s", strerror(errno));
out:
	run_close(&r->sfd);
	free(r);
	return ret;
}
