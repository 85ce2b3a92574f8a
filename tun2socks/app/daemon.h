/* daemon: the event loop that owns the TUN, lwIP and every socket.
 * One thread; all state hangs off one context built by daemon_run(). */
#ifndef T2S_DAEMON_H
#define T2S_DAEMON_H

#include "tun2socks/app/daemon_config.h"

/* Runs until SIGINT/SIGTERM. Returns the process exit status: 0 after a
 * clean stop, 1 when startup failed (the reason was logged as one line). */
int daemon_run(struct daemon_config *cfg);

#endif
