/* tun2socks: parse the command line, run the daemon. */
#include <ares.h>
#include <errno.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <uv.h>
#include <yaml.h>

#include "cli.h"
#include "daemon.h"
#include "lwip/init.h"

static void print_version(void)
{
	char tls[32];

	mbedtls_version_get_string(tls);
	printf("tun2socks %s\n"
	       "  lwIP %s, c-ares %s, mbedTLS %s, libuv %s, libyaml %s\n",
	       T2S_VERSION, LWIP_VERSION_STRING, ares_version(NULL), tls,
	       uv_version_string(), yaml_get_version_string());
}

int main(int argc, char **argv)
{
	struct daemon_config cfg;
	char err[512];
	int r = cli_parse(argc, argv, &cfg, err, sizeof(err));

	if (r == -EINVAL) {
		fprintf(stderr, "tun2socks: %s\n", err);
		return 2;
	}
	if (r == CLI_HELP) {
		fputs(cli_usage(), stdout);
		return 0;
	}
	if (r == CLI_VERSION) {
		print_version();
		return 0;
	}
	return daemon_run(&cfg);
}
