/* poller: this platform's implementation (epoll on Linux). The cases are
 * in poller_cases.h, shared with test_poller_uv.c. */
#include "poller_cases.h"

int main(void)
{
	return poller_cases_run();
}
