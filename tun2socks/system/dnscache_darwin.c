/* mDNSResponder's cache emptied by SIGHUP (dnscache.h): Apple's support
 * note on resetting the DNS cache gives `sudo killall -HUP mDNSResponder`;
 * the process is found through sysctl(KERN_PROC_ALL) (sysctl(3)) rather
 * than by running killall. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include "tun2socks/system/dnscache.h"

int dnscache_flush(char *what, size_t whatlen, char *err, size_t errlen)
{
	int mib[3] = { CTL_KERN, KERN_PROC, KERN_PROC_ALL };
	struct kinfo_proc *procs = NULL;
	size_t len = 0, n;
	int r = 0, hups = 0;

	if (what && whatlen)
		what[0] = '\0';
	if (err && errlen)
		err[0] = '\0';
	/* The table grows between the two calls: room for some more. */
	if (sysctl(mib, 3, NULL, &len, NULL, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "sysctl(KERN_PROC_ALL): %s", strerror(-r));
		goto out;
	}
	len += len / 4 + sizeof(*procs) * 16;
	procs = malloc(len);
	if (procs == NULL) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (sysctl(mib, 3, procs, &len, NULL, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "sysctl(KERN_PROC_ALL): %s", strerror(-r));
		goto out;
	}
	n = len / sizeof(*procs);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].kp_proc.p_comm, "mDNSResponder") != 0)
			continue;
		if (kill(procs[i].kp_proc.p_pid, SIGHUP) < 0 && errno != ESRCH) {
			r = -errno;
			snprintf(err, errlen, "SIGHUP to mDNSResponder (pid %d): %s",
				 (int)procs[i].kp_proc.p_pid, strerror(-r));
			goto out;
		}
		hups++;
	}
	if (hups > 0) {
		snprintf(what, whatlen, "mDNSResponder's cache");
		r = 1;
	}
out:
	free(procs);
	return r;
}
