/* Real servers on loopback for unit tests that speak HTTP: the Python
 * test server (tests/unit/data/http_test_server.py) and microsocks.
 * Included by one .c per test program. */
#ifndef T2S_TEST_SERVERS_H
#define T2S_TEST_SERVERS_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A loopback TCP port nobody listens on (at the time of the call). */
__attribute__((unused)) static int ts_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static pid_t ts_spawn(char *const argv[], int out_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		dup2(out_fd, 1);
		dup2(out_fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* 0 once something accepts on 127.0.0.1:port (up to 6 s), else -1. */
static int ts_wait_listening(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	sa.sin_port = htons((uint16_t)port);
	for (int i = 0; i < 300; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		close(fd);
		if (r == 0)
			return 0;
		usleep(20000);
	}
	return -1;
}

/* The Python test server; its port in *port. The pid, or -1. */
__attribute__((unused)) static pid_t ts_start_http(int *port)
{
	char *py[] = { "python3", T2S_TEST_DATA_DIR "/http_test_server.py", NULL };
	char line[32] = "";
	int p[2];
	pid_t pid;
	FILE *f;

	if (pipe(p) < 0)
		return -1;
	pid = ts_spawn(py, p[1]);
	close(p[1]);
	f = fdopen(p[0], "r");
	/* The pipe stays open: the server never gets SIGPIPE. */
	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		fprintf(stderr, "http_test_server.py gave no port (python3 needed)\n");
		return -1;
	}
	*port = atoi(line);
	return ts_wait_listening(*port) == 0 ? pid : -1;
}

/* microsocks on 127.0.0.1:port (its output to log_fd, or /dev/null when
 * < 0). The pid, or -1. */
__attribute__((unused)) static pid_t ts_start_socks(int port, int log_fd)
{
	char port_s[16], *ms[] = { "microsocks", "-i", "127.0.0.1", "-p", port_s, NULL };
	int fd = log_fd >= 0 ? log_fd : open("/dev/null", O_WRONLY);
	pid_t pid;

	snprintf(port_s, sizeof(port_s), "%d", port);
	pid = ts_spawn(ms, fd);
	if (log_fd < 0)
		close(fd);
	if (ts_wait_listening(port) < 0) {
		fprintf(stderr, "microsocks did not start (scripts/install-test-deps.sh)\n");
		return -1;
	}
	return pid;
}

static void ts_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

#endif
