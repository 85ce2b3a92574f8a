/* cli: command-line parsing into a daemon_config. Pure (no I/O besides
 * the error text it returns), so it is unit-tested. */
#ifndef T2S_CLI_H
#define T2S_CLI_H

#include <stddef.h>

#include "tun2socks/app/daemon.h"

enum cli_action { CLI_RUN = 0, CLI_HELP, CLI_VERSION, CLI_CHECK, CLI_MATCH };

/* Parses argv. Returns a cli_action, or -EINVAL with a one-line reason in
 * err ("--mtu: expected a number from 576 to 65535, got 'x'"). */
int cli_parse(int argc, char **argv, struct daemon_config *cfg, char *err, size_t errlen);

/* Fills what the command line did not set from the config file: TUN
 * (device, mtu, first inet4/inet6 address), DNS (enable, enhanced-mode,
 * nameserver, fake-ip-range/6, fake-ip-min-age, fake-ip-filter added to
 * the flag's),
 * interface-name, routing-mark, log-level. 0 or -EINVAL with err. */
struct config;
int cli_apply_config(struct daemon_config *cfg, const struct config *conf, char *err,
		     size_t errlen);

/* The --help text. */
const char *cli_usage(void);

/* Parses "a.b.c.d/n" (v6 = 0) or "x:y::z/n" (v6 = 1) into addr and prefix;
 * 0 or -EINVAL. */
int cli_parse_cidr(const char *s, int v6, uint8_t *addr, uint8_t *prefix);

#endif
