/* run: not on macOS yet. A network namespace has no macOS counterpart; a
 * utun owned by a helper and per-process routing (NECP) would be the way
 * there. */
#include "tun2socks/app/run.h"

#include "tun2socks/base/log.h"

int run_main(const struct options *cfg)
{
	(void)cfg;
	log_error("run: not supported on macOS yet (Linux only: it needs network namespaces)");
	return RUN_EXIT_FAILED;
}
