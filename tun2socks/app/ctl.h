/* ctl: `tun2socks ctl`, the control API from a shell (docs/design.md
 * §20): connections (a table, --watch), close, select, delay, reload,
 * rules. The address and secret come from the config (-c) or flags. */
#ifndef T2S_CTL_H
#define T2S_CTL_H

/* argv[0] is "ctl". Returns the process's exit status. */
int ctl_main(int argc, char **argv);

#endif
