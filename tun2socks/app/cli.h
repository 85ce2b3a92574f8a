/* cli: command-line parsing into options (options.h). Pure (no I/O besides
 * the error text it returns), so it is unit-tested. */
#ifndef T2S_CLI_H
#define T2S_CLI_H

#include <stddef.h>

#include "tun2socks/app/options.h"

/* CLI_RUN runs the daemon; CLI_RUN_CMD is `tun2socks run ... -- CMD`. */
enum cli_action {
	CLI_RUN = 0,
	CLI_HELP,
	CLI_VERSION,
	CLI_CHECK,
	CLI_MATCH,
	CLI_CLEANUP,
	CLI_RUN_CMD,
	CLI_STATUS
};

/* Parses argv. Returns a cli_action, or -EINVAL with a one-line reason in
 * err ("--mtu: expected a number from 576 to 65535, got 'x'"). */
int cli_parse(int argc, char **argv, struct options *cfg, char *err, size_t errlen);

/* The --help text. */
const char *cli_usage(void);

/* Parses "a.b.c.d/n" (v6 = 0) or "x:y::z/n" (v6 = 1) into addr and prefix;
 * 0 or -EINVAL. */
int cli_parse_cidr(const char *s, int v6, uint8_t *addr, uint8_t *prefix);

#endif
