/* run: Linux only, by design (docs/design.md §14): a network namespace
 * has no macOS counterpart. */
#include "tun2socks/app/run.h"

#include "tun2socks/base/log.h"

int run_main(const struct options *cfg)
{
	(void)cfg;
	log_error("run: Linux only: it puts CMD in a network namespace of its own, which macOS "
		  "does not have (on macOS, the daemon with --auto-route and PROCESS-NAME rules "
		  "singles out a program)");
	return RUN_EXIT_FAILED;
}
