/* poller: the uv_poll implementation that macOS builds, compiled here so
 * that it runs the same cases (poller_cases.h) on Linux. Its definitions
 * take the place of the platform's, which this program never links. */
#include "tun2socks/base/poller_darwin.c"

#include "poller_cases.h"

int main(void)
{
	return poller_cases_run();
}
