/* poller: this platform's implementation (epoll on Linux). The cases are
 * in poller_cases.h, shared with test_poller_uv.c; the one here needs a
 * kernel set that refuses a socket, which libuv's own would abort on. */
#include "poller_cases.h"

/* The kernel refuses the socket (closed behind the watch's back here; a
 * full set in life): the error comes back and the watch keeps what it
 * had, so the caller can end the flow. */
static void test_set_refused(void)
{
	struct pw a;
	int sv[2];

	setup();
	pair(sv);
	T_EQ_INT(pw_open(&a, sv[0]), 0);
	close(sv[0]);
	T_EQ_INT(poller_watch_set(&a.w, UV_READABLE), -EBADF);
	T_EQ_INT(a.w.events, 0);
	turns(2);
	T_EQ_INT(a.calls, 0);
	poller_watch_close(&a.w, pw_on_closed);
	close(sv[1]);
	turns(2);
	T_EQ_INT(a.closed, 1);
	teardown();
}

int main(void)
{
	T_RUN(test_set_refused);
	return poller_cases_run();
}
