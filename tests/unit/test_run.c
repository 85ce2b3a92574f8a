/* `tun2socks run`: the command line (where CMD starts), and the pure
 * decisions of tun2socks/app/run.c: exit status, option checks, CMD's
 * name servers and resolv.conf, its identity, which signals go on to it,
 * the message when namespaces are refused. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tun2socks/app/cli.h"
#include "tun2socks/app/run.h"
#include "test.h"

/* argv from a NULL-terminated list; argv stays alive for run_argv. */
static char *argv_buf[32];

static int parsev(struct options *c, char *err, const char *const *args)
{
	int argc = 0;

	argv_buf[argc++] = "tun2socks";
	for (; *args && argc < 31; args++)
		argv_buf[argc++] = (char *)*args;
	argv_buf[argc] = NULL;
	return cli_parse(argc, argv_buf, c, err, 256);
}

#define T_ERR(err, prefix) T_EQ_INT(strncmp((err), (prefix), strlen(prefix)), 0)

static void test_cli_split(void)
{
	struct options c;
	char err[256];

	/* Options up to "--", CMD after it, its own options included. */
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h:1080", "--log-level",
					       "warn", "--", "curl", "-s", "--proxy", "x", NULL }),
		 CLI_RUN_CMD);
	T_CHECK(c.has_proxy);
	T_EQ_INT(c.log_level, LOG_WARN);
	T_EQ_STR(c.run_argv[0], "curl");
	T_EQ_STR(c.run_argv[1], "-s");
	T_EQ_STR(c.run_argv[3], "x");
	T_CHECK(c.run_argv[4] == NULL);
	/* Without "--", the first word that is no option starts CMD. */
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "-c", "f.yaml", "sh", "-c", "exit 7", NULL }),
		 CLI_RUN_CMD);
	T_EQ_STR(c.config_path, "f.yaml");
	T_EQ_STR(c.run_argv[0], "sh");
	T_EQ_STR(c.run_argv[2], "exit 7");
	/* "--" twice: the second is CMD's. */
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--", "--", NULL }),
		 CLI_RUN_CMD);
	T_EQ_STR(c.run_argv[0], "--");
	/* An option's value is never taken for CMD. */
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--mtu", "1500",
					       "true", NULL }),
		 CLI_RUN_CMD);
	T_EQ_INT(c.tun.mtu, 1500);
	T_EQ_STR(c.run_argv[0], "true");
	/* The daemon without run: no CMD to find. */
	T_EQ_INT(parsev(&c, err, (const char *const[]){ "--proxy", "socks5://h", NULL }), CLI_RUN);
	T_CHECK(c.run_argv == NULL);
}

static void test_cli_errors(void)
{
	struct options c;
	char err[256];

	T_EQ_INT(parsev(&c, err, (const char *const[]){ "run", "--proxy", "socks5://h", NULL }),
		 -EINVAL);
	T_EQ_STR(err, "run needs a command: tun2socks run [options] -- CMD [ARGS...]");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--", NULL }),
		 -EINVAL);
	T_ERR(err, "run needs a command");
	T_EQ_INT(parsev(&c, err, (const char *const[]){ "run", "--", "true", NULL }), -EINVAL);
	T_EQ_STR(err, "--proxy or -c FILE is required (see --help)");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--tun-fd", "3",
					       "--", "true", NULL }),
		 -EINVAL);
	T_ERR(err, "--tun-fd does not go with run");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--tun-framing",
					       "raw", "true", NULL }),
		 -EINVAL);
	T_ERR(err, "--tun-framing does not go with run");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--tun-addr", "none",
					       "--tun-addr6", "none", "true", NULL }),
		 -EINVAL);
	T_ERR(err, "run needs --tun-addr or --tun-addr6");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--mtu", "1000",
					       "true", NULL }),
		 -EINVAL);
	T_ERR(err, "--mtu: IPv6 needs at least 1280");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--mtu", "1000",
					       "--tun-addr6", "none", "true", NULL }),
		 CLI_RUN_CMD);
	/* match's flags stay match's. */
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--udp", "true",
					       NULL }),
		 -EINVAL);
	T_ERR(err, "--udp only goes with match");
	T_EQ_INT(parsev(&c, err,
			(const char *const[]){ "run", "--proxy", "socks5://h", "--bogus", "true",
					       NULL }),
		 -EINVAL);
	T_ERR(err, "unknown option '--bogus'");
}

static void test_exit_status(void)
{
	T_EQ_INT(run_exit_status(0), 0);
	T_EQ_INT(run_exit_status(7 << 8), 7);
	T_EQ_INT(run_exit_status(255 << 8), 255);
	T_EQ_INT(run_exit_status(SIGINT), 130);
	T_EQ_INT(run_exit_status(SIGKILL), 137);
	T_EQ_INT(run_exit_status(SIGSEGV | 0x80), 128 + SIGSEGV); /* core dumped */
	/* What the kernel really reports. */
	{
		int st;
		pid_t pid = fork();

		if (pid == 0)
			_exit(42);
		T_EQ_INT(waitpid(pid, &st, 0), pid);
		T_EQ_INT(run_exit_status(st), 42);
		pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			raise(SIGTERM);
			_exit(1);
		}
		T_EQ_INT(waitpid(pid, &st, 0), pid);
		T_EQ_INT(run_exit_status(st), 143);
	}
}

static void test_dns_servers(void)
{
	struct tun_config t = { .has_addr4 = true,
				.addr4 = { 198, 18, 0, 1 },
				.prefix4 = 15,
				.has_addr6 = true,
				.addr6 = { 0xfd, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0, 0, 0, 0, 0, 0, 0,
					   0, 0, 1 },
				.prefix6 = 126 };
	char out[2][64];

	T_EQ_INT(run_dns_servers(&t, out, 2), 2);
	T_EQ_STR(out[0], "198.18.0.2");
	T_EQ_STR(out[1], "fdfe:dcba:9876::2");
	T_EQ_INT(run_dns_servers(&t, out, 1), 1); /* IPv4 first */
	T_EQ_STR(out[0], "198.18.0.2");
	/* The next address would be the subnet's broadcast: the previous. */
	memcpy(t.addr4, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	t.prefix4 = 30;
	T_EQ_INT(run_dns_servers(&t, out, 2), 2);
	T_EQ_STR(out[0], "10.0.0.1");
	memcpy(t.addr4, (uint8_t[]){ 10, 0, 0, 254 }, 4);
	t.prefix4 = 24;
	run_dns_servers(&t, out, 2);
	T_EQ_STR(out[0], "10.0.0.253");
	memcpy(t.addr4, (uint8_t[]){ 10, 0, 1, 255 }, 4);
	t.prefix4 = 16;
	run_dns_servers(&t, out, 2);
	T_EQ_STR(out[0], "10.0.1.254");
	/* /32: any other address is routed into the TUN too. */
	memcpy(t.addr4, (uint8_t[]){ 10, 0, 0, 5 }, 4);
	t.prefix4 = 32;
	run_dns_servers(&t, out, 2);
	T_EQ_STR(out[0], "10.0.0.6");
	/* One family only. */
	t.has_addr4 = false;
	t.addr6[15] = 0xff;
	T_EQ_INT(run_dns_servers(&t, out, 2), 1);
	T_EQ_STR(out[0], "fdfe:dcba:9876::fe");
	t.has_addr6 = false;
	T_EQ_INT(run_dns_servers(&t, out, 2), 0);
}

static void test_resolv_conf(void)
{
	const char *servers[] = { "198.18.0.2", "fdfe:dcba:9876::2" };
	const char *host = "# generated by something\n"
			   "nameserver 127.0.0.53\n"
			   "options edns0 trust-ad\n"
			   "search corp.example.com example.com\n"
			   "domain corp.example.com\n"
			   "sortlist 130.155.160.0/255.255.240.0\n"
			   "searchx not-a-key\n"
			   "options\n"
			   "search\tlast.example"; /* no final newline */
	char out[512], tiny[40];

	T_EQ_INT(run_resolv_conf(host, servers, 2, out, sizeof(out)), 0);
	T_EQ_STR(out, "# tun2socks run: queries go into the TUN, where the daemon answers them\n"
		      "nameserver 198.18.0.2\n"
		      "nameserver fdfe:dcba:9876::2\n"
		      "options edns0 trust-ad\n"
		      "search corp.example.com example.com\n"
		      "domain corp.example.com\n"
		      "search\tlast.example\n");
	/* No host file. */
	T_EQ_INT(run_resolv_conf(NULL, servers, 1, out, sizeof(out)), 0);
	T_EQ_STR(out, "# tun2socks run: queries go into the TUN, where the daemon answers them\n"
		      "nameserver 198.18.0.2\n");
	/* Too small: an error, never a cut file. */
	T_EQ_INT(run_resolv_conf(host, servers, 2, tiny, sizeof(tiny)), -ENOBUFS);
	T_EQ_INT(run_resolv_conf(host, servers, 2, out, 0), -ENOBUFS);
	T_EQ_INT(run_resolv_conf(host, servers, 2, out, 140), -ENOBUFS);
}

static void test_target_ids(void)
{
	struct run_id_facts f = { .ruid = 1000, .euid = 1000, .rgid = 1000 };
	struct run_ids ids;

	/* Not root: a user namespace, no change of identity. */
	f.sudo_uid = "0";
	T_EQ_INT(run_target_ids(&f, &ids), 0);
	T_CHECK(!ids.drop);
	/* Set-uid root: the real user. */
	f = (struct run_id_facts){ .ruid = 1000, .euid = 0, .rgid = 100, .sudo_uid = "5" };
	T_EQ_INT(run_target_ids(&f, &ids), 0);
	T_CHECK(ids.drop);
	T_EQ_INT(ids.uid, 1000);
	T_EQ_INT(ids.gid, 100);
	/* sudo: the user who ran it. */
	f = (struct run_id_facts){ .ruid = 0, .euid = 0, .sudo_uid = "1001", .sudo_gid = "1002" };
	T_EQ_INT(run_target_ids(&f, &ids), 0);
	T_CHECK(ids.drop);
	T_EQ_INT(ids.uid, 1001);
	T_EQ_INT(ids.gid, 1002);
	/* root itself, or sudo from root: stays root. */
	f.sudo_uid = NULL;
	T_EQ_INT(run_target_ids(&f, &ids), 0);
	T_CHECK(!ids.drop);
	f.sudo_uid = "0";
	f.sudo_gid = "0";
	T_EQ_INT(run_target_ids(&f, &ids), 0);
	T_CHECK(!ids.drop);
	/* Garbage is refused, never half-used. */
	f.sudo_uid = "1000x";
	T_EQ_INT(run_target_ids(&f, &ids), -EINVAL);
	T_CHECK(!ids.drop);
	f.sudo_uid = "1000";
	f.sudo_gid = NULL;
	T_EQ_INT(run_target_ids(&f, &ids), -EINVAL);
	f.sudo_gid = "-1";
	T_EQ_INT(run_target_ids(&f, &ids), -EINVAL);
	f.sudo_gid = "4294967295"; /* (gid_t)-1 means "unchanged" to setgid */
	T_EQ_INT(run_target_ids(&f, &ids), -EINVAL);
}

static void test_should_forward(void)
{
	/* kill(1) from a shell: on to CMD. */
	T_CHECK(run_should_forward(SI_USER, 4000, 1234));
	T_CHECK(run_should_forward(SI_QUEUE, 4000, 1234));
	T_CHECK(run_should_forward(SI_TKILL, 4000, 1234));
	/* The terminal's ^C reached CMD already. */
	T_CHECK(!run_should_forward(SI_KERNEL, 0, 1234));
	/* CMD signalled its group (us too): not back to it. */
	T_CHECK(!run_should_forward(SI_USER, 1234, 1234));
}

static void test_ns_hint(void)
{
	struct run_ns_facts f = { .err = EPERM,
				  .userns = true,
				  .step = "unshare",
				  .unprivileged_clone = 0,
				  .max_user_ns = 1000,
				  .apparmor_restrict = -1 };
	char out[512];

	run_ns_hint(&f, out, sizeof(out));
	T_EQ_STR(out,
		 "cannot make CMD's namespace: unshare: Operation not permitted: unprivileged "
		 "user namespaces are disabled (kernel.unprivileged_userns_clone=0): sysctl -w "
		 "kernel.unprivileged_userns_clone=1, or run as root");
	f.unprivileged_clone = -1;
	f.apparmor_restrict = 1;
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "kernel.apparmor_restrict_unprivileged_userns=1") != NULL);
	f.apparmor_restrict = 0;
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "seccomp") != NULL);
	f.err = ENOSPC;
	f.max_user_ns = 0;
	run_ns_hint(&f, out, sizeof(out));
	T_EQ_STR(out, "cannot make CMD's namespace: unshare: No space left on device: user "
		      "namespaces are disabled (user.max_user_namespaces=0): sysctl -w "
		      "user.max_user_namespaces=15000, or run as root");
	f.max_user_ns = 7;
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "user namespace limit is reached (user.max_user_namespaces=7)") !=
		NULL);
	f.err = EINVAL;
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "CONFIG_USER_NS") != NULL);
	/* The uid map refused after the unshare (AppArmor does that). */
	f = (struct run_ns_facts){ .err = EPERM,
				   .userns = true,
				   .step = "write /proc/self/uid_map",
				   .unprivileged_clone = -1,
				   .max_user_ns = 100,
				   .apparmor_restrict = 1 };
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strncmp(out, "cannot make CMD's namespace: write /proc/self/uid_map: ", 55) == 0);
	T_CHECK(strstr(out, "AppArmor") != NULL);
	/* The device itself. */
	f = (struct run_ns_facts){ .err = EACCES, .userns = true, .step = "open /dev/net/tun" };
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "chmod 0666 /dev/net/tun") != NULL);
	f.err = ENOENT;
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "modprobe tun") != NULL);
	/* Root without CAP_SYS_ADMIN. */
	f = (struct run_ns_facts){ .err = EPERM, .userns = false, .step = "unshare" };
	run_ns_hint(&f, out, sizeof(out));
	T_CHECK(strstr(out, "CAP_SYS_ADMIN") != NULL);
	/* Short buffers stay terminated. */
	run_ns_hint(&f, out, 8);
	T_EQ_STR(out, "cannot ");
}

int main(void)
{
	T_RUN(test_cli_split);
	T_RUN(test_cli_errors);
	T_RUN(test_exit_status);
	T_RUN(test_dns_servers);
	T_RUN(test_resolv_conf);
	T_RUN(test_target_ids);
	T_RUN(test_should_forward);
	T_RUN(test_ns_hint);
	return test_summary();
}
